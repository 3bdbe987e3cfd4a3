package scim_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/schemas"
)

func TestUserLifecycle(t *testing.T) {
	h := newHarness(t)
	created := h.createUser("Alice@Contoso.com", map[string]any{
		"externalId": "alice",
		"name":       map[string]any{"givenName": "Alice", "familyName": "Smith"},
		"emails":     []any{map[string]any{"value": "alice@contoso.com", "type": "work", "primary": true}},
		schemas.EnterpriseUserURN: map[string]any{
			"employeeNumber": "701984", "department": "Eng",
		},
	})
	id := created.str("id")
	if id == "" {
		t.Fatal("no id")
	}
	loc := created.header.Get("Location")
	if !strings.HasSuffix(loc, "/scim/v2/Users/"+id) {
		t.Errorf("Location %q", loc)
	}
	if created.header.Get("ETag") != `W/"1"` {
		t.Errorf("ETag %q", created.header.Get("ETag"))
	}
	if ct := created.header.Get("Content-Type"); ct != "application/scim+json" {
		t.Errorf("Content-Type %q", ct)
	}
	meta := created.body["meta"].(map[string]any)
	if meta["location"] != loc || meta["version"] != `W/"1"` || meta["resourceType"] != "User" {
		t.Errorf("meta %v", meta)
	}
	if created.body["active"] != true {
		t.Errorf("active %v", created.body["active"])
	}

	got := h.must(http.StatusOK, h.do("GET", "/Users/"+id, nil))
	if got.str("userName") != "Alice@Contoso.com" || got.str("externalId") != "alice" {
		t.Errorf("GET %s", got.raw)
	}
	ent := got.body[schemas.EnterpriseUserURN].(map[string]any)
	if ent["employeeNumber"] != "701984" {
		t.Errorf("enterprise %v", ent)
	}
	sch := got.body["schemas"].([]any)
	if len(sch) != 2 {
		t.Errorf("schemas %v", sch)
	}

	// Case-insensitive userName filter.
	ids, lr := h.listIDs("/Users?filter=" + q(`userName eq "alice@contoso.COM"`))
	if len(ids) != 1 || ids[0] != id || lr.body["totalResults"].(float64) != 1 {
		t.Fatalf("filter: %s", lr.raw)
	}

	// Entra-style PATCH: value path + string boolean.
	p := h.must(http.StatusOK, h.do("PATCH", "/Users/"+id, patchOp(
		map[string]any{"op": "Replace", "path": `emails[type eq "work"].value`, "value": "alice.new@contoso.com"},
		map[string]any{"op": "Replace", "path": "active", "value": "False"},
	)))
	if p.body["active"] != false {
		t.Errorf("active after patch: %v", p.body["active"])
	}
	emails := p.body["emails"].([]any)
	if len(emails) != 1 || emails[0].(map[string]any)["value"] != "alice.new@contoso.com" {
		t.Errorf("emails %v", emails)
	}
	if p.header.Get("ETag") != `W/"2"` {
		t.Errorf("ETag after patch %q", p.header.Get("ETag"))
	}
	// Disabled users stay readable and filterable.
	ids, _ = h.listIDs("/Users?filter=" + q(`active eq false`))
	if len(ids) != 1 {
		t.Errorf("active eq false: %v", ids)
	}
	ids, _ = h.listIDs("/Users?filter=" + q(`emails.value eq "ALICE.NEW@contoso.com"`))
	if len(ids) != 1 {
		t.Errorf("emails.value: %v", ids)
	}

	// PUT replaces.
	put := h.must(http.StatusOK, h.do("PUT", "/Users/"+id, map[string]any{
		"schemas": []string{schemas.UserURN}, "userName": "alice@contoso.com", "displayName": "Alice S",
	}))
	if put.body["emails"] != nil || put.str("displayName") != "Alice S" || put.body[schemas.EnterpriseUserURN] != nil {
		t.Errorf("PUT did not replace: %s", put.raw)
	}

	h.must(http.StatusNoContent, h.do("DELETE", "/Users/"+id, nil))
	h.scimError(h.do("GET", "/Users/"+id, nil), http.StatusNotFound, "")
	h.scimError(h.do("DELETE", "/Users/"+id, nil), http.StatusNotFound, "")
}

func TestBadInputLeavesStoreUnchanged(t *testing.T) {
	h := newHarness(t)
	u := h.createUser("bob", nil)
	id := u.str("id")
	cases := []struct {
		name     string
		method   string
		path     string
		body     any
		status   int
		scimType string
	}{
		{"malformed json", "POST", "/Users", `{"schemas":`, 400, "invalidSyntax"},
		{"not an object", "POST", "/Users", `[1,2]`, 400, "invalidSyntax"},
		{"missing schemas", "POST", "/Users", `{"userName":"x"}`, 400, "invalidSyntax"},
		{"missing userName", "POST", "/Users", map[string]any{"schemas": []string{schemas.UserURN}}, 400, "invalidValue"},
		{"wrong type", "POST", "/Users", map[string]any{"schemas": []string{schemas.UserURN}, "userName": "x", "active": "maybe"}, 400, "invalidValue"},
		{"wrong type userName", "POST", "/Users", map[string]any{"schemas": []string{schemas.UserURN}, "userName": 12}, 400, "invalidValue"},
		{"unknown attribute", "POST", "/Users", map[string]any{"schemas": []string{schemas.UserURN}, "userName": "x", "shoeSize": 9}, 400, "invalidSyntax"},
		{"unknown sub-attribute", "POST", "/Users", map[string]any{"schemas": []string{schemas.UserURN}, "userName": "x", "name": map[string]any{"nick": "x"}}, 400, "invalidSyntax"},
		{"duplicate userName", "POST", "/Users", map[string]any{"schemas": []string{schemas.UserURN}, "userName": "BOB"}, 409, "uniqueness"},
		{"invalid filter", "GET", "/Users?filter=" + q(`userName eq`), nil, 400, "invalidFilter"},
		{"unknown filter attribute", "GET", "/Users?filter=" + q(`shoeSize eq 1`), nil, 400, "invalidFilter"},
		{"bad count", "GET", "/Users?count=abc", nil, 400, "invalidValue"},
		{"bad sortOrder", "GET", "/Users?sortOrder=sideways", nil, 400, "invalidValue"},
		{"bad attributes", "GET", "/Users/" + id + "?attributes=nope", nil, 400, "invalidValue"},
		{"patch bad path", "PATCH", "/Users/" + id, patchOp(map[string]any{"op": "replace", "path": "nope[", "value": "x"}), 400, "invalidPath"},
		{"patch unknown op", "PATCH", "/Users/" + id, patchOp(map[string]any{"op": "frobnicate", "path": "title", "value": "x"}), 400, ""},
		{"patch readOnly id", "PATCH", "/Users/" + id, patchOp(map[string]any{"op": "replace", "path": "id", "value": "x"}), 400, "mutability"},
		{"patch remove required", "PATCH", "/Users/" + id, patchOp(map[string]any{"op": "remove", "path": "userName"}), 400, "mutability"},
		{"patch remove without path", "PATCH", "/Users/" + id, patchOp(map[string]any{"op": "remove"}), 400, "noTarget"},
		{"patch wrong type", "PATCH", "/Users/" + id, patchOp(map[string]any{"op": "replace", "path": "active", "value": "perhaps"}), 400, "invalidValue"},
		{"patch not PatchOp", "PATCH", "/Users/" + id, map[string]any{"Operations": []any{}}, 400, ""},
		{"patch unknown id", "PATCH", "/Users/nope", patchOp(map[string]any{"op": "replace", "path": "title", "value": "x"}), 404, ""},
		{"put unknown id", "PUT", "/Users/nope", map[string]any{"schemas": []string{schemas.UserURN}, "userName": "zz"}, 404, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.do(c.method, c.path, c.body)
			if c.scimType == "" && c.status == 400 {
				if r.status != 400 || r.str("scimType") == "" {
					t.Fatalf("status %d scimType %q: %s", r.status, r.str("scimType"), r.raw)
				}
				return
			}
			h.scimError(r, c.status, c.scimType)
			if r.str("detail") == "" {
				t.Errorf("no detail: %s", r.raw)
			}
		})
	}
	after := h.must(http.StatusOK, h.do("GET", "/Users/"+id, nil))
	if after.header.Get("ETag") != `W/"1"` || after.str("userName") != "bob" {
		t.Fatalf("store changed: %s %s", after.header.Get("ETag"), after.raw)
	}
	ids, _ := h.listIDs("/Users")
	if len(ids) != 1 {
		t.Fatalf("users: %v", ids)
	}
}

func TestOversizedBody(t *testing.T) {
	h := newHarness(t, func(o *scimOptions) { o.MaxBodyBytes = 1024 })
	big := `{"schemas":["` + schemas.UserURN + `"],"userName":"` + strings.Repeat("x", 2048) + `"}`
	h.scimError(h.do("POST", "/Users", big), http.StatusRequestEntityTooLarge, "")
	// The server keeps serving.
	h.createUser("small", nil)
}

func TestAuthAndTenants(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/Users", nil, "Authorization", "")
	h.scimError(r, http.StatusUnauthorized, "")
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
	}
	h.scimError(h.do("GET", "/Users", nil, "Authorization", "Bearer wrong"), http.StatusUnauthorized, "")
	h.scimError(h.do("GET", "/Users", nil, "Authorization", "Bearer "), http.StatusUnauthorized, "")
	h.scimError(h.do("GET", "/Users", nil, "Authorization", "Basic "+testToken), http.StatusUnauthorized, "")

	// A token of one tenant never opens another.
	h.scimError(h.do("GET", "/Users", nil, "Authorization", "Bearer "+acmeToken), http.StatusUnauthorized, "")
	h.scimError(h.do("GET", "/tenants/acme/scim/v2/Users", nil), http.StatusUnauthorized, "")
	h.scimError(h.do("GET", "/tenants/nope/scim/v2/Users", nil), http.StatusNotFound, "")

	h.createUser("shared@x.com", nil)
	acme := h.must(http.StatusCreated, h.do("POST", "/tenants/acme/scim/v2/Users",
		map[string]any{"schemas": []string{schemas.UserURN}, "userName": "shared@x.com"},
		"Authorization", "Bearer "+acmeToken))
	acmeID := acme.str("id")
	if !strings.Contains(acme.header.Get("Location"), "/tenants/acme/scim/v2/Users/") {
		t.Errorf("acme Location %q", acme.header.Get("Location"))
	}
	h.scimError(h.do("GET", "/Users/"+acmeID, nil), http.StatusNotFound, "")
	ids, _ := h.listIDs("/Users")
	if len(ids) != 1 || ids[0] == acmeID {
		t.Errorf("default tenant sees %v", ids)
	}

	// Health endpoints need no token.
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := h.do("GET", p, nil, "Authorization", ""); r.status != 200 {
			t.Errorf("%s: %d", p, r.status)
		}
	}
}

func TestMetrics(t *testing.T) {
	h := newHarness(t)
	h.createUser("metrics@x.com", nil)
	h.do("GET", "/Users/nope", nil)
	r := h.do("GET", "/metrics", nil, "Authorization", "")
	if r.status != http.StatusOK {
		t.Fatalf("metrics: %d", r.status)
	}
	for _, want := range []string{
		`scimbridge_http_requests_total{code="201",method="POST",route="/scim/v2/Users",tenant="default"} 1`,
		`scimbridge_http_requests_total{code="404",method="GET",route="/scim/v2/Users/{id}",tenant="default"} 1`,
		`scimbridge_http_request_duration_seconds_bucket{method="POST",route="/scim/v2/Users",le="+Inf"} 1`,
	} {
		if !strings.Contains(string(r.raw), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
