package scim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/scim"
)

// get sends a raw request to the harness server at path (no prefixing).
func rawGet(t *testing.T, h *harness, method, path, token string, body io.Reader, hdr ...string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	raw, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(raw, &m)
	return res, m
}

// A baseURL with a path prefix: every route is served under it (only
// there), and every URL in responses carries it.
func TestBaseURLPathPrefix(t *testing.T) {
	const public = "https://public.example/scim-bridge"
	h := newHarness(t, func(o *scim.Options) {
		o.BaseURL = public + "/"
		o.Tenants[1].OAuthClients = []auth.OAuthClient{{ID: "entra", SecretHashes: [][32]byte{auth.HashToken("s3cret")}}}
	})
	p := "/scim-bridge"
	// Routes under the prefix only.
	h.must(http.StatusOK, h.do("GET", p+"/scim/v2/Users", nil))
	h.must(http.StatusNotFound, h.do("GET", "/scim/v2/Users", nil))
	h.must(http.StatusNotFound, h.do("GET", "/other/scim/v2/Users", nil))
	if res, _ := rawGet(t, h, "GET", "/scim-bridgeX/scim/v2/Users", testToken, nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("/scim-bridgeX: %d", res.StatusCode)
	}
	for _, path := range []string{p, p + "/"} {
		if res, _ := rawGet(t, h, "GET", path, testToken, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d", path, res.StatusCode)
		}
	}
	// An unclean path is redirected, like the router does without a
	// prefix, to the cleaned path under the prefix.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for path, want := range map[string]string{
		p + "//scim/v2/Users?count=1": p + "/scim/v2/Users?count=1",
		p + "/scim/v2/./Groups":       p + "/scim/v2/Groups",
		p + "/scim/v2/x/../Users":     p + "/scim/v2/Users",
		p + "/scim/v2/Users//":        "404",
		"/scim/v2/Users//":            "404",
	} {
		res, err := noFollow.Get(h.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if want == "404" {
			if res.StatusCode != http.StatusNotFound {
				t.Errorf("%s: %d Location %q, want 404 (as without a prefix)", path, res.StatusCode, res.Header.Get("Location"))
			}
			continue
		}
		if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != want {
			t.Errorf("%s: %d Location %q, want 301 %q", path, res.StatusCode, res.Header.Get("Location"), want)
		}
	}
	// Probes at both.
	for _, path := range []string{"/healthz", p + "/healthz", "/readyz", p + "/readyz"} {
		if res, _ := rawGet(t, h, "GET", path, "", nil); res.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", path, res.StatusCode)
		}
	}

	u := h.must(http.StatusCreated, h.do("POST", p+"/scim/v2/Users", map[string]any{"schemas": []string{schemas.UserURN}, "userName": "pre"}))
	id := u.str("id")
	want := public + "/scim/v2/Users/" + id
	if loc := u.header.Get("Location"); loc != want {
		t.Errorf("Location %q, want %q", loc, want)
	}
	if m := u.body["meta"].(map[string]any); m["location"] != want {
		t.Errorf("meta.location %v", m["location"])
	}
	g := h.must(http.StatusOK, h.do("GET", p+"/scim/v2/Groups/"+h.must(http.StatusCreated, h.do("POST", p+"/scim/v2/Groups/", map[string]any{
		"schemas": []string{schemas.GroupURN}, "displayName": "G", "members": []any{map[string]any{"value": id}},
	})).str("id"), nil))
	if ref := g.body["members"].([]any)[0].(map[string]any)["$ref"]; ref != want {
		t.Errorf("member $ref %v", ref)
	}
	// Discovery.
	spc := h.must(http.StatusOK, h.do("GET", p+"/scim/v2/ServiceProviderConfig", nil))
	if loc := spc.body["meta"].(map[string]any)["location"]; loc != public+"/scim/v2/ServiceProviderConfig" {
		t.Errorf("ServiceProviderConfig location %v", loc)
	}
	rts := h.must(http.StatusOK, h.do("GET", p+"/scim/v2/ResourceTypes", nil))
	if !strings.Contains(string(rts.raw), `"`+public+`/scim/v2/ResourceTypes/User"`) {
		t.Errorf("ResourceTypes: %s", rts.raw)
	}
	sch := h.must(http.StatusOK, h.do("GET", p+"/scim/v2/Schemas", nil))
	if !strings.Contains(string(sch.raw), `"`+public+`/scim/v2/Schemas/`+schemas.UserURN+`"`) {
		t.Errorf("Schemas: %s", sch.raw)
	}
	// Bulk locations.
	b := h.must(http.StatusOK, h.do("POST", p+"/scim/v2/Bulk", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:BulkRequest"},
		"Operations": []any{
			map[string]any{"method": "POST", "bulkId": "b", "path": "/Users", "data": map[string]any{"schemas": []string{schemas.UserURN}, "userName": "bulk"}},
			map[string]any{"method": "PATCH", "path": "/Users/" + id, "data": patchOp(map[string]any{"op": "replace", "path": "title", "value": "T"})},
		},
	}))
	for _, op := range b.body["Operations"].([]any) {
		if loc, _ := op.(map[string]any)["location"].(string); !strings.HasPrefix(loc, public+"/scim/v2/Users/") {
			t.Errorf("bulk location %q: %s", loc, b.raw)
		}
	}

	// Another tenant, and its OAuth token endpoint, under the prefix too.
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"entra"}, "client_secret": {"s3cret"}}
	res, tok := rawGet(t, h, "POST", p+"/tenants/acme/scim/v2/oauth/token", "", strings.NewReader(form.Encode()),
		"Content-Type", "application/x-www-form-urlencoded")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("token endpoint: %d %v", res.StatusCode, tok)
	}
	if res, _ := rawGet(t, h, "POST", "/tenants/acme/scim/v2/oauth/token", "", strings.NewReader(form.Encode()),
		"Content-Type", "application/x-www-form-urlencoded"); res.StatusCode != http.StatusNotFound {
		t.Errorf("token endpoint outside the prefix: %d", res.StatusCode)
	}
	h.token = tok["access_token"].(string)
	a := h.must(http.StatusCreated, h.do("POST", p+"/tenants/acme/scim/v2/Users", map[string]any{"schemas": []string{schemas.UserURN}, "userName": "acme"}))
	if loc := a.header.Get("Location"); loc != public+"/tenants/acme/scim/v2/Users/"+a.str("id") {
		t.Errorf("acme Location %q", loc)
	}
	aspc := h.must(http.StatusOK, h.do("GET", p+"/tenants/acme/scim/v2/ServiceProviderConfig", nil))
	if !strings.Contains(string(aspc.raw), public+"/tenants/acme/scim/v2/oauth/token") {
		t.Errorf("token endpoint URL not advertised with the prefix: %s", aspc.raw)
	}
}

// Without baseURL the URLs follow the Host header; X-Forwarded-Host and
// -Proto count only from a trusted proxy.
func TestForwardedHeadersFromTrustedProxiesOnly(t *testing.T) {
	create := func(h *harness, name string, hdr ...string) string {
		body := strings.NewReader(`{"schemas":["` + schemas.UserURN + `"],"userName":"` + name + `"}`)
		res, m := rawGet(t, h, "POST", "/scim/v2/Users", testToken, body, append([]string{"Content-Type", "application/scim+json"}, hdr...)...)
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("POST: %d %v", res.StatusCode, m)
		}
		loc := res.Header.Get("Location")
		if ml := m["meta"].(map[string]any)["location"]; ml != loc {
			t.Errorf("meta.location %v != Location %q", ml, loc)
		}
		return strings.TrimSuffix(loc, "/scim/v2/Users/"+m["id"].(string))
	}
	fwd := []string{"X-Forwarded-Host", "scim.example.com, inner.example", "X-Forwarded-Proto", "https"}

	// Untrusted (no trustedProxies): the headers are ignored.
	h := newHarness(t)
	if got := create(h, "a", append([]string{"Host", "asked.example:8443"}, fwd...)...); got != "http://asked.example:8443" {
		t.Errorf("untrusted: %q", got)
	}
	// A trusted range that does not hold the peer (127.0.0.1).
	h = newHarness(t, func(o *scim.Options) { o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	if got := create(h, "b", fwd...); !strings.HasPrefix(got, "http://127.0.0.1:") {
		t.Errorf("peer not in range: %q", got)
	}
	// Trusted: the first value of each header.
	h = newHarness(t, func(o *scim.Options) { o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	if got := create(h, "c", fwd...); got != "https://scim.example.com" {
		t.Errorf("trusted: %q", got)
	}
	// Malformed values are ignored.
	if got := create(h, "d", "Host", "h.example", "X-Forwarded-Host", "evil.example/path?", "X-Forwarded-Proto", "gopher"); got != "http://h.example" {
		t.Errorf("malformed: %q", got)
	}
	// baseURL wins over everything.
	h = newHarness(t, func(o *scim.Options) {
		o.BaseURL = "https://fixed.example"
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	if got := create(h, "e", fwd...); got != "https://fixed.example" {
		t.Errorf("baseURL: %q", got)
	}
}

func TestBaseURLRejected(t *testing.T) {
	for _, bad := range []string{"ftp://x", "https://x/p?q=1", "https://u:p@x", "x.example"} {
		h := newHarness(t)
		_, err := scim.NewHandler(scim.Options{Store: h.st, Schemas: loadSchemas(t), BaseURL: bad})
		if err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func loadSchemas(t *testing.T) *schemas.Registry {
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	return reg
}
