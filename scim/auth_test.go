package scim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/scim"
)

// The auth package has its own tests; these check how the SCIM API wires it:
// the token endpoint's routes, discovery and the Options contract.

func TestOAuthThroughSCIM(t *testing.T) {
	h := newHarness(t, func(o *scimOptions) {
		o.Tenants[1].OAuthClients = []auth.OAuthClient{{ID: "acme-client", SecretHashes: [][32]byte{auth.HashToken("acme-secret")}}}
	})
	post := func(path string, form url.Values) (int, map[string]any) {
		res, err := http.Post(h.srv.URL+path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		return res.StatusCode, body
	}
	creds := url.Values{"grant_type": {"client_credentials"}, "client_id": {"acme-client"}, "client_secret": {"acme-secret"}}
	status, body := post("/tenants/acme/scim/v2/oauth/token", creds)
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, body)
	}
	tok, _ := body["access_token"].(string)
	r := h.do("GET", "/tenants/acme/scim/v2/Users", nil, "Authorization", "Bearer "+tok)
	h.must(http.StatusOK, r)
	h.scimError(h.do("GET", "/Users", nil, "Authorization", "Bearer "+tok), http.StatusUnauthorized, "")

	// No clients, no endpoint; an unknown tenant has none either.
	if status, _ := post("/scim/v2/oauth/token", creds); status != http.StatusNotFound {
		t.Fatalf("default tenant token endpoint: %d", status)
	}
	if status, _ := post("/tenants/nope/scim/v2/oauth/token", creds); status != http.StatusNotFound {
		t.Fatalf("unknown tenant token endpoint: %d", status)
	}

	// Discovery advertises the scheme where it exists.
	spc := h.must(http.StatusOK, h.do("GET", "/tenants/acme/scim/v2/ServiceProviderConfig", nil, "Authorization", "Bearer "+acmeToken))
	if !strings.Contains(string(spc.raw), `"oauth2"`) || !strings.Contains(string(spc.raw), "/tenants/acme/scim/v2/oauth/token") {
		t.Fatalf("acme SPC %s", spc.raw)
	}
	spc = h.must(http.StatusOK, h.do("GET", "/ServiceProviderConfig", nil))
	if strings.Contains(string(spc.raw), `"oauth2"`) {
		t.Fatalf("default SPC advertises oauth2: %s", spc.raw)
	}
}

func TestOptionsAuthOrTenants(t *testing.T) {
	h := newHarness(t)
	a, err := auth.New(auth.Options{Store: h.st, Tenants: []auth.Tenant{{Name: "x", TokenHashes: [][32]byte{auth.HashToken("x-token")}}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = scim.NewHandler(scim.Options{Store: h.st, Schemas: mustLoadSchemas(t), Auth: a, Tenants: []auth.Tenant{{Name: "y"}}})
	if err == nil {
		t.Fatal("Auth and Tenants both accepted")
	}
	// With Auth, its tenants are the ones served.
	hd, err := scim.NewHandler(scim.Options{Store: h.st, Schemas: mustLoadSchemas(t), Auth: a})
	if err != nil {
		t.Fatal(err)
	}
	h2 := *h
	h2.srv = newServer(t, hd)
	h2.token = "x-token"
	h2.must(http.StatusOK, h2.do("GET", "/tenants/x/scim/v2/Users", nil))
	h2.scimError(h2.do("GET", "/tenants/acme/scim/v2/Users", nil), http.StatusNotFound, "")
	// A configuration error names the tenant.
	_, err = scim.NewHandler(scim.Options{Store: h.st, Schemas: mustLoadSchemas(t),
		Tenants: []auth.Tenant{{Name: "bad", OAuthClients: []auth.OAuthClient{{ID: "c"}}}}})
	if err == nil || !strings.Contains(err.Error(), `tenant "bad"`) {
		t.Fatalf("bad client: %v", err)
	}
}

func mustLoadSchemas(t *testing.T) *schemas.Registry {
	t.Helper()
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// TestAuthFailuresThrottledAndLogged: through the SCIM API, failed bearer
// tokens are logged with their reason and, past the burst, answered 429
// with Retry-After, while a valid token keeps working.
func TestAuthFailuresThrottledAndLogged(t *testing.T) {
	var logs bytes.Buffer
	h := newHarness(t, func(o *scimOptions) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	for range auth.DefaultFailureBurst {
		h.scimError(h.do("GET", "/Users", nil, "Authorization", "Bearer wrong-token-value"), http.StatusUnauthorized, "")
	}
	if !strings.Contains(logs.String(), "reason=unknown") || strings.Contains(logs.String(), "wrong-token-value") {
		t.Fatalf("log:\n%s", logs.String())
	}
	r := h.do("GET", "/Users", nil, "Authorization", "Bearer wrong-token-value")
	h.scimError(r, http.StatusTooManyRequests, "")
	if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After %q", ra)
	}
	h.must(http.StatusOK, h.do("GET", "/Users", nil))
	logs.Reset()
	h.scimError(h.do("GET", "/Users", nil, "Authorization", ""), http.StatusUnauthorized, "")
	if !strings.Contains(logs.String(), "reason=missing") {
		t.Fatalf("log:\n%s", logs.String())
	}
}
