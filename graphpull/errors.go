package graphpull

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	azruntime "github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

// Errors a round can fail with, for errors.Is; the wrapped message says
// what happened in words an administrator can act on.
var (
	// ErrAuthentication: Entra refused the app's sign-in (wrong secret,
	// expired or unknown certificate, unknown app or tenant). The message
	// carries Entra's AADSTS code and text.
	ErrAuthentication = errors.New("graph: the app could not sign in")
	// ErrPermission: Graph answered 403; the message names the missing
	// application permission.
	ErrPermission = errors.New("graph: permission missing")
	// ErrUnreachable: the authority or Graph host could not be reached
	// (DNS, connection, TLS).
	ErrUnreachable = errors.New("graph: host unreachable")
	// ErrResyncRequired: Graph asked for a full resync (410 Gone,
	// syncStateNotFound, resyncRequired) after users had already been
	// observed in the round, when it could not be restarted. The next
	// round (or a --full one) starts over.
	ErrResyncRequired = errors.New("graph: full resync required")
)

// permissions names the least-privileged application permission each
// stream needs (entra-and-graph.md §2.1).
func permission(what string) string {
	if what == "groups" {
		return "GroupMember.Read.All (or Group.Read.All)"
	}
	return "User.Read.All"
}

// resyncError is Graph's "your delta link is no good, start over": a 410
// Gone (whose Location is the fresh query to start from) or the
// syncStateNotFound / resyncRequired error codes.
type resyncError struct {
	what     string // "users" | "groups"
	location string // 410's Location, "" if none
	reason   string
}

func (e *resyncError) Error() string {
	return fmt.Sprintf("graph: %s delta: %s: a full resync is required", e.what, e.reason)
}

func (e *resyncError) Unwrap() error { return ErrResyncRequired }

// apiStatus is what kiota's *abs.ApiError and the Graph *ODataError share.
type apiStatus interface {
	GetStatusCode() int
	GetResponseHeaders() *abs.ResponseHeaders
}

// asResync reports whether err asks for a full resync.
func asResync(err error, what string) (*resyncError, bool) {
	var st apiStatus
	if !errors.As(err, &st) {
		return nil, false
	}
	code, _ := odataCode(err)
	switch {
	case st.GetStatusCode() == http.StatusGone:
		loc := ""
		if h := st.GetResponseHeaders(); h != nil {
			if v := h.Get("Location"); len(v) > 0 {
				loc = v[0]
			}
		}
		return &resyncError{what: what, location: loc, reason: "410 Gone"}, true
	case strings.EqualFold(code, "syncStateNotFound"), strings.EqualFold(code, "resyncRequired"):
		return &resyncError{what: what, reason: code}, true
	}
	return nil, false
}

func odataCode(err error) (code, msg string) {
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) {
		if m := oe.GetErrorEscaped(); m != nil {
			if c := m.GetCode(); c != nil {
				code = *c
			}
			if s := m.GetMessage(); s != nil {
				msg = *s
			}
		}
	}
	return code, msg
}

// aadsts matches Entra's error codes in a message.
var aadsts = regexp.MustCompile(`AADSTS\d+`)

// describe turns a failed Graph call into a readable error. what is the
// stream ("users", "groups"), op the request ("GET /users/delta").
func describe(err error, what, op, tenant string) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) {
		return authError(afe, tenant)
	}
	if m := aadsts.FindString(err.Error()); m != "" {
		return fmt.Errorf("%w (tenant %s): %s", ErrAuthentication, tenant, firstLine(err.Error()))
	}
	var st apiStatus
	if errors.As(err, &st) {
		code, msg := odataCode(err)
		detail := strings.TrimSpace(code + ": " + msg)
		if code == "" && msg == "" {
			detail = firstLine(err.Error())
		}
		switch s := st.GetStatusCode(); s {
		case http.StatusForbidden:
			return fmt.Errorf("%w: %s was refused (403 %s): grant the app registration the Microsoft Graph application permission %s, with admin consent",
				ErrPermission, op, detail, permission(what))
		case http.StatusUnauthorized:
			return fmt.Errorf("%w: %s was not authorised (401 %s): check the app registration, its tenant and cloud", ErrAuthentication, op, detail)
		case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return fmt.Errorf("graph: %s: %d %s, still after %d retries honouring Retry-After", op, s, detail, maxRetries)
		default:
			return fmt.Errorf("graph: %s: %d %s", op, s, detail)
		}
	}
	if unreachable(err) {
		return fmt.Errorf("%w: %s: %v", ErrUnreachable, op, err)
	}
	return fmt.Errorf("graph: %s: %w", op, err)
}

// unreachable: the request never got an HTTP answer (DNS, connect, TLS).
func unreachable(err error) bool {
	var (
		ope *net.OpError
		dns *net.DNSError
		ue  *url.Error
		cve *x509.UnknownAuthorityError
		hne x509.HostnameError
	)
	return errors.As(err, &ope) || errors.As(err, &dns) || errors.As(err, &ue) || errors.As(err, &cve) || errors.As(err, &hne)
}

// authError extracts Entra's error (AADSTS code and text) from a failed
// token request; azidentity's own message is a multi-line dump.
func authError(afe *azidentity.AuthenticationFailedError, tenant string) error {
	if afe.RawResponse == nil {
		// No HTTP answer from the authority (MSAL wraps the transport
		// error in its own text, not as a wrapped error).
		msg := oneLine(afe.Error())
		if netFailure.MatchString(msg) {
			return fmt.Errorf("%w: token request for tenant %s: %s", ErrUnreachable, tenant, msg)
		}
		return fmt.Errorf("%w (tenant %s): %s", ErrAuthentication, tenant, msg)
	}
	body, _ := azruntime.Payload(afe.RawResponse)
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &e)
	desc := firstLine(e.Description)
	if desc == "" {
		desc = strings.TrimSpace(e.Error)
	}
	if desc == "" {
		desc = afe.RawResponse.Status
	}
	hint := ""
	switch aadsts.FindString(desc) {
	case "AADSTS7000215", "AADSTS7000222":
		hint = " (check graph.clientSecret: the secret's value, not its id, and that it has not expired)"
	case "AADSTS90002", "AADSTS900023":
		hint = fmt.Sprintf(" (unknown tenant %q: check graph.tenantId and graph.cloud)", tenant)
	case "AADSTS700016":
		hint = " (unknown application: check graph.clientId and graph.tenantId)"
	case "AADSTS700027", "AADSTS700024":
		hint = " (check graph.certificate: upload its public certificate to the app registration)"
	}
	return fmt.Errorf("%w (tenant %s): %s%s", ErrAuthentication, tenant, desc, hint)
}

// netFailure matches the transport errors azidentity and MSAL flatten into
// their messages.
var netFailure = regexp.MustCompile(`dial tcp|no such host|connection refused|connection reset|i/o timeout|network is unreachable|x509: |tls: `)

// oneLine joins a multi-line message into one line, without azidentity's
// troubleshooting link.
func oneLine(s string) string {
	if i := strings.Index(s, " To troubleshoot, visit"); i >= 0 {
		s = s[:i]
	}
	return strings.Join(strings.Fields(s), " ")
}

// firstLine is the first line of s, without Entra's "Trace ID: …" tail.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if i := strings.Index(s, " Trace ID:"); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}
