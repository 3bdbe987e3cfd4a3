package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadFederation(t *testing.T) {
	c, err := Load("testdata/federation.good.yaml", envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	tc := c.Tenant("acme")
	if tc == nil || tc.OAuth == nil || len(tc.OAuth.Clients) != 2 {
		t.Fatalf("acme = %+v", tc)
	}
	f := tc.OAuth.Clients[0].Federation
	want := Federation{
		TenantID: "0b9b90c2-0b63-4f6a-9d36-8d1b6c6b4a11",
		Subject:  "7f0e3c1a-0000-4000-8000-00000000a11c",
		Audience: "api://scimbridge-token-exchange",
		JWKSFile: filepath.Join("testdata", "jwks.json"),
	}
	if f == nil || *f != want {
		t.Fatalf("federation = %+v, want %+v", f, want)
	}
	if len(tc.OAuth.Clients[0].SecretHashes()) != 0 || len(tc.OAuth.Clients[1].SecretHashes()) != 1 || tc.OAuth.Clients[1].Federation == nil {
		t.Fatalf("clients = %+v", tc.OAuth.Clients)
	}
}

func TestLoadAuthFailures(t *testing.T) {
	c, err := Load("", envMap(nil))
	if err != nil || c.AuthFailures != (AuthFailures{}) {
		t.Fatalf("default: %+v %v", c.AuthFailures, err)
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("authFailures:\n  burst: 20\n  perMinute: 5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Load(path, envMap(nil))
	if err != nil || c.AuthFailures != (AuthFailures{Burst: 20, PerMinute: 5}) {
		t.Fatalf("set: %+v %v", c.AuthFailures, err)
	}
}

// TestJWKSURLNeedsHTTPS checks that signing keys are fetched over https
// only, for both entraJWT and federation, except from a loopback host: over
// plain http anyone on the way could swap the keys and have forged tokens
// and assertions accepted.
func TestJWKSURLNeedsHTTPS(t *testing.T) {
	const tid = "0b9b90c2-0b63-4f6a-9d36-8d1b6c6b4a11"
	load := func(jwksURL string) error {
		path := filepath.Join(t.TempDir(), "c.yaml")
		yml := "tenants:\n" +
			"  - name: acme\n    entraJWT:\n      tenantId: " + tid + "\n      jwksURL: " + jwksURL + "\n" +
			"    oauth:\n      clients:\n        - id: wif\n          federation:\n            tenantId: " + tid +
			"\n            subject: s\n            audience: a\n            jwksURL: " + jwksURL + "\n"
		if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path, envMap(nil))
		return err
	}
	for _, u := range []string{"http://keys.example.com/keys", "http://10.0.0.5/keys", "http://[2001:db8::1]/keys"} {
		err := load(u)
		if err == nil {
			t.Errorf("%s: loaded", u)
			continue
		}
		for _, field := range []string{"tenants[0].entraJWT.jwksURL", "tenants[0].oauth.clients[0].federation.jwksURL"} {
			if !strings.Contains(err.Error(), field+": \""+u+"\" must start with https://") {
				t.Errorf("%s: error does not name %s: %v", u, field, err)
			}
		}
	}
	for _, u := range []string{"https://keys.example.com/keys", "http://127.0.0.1:8089/keys", "http://localhost/keys", "http://[::1]:80/keys"} {
		if err := load(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}
