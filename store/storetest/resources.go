package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

func testCreateGet(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	before := time.Now().Add(-time.Second)
	in := newUser(tenantA, "", "Alice",
		"displayName", "Alice A",
		"active", true,
		"name", map[string]any{"givenName": "Alice", "familyName": "A"},
		"emails", []any{map[string]any{"value": "a@example.com", "type": "work", "primary": true}},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", map[string]any{"employeeNumber": "7"},
	)
	out, err := s.Create(ctx, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.ID == "" {
		t.Fatal("Create did not assign an id")
	}
	if out.Version != 1 || out.Kind != store.User || out.Tenant != tenantA {
		t.Fatalf("Create returned %+v", out.Ref)
	}
	if out.Created.Before(before) || out.Created.After(time.Now().Add(time.Second)) {
		t.Fatalf("Created = %v, want about now", out.Created)
	}
	if !out.LastModified.Equal(out.Created) {
		t.Fatalf("LastModified %v != Created %v", out.LastModified, out.Created)
	}
	got := mustGet(t, s, userRef(tenantA, out.ID))
	if got.Version != 1 || !got.Created.Equal(out.Created) || !got.LastModified.Equal(out.LastModified) {
		t.Fatalf("Get = v%d %v %v, want v1 %v", got.Version, got.Created, got.LastModified, out.Created)
	}
	wantEqual(t, "Get attrs", canon(t, got.Attrs), canon(t, in.Attrs))
	if got.Ref != out.Ref {
		t.Fatalf("Get ref %+v, want %+v", got.Ref, out.Ref)
	}
	// A second Create gets a different id.
	out2 := mustCreate(t, s, newUser(tenantA, "", "bob"))
	if out2.ID == out.ID {
		t.Fatal("two creates got the same id")
	}
	// The same id as the wrong kind is not found.
	_, err = s.Get(ctx, groupRef(tenantA, out.ID))
	wantErr(t, err, store.ErrNotFound, "Get user id as group")
}

func testCreateExplicit(t *testing.T, s store.Store) {
	created := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	r := newGroup(tenantA, "my-id", "G")
	r.Created = created
	out := mustCreate(t, s, r)
	if out.ID != "my-id" {
		t.Fatalf("id = %q, want my-id", out.ID)
	}
	got := mustGet(t, s, groupRef(tenantA, "my-id"))
	if !got.Created.Equal(created) {
		t.Fatalf("Created = %v, want %v", got.Created, created)
	}
	if got.LastModified.Before(created) {
		t.Fatalf("LastModified %v before Created %v", got.LastModified, created)
	}
}

// testCreateImported: Create keeps a given id, version, created and
// lastModified exactly (to the nanosecond), as `scimbridge import` needs,
// for users and for groups created with members; the journal entry of the
// creation carries that version; later updates count on from it.
func testCreateImported(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	created := time.Date(2021, 3, 4, 5, 6, 7, 123456789, time.UTC)
	modified := time.Date(2023, 8, 9, 10, 11, 12, 987654321, time.UTC)
	u := newUser(tenantA, "imported-user", "alice")
	u.Version, u.Created, u.LastModified = 42, created, modified
	out := mustCreate(t, s, u)
	if out.ID != "imported-user" || out.Version != 42 || !out.Created.Equal(created) || !out.LastModified.Equal(modified) {
		t.Fatalf("Create returned %s v%d %v %v, want imported-user v42 %v %v", out.ID, out.Version, out.Created, out.LastModified, created, modified)
	}
	g := newGroup(tenantA, "imported-group", "G")
	g.Version, g.Created, g.LastModified = 7, created, modified
	if _, err := s.Create(ctx, g, []store.Member{{Value: "imported-user"}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ref     store.Ref
		version int64
	}{{userRef(tenantA, "imported-user"), 42}, {groupRef(tenantA, "imported-group"), 7}} {
		got := mustGet(t, s, c.ref)
		if got.Version != c.version || !got.Created.Equal(created) || !got.LastModified.Equal(modified) {
			t.Fatalf("Get %s = v%d %v %v, want v%d %v %v", c.ref.ID, got.Version, got.Created, got.LastModified, c.version, created, modified)
		}
		if got.Created.Nanosecond() != created.Nanosecond() || got.LastModified.Nanosecond() != modified.Nanosecond() {
			t.Fatalf("Get %s lost sub-second precision: %v %v", c.ref.ID, got.Created, got.LastModified)
		}
	}
	ms, err := s.Members(ctx, groupRef(tenantA, "imported-group"), "", 0)
	if err != nil || len(ms) != 1 || ms[0].Value != "imported-user" {
		t.Fatalf("Members = %+v, %v", ms, err)
	}
	ch, err := s.Changes(ctx, tenantA, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string]int64{}
	for _, c := range ch {
		if c.Op == store.OpCreate {
			versions[c.ID] = c.Version
		}
	}
	if versions["imported-user"] != 42 || versions["imported-group"] != 7 {
		t.Fatalf("journal create versions = %v, want imported-user 42, imported-group 7", versions)
	}
	// An update counts on from the imported version.
	up, err := s.Update(ctx, userRef(tenantA, "imported-user"), func(r *store.Resource) (store.MemberDelta, error) {
		r.Attrs["displayName"] = "Alice"
		return store.MemberDelta{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if up.Version != 43 || !up.Created.Equal(created) || !up.LastModified.After(modified) {
		t.Fatalf("Update = v%d %v %v, want v43, created kept, lastModified later", up.Version, up.Created, up.LastModified)
	}
}

func testGetNotFound(t *testing.T, s store.Store) {
	_, err := s.Get(ctxT(t), userRef(tenantA, "nope"))
	wantErr(t, err, store.ErrNotFound, "Get missing")
}

func testUpdate(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	u := mustCreate(t, s, newUser(tenantA, "u1", "alice", "displayName", "Alice"))
	time.Sleep(2 * time.Millisecond)
	out, err := s.Update(ctx, u.Ref, func(r *store.Resource) (store.MemberDelta, error) {
		if r.Version != 1 || r.Attrs["displayName"] != "Alice" {
			t.Errorf("fn got %d %v", r.Version, r.Attrs)
		}
		r.Attrs["displayName"] = "Alice B"
		r.Attrs["title"] = "Boss"
		return store.MemberDelta{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Version != 2 {
		t.Fatalf("Version = %d, want 2", out.Version)
	}
	if !out.Created.Equal(u.Created) {
		t.Fatalf("Created changed: %v -> %v", u.Created, out.Created)
	}
	if !out.LastModified.After(u.LastModified) {
		t.Fatalf("LastModified %v not after %v", out.LastModified, u.LastModified)
	}
	got := mustGet(t, s, u.Ref)
	if got.Version != 2 || got.Attrs["displayName"] != "Alice B" || got.Attrs["title"] != "Boss" {
		t.Fatalf("Get after update: v%d %v", got.Version, got.Attrs)
	}
	if !got.LastModified.Equal(out.LastModified) || !got.Created.Equal(u.Created) {
		t.Fatalf("Get timestamps %v %v, want %v %v", got.Created, got.LastModified, u.Created, out.LastModified)
	}
	// Removing an attribute is a change too.
	out, err = s.Update(ctx, u.Ref, func(r *store.Resource) (store.MemberDelta, error) {
		delete(r.Attrs, "title")
		return store.MemberDelta{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Version != 3 {
		t.Fatalf("Version = %d, want 3", out.Version)
	}
	if _, ok := mustGet(t, s, u.Ref).Attrs["title"]; ok {
		t.Fatal("title still present")
	}
	// The new userName is what uniqueness now applies to.
	if _, err := s.Update(ctx, u.Ref, setAttr("userName", "alice2")); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, newUser(tenantA, "u2", "alice"))
	_, err = s.Create(ctx, newUser(tenantA, "u3", "ALICE2"), nil)
	wantConflict(t, err, "userName", "create with renamed userName")
}

func testUpdateNoChange(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	u := mustCreate(t, s, newUser(tenantA, "u1", "alice", "displayName", "Alice", "emails",
		[]any{map[string]any{"value": "a@x", "primary": true}}))
	g := mustCreate(t, s, newGroup(tenantA, "g1", "G"), "u1")
	seq := lastSeq(t, s, tenantA)
	out, err := s.Update(ctx, u.Ref, func(r *store.Resource) (store.MemberDelta, error) {
		r.Attrs["displayName"] = "Alice"
		r.Attrs["emails"] = []any{map[string]any{"primary": true, "value": "a@x"}}
		return store.MemberDelta{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Version != 1 || !out.LastModified.Equal(u.LastModified) {
		t.Fatalf("no-op update: v%d %v, want v1 %v", out.Version, out.LastModified, u.LastModified)
	}
	// Re-adding an existing member, removing a non-member, adding unknown
	// ids and the group itself change nothing either.
	out, err = s.Update(ctx, g.Ref, members(store.MemberDelta{
		Add: memberList("u1", "nobody", "g1"), Remove: []string{"not-a-member"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if out.Version != 1 {
		t.Fatalf("no-op member update bumped version to %d", out.Version)
	}
	// Replace with the same set changes nothing.
	out, err = s.Update(ctx, g.Ref, members(store.MemberDelta{Replace: true, Add: memberList("u1")}))
	if err != nil {
		t.Fatal(err)
	}
	if out.Version != 1 {
		t.Fatalf("no-op replace bumped version to %d", out.Version)
	}
	if got := mustGet(t, s, u.Ref); got.Version != 1 {
		t.Fatalf("stored version %d, want 1", got.Version)
	}
	if got := mustGet(t, s, g.Ref); got.Version != 1 {
		t.Fatalf("stored group version %d, want 1", got.Version)
	}
	if cs := changes(t, s, tenantA, seq); len(cs) != 0 {
		t.Fatalf("no-op updates journaled %+v", cs)
	}
}

var errTest = errors.New("storetest: fn failed")

func testUpdateFnError(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	mustCreate(t, s, newUser(tenantA, "u2", "bob"))
	u := mustCreate(t, s, newUser(tenantA, "u1", "alice", "displayName", "Alice"))
	g := mustCreate(t, s, newGroup(tenantA, "g1", "G"))
	seq := lastSeq(t, s, tenantA)
	for _, target := range []error{errTest, store.ErrPrecondition} {
		_, err := s.Update(ctx, u.Ref, func(r *store.Resource) (store.MemberDelta, error) {
			r.Attrs["displayName"] = "changed"
			return store.MemberDelta{}, target
		})
		wantErr(t, err, target, "Update with failing fn")
		_, err = s.Update(ctx, g.Ref, func(r *store.Resource) (store.MemberDelta, error) {
			r.Attrs["displayName"] = "changed"
			return store.MemberDelta{Add: memberList("u2")}, target
		})
		wantErr(t, err, target, "group Update with failing fn")
	}
	if got := mustGet(t, s, u.Ref); got.Version != 1 || got.Attrs["displayName"] != "Alice" {
		t.Fatalf("failed update wrote: v%d %v", got.Version, got.Attrs)
	}
	if got := mustGet(t, s, g.Ref); got.Version != 1 || got.Attrs["displayName"] != "G" {
		t.Fatalf("failed update wrote: v%d %v", got.Version, got.Attrs)
	}
	wantIDs(t, "members after failed update", memberIDs(t, s, g.Ref), nil)
	if cs := changes(t, s, tenantA, seq); len(cs) != 0 {
		t.Fatalf("failed updates journaled %+v", cs)
	}
}

func testUpdateNotFound(t *testing.T, s store.Store) {
	called := false
	_, err := s.Update(ctxT(t), userRef(tenantA, "nope"), func(r *store.Resource) (store.MemberDelta, error) {
		called = true
		return store.MemberDelta{}, nil
	})
	wantErr(t, err, store.ErrNotFound, "Update missing")
	if called {
		t.Fatal("fn called for a missing resource")
	}
	mustCreate(t, s, newUser(tenantA, "u1", "alice"))
	_, err = s.Update(ctxT(t), groupRef(tenantA, "u1"), setAttr("displayName", "x"))
	wantErr(t, err, store.ErrNotFound, "Update user as group")
}

func testUpdateDeepCopy(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	u := mustCreate(t, s, newUser(tenantA, "u1", "alice",
		"name", map[string]any{"givenName": "Alice"},
		"emails", []any{map[string]any{"value": "a@x"}}))
	_, err := s.Update(ctx, u.Ref, func(r *store.Resource) (store.MemberDelta, error) {
		r.Attrs["name"].(map[string]any)["givenName"] = "Mallory"
		r.Attrs["emails"].([]any)[0].(map[string]any)["value"] = "m@x"
		return store.MemberDelta{}, errTest
	})
	wantErr(t, err, errTest, "Update")
	got := mustGet(t, s, u.Ref)
	if canon(t, got.Attrs["name"]) != `{"givenName":"Alice"}` || canon(t, got.Attrs["emails"]) != `[{"value":"a@x"}]` {
		t.Fatalf("fn's copy leaked into the store: %v", got.Attrs)
	}
	// A nested change is detected as a change.
	out, err := s.Update(ctx, u.Ref, func(r *store.Resource) (store.MemberDelta, error) {
		r.Attrs["name"].(map[string]any)["givenName"] = "Alicia"
		return store.MemberDelta{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Version != 2 || canon(t, mustGet(t, s, u.Ref).Attrs["name"]) != `{"givenName":"Alicia"}` {
		t.Fatalf("nested change not written: v%d", out.Version)
	}
}

func testDelete(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	u := mustCreate(t, s, newUser(tenantA, "u1", "alice", "externalId", "e1"))
	if err := s.Delete(ctx, groupRef(tenantA, "u1"), 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Delete user as group: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, u.Ref, 0); err != nil {
		t.Fatal(err)
	}
	_, err := s.Get(ctx, u.Ref)
	wantErr(t, err, store.ErrNotFound, "Get deleted")
	wantErr(t, s.Delete(ctx, u.Ref, 0), store.ErrNotFound, "Delete twice")
	// The unique values are free again.
	mustCreate(t, s, newUser(tenantA, "u1", "ALICE", "externalId", "e1"))
}

func testDeleteIfVersion(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	u := mustCreate(t, s, newUser(tenantA, "u1", "alice"))
	if _, err := s.Update(ctx, u.Ref, setAttr("title", "x")); err != nil {
		t.Fatal(err)
	}
	seq := lastSeq(t, s, tenantA)
	wantErr(t, s.Delete(ctx, u.Ref, 1), store.ErrPrecondition, "Delete with stale version")
	mustGet(t, s, u.Ref)
	if cs := changes(t, s, tenantA, seq); len(cs) != 0 {
		t.Fatalf("failed delete journaled %+v", cs)
	}
	if err := s.Delete(ctx, u.Ref, 2); err != nil {
		t.Fatalf("Delete with current version: %v", err)
	}
	_, err := s.Get(ctx, u.Ref)
	wantErr(t, err, store.ErrNotFound, "Get deleted")
}

func testTenantIsolation(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	// The same userName, group name, externalId and even id in two tenants.
	mustCreate(t, s, newUser(tenantA, "u1", "alice", "externalId", "x"))
	mustCreate(t, s, newUser(tenantB, "u1", "alice", "externalId", "x"))
	mustCreate(t, s, newUser(tenantB, "ub", "bob"))
	mustCreate(t, s, newGroup(tenantA, "g1", "Admins"), "u1")
	mustCreate(t, s, newGroup(tenantB, "g1", "Admins"), "u1", "ub")
	mustCreate(t, s, newGroup(tenantB, "gb", "Only B"), "ub")

	// tenant A cannot see tenant B's resources.
	_, err := s.Get(ctx, userRef(tenantA, "ub"))
	wantErr(t, err, store.ErrNotFound, "Get other tenant")
	_, err = s.Update(ctx, userRef(tenantA, "ub"), setAttr("title", "x"))
	wantErr(t, err, store.ErrNotFound, "Update other tenant")
	wantErr(t, s.Delete(ctx, groupRef(tenantA, "gb"), 0), store.ErrNotFound, "Delete other tenant")
	mustGet(t, s, groupRef(tenantB, "gb"))
	if ms, err := s.Members(ctx, groupRef(tenantA, "gb"), "", 0); err == nil && len(ms) != 0 {
		t.Fatalf("Members of other tenant's group: %v", ms)
	}
	if ex, err := s.Exists(ctx, tenantA, []string{"u1", "ub", "gb"}); err != nil || len(ex) != 1 || ex["u1"] != store.User {
		t.Fatalf("Exists across tenants: %v %v", ex, err)
	}
	// A member id of another tenant is skipped.
	if _, err := s.Update(ctx, groupRef(tenantA, "g1"), members(store.MemberDelta{Add: memberList("ub")})); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "tenant A members", memberIDs(t, s, groupRef(tenantA, "g1")), []string{"u1"})
	wantIDs(t, "tenant B members", memberIDs(t, s, groupRef(tenantB, "g1")), []string{"u1", "ub"})
	mo, err := s.MemberOf(ctx, userRef(tenantA, "ub"))
	if err != nil || len(mo) != 0 {
		t.Fatalf("MemberOf other tenant's user: %v %v", mo, err)
	}
	// Query and Changes are per tenant.
	p, err := s.Query(ctx, tenantA, store.User, store.Query{Count: 10})
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != 1 || len(p.Resources) != 1 || p.Resources[0].Tenant != tenantA {
		t.Fatalf("tenant A query: %+v", p)
	}
	for _, c := range changes(t, s, tenantA, 0) {
		if c.Tenant != tenantA || c.ID == "ub" || c.ID == "gb" {
			t.Fatalf("tenant A journal has %+v", c)
		}
	}
	if n := len(changes(t, s, tenantA, 0)); n != 2 {
		t.Fatalf("tenant A journal has %d entries, want 2", n)
	}
	// Deleting in one tenant leaves the other alone.
	if err := s.Delete(ctx, userRef(tenantA, "u1"), 0); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, userRef(tenantB, "u1"))
	wantIDs(t, "tenant B members after A delete", memberIDs(t, s, groupRef(tenantB, "g1")), []string{"u1", "ub"})
	// State is per tenant too.
	if _, err := s.PutState(ctx, tenantB, "k", []byte("b"), 0); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetState(ctx, tenantA, "k")
	wantErr(t, err, store.ErrNotFound, "GetState other tenant")
	if _, err := s.PutState(ctx, tenantA, "k", []byte("a"), 0); err != nil {
		t.Fatalf("PutState same key in another tenant: %v", err)
	}
}

func testUniqueUserName(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	mustCreate(t, s, newUser(tenantA, "u1", "Alice@Example.com"))
	seq := lastSeq(t, s, tenantA)
	_, err := s.Create(ctx, newUser(tenantA, "u2", "alice@example.COM"), nil)
	wantConflict(t, err, "userName", "Create duplicate userName")
	_, err = s.Get(ctx, userRef(tenantA, "u2"))
	wantErr(t, err, store.ErrNotFound, "Get failed create")
	u3 := mustCreate(t, s, newUser(tenantA, "u3", "bob"))
	seq = lastSeq(t, s, tenantA)
	_, err = s.Update(ctx, u3.Ref, setAttr("userName", "ALICE@example.com"))
	wantConflict(t, err, "userName", "Update to duplicate userName")
	if got := mustGet(t, s, u3.Ref); got.Version != 1 || got.Attrs["userName"] != "bob" {
		t.Fatalf("failed update wrote: v%d %v", got.Version, got.Attrs)
	}
	if cs := changes(t, s, tenantA, seq); len(cs) != 0 {
		t.Fatalf("failed writes journaled %+v", cs)
	}
	p, err := s.Query(ctx, tenantA, store.User, store.Query{})
	if err != nil || p.Total != 2 {
		t.Fatalf("Total = %d (%v), want 2", p.Total, err)
	}
	// A user's displayName is not unique; a group's name may equal a userName.
	mustCreate(t, s, newUser(tenantA, "u4", "carol", "displayName", "Same"))
	mustCreate(t, s, newUser(tenantA, "u5", "dave", "displayName", "same"))
	mustCreate(t, s, newGroup(tenantA, "g1", "bob"))
}

func testDuplicateID(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	mustCreate(t, s, newUser(tenantA, "same", "alice"))
	_, err := s.Create(ctx, newUser(tenantA, "same", "bob"), nil)
	wantConflict(t, err, "id", "Create duplicate user id")
	_, err = s.Create(ctx, newGroup(tenantA, "same", "G"), nil)
	wantConflict(t, err, "id", "Create group with a user's id")
	if got := mustGet(t, s, userRef(tenantA, "same")); got.Attrs["userName"] != "alice" {
		t.Fatalf("duplicate create overwrote: %v", got.Attrs)
	}
	p, err := s.Query(ctx, tenantA, store.Group, store.Query{})
	if err != nil || p.Total != 0 {
		t.Fatalf("groups after failed create: %d %v", p.Total, err)
	}
}

func testExists(t *testing.T, s store.Store) {
	mustCreate(t, s, newUser(tenantA, "u1", "alice"))
	mustCreate(t, s, newGroup(tenantA, "g1", "G"))
	got, err := s.Exists(ctxT(t), tenantA, []string{"u1", "g1", "nope", "u1"})
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "Exists", got, map[string]store.Kind{"u1": store.User, "g1": store.Group})
	got, err = s.Exists(ctxT(t), tenantA, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("Exists(nil) = %v, %v", got, err)
	}
}

func testCancelledContext(t *testing.T, s store.Store) {
	u := mustCreate(t, s, newUser(tenantA, "u1", "alice"))
	ctx, cancel := context.WithCancel(ctxT(t))
	_, err := s.Update(ctx, u.Ref, func(r *store.Resource) (store.MemberDelta, error) {
		r.Attrs["title"] = "x"
		cancel() // the request goes away mid-write
		return store.MemberDelta{}, nil
	})
	if err == nil {
		// A backend may have committed before it noticed; then it must show.
		if mustGet(t, s, u.Ref).Version != 2 {
			t.Fatal("Update reported success but did not write")
		}
	} else if got := mustGet(t, s, u.Ref); got.Version != 1 {
		t.Fatalf("cancelled Update failed (%v) but wrote v%d", err, got.Version)
	}
	_, err = s.Create(ctx, newUser(tenantA, "u2", "bob"), nil)
	wantErr(t, err, context.Canceled, "Create with a cancelled context")
	// Nothing is left locked: the next writes go through.
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := s.Create(ctxT(t), newUser(tenantA, "u3", "carol"), nil); err != nil {
			t.Error(err)
		}
		if _, err := s.Update(ctxT(t), u.Ref, setAttr("title", "y")); err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("writes blocked after a cancelled request")
	}
}

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}
