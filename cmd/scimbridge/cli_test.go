package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		out, _, err := runCmd(t, nil, args...)
		if err != nil || !strings.Contains(out, "scimbridge serve [--config FILE]") || !strings.Contains(out, "token create") {
			t.Errorf("%v: err %v, stdout %q", args, err, out)
		}
	}
	out, _, err := runCmd(t, nil, "serve", "-h")
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(out, "-data-dir") || !strings.Contains(out, "-listen") {
		t.Errorf("serve -h: err %v, stdout %q", err, out)
	}
	if code := exitCode(err, &bytes.Buffer{}); code != 0 {
		t.Errorf("serve -h exits %d", code)
	}
	out, _, err = runCmd(t, nil, "help", "token")
	if err != nil || !strings.Contains(out, "token create") || !strings.Contains(out, "token revoke-oauth [--tenant T] [--client ID]") || !strings.Contains(out, "token hash") {
		t.Errorf("help token: err %v, stdout %q", err, out)
	}
	out, _, _ = runCmd(t, nil, "help")
	if !strings.Contains(out, "token revoke-oauth") || !strings.Contains(out, "token hash") {
		t.Errorf("help lacks the token subcommands:\n%s", out)
	}
	out, _, err = runCmd(t, nil, "token", "revoke-oauth", "-h")
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(out, "-client") || !strings.Contains(out, "-tenant") {
		t.Errorf("token revoke-oauth -h: err %v, stdout %q", err, out)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"bogus"},
		{"serve", "--bogus"},
		{"serve", "extra"},
		{"serve", "--listen", ""},
		{"token"},
		{"token", "revoke"},
		{"token", "create", "--tenant"},
		{"token", "revoke-oauth", "--client"},
		{"token", "revoke-oauth", "extra"},
		{"token", "hash", "the-secret"},
		{"version", "x"},
	} {
		_, _, err := runCmd(t, nil, args...)
		var stderr bytes.Buffer
		if code := exitCode(err, &stderr); code != 2 {
			t.Errorf("%q: exit %d (%v), want 2", args, code, err)
		}
		if !strings.HasPrefix(stderr.String(), "scimbridge: ") {
			t.Errorf("%q: stderr %q", args, stderr.String())
		}
	}
}

func TestVersion(t *testing.T) {
	out, _, err := runCmd(t, nil, "version")
	if err != nil || !strings.HasPrefix(out, "scimbridge ") || !strings.Contains(out, "commit: ") || !strings.Contains(out, runtime.Version()) {
		t.Errorf("version: err %v, stdout %q", err, out)
	}
}

func TestConfigErrorsExitOne(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte("listen: abc\nbogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCmd(t, nil, "serve", "--config", cfg, "--data-dir", dir)
	var stderr bytes.Buffer
	if code := exitCode(err, &stderr); code != 1 || !strings.Contains(stderr.String(), `unknown key "bogus"`) {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	// SCIMBRIDGE_CONFIG names the file when --config is absent; flags win
	// over the environment.
	if err := os.WriteFile(cfg, []byte("listen: abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SCIMBRIDGE_CONFIG": cfg, "SCIMBRIDGE_LISTEN": "also bad"}
	_, _, err = runCmd(t, env, "token", "create", "--data-dir", dir)
	if err == nil || !strings.Contains(err.Error(), `listen: "also bad" is not host:port`) {
		t.Errorf("token create with a bad listen address: %v", err)
	}
}

func TestTokenCreateUnknownTenant(t *testing.T) {
	_, _, err := runCmd(t, nil, "token", "create", "--tenant", "nope", "--data-dir", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), `tenant "nope" is not configured`) {
		t.Errorf("err = %v", err)
	}
}

func TestServeTenantsAndEnvToken(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "scimbridge.yaml")
	yaml := "tenants:\n  - name: acme\n    tokens:\n      - name: entra\n        env: ACME_TOKEN\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"SCIMBRIDGE_TOKEN":    "default-env-token-0123456789",
		"ACME_TOKEN":          "acme-env-token-0123456789",
		"SCIMBRIDGE_DATA_DIR": filepath.Join(dir, "data"),
	}
	s := startServe(t, env, "--config", cfg)
	if s.token != "" {
		t.Errorf("a token was generated although SCIMBRIDGE_TOKEN is set:\n%s", s.stdout)
	}
	acme := strings.TrimSuffix(s.base, "/scim/v2") + "/tenants/acme/scim/v2"
	if !strings.Contains(s.stdout, "SCIM base URL of tenant acme: "+acme+"\n") {
		t.Errorf("banner lacks the acme URL %s:\n%s", acme, s.stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "scimbridge.db")); err != nil {
		t.Errorf("store not under SCIMBRIDGE_DATA_DIR: %v", err)
	}
	for _, c := range []struct {
		url, token string
		want       int
	}{
		{s.base + "/Users", env["SCIMBRIDGE_TOKEN"], http.StatusOK},
		{acme + "/Users", env["ACME_TOKEN"], http.StatusOK},
		{s.base + "/Users", env["ACME_TOKEN"], http.StatusUnauthorized},
		{acme + "/Users", env["SCIMBRIDGE_TOKEN"], http.StatusUnauthorized},
	} {
		if code := do(t, "GET", c.url, c.token, nil, nil); code != c.want {
			t.Errorf("GET %s: %d, want %d", c.url, code, c.want)
		}
	}
	// A stored token of acme opens acme only.
	out, _, err := runCmd(t, env, "token", "create", "--config", cfg, "--tenant", "acme")
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(out)
	waitAccepted(t, acme+"/Users", tok)
	if code := do(t, "GET", s.base+"/Users", tok, nil, nil); code != http.StatusUnauthorized {
		t.Errorf("acme's stored token on the default tenant: %d", code)
	}
	s.stop(t)
}

func TestTokenHash(t *testing.T) {
	const want = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b" // sha256("secret")
	for _, in := range []string{"secret", "secret\n", "  secret \r\n"} {
		out, stderr, err := runCmdStdin(t, nil, in, "token", "hash")
		if err != nil || out != want+"\n" {
			t.Errorf("token hash < %q: %v, stdout %q", in, err, out)
		}
		if strings.Contains(out+stderr, "secret") {
			t.Errorf("token hash < %q printed the secret: %q %q", in, out, stderr)
		}
	}
	for _, in := range []string{"", " \n\t", strings.Repeat("x", maxSecretBytes+1)} {
		out, _, err := runCmdStdin(t, nil, in, "token", "hash")
		if err == nil || out != "" {
			t.Errorf("token hash < %d bytes: %v, stdout %q", len(in), err, out)
		}
		if code := exitCode(err, &bytes.Buffer{}); code != 1 {
			t.Errorf("token hash < %d bytes exits %d", len(in), code)
		}
	}
	// Without any stdin (nil reader) it fails the same way.
	c := &cli{getenv: func(string) string { return "" }, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	if err := c.run(context.Background(), []string{"token", "hash"}); err == nil || !strings.Contains(err.Error(), "no secret on stdin") {
		t.Errorf("token hash without stdin: %v", err)
	}
}

func TestTokenRevokeOAuth(t *testing.T) {
	dir := t.TempDir()
	_, _, err := runCmd(t, nil, "token", "revoke-oauth", "--tenant", "nope", "--data-dir", dir)
	if err == nil || !strings.Contains(err.Error(), `token revoke-oauth: tenant "nope" is not configured`) {
		t.Errorf("unknown tenant: %v", err)
	}
	// Nothing issued yet: nothing revoked. An unconfigured client is noted.
	out, stderr, err := runCmd(t, nil, "token", "revoke-oauth", "--data-dir", dir, "--client", "ghost")
	if err != nil || out != "Revoked 0 OAuth access token(s) of client \"ghost\" for tenant \"default\".\n" {
		t.Errorf("revoke-oauth: %v, stdout %q", err, out)
	}
	if !strings.Contains(stderr, `OAuth client "ghost" is not configured for tenant "default"`) {
		t.Errorf("revoke-oauth stderr %q", stderr)
	}
}
