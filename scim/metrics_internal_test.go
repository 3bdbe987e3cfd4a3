package scim

import (
	"strings"
	"testing"
)

// TestMetricLabels checks each label's bound: made-up methods, unknown
// tenants and odd status codes map to one value each.
func TestMetricLabels(t *testing.T) {
	m := newMetrics([]string{DefaultTenant, "acme"}, nil)
	for in, want := range map[string]string{
		"GET": "GET", "PATCH": "PATCH", "OPTIONS": "OPTIONS",
		"get": otherMethod, "JUNK": otherMethod, "": otherMethod, strings.Repeat("X", 1000): otherMethod,
	} {
		if got := methodLabel(in); got != want {
			t.Errorf("methodLabel(%.20q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"": "", DefaultTenant: DefaultTenant, "acme": "acme",
		"evil": unknownTenant, "acme2": unknownTenant, "_unknown": unknownTenant,
	} {
		if got := m.tenantLabel(in); got != want {
			t.Errorf("tenantLabel(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[int]string{200: "200", 599: "599", 100: "100", 0: otherCode, 99: otherCode, 600: otherCode, 1000: otherCode} {
		if got := codeLabel(in); got != want {
			t.Errorf("codeLabel(%d) = %q, want %q", in, got, want)
		}
	}
	if got := m.routeLabel(""); got != unmatchedRoute {
		t.Errorf("routeLabel(\"\") = %q", got)
	}
}
