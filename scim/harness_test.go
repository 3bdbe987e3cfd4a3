package scim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
	"github.com/scimbridge/scimbridge/store/storetest"
)

const (
	testToken = "test-token-default"
	acmeToken = "test-token-acme"
)

// harness runs the real handler stack (auth, routing, handlers) on a fresh
// SQLite store.
type harness struct {
	t     testing.TB
	srv   *httptest.Server
	st    store.Store
	token string
}

func newHarness(t testing.TB, mutate ...func(*scim.Options)) *harness {
	t.Helper()
	ctx := storetest.Background()
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "scim.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	opts := scim.Options{
		Store:   st,
		Schemas: reg,
		Tenants: []auth.Tenant{
			{Name: scim.DefaultTenant, TokenHashes: [][32]byte{auth.HashToken(testToken)}},
			{Name: "acme", TokenHashes: [][32]byte{auth.HashToken(acmeToken)}},
		},
	}
	for _, m := range mutate {
		m(&opts)
	}
	h, err := scim.NewHandler(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &harness{t: t, srv: srv, st: st, token: testToken}
}

// resp is a decoded response.
type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r resp) str(key string) string { s, _ := r.body[key].(string); return s }

// do sends a request to the default tenant's base (/scim/v2) unless path
// starts with "/tenants/" or "/healthz"-style roots.
func (h *harness) do(method, path string, body any, hdr ...string) resp {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	url := h.srv.URL + path
	if !strings.HasPrefix(path, "/tenants/") && !strings.HasPrefix(path, "/healthz") && !strings.HasPrefix(path, "/readyz") && !strings.HasPrefix(path, "/metrics") && !strings.HasPrefix(path, "/scim/") && !strings.HasPrefix(path, "/scim-bridge/") && !strings.HasPrefix(path, "/other/") {
		url = h.srv.URL + "/scim/v2" + path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &out.body)
	}
	return out
}

// must asserts the status code and returns the response.
func (h *harness) must(status int, r resp) resp {
	h.t.Helper()
	if r.status != status {
		h.t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

// scimError asserts a SCIM error response with status and scimType.
func (h *harness) scimError(r resp, status int, scimType string) {
	h.t.Helper()
	if r.status != status {
		h.t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/scim+json" {
		h.t.Errorf("error Content-Type %q", ct)
	}
	if got, _ := r.body["status"].(string); got != itoa(status) {
		h.t.Errorf("error status field %v, want string %q", r.body["status"], itoa(status))
	}
	if r.str("scimType") != scimType {
		h.t.Errorf("scimType %q, want %q (%s)", r.str("scimType"), scimType, r.raw)
	}
	schemas, _ := r.body["schemas"].([]any)
	if len(schemas) != 1 || schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
		h.t.Errorf("error schemas %v", r.body["schemas"])
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func (h *harness) createUser(userName string, extra map[string]any) resp {
	h.t.Helper()
	body := map[string]any{
		"schemas":  []string{schemas.UserURN, schemas.EnterpriseUserURN},
		"userName": userName,
		"active":   true,
	}
	for k, v := range extra {
		body[k] = v
	}
	return h.must(http.StatusCreated, h.do("POST", "/Users", body))
}

func (h *harness) createGroup(name string, members ...string) resp {
	h.t.Helper()
	ms := []any{}
	for _, m := range members {
		ms = append(ms, map[string]any{"value": m})
	}
	return h.must(http.StatusCreated, h.do("POST", "/Groups", map[string]any{
		"schemas":     []string{schemas.GroupURN},
		"displayName": name,
		"members":     ms,
	}))
}

// list runs a GET list and returns the ids in order.
func (h *harness) listIDs(path string) ([]string, resp) {
	h.t.Helper()
	r := h.must(http.StatusOK, h.do("GET", path, nil))
	var ids []string
	res, _ := r.body["Resources"].([]any)
	for _, x := range res {
		ids = append(ids, x.(map[string]any)["id"].(string))
	}
	return ids, r
}

func patchOp(ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, o := range ops {
		list[i] = o
	}
	return map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": list,
	}
}

func q(filter string) string {
	return strings.NewReplacer(" ", "%20", `"`, "%22", "[", "%5B", "]", "%5D").Replace(filter)
}

type scimOptions = scim.Options
