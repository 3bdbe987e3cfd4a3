package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
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

// TestServeFederatedClient serves a tenant whose OAuth client authenticates
// with an Entra-signed JWT assertion (keys from a JWKS file relative to the
// config), exchanges one for an access token and uses it; the same
// assertion a second time is refused.
func TestServeFederatedClient(t *testing.T) {
	dir := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]any{{
		"kty": "RSA", "use": "sig", "kid": "w1",
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
	}}})
	if err := os.WriteFile(filepath.Join(dir, "keys.json"), jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	const tid = "0b9b90c2-0b63-4f6a-9d36-8d1b6c6b4a11"
	cfg := filepath.Join(dir, "scimbridge.yaml")
	yaml := `tenants:
  - name: acme
    oauth:
      clients:
        - id: entra-wif
          federation:
            tenantId: ` + tid + `
            subject: wif-subject
            audience: api://scimbridge
            jwksFile: keys.json
`
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, map[string]string{"SCIMBRIDGE_TOKEN": "default-env-token-0123456789"}, "--config", cfg, "--data-dir", filepath.Join(dir, "data"))
	acme := strings.TrimSuffix(s.base, "/scim/v2") + "/tenants/acme/scim/v2"
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": "https://login.microsoftonline.com/" + tid + "/v2.0",
		"sub": "wif-subject",
		"aud": "api://scimbridge",
		"exp": time.Now().Add(time.Hour).Unix(),
		"jti": "assertion-1",
	})
	tok.Header["kid"] = "w1"
	assertion, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	exchange := func() (int, tokenResponse) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"entra-wif"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
		res, err := http.PostForm(acme+"/oauth/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var tr tokenResponse
		_ = json.Unmarshal(b, &tr)
		return res.StatusCode, tr
	}
	code, tr := exchange()
	if code != http.StatusOK {
		t.Fatalf("assertion exchange: %d\nstderr:\n%s", code, s.stderr)
	}
	if code := do(t, "GET", acme+"/Users", tr.AccessToken, nil, nil); code != http.StatusOK {
		t.Errorf("GET acme /Users with the access token: %d", code)
	}
	if code, _ := exchange(); code != http.StatusUnauthorized {
		t.Errorf("replayed assertion: %d, want 401", code)
	}
	s.stop(t)
}
