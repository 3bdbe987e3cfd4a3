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
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
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
	b := h.must(http.StatusOK, h.do("POST", "/Bulk/", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:BulkRequest"},
		"Operations": []any{
			map[string]any{"method": "POST", "bulkId": "b", "path": "/Users/", "data": map[string]any{"schemas": []string{schemas.UserURN}, "userName": "bulk-slash"}},
			map[string]any{"method": "PATCH", "path": "/Users/" + id + "/", "data": patchOp(map[string]any{"op": "replace", "path": "title", "value": "T"})},
		},
	}))
	for _, op := range b.body["Operations"].([]any) {
		if st := op.(map[string]any)["status"]; st != "201" && st != "200" {
			t.Errorf("bulk op with a trailing slash: %s", b.raw)
		}
	}

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

// A body that is not valid UTF-8, or escapes a lone surrogate, is a 400
// invalidValue and nothing is stored.
func TestInvalidUTF8Rejected(t *testing.T) {
	h := newHarness(t)
	u := h.createUser("utf8", nil)
	id := u.str("id")
	for name, body := range map[string]string{
		"raw byte":         "{\"schemas\":[\"" + schemas.UserURN + "\"],\"userName\":\"bad\xff\"}",
		"lone high escape": `{"schemas":["` + schemas.UserURN + `"],"userName":"bad\ud800"}`,
		"lone low escape":  `{"schemas":["` + schemas.UserURN + `"],"userName":"bad\udc00x"}`,
	} {
		h.scimError(h.do("POST", "/Users", body), http.StatusBadRequest, "invalidValue")
		h.scimError(h.do("PUT", "/Users/"+id, body), http.StatusBadRequest, "invalidValue")
		_ = name
	}
	h.scimError(h.do("PATCH", "/Users/"+id, "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":[{\"op\":\"replace\",\"path\":\"displayName\",\"value\":\"\xc3\"}]}"),
		http.StatusBadRequest, "invalidValue")
	h.scimError(h.do("POST", "/Bulk", "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:BulkRequest\"],\"Operations\":[{\"method\":\"POST\",\"bulkId\":\"a\",\"path\":\"/Users\",\"data\":{\"userName\":\"\xe2\x82\"}}]}"),
		http.StatusBadRequest, "invalidValue")
	ids, _ := h.listIDs("/Users")
	if len(ids) != 1 {
		t.Fatalf("users %v", ids)
	}
	got := h.must(http.StatusOK, h.do("GET", "/Users/"+id, nil))
	if got.str("userName") != "utf8" || got.body["displayName"] != nil {
		t.Fatalf("stored: %s", got.raw)
	}

	// A surrogate pair, an escaped backslash before "u", and U+FFFD itself
	// are fine.
	r := h.must(http.StatusCreated, h.do("POST", "/Users", `{"schemas":["`+schemas.UserURN+`"],"userName":"ok\ud83d\ude00 \\ud800 \ufffd"}`))
	if r.str("userName") != "ok\U0001F600 \\ud800 \uFFFD" {
		t.Fatalf("userName %q", r.str("userName"))
	}
}

// String values are capped in bytes: 256 for userName, externalId and
// e-mail values, 4,096 for any other; the error names the attribute.
func TestStringLengthLimits(t *testing.T) {
	h := newHarness(t)
	long := func(n int) string { return strings.Repeat("é", n/2) + strings.Repeat("x", n%2) }
	user := func(extra map[string]any) map[string]any {
		b := map[string]any{"schemas": []string{schemas.UserURN, schemas.EnterpriseUserURN}, "userName": "limits"}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	for _, c := range []struct {
		extra map[string]any
		attr  string
	}{
		{map[string]any{"userName": long(257)}, `"userName"`},
		{map[string]any{"externalId": long(257)}, `"externalId"`},
		{map[string]any{"emails": []any{map[string]any{"value": long(257) + "@x"}}}, `"emails.value"`},
		{map[string]any{"displayName": long(4097)}, `"displayName"`},
		{map[string]any{"name": map[string]any{"givenName": long(4097)}}, `"name.givenName"`},
		{map[string]any{schemas.EnterpriseUserURN: map[string]any{"department": long(4097)}}, `"` + schemas.EnterpriseUserURN + `:department"`},
	} {
		r := h.do("POST", "/Users", user(c.extra))
		h.scimError(r, http.StatusBadRequest, "invalidValue")
		if !strings.Contains(r.str("detail"), c.attr) {
			t.Errorf("detail %q does not name %s", r.str("detail"), c.attr)
		}
	}
	// At the limits it works.
	u := h.must(http.StatusCreated, h.do("POST", "/Users", user(map[string]any{
		"userName": long(256), "externalId": long(256), "displayName": long(4096),
	})))
	id := u.str("id")
	// PUT and PATCH are checked too.
	h.scimError(h.do("PUT", "/Users/"+id, user(map[string]any{"userName": long(256), "externalId": long(258)})), http.StatusBadRequest, "invalidValue")
	r := h.do("PATCH", "/Users/"+id, patchOp(map[string]any{"op": "add", "path": "emails", "value": []any{map[string]any{"value": long(300)}}}))
	h.scimError(r, http.StatusBadRequest, "invalidValue")
	if !strings.Contains(r.str("detail"), `"emails.value"`) {
		t.Errorf("PATCH detail %q", r.str("detail"))
	}
	r = h.do("PATCH", "/Groups/"+h.createGroup("g").str("id"), patchOp(map[string]any{"op": "replace", "path": "displayName", "value": long(4100)}))
	h.scimError(r, http.StatusBadRequest, "invalidValue")

	// Configured limits.
	h2 := newHarness(t, func(o *scim.Options) { o.StringLimits.MaxIdentifierBytes = 8; o.StringLimits.MaxBytes = 16 })
	h2.scimError(h2.do("POST", "/Users", user(map[string]any{"userName": "123456789"})), http.StatusBadRequest, "invalidValue")
	h2.scimError(h2.do("POST", "/Users", user(map[string]any{"userName": "u", "title": strings.Repeat("t", 17)})), http.StatusBadRequest, "invalidValue")
	h2.must(http.StatusCreated, h2.do("POST", "/Users", user(map[string]any{"userName": "12345678", "title": strings.Repeat("t", 16)})))
}

// A value over a limit that is already stored (an import keeps them) does
// not block changes to other attributes, but a new over-long value is
// refused.
func TestStoredOverLongValueKept(t *testing.T) {
	h := newHarness(t)
	longName := strings.Repeat("n", 300)
	res, err := h.st.Create(storetest.Background(), store.Resource{
		Ref:   store.Ref{Tenant: scim.DefaultTenant, Kind: store.User},
		Attrs: map[string]any{"schemas": []any{schemas.UserURN}, "userName": longName},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.must(http.StatusOK, h.do("PATCH", "/Users/"+res.ID, patchOp(map[string]any{"op": "replace", "path": "displayName", "value": "D"})))
	h.must(http.StatusOK, h.do("PUT", "/Users/"+res.ID, map[string]any{"schemas": []string{schemas.UserURN}, "userName": longName, "title": "T"}))
	h.scimError(h.do("PATCH", "/Users/"+res.ID, patchOp(map[string]any{"op": "replace", "path": "userName", "value": longName + "x"})), http.StatusBadRequest, "invalidValue")
}
