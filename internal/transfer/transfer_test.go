package transfer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/internal/testscale"
	"github.com/scimbridge/scimbridge/internal/transfer"
	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
	"github.com/scimbridge/scimbridge/store/storetest"
)

const enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

func openStore(t testing.TB) store.Store {
	t.Helper()
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	// Each store gets its own data directory.
	s, err := sqlite.Open(storetest.Background(), filepath.Join(t.TempDir(), "scim.db"), sqlite.WithSchemas(reg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func create(t testing.TB, s store.Store, r store.Resource, members ...string) store.Resource {
	t.Helper()
	ms := make([]store.Member, len(members))
	for i, m := range members {
		ms[i] = store.Member{Value: m}
	}
	out, err := s.Create(storetest.Background(), r, ms)
	if err != nil {
		t.Fatalf("create %s %q: %v", r.Kind, r.ID, err)
	}
	return out
}

func update(t testing.TB, s store.Store, ref store.Ref, fn func(r *store.Resource) store.MemberDelta) {
	t.Helper()
	if _, err := s.Update(storetest.Background(), ref, func(r *store.Resource) (store.MemberDelta, error) { return fn(r), nil }); err != nil {
		t.Fatalf("update %q: %v", ref.ID, err)
	}
}

func user(tenant, id, userName string, attrs map[string]any) store.Resource {
	a := map[string]any{"userName": userName}
	for k, v := range attrs {
		a[k] = v
	}
	return store.Resource{Ref: store.Ref{Tenant: tenant, Kind: store.User, ID: id}, Attrs: a}
}

func grp(tenant, id, name string) store.Resource {
	return store.Resource{Ref: store.Ref{Tenant: tenant, Kind: store.Group, ID: id}, Attrs: map[string]any{"displayName": name}}
}

// seed fills the tenants "default" and "acme" and returns a bearer token of
// "default".
func seed(t testing.TB, s store.Store, bigGroup int) string {
	t.Helper()
	ctx := storetest.Background()
	create(t, s, user("default", "u-alice", "alice@example.com", map[string]any{
		"displayName": "Alice", "active": true, "externalId": "ext-1",
		"name":   map[string]any{"givenName": "Alice", "familyName": "Smith"},
		"emails": []any{map[string]any{"value": "alice@example.com", "type": "work", "primary": true}},
		enterprise: map[string]any{"employeeNumber": "701", "department": "R&D <lab>",
			"manager": map[string]any{"value": "u-bob"}},
	}))
	create(t, s, user("default", "u-bob", "bob@example.com", map[string]any{"active": false}))
	// Versions above 1 and lastModified after created.
	for i := range 3 {
		update(t, s, store.Ref{Tenant: "default", Kind: store.User, ID: "u-bob"}, func(r *store.Resource) store.MemberDelta {
			r.Attrs["title"] = fmt.Sprintf("title %d", i)
			return store.MemberDelta{}
		})
	}
	for i := range bigGroup {
		create(t, s, user("default", fmt.Sprintf("bulk-%05d", i), fmt.Sprintf("bulk%d@example.com", i), nil))
	}
	// "parent" is created before "child" and gets it as a member later:
	// in the export (creation order) the parent comes first.
	create(t, s, grp("default", "g-parent", "Parent"), "u-alice")
	create(t, s, grp("default", "g-child", "Child"), "u-bob")
	update(t, s, store.Ref{Tenant: "default", Kind: store.Group, ID: "g-parent"}, func(*store.Resource) store.MemberDelta {
		return store.MemberDelta{Add: []store.Member{{Value: "g-child"}}}
	})
	// A nested group that already existed: no deferral.
	create(t, s, grp("default", "g-outer", "Outer"), "g-child", "u-alice")
	create(t, s, grp("default", "g-empty", "Empty"))
	if bigGroup > 0 {
		ids := make([]string, bigGroup)
		for i := range ids {
			ids[i] = fmt.Sprintf("bulk-%05d", i)
		}
		create(t, s, grp("default", "g-big", "Big"), ids...)
	}
	tok, err := auth.NewToken(ctx, s, "default", "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []struct{ key, value string }{
		{"cursor/graph", `{"deltaLink":"https://graph.example/delta?token=x"}`},
		{"oauth/0123", `{"client":"c"}`},                           // not exported
		{"token-used/0123", `{"lastUsed":"2026-01-01T00:00:00Z"}`}, // not exported
	} {
		if _, err := s.PutState(ctx, "default", st.key, []byte(st.value), 0); err != nil {
			t.Fatal(err)
		}
	}
	// A lease is not exported.
	if _, err := s.AcquireLease(ctx, "default", "sync", "me", time.Minute); err != nil {
		t.Fatal(err)
	}
	create(t, s, user("acme", "a-1", "carol@acme.example", nil))
	create(t, s, grp("acme", "a-g", "Acme"), "a-1")
	return tok
}

func export(t testing.TB, s store.Store, tenants ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := transfer.Export(storetest.Background(), s, &buf, transfer.ExportOptions{Tenants: tenants, PageSize: 7, MemberChunk: 300}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// snapshot is everything of a tenant that must survive the move, in
// creation order.
type snapshot struct {
	Resources []store.Resource
	Members   map[string][]string
	State     map[string]string
}

func snap(t testing.TB, s store.Store, tenant string) snapshot {
	t.Helper()
	ctx := storetest.Background()
	sn := snapshot{Members: map[string][]string{}, State: map[string]string{}}
	for _, k := range []store.Kind{store.User, store.Group} {
		p, err := s.Query(ctx, tenant, k, store.Query{Count: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Resources {
			r.Created, r.LastModified = r.Created.UTC(), r.LastModified.UTC()
			sn.Resources = append(sn.Resources, r)
			if k == store.Group {
				ms, err := s.Members(ctx, r.Ref, "", 0)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, m := range ms {
					ids = append(ids, m.Value+"/"+string(m.Type))
				}
				sn.Members[r.ID] = ids
			}
		}
	}
	es, err := s.ListState(ctx, tenant, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if !strings.HasPrefix(e.Key, "oauth/") && !strings.HasPrefix(e.Key, "token-used/") {
			sn.State[e.Key] = string(e.Value)
		}
	}
	return sn
}

func sameSnapshot(t *testing.T, tenant string, got, want snapshot) {
	t.Helper()
	if len(got.Resources) != len(want.Resources) {
		t.Fatalf("tenant %s: %d resources, want %d", tenant, len(got.Resources), len(want.Resources))
	}
	// Creation order is kept, except that a group comes after a nested
	// group member that was created after it: compare users in order,
	// groups by id.
	byKindID := func(a, b store.Resource) int {
		return strings.Compare(string(a.Kind)+"/"+a.ID, string(b.Kind)+"/"+b.ID)
	}
	want.Resources = slices.Clone(want.Resources)
	got.Resources = slices.Clone(got.Resources)
	for _, rs := range [][]store.Resource{want.Resources, got.Resources} {
		i := slices.IndexFunc(rs, func(r store.Resource) bool { return r.Kind == store.Group })
		if i >= 0 {
			slices.SortFunc(rs[i:], byKindID)
		}
	}
	for i, w := range want.Resources {
		g := got.Resources[i]
		if g.Ref != w.Ref || g.Version != w.Version || !g.Created.Equal(w.Created) || !g.LastModified.Equal(w.LastModified) {
			t.Fatalf("tenant %s resource %d: got %+v v%d %v %v, want %+v v%d %v %v", tenant, i,
				g.Ref, g.Version, g.Created, g.LastModified, w.Ref, w.Version, w.Created, w.LastModified)
		}
		if !reflect.DeepEqual(g.Attrs, w.Attrs) {
			t.Fatalf("tenant %s %s attrs:\n got %v\nwant %v", tenant, w.ID, g.Attrs, w.Attrs)
		}
	}
	if !reflect.DeepEqual(got.Members, want.Members) {
		for id := range want.Members {
			if !slices.Equal(got.Members[id], want.Members[id]) {
				t.Errorf("tenant %s group %s: %d members, want %d", tenant, id, len(got.Members[id]), len(want.Members[id]))
			}
		}
		t.Fatalf("tenant %s: memberships differ", tenant)
	}
	if !reflect.DeepEqual(got.State, want.State) {
		t.Fatalf("tenant %s state: got %v, want %v", tenant, got.State, want.State)
	}
}

func TestRoundTrip(t *testing.T) {
	ctx := storetest.Background()
	src := openStore(t)
	// A big group of 5,000 members; 2,500 unless SCIMBRIDGE_TEST_FULL=1 (CI
	// sets it), which still spans several export pages (500), members
	// lines (1,000 ids) and import existence checks (1,000 ids).
	n := testscale.Size(2500, 5000)
	tok := seed(t, src, n)
	data := export(t, src, "default", "acme")

	dst := openStore(t)
	var warnings []string
	res, err := transfer.Import(ctx, dst, bytes.NewReader(data), transfer.ImportOptions{
		Warnf: func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %q", warnings)
	}
	for _, tenant := range []string{"default", "acme"} {
		sameSnapshot(t, tenant, snap(t, dst, tenant), snap(t, src, tenant))
	}
	want := transfer.Counts{Users: int64(n) + 2, Groups: 5, Members: int64(n) + 5, State: 2}
	if got := res.Read.Counts["default"]; got != want {
		t.Errorf("read default: %v, want %v", got, want)
	}
	if got := res.Created["default"]; got != want {
		t.Errorf("created default: %v, want %v", got, want)
	}
	// The token still opens the tenant.
	hashes, err := auth.StoredTokenHashes(ctx, dst, "default")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(hashes, auth.HashToken(tok)) {
		t.Fatal("the token created before the export is not stored after the import")
	}
	// Leases, OAuth tokens and tokens' last use did not move.
	for _, prefix := range []string{"oauth/", "token-used/"} {
		if es, _ := dst.ListState(ctx, "default", prefix); len(es) != 0 {
			t.Errorf("%s state imported: %v", prefix, es)
		}
	}
	if ok, err := dst.AcquireLease(ctx, "default", "sync", "other", time.Minute); err != nil || !ok {
		t.Errorf("lease moved: %v %v", ok, err)
	}
	// The target starts its own journal: one creation per resource, with
	// the exported version.
	ch, err := dst.Changes(ctx, "default", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch) != n+7 {
		t.Errorf("journal has %d entries, want %d", len(ch), n+7)
	}
	for _, c := range ch {
		if c.ID == "u-bob" && (c.Op != store.OpCreate || c.Version != 4) {
			t.Errorf("journal entry of u-bob: %+v", c)
		}
	}
	// Exporting the copy gives the same lines but for exportedAt (and the
	// order of the groups g-parent and g-child).
	again := export(t, dst, "default", "acme")
	if a, b := sortedLines(t, data), sortedLines(t, again); !slices.Equal(a, b) {
		t.Error("exporting the imported store gives other lines")
	}
}

// sortedLines returns the lines of an export but the header, sorted.
func sortedLines(t testing.TB, b []byte) []string {
	t.Helper()
	_, rest, ok := bytes.Cut(b, []byte("\n"))
	if !ok {
		t.Fatal("no header line")
	}
	ls := strings.Split(string(rest), "\n")
	slices.Sort(ls)
	return ls
}

func TestExportFormat(t *testing.T) {
	s := openStore(t)
	seed(t, s, 0)
	data := export(t, s, "acme")
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	var head map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &head); err != nil {
		t.Fatal(err)
	}
	if head["format"] != "scimbridge-export" || head["version"] != float64(1) || head["exportedAt"] == nil {
		t.Fatalf("header %s", lines[0])
	}
	wantTypes := []string{"header", "tenant", "resource", "resource", "members", "end"}
	if len(lines) != len(wantTypes) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(wantTypes), data)
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if m["type"] != wantTypes[i] {
			t.Errorf("line %d type %v, want %s", i+1, m["type"], wantTypes[i])
		}
	}
	var res map[string]any
	json.Unmarshal([]byte(lines[2]), &res)
	for _, k := range []string{"tenant", "kind", "id", "version", "created", "lastModified", "attrs"} {
		if _, ok := res[k]; !ok {
			t.Errorf("resource line lacks %q: %s", k, lines[2])
		}
	}
	if !strings.Contains(lines[4], `"members":["a-1"]`) || !strings.Contains(lines[5], `"tenants":{"acme":{"users":1,"groups":1,"members":1,"state":0}}`) {
		t.Errorf("members/trailer lines:\n%s\n%s", lines[4], lines[5])
	}
}

func TestTenantMapAndCycle(t *testing.T) {
	ctx := storetest.Background()
	src := openStore(t)
	create(t, src, user("old", "u1", "u1@example.com", nil))
	create(t, src, grp("old", "a", "A"), "u1")
	create(t, src, grp("old", "b", "B"), "a")
	update(t, src, store.Ref{Tenant: "old", Kind: store.Group, ID: "a"}, func(*store.Resource) store.MemberDelta {
		return store.MemberDelta{Add: []store.Member{{Value: "b"}}}
	})
	data := export(t, src, "old")
	dst := openStore(t)
	var warnings []string
	var begun []string
	_, err := transfer.Import(ctx, dst, bytes.NewReader(data), transfer.ImportOptions{
		TenantMap:   map[string]string{"old": "new"},
		BeginTenant: func(tn string) error { begun = append(begun, tn); return nil },
		Warnf:       func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(begun, []string{"new"}) {
		t.Errorf("BeginTenant calls %v", begun)
	}
	want, got := snap(t, src, "old"), snap(t, dst, "new")
	if !reflect.DeepEqual(want.Members, got.Members) {
		t.Fatalf("members %v, want %v", got.Members, want.Members)
	}
	if p, _ := dst.Query(ctx, "old", store.User, store.Query{}); p.Total != 0 {
		t.Error("data went to the unmapped tenant")
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "membership cycle") {
		t.Errorf("warnings %q, want one about the cycle", warnings)
	}
}

func TestImportErrors(t *testing.T) {
	src := openStore(t)
	seed(t, src, 20)
	good := string(export(t, src, "default", "acme"))
	lines := strings.SplitAfter(good, "\n")
	lines = lines[:len(lines)-1] // the empty string after the last newline
	n := len(lines)
	join := func(ls ...[]string) string {
		var b strings.Builder
		for _, l := range ls {
			b.WriteString(strings.Join(l, ""))
		}
		return b.String()
	}
	firstGroupMembers := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, `"type":"members"`) })
	firstUser := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, `"kind":"User"`) })
	cases := []struct {
		name, input, want string
	}{
		{"empty", "", "line 1: the input is empty"},
		{"not json", "hello\n", "line 1: not a scimbridge export"},
		{"other format", `{"type":"header","format":"other","version":1}` + "\n", "line 1: not a scimbridge export"},
		{"newer version", strings.Replace(lines[0], `"version":1`, `"version":2`, 1) + join(lines[1:]), "line 1: export format version 2 is not supported"},
		{"bad json", join(lines[:5], []string{"{\"type\":\"resource\",\n"}, lines[5:]), "line 6: bad JSON"},
		{"unknown type", join(lines[:5], []string{`{"type":"gadget","tenant":"default"}` + "\n"}, lines[5:]), `line 6: unknown line type "gadget"`},
		{"dropped line", join(lines[:firstUser], lines[firstUser+1:]), fmt.Sprintf("line %d: the trailer says %d lines", n-1, n-1)},
		{"dropped member", join(lines[:firstGroupMembers], []string{strings.Replace(lines[firstGroupMembers], `"u-alice"`, `"u-alice","u-bob"`, 1)}, lines[firstGroupMembers+1:]),
			fmt.Sprintf(`line %d: the trailer says tenant "default" has`, n)},
		{"truncated", join(lines[:n-1]), fmt.Sprintf("line %d: the input ends without the trailer line", n)},
		{"after trailer", good + "{}\n", fmt.Sprintf("line %d: data after the trailer", n+1)},
		{"members out of place", join(lines[:2], []string{`{"type":"members","tenant":"default","group":"g-x","members":["a"]}` + "\n"}, lines[2:]), `line 3: members of group "g-x" do not follow`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := transfer.Import(storetest.Background(), openStore(t), strings.NewReader(c.input), transfer.ImportOptions{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			var le *transfer.LineError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is not a *LineError", err)
			}
		})
	}

	t.Run("conflict", func(t *testing.T) {
		dst := openStore(t)
		// An unrelated existing resource with the same id as the third user.
		create(t, dst, user("default", "bulk-00000", "someone@example.com", nil))
		_, err := transfer.Import(storetest.Background(), dst, strings.NewReader(good), transfer.ImportOptions{})
		line := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, `"id":"bulk-00000"`) }) + 1
		want := fmt.Sprintf(`line %d: User "bulk-00000": a resource with this id already exists in tenant "default"`, line)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v, want %q", err, want)
		}
		// With SkipExisting, the existing one is kept and the rest imported.
		res, err := transfer.Import(storetest.Background(), dst, strings.NewReader(good), transfer.ImportOptions{SkipExisting: true})
		if err != nil {
			t.Fatal(err)
		}
		// u-alice and u-bob came in the failed run.
		if sk := res.Skipped["default"]; sk.Users != 3 || sk.Groups != 0 {
			t.Errorf("skipped %v", sk)
		}
		r, err := dst.Get(storetest.Background(), store.Ref{Tenant: "default", Kind: store.User, ID: "bulk-00000"})
		if err != nil || r.Attrs["userName"] != "someone@example.com" {
			t.Errorf("existing resource changed: %v %v", r.Attrs, err)
		}
	})
	t.Run("userName conflict", func(t *testing.T) {
		dst := openStore(t)
		create(t, dst, user("default", "other-id", "alice@example.com", nil))
		_, err := transfer.Import(storetest.Background(), dst, strings.NewReader(good), transfer.ImportOptions{SkipExisting: true})
		want := fmt.Sprintf(`line %d: User "u-alice": another resource of tenant "default" in the target store has the same userName`, firstUser+1)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v, want %q", err, want)
		}
	})
	t.Run("state conflict", func(t *testing.T) {
		dst := openStore(t)
		dst.PutState(storetest.Background(), "default", "cursor/graph", []byte("mine"), 0)
		_, err := transfer.Import(storetest.Background(), dst, strings.NewReader(good), transfer.ImportOptions{})
		if err == nil || !strings.Contains(err.Error(), `state entry "cursor/graph" already exists`) {
			t.Fatalf("error %v", err)
		}
	})
}

// deletingStore deletes the first user when the second page is read.
type deletingStore struct {
	store.Store
	calls int
}

func (d *deletingStore) Query(ctx context.Context, tenant string, kind store.Kind, q store.Query) (store.Page, error) {
	if kind == store.User && q.Count > 0 {
		d.calls++
		if d.calls == 2 {
			d.Store.Delete(ctx, store.Ref{Tenant: tenant, Kind: store.User, ID: "u-alice"}, 0)
		}
	}
	return d.Store.Query(ctx, tenant, kind, q)
}

func TestExportNoticesDeletion(t *testing.T) {
	s := openStore(t)
	seed(t, s, 20)
	_, err := transfer.Export(storetest.Background(), &deletingStore{Store: s}, new(bytes.Buffer), transfer.ExportOptions{Tenants: []string{"default"}, PageSize: 5})
	if !errors.Is(err, transfer.ErrStoreChanged) {
		t.Fatalf("error %v, want ErrStoreChanged", err)
	}
}

func TestExportWarnsAboutChanges(t *testing.T) {
	s := openStore(t)
	seed(t, s, 0)
	reg, _ := schemas.Load()
	var warnings []string
	past := time.Now().Add(-time.Hour)
	_, err := transfer.Export(storetest.Background(), s, new(bytes.Buffer), transfer.ExportOptions{
		Tenants: []string{"default"}, Schemas: reg,
		Now:   func() time.Time { return past }, // everything was modified "during" the export
		Warnf: func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0], "modified during the export") {
		t.Fatalf("warnings %q", warnings)
	}
	warnings = nil
	if _, err := transfer.Export(storetest.Background(), s, new(bytes.Buffer), transfer.ExportOptions{
		Tenants: []string{"default"}, Schemas: reg,
		Warnf: func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) },
	}); err != nil || len(warnings) != 0 {
		t.Fatalf("quiet export: %v %q", err, warnings)
	}
}

// Values over the server's length limits are imported unchanged, with a
// warning naming the resource and attribute.
func TestImportKeepsValuesOverLimitsAndWarns(t *testing.T) {
	ctx := storetest.Background()
	src := openStore(t)
	longName := strings.Repeat("u", 300)
	longDept := strings.Repeat("d", 5000)
	create(t, src, user("default", "u-long", longName, map[string]any{enterprise: map[string]any{"department": longDept}}))
	create(t, src, user("default", "u-short", "short", nil))
	g := grp("default", "g-long", strings.Repeat("g", 20))
	create(t, src, g, "u-long")
	data := export(t, src, "default")

	dst := openStore(t)
	var warnings []string
	_, err := transfer.Import(ctx, dst, bytes.NewReader(data), transfer.ImportOptions{
		Warnf:        func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) },
		StringLimits: schemas.StringLimits{MaxBytes: 16}, // the group's 20-byte name is over it too
	})
	if err != nil {
		t.Fatal(err)
	}
	sameSnapshot(t, "default", snap(t, dst, "default"), snap(t, src, "default"))
	if len(warnings) != 2 {
		t.Fatalf("warnings: %q", warnings)
	}
	for _, want := range []string{`User "u-long"`, `"userName" is 300 bytes (limit 256)`, `"` + enterprise + `:department" is 5000 bytes (limit 16)`, "imported as they are"} {
		if !strings.Contains(warnings[0], want) {
			t.Errorf("warning %q lacks %q", warnings[0], want)
		}
	}
	if !strings.Contains(warnings[1], `Group "g-long"`) || !strings.Contains(warnings[1], `"displayName" is 20 bytes (limit 16)`) {
		t.Errorf("group warning %q", warnings[1])
	}
	got, err := dst.Get(ctx, store.Ref{Tenant: "default", Kind: store.User, ID: "u-long"})
	if err != nil || got.Attrs["userName"] != longName || got.Attrs[enterprise].(map[string]any)["department"] != longDept {
		t.Fatalf("stored %v %v", got.Attrs, err)
	}
}
