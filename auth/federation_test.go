package auth_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scimbridge/scimbridge/auth"
)

const (
	wifClient   = "entra-wif"
	wifSubject  = "7f0e3c1a-0000-4000-8000-00000000a11c"
	wifAudience = "api://scimbridge-token-exchange"
	wifIssuer   = "https://login.microsoftonline.com/" + entraTenant + "/v2.0"
)

var jtiSeq atomic.Int64

// wifClaims are valid assertion claims at now, with a fresh jti.
func wifClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": wifIssuer,
		"sub": wifSubject,
		"aud": wifAudience,
		"iat": now.Add(-time.Minute).Unix(),
		"nbf": now.Add(-time.Minute).Unix(),
		"exp": now.Add(time.Hour).Unix(),
		"jti": fmt.Sprintf("jti-%d", jtiSeq.Add(1)),
	}
}

// wifHarness: the default tenant has a secret client and a federated one
// (keys from a JWKS server serving key 0 as "k0"); logs are captured.
func wifHarness(t *testing.T) (*harness, *fakeClock, *jwksServer, *bytes.Buffer) {
	keys := testKeys(t)
	js := newJWKSServer(t, map[string]*rsa.PrivateKey{"k0": keys[0]})
	clk := newFakeClock()
	var logs bytes.Buffer
	h := newHarness(t, func(o *auth.Options) {
		o.Now = clk.Now
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		o.Tenants[0].OAuthClients = []auth.OAuthClient{
			{ID: clientID, SecretHashes: [][32]byte{auth.HashToken(clientSecret)}},
			{ID: wifClient, Federation: &auth.Federation{TenantID: entraTenant, Subject: wifSubject, Audience: wifAudience, JWKSURL: js.URL}},
		}
		o.Tenants[1].OAuthClients = []auth.OAuthClient{
			{ID: acmeClientID, SecretHashes: [][32]byte{auth.HashToken(acmeSecret)}},
		}
	})
	return h, clk, js, &logs
}

func assertionForm(assertion string) url.Values {
	return url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {auth.ClientAssertionType},
		"client_assertion":      {assertion},
	}
}

func TestFederatedAssertionAccepted(t *testing.T) {
	h, clk, _, _ := wifHarness(t)
	keys := testKeys(t)
	r := mustStatus(t, http.StatusOK, tokenReq(t, h, tokenPath, assertionForm(signJWT(t, keys[0], "k0", wifClaims(clk.Now()))), nil))
	if r.str("token_type") != "Bearer" || r.body["expires_in"] != float64(3600) {
		t.Fatalf("response %s", r.raw)
	}
	p, err := authWith(h, defaultUsersPa, r.str("access_token"))
	if err != nil || p.Subject != wifClient || p.Method != auth.MethodOAuth {
		t.Fatalf("principal %+v, %v", p, err)
	}
	// client_id may be sent along; it must name the federated client.
	form := assertionForm(signJWT(t, keys[0], "k0", wifClaims(clk.Now())))
	form.Set("client_id", wifClient)
	mustStatus(t, http.StatusOK, tokenReq(t, h, tokenPath, form, nil))
	form = assertionForm(signJWT(t, keys[0], "k0", wifClaims(clk.Now())))
	form.Set("client_id", clientID)
	wantOAuthError(t, tokenReq(t, h, tokenPath, form, nil), 401, "invalid_client")
	// The assertion's token opens only its own tenant.
	if got := usersWith(h, acmeUsersPath, r.str("access_token")); got != http.StatusUnauthorized {
		t.Fatalf("on acme: %d", got)
	}
	if m := h.a.Methods(auth.DefaultTenant); !m.OAuth || !m.Assertions {
		t.Fatalf("methods %+v", m)
	}
	if m := h.a.Methods("acme"); !m.OAuth || m.Assertions {
		t.Fatalf("acme methods %+v", m)
	}
	// The secret client still works, and the federated client has no secret.
	getToken(t, h, tokenPath, clientID, clientSecret)
	wantOAuthError(t, tokenReq(t, h, tokenPath, bodyCreds(wifClient, ""), nil), 401, "invalid_client")
}

func TestFederatedAssertionRejected(t *testing.T) {
	h, clk, _, logs := wifHarness(t)
	keys := testKeys(t)
	now := clk.Now()
	mod := func(f func(jwt.MapClaims)) jwt.MapClaims {
		c := wifClaims(now)
		f(c)
		return c
	}
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, wifClaims(now))
	hs.Header["kid"] = "k0"
	hsTok, _ := hs.SignedString([]byte("secret"))
	for name, c := range map[string]struct {
		assertion string
		reason    string
	}{
		"wrong iss":       {signJWT(t, keys[0], "k0", mod(func(c jwt.MapClaims) { c["iss"] = "https://sts.windows.net/" + entraTenant + "/" })), "unknown"},
		"other tenant":    {signJWT(t, keys[0], "k0", mod(func(c jwt.MapClaims) { c["iss"] = "https://login.microsoftonline.com/" + entraTenantAcme + "/v2.0" })), "unknown"},
		"wrong sub":       {signJWT(t, keys[0], "k0", mod(func(c jwt.MapClaims) { c["sub"] = "someone-else" })), "unknown"},
		"wrong aud":       {signJWT(t, keys[0], "k0", mod(func(c jwt.MapClaims) { c["aud"] = auth.DefaultEntraAudience })), "unknown"},
		"expired":         {signJWT(t, keys[0], "k0", mod(func(c jwt.MapClaims) { c["exp"] = now.Add(-2 * time.Minute).Unix() })), "expired"},
		"not yet valid":   {signJWT(t, keys[0], "k0", mod(func(c jwt.MapClaims) { c["nbf"] = now.Add(5 * time.Minute).Unix() })), "unknown"},
		"no exp":          {signJWT(t, keys[0], "k0", mod(func(c jwt.MapClaims) { delete(c, "exp") })), "unknown"},
		"no jti":          {signJWT(t, keys[0], "k0", mod(func(c jwt.MapClaims) { delete(c, "jti") })), "malformed"},
		"lives a year":    {signJWT(t, keys[0], "k0", mod(func(c jwt.MapClaims) { c["exp"] = now.Add(365 * 24 * time.Hour).Unix() })), "malformed"},
		"wrong key":       {signJWT(t, keys[1], "k0", wifClaims(now)), "unknown"},
		"unknown kid":     {signJWT(t, keys[1], "k9", wifClaims(now)), "unknown"},
		"HS256":           {hsTok, "unknown"},
		"not a JWT":       {"not-a-jwt", "malformed"},
		"bad base64 JSON": {"eyJhbGciOi!!.e30.AAAA", "malformed"},
	} {
		logs.Reset()
		wantOAuthError(t, tokenReq(t, h, tokenPath, assertionForm(c.assertion), nil), 401, "invalid_client")
		if !strings.Contains(logs.String(), "reason="+c.reason) {
			t.Errorf("%s: log %q lacks reason=%s", name, logs.String(), c.reason)
		}
		if strings.Contains(logs.String(), c.assertion) {
			t.Errorf("%s: assertion logged", name)
		}
	}

	// Malformed requests.
	valid := signJWT(t, keys[0], "k0", wifClaims(now))
	form := assertionForm(valid)
	form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
	wantOAuthError(t, tokenReq(t, h, tokenPath, form, nil), 401, "invalid_client")
	form = assertionForm("")
	wantOAuthError(t, tokenReq(t, h, tokenPath, form, nil), 400, "invalid_request")
	form = assertionForm(valid)
	form.Set("client_secret", clientSecret)
	wantOAuthError(t, tokenReq(t, h, tokenPath, form, nil), 400, "invalid_request")
	wantOAuthError(t, tokenReq(t, h, tokenPath, assertionForm(valid), []string{clientID, clientSecret}), 400, "invalid_request")
	// None of these used up the valid assertion.
	mustStatus(t, http.StatusOK, tokenReq(t, h, tokenPath, assertionForm(valid), nil))
	// A tenant whose clients are not federated accepts no assertion.
	wantOAuthError(t, tokenReq(t, h, acmeTokenPath, assertionForm(signJWT(t, keys[0], "k0", wifClaims(now))), nil), 401, "invalid_client")
}

func TestFederatedAssertionReplay(t *testing.T) {
	h, clk, js, logs := wifHarness(t)
	keys := testKeys(t)
	claims := wifClaims(clk.Now())
	claims["exp"] = clk.Now().Add(10 * time.Minute).Unix()
	a := signJWT(t, keys[0], "k0", claims)
	mustStatus(t, http.StatusOK, tokenReq(t, h, tokenPath, assertionForm(a), nil))
	logs.Reset()
	wantOAuthError(t, tokenReq(t, h, tokenPath, assertionForm(a), nil), 401, "invalid_client")
	if !strings.Contains(logs.String(), "reason=replayed") {
		t.Fatalf("log %q", logs.String())
	}
	// Another assertion with the same jti (re-signed) is a replay too.
	wantOAuthError(t, tokenReq(t, h, tokenPath, assertionForm(signJWT(t, keys[0], "k0", claims)), nil), 401, "invalid_client")
	// So is the same assertion at another replica sharing the store.
	h2 := serve(t, h.st, auth.Options{Now: clk.Now, Tenants: []auth.Tenant{{Name: auth.DefaultTenant, OAuthClients: []auth.OAuthClient{
		{ID: wifClient, Federation: &auth.Federation{TenantID: entraTenant, Subject: wifSubject, Audience: wifAudience, JWKSURL: js.URL}}}}}})
	wantOAuthError(t, tokenReq(t, h2, tokenPath, assertionForm(a), nil), 401, "invalid_client")

	// Used ids are pruned once their assertion has expired (plus the
	// leeway); a fresh assertion is still accepted then.
	ctx := context.Background()
	if n := stateCount(t, h, "jti/"); n != 1 {
		t.Fatalf("%d jti records, want 1", n)
	}
	clk.Add(2 * time.Hour)
	mustStatus(t, http.StatusOK, tokenReq(t, h, tokenPath, assertionForm(signJWT(t, keys[0], "k0", wifClaims(clk.Now()))), nil))
	entries, err := h.st.ListState(ctx, auth.DefaultTenant, "jti/")
	if err != nil || len(entries) != 1 {
		t.Fatalf("%d jti records after pruning, want 1 (%v)", len(entries), err)
	}
	if strings.Contains(string(entries[0].Value), "jti-") {
		t.Fatalf("jti stored in the clear: %s", entries[0].Value)
	}
}

func stateCount(t *testing.T, h *harness, prefix string) int {
	t.Helper()
	entries, err := h.st.ListState(context.Background(), auth.DefaultTenant, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

func TestFederatedKeysRotateAndFromFile(t *testing.T) {
	h, clk, js, _ := wifHarness(t)
	keys := testKeys(t)
	mustStatus(t, http.StatusOK, tokenReq(t, h, tokenPath, assertionForm(signJWT(t, keys[0], "k0", wifClaims(clk.Now()))), nil))
	if n := js.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
	// Keys are cached: a second assertion fetches nothing.
	mustStatus(t, http.StatusOK, tokenReq(t, h, tokenPath, assertionForm(signJWT(t, keys[0], "k0", wifClaims(clk.Now()))), nil))
	if n := js.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
	// Entra rolls over to k1: picked up by a refetch (at most once a minute).
	js.set(map[string]*rsa.PrivateKey{"k1": keys[1]}, false)
	clk.Add(61 * time.Second)
	mustStatus(t, http.StatusOK, tokenReq(t, h, tokenPath, assertionForm(signJWT(t, keys[1], "k1", wifClaims(clk.Now()))), nil))

	// Keys from a file.
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, jwksDoc(map[string]*rsa.PrivateKey{"f2": keys[2]}), 0o600); err != nil {
		t.Fatal(err)
	}
	hf := serve(t, h.st, auth.Options{Now: clk.Now, Tenants: []auth.Tenant{{Name: auth.DefaultTenant, OAuthClients: []auth.OAuthClient{
		{ID: wifClient, Federation: &auth.Federation{TenantID: entraTenant, Subject: wifSubject, Audience: wifAudience, JWKSFile: path}}}}}})
	mustStatus(t, http.StatusOK, tokenReq(t, hf, tokenPath, assertionForm(signJWT(t, keys[2], "f2", wifClaims(clk.Now()))), nil))
	wantOAuthError(t, tokenReq(t, hf, tokenPath, assertionForm(signJWT(t, keys[0], "k0", wifClaims(clk.Now()))), nil), 401, "invalid_client")
}

func TestFederationConfigValidation(t *testing.T) {
	st := newHarness(t).st
	for name, f := range map[string]*auth.Federation{
		"no tenant":    {Subject: wifSubject, Audience: wifAudience},
		"no subject":   {TenantID: entraTenant, Audience: wifAudience},
		"no audience":  {TenantID: entraTenant, Subject: wifSubject},
		"url and file": {TenantID: entraTenant, Subject: wifSubject, Audience: wifAudience, JWKSURL: "http://127.0.0.1:1/k", JWKSFile: "x.json"},
		"missing file": {TenantID: entraTenant, Subject: wifSubject, Audience: wifAudience, JWKSFile: filepath.Join(t.TempDir(), "nope.json")},
	} {
		_, err := auth.New(auth.Options{Store: st, Tenants: []auth.Tenant{{Name: "t", OAuthClients: []auth.OAuthClient{{ID: "c", Federation: f}}}}})
		if err == nil || !strings.Contains(err.Error(), `"c"`) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A federated client needs no secret; a client with neither is an error.
	if _, err := auth.New(auth.Options{Store: st, Tenants: []auth.Tenant{{Name: "t", OAuthClients: []auth.OAuthClient{
		{ID: "c", Federation: &auth.Federation{TenantID: entraTenant, Subject: wifSubject, Audience: wifAudience}}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.New(auth.Options{Store: st, Tenants: []auth.Tenant{{Name: "t", OAuthClients: []auth.OAuthClient{{ID: "c"}}}}}); err == nil {
		t.Fatal("client without secret or federation accepted")
	}
}
