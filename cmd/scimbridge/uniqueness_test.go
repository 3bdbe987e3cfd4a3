package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeStrictUniqueness turns uniqueness: strict on for a tenant that
// holds duplicates made under the default RFC 7643 rules: serve refuses to
// start and names the tenant, attribute, value and ids of each; once they
// are fixed it starts and enforces the rules.
func TestServeStrictUniqueness(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, nil, "--data-dir", dir)
	token := s.token
	create := func(s *server, path string, body map[string]any) (int, string) {
		t.Helper()
		var out map[string]any
		code := do(t, "POST", s.base+path, token, body, &out)
		id, _ := out["id"].(string)
		return code, id
	}
	group := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "Engineers"}
	user := func(name string) map[string]any {
		return map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": name, "externalId": "mailnick"}
	}
	var ids []string
	for _, c := range []struct {
		path string
		body map[string]any
	}{{"/Groups", group}, {"/Groups", group}, {"/Users", user("a@example.com")}, {"/Users", user("b@example.com")}} {
		code, id := create(s, c.path, c.body)
		if code != http.StatusCreated {
			t.Fatalf("POST %s (duplicates are allowed by default): %d", c.path, code)
		}
		ids = append(ids, id)
	}
	s.stop(t)

	cfg := filepath.Join(t.TempDir(), "scimbridge.yaml")
	if err := os.WriteFile(cfg, []byte("tenants:\n  - name: default\n    uniqueness: strict\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCmd(t, nil, "serve", "--config", cfg, "--data-dir", dir, "--listen", "127.0.0.1:0")
	if err == nil {
		t.Fatal("serve started with uniqueness: strict over duplicates")
	}
	t.Logf("serve: %v", err)
	for _, want := range []string{`tenant "default"`, `Group displayName "Engineers"`, ids[0], ids[1],
		`User externalId "mailnick"`, ids[2], ids[3]} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}

	// Fixed without strict, then strict starts and enforces.
	s = startServe(t, nil, "--data-dir", dir)
	for _, p := range []string{"/Groups/" + ids[1], "/Users/" + ids[3]} {
		if code := do(t, "DELETE", s.base+p, token, nil, nil); code != http.StatusNoContent {
			t.Fatalf("DELETE %s: %d", p, code)
		}
	}
	s.stop(t)
	s = startServe(t, nil, "--config", cfg, "--data-dir", dir)
	if code, _ := create(s, "/Groups", group); code != http.StatusConflict {
		t.Errorf("duplicate group displayName in a strict tenant: %d, want 409", code)
	}
	if code, _ := create(s, "/Users", user("c@example.com")); code != http.StatusConflict {
		t.Errorf("duplicate externalId in a strict tenant: %d, want 409", code)
	}
	s.stop(t)
}
