package scim_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/scim"
)

// TestPatchLimits: patch.maxOperations counts Operations[] entries and
// patch.maxMemberValues the member values of members operations (which do
// not count as operations); beyond either, 400 invalidValue naming the key.
func TestPatchLimits(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		h := newHarness(t)
		uid := h.createUser("limits@contoso.com", nil).str("id")
		ops := make([]map[string]any, 1001)
		for i := range ops {
			ops[i] = map[string]any{"op": "replace", "path": "title", "value": fmt.Sprint("t", i)}
		}
		r := h.do("PATCH", "/Users/"+uid, patchOp(ops...))
		h.scimError(r, http.StatusBadRequest, "invalidValue")
		if d := r.str("detail"); !strings.Contains(d, "patch.maxOperations") || !strings.Contains(d, "1001") {
			t.Errorf("detail %q does not name patch.maxOperations and the count", d)
		}
		if got := h.must(http.StatusOK, h.do("GET", "/Users/"+uid, nil)); got.str("title") != "" {
			t.Errorf("a refused PATCH changed the user: title %q", got.str("title"))
		}
		h.must(http.StatusOK, h.do("PATCH", "/Users/"+uid, patchOp(ops[:1000]...)))

		// 10,000 members in one add: one operation, within the default.
		gid := h.createGroup("limits").str("id")
		vals := make([]any, 10001)
		for i := range vals {
			vals[i] = map[string]any{"value": fmt.Sprint("nobody-", i)}
		}
		r = h.do("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "add", "path": "members", "value": vals}))
		h.scimError(r, http.StatusBadRequest, "invalidValue")
		if d := r.str("detail"); !strings.Contains(d, "patch.maxMemberValues") {
			t.Errorf("detail %q does not name patch.maxMemberValues", d)
		}
		h.must(http.StatusNoContent, h.do("PATCH", "/Groups/"+gid, patchOp(map[string]any{"op": "add", "path": "members", "value": vals[:10000]})))
	})

	t.Run("configured", func(t *testing.T) {
		h := newHarness(t, func(o *scim.Options) { o.MaxPatchOps, o.MaxPatchMembers = 2, 3 })
		var ids []string
		for i := range 4 {
			ids = append(ids, h.createUser(fmt.Sprintf("m%d@contoso.com", i), nil).str("id"))
		}
		gid := h.createGroup("g").str("id")
		member := func(ids ...string) []any {
			var out []any
			for _, id := range ids {
				out = append(out, map[string]any{"value": id})
			}
			return out
		}
		cases := []struct {
			name string
			ops  []map[string]any
			key  string // "" = accepted
		}{
			{"three members in one add", []map[string]any{{"op": "add", "path": "members", "value": member(ids[:3]...)}}, ""},
			{"four members in one add", []map[string]any{{"op": "add", "path": "members", "value": member(ids...)}}, "patch.maxMemberValues"},
			{"members over two operations", []map[string]any{
				{"op": "add", "path": "members", "value": member(ids[:2]...)},
				{"op": "remove", "path": "members", "value": member(ids[2:]...)},
			}, "patch.maxMemberValues"},
			{"Entra's remove list counts its values", []map[string]any{{"op": "Remove", "path": "members", "value": member(ids...)}}, "patch.maxMemberValues"},
			{"member filters count", []map[string]any{
				{"op": "remove", "path": fmt.Sprintf("members[value eq %q]", ids[0])},
				{"op": "remove", "path": fmt.Sprintf("members[value eq %q]", ids[1])},
			}, ""},
			{"three operations", []map[string]any{
				{"op": "replace", "path": "displayName", "value": "a"},
				{"op": "replace", "path": "displayName", "value": "b"},
				{"op": "replace", "path": "displayName", "value": "c"},
			}, "patch.maxOperations"},
			{"a path-less operation split by key counts once", []map[string]any{
				{"op": "replace", "value": map[string]any{"displayName": "x", "externalId": "y"}},
				{"op": "add", "path": "members", "value": member(ids[3])},
			}, ""},
		}
		for _, c := range cases {
			r := h.do("PATCH", "/Groups/"+gid, patchOp(c.ops...))
			if c.key == "" {
				if r.status != http.StatusNoContent {
					t.Errorf("%s: status %d, want 204: %s", c.name, r.status, r.raw)
				}
				continue
			}
			if r.status != http.StatusBadRequest || r.str("scimType") != "invalidValue" || !strings.Contains(r.str("detail"), c.key) {
				t.Errorf("%s: %d %s, want 400 invalidValue naming %s", c.name, r.status, r.raw, c.key)
			}
		}
	})
}
