package fakegraph

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"
)

// appCert makes an RSA app certificate, as uploaded to an app registration.
func appCert(t *testing.T) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "fakegraph app"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func assertion(t *testing.T, s *Server, method jwt.SigningMethod, cert *x509.Certificate, key *rsa.PrivateKey, mutate func(jwt.MapClaims)) string {
	t.Helper()
	claims := jwt.MapClaims{"aud": s.TokenEndpoint(), "iss": s.ClientID(), "sub": s.ClientID(), "jti": guid(),
		"nbf": time.Now().Unix(), "exp": time.Now().Add(5 * time.Minute).Unix()}
	if mutate != nil {
		mutate(claims)
	}
	tok := jwt.NewWithClaims(method, claims)
	sum := sha1.Sum(cert.Raw)
	tok.Header["x5t"] = base64.RawURLEncoding.EncodeToString(sum[:])
	signed, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func aadsts(body map[string]any) string {
	d, _ := body["error_description"].(string)
	return d
}

func TestTokenErrors(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	for _, tc := range []struct {
		name, tenant string
		form         url.Values
		status       int
		code, text   string
	}{
		{"wrong secret", s.TenantID(), url.Values{"client_id": {s.ClientID()}, "client_secret": {"nope"}}, 401, "invalid_client", "AADSTS7000215: Invalid client secret provided."},
		{"unknown tenant", "33333333-3333-4333-8333-333333333333", url.Values{"client_id": {s.ClientID()}, "client_secret": {s.ClientSecret()}}, 400, "invalid_request", "AADSTS90002: Tenant '33333333-3333-4333-8333-333333333333' not found."},
		{"unknown client", s.TenantID(), url.Values{"client_id": {"44444444-4444-4444-8444-444444444444"}, "client_secret": {s.ClientSecret()}}, 400, "unauthorized_client", "AADSTS700016: Application with identifier '44444444-4444-4444-8444-444444444444' was not found"},
		{"no credential", s.TenantID(), url.Values{"client_id": {s.ClientID()}}, 401, "invalid_client", "AADSTS7000216"},
		{"bad scope", s.TenantID(), url.Values{"client_id": {s.ClientID()}, "client_secret": {s.ClientSecret()}, "scope": {"User.Read.All"}}, 400, "invalid_scope", "AADSTS1002012"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := postToken(t, s, tc.tenant, tc.form)
			if status != tc.status || body["error"] != tc.code || !strings.HasPrefix(aadsts(body), tc.text) {
				t.Errorf("got %d %v %q, want %d %s %q", status, body["error"], aadsts(body), tc.status, tc.code, tc.text)
			}
		})
	}
	if s.TokensIssued() != 0 {
		t.Errorf("TokensIssued = %d after failures", s.TokensIssued())
	}
}

func TestGraphRejectsMissingAndExpiredTokens(t *testing.T) {
	s := New(Options{TokenLifetime: 2 * time.Second})
	defer s.Close()
	seed(s, 2)
	c := newClient(t, s)
	c.token = ""
	resp, body := c.get(s.GraphBaseURL() + "/users/delta")
	if resp.StatusCode != 401 || body["error"].(map[string]any)["code"] != "InvalidAuthenticationToken" {
		t.Errorf("no token: %d %v", resp.StatusCode, body)
	}
	c.token = c.secretToken(s.TenantID(), s.ClientID(), s.ClientSecret())
	if resp, body := c.get(s.GraphBaseURL() + "/users/delta"); resp.StatusCode != 200 {
		t.Fatalf("valid token: %d %v", resp.StatusCode, body)
	}
	s.ExpireTokens()
	resp, body = c.get(s.GraphBaseURL() + "/users/delta")
	if resp.StatusCode != 401 || !strings.Contains(body["error"].(map[string]any)["message"].(string), "expired") {
		t.Errorf("expired token: %d %v", resp.StatusCode, body)
	}
	// A fresh token works again; TokenLifetime is what the endpoint says.
	status, tb := postToken(t, s, s.TenantID(), url.Values{"client_id": {s.ClientID()}, "client_secret": {s.ClientSecret()}})
	if status != 200 || tb["expires_in"] != float64(2) {
		t.Fatalf("token: %d %v", status, tb)
	}
	c.token = tb["access_token"].(string)
	if resp, _ := c.get(s.GraphBaseURL() + "/users/delta"); resp.StatusCode != 200 {
		t.Errorf("fresh token: %d", resp.StatusCode)
	}
	time.Sleep(2100 * time.Millisecond)
	if resp, _ := c.get(s.GraphBaseURL() + "/users/delta"); resp.StatusCode != 401 {
		t.Errorf("token past its lifetime: %d", resp.StatusCode)
	}
	var log []string
	for _, r := range s.Requests() {
		log = append(log, fmt.Sprint(r.Method, " ", r.Path, " ", r.Status, " ", r.Token))
	}
	tokenPath := "/" + s.TenantID() + "/oauth2/v2.0/token"
	want := []string{"POST " + tokenPath + " 200 false", "GET /v1.0/users/delta 401 false", "POST " + tokenPath + " 200 false",
		"GET /v1.0/users/delta 200 true", "GET /v1.0/users/delta 401 false", "POST " + tokenPath + " 200 false",
		"GET /v1.0/users/delta 200 true", "GET /v1.0/users/delta 401 false"}
	if fmt.Sprint(log) != fmt.Sprint(want) {
		t.Errorf("request log\n%v\nwant\n%v", log, want)
	}
	if s.TokensIssued() != 3 {
		t.Errorf("TokensIssued = %d, want 3", s.TokensIssued())
	}
}

func TestClientAssertion(t *testing.T) {
	cert, key := appCert(t)
	other, otherKey := appCert(t)
	s := New(Options{ClientCertificates: []*x509.Certificate{cert}})
	defer s.Close()
	post := func(a string) (int, map[string]any) {
		return postToken(t, s, s.TenantID(), url.Values{"client_id": {s.ClientID()}, "client_assertion_type": {assertionType}, "client_assertion": {a}})
	}
	for _, m := range []jwt.SigningMethod{jwt.SigningMethodRS256, jwt.SigningMethodPS256} {
		if status, body := post(assertion(t, s, m, cert, key, nil)); status != 200 || body["access_token"] == nil {
			t.Errorf("%s assertion: %d %v", m.Alg(), status, body)
		}
	}
	for _, tc := range []struct {
		name string
		a    string
		want string
	}{
		{"unknown certificate", assertion(t, s, jwt.SigningMethodRS256, other, otherKey, nil), "AADSTS700027: Client assertion failed signature validation. [Reason - The key was not found."},
		{"wrong key for the named certificate", func() string {
			a := assertion(t, s, jwt.SigningMethodRS256, other, otherKey, nil)
			// Re-sign the same claims with another key under cert's x5t.
			p := strings.Split(a, ".")
			tok := jwt.New(jwt.SigningMethodRS256)
			sum := sha1.Sum(cert.Raw)
			tok.Header["x5t"] = base64.RawURLEncoding.EncodeToString(sum[:])
			hdr, _ := tok.SigningString()
			sig, _ := jwt.SigningMethodRS256.Sign(strings.Split(hdr, ".")[0]+"."+p[1], otherKey)
			return strings.Split(hdr, ".")[0] + "." + p[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
		}(), "AADSTS700027"},
		{"expired", assertion(t, s, jwt.SigningMethodRS256, cert, key, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), "AADSTS700024"},
		{"wrong subject", assertion(t, s, jwt.SigningMethodRS256, cert, key, func(c jwt.MapClaims) { c["sub"] = "someone" }), "AADSTS700021"},
		{"wrong audience", assertion(t, s, jwt.SigningMethodRS256, cert, key, func(c jwt.MapClaims) { c["aud"] = "https://elsewhere/token" }), "AADSTS700021"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(tc.a)
			if status != 401 || !strings.HasPrefix(aadsts(body), tc.want) {
				t.Errorf("got %d %q, want 401 %q", status, aadsts(body), tc.want)
			}
		})
	}
}

// TestAzidentity runs the real azidentity client-secret and certificate
// flows against the fake, as graphpull does.
func TestAzidentity(t *testing.T) {
	cert, key := appCert(t)
	s := New(Options{ClientCertificates: []*x509.Certificate{cert}})
	defer s.Close()
	seed(s, 3)
	co := azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: s.AuthorityHost()}, Transport: s.Client()}
	scopes := policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	secret, err := azidentity.NewClientSecretCredential(s.TenantID(), s.ClientID(), s.ClientSecret(), &azidentity.ClientSecretCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := secret.GetToken(ctx, scopes)
	if err != nil {
		t.Fatalf("client secret: %v", err)
	}
	c := &graphClient{t: t, s: s, hc: s.Client(), token: tok.Token}
	if entries, _, _ := c.round(s.GraphBaseURL() + "/users/delta"); len(entries) != 3 {
		t.Errorf("delta with azidentity's token: %d users", len(entries))
	}

	certCred, err := azidentity.NewClientCertificateCredential(s.TenantID(), s.ClientID(), []*x509.Certificate{cert}, key, &azidentity.ClientCertificateCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := certCred.GetToken(ctx, scopes); err != nil {
		t.Fatalf("client certificate: %v", err)
	}

	wrong, err := azidentity.NewClientSecretCredential(s.TenantID(), s.ClientID(), "wrong", &azidentity.ClientSecretCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.GetToken(ctx, scopes); err == nil || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Errorf("wrong secret: %v", err)
	}
	badTenant, err := azidentity.NewClientSecretCredential("55555555-5555-4555-8555-555555555555", s.ClientID(), s.ClientSecret(), &azidentity.ClientSecretCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := badTenant.GetToken(ctx, scopes); err == nil || !strings.Contains(err.Error(), "AADSTS90002") {
		t.Errorf("unknown tenant: %v", err)
	}
	if s.TokensIssued() != 2 {
		t.Errorf("TokensIssued = %d, want 2", s.TokensIssued())
	}
	if n := s.Count("/" + s.TenantID() + "/v2.0/.well-known/openid-configuration"); n == 0 {
		t.Error("MSAL did not read the tenant metadata")
	}
}

func TestParseCertificates(t *testing.T) {
	cert, _ := appCert(t)
	f := filepath.Join(t.TempDir(), "app.pem")
	if err := os.WriteFile(f, append([]byte("junk\n"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})...), 0o600); err != nil {
		t.Fatal(err)
	}
	certs, err := ParseCertificates(f)
	if err != nil || len(certs) != 1 || !certs[0].Equal(cert) {
		t.Fatalf("ParseCertificates: %v %v", certs, err)
	}
	empty := filepath.Join(t.TempDir(), "empty.pem")
	os.WriteFile(empty, []byte("nothing"), 0o600)
	if _, err := ParseCertificates(empty); err == nil || !strings.Contains(err.Error(), "no PEM CERTIFICATE") {
		t.Errorf("no certificate: %v", err)
	}
}

// TestAzidentityRenewsShortTokens proves the package doc's advice: with a
// lifetime just over MSAL's five-minute margin, a real client renews its
// token once the margin is reached.
func TestAzidentityRenewsShortTokens(t *testing.T) {
	s := New(Options{TokenLifetime: 5*time.Minute + time.Second})
	defer s.Close()
	co := azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: s.AuthorityHost()}, Transport: s.Client()}
	cred, err := azidentity.NewClientSecretCredential(s.TenantID(), s.ClientID(), s.ClientSecret(), &azidentity.ClientSecretCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	scopes := policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}
	ctx := context.Background()
	first, err := cred.GetToken(ctx, scopes)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := cred.GetToken(ctx, scopes); again.Token != first.Token {
		t.Error("a fresh token was not cached")
	}
	time.Sleep(1500 * time.Millisecond)
	renewed, err := cred.GetToken(ctx, scopes)
	if err != nil {
		t.Fatal(err)
	}
	if renewed.Token == first.Token || s.TokensIssued() != 2 {
		t.Errorf("token not renewed inside MSAL's margin: issued %d", s.TokensIssued())
	}
}
