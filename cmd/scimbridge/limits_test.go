package main

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/config"
)

func TestWarnPublicURL(t *testing.T) {
	for _, c := range []struct {
		addr    string
		baseURL string
		proxies []string
		warn    bool
	}{
		{"0.0.0.0:8080", "", nil, true},
		{"[::]:8080", "", nil, true},
		{"192.0.2.10:8080", "", nil, true},
		{"127.0.0.1:8080", "", nil, false},
		{"[::1]:8080", "", nil, false},
		{"0.0.0.0:8080", "https://scim.example.com", nil, false},
		{"0.0.0.0:8080", "", []string{"10.0.0.0/8"}, false},
	} {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, nil))
		cfg := config.Default()
		cfg.BaseURL, cfg.TrustedProxies = c.baseURL, c.proxies
		addr, err := net.ResolveTCPAddr("tcp", c.addr)
		if err != nil {
			t.Fatal(err)
		}
		warnPublicURL(log, cfg, addr)
		got := strings.Contains(buf.String(), "level=WARN") && strings.Contains(buf.String(), "baseURL is not set")
		if got != c.warn {
			t.Errorf("%s baseURL %q proxies %v: warned %v, want %v: %s", c.addr, c.baseURL, c.proxies, got, c.warn, buf.String())
		}
	}
}

func TestMinBodyRateMapping(t *testing.T) {
	cfg := config.Default()
	if got := minBodyRate(cfg); got != 4096 {
		t.Errorf("default: %d", got)
	}
	cfg.Limits.MinBodyBytesPerSecond = 0
	if got := minBodyRate(cfg); got >= 0 {
		t.Errorf("0 (no minimum) maps to %d, want negative", got)
	}
}

// The banner's URLs carry baseURL's path prefix.
func TestBannerWithPathPrefix(t *testing.T) {
	cfg := config.Default()
	cfg.BaseURL = "https://example.com/scim-bridge"
	cfg.Tenants = []config.Tenant{{Name: "acme", OAuth: &config.OAuth{Clients: []config.OAuthClient{{ID: "entra"}}}}}
	addr, _ := net.ResolveTCPAddr("tcp", "0.0.0.0:8080")
	b := banner(cfg, addr, "")
	for _, want := range []string{
		"SCIM base URL: https://example.com/scim-bridge/scim/v2\n",
		"SCIM base URL of tenant acme: https://example.com/scim-bridge/tenants/acme/scim/v2\n",
		"OAuth token URL: https://example.com/scim-bridge/tenants/acme/scim/v2/oauth/token\n",
	} {
		if !strings.Contains(b, want) {
			t.Errorf("banner lacks %q:\n%s", want, b)
		}
	}
}

// serve passes limits.* and trustedProxies to the handler.
func TestServeLimitsAndProxies(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "scimbridge.yaml")
	yaml := "trustedProxies: [127.0.0.1]\nlimits:\n  maxIdentifierBytes: 8\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SCIMBRIDGE_TOKEN": "default-env-token-0123456789", "SCIMBRIDGE_DATA_DIR": filepath.Join(dir, "data")}
	s := startServe(t, env, "--config", cfg)
	tok := env["SCIMBRIDGE_TOKEN"]
	var e map[string]any
	if code := do(t, "POST", s.base+"/Users", tok, map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "123456789",
	}, &e); code != http.StatusBadRequest || e["scimType"] != "invalidValue" {
		t.Errorf("userName over limits.maxIdentifierBytes: %d %v", code, e)
	}
	req, _ := http.NewRequest("POST", s.base+"/Users", strings.NewReader(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ok"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/scim+json")
	req.Header.Set("X-Forwarded-Host", "scim.example.com")
	req.Header.Set("X-Forwarded-Proto", "https")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusCreated || !strings.HasPrefix(loc, "https://scim.example.com/scim/v2/Users/") {
		t.Errorf("POST from a trusted proxy: %d, Location %q", res.StatusCode, loc)
	}
	if strings.Contains(s.stderr.String(), "baseURL is not set") {
		t.Errorf("warned on a loopback listener:\n%s", s.stderr)
	}
	s.stop(t)
}
