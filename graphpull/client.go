package graphpull

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	graphauth "github.com/microsoftgraph/msgraph-sdk-go-core/authentication"
)

// Retry bounds for Graph requests answered 429, 503 or 504. kiota's
// RetryHandler honours Retry-After (seconds or an HTTP date) and otherwise
// backs off exponentially from retryDelaySeconds; on its own it would wait
// whatever Retry-After says, so shouldRetry refuses a wait longer than
// maxRetryWait or a total beyond maxRetryTotal, and the round fails with
// the throttling error instead of hanging.
const (
	maxRetries        = 5
	retryDelaySeconds = 2
	maxRetryWait      = 2 * time.Minute
	maxRetryTotal     = 5 * time.Minute
)

// baseTransport is the transport to one host (the authority's or Graph's):
// TLS verified against the system roots plus cfg.RootCAs (a TLS-inspecting
// proxy's CA, a test server's), or cfg.HTTPClient's transport in tests.
//
// Go cannot merge a CertPool built elsewhere into the system pool, so with
// RootCAs the chain is verified by hand, against either pool, for the one
// host this transport serves (crypto/tls hands VerifyConnection no server
// name for an IP address, so the host is fixed here instead).
func baseTransport(c Config, host string) (http.RoundTripper, error) {
	if c.HTTPClient != nil {
		if c.HTTPClient.Transport != nil {
			return c.HTTPClient.Transport, nil
		}
		return http.DefaultTransport, nil
	}
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("graph: http.DefaultTransport is a %T, not an *http.Transport", http.DefaultTransport)
	}
	t = t.Clone()
	t.ResponseHeaderTimeout = 2 * time.Minute
	t.DialContext = (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	if c.RootCAs != nil {
		system, err := x509.SystemCertPool()
		if err != nil || system == nil {
			system = x509.NewCertPool()
		}
		t.TLSClientConfig = &tls.Config{
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: true, //nolint:gosec // VerifyConnection verifies chain and host
			VerifyConnection:   verifyEither(host, system, c.RootCAs),
		}
	}
	return t, nil
}

// verifyEither accepts a server whose chain verifies for host against any
// of the pools.
func verifyEither(host string, pools ...*x509.CertPool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return fmt.Errorf("tls: %s sent no certificate", host)
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		var firstErr error
		for _, roots := range pools {
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter})
			if err == nil {
				return nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: firstErr}
	}
}

// shouldRetry bounds kiota's retries (see maxRetryWait).
func shouldRetry(cumulative time.Duration, _ int, _ *http.Request, resp *http.Response) bool {
	wait := retryAfter(resp)
	return wait <= maxRetryWait && cumulative+wait <= maxRetryTotal
}

// retryAfter reads a response's Retry-After the way kiota does (seconds or
// an HTTP date); 0 when absent.
func retryAfter(resp *http.Response) time.Duration {
	if resp == nil {
		return 0
	}
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

// graphHTTPClient wraps base in Graph's middleware (telemetry, kiota's
// defaults) with the bounded retry handler, and the token renewal on 401
// innermost (so the retry handler also covers a resent request). No
// overall Client.Timeout: it would also cut the retry handler's waits, which happen inside RoundTrip;
// the transport bounds connect and response-header time instead.
func graphHTTPClient(base http.RoundTripper, reauth reauthHandler) (*http.Client, error) {
	kiota, err := khttp.GetDefaultMiddlewaresWithOptions(&khttp.RetryHandlerOptions{
		MaxRetries: maxRetries, DelaySeconds: retryDelaySeconds, ShouldRetry: shouldRetry,
	})
	if err != nil {
		return nil, fmt.Errorf("graph middleware: %w", err)
	}
	opts := msgraphsdk.GetDefaultClientOptions()
	mw := append([]khttp.Middleware{
		msgraphcore.NewGraphTelemetryHandler(&opts),
		khttp.NewUrlReplaceHandler(true, msgraphcore.ReplacementPairs),
	}, kiota...)
	mw = append(mw, reauth)
	return &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(base, mw...),
		// Graph's redirects are followed by kiota's redirect handler; a
		// 410's Location must reach us, not be followed by net/http.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// newGraphClient builds the Graph service client: kiota's Azure identity
// auth provider with the Graph host as its one valid host (a host outside
// that list silently gets no token), the adapter's base URL set before the
// client is created (the client copies it at construction).
func newGraphClient(cred azcore.TokenCredential, baseURL, scope string, hc *http.Client) (*msgraphsdk.GraphServiceClient, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("graph base URL: %w", err)
	}
	auth, err := graphauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, []string{scope}, []string{u.Hostname()})
	if err != nil {
		return nil, fmt.Errorf("graph auth provider: %w", err)
	}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, hc)
	if err != nil {
		return nil, fmt.Errorf("graph request adapter: %w", err)
	}
	adapter.SetBaseUrl(baseURL)
	return msgraphsdk.NewGraphServiceClient(adapter), nil
}
