package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// StrictTenant is the tenant that stores under test must treat with strict
// uniqueness (externalId per kind and group displayName unique, besides
// userName); every other tenant follows RFC 7643 (only userName unique).
const StrictTenant = "tenant-strict"

// RFC 7643 tenants: a group displayName may repeat, and a filter on it
// returns every match.
func testGroupDisplayNameNotUnique(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	mustCreate(t, s, newGroup(tenantA, "g1", "Admins"))
	mustCreate(t, s, newGroup(tenantA, "g2", "ADMINS"))
	g3 := mustCreate(t, s, newGroup(tenantA, "g3", "Users"))
	if _, err := s.Update(ctx, g3.Ref, setAttr("displayName", "admins")); err != nil {
		t.Fatalf("rename to a used displayName: %v", err)
	}
	ids, total := queryIDs(t, s, store.Group, store.Query{Filter: parse(t, store.Group, `displayName eq "Admins"`), Count: 10})
	wantIDs(t, "displayName eq Admins", ids, []string{"g1", "g2", "g3"})
	wantEqual(t, "total", total, 3)
	// userName stays unique in every tenant.
	mustCreate(t, s, newUser(tenantA, "u1", "alice"))
	_, err := s.Create(ctx, newUser(tenantA, "u2", "ALICE"), nil)
	wantConflict(t, err, "userName", "Create duplicate userName in an RFC 7643 tenant")
}

// RFC 7643 tenants: an externalId may repeat, and a filter on it returns
// every match.
func testExternalIDNotUnique(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	mustCreate(t, s, newUser(tenantA, "u1", "alice", "externalId", "ext-1"))
	mustCreate(t, s, newUser(tenantA, "u2", "bob", "externalId", "ext-1"))
	u3 := mustCreate(t, s, newUser(tenantA, "u3", "carol"))
	if _, err := s.Update(ctx, u3.Ref, setAttr("externalId", "ext-1")); err != nil {
		t.Fatalf("update to a used externalId: %v", err)
	}
	mustCreate(t, s, newGroup(tenantA, "g1", "G1", "externalId", "ext-1"))
	mustCreate(t, s, newGroup(tenantA, "g2", "G2", "externalId", "ext-1"))
	ids, total := queryIDs(t, s, store.User, store.Query{Filter: parse(t, store.User, `externalId eq "ext-1"`), Count: 10})
	wantIDs(t, "users externalId eq ext-1", ids, []string{"u1", "u2", "u3"})
	wantEqual(t, "total", total, 3)
	ids, _ = queryIDs(t, s, store.Group, store.Query{Filter: parse(t, store.Group, `externalId eq "ext-1"`), Count: 10})
	wantIDs(t, "groups externalId eq ext-1", ids, []string{"g1", "g2"})
}

func testStrictGroupDisplayName(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	mustCreate(t, s, newGroup(StrictTenant, "g1", "Admins"))
	seq := lastSeq(t, s, StrictTenant)
	_, err := s.Create(ctx, newGroup(StrictTenant, "g2", "ADMINS"), nil)
	wantConflict(t, err, "displayName", "Create duplicate group displayName")
	_, err = s.Get(ctx, groupRef(StrictTenant, "g2"))
	wantErr(t, err, store.ErrNotFound, "Get failed create")
	g3 := mustCreate(t, s, newGroup(StrictTenant, "g3", "Users"))
	seq = lastSeq(t, s, StrictTenant)
	_, err = s.Update(ctx, g3.Ref, setAttr("displayName", "admins"))
	wantConflict(t, err, "displayName", "Update to duplicate group displayName")
	if got := mustGet(t, s, g3.Ref); got.Attrs["displayName"] != "Users" || got.Version != 1 {
		t.Fatalf("failed update wrote: %v", got.Attrs)
	}
	if cs := changes(t, s, StrictTenant, seq); len(cs) != 0 {
		t.Fatalf("failed writes journaled %+v", cs)
	}
	// A user may share a group's displayName, and users' displayNames repeat.
	mustCreate(t, s, newUser(StrictTenant, "u1", "alice", "displayName", "Admins"))
	mustCreate(t, s, newUser(StrictTenant, "u2", "bob", "displayName", "admins"))
	// Renaming and deleting free the name.
	if _, err := s.Update(ctx, groupRef(StrictTenant, "g1"), setAttr("displayName", "Root")); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, newGroup(StrictTenant, "g4", "admins"))
	if err := s.Delete(ctx, groupRef(StrictTenant, "g4"), 0); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, newGroup(StrictTenant, "g5", "Admins"))
	// Strictness is per tenant: another tenant may repeat the name.
	mustCreate(t, s, newGroup(tenantA, "g1", "Admins"))
	mustCreate(t, s, newGroup(tenantA, "g2", "Admins"))
}

func testStrictExternalID(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	mustCreate(t, s, newUser(StrictTenant, "u1", "alice", "externalId", "ext-1"))
	_, err := s.Create(ctx, newUser(StrictTenant, "u2", "bob", "externalId", "ext-1"), nil)
	wantConflict(t, err, "externalId", "Create duplicate externalId")
	// externalId is case-exact and unique per kind only.
	mustCreate(t, s, newUser(StrictTenant, "u3", "carol", "externalId", "EXT-1"))
	mustCreate(t, s, newGroup(StrictTenant, "g1", "G1", "externalId", "ext-1"))
	_, err = s.Create(ctx, newGroup(StrictTenant, "g2", "G2", "externalId", "ext-1"), nil)
	wantConflict(t, err, "externalId", "Create duplicate group externalId")
	// Several resources without externalId are fine.
	mustCreate(t, s, newUser(StrictTenant, "u4", "dave"))
	mustCreate(t, s, newUser(StrictTenant, "u5", "eve"))
	_, err = s.Update(ctx, userRef(StrictTenant, "u4"), setAttr("externalId", "EXT-1"))
	wantConflict(t, err, "externalId", "Update to duplicate externalId")
	// Removing it frees it.
	if _, err := s.Update(ctx, userRef(StrictTenant, "u3"), func(r *store.Resource) (store.MemberDelta, error) {
		delete(r.Attrs, "externalId")
		return store.MemberDelta{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, userRef(StrictTenant, "u4"), setAttr("externalId", "EXT-1")); err != nil {
		t.Fatalf("update to a freed externalId: %v", err)
	}
	// Another tenant may repeat it.
	mustCreate(t, s, newUser(tenantA, "u1", "alice", "externalId", "ext-1"))
	mustCreate(t, s, newUser(tenantA, "u2", "bob", "externalId", "ext-1"))
}

// testStrictParallelCreates creates resources sharing a strict key at the
// same moment: exactly one of them wins, in a strict tenant only.
func testStrictParallelCreates(t *testing.T, s store.Store) {
	const n = 8
	ctx := ctxT(t)
	for _, tc := range []struct {
		attr string
		make func(tenant string, i int) store.Resource
	}{
		{"displayName", func(tenant string, i int) store.Resource {
			return newGroup(tenant, "", fmt.Sprintf("Same%c", "Aa"[i%2]))
		}},
		{"externalId", func(tenant string, i int) store.Resource {
			return newUser(tenant, "", fmt.Sprintf("user%d", i), "externalId", "ext")
		}},
	} {
		for _, tenant := range []string{StrictTenant, tenantA} {
			errs := make([]error, n)
			parallel(n, func(i int) { _, errs[i] = s.Create(ctx, tc.make(tenant, i), nil) })
			ok := 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case tenant == StrictTenant:
					wantConflict(t, err, tc.attr, "parallel create "+tc.attr)
				default:
					t.Fatalf("parallel create %s in an RFC 7643 tenant: %v", tc.attr, err)
				}
			}
			want := n
			if tenant == StrictTenant {
				want = 1
			}
			if ok != want {
				t.Fatalf("%s %s: %d creates succeeded, want %d", tenant, tc.attr, ok, want)
			}
		}
	}
}

// testStrictParallelRenames renames several groups to one name at the same
// moment: exactly one rename wins.
func testStrictParallelRenames(t *testing.T, s store.Store) {
	const n = 8
	ctx := ctxT(t)
	for i := range n {
		mustCreate(t, s, newGroup(StrictTenant, fmt.Sprintf("g%d", i), fmt.Sprintf("Group %d", i)))
	}
	errs := make([]error, n)
	parallel(n, func(i int) {
		_, errs[i] = s.Update(ctx, groupRef(StrictTenant, fmt.Sprintf("g%d", i)), setAttr("displayName", "Target"))
	})
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		wantConflict(t, err, "displayName", "parallel rename")
	}
	if ok != 1 {
		t.Fatalf("%d renames succeeded, want 1", ok)
	}
	p, err := s.Query(ctx, StrictTenant, store.Group, store.Query{Filter: parse(t, store.Group, `displayName eq "target"`), Count: 10})
	if err != nil || p.Total != 1 {
		t.Fatalf("groups named Target: %d (%v), want 1", p.Total, err)
	}
}

// Opener opens a backend's database, the same one on every call, with the
// given tenants strict (the backend's WithStrictUniqueness).
type Opener func(ctx context.Context, strict ...string) (store.Store, error)

// RunStrictOpenTests checks how Open switches tenants between the RFC 7643
// and the strict rules: turning strict on over duplicates fails and lists
// them, without changing data, and strict keys are enforced again after
// being off. newOpener returns an Opener for a fresh, empty database.
func RunStrictOpenTests(t *testing.T, newOpener func(t *testing.T) Opener) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, open Opener)
	}{
		{"StrictOverDuplicatesFails", testStrictOverDuplicates},
		{"StrictOffAndOnAgain", testStrictOffAndOn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withTimeout(t, suiteTimeout, func() { tc.run(t, newOpener(t)) })
		})
	}
}

// reopen opens the database, failing the test on error; the store is
// closed at cleanup unless the test closes it first.
func reopen(t *testing.T, open Opener, strict ...string) store.Store {
	t.Helper()
	s, err := open(ctxT(t), strict...)
	if err != nil {
		t.Fatalf("open with strict %v: %v", strict, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testStrictOverDuplicates(t *testing.T, open Opener) {
	ctx := ctxT(t)
	s := reopen(t, open)
	mustCreate(t, s, newGroup(tenantA, "g1", "Admins"))
	mustCreate(t, s, newGroup(tenantA, "g2", "ADMINS"))
	mustCreate(t, s, newGroup(tenantA, "g3", "Other", "externalId", "e1"))
	mustCreate(t, s, newUser(tenantA, "u1", "alice", "externalId", "e1"))
	mustCreate(t, s, newUser(tenantA, "u2", "bob", "externalId", "e1"))
	mustCreate(t, s, newUser(tenantA, "u3", "carol", "externalId", "E1"))
	// tenantB stays at the RFC rules: its duplicates do not matter.
	mustCreate(t, s, newGroup(tenantB, "g1", "Admins"))
	mustCreate(t, s, newGroup(tenantB, "g2", "Admins"))
	s.Close()

	_, err := open(ctx, tenantA)
	var ue *store.UniquenessError
	if !errors.As(err, &ue) {
		t.Fatalf("open with %s strict over duplicates: got %v, want a *store.UniquenessError", tenantA, err)
	}
	if len(ue.Duplicates) != 2 {
		t.Fatalf("duplicates %+v, want 2", ue.Duplicates)
	}
	dn, ext := ue.Duplicates[0], ue.Duplicates[1]
	if dn.Tenant != tenantA || dn.Kind != store.Group || dn.Attribute != "displayName" ||
		!strings.EqualFold(dn.Value, "admins") || !slices.Equal(dn.IDs, []string{"g1", "g2"}) {
		t.Fatalf("first duplicate %+v, want tenant-a Group displayName Admins g1, g2", dn)
	}
	if ext.Tenant != tenantA || ext.Kind != store.User || ext.Attribute != "externalId" ||
		ext.Value != "e1" || !slices.Equal(ext.IDs, []string{"u1", "u2"}) {
		t.Fatalf("second duplicate %+v, want tenant-a User externalId e1 u1, u2", ext)
	}
	for _, want := range []string{`tenant "tenant-a"`, "displayName", "externalId", `"e1"`, "g1, g2", "u1, u2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}

	// Nothing changed, and the RFC rules still apply.
	s = reopen(t, open)
	for _, ref := range []store.Ref{groupRef(tenantA, "g1"), groupRef(tenantA, "g2"), userRef(tenantA, "u1"), userRef(tenantA, "u2")} {
		mustGet(t, s, ref)
	}
	mustCreate(t, s, newGroup(tenantA, "g4", "admins"))
	// Fix the duplicates; then strict opens and is enforced.
	for _, id := range []string{"g2", "g4"} {
		if _, err := s.Update(ctx, groupRef(tenantA, id), setAttr("displayName", "Renamed "+id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, userRef(tenantA, "u2"), 0); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = reopen(t, open, tenantA)
	_, err = s.Create(ctx, newGroup(tenantA, "g5", "ADMINS"), nil)
	wantConflict(t, err, "displayName", "create over an existing name after strict was turned on")
	_, err = s.Update(ctx, userRef(tenantA, "u3"), setAttr("externalId", "e1"))
	wantConflict(t, err, "externalId", "update to an existing externalId after strict was turned on")
	// tenantB keeps the RFC rules.
	mustCreate(t, s, newGroup(tenantB, "g3", "Admins"))
}

func testStrictOffAndOn(t *testing.T, open Opener) {
	ctx := ctxT(t)
	s := reopen(t, open, tenantA)
	mustCreate(t, s, newGroup(tenantA, "g1", "Admins", "externalId", "e1"))
	_, err := s.Create(ctx, newGroup(tenantA, "g2", "Admins"), nil)
	wantConflict(t, err, "displayName", "strict create")
	s.Close()

	s = reopen(t, open)
	mustCreate(t, s, newGroup(tenantA, "g2", "Admins", "externalId", "e1"))
	s.Close()
	if _, err := open(ctx, tenantA); err == nil {
		t.Fatal("strict turned on again over duplicates made while it was off: no error")
	}
	s = reopen(t, open)
	if err := s.Delete(ctx, groupRef(tenantA, "g2"), 0); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// On again: the keys of the resources written before are enforced.
	s = reopen(t, open, tenantA)
	_, err = s.Create(ctx, newGroup(tenantA, "g3", "ADMINS"), nil)
	wantConflict(t, err, "displayName", "create after strict was turned on again")
	_, err = s.Create(ctx, newGroup(tenantA, "g3", "Other", "externalId", "e1"), nil)
	wantConflict(t, err, "externalId", "create after strict was turned on again")
}
