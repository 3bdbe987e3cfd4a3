package config

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/testcert"
)

// writeConfig writes body as a config file in a new directory and returns
// its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "scimbridge.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestServingDefaults(t *testing.T) {
	c, err := Load("", envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS.Enabled() || c.TLS.ReloadInterval != time.Minute {
		t.Errorf("tls = %+v, want off with a 1m reload interval", c.TLS)
	}
	if c.MetricsTokenHash() != nil {
		t.Error("/metrics requires a token by default")
	}
	if c.Debug.Listen != "" {
		t.Errorf("debug.listen = %q by default", c.Debug.Listen)
	}
}

func TestServingLoad(t *testing.T) {
	path := writeConfig(t, `
tls:
  certFile: certs/server.crt
  keyFile: certs/server.key
  reloadInterval: 10s
metrics:
  token:
    file: metrics.token
debug:
  listen: localhost:6060
`)
	dir := filepath.Dir(path)
	if err := os.Mkdir(filepath.Join(dir, "certs"), 0o700); err != nil {
		t.Fatal(err)
	}
	testcert.Write(t, filepath.Join(dir, "certs"), "server")
	if err := os.WriteFile(filepath.Join(dir, "metrics.token"), []byte(" scrape-me \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.TLS.Enabled() || c.TLS.CertFile != filepath.Join(dir, "certs", "server.crt") || c.TLS.KeyFile != filepath.Join(dir, "certs", "server.key") || c.TLS.ReloadInterval != 10*time.Second {
		t.Errorf("tls = %+v: want the files relative to the config's directory", c.TLS)
	}
	if h := c.MetricsTokenHash(); h == nil || *h != sha256.Sum256([]byte("scrape-me")) {
		t.Errorf("metrics token hash %v", h)
	}
	if c.Debug.Listen != "localhost:6060" {
		t.Errorf("debug = %+v", c.Debug)
	}

	// The token by environment variable and by hash.
	c, err = Load(writeConfig(t, "metrics:\n  token:\n    env: METRICS_TOKEN\n"), envMap(map[string]string{"METRICS_TOKEN": "from-env"}))
	if err != nil {
		t.Fatal(err)
	}
	if h := c.MetricsTokenHash(); h == nil || *h != sha256.Sum256([]byte("from-env")) {
		t.Errorf("metrics token from env: %v", h)
	}
	sum := sha256.Sum256([]byte("hashed"))
	c, err = Load(writeConfig(t, "metrics:\n  token:\n    sha256: "+hex.EncodeToString(sum[:])+"\n"), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if h := c.MetricsTokenHash(); h == nil || *h != sum {
		t.Errorf("metrics token from sha256: %v", h)
	}

	// Every interface, when allowed.
	if _, err := Load(writeConfig(t, "debug:\n  listen: 0.0.0.0:6060\n  allowNonLoopback: true\n"), envMap(nil)); err != nil {
		t.Errorf("debug.allowNonLoopback: %v", err)
	}
}

func TestServingProblems(t *testing.T) {
	dir := t.TempDir()
	certA, keyA := testcert.Write(t, dir, "a")
	_, keyB := testcert.Write(t, dir, "b")
	for name, tc := range map[string]struct {
		body string
		want []string
	}{
		"cert without key":  {"tls:\n  certFile: " + certA + "\n", []string{"tls.keyFile: must be set with tls.certFile"}},
		"key without cert":  {"tls:\n  keyFile: " + keyA + "\n", []string{"tls.certFile: must be set with tls.keyFile"}},
		"missing file":      {"tls:\n  certFile: " + certA + "\n  keyFile: " + filepath.Join(dir, "nope.key") + "\n", []string{"tls.keyFile: cannot read", "nope.key"}},
		"mismatched pair":   {"tls:\n  certFile: " + certA + "\n  keyFile: " + keyB + "\n", []string{"tls: ", "are not a usable certificate and key", "private key does not match public key"}},
		"key as cert":       {"tls:\n  certFile: " + keyA + "\n  keyFile: " + keyA + "\n", []string{"are not a usable certificate and key"}},
		"reload interval":   {"tls:\n  reloadInterval: 10ms\n", []string{"tls.reloadInterval: 10ms must be at least 1s"}},
		"reload type":       {"tls:\n  reloadInterval: often\n", []string{"often"}},
		"unknown tls key":   {"tls:\n  cert: x\n", []string{`unknown key "tls.cert"`}},
		"token two ways":    {"metrics:\n  token:\n    env: A\n    file: b\n", []string{"metrics.token: must have exactly one of sha256, env, file"}},
		"token bad hash":    {"metrics:\n  token:\n    sha256: hunter2\n", []string{"metrics.token.sha256: must be 64 hexadecimal digits"}},
		"token env unset":   {"metrics:\n  token:\n    env: NOT_SET\n", []string{"metrics.token.env: environment variable NOT_SET is not set"}},
		"token file":        {"metrics:\n  token:\n    file: nope\n", []string{"metrics.token.file: cannot read"}},
		"unknown token key": {"metrics:\n  token:\n    value: hunter2\n", []string{`unknown key "metrics.token.value"`}},
		"debug everywhere":  {"debug:\n  listen: :6060\n", []string{`debug.listen: ":6060" is not a loopback address`, "debug.allowNonLoopback"}},
		"debug public ip":   {"debug:\n  listen: 10.0.0.1:6060\n", []string{`debug.listen: "10.0.0.1:6060" is not a loopback address`}},
		"debug hostname":    {"debug:\n  listen: example.com:6060\n", []string{"is not a loopback address"}},
		"debug not addr":    {"debug:\n  listen: 6060\n", []string{`debug.listen: "6060" is not host:port`}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(writeConfig(t, tc.body), envMap(nil))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("error reveals a secret:\n%v", err)
			}
		})
	}
	// The loopback forms are accepted.
	for _, addr := range []string{"127.0.0.1:6060", "[::1]:6060", "localhost:0", "127.0.0.2:6060"} {
		if _, err := Load(writeConfig(t, "debug:\n  listen: \""+addr+"\"\n"), envMap(nil)); err != nil {
			t.Errorf("debug.listen %s: %v", addr, err)
		}
	}
}
