package main

import (
	"bytes"
	"log/slog"
	"net"
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
