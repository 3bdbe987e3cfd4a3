package config

import (
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
