package graphparity_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// snapshot is a tenant's Users and Groups with ids resolved to names, so
// that two stores can be compared regardless of the ids they gave.
type snapshot struct {
	users  map[string]userSnap  // by userName
	groups map[string]groupSnap // by displayName
	ids    map[string]string    // resource id -> userName / displayName
}

type userSnap struct {
	id      string
	attrs   string // canonical JSON, manager and active left out
	active  any
	manager string // the manager's userName; "" none; "?<id>" dangling
}

type groupSnap struct {
	id      string
	attrs   string   // canonical JSON
	members []string // userNames, sorted
}

func takeSnapshot(t *testing.T, ctx context.Context, st store.Store, tenant string) snapshot {
	t.Helper()
	s := snapshot{users: map[string]userSnap{}, groups: map[string]groupSnap{}, ids: map[string]string{}}
	users := queryAll(t, ctx, st, tenant, store.User)
	for _, r := range users {
		s.ids[r.ID] = store.NameOf(store.User, r.Attrs)
	}
	for _, r := range users {
		a := maps.Clone(r.Attrs)
		us := userSnap{id: r.ID, active: a["active"]}
		delete(a, "active")
		if ext, ok := a[entUser].(map[string]any); ok {
			ext = maps.Clone(ext)
			if m, ok := ext["manager"].(map[string]any); ok {
				v, _ := m["value"].(string)
				if n, ok := s.ids[v]; ok {
					us.manager = n
				} else {
					us.manager = "?" + v
				}
			} else if ext["manager"] != nil {
				us.manager = fmt.Sprintf("malformed %v", ext["manager"])
			}
			delete(ext, "manager")
			if len(ext) == 0 {
				delete(a, entUser)
			} else {
				a[entUser] = ext
			}
		}
		us.attrs = canonical(t, unordered(a))
		s.users[store.NameOf(store.User, r.Attrs)] = us
	}
	for _, r := range queryAll(t, ctx, st, tenant, store.Group) {
		ms, err := st.Members(ctx, r.Ref, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		gs := groupSnap{id: r.ID, attrs: canonical(t, unordered(r.Attrs)), members: []string{}}
		for _, m := range ms {
			n, ok := s.ids[m.Value]
			if !ok {
				n = "?" + m.Value
			}
			gs.members = append(gs.members, n)
		}
		sort.Strings(gs.members)
		s.groups[store.NameOf(store.Group, r.Attrs)] = gs
	}
	return s
}

func queryAll(t *testing.T, ctx context.Context, st store.Store, tenant string, kind store.Kind) []store.Resource {
	t.Helper()
	page, err := st.Query(ctx, tenant, kind, store.Query{Count: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != len(page.Resources) {
		t.Fatalf("%s: %d of %d resources", kind, len(page.Resources), page.Total)
	}
	return page.Resources
}

// unordered sorts the elements of every array by their JSON: SCIM's
// multi-valued attributes are unordered (RFC 7643 §2.4), and a push that
// PATCHes phoneNumbers[type eq "mobile"] after the fax holds them in
// another order than a POST (or the pull) does.
func unordered(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = unordered(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		keys := make([]string, len(x))
		for i, e := range x {
			out[i] = unordered(e)
			b, _ := json.Marshal(out[i])
			keys[i] = string(b)
		}
		idx := make([]int, len(x))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(i, j int) bool { return keys[idx[i]] < keys[idx[j]] })
		sorted := make([]any, len(x))
		for i, k := range idx {
			sorted[i] = out[k]
		}
		return sorted
	}
	return v
}

// canonical is JSON with object keys sorted (encoding/json sorts map keys)
// and indented, for readable diffs.
func canonical(t *testing.T, v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// diffSnapshots lists, readably, how two snapshots differ (ids aside).
func diffSnapshots(aName string, a snapshot, bName string, b snapshot) []string {
	var out []string
	for _, n := range union(a.users, b.users) {
		ua, okA := a.users[n]
		ub, okB := b.users[n]
		switch {
		case !okA:
			out = append(out, fmt.Sprintf("user %s: only in %s", n, bName))
		case !okB:
			out = append(out, fmt.Sprintf("user %s: only in %s", n, aName))
		default:
			if ua.attrs != ub.attrs {
				out = append(out, fmt.Sprintf("user %s: attributes differ\n%s", n, lineDiff(aName, ua.attrs, bName, ub.attrs)))
			}
			if fmt.Sprint(ua.active) != fmt.Sprint(ub.active) {
				out = append(out, fmt.Sprintf("user %s: active %v in %s, %v in %s", n, ua.active, aName, ub.active, bName))
			}
			if ua.manager != ub.manager {
				out = append(out, fmt.Sprintf("user %s: manager %q in %s, %q in %s", n, ua.manager, aName, ub.manager, bName))
			}
		}
	}
	for _, n := range union(a.groups, b.groups) {
		ga, okA := a.groups[n]
		gb, okB := b.groups[n]
		switch {
		case !okA:
			out = append(out, fmt.Sprintf("group %s: only in %s", n, bName))
		case !okB:
			out = append(out, fmt.Sprintf("group %s: only in %s", n, aName))
		default:
			if ga.attrs != gb.attrs {
				out = append(out, fmt.Sprintf("group %s: attributes differ\n%s", n, lineDiff(aName, ga.attrs, bName, gb.attrs)))
			}
			if !slices.Equal(ga.members, gb.members) {
				out = append(out, fmt.Sprintf("group %s: members %v in %s, %v in %s", n, ga.members, aName, gb.members, bName))
			}
		}
	}
	return out
}

func union[V any](a, b map[string]V) []string {
	ks := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}

// lineDiff shows two indented JSON texts line by line, marking the lines
// only one of them has.
func lineDiff(aName, a, bName, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	inB := map[string]int{}
	for _, l := range bl {
		inB[l]++
	}
	inA := map[string]int{}
	for _, l := range al {
		inA[l]++
	}
	var sb strings.Builder
	for _, l := range al {
		if inB[l] == 0 {
			fmt.Fprintf(&sb, "  - %s (%s)\n", strings.TrimSpace(l), aName)
		}
	}
	for _, l := range bl {
		if inA[l] == 0 {
			fmt.Fprintf(&sb, "  + %s (%s)\n", strings.TrimSpace(l), bName)
		}
	}
	if sb.Len() == 0 {
		return "  (same lines, different order)\n" + a + "\n" + b
	}
	return sb.String()
}

// The comparison itself reports each kind of difference, and no others.
func TestDiffSnapshots(t *testing.T) {
	base := func() snapshot {
		return snapshot{
			users: map[string]userSnap{
				"a": {id: "1", attrs: canonical(t, unordered(map[string]any{"phoneNumbers": []any{
					map[string]any{"type": "work", "value": "1"}, map[string]any{"type": "fax", "value": "2"}}})), active: true},
				"b": {id: "2", attrs: "{}", active: true, manager: "a"},
			},
			groups: map[string]groupSnap{"g": {id: "3", attrs: "{}", members: []string{"a", "b"}}},
		}
	}
	a, b := base(), base()
	// Other ids and another order of a multi-valued attribute are no difference.
	b.users["a"] = userSnap{id: "x", attrs: canonical(t, unordered(map[string]any{"phoneNumbers": []any{
		map[string]any{"type": "fax", "value": "2"}, map[string]any{"type": "work", "value": "1"}}})), active: true}
	if d := diffSnapshots("a", a, "b", b); len(d) != 0 {
		t.Fatalf("differences %v", d)
	}
	b.users["b"] = userSnap{attrs: `{"title": "x"}`, active: false, manager: ""}
	b.users["c"] = userSnap{attrs: "{}"}
	b.groups["g"] = groupSnap{attrs: "{}", members: []string{"a"}}
	d := diffSnapshots("a", a, "b", b)
	want := []string{"user b: attributes differ", "user b: active", "user b: manager", "user c: only in b", "group g: members"}
	if len(d) != len(want) {
		t.Fatalf("differences %q, want %d", d, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(d[i], w) {
			t.Errorf("difference %d: %q, want %q…", i, d[i], w)
		}
	}
}
