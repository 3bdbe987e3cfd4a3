package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/config"
)

func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
	}))
	defer srv.Close()
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"healthcheck", "--url", srv.URL + "/readyz"}, &out, &errb); err != nil {
		t.Fatalf("ready: %v", err)
	}
	status = http.StatusServiceUnavailable
	err := run(context.Background(), []string{"healthcheck", "--url", srv.URL + "/readyz"}, &out, &errb)
	if err == nil || exitCode(err, &errb) != 1 {
		t.Fatalf("unready: %v", err)
	}
	srv.Close()
	if err := run(context.Background(), []string{"healthcheck", "--url", srv.URL}, &out, &errb); err == nil {
		t.Fatal("closed server: no error")
	}
}

// TestHealthcheckFromConfig probes the bridge the configuration describes:
// the port from the file, overridden by SCIMBRIDGE_LISTEN as serve's is.
func TestHealthcheckFromConfig(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"SCIMBRIDGE_DATA_DIR": filepath.Join(dir, "data")}
	s := startServe(t, env)
	addr := strings.TrimSuffix(strings.TrimPrefix(s.base, "http://"), "/scim/v2")
	_, port, _ := net.SplitHostPort(addr)

	// The port from the file; a wildcard host is probed on loopback.
	cfgPath := filepath.Join(dir, "scimbridge.yaml")
	if err := os.WriteFile(cfgPath, []byte("listen: 0.0.0.0:"+port+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, _, err := runCmd(t, env, "healthcheck", "--config", cfgPath); err != nil || out != "ok\n" {
		t.Errorf("healthcheck --config: %v %q", err, out)
	}
	// The environment overrides the file, as for serve.
	closed := freePort(t)
	if err := os.WriteFile(cfgPath, []byte("listen: 0.0.0.0:"+closed+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCmd(t, env, "healthcheck", "--config", cfgPath); err == nil {
		t.Error("healthcheck of a closed port passed")
	}
	env["SCIMBRIDGE_LISTEN"] = addr
	if _, _, err := runCmd(t, env, "healthcheck", "--config", cfgPath); err != nil {
		t.Errorf("healthcheck with SCIMBRIDGE_LISTEN over the file: %v", err)
	}
	s.stop(t)

	for name, c := range map[string]struct {
		env  map[string]string
		args []string
		want string
	}{
		"both":       {nil, []string{"--config", cfgPath, "--url", "http://127.0.0.1:1/readyz"}, "not both"},
		"port 0":     {map[string]string{"SCIMBRIDGE_LISTEN": "127.0.0.1:0"}, nil, "give --url"},
		"bad config": {nil, []string{"--config", filepath.Join(dir, "nope.yaml")}, "nope.yaml"},
		"bad url":    {nil, []string{"--url", "127.0.0.1:8080/readyz"}, "want http(s)://"},
	} {
		if _, _, err := runCmd(t, c.env, append([]string{"healthcheck"}, c.args...)...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, c.want)
		}
	}
}

func TestReadyURL(t *testing.T) {
	for _, c := range []struct {
		listen string
		tls    bool
		want   string
	}{
		{"127.0.0.1:8080", false, "http://127.0.0.1:8080/readyz"},
		{"0.0.0.0:8080", false, "http://127.0.0.1:8080/readyz"},
		{":8443", true, "https://127.0.0.1:8443/readyz"},
		{"[::]:9000", false, "http://127.0.0.1:9000/readyz"},
		{"[::1]:9000", true, "https://[::1]:9000/readyz"},
		{"localhost:9000", false, "http://localhost:9000/readyz"},
	} {
		cfg := config.Default()
		cfg.Listen = c.listen
		if c.tls {
			cfg.TLS.CertFile, cfg.TLS.KeyFile = "c", "k"
		}
		if got, err := readyURL(cfg); err != nil || got != c.want {
			t.Errorf("readyURL(%s, tls %v) = %q, %v; want %q", c.listen, c.tls, got, err, c.want)
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}
