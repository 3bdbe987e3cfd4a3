package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/auth"
)

const (
	clientID       = "entra-provisioning"
	clientSecret   = "first-secret"
	clientSecret2  = "second-secret"
	specialID      = "app id+1/ü"
	specialSecret  = "p@ss:w/rd+%&=é ~?#"
	acmeClientID   = "acme-provisioning"
	acmeSecret     = "acme-secret"
	tokenPath      = "/scim/v2/oauth/token"
	acmeTokenPath  = "/tenants/acme/scim/v2/oauth/token"
	acmeUsersPath  = "/tenants/acme/scim/v2/Users"
	defaultUsersPa = "/scim/v2/Users"
)

// oauthHarness serves a default tenant with two clients (one with two
// secrets) and an acme tenant with its own client, on a fake clock.
func oauthHarness(t *testing.T, mutate ...func(*auth.Options)) (*harness, *fakeClock) {
	clk := newFakeClock()
	h := newHarness(t, append([]func(*auth.Options){func(o *auth.Options) {
		o.Now = clk.Now
		o.Tenants[0].OAuthClients = []auth.OAuthClient{
			{ID: clientID, SecretHashes: [][32]byte{auth.HashToken(clientSecret), auth.HashToken(clientSecret2)}},
			{ID: specialID, SecretHashes: [][32]byte{auth.HashToken(specialSecret)}},
		}
		o.Tenants[1].OAuthClients = []auth.OAuthClient{
			{ID: acmeClientID, SecretHashes: [][32]byte{auth.HashToken(acmeSecret)}},
		}
	}}, mutate...)...)
	return h, clk
}

// tokenReq posts a token request; basic, if non-nil, is {user, password}
// put into the Basic header as given (already encoded as the test wants).
func tokenReq(t *testing.T, h *harness, path string, form url.Values, basic []string, hdr ...string) resp {
	t.Helper()
	req, err := http.NewRequest("POST", h.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic != nil {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(basic[0]+":"+basic[1])))
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

func bodyCreds(id, secret string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
}

func grantOnly() url.Values { return url.Values{"grant_type": {"client_credentials"}} }

// getToken obtains an access token with body credentials.
func getToken(t *testing.T, h *harness, path, id, secret string) string {
	t.Helper()
	r := tokenReq(t, h, path, bodyCreds(id, secret), nil)
	if r.status != http.StatusOK {
		t.Fatalf("token: status %d: %s", r.status, r.raw)
	}
	return r.str("access_token")
}

func wantOAuthError(t *testing.T, r resp, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("got %d %s, want %d error %q", r.status, r.raw, status, code)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
	}
	if status == http.StatusUnauthorized && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("WWW-Authenticate %q, want Basic", r.header.Get("WWW-Authenticate"))
	}
}

func TestOAuthTokenFromBodyCredentials(t *testing.T) {
	h, _ := oauthHarness(t)
	r := tokenReq(t, h, tokenPath, bodyCreds(clientID, clientSecret), nil)
	mustStatus(t, http.StatusOK, r)
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
	}
	if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
	}
	if r.str("token_type") != "Bearer" || r.body["expires_in"] != float64(3600) || r.str("access_token") == "" {
		t.Fatalf("response %s", r.raw)
	}
	tok := r.str("access_token")
	if got := usersWith(h, defaultUsersPa, tok); got != http.StatusOK {
		t.Fatalf("GET /Users with access token: %d", got)
	}
	// The principal is the client of the default tenant, from the store and
	// then from the cache.
	for range 2 {
		p, err := authWith(h, defaultUsersPa, tok)
		if err != nil || p != (auth.Principal{Tenant: auth.DefaultTenant, Method: auth.MethodOAuth, Subject: clientID, Name: clientID}) {
			t.Fatalf("principal %+v, %v", p, err)
		}
	}
	// scope (sent by some clients) is ignored.
	form := bodyCreds(clientID, clientSecret)
	form.Set("scope", "api://scim/.default")
	mustStatus(t, http.StatusOK, tokenReq(t, h, tokenPath, form, nil))
}

func TestOAuthTokenFromBasicHeader(t *testing.T) {
	h, _ := oauthHarness(t)
	// RFC 6749 §2.3.1: both parts form-URL-encoded, then Basic.
	r := tokenReq(t, h, tokenPath, grantOnly(), []string{url.QueryEscape(specialID), url.QueryEscape(specialSecret)})
	mustStatus(t, http.StatusOK, r)
	if got := usersWith(h, defaultUsersPa, r.str("access_token")); got != http.StatusOK {
		t.Fatalf("GET /Users: %d", got)
	}
	// A client that does not encode is accepted too.
	mustStatus(t, http.StatusOK, tokenReq(t, h, tokenPath, grantOnly(), []string{specialID, specialSecret}))
	mustStatus(t, http.StatusOK, tokenReq(t, h, tokenPath, grantOnly(), []string{clientID, clientSecret}))
	// The same id repeated in the body is tolerated; a different one is not.
	mustStatus(t, http.StatusOK, tokenReq(t, h, tokenPath, url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}}, []string{clientID, clientSecret}))
	wantOAuthError(t, tokenReq(t, h, tokenPath, url.Values{"grant_type": {"client_credentials"}, "client_id": {specialID}}, []string{clientID, clientSecret}), 400, "invalid_request")
	wantOAuthError(t, tokenReq(t, h, tokenPath, bodyCreds(clientID, clientSecret2), []string{clientID, clientSecret}), 400, "invalid_request")
	// Wrong secret in the header.
	wantOAuthError(t, tokenReq(t, h, tokenPath, grantOnly(), []string{url.QueryEscape(specialID), url.QueryEscape("p@ss:w/rd")}), 401, "invalid_client")
	// A non-Basic Authorization header is no client authentication.
	wantOAuthError(t, tokenReq(t, h, tokenPath, bodyCreds(clientID, clientSecret), nil, "Authorization", "Bearer "+testToken), 401, "invalid_client")
}

func TestOAuthSecretRotation(t *testing.T) {
	h, _ := oauthHarness(t)
	for _, sec := range []string{clientSecret, clientSecret2} {
		tok := getToken(t, h, tokenPath, clientID, sec)
		if got := usersWith(h, defaultUsersPa, tok); got != http.StatusOK {
			t.Fatalf("secret %q: GET /Users %d", sec, got)
		}
	}
	// One client's secret does not authenticate another client.
	wantOAuthError(t, tokenReq(t, h, tokenPath, bodyCreds(specialID, clientSecret), nil), 401, "invalid_client")
}

func TestOAuthTokenErrors(t *testing.T) {
	h, _ := oauthHarness(t)
	wantOAuthError(t, tokenReq(t, h, tokenPath, bodyCreds(clientID, "wrong"), nil), 401, "invalid_client")
	wantOAuthError(t, tokenReq(t, h, tokenPath, bodyCreds("nobody", clientSecret), nil), 401, "invalid_client")
	wantOAuthError(t, tokenReq(t, h, tokenPath, grantOnly(), nil), 401, "invalid_client")
	wantOAuthError(t, tokenReq(t, h, tokenPath, url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}}, nil), 401, "invalid_client")

	form := bodyCreds(clientID, clientSecret)
	form.Set("grant_type", "password")
	wantOAuthError(t, tokenReq(t, h, tokenPath, form, nil), 400, "unsupported_grant_type")
	form.Set("grant_type", "authorization_code")
	wantOAuthError(t, tokenReq(t, h, tokenPath, form, nil), 400, "unsupported_grant_type")
	form.Del("grant_type")
	wantOAuthError(t, tokenReq(t, h, tokenPath, form, nil), 400, "invalid_request")
	// Repeated parameters (RFC 6749 §3.1).
	form = bodyCreds(clientID, clientSecret)
	form.Add("client_secret", clientSecret2)
	wantOAuthError(t, tokenReq(t, h, tokenPath, form, nil), 400, "invalid_request")
	// An assertion is rejected where no client is federated.
	form = url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {"eyJ.x.y"}}
	wantOAuthError(t, tokenReq(t, h, tokenPath, form, nil), 401, "invalid_client")
	// Not form-encoded.
	wantOAuthError(t, tokenReq(t, h, tokenPath, bodyCreds(clientID, clientSecret), nil, "Content-Type", "application/json"), 400, "invalid_request")
	// Credentials in the query string are not honoured.
	q := "?" + bodyCreds(clientID, clientSecret).Encode()
	wantOAuthError(t, tokenReq(t, h, tokenPath+q, url.Values{}, nil), 400, "invalid_request")
	wantOAuthError(t, tokenReq(t, h, tokenPath+q, grantOnly(), nil), 401, "invalid_client")
	// GET is not allowed.
	r := tokenGet(t, h, tokenPath)
	if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "POST" {
		t.Fatalf("GET token endpoint: %d %q", r.status, r.header.Get("Allow"))
	}
	// The token endpoint's errors never leak secrets.
	if strings.Contains(string(tokenReq(t, h, tokenPath, bodyCreds(clientID, "wrong-secret-xyz"), nil).raw), "wrong-secret-xyz") {
		t.Fatal("secret echoed")
	}
}

func TestOAuthTokenOfOneTenantRejectedOnAnother(t *testing.T) {
	h, _ := oauthHarness(t)
	def := getToken(t, h, tokenPath, clientID, clientSecret)
	acme := getToken(t, h, acmeTokenPath, acmeClientID, acmeSecret)
	if got := usersWith(h, acmeUsersPath, acme); got != http.StatusOK {
		t.Fatalf("acme token on acme: %d", got)
	}
	// Validate both first so they are cached; the cache is per tenant.
	if got := usersWith(h, defaultUsersPa, def); got != http.StatusOK {
		t.Fatalf("default token on default: %d", got)
	}
	if _, err := authWith(h, acmeUsersPath, def); !errors.Is(err, auth.ErrUnknown) {
		t.Fatalf("default token on acme: %v", err)
	}
	if got := usersWith(h, defaultUsersPa, acme); got != http.StatusUnauthorized {
		t.Fatalf("acme token on default: %d", got)
	}
	// Client credentials of one tenant do not work at another's endpoint.
	wantOAuthError(t, tokenReq(t, h, tokenPath, bodyCreds(acmeClientID, acmeSecret), nil), 401, "invalid_client")
	wantOAuthError(t, tokenReq(t, h, acmeTokenPath, bodyCreds(clientID, clientSecret), nil), 401, "invalid_client")
	// Static tokens stay as they were.
	if got := usersWith(h, acmeUsersPath, acmeToken); got != http.StatusOK {
		t.Fatalf("static acme token: %d", got)
	}
	if got := usersWith(h, acmeUsersPath, testToken); got != http.StatusUnauthorized {
		t.Fatalf("static default token on acme: %d", got)
	}
}

func TestOAuthTokenExpires(t *testing.T) {
	h, clk := oauthHarness(t)
	tok := getToken(t, h, tokenPath, clientID, clientSecret)
	if got := usersWith(h, defaultUsersPa, tok); got != http.StatusOK {
		t.Fatalf("fresh: %d", got)
	}
	clk.Add(59*time.Minute + 59*time.Second)
	if got := usersWith(h, defaultUsersPa, tok); got != http.StatusOK {
		t.Fatalf("before expiry: %d", got)
	}
	clk.Add(time.Second)
	if got := usersWith(h, defaultUsersPa, tok); got != http.StatusUnauthorized {
		t.Fatalf("at expiry: %d", got)
	}
	// An unknown token of the OAuth shape is rejected too.
	if got := usersWith(h, defaultUsersPa, "scbo_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); got != http.StatusUnauthorized {
		t.Fatalf("unknown: %d", got)
	}
}

func TestOAuthTokenLifetime(t *testing.T) {
	st := newHarness(t).st
	for _, d := range []time.Duration{time.Minute, 59 * time.Minute, 6*time.Hour + time.Second, 24 * time.Hour, -time.Hour} {
		if err := auth.ValidateTokenLifetime(d); err == nil {
			t.Errorf("lifetime %s accepted", d)
		}
		_, err := auth.New(auth.Options{Store: st, Tenants: []auth.Tenant{{Name: "x", TokenLifetime: d}}})
		if err == nil || !strings.Contains(err.Error(), `tenant "x"`) {
			t.Errorf("New accepted lifetime %s: %v", d, err)
		}
	}
	for _, d := range []time.Duration{0, time.Hour, 90 * time.Minute, 6 * time.Hour} {
		if err := auth.ValidateTokenLifetime(d); err != nil {
			t.Errorf("lifetime %s: %v", d, err)
		}
	}
	h, clk := oauthHarness(t, func(o *auth.Options) { o.Tenants[1].TokenLifetime = 6 * time.Hour })
	r := mustStatus(t, http.StatusOK, tokenReq(t, h, acmeTokenPath, bodyCreds(acmeClientID, acmeSecret), nil))
	if r.body["expires_in"] != float64(6*3600) {
		t.Fatalf("expires_in %v", r.body["expires_in"])
	}
	def := getToken(t, h, tokenPath, clientID, clientSecret) // default tenant: 1 h
	clk.Add(5 * time.Hour)
	if got := usersWith(h, acmeUsersPath, r.str("access_token")); got != http.StatusOK {
		t.Fatalf("6 h token after 5 h: %d", got)
	}
	if got := usersWith(h, defaultUsersPa, def); got != http.StatusUnauthorized {
		t.Fatalf("1 h token after 5 h: %d", got)
	}
	clk.Add(time.Hour)
	if got := usersWith(h, acmeUsersPath, r.str("access_token")); got != http.StatusUnauthorized {
		t.Fatalf("6 h token after 6 h: %d", got)
	}
}

// secondReplica builds another handler on the harness's store, like a second
// replica or a restart.
func secondReplica(t *testing.T, h *harness, clk *fakeClock, tenants []auth.Tenant) *harness {
	t.Helper()
	return serve(t, h.st, auth.Options{Now: clk.Now, Tenants: tenants})
}

func TestOAuthTokenAcrossReplicasAndRestarts(t *testing.T) {
	h, clk := oauthHarness(t)
	tok := getToken(t, h, tokenPath, clientID, clientSecret)
	tenants := []auth.Tenant{{Name: auth.DefaultTenant, OAuthClients: []auth.OAuthClient{
		{ID: clientID, SecretHashes: [][32]byte{auth.HashToken(clientSecret)}}}}}
	h2 := secondReplica(t, h, clk, tenants)
	if got := usersWith(h2, defaultUsersPa, tok); got != http.StatusOK {
		t.Fatalf("other replica: %d", got)
	}
	// A token issued by the second replica works on the first.
	tok2 := getToken(t, h2, tokenPath, clientID, clientSecret)
	if got := usersWith(h, defaultUsersPa, tok2); got != http.StatusOK {
		t.Fatalf("first replica: %d", got)
	}
	// Removing the client from the configuration invalidates its tokens.
	h3 := secondReplica(t, h, clk, []auth.Tenant{{Name: auth.DefaultTenant, OAuthClients: []auth.OAuthClient{
		{ID: "other", SecretHashes: [][32]byte{auth.HashToken("x")}}}}})
	if got := usersWith(h3, defaultUsersPa, tok); got != http.StatusUnauthorized {
		t.Fatalf("removed client: %d", got)
	}
}

func TestOAuthRevocation(t *testing.T) {
	h, clk := oauthHarness(t)
	ctx := context.Background()
	tok := getToken(t, h, tokenPath, clientID, clientSecret)
	other := getToken(t, h, tokenPath, specialID, specialSecret)
	acme := getToken(t, h, acmeTokenPath, acmeClientID, acmeSecret)
	for _, x := range []struct{ path, tok string }{{defaultUsersPa, tok}, {defaultUsersPa, other}, {acmeUsersPath, acme}} {
		if got := usersWith(h, x.path, x.tok); got != http.StatusOK {
			t.Fatalf("before revocation: %d", got)
		}
	}
	n, err := auth.RevokeOAuthTokens(ctx, h.st, auth.DefaultTenant, clientID)
	if err != nil || n != 1 {
		t.Fatalf("revoke: %d %v", n, err)
	}
	// A replica that has just validated the token trusts it for up to 30 s.
	clk.Add(31 * time.Second)
	if got := usersWith(h, defaultUsersPa, tok); got != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d", got)
	}
	if got := usersWith(h, defaultUsersPa, other); got != http.StatusOK {
		t.Fatalf("other client's token: %d", got)
	}
	// A replica that never saw the token rejects it at once.
	h2 := secondReplica(t, h, clk, []auth.Tenant{{Name: auth.DefaultTenant, OAuthClients: []auth.OAuthClient{
		{ID: specialID, SecretHashes: [][32]byte{auth.HashToken(specialSecret)}}}}})
	if n, err := auth.RevokeOAuthTokens(ctx, h.st, auth.DefaultTenant, ""); err != nil || n != 1 {
		t.Fatalf("revoke all: %d %v", n, err)
	}
	if got := usersWith(h2, defaultUsersPa, other); got != http.StatusUnauthorized {
		t.Fatalf("revoked on fresh replica: %d", got)
	}
	// Other tenants are untouched; new tokens work.
	if got := usersWith(h, acmeUsersPath, acme); got != http.StatusOK {
		t.Fatalf("acme after default revocation: %d", got)
	}
	if got := usersWith(h, defaultUsersPa, getToken(t, h, tokenPath, clientID, clientSecret)); got != http.StatusOK {
		t.Fatalf("new token after revocation: %d", got)
	}
}

func TestOAuthExpiredRecordsArePruned(t *testing.T) {
	h, clk := oauthHarness(t)
	ctx := context.Background()
	getToken(t, h, tokenPath, clientID, clientSecret)
	getToken(t, h, tokenPath, clientID, clientSecret)
	clk.Add(2 * time.Hour)
	getToken(t, h, tokenPath, clientID, clientSecret)
	entries, err := h.st.ListState(ctx, auth.DefaultTenant, "oauth/")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("%d token records left, want 1", len(entries))
	}
	for _, e := range entries {
		if strings.Contains(string(e.Value), "scbo_") {
			t.Fatal("plain token stored")
		}
	}
}

func TestOAuthEndpointOnlyWhereConfigured(t *testing.T) {
	h := newHarness(t)
	if h.a.HasTokenEndpoint(auth.DefaultTenant) || h.a.HasTokenEndpoint("nope") || h.a.Methods(auth.DefaultTenant).OAuth {
		t.Fatal("token endpoint without clients")
	}
	// ServeToken called anyway answers 404.
	rec := httptest.NewRecorder()
	h.a.ServeToken(rec, httptest.NewRequest("POST", tokenPath, nil), auth.DefaultTenant)
	if rec.Code != http.StatusNotFound {
		t.Fatalf("ServeToken without clients: %d", rec.Code)
	}
	// OAuth-shaped tokens are not looked up where no client is configured.
	if got := usersWith(h, defaultUsersPa, "scbo_x"); got != http.StatusUnauthorized {
		t.Fatalf("%d", got)
	}

	h2, _ := oauthHarness(t)
	if !h2.a.HasTokenEndpoint("acme") || h2.a.Methods("acme") != (auth.Methods{OAuth: true}) {
		t.Fatalf("acme: %+v", h2.a.Methods("acme"))
	}
}

func TestOAuthClientConfigValidation(t *testing.T) {
	st := newHarness(t).st
	for _, c := range [][]auth.OAuthClient{
		{{ID: "", SecretHashes: [][32]byte{auth.HashToken("x")}}},
		{{ID: "a"}},
		{{ID: "a", SecretHashes: [][32]byte{auth.HashToken("x")}}, {ID: "a", SecretHashes: [][32]byte{auth.HashToken("y")}}},
	} {
		if _, err := auth.New(auth.Options{Store: st, Tenants: []auth.Tenant{{Name: "t", OAuthClients: c}}}); err == nil {
			t.Errorf("accepted %+v", c)
		}
	}
}

func mustStatus(t *testing.T, status int, r resp) resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

// tokenGet sends a GET to the token endpoint.
func tokenGet(t *testing.T, h *harness, path string) resp {
	t.Helper()
	res, err := http.Get(h.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, raw: raw}
}

// resp is a decoded response.
type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r resp) str(key string) string { s, _ := r.body[key].(string); return s }
