package replicas_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/testmongo"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/mongo"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

// TestTwoReplicasOneDatabase runs the Entra-like workload split over two
// bridges, each with its own mongo.Store on the same database, and checks
// that the result read back through either replica is exactly the model,
// exactly what one SQLite-backed bridge produces from the same workload,
// and that the journal holds one entry per successful write.
func TestTwoReplicasOneDatabase(t *testing.T) {
	ctx := context.Background()
	reg := loadSchemas(t)
	uri, db := testmongo.DB(t)
	open := func() store.Store {
		// Strict, so that the workload's racing group creates check that
		// replicas enforce group displayName uniqueness together too.
		st, err := mongo.Open(ctx, uri, db, mongo.WithSchemas(reg), mongo.WithStrictUniqueness("default"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	a := newBridge(t, "A", open(), reg)
	b := newBridge(t, "B", open(), reg)
	for _, br := range []*bridge{a, b} {
		if r := br.do("GET", "/readyz", nil); r.status != 200 {
			t.Fatalf("readyz via %s: %v", br.name, r)
		}
	}

	start := time.Now()
	w := &workload{t: t, a: a, b: b, ids: map[string]string{}}
	w.run()
	t.Logf("two replicas on MongoDB: %d writes in %v", w.writes.Load(), time.Since(start).Round(time.Millisecond))

	// The same state through both replicas, to the byte (ids, versions,
	// timestamps), and it is the model.
	sa, sb := takeSnapshot(t, a), takeSnapshot(t, b)
	if diff := diffMaps(sa.raw, sb.raw); diff != "" {
		t.Errorf("replicas A and B disagree:\n%s", diff)
	}
	checkModel(t, "MongoDB", sa)

	// One journal entry per successful write, gapless, seen alike by both
	// stores.
	ca, err := allChanges(ctx, a.st, "default")
	if err != nil {
		t.Fatal(err)
	}
	cb, err := allChanges(ctx, b.st, "default")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ca, cb) {
		t.Errorf("the journal differs between the stores of A (%d entries) and B (%d)", len(ca), len(cb))
	}
	ja := checkJournal(t, "MongoDB", ca, w, sa)

	// Baseline: the same workload on one SQLite-backed bridge.
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "scim.db"), sqlite.WithSchemas(reg), sqlite.WithStrictUniqueness("default"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	one := newBridge(t, "single", st, reg)
	start = time.Now()
	w1 := &workload{t: t, a: one, b: one, ids: map[string]string{}}
	w1.run()
	t.Logf("one bridge on SQLite: %d writes in %v", w1.writes.Load(), time.Since(start).Round(time.Millisecond))
	s1 := takeSnapshot(t, one)
	checkModel(t, "SQLite", s1)
	if diff := diffMaps(sa.norm, s1.norm); diff != "" {
		t.Errorf("two replicas on MongoDB (-) and one bridge on SQLite (+) differ:\n%s", diff)
	}
	c1, err := allChanges(ctx, st, "default")
	if err != nil {
		t.Fatal(err)
	}
	j1 := checkJournal(t, "SQLite", c1, w1, s1)
	if !reflect.DeepEqual(ja, j1) {
		t.Errorf("journals differ:\nMongoDB: %v\nSQLite:  %v", ja, j1)
	}
}

// snapshot is the state read back through one bridge.
type snapshot struct {
	raw  map[string]any    // id → resource as served (base URL masked)
	norm map[string]any    // "User user00" / "Group group0" → resource without ids and timestamps
	key  map[string]string // id → key
}

// takeSnapshot lists every user and group through br (paging), and GETs
// every group for its members.
func takeSnapshot(t *testing.T, br *bridge) snapshot {
	t.Helper()
	s := snapshot{raw: map[string]any{}, norm: map[string]any{}, key: map[string]string{}}
	decode := func(r resp) map[string]any {
		t.Helper()
		if r.err != nil || r.status != 200 {
			t.Fatalf("snapshot via %s: %v", br.name, r)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(strings.ReplaceAll(string(r.raw), br.srv.URL, "BASE")), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	list := func(kind string) []map[string]any {
		var out []map[string]any
		for start := 1; ; start += 25 {
			page := decode(br.do("GET", fmt.Sprintf("/%s?startIndex=%d&count=25", kind, start), nil))
			rs, _ := page["Resources"].([]any)
			for _, r := range rs {
				out = append(out, r.(map[string]any))
			}
			total, _ := page["totalResults"].(float64)
			if len(rs) == 0 || start+len(rs) > int(total) {
				if len(out) != int(total) {
					t.Fatalf("%s via %s: paged %d resources, totalResults %v", kind, br.name, len(out), total)
				}
				return out
			}
		}
	}
	keyOf := func(m map[string]any) string {
		ext, _ := m["externalId"].(string)
		k, ok := strings.CutPrefix(ext, "ext-")
		if !ok {
			ext, _ := m["userName"].(string) // dup users
			k = keyOfUserName(ext)
		}
		return k
	}
	users := list("Users")
	for _, u := range users {
		s.key[u["id"].(string)] = keyOf(u)
	}
	var groups []map[string]any
	for _, g := range list("Groups") {
		full := decode(br.do("GET", "/Groups/"+g["id"].(string), nil))
		s.key[full["id"].(string)] = keyOf(full)
		groups = append(groups, full)
	}
	for _, r := range append(users, groups...) {
		id := r["id"].(string)
		s.raw[id] = r
		n := map[string]any{}
		for k, v := range r {
			n[k] = v
		}
		delete(n, "id")
		meta, _ := r["meta"].(map[string]any)
		n["meta"] = map[string]any{"resourceType": meta["resourceType"], "version": meta["version"]}
		// members of groups, groups of users: ids become keys.
		for _, attr := range []string{"members", "groups"} {
			ms, ok := r[attr].([]any)
			if !ok {
				continue
			}
			var out []any
			for _, m := range ms {
				m := m.(map[string]any)
				v, _ := m["value"].(string)
				k, ok := s.key[v]
				if !ok {
					t.Errorf("via %s: %s of %s names the unknown %q", br.name, attr, s.key[id], v)
				}
				out = append(out, map[string]any{"value": k, "display": m["display"], "type": m["type"]})
			}
			sort.Slice(out, func(i, j int) bool {
				return out[i].(map[string]any)["value"].(string) < out[j].(map[string]any)["value"].(string)
			})
			n[attr] = out
		}
		s.norm[meta["resourceType"].(string)+" "+s.key[id]] = n
	}
	return s
}

// checkModel compares a snapshot with the model.
func checkModel(t *testing.T, name string, s snapshot) {
	t.Helper()
	users, groups := model()
	var want, got []string
	for k := range users {
		want = append(want, "User "+k)
	}
	for k := range groups {
		want = append(want, "Group "+k)
	}
	for k := range s.norm {
		got = append(got, k)
	}
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(want, got) {
		t.Errorf("%s: resources %v, want %v", name, got, want)
	}
	str := func(v any) string { s, _ := v.(string); return s }
	for k, u := range users {
		r, _ := s.norm["User "+k].(map[string]any)
		if r == nil {
			continue
		}
		var email string
		if es, _ := r["emails"].([]any); len(es) == 1 {
			email = str(es[0].(map[string]any)["value"])
		}
		gotU := modelUser{
			displayName: str(r["displayName"]), title: str(r["title"]), email: email,
			nickName: str(r["nickName"]), preferredLanguage: str(r["preferredLanguage"]),
			active: r["active"] == true, version: etagVersion(r),
		}
		if gotU != u {
			t.Errorf("%s: user %s is %+v, want %+v", name, k, gotU, u)
		}
		if ent, _ := r[urnEnterprise].(map[string]any); str(ent["employeeNumber"]) != k {
			t.Errorf("%s: user %s lost its enterprise extension: %v", name, k, r)
		}
	}
	for k, g := range groups {
		r, _ := s.norm["Group "+k].(map[string]any)
		if r == nil {
			continue
		}
		gotG := modelGroup{displayName: str(r["displayName"]), version: etagVersion(r)}
		ms, _ := r["members"].([]any)
		for _, m := range ms {
			gotG.members = append(gotG.members, str(m.(map[string]any)["value"]))
		}
		if !reflect.DeepEqual(gotG, g) {
			t.Errorf("%s: group %s is %+v, want %+v", name, k, gotG, g)
		}
	}
}

func etagVersion(r map[string]any) int {
	meta, _ := r["meta"].(map[string]any)
	v, _ := meta["version"].(string)
	var n int
	if _, err := fmt.Sscanf(v, `W/"%d"`, &n); err != nil {
		return -1
	}
	return n
}

// checkJournal checks cs against the workload and the final state: one
// entry per successful write, seqs 1..n without gaps, per resource the
// versions 1..final in order (create first, delete last for the deleted
// user), and the members journaled per group add up to its final members.
// It returns the journal in a form comparable between runs: the sorted
// "kind key op version" lines, and per group the sorted members journaled
// as added.
func checkJournal(t *testing.T, name string, cs []store.Change, w *workload, s snapshot) []string {
	t.Helper()
	key := map[string]string{}
	for k, id := range w.ids {
		key[id] = k
	}
	if len(cs) != int(w.writes.Load()) {
		t.Errorf("%s: %d journal entries for %d successful writes", name, len(cs), w.writes.Load())
	}
	type hist struct {
		versions []int64
		ops      []store.ChangeOp
		members  map[string]bool
		added    []string
	}
	h := map[string]*hist{}
	var lines []string
	for i, c := range cs {
		if c.Seq != int64(i+1) {
			t.Fatalf("%s: journal entry %d has seq %d: not gapless", name, i, c.Seq)
		}
		k, ok := key[c.ID]
		if !ok {
			t.Errorf("%s: journal entry %+v is about an unknown resource", name, c)
			continue
		}
		x := h[k]
		if x == nil {
			x = &hist{members: map[string]bool{}}
			h[k] = x
		}
		x.versions = append(x.versions, c.Version)
		x.ops = append(x.ops, c.Op)
		for _, m := range c.Added {
			x.members[key[m]] = true
			x.added = append(x.added, key[m])
		}
		for _, m := range c.Removed {
			delete(x.members, key[m])
		}
		lines = append(lines, fmt.Sprintf("%s %s %s v%d", c.Kind, k, c.Op, c.Version))
	}
	deletedKey := userKey(deleted)
	for k, x := range h {
		for i, v := range x.versions {
			if v != int64(i+1) {
				t.Errorf("%s: journal versions of %s are %v, want 1, 2, …", name, k, x.versions)
				break
			}
		}
		for i, o := range x.ops {
			want := store.OpUpdate
			switch {
			case i == 0:
				want = store.OpCreate
			case k == deletedKey && i == len(x.ops)-1:
				want = store.OpDelete
			}
			if o != want {
				t.Errorf("%s: journal ops of %s are %v", name, k, x.ops)
				break
			}
		}
		if k == deletedKey {
			continue
		}
		r, _ := s.norm["User "+k].(map[string]any)
		if r == nil {
			r, _ = s.norm["Group "+k].(map[string]any)
		}
		if r == nil {
			t.Errorf("%s: %s is journaled but absent", name, k)
			continue
		}
		if v := etagVersion(r); int64(v) != x.versions[len(x.versions)-1] {
			t.Errorf("%s: %s has version %d, its last journal entry %d", name, k, v, x.versions[len(x.versions)-1])
		}
		if ms, ok := r["members"]; ok {
			delete(x.members, deletedKey) // a deleted member leaves its groups without an entry
			var want, got []string
			for _, m := range ms.([]any) {
				want = append(want, m.(map[string]any)["value"].(string))
			}
			for m := range x.members {
				got = append(got, m)
			}
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s: journaled members of %s %v, final members %v", name, k, got, want)
			}
			sort.Strings(x.added)
			lines = append(lines, fmt.Sprintf("Group %s added %v", k, x.added))
		}
	}
	for k := range s.norm {
		_, kk, _ := strings.Cut(k, " ")
		if h[kk] == nil {
			t.Errorf("%s: %s has no journal entry", name, k)
		}
	}
	sort.Strings(lines)
	return lines
}

// diffMaps describes the differences between two maps of JSON values.
func diffMaps(a, b map[string]any) string {
	var out []string
	for k, va := range a {
		vb, ok := b[k]
		if !ok {
			out = append(out, "- "+k)
			continue
		}
		if !reflect.DeepEqual(va, vb) {
			ja, _ := json.Marshal(va)
			jb, _ := json.Marshal(vb)
			out = append(out, fmt.Sprintf("~ %s\n  - %s\n  + %s", k, ja, jb))
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, "+ "+k)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}
