package main

import (
	"bytes"
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
	if err != nil || !strings.Contains(out, "token create") {
		t.Errorf("help token: err %v, stdout %q", err, out)
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
