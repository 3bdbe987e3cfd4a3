package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// TestOrigin is the origin the suite's writes carry (and Background's).
var TestOrigin = store.Origin{Source: store.SourceAdmin, Actor: "storetest"}

// Background is context.Background carrying TestOrigin: every store write
// needs an origin (store.WithOrigin), and tests and benchmarks that write
// outside a SCIM handler or the importer use this one.
func Background() context.Context { return store.WithOrigin(context.Background(), TestOrigin) }

const enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

// testProvenance checks what every journal entry says about its write: the
// origin from the write's context, the resource's name at the time (also
// after a delete) and the attributes it changed, and that a write without
// an origin fails and writes nothing.
func testProvenance(t *testing.T, s store.Store) {
	t.Run("OriginRoundTrips", func(t *testing.T) { testOriginRoundTrips(t, s) })
	t.Run("ChangedAttributes", func(t *testing.T) { testChangedAttrs(t, s) })
	t.Run("NameAfterDelete", func(t *testing.T) { testNameAfterDelete(t, s) })
	t.Run("WriteWithoutOrigin", func(t *testing.T) { testWriteWithoutOrigin(t, s) })
}

func withOrigin(t *testing.T, o store.Origin) context.Context {
	return store.WithOrigin(ctxT(t), o)
}

func testOriginRoundTrips(t *testing.T, s store.Store) {
	const tenant = "prov-origin"
	push := store.Origin{Source: store.SourcePush, Actor: "entra-token"}
	pull := store.Origin{Source: store.SourcePullGraph, RunID: "run-7"}
	imp := store.Origin{Source: store.SourceImport, Actor: "ops", RunID: "imp-1"}
	if _, err := s.Create(withOrigin(t, push), newUser(tenant, "u1", "alice"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(withOrigin(t, pull), userRef(tenant, "u1"), setAttr("title", "x")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(withOrigin(t, push), newGroup(tenant, "g1", "Admins"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(withOrigin(t, pull), groupRef(tenant, "g1"), members(store.MemberDelta{Add: memberList("u1")})); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(withOrigin(t, imp), userRef(tenant, "u1"), 0); err != nil {
		t.Fatal(err)
	}
	want := []store.Origin{push, pull, push, pull, imp}
	cs := changes(t, s, tenant, 0)
	if len(cs) != len(want) {
		t.Fatalf("journal has %d entries, want %d: %+v", len(cs), len(want), cs)
	}
	for i, c := range cs {
		wantEqual(t, "entry "+c.ID+" "+string(c.Op)+" Origin", c.Origin, want[i])
	}
	wantIDs(t, "member entry Added", cs[3].Added, []string{"u1"})
	if len(cs[3].Changed) != 0 {
		t.Fatalf("membership-only update changed attributes %+v", cs[3].Changed)
	}
	wantEqual(t, "membership-only update Name", cs[3].Name, "Admins")
}

func testChangedAttrs(t *testing.T, s store.Store) {
	const tenant = "prov-changed"
	ctx := ctxT(t)
	emails := []any{map[string]any{"value": "a@example.com", "primary": true}}
	u := newUser(tenant, "u1", "alice", "active", true, "emails", emails, "title", "Engineer",
		enterprise, map[string]any{"department": "R&D", "employeeNumber": "42"})
	if _, err := s.Create(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	// active off, emails removed, title and the department changed, a
	// manager added, employeeNumber unchanged, userName renamed.
	if _, err := s.Update(ctx, userRef(tenant, "u1"), func(r *store.Resource) (store.MemberDelta, error) {
		r.Attrs["active"] = false
		r.Attrs["userName"] = "alice.b"
		delete(r.Attrs, "emails")
		r.Attrs["title"] = "Manager"
		ext := r.Attrs[enterprise].(map[string]any)
		ext["department"] = "Sales"
		ext["manager"] = map[string]any{"value": "m1"}
		return store.MemberDelta{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, newGroup(tenant, "g1", "Staff", "externalId", "x1"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, groupRef(tenant, "g1"), setAttr("displayName", "Everyone")); err != nil {
		t.Fatal(err)
	}
	cs := changes(t, s, tenant, 0)
	if len(cs) != 4 {
		t.Fatalf("journal has %d entries, want 4: %+v", len(cs), cs)
	}
	type ac = store.AttrChange
	wantChanged(t, "user create", cs[0].Changed, []ac{
		{Path: "active", New: true},
		{Path: "emails", New: emails},
		{Path: "title"},
		{Path: enterprise + ":department"},
		{Path: enterprise + ":employeeNumber"},
		{Path: "userName", New: "alice"},
	})
	wantEqual(t, "user create Name", cs[0].Name, "alice")
	wantChanged(t, "user update", cs[1].Changed, []ac{
		{Path: "active", Old: true, New: false},
		{Path: "emails", Old: emails},
		{Path: "title"},
		{Path: enterprise + ":department"},
		{Path: enterprise + ":manager"},
		{Path: "userName", Old: "alice", New: "alice.b"},
	})
	wantEqual(t, "user update Name (after the write)", cs[1].Name, "alice.b")
	wantChanged(t, "group create", cs[2].Changed, []ac{
		{Path: "displayName", New: "Staff"},
		{Path: "externalId", New: "x1"},
	})
	wantChanged(t, "group rename", cs[3].Changed, []ac{{Path: "displayName", Old: "Staff", New: "Everyone"}})
	wantEqual(t, "group rename Name", cs[3].Name, "Everyone")
}

// wantChanged compares AttrChanges (sorted by path, bytewise) by path and canonical JSON values.
func wantChanged(t *testing.T, what string, got, want []store.AttrChange) {
	t.Helper()
	if canon(t, got) != canon(t, want) {
		t.Fatalf("%s: Changed = %s, want %s", what, canon(t, got), canon(t, want))
	}
}

func testNameAfterDelete(t *testing.T, s store.Store) {
	const tenant = "prov-delete"
	ctx := ctxT(t)
	mustCreate(t, s, newUser(tenant, "u1", "carol", "displayName", "Carol C"))
	mustCreate(t, s, newGroup(tenant, "g1", "Ops"), "u1")
	if err := s.Delete(ctx, userRef(tenant, "u1"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, groupRef(tenant, "g1"), 0); err != nil {
		t.Fatal(err)
	}
	cs := changes(t, s, tenant, 0)
	if len(cs) != 4 {
		t.Fatalf("journal has %d entries, want 4: %+v", len(cs), cs)
	}
	for i, want := range []struct {
		op   store.ChangeOp
		name string
	}{{store.OpCreate, "carol"}, {store.OpCreate, "Ops"}, {store.OpDelete, "carol"}, {store.OpDelete, "Ops"}} {
		c := cs[i]
		if c.Op != want.op || c.Name != want.name {
			t.Fatalf("entry %d: %s %s named %q, want %s named %q", i, c.Op, c.ID, c.Name, want.op, want.name)
		}
		wantEqual(t, "entry Origin", c.Origin, TestOrigin)
	}
	if len(cs[2].Changed) != 0 || len(cs[3].Changed) != 0 {
		t.Fatalf("deletes changed attributes: %+v, %+v", cs[2].Changed, cs[3].Changed)
	}
}

func testWriteWithoutOrigin(t *testing.T, s store.Store) {
	const tenant = "prov-none"
	mustCreate(t, s, newUser(tenant, "u1", "dave"))
	mustCreate(t, s, newGroup(tenant, "g1", "G"))
	before := changes(t, s, tenant, 0)
	bare, cancel := context.WithTimeout(context.Background(), suiteTimeout)
	defer cancel()
	for name, ctx := range map[string]context.Context{
		"no origin":             bare,
		"origin without source": store.WithOrigin(bare, store.Origin{Actor: "someone"}),
	} {
		_, err := s.Create(ctx, newUser(tenant, "u2", "erin"), nil)
		wantErr(t, err, store.ErrNoOrigin, name+": Create")
		called := false
		_, err = s.Update(ctx, userRef(tenant, "u1"), func(r *store.Resource) (store.MemberDelta, error) {
			called = true
			r.Attrs["title"] = "x"
			return store.MemberDelta{}, nil
		})
		wantErr(t, err, store.ErrNoOrigin, name+": Update")
		if called {
			t.Fatalf("%s: Update called fn without an origin", name)
		}
		_, err = s.Update(ctx, groupRef(tenant, "g1"), members(store.MemberDelta{Add: memberList("u1")}))
		wantErr(t, err, store.ErrNoOrigin, name+": Update members")
		wantErr(t, s.Delete(ctx, userRef(tenant, "u1"), 0), store.ErrNoOrigin, name+": Delete")
	}
	if _, err := s.Get(ctxT(t), userRef(tenant, "u2")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Create without origin stored the user: %v", err)
	}
	if got := mustGet(t, s, userRef(tenant, "u1")); got.Version != 1 || got.Attrs["title"] != nil {
		t.Fatalf("Update without origin wrote: %+v", got)
	}
	wantIDs(t, "members after Update without origin", memberIDs(t, s, groupRef(tenant, "g1")), nil)
	if after := changes(t, s, tenant, 0); !reflect.DeepEqual(after, before) {
		t.Fatalf("writes without origin journaled: %+v", after[len(before):])
	}
}
