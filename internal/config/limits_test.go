package config

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestLimitsDefaults(t *testing.T) {
	c, err := Load("", envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Limits{MaxStringBytes: 4096, MaxIdentifierBytes: 256, MaxConcurrentRequests: 64,
		QueueWait: 5 * time.Second, MinBodyBytesPerSecond: 4096, BodyGracePeriod: 5 * time.Second}
	if c.Limits != want {
		t.Errorf("limits = %+v, want %+v", c.Limits, want)
	}
	if len(c.TrustedProxyPrefixes()) != 0 {
		t.Errorf("trusted proxies by default: %v", c.TrustedProxyPrefixes())
	}
}

func TestBaseURLPrefixAndProxies(t *testing.T) {
	c, err := Load("testdata/proxy.good.yaml", envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL != "https://example.com/scim-bridge" {
		t.Errorf("baseURL = %q", c.BaseURL)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32"),
		netip.MustParsePrefix("fd00::/8"), netip.MustParsePrefix("172.16.0.1/32"),
	}
	if got := c.TrustedProxyPrefixes(); !slices.Equal(got, want) {
		t.Errorf("trusted proxies = %v, want %v", got, want)
	}
	if c.Limits != (Limits{MaxStringBytes: 8192, MaxIdentifierBytes: 512, MaxConcurrentRequests: 16,
		QueueWait: 2 * time.Second, MinBodyBytesPerSecond: 0, BodyGracePeriod: 30 * time.Second}) {
		t.Errorf("limits = %+v", c.Limits)
	}
}
