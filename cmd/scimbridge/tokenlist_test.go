package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestTokenListAndRevoke lists the tokens of every source, revokes stored
// ones by id and by name, and checks what revoke says about the tokens it
// cannot remove (duplicate names, config and environment tokens). The
// output never holds a token or a whole hash.
func TestTokenListAndRevoke(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "scimbridge.yaml")
	yml := "tenants:\n  - name: acme\n    tokens:\n      - name: entra-acme\n        env: ACME_TOKEN\n"
	if err := os.WriteFile(cfg, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"SCIMBRIDGE_CONFIG":   cfg,
		"SCIMBRIDGE_DATA_DIR": filepath.Join(dir, "data"),
		"SCIMBRIDGE_TOKEN":    "env-token-0123456789",
		"ACME_TOKEN":          "acme-token-0123456789",
	}
	secrets := []string{env["SCIMBRIDGE_TOKEN"], env["ACME_TOKEN"]}
	create := func(tenant, name string) string {
		t.Helper()
		tok, _, err := runCmd(t, env, "token", "create", "--tenant", tenant, "--name", name)
		if err != nil {
			t.Fatal(err)
		}
		tok = strings.TrimSpace(tok)
		secrets = append(secrets, tok)
		return tok
	}
	dup1 := create("default", "dup")
	dup2 := create("default", "dup")
	create("acme", "entra")

	list := func(args ...string) []tokenInfo {
		t.Helper()
		out, _, err := runCmd(t, env, append([]string{"token", "list", "--output", "json"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		noSecrets(t, out, secrets)
		var ts []tokenInfo
		if err := json.Unmarshal([]byte(out), &ts); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		return ts
	}
	type row struct{ tenant, id, name, source string }
	rows := func(ts []tokenInfo) []row {
		var out []row
		for _, ti := range ts {
			out = append(out, row{ti.Tenant, ti.ID, ti.Name, ti.Source})
			if (ti.Created != nil) != (ti.Source == "store") || ti.LastUsed != nil {
				t.Errorf("%+v: created only for stored tokens, and no use yet", ti)
			}
		}
		return out
	}
	all := list()
	want := []row{
		{"default", idOf("env-token-0123456789"), "SCIMBRIDGE_TOKEN", "environment"},
		{"default", idOf(dup1), "dup", "store"},
		{"default", idOf(dup2), "dup", "store"},
		{"acme", idOf("acme-token-0123456789"), "entra-acme", "config"},
		{"acme", all[4].ID, "entra", "store"},
	}
	if got := rows(all); !slices.Equal(got, want) {
		t.Fatalf("token list:\n%v\nwant\n%v", got, want)
	}
	if got := rows(list("--tenant", "acme")); !slices.Equal(got, want[3:]) {
		t.Errorf("token list --tenant acme: %v", got)
	}
	text, _, err := runCmd(t, env, "token", "list")
	if err != nil {
		t.Fatal(err)
	}
	noSecrets(t, text, secrets)
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) != 6 || strings.Join(strings.Fields(lines[0]), " ") != "TENANT ID NAME SOURCE CREATED LAST USED" ||
		!slices.Equal(strings.Fields(lines[4]), []string{"acme", idOf("acme-token-0123456789"), "entra-acme", "config", "-", "never"}) {
		t.Errorf("token list (text):\n%s", text)
	}

	revokeErr := func(args ...string) string {
		t.Helper()
		_, _, err := runCmd(t, env, append([]string{"token", "revoke"}, args...)...)
		if err == nil {
			t.Fatalf("token revoke %v succeeded", args)
		}
		noSecrets(t, err.Error(), secrets)
		return err.Error()
	}
	// A shared name lists the candidates.
	msg := revokeErr("--tenant", "default", "--name", "dup")
	if !strings.Contains(msg, `2 tokens of tenant "default" have name "dup"`) || !strings.Contains(msg, idOf(dup1)) || !strings.Contains(msg, idOf(dup2)) {
		t.Errorf("duplicate name: %s", msg)
	}
	// Config and environment tokens are revoked at their source.
	msg = revokeErr("--tenant", "acme", "--name", "entra-acme")
	if !strings.Contains(msg, "comes from the config file (tenants[0].tokens[0] in "+cfg+")") || !strings.Contains(msg, "remove it there") {
		t.Errorf("config token: %s", msg)
	}
	msg = revokeErr("--tenant", "default", "--id", idOf("env-token-0123456789"))
	if !strings.Contains(msg, "comes from the environment variable SCIMBRIDGE_TOKEN") {
		t.Errorf("environment token: %s", msg)
	}
	if msg := revokeErr("--tenant", "acme", "--name", "dup"); !strings.Contains(msg, `tenant "acme" has no token with name "dup"`) {
		t.Errorf("a name of another tenant: %s", msg)
	}
	// By id (the listed 8 digits, or more), then by a name now unique.
	out, _, err := runCmd(t, env, "token", "revoke", "--tenant", "default", "--id", hexHash(dup1)[:12])
	if err != nil || !strings.Contains(out, "Revoked token "+idOf(dup1)+` ("dup") of tenant "default"`) {
		t.Fatalf("revoke by id: %v %q", err, out)
	}
	if _, _, err := runCmd(t, env, "token", "revoke", "--tenant", "default", "--name", "dup"); err != nil {
		t.Fatal(err)
	}
	if got := rows(list()); !slices.Equal(got, []row{want[0], want[3], want[4]}) {
		t.Errorf("after revoking: %v", got)
	}
	for _, args := range [][]string{
		{"token", "revoke", "--name", "x"},                                     // no tenant
		{"token", "revoke", "--tenant", "default"},                             // neither id nor name
		{"token", "revoke", "--tenant", "default", "--id", "1", "--name", "x"}, // both
		{"token", "revoke", "--tenant", "default", "--id", "abc"},              // too short
		{"token", "revoke", "--tenant", "default", "--id", "zzzzzzzz"},         // not hex
		{"token", "list", "--output", "yaml"},
	} {
		_, _, err := runCmd(t, env, args...)
		if code := exitCode(err, &bytes.Buffer{}); code != 2 {
			t.Errorf("%q: exit %d (%v), want 2", args, code, err)
		}
	}
}

// TestTokenLastUsed checks that a running server records when a stored
// token and the environment's were last used. (That a running server
// refuses a revoked token is auth's TestRevokedTokenRefused.)
func TestTokenLastUsed(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"SCIMBRIDGE_DATA_DIR": filepath.Join(dir, "data"), "SCIMBRIDGE_TOKEN": "env-token-0123456789"}
	tok, _, err := runCmd(t, env, "token", "create", "--name", "entra")
	if err != nil {
		t.Fatal(err)
	}
	tok = strings.TrimSpace(tok)
	s := startServe(t, env)
	before := time.Now().Add(-time.Second)
	for range 3 {
		if code := do(t, "GET", s.base+"/Users", tok, nil, nil); code != http.StatusOK {
			t.Fatalf("GET with the stored token: %d", code)
		}
	}
	if code := do(t, "GET", s.base+"/Users", env["SCIMBRIDGE_TOKEN"], nil, nil); code != http.StatusOK {
		t.Fatalf("GET with the environment token: %d", code)
	}
	out, _, err := runCmd(t, env, "token", "list", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var ts []tokenInfo
	if err := json.Unmarshal([]byte(out), &ts); err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 {
		t.Fatalf("token list: %s", out)
	}
	for _, ti := range ts {
		if ti.LastUsed == nil || ti.LastUsed.Before(before) || ti.LastUsed.After(time.Now()) {
			t.Errorf("%s token %s: last used %v, want about now", ti.Source, ti.Name, ti.LastUsed)
		}
	}
	s.stop(t)
}

// idOf is the id `token list` shows for token.
func idOf(token string) string { return hexHash(token)[:8] }

func hexHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// noSecrets fails if out holds a token or a token's whole hash.
func noSecrets(t *testing.T, out string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(out, s) || strings.Contains(out, hexHash(s)) {
			t.Errorf("output holds a token or its hash:\n%s", out)
		}
	}
}
