package scim_test

import (
	"fmt"
	"net/http"
	"testing"
)

func TestListPagingSortProjection(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < 12; i++ {
		h.createUser(fmt.Sprintf("user%02d", i), map[string]any{
			"name":  map[string]any{"givenName": fmt.Sprintf("G%02d", 11-i), "familyName": "F"},
			"title": map[bool]string{true: "dev", false: "ops"}[i%2 == 0],
		})
	}
	// The validator's pagination walk: startIndex echoes, pages of 5.
	for page := 0; page < 3; page++ {
		ids, r := h.listIDs(fmt.Sprintf("/Users?startIndex=%d&count=5", page*5+1))
		if r.body["startIndex"].(float64) != float64(page*5+1) || r.body["totalResults"].(float64) != 12 {
			t.Fatalf("page %d: %s", page, r.raw)
		}
		want := 5
		if page == 2 {
			want = 2
		}
		if len(ids) != want || r.body["itemsPerPage"].(float64) != float64(want) {
			t.Fatalf("page %d: %d ids", page, len(ids))
		}
	}
	r := h.must(http.StatusOK, h.do("GET", "/Users?count=0", nil))
	if r.body["totalResults"].(float64) != 12 || len(r.body["Resources"].([]any)) != 0 {
		t.Errorf("count=0: %s", r.raw)
	}
	// Sorting by a sub-attribute, descending.
	_, r = h.listIDs("/Users?sortBy=name.givenName&sortOrder=descending&count=3")
	first := r.body["Resources"].([]any)[0].(map[string]any)
	if first["userName"] != "user00" {
		t.Errorf("sort desc first %v", first["userName"])
	}
	_, r = h.listIDs("/Users?sortBy=userName&count=1")
	if r.body["Resources"].([]any)[0].(map[string]any)["userName"] != "user00" {
		t.Errorf("sort asc: %s", r.raw)
	}
	// Filters with or/not/co and a projection.
	ids, _ := h.listIDs("/Users?filter=" + q(`title eq "dev" and not (userName sw "user0")`))
	if len(ids) != 1 {
		t.Errorf("and/not: %v", ids)
	}
	ids, _ = h.listIDs("/Users?filter=" + q(`userName eq "user01" or userName eq "USER02"`))
	if len(ids) != 2 {
		t.Errorf("or: %v", ids)
	}
	_, r = h.listIDs("/Users?attributes=userName,name.givenName&filter=" + q(`userName eq "user03"`))
	u := r.body["Resources"].([]any)[0].(map[string]any)
	if u["title"] != nil || u["meta"] != nil || u["userName"] != "user03" || u["id"] == nil || u["schemas"] == nil {
		t.Errorf("attributes projection: %v", u)
	}
	if n := u["name"].(map[string]any); n["familyName"] != nil || n["givenName"] == nil {
		t.Errorf("sub-attribute projection: %v", n)
	}
	_, r = h.listIDs("/Users?excludedAttributes=title,name.familyName,id&filter=" + q(`userName eq "user03"`))
	u = r.body["Resources"].([]any)[0].(map[string]any)
	if u["title"] != nil || u["id"] == nil || u["meta"] == nil || u["name"].(map[string]any)["familyName"] != nil {
		t.Errorf("excludedAttributes projection: %v", u)
	}

	// POST /.search gives the same as GET.
	s := h.must(http.StatusOK, h.do("POST", "/Users/.search", map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"},
		"filter":     `title eq "ops"`,
		"attributes": []string{"userName"},
		"sortBy":     "userName",
		"startIndex": 2,
		"count":      2,
	}))
	res := s.body["Resources"].([]any)
	if s.body["totalResults"].(float64) != 6 || len(res) != 2 || res[0].(map[string]any)["userName"] != "user03" {
		t.Errorf(".search: %s", s.raw)
	}
	h.scimError(h.do("GET", "/Users/.search", nil), http.StatusMethodNotAllowed, "")
}

func TestETags(t *testing.T) {
	h := newHarness(t)
	u := h.createUser("etag", nil)
	id := u.str("id")
	h.must(http.StatusNotModified, h.do("GET", "/Users/"+id, nil, "If-None-Match", `W/"1"`))
	h.must(http.StatusOK, h.do("GET", "/Users/"+id, nil, "If-None-Match", `W/"7"`))
	h.scimError(h.do("PATCH", "/Users/"+id, patchOp(map[string]any{"op": "replace", "path": "title", "value": "x"}), "If-Match", `W/"9"`), http.StatusPreconditionFailed, "")
	h.must(http.StatusOK, h.do("PATCH", "/Users/"+id, patchOp(map[string]any{"op": "replace", "path": "title", "value": "x"}), "If-Match", `W/"1"`))
	h.scimError(h.do("PUT", "/Users/"+id, map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "etag"}, "If-Match", `W/"1"`), http.StatusPreconditionFailed, "")
	h.scimError(h.do("DELETE", "/Users/"+id, nil, "If-Match", `W/"1"`), http.StatusPreconditionFailed, "")
	h.must(http.StatusNoContent, h.do("DELETE", "/Users/"+id, nil, "If-Match", `W/"2"`))
	// A PATCH that changes nothing keeps the version.
	u2 := h.createUser("same", map[string]any{"title": "t"}).str("id")
	r := h.must(http.StatusOK, h.do("PATCH", "/Users/"+u2, patchOp(map[string]any{"op": "replace", "path": "title", "value": "t"})))
	if r.header.Get("ETag") != `W/"1"` {
		t.Errorf("no-op patch bumped version: %s", r.header.Get("ETag"))
	}
}

func TestDiscovery(t *testing.T) {
	h := newHarness(t)
	spc := h.must(http.StatusOK, h.do("GET", "/ServiceProviderConfig", nil))
	for _, k := range []string{"patch", "filter", "sort", "etag"} {
		if spc.body[k].(map[string]any)["supported"] != true {
			t.Errorf("%s not supported: %s", k, spc.raw)
		}
	}
	rts := h.must(http.StatusOK, h.do("GET", "/ResourceTypes", nil))
	if rts.body["totalResults"].(float64) != 2 {
		t.Errorf("ResourceTypes %s", rts.raw)
	}
	h.must(http.StatusOK, h.do("GET", "/ResourceTypes/User", nil))
	sc := h.must(http.StatusOK, h.do("GET", "/Schemas", nil))
	if sc.body["totalResults"].(float64) != 3 {
		t.Errorf("Schemas %s", sc.raw)
	}
	one := h.must(http.StatusOK, h.do("GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", nil))
	if one.str("id") != "urn:ietf:params:scim:schemas:core:2.0:User" || one.body["attributes"] == nil {
		t.Errorf("Schema by id %s", one.raw)
	}
	h.scimError(h.do("GET", "/Schemas/urn:nope", nil), http.StatusNotFound, "")
	for _, p := range []string{"/ServiceProviderConfig", "/Schemas", "/ResourceTypes"} {
		h.scimError(h.do("POST", p, `{}`), http.StatusMethodNotAllowed, "")
	}
}
