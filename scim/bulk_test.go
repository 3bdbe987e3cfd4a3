package scim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/scim"
)

const (
	bulkRequestURN  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	bulkResponseURN = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
)

// op builds a bulk operation; data may be nil.
func op(method, path, bulkID string, data any) map[string]any {
	o := map[string]any{"method": method, "path": path}
	if bulkID != "" {
		o["bulkId"] = bulkID
	}
	if data != nil {
		o["data"] = data
	}
	return o
}

func withVersion(o map[string]any, v string) map[string]any {
	o["version"] = v
	return o
}

func bulkBody(failOnErrors int, ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, o := range ops {
		list[i] = o
	}
	b := map[string]any{"schemas": []string{bulkRequestURN}, "Operations": list}
	if failOnErrors > 0 {
		b["failOnErrors"] = failOnErrors
	}
	return b
}

func userData(userName string, extra map[string]any) map[string]any {
	d := map[string]any{
		"schemas":  []string{schemas.UserURN, schemas.EnterpriseUserURN},
		"userName": userName,
		"active":   true,
	}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

func managerOf(ref string) map[string]any {
	return map[string]any{schemas.EnterpriseUserURN: map[string]any{"manager": map[string]any{"value": ref}}}
}

func groupData(name string, members ...string) map[string]any {
	ms := []any{}
	for _, m := range members {
		ms = append(ms, map[string]any{"value": m, "type": "User"})
	}
	return map[string]any{"schemas": []string{schemas.GroupURN}, "displayName": name, "members": ms}
}

// bulk posts a BulkRequest, asserts a 200 BulkResponse and returns its
// operations.
func (h *harness) bulk(body any) []map[string]any {
	h.t.Helper()
	return h.bulkAt("/Bulk", body)
}

func (h *harness) bulkAt(path string, body any) []map[string]any {
	h.t.Helper()
	r := h.must(http.StatusOK, h.do("POST", path, body))
	if ct := r.header.Get("Content-Type"); ct != "application/scim+json" {
		h.t.Errorf("Content-Type %q", ct)
	}
	if sch, _ := r.body["schemas"].([]any); len(sch) != 1 || sch[0] != bulkResponseURN {
		h.t.Fatalf("BulkResponse schemas: %s", r.raw)
	}
	raw, ok := r.body["Operations"].([]any)
	if !ok {
		h.t.Fatalf("no Operations array: %s", r.raw)
	}
	out := make([]map[string]any, len(raw))
	for i, x := range raw {
		out[i] = x.(map[string]any)
	}
	return out
}

// opStatus asserts one result's status (a JSON string, RFC 7644 §3.7.3) and
// for failures the SCIM error body with scimType.
func opStatus(t *testing.T, res map[string]any, status int, scimType string) {
	t.Helper()
	got, isStr := res["status"].(string)
	if !isStr || got != itoa(status) {
		t.Fatalf("op status %#v, want string %q: %v", res["status"], itoa(status), res)
	}
	if status < 300 {
		if res["response"] != nil {
			t.Errorf("successful op carries response %v", res["response"])
		}
		return
	}
	body, ok := res["response"].(map[string]any)
	if !ok {
		t.Fatalf("failed op without error response: %v", res)
	}
	if sch, _ := body["schemas"].([]any); len(sch) != 1 || sch[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
		t.Errorf("error schemas %v", body["schemas"])
	}
	if body["status"] != itoa(status) {
		t.Errorf("error body status %#v, want %q", body["status"], itoa(status))
	}
	if st, _ := body["scimType"].(string); st != scimType {
		t.Errorf("scimType %q, want %q (%v)", st, scimType, body)
	}
}

func detailOf(res map[string]any) string {
	body, _ := res["response"].(map[string]any)
	d, _ := body["detail"].(string)
	return d
}

// idFromLocation returns the id at the end of a result's location.
func idFromLocation(t *testing.T, res map[string]any) string {
	t.Helper()
	loc, _ := res["location"].(string)
	i := strings.LastIndex(loc, "/")
	if i < 0 || i == len(loc)-1 {
		t.Fatalf("no location in %v", res)
	}
	return loc[i+1:]
}

func (h *harness) userNames() []string {
	h.t.Helper()
	r := h.must(http.StatusOK, h.do("GET", "/Users", nil))
	var out []string
	list, _ := r.body["Resources"].([]any)
	for _, x := range list {
		out = append(out, x.(map[string]any)["userName"].(string))
	}
	sort.Strings(out)
	return out
}

func (h *harness) groupNames() []string {
	h.t.Helper()
	r := h.must(http.StatusOK, h.do("GET", "/Groups", nil))
	var out []string
	list, _ := r.body["Resources"].([]any)
	for _, x := range list {
		out = append(out, x.(map[string]any)["displayName"].(string))
	}
	sort.Strings(out)
	return out
}

func sameStrings(got []string, want ...string) bool {
	return fmt.Sprint(got) == fmt.Sprint(want)
}

func TestBulkCrossReferencesInAnyOrder(t *testing.T) {
	h := newHarness(t)
	// The group (and a PATCH of another group) come before the users and
	// the group they reference; the second user's manager is the first.
	ops := h.bulk(bulkBody(0,
		op("POST", "/Groups", "g1", groupData("Tour Guides", "bulkId:u1", "bulkId:u2")),
		op("PATCH", "/Groups/bulkId:g2", "", patchOp(map[string]any{
			"op": "add", "path": "members", "value": []any{map[string]any{"value": "bulkId:u2"}},
		})),
		op("POST", "/Users", "u2", userData("bob@example.com", managerOf("bulkId:u1"))),
		op("POST", "/Users", "u1", userData("alice@example.com", nil)),
		op("POST", "/Groups", "g2", groupData("Drivers")),
	))
	if len(ops) != 5 {
		t.Fatalf("%d results, want 5", len(ops))
	}
	wantMethods := []string{"POST", "PATCH", "POST", "POST", "POST"}
	wantBulkIDs := []string{"g1", "", "u2", "u1", "g2"}
	wantStatus := []int{201, 204, 201, 201, 201}
	for i, res := range ops {
		if got, _ := res["bulkId"].(string); res["method"] != wantMethods[i] || got != wantBulkIDs[i] {
			t.Errorf("result %d out of request order: %v", i, res)
		}
		opStatus(t, res, wantStatus[i], "")
		if v, _ := res["version"].(string); !strings.HasPrefix(v, `W/"`) {
			t.Errorf("result %d version %q", i, v)
		}
	}
	g1, g2 := idFromLocation(t, ops[0]), idFromLocation(t, ops[4])
	u2, u1 := idFromLocation(t, ops[2]), idFromLocation(t, ops[3])
	if ops[1]["location"] != ops[4]["location"] {
		t.Errorf("PATCH location %v, want the created group's %v", ops[1]["location"], ops[4]["location"])
	}

	// Locations and versions are those of the stored resources.
	for i, path := range map[int]string{0: "/Groups/" + g1, 2: "/Users/" + u2, 3: "/Users/" + u1} {
		got := h.must(http.StatusOK, h.do("GET", path, nil))
		if got.body["meta"].(map[string]any)["location"] != ops[i]["location"] {
			t.Errorf("%s: meta.location %v, bulk location %v", path, got.body["meta"], ops[i]["location"])
		}
		if got.header.Get("ETag") != ops[i]["version"] {
			t.Errorf("%s: ETag %q, bulk version %v", path, got.header.Get("ETag"), ops[i]["version"])
		}
	}
	// The PATCH bumped g2's version past the POST's.
	if got := h.must(http.StatusOK, h.do("GET", "/Groups/"+g2, nil)); got.header.Get("ETag") != ops[1]["version"] {
		t.Errorf("g2 ETag %q, PATCH version %v", got.header.Get("ETag"), ops[1]["version"])
	}

	want := []string{u1, u2}
	sort.Strings(want)
	if got := memberIDs(t, h, g1); !sameStrings(got, want...) {
		t.Errorf("g1 members %v, want %v", got, want)
	}
	if got := memberIDs(t, h, g2); !sameStrings(got, u2) {
		t.Errorf("g2 members %v, want [%s]", got, u2)
	}
	bob := h.must(http.StatusOK, h.do("GET", "/Users/"+u2, nil))
	mgr, _ := bob.body[schemas.EnterpriseUserURN].(map[string]any)["manager"].(map[string]any)
	if mgr["value"] != u1 {
		t.Errorf("bob's manager %v, want %s", mgr, u1)
	}
	if got := h.userNames(); !sameStrings(got, "alice@example.com", "bob@example.com") {
		t.Errorf("users %v", got)
	}
	if got := h.groupNames(); !sameStrings(got, "Drivers", "Tour Guides") {
		t.Errorf("groups %v", got)
	}
}

func TestBulkPutPatchDelete(t *testing.T) {
	h := newHarness(t)
	a := h.createUser("a@example.com", map[string]any{"displayName": "A"}).str("id")
	b := h.createUser("b@example.com", map[string]any{"displayName": "B"}).str("id")
	c := h.createUser("c@example.com", nil).str("id")
	g := h.createGroup("Team", a, c).str("id")

	ops := h.bulk(bulkBody(0,
		withVersion(op("PUT", "/Users/"+a, "", userData("a@example.com", map[string]any{"displayName": "A2"})), `W/"1"`),
		op("PATCH", "/Users/"+b, "", patchOp(map[string]any{"op": "replace", "path": "displayName", "value": "B2"})),
		op("DELETE", "/Users/"+c, "", nil),
		op("PATCH", "/Groups/"+g, "", patchOp(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": b}}})),
		op("DELETE", "/Users/does-not-exist", "", nil),
	))
	if len(ops) != 5 {
		t.Fatalf("%d results", len(ops))
	}
	opStatus(t, ops[0], 200, "")
	opStatus(t, ops[1], 200, "")
	opStatus(t, ops[2], 204, "")
	opStatus(t, ops[3], 204, "")
	opStatus(t, ops[4], 404, "")
	for i, id := range []string{"Users/" + a, "Users/" + b, "Users/" + c, "Groups/" + g} {
		if loc, _ := ops[i]["location"].(string); !strings.HasSuffix(loc, "/scim/v2/"+id) {
			t.Errorf("result %d location %q", i, loc)
		}
	}
	if ops[0]["version"] != `W/"2"` || ops[1]["version"] != `W/"2"` {
		t.Errorf("versions %v %v", ops[0]["version"], ops[1]["version"])
	}

	if got := h.must(http.StatusOK, h.do("GET", "/Users/"+a, nil)); got.str("displayName") != "A2" {
		t.Errorf("PUT not applied: %s", got.raw)
	}
	if got := h.must(http.StatusOK, h.do("GET", "/Users/"+b, nil)); got.str("displayName") != "B2" {
		t.Errorf("PATCH not applied: %s", got.raw)
	}
	h.must(http.StatusNotFound, h.do("GET", "/Users/"+c, nil))
	want := []string{a, b}
	sort.Strings(want)
	if got := memberIDs(t, h, g); !sameStrings(got, want...) {
		t.Errorf("group members %v, want %v", got, want)
	}
}

func TestBulkVersionMismatch(t *testing.T) {
	h := newHarness(t)
	a := h.createUser("a@example.com", map[string]any{"displayName": "A"}).str("id")
	b := h.createUser("b@example.com", map[string]any{"displayName": "B"}).str("id")

	ops := h.bulk(bulkBody(0,
		withVersion(op("PUT", "/Users/"+a, "", userData("a@example.com", map[string]any{"displayName": "A2"})), `W/"7"`),
		withVersion(op("PATCH", "/Users/"+a, "", patchOp(map[string]any{"op": "replace", "path": "displayName", "value": "A3"})), `W/"7"`),
		withVersion(op("DELETE", "/Users/"+b, "", nil), `W/"7"`),
		withVersion(op("PATCH", "/Users/"+b, "", patchOp(map[string]any{"op": "replace", "path": "displayName", "value": "B2"})), `W/"1"`),
	))
	if len(ops) != 4 {
		t.Fatalf("%d results", len(ops))
	}
	for i := 0; i < 3; i++ {
		opStatus(t, ops[i], http.StatusPreconditionFailed, "")
	}
	opStatus(t, ops[3], 200, "")

	got := h.must(http.StatusOK, h.do("GET", "/Users/"+a, nil))
	if got.str("displayName") != "A" || got.header.Get("ETag") != `W/"1"` {
		t.Errorf("a changed despite 412: %s", got.raw)
	}
	got = h.must(http.StatusOK, h.do("GET", "/Users/"+b, nil))
	if got.str("displayName") != "B2" {
		t.Errorf("b: %s", got.raw)
	}
}

func TestBulkFailOnErrors(t *testing.T) {
	bad := map[string]any{"schemas": []string{schemas.UserURN}, "displayName": "no userName"}
	ops := func(prefix string) []map[string]any {
		return []map[string]any{
			op("POST", "/Users", "a", userData(prefix+"a@example.com", nil)),
			op("POST", "/Users", "bad1", bad),
			op("POST", "/Users", "b", userData(prefix+"b@example.com", nil)),
			op("POST", "/Users", "bad2", bad),
			op("POST", "/Users", "c", userData(prefix+"c@example.com", nil)),
		}
	}

	t.Run("stops after the first error", func(t *testing.T) {
		h := newHarness(t)
		res := h.bulk(bulkBody(1, ops("")...))
		if len(res) != 2 {
			t.Fatalf("%d results, want 2 (processing stops at the first error): %v", len(res), res)
		}
		opStatus(t, res[0], 201, "")
		opStatus(t, res[1], 400, "invalidValue")
		if res[1]["bulkId"] != "bad1" || res[1]["location"] != nil {
			t.Errorf("failed POST result %v", res[1])
		}
		if got := h.userNames(); !sameStrings(got, "a@example.com") {
			t.Errorf("users %v, want only a", got)
		}
	})
	t.Run("stops after the second error", func(t *testing.T) {
		h := newHarness(t)
		res := h.bulk(bulkBody(2, ops("")...))
		if len(res) != 4 {
			t.Fatalf("%d results, want 4", len(res))
		}
		if got := h.userNames(); !sameStrings(got, "a@example.com", "b@example.com") {
			t.Errorf("users %v", got)
		}
	})
	t.Run("absent processes everything", func(t *testing.T) {
		h := newHarness(t)
		res := h.bulk(bulkBody(0, ops("")...))
		if len(res) != 5 {
			t.Fatalf("%d results, want 5", len(res))
		}
		if got := h.userNames(); !sameStrings(got, "a@example.com", "b@example.com", "c@example.com") {
			t.Errorf("users %v", got)
		}
	})
}

func TestBulkUnresolvableReferences(t *testing.T) {
	h := newHarness(t)
	existing := h.createUser("existing@example.com", nil).str("id")
	ops := h.bulk(bulkBody(0,
		// References a bulkId nobody defines.
		op("POST", "/Groups", "g1", groupData("Dangling", existing, "bulkId:nope")),
		op("PATCH", "/Users/bulkId:nope", "", patchOp(map[string]any{"op": "replace", "path": "displayName", "value": "X"})),
		// References a POST that fails.
		op("POST", "/Users", "broken", map[string]any{"schemas": []string{schemas.UserURN}}),
		op("POST", "/Groups", "g2", groupData("Depends on failure", existing, "bulkId:broken")),
		op("POST", "/Users", "ok", userData("ok@example.com", managerOf(existing))),
	))
	if len(ops) != 5 {
		t.Fatalf("%d results", len(ops))
	}
	opStatus(t, ops[0], 400, "invalidValue")
	if d := detailOf(ops[0]); !strings.Contains(d, `"nope"`) || !strings.Contains(d, "not defined") {
		t.Errorf("dangling detail %q", d)
	}
	opStatus(t, ops[1], 400, "invalidValue")
	if ops[1]["location"] != nil {
		t.Errorf("unresolved PATCH has a location: %v", ops[1])
	}
	opStatus(t, ops[2], 400, "invalidValue")
	opStatus(t, ops[3], 400, "invalidValue")
	if d := detailOf(ops[3]); !strings.Contains(d, `"broken"`) || !strings.Contains(d, "failed") {
		t.Errorf("failed-dependency detail %q", d)
	}
	opStatus(t, ops[4], 201, "")

	// Nothing of the failed operations was applied (the handlers would have
	// skipped the unknown member and created the groups).
	if got := h.groupNames(); len(got) != 0 {
		t.Errorf("groups %v, want none", got)
	}
	if got := h.userNames(); !sameStrings(got, "existing@example.com", "ok@example.com") {
		t.Errorf("users %v", got)
	}
	if got := h.must(http.StatusOK, h.do("GET", "/Users/"+existing, nil)); got.body["displayName"] != nil {
		t.Errorf("existing user changed: %s", got.raw)
	}
}

func TestBulkCircularReferences(t *testing.T) {
	h := newHarness(t)
	ops := h.bulk(bulkBody(0,
		op("POST", "/Users", "u1", userData("u1@example.com", managerOf("bulkId:u2"))),
		op("POST", "/Groups", "g", groupData("Depends on cycle", "bulkId:u1", "bulkId:u3")),
		op("POST", "/Users", "u2", userData("u2@example.com", managerOf("bulkId:u1"))),
		op("POST", "/Users", "u3", userData("u3@example.com", nil)),
		op("POST", "/Users", "self", userData("self@example.com", managerOf("bulkId:self"))),
	))
	if len(ops) != 5 {
		t.Fatalf("%d results", len(ops))
	}
	opStatus(t, ops[0], http.StatusConflict, "")
	opStatus(t, ops[2], http.StatusConflict, "")
	opStatus(t, ops[4], http.StatusConflict, "")
	for _, i := range []int{0, 2, 4} {
		if d := detailOf(ops[i]); !strings.Contains(d, "Circular bulkId reference") {
			t.Errorf("result %d detail %q", i, d)
		}
		if ops[i]["location"] != nil {
			t.Errorf("result %d has a location", i)
		}
	}
	if d := detailOf(ops[0]); !strings.Contains(d, "u1 -> u2 -> u1") {
		t.Errorf("cycle detail %q", d)
	}
	opStatus(t, ops[1], 400, "invalidValue")
	opStatus(t, ops[3], 201, "")

	if got := h.userNames(); !sameStrings(got, "u3@example.com") {
		t.Errorf("users %v, want only u3", got)
	}
	if got := h.groupNames(); len(got) != 0 {
		t.Errorf("groups %v, want none", got)
	}
}

func TestBulkDuplicateUserName(t *testing.T) {
	h := newHarness(t)
	ops := h.bulk(bulkBody(0,
		op("POST", "/Users", "a1", userData("alice@example.com", map[string]any{"displayName": "first"})),
		op("POST", "/Users", "a2", userData("alice@example.com", map[string]any{"displayName": "second"})),
		op("POST", "/Users", "b", userData("bob@example.com", nil)),
		op("POST", "/Groups", "g", groupData("G", "bulkId:a1", "bulkId:b")),
	))
	if len(ops) != 4 {
		t.Fatalf("%d results", len(ops))
	}
	opStatus(t, ops[0], 201, "")
	opStatus(t, ops[1], http.StatusConflict, "uniqueness")
	opStatus(t, ops[2], 201, "")
	opStatus(t, ops[3], 201, "")
	if got := h.userNames(); !sameStrings(got, "alice@example.com", "bob@example.com") {
		t.Errorf("users %v", got)
	}
	alice := idFromLocation(t, ops[0])
	if got := h.must(http.StatusOK, h.do("GET", "/Users/"+alice, nil)); got.str("displayName") != "first" {
		t.Errorf("alice overwritten: %s", got.raw)
	}
	want := []string{alice, idFromLocation(t, ops[2])}
	sort.Strings(want)
	if got := memberIDs(t, h, idFromLocation(t, ops[3])); !sameStrings(got, want...) {
		t.Errorf("members %v, want %v", got, want)
	}
}

func TestBulkPerOperationStructureErrors(t *testing.T) {
	h := newHarness(t)
	ops := h.bulk(bulkBody(0,
		op("GET", "/Users", "", nil),
		op("POST", "/Widgets", "w", userData("w@example.com", nil)),
		op("POST", "/Users", "", userData("nobulkid@example.com", nil)),
		op("PUT", "/Users", "", userData("x@example.com", nil)),
		op("POST", "/Users/123", "p", userData("p@example.com", nil)),
		op("PATCH", "/Users/123", "", nil),
		op("POST", "/Users", "dup", userData("dup1@example.com", nil)),
		op("POST", "/Users", "dup", userData("dup2@example.com", nil)),
		op("post", "users", "lower", userData("lower@example.com", nil)),
	))
	if len(ops) != 9 {
		t.Fatalf("%d results", len(ops))
	}
	opStatus(t, ops[0], 400, "invalidValue")
	opStatus(t, ops[1], 400, "invalidPath")
	opStatus(t, ops[2], 400, "invalidValue")
	opStatus(t, ops[3], 400, "invalidPath")
	opStatus(t, ops[4], 400, "invalidPath")
	opStatus(t, ops[5], 400, "invalidSyntax")
	opStatus(t, ops[6], 201, "")
	opStatus(t, ops[7], 400, "invalidValue")
	opStatus(t, ops[8], 201, "")
	if ops[8]["method"] != "POST" {
		t.Errorf("method not canonical: %v", ops[8]["method"])
	}
	if got := h.userNames(); !sameStrings(got, "dup1@example.com", "lower@example.com") {
		t.Errorf("users %v", got)
	}
}

func TestBulkMalformedRequest(t *testing.T) {
	h := newHarness(t)
	user := op("POST", "/Users", "u", userData("u@example.com", nil))
	h.scimError(h.do("POST", "/Bulk", "{not json"), 400, "invalidSyntax")
	h.scimError(h.do("POST", "/Bulk", `[]`), 400, "invalidSyntax")
	h.scimError(h.do("POST", "/Bulk", map[string]any{"Operations": []any{user}}), 400, "invalidSyntax")
	h.scimError(h.do("POST", "/Bulk", map[string]any{"schemas": []string{bulkRequestURN}}), 400, "invalidSyntax")
	h.scimError(h.do("POST", "/Bulk", map[string]any{"schemas": []string{bulkRequestURN}, "Operations": []any{"x"}}), 400, "invalidSyntax")
	h.scimError(h.do("POST", "/Bulk", map[string]any{"schemas": []string{bulkRequestURN}, "failOnErrors": 0, "Operations": []any{user}}), 400, "invalidValue")
	h.scimError(h.do("POST", "/Bulk", map[string]any{"schemas": []string{bulkRequestURN}, "failOnErrors": "1", "Operations": []any{user}}), 400, "invalidSyntax")
	r := h.do("GET", "/Bulk", nil)
	h.scimError(r, http.StatusMethodNotAllowed, "")
	if r.header.Get("Allow") != "POST" {
		t.Errorf("Allow %q", r.header.Get("Allow"))
	}
	if got := h.userNames(); len(got) != 0 {
		t.Errorf("users %v after rejected requests", got)
	}
	// An empty Operations list is a valid, empty bulk job.
	if res := h.bulk(bulkBody(0)); len(res) != 0 {
		t.Errorf("results %v", res)
	}
}

func TestBulkLimits(t *testing.T) {
	h := newHarness(t, func(o *scim.Options) {
		o.MaxBulkOperations = 2
		o.MaxBulkPayload = 2048
	})
	spc := h.must(http.StatusOK, h.do("GET", "/ServiceProviderConfig", nil))
	if b, _ := spc.body["bulk"].(map[string]any); b["supported"] != true || b["maxOperations"] != 2.0 || b["maxPayloadSize"] != 2048.0 {
		t.Errorf("bulk config %v", spc.body["bulk"])
	}

	three := bulkBody(0,
		op("POST", "/Users", "a", userData("a@example.com", nil)),
		op("POST", "/Users", "b", userData("b@example.com", nil)),
		op("POST", "/Users", "c", userData("c@example.com", nil)),
	)
	r := h.do("POST", "/Bulk", three)
	h.scimError(r, http.StatusRequestEntityTooLarge, "")
	if d := r.str("detail"); !strings.Contains(d, "3 operations") || !strings.Contains(d, "maxOperations=2") {
		t.Errorf("detail %q", d)
	}

	big := bulkBody(0, op("POST", "/Users", "a", userData("a@example.com", map[string]any{"displayName": strings.Repeat("x", 3000)})))
	r = h.do("POST", "/Bulk", big)
	h.scimError(r, http.StatusRequestEntityTooLarge, "")
	if d := r.str("detail"); !strings.Contains(d, "maxPayloadSize=2048") {
		t.Errorf("detail %q", d)
	}

	// Without a Content-Length the limit is enforced while reading.
	j, _ := json.Marshal(big)
	req, _ := http.NewRequest("POST", h.srv.URL+"/scim/v2/Bulk", io.MultiReader(bytes.NewReader(j)))
	req.Header.Set("Authorization", "Bearer "+h.token)
	req.Header.Set("Content-Type", "application/scim+json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked oversized bulk: status %d", res.StatusCode)
	}

	if got := h.userNames(); len(got) != 0 {
		t.Errorf("users %v after rejected bulk requests", got)
	}
	// Within both limits it works.
	if res := h.bulk(bulkBody(0, three["Operations"].([]any)[0].(map[string]any))); len(res) != 1 {
		t.Fatalf("results %v", res)
	}
	if got := h.userNames(); !sameStrings(got, "a@example.com") {
		t.Errorf("users %v", got)
	}
}

func TestBulkDefaultLimitsAdvertised(t *testing.T) {
	h := newHarness(t)
	spc := h.must(http.StatusOK, h.do("GET", "/ServiceProviderConfig", nil))
	if b, _ := spc.body["bulk"].(map[string]any); b["supported"] != true || b["maxOperations"] != 1000.0 || b["maxPayloadSize"] != float64(1<<20) {
		t.Errorf("bulk config %v", spc.body["bulk"])
	}
}

func TestBulkTenantIsolation(t *testing.T) {
	h := newHarness(t)
	h.token = acmeToken
	ops := h.bulkAt("/tenants/acme/scim/v2/Bulk", bulkBody(0,
		op("POST", "/Groups", "g", groupData("Acme team", "bulkId:a")),
		op("POST", "/Users", "a", userData("acme@example.com", nil)),
	))
	opStatus(t, ops[0], 201, "")
	opStatus(t, ops[1], 201, "")
	loc, _ := ops[1]["location"].(string)
	if !strings.Contains(loc, "/tenants/acme/scim/v2/Users/") {
		t.Errorf("location %q", loc)
	}
	h.must(http.StatusOK, h.do("GET", "/tenants/acme/scim/v2/Users/"+idFromLocation(t, ops[1]), nil))
	// The default tenant's token does not open acme's bulk endpoint.
	h.token = testToken
	h.scimError(h.do("POST", "/tenants/acme/scim/v2/Bulk", bulkBody(0, op("DELETE", "/Users/"+idFromLocation(t, ops[1]), "", nil))), http.StatusUnauthorized, "")
	if got := h.userNames(); len(got) != 0 {
		t.Errorf("default tenant users %v", got)
	}
	if got := h.groupNames(); len(got) != 0 {
		t.Errorf("default tenant groups %v", got)
	}
	h.token = acmeToken
	h.must(http.StatusOK, h.do("GET", "/tenants/acme/scim/v2/Users/"+idFromLocation(t, ops[1]), nil))
}
