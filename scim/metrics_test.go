package scim_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/scim"
)

// scrape returns /metrics' series (sample lines) from handler h.
func scrape(t *testing.T, h http.Handler) []string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	var series []string
	sc := bufio.NewScanner(bytes.NewReader(rec.Body.Bytes()))
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			series = append(series, line)
		}
	}
	return series
}

// junk sends request i of a hostile stream: a made-up method each time, on
// a path that never repeats, cycling through a path outside every route,
// a resource id, an unknown tenant, and a known tenant without a token.
func junk(h http.Handler, i int) {
	method := fmt.Sprintf("JUNK%05d", i)
	var path string
	switch i % 4 {
	case 0:
		path = fmt.Sprintf("/no/such/path/%d", i)
	case 1:
		path = fmt.Sprintf("/scim/v2/Users/%d", i)
	case 2:
		path = fmt.Sprintf("/tenants/t%d/scim/v2/Users", i)
	case 3:
		path = fmt.Sprintf("/tenants/acme/scim/v2/Groups/%d", i)
	}
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Method = method
	if i%4 == 1 {
		req.Header.Set("Authorization", "Bearer "+testToken)
	}
	h.ServeHTTP(httptest.NewRecorder(), req)
}

// TestMetricsLabelsBounded sends 10,000 requests (100,000 with
// SCIMBRIDGE_TEST_FULL=1) with distinct made-up methods and distinct paths
// (unknown tenants among them): the number of series /metrics exposes is the
// same after them as after the first few. It logs the figures BENCHMARKS.md
// quotes.
// Requests to unknown tenants are counted under tenant="_unknown".
func TestMetricsLabelsBounded(t *testing.T) {
	h := newHarness(t).srv.Config.Handler
	const warmup = 8
	n := 10000
	if os.Getenv("SCIMBRIDGE_TEST_FULL") == "1" {
		n = 100000
	}
	for i := 0; i < warmup; i++ {
		junk(h, i)
	}
	scrape(t, h) // the first scrape adds /metrics' own series
	before := scrape(t, h)
	for i := warmup; i < n; i++ {
		junk(h, i)
	}
	runtime.GC()
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	start := time.Now()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	took := time.Since(start)
	after := scrape(t, h)
	t.Logf("after %d junk requests: %d series (%d after %d), /metrics %d bytes, scraped in %v, heap in use %.1f MB",
		n, len(after), len(before), warmup, rec.Body.Len(), took.Round(time.Microsecond), float64(mem.HeapInuse)/1e6)
	if len(after) != len(before) {
		t.Errorf("%d series after %d junk requests, %d after %d", len(after), n, len(before), warmup)
	}
	all := strings.Join(after, "\n")
	for _, bad := range []string{"JUNK0", "/no/such", `tenant="t`} {
		if strings.Contains(all, bad) {
			t.Errorf("a raw value (%q) became a label", bad)
		}
	}
	for _, want := range []string{
		`method="OTHER"`,
		`route="unmatched"`,
		`route="/scim/v2/Users/{id}"`,
		`tenant="_unknown"`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no series with %s", want)
		}
	}
	// Known methods and tenants keep their own values.
	req := httptest.NewRequest(http.MethodDelete, "/tenants/acme/scim/v2/Users/x", nil)
	h.ServeHTTP(httptest.NewRecorder(), req)
	if s := strings.Join(scrape(t, h), "\n"); !strings.Contains(s, `scimbridge_http_requests_total{code="401",method="DELETE",route="/tenants/{tenant}/scim/v2/Users/{id}",tenant="acme"} 1`) {
		t.Errorf("a DELETE to tenant acme is not counted as such:\n%s", s)
	}
}

// TestMetricsToken checks that /metrics requires metrics.token when set,
// and only that token.
func TestMetricsToken(t *testing.T) {
	const metricsToken = "metrics-token-0123456789"
	h := newHarness(t, func(o *scim.Options) {
		hash := auth.HashToken(metricsToken)
		o.MetricsTokenHash = &hash
	})
	for name, auth := range map[string]string{
		"no token":         "",
		"wrong token":      "Bearer not-the-metrics-token",
		"a tenant's token": "Bearer " + testToken,
		"basic":            "Basic " + metricsToken,
		"empty bearer":     "Bearer ",
	} {
		r := h.do("GET", "/metrics", nil, "Authorization", auth)
		if r.status != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, r.status)
		}
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: WWW-Authenticate %q", name, r.header.Get("WWW-Authenticate"))
		}
		if strings.Contains(string(r.raw), "scimbridge_http") {
			t.Errorf("%s: metrics served", name)
		}
	}
	r := h.do("GET", "/metrics", nil, "Authorization", "Bearer "+metricsToken)
	if r.status != http.StatusOK || !strings.Contains(string(r.raw), "scimbridge_http_requests_total") {
		t.Fatalf("with the token: %d %.200s", r.status, r.raw)
	}
	// The health endpoints stay open.
	if r := h.do("GET", "/healthz", nil, "Authorization", ""); r.status != http.StatusOK {
		t.Errorf("/healthz: %d", r.status)
	}
}
