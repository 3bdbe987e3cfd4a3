package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// tokenResponse is the body of a successful token endpoint response.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// requestToken posts a client-credentials request to endpoint, with the
// credentials in a Basic header (basic) or in the body. It returns the
// status code and the decoded body.
func requestToken(t *testing.T, endpoint, id, secret string, basic bool) (int, tokenResponse) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if !basic {
		form.Set("client_id", id)
		form.Set("client_secret", secret)
	}
	req, err := http.NewRequest("POST", endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var tr tokenResponse
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &tr); err != nil {
			t.Fatalf("token response %q: %v", b, err)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("token response Cache-Control %q", cc)
		}
	}
	return resp.StatusCode, tr
}

// TestServeOAuthClientCredentials serves a config with OAuth clients (one
// secret by env, one by a sha256 printed by `token hash`), obtains access
// tokens at the token endpoints and uses them, then revokes them.
func TestServeOAuthClientCredentials(t *testing.T) {
	dir := t.TempDir()
	const (
		entraSecret   = "entra-client-secret-0123456789"
		rotatedSecret = "entra-rotated-secret-0123456789"
		acmeSecret    = "acme:client secret/with+specials"
	)
	hashed, _, err := runCmdStdin(t, nil, acmeSecret+"\n", "token", "hash")
	if err != nil {
		t.Fatal(err)
	}
	acmeHash := strings.TrimSpace(hashed)
	if err := os.WriteFile(filepath.Join(dir, "rotated.secret"), []byte(rotatedSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "scimbridge.yaml")
	yaml := fmt.Sprintf(`tenants:
  - name: default
    oauth:
      tokenLifetime: 2h
      clients:
        - id: entra
          secrets:
            - env: ENTRA_SECRET
            - file: rotated.secret
  - name: acme
    oauth:
      clients:
        - id: acme-app
          secrets:
            - sha256: %s
bulk:
  maxOperations: 2
  maxPayloadBytes: 65536
`, acmeHash)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ENTRA_SECRET": entraSecret}
	s := startServe(t, env, "--config", cfg, "--data-dir", filepath.Join(dir, "data"))
	if s.token != "" {
		t.Errorf("a bearer token was generated although the default tenant has an OAuth client:\n%s", s.stdout)
	}
	root := strings.TrimSuffix(s.base, "/scim/v2")
	acme := root + "/tenants/acme/scim/v2"
	endpoint, acmeEndpoint := s.base+"/oauth/token", acme+"/oauth/token"
	for _, u := range []string{endpoint, acmeEndpoint} {
		if !strings.Contains(s.stdout, "OAuth token URL: "+u+"\n") {
			t.Errorf("banner lacks the token URL %s:\n%s", u, s.stdout)
		}
	}
	if strings.Contains(s.stdout+s.stderr.String(), entraSecret) {
		t.Error("a client secret was printed")
	}

	// client_secret_basic, as `curl -u entra:SECRET -d grant_type=client_credentials`.
	code, tr := requestToken(t, endpoint, "entra", entraSecret, true)
	if code != http.StatusOK || tr.TokenType != "Bearer" || tr.AccessToken == "" || tr.ExpiresIn != 7200 {
		t.Fatalf("token request: %d %+v", code, tr)
	}
	tok1 := tr.AccessToken
	var list map[string]any
	if code := do(t, "GET", s.base+"/Users", tok1, nil, &list); code != http.StatusOK || list["totalResults"] != float64(0) {
		t.Fatalf("GET /Users with the access token: %d %v", code, list)
	}
	var user map[string]any
	code = do(t, "POST", s.base+"/Users", tok1, map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": "alice@example.com",
	}, &user)
	if code != http.StatusCreated {
		t.Fatalf("POST /Users with the access token: %d %v", code, user)
	}
	if code := do(t, "GET", acme+"/Users", tok1, nil, nil); code != http.StatusUnauthorized {
		t.Errorf("the default tenant's access token on acme: %d, want 401", code)
	}

	// The rotated secret works too; wrong or foreign credentials do not.
	if code, _ := requestToken(t, endpoint, "entra", rotatedSecret, true); code != http.StatusOK {
		t.Errorf("token request with the second secret: %d", code)
	}
	for _, c := range []struct{ endpoint, id, secret string }{
		{endpoint, "entra", "wrong"},
		{endpoint, "acme-app", acmeSecret},
		{acmeEndpoint, "entra", entraSecret},
	} {
		if code, _ := requestToken(t, c.endpoint, c.id, c.secret, true); code != http.StatusUnauthorized {
			t.Errorf("token request %s as %s: %d, want 401", c.endpoint, c.id, code)
		}
	}

	// acme's client (client_secret_post; the secret hashed by `token hash`).
	code, tr = requestToken(t, acmeEndpoint, "acme-app", acmeSecret, false)
	if code != http.StatusOK || tr.ExpiresIn != 3600 {
		t.Fatalf("acme token request: %d %+v", code, tr)
	}
	if code := do(t, "GET", acme+"/Users", tr.AccessToken, nil, nil); code != http.StatusOK {
		t.Errorf("GET acme /Users with acme's access token: %d", code)
	}
	if code := do(t, "GET", s.base+"/Users", tr.AccessToken, nil, nil); code != http.StatusUnauthorized {
		t.Errorf("acme's access token on the default tenant: %d, want 401", code)
	}

	// The bulk limits and the OAuth scheme are advertised and enforced.
	var spc struct {
		Bulk struct {
			MaxOperations  int   `json:"maxOperations"`
			MaxPayloadSize int64 `json:"maxPayloadSize"`
		} `json:"bulk"`
		AuthenticationSchemes []map[string]any `json:"authenticationSchemes"`
	}
	if code := do(t, "GET", s.base+"/ServiceProviderConfig", tok1, nil, &spc); code != http.StatusOK {
		t.Fatalf("GET /ServiceProviderConfig: %d", code)
	}
	if spc.Bulk.MaxOperations != 2 || spc.Bulk.MaxPayloadSize != 65536 {
		t.Errorf("bulk = %+v", spc.Bulk)
	}
	oauth2 := false
	for _, a := range spc.AuthenticationSchemes {
		oauth2 = oauth2 || a["type"] == "oauth2"
	}
	if !oauth2 {
		t.Errorf("authenticationSchemes lack oauth2: %v", spc.AuthenticationSchemes)
	}
	ops := make([]map[string]any, 3)
	for i := range ops {
		ops[i] = map[string]any{"method": "POST", "path": "/Users", "bulkId": fmt.Sprint(i),
			"data": map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": fmt.Sprintf("u%d", i)}}
	}
	bulk := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:BulkRequest"}, "Operations": ops}
	if code := do(t, "POST", s.base+"/Bulk", tok1, bulk, nil); code != http.StatusRequestEntityTooLarge {
		t.Errorf("POST /Bulk with 3 operations (max 2): %d, want 413", code)
	}

	// Revocation: a token not yet used (so not cached) is refused at once.
	code, tr = requestToken(t, endpoint, "entra", entraSecret, true)
	if code != http.StatusOK {
		t.Fatalf("token request: %d", code)
	}
	out, _, err := runCmd(t, env, "token", "revoke-oauth", "--config", cfg, "--data-dir", filepath.Join(dir, "data"), "--client", "entra")
	if err != nil {
		t.Fatalf("token revoke-oauth: %v", err)
	}
	if !strings.Contains(out, "Revoked 3 OAuth access token(s) of client \"entra\" for tenant \"default\"") {
		t.Errorf("token revoke-oauth printed %q", out)
	}
	if code := do(t, "GET", s.base+"/Users", tr.AccessToken, nil, nil); code != http.StatusUnauthorized {
		t.Errorf("a revoked access token: %d, want 401", code)
	}
	// acme's token was not revoked.
	out, _, err = runCmd(t, env, "token", "revoke-oauth", "--config", cfg, "--data-dir", filepath.Join(dir, "data"), "--tenant", "acme")
	if err != nil || !strings.Contains(out, "Revoked 1 OAuth access token(s) of every client for tenant \"acme\"") {
		t.Errorf("token revoke-oauth --tenant acme: %v %q", err, out)
	}
	s.stop(t)
}

// TestServeEntraJWT serves a tenant that accepts Entra JWTs checked against
// a local JWKS file (given relative to the config file).
func TestServeEntraJWT(t *testing.T) {
	dir := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]any{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "k1",
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
	}}})
	if err := os.WriteFile(filepath.Join(dir, "jwks.json"), jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	const tid = "0b9b90c2-0b63-4f6a-9d36-8d1b6c6b4a11"
	cfg := filepath.Join(dir, "scimbridge.yaml")
	yaml := "tenants:\n  - name: acme\n    entraJWT:\n      tenantId: " + tid + "\n      appIds: [app-1]\n      jwksFile: jwks.json\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, map[string]string{"SCIMBRIDGE_TOKEN": "default-env-token-0123456789"}, "--config", cfg, "--data-dir", filepath.Join(dir, "data"))
	acme := strings.TrimSuffix(s.base, "/scim/v2") + "/tenants/acme/scim/v2"
	sign := func(app string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
			"iss":   "https://sts.windows.net/" + tid + "/",
			"aud":   "8adf8e6e-67b2-4cf2-a259-e3dc5476c621",
			"appid": app,
			"exp":   time.Now().Add(time.Hour).Unix(),
			"nbf":   time.Now().Add(-time.Minute).Unix(),
		})
		tok.Header["kid"] = "k1"
		raw, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	if code := do(t, "GET", acme+"/Users", sign("app-1"), nil, nil); code != http.StatusOK {
		t.Errorf("GET acme /Users with an Entra JWT: %d\nstderr:\n%s", code, s.stderr)
	}
	if code := do(t, "GET", acme+"/Users", sign("app-2"), nil, nil); code != http.StatusUnauthorized {
		t.Errorf("an Entra JWT of another app: %d, want 401", code)
	}
	if code := do(t, "GET", s.base+"/Users", sign("app-1"), nil, nil); code != http.StatusUnauthorized {
		t.Errorf("acme's Entra JWT on the default tenant: %d, want 401", code)
	}
	s.stop(t)
}
