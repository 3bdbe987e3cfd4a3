package config

import (
	"os"
	"path/filepath"
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
