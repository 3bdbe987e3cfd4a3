package scim_test

import (
	"fmt"
	"net/http"
	"sort"
	"testing"

	"github.com/scimbridge/scimbridge/schemas"
)

func memberIDs(t *testing.T, h *harness, gid string) []string {
	t.Helper()
	g := h.must(http.StatusOK, h.do("GET", "/Groups/"+gid, nil))
	var out []string
	ms, _ := g.body["members"].([]any)
	for _, m := range ms {
		out = append(out, m.(map[string]any)["value"].(string))
	}
	sort.Strings(out)
	return out
}

func TestGroupMembership(t *testing.T) {
	h := newHarness(t)
	var users []string
	for i := 0; i < 4; i++ {
		users = append(users, h.createUser(fmt.Sprintf("u%d@x.com", i), nil).str("id"))
	}
	g := h.createGroup("Engineering")
	gid := g.str("id")

	// Entra adds several members in one op, with $ref null.
	r := h.do("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "Add", "path": "members", "value": []any{
		map[string]any{"$ref": nil, "value": users[0]},
		map[string]any{"$ref": nil, "value": users[1]},
		map[string]any{"value": users[2]},
	}}))
	h.must(http.StatusNoContent, r)
	if len(r.raw) != 0 {
		t.Errorf("204 with body %s", r.raw)
	}
	if got := memberIDs(t, h, gid); len(got) != 3 {
		t.Fatalf("members %v", got)
	}
	gm := h.must(http.StatusOK, h.do("GET", "/Groups/"+gid, nil))
	m0 := gm.body["members"].([]any)[0].(map[string]any)
	if m0["type"] != "User" || m0["$ref"] == nil || m0["display"] == nil {
		t.Errorf("member element %v", m0)
	}

	// Users show their groups (readOnly, from the membership records).
	u0 := h.must(http.StatusOK, h.do("GET", "/Users/"+users[0], nil))
	if gs, _ := u0.body["groups"].([]any); len(gs) != 1 || gs[0].(map[string]any)["value"] != gid {
		t.Errorf("user groups: %s", u0.raw)
	}

	// Unknown ids are skipped; the valid members of the same request land.
	h.must(http.StatusNoContent, h.do("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "add", "path": "members", "value": []any{
		map[string]any{"value": "does-not-exist"}, map[string]any{"value": users[3]},
	}})))
	if got := memberIDs(t, h, gid); len(got) != 4 {
		t.Fatalf("after unknown: %v", got)
	}

	// RFC value-filter removal and Entra's value-list removal remove only the named members.
	h.must(http.StatusNoContent, h.do("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "remove", "path": fmt.Sprintf(`members[value eq "%s"]`, users[0])})))
	h.must(http.StatusNoContent, h.do("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "Remove", "path": "members", "value": []any{map[string]any{"value": users[1]}}})))
	got := memberIDs(t, h, gid)
	want := []string{users[2], users[3]}
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after removals %v want %v", got, want)
	}

	// excludedAttributes=members leaves members out; attributes on PATCH gives 200.
	ex := h.must(http.StatusOK, h.do("GET", "/Groups/"+gid+"?excludedAttributes=members", nil))
	if _, ok := ex.body["members"]; ok {
		t.Errorf("members not excluded: %s", ex.raw)
	}
	lr := h.must(http.StatusOK, h.do("GET", "/Groups?excludedAttributes=members&filter="+q(`displayName eq "ENGINEERING"`), nil))
	res := lr.body["Resources"].([]any)
	if len(res) != 1 || res[0].(map[string]any)["members"] != nil {
		t.Errorf("list excluded: %s", lr.raw)
	}
	pr := h.must(http.StatusOK, h.do("PATCH", "/Groups/"+gid+"?attributes=displayName", patchOp(map[string]any{"op": "replace", "path": "displayName", "value": "Eng"})))
	if pr.str("displayName") != "Eng" || pr.body["members"] != nil {
		t.Errorf("patch with attributes: %s", pr.raw)
	}

	// Entra's reference check.
	ids, _ := h.listIDs("/Groups?attributes=id&filter=" + q(fmt.Sprintf(`id eq "%s" and members eq "%s"`, gid, users[2])))
	if len(ids) != 1 {
		t.Errorf("members eq: %v", ids)
	}
	ids, _ = h.listIDs("/Groups?filter=" + q(fmt.Sprintf(`id eq "%s" and members eq "%s"`, gid, users[0])))
	if len(ids) != 0 {
		t.Errorf("members eq removed member: %v", ids)
	}

	// A duplicate displayName is allowed (RFC 7643; the store's strict
	// uniqueness is covered by storetest) and a filter finds both.
	dup := h.must(http.StatusCreated, h.do("POST", "/Groups", map[string]any{"schemas": []string{schemas.GroupURN}, "displayName": "eng"}))
	if ids, _ := h.listIDs("/Groups?filter=" + q(`displayName eq "ENG"`)); len(ids) != 2 {
		t.Errorf("displayName eq ENG: %v, want both groups", ids)
	}
	h.must(http.StatusNoContent, h.do("DELETE", "/Groups/"+dup.body["id"].(string), nil))
	// Deleting a member user drops its membership.
	h.must(http.StatusNoContent, h.do("DELETE", "/Users/"+users[2], nil))
	if got := memberIDs(t, h, gid); len(got) != 1 || got[0] != users[3] {
		t.Errorf("after user delete %v", got)
	}
	// PUT without members leaves them; with an explicit list replaces them.
	h.must(http.StatusOK, h.do("PUT", "/Groups/"+gid, map[string]any{"schemas": []string{schemas.GroupURN}, "displayName": "Eng2"}))
	if got := memberIDs(t, h, gid); len(got) != 1 {
		t.Errorf("PUT without members changed them: %v", got)
	}
	h.must(http.StatusOK, h.do("PUT", "/Groups/"+gid, map[string]any{"schemas": []string{schemas.GroupURN}, "displayName": "Eng2", "members": []any{map[string]any{"value": users[0]}}}))
	if got := memberIDs(t, h, gid); len(got) != 1 || got[0] != users[0] {
		t.Errorf("PUT with members: %v", got)
	}
	h.must(http.StatusNoContent, h.do("DELETE", "/Groups/"+gid, nil))
	h.scimError(h.do("GET", "/Groups/"+gid, nil), http.StatusNotFound, "")
}

func TestGroupCreateWithMembersAndTestConnection(t *testing.T) {
	h := newHarness(t)
	u := h.createUser("a@x.com", nil).str("id")
	g := h.createGroup("G", u, "unknown-id")
	if ms := g.body["members"].([]any); len(ms) != 1 {
		t.Errorf("create members %v", ms)
	}
	// Entra's Test Connection: a random filter value on both endpoints → 200, empty list.
	for _, p := range []string{"/Users?filter=" + q(`userName eq "8c5c1e0c-5b5d-4b8e-9a6e-0f6c7d2f1a11"`), "/Groups?excludedAttributes=members&filter=" + q(`displayName eq "8c5c1e0c"`)} {
		r := h.must(http.StatusOK, h.do("GET", p, nil))
		res, ok := r.body["Resources"].([]any)
		if !ok || len(res) != 0 || r.body["totalResults"].(float64) != 0 {
			t.Errorf("%s: %s", p, r.raw)
		}
	}
}
