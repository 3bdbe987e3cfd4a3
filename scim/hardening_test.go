package scim_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/scim"
)

// A trailing slash on a collection or resource path is served as without,
// for every method and tenant.
func TestTrailingSlash(t *testing.T) {
	h := newHarness(t)
	u := h.createUser("slash", nil)
	id := u.str("id")
	h.createGroup("slashers", id)

	for _, path := range []string{"/Users/", "/Groups/"} {
		ids, _ := h.listIDs(path)
		if len(ids) != 1 {
			t.Errorf("GET %s: %v", path, ids)
		}
	}
	h.must(http.StatusOK, h.do("GET", "/Users/"+id+"/", nil))
	h.must(http.StatusCreated, h.do("POST", "/Users/", map[string]any{
		"schemas": []string{schemas.UserURN}, "userName": "slash2",
	}))
	h.must(http.StatusOK, h.do("POST", "/Users/.search/", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"},
	}))
	h.must(http.StatusOK, h.do("PATCH", "/Users/"+id+"/", patchOp(map[string]any{
		"op": "replace", "path": "displayName", "value": "S",
	})))
	h.must(http.StatusOK, h.do("GET", "/ServiceProviderConfig/", nil))

	// Tenants too.
	h.token = acmeToken
	h.must(http.StatusCreated, h.do("POST", "/tenants/acme/scim/v2/Users/", map[string]any{
		"schemas": []string{schemas.UserURN}, "userName": "acme-slash",
	}))
	ids, _ := h.listIDs("/tenants/acme/scim/v2/Users/")
	if len(ids) != 1 {
		t.Errorf("acme users: %v", ids)
	}
	h.token = testToken
	h.must(http.StatusNoContent, h.do("DELETE", "/Users/"+id+"/", nil))
}

// A "schemas" key inside an extension object is ignored (POST, PUT, and
// PATCH with the extension as path or in a path-less value).
func TestSchemasInsideExtensionIgnored(t *testing.T) {
	h := newHarness(t)
	ext := func(dept string) map[string]any {
		return map[string]any{"schemas": []string{schemas.EnterpriseUserURN}, "department": dept}
	}
	u := h.createUser("ext", map[string]any{schemas.EnterpriseUserURN: ext("A")})
	id := u.str("id")
	dept := func(r resp) any {
		m, _ := r.body[schemas.EnterpriseUserURN].(map[string]any)
		if _, has := m["schemas"]; has {
			t.Errorf("schemas stored inside the extension: %s", r.raw)
		}
		return m["department"]
	}
	if dept(u) != "A" {
		t.Fatalf("POST: %s", u.raw)
	}
	r := h.must(http.StatusOK, h.do("PUT", "/Users/"+id, map[string]any{
		"schemas":                 []string{schemas.UserURN, schemas.EnterpriseUserURN},
		"userName":                "ext",
		schemas.EnterpriseUserURN: ext("B"),
	}))
	if dept(r) != "B" {
		t.Fatalf("PUT: %s", r.raw)
	}
	r = h.must(http.StatusOK, h.do("PATCH", "/Users/"+id, patchOp(map[string]any{
		"op": "replace", "path": schemas.EnterpriseUserURN, "value": ext("C"),
	})))
	if dept(r) != "C" {
		t.Fatalf("PATCH with path: %s", r.raw)
	}
	r = h.must(http.StatusOK, h.do("PATCH", "/Users/"+id, patchOp(map[string]any{
		"op": "replace", "value": map[string]any{schemas.EnterpriseUserURN: ext("D")},
	})))
	if dept(r) != "D" {
		t.Fatalf("path-less PATCH: %s", r.raw)
	}
	if dept(h.must(http.StatusOK, h.do("GET", "/Users/"+id, nil))) != "D" {
		t.Fatal("GET after PATCH")
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// logHarness is a harness whose server logs to a buffer at level.
func logHarness(t *testing.T, level slog.Level, mutate ...func(*scim.Options)) (*harness, *syncBuffer) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level}))
	h := newHarness(t, append([]func(*scim.Options){func(o *scim.Options) { o.Logger = log }}, mutate...)...)
	return h, &buf
}

// requestLines returns the "request" log lines that contain substr.
func requestLines(log, substr string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "msg=request") && strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

// A request to an unknown tenant logs the tenant name it asked for.
func TestLogUnknownTenantName(t *testing.T) {
	h, buf := logHarness(t, slog.LevelInfo)
	h.must(http.StatusNotFound, h.do("GET", "/tenants/no-such-tenant/scim/v2/Users", nil))
	lines := requestLines(buf.String(), "status=404")
	if len(lines) != 1 || !strings.Contains(lines[0], "tenant=no-such-tenant") {
		t.Fatalf("log lines %q", lines)
	}
	// An unknown tenant is not a metric label (labels stay bounded).
	m := h.do("GET", "/metrics", nil)
	if strings.Contains(string(m.raw), "no-such-tenant") {
		t.Error("the unknown tenant became a metric label")
	}
	// A 401 names the (known) tenant too.
	h.token = "wrong"
	h.must(http.StatusUnauthorized, h.do("GET", "/tenants/acme/scim/v2/Users", nil))
	if lines := requestLines(buf.String(), "status=401"); len(lines) != 1 || !strings.Contains(lines[0], "tenant=acme") {
		t.Fatalf("401 log lines %q", lines)
	}
}

// Health probes log at debug level, not info.
func TestLogProbesAtDebug(t *testing.T) {
	h, buf := logHarness(t, slog.LevelInfo)
	h.must(http.StatusOK, h.do("GET", "/healthz", nil))
	h.must(http.StatusOK, h.do("GET", "/readyz", nil))
	h.must(http.StatusOK, h.do("GET", "/Users", nil))
	log := buf.String()
	if l := requestLines(log, "route=/healthz"); len(l) != 0 {
		t.Errorf("healthz logged at info: %q", l)
	}
	if l := requestLines(log, "route=/readyz"); len(l) != 0 {
		t.Errorf("readyz logged at info: %q", l)
	}
	if l := requestLines(log, "route=/scim/v2/Users"); len(l) != 1 || !strings.Contains(l[0], "level=INFO") {
		t.Errorf("API request not logged at info: %q", l)
	}

	h, buf = logHarness(t, slog.LevelDebug)
	h.must(http.StatusOK, h.do("GET", "/healthz", nil))
	if l := requestLines(buf.String(), "route=/healthz"); len(l) != 1 || !strings.Contains(l[0], "level=DEBUG") {
		t.Errorf("healthz at debug: %q", l)
	}
}
