package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/testscale"
	"github.com/scimbridge/scimbridge/store"
)

func testMembers(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	mustCreate(t, s, newUser(tenantA, "u1", "alice", "displayName", "Alice A"))
	mustCreate(t, s, newUser(tenantA, "u2", "bob"))
	mustCreate(t, s, newUser(tenantA, "u3", "carol"))
	mustCreate(t, s, newGroup(tenantA, "g2", "Nested"))
	// Initial members: unknown ids and the group itself are skipped.
	g := mustCreate(t, s, newGroup(tenantA, "g1", "G"), "u2", "u1", "nobody", "g1", "u1")
	ms, err := s.Members(ctx, g.Ref, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "initial members", ms, []store.Member{
		{Value: "u1", Type: store.User, Display: "Alice A"},
		{Value: "u2", Type: store.User, Display: "bob"},
	})
	cs := changes(t, s, tenantA, 0)
	wantIDs(t, "create journal Added", cs[len(cs)-1].Added, []string{"u1", "u2"})

	// Add (with a duplicate, an existing member, an unknown id, itself and a group).
	out, err := s.Update(ctx, g.Ref, members(store.MemberDelta{Add: memberList("u3", "u3", "u1", "ghost", "g1", "g2")}))
	if err != nil {
		t.Fatal(err)
	}
	if out.Version != 2 {
		t.Fatalf("Version = %d, want 2", out.Version)
	}
	ms, err = s.Members(ctx, g.Ref, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "after add", ms, []store.Member{
		{Value: "g2", Type: store.Group, Display: "Nested"},
		{Value: "u1", Type: store.User, Display: "Alice A"},
		{Value: "u2", Type: store.User, Display: "bob"},
		{Value: "u3", Type: store.User, Display: "carol"},
	})
	c := changes(t, s, tenantA, 0)
	last := c[len(c)-1]
	wantIDs(t, "add journal Added", last.Added, []string{"g2", "u3"})
	wantIDs(t, "add journal Removed", last.Removed, nil)
	if last.Version != 2 || last.Op != store.OpUpdate || last.ID != "g1" || last.Kind != store.Group {
		t.Fatalf("add journal entry %+v", last)
	}

	// Remove (one member, one non-member).
	if _, err := s.Update(ctx, g.Ref, members(store.MemberDelta{Remove: []string{"u2", "u9"}})); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "after remove", memberIDs(t, s, g.Ref), []string{"g2", "u1", "u3"})
	c = changes(t, s, tenantA, 0)
	last = c[len(c)-1]
	wantIDs(t, "remove journal Removed", last.Removed, []string{"u2"})
	wantIDs(t, "remove journal Added", last.Added, nil)

	// Add and remove in one write, with an attribute change.
	out, err = s.Update(ctx, g.Ref, func(r *store.Resource) (store.MemberDelta, error) {
		r.Attrs["displayName"] = "G!"
		return store.MemberDelta{Add: memberList("u2"), Remove: []string{"u1"}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Version != 4 || out.Attrs["displayName"] != "G!" {
		t.Fatalf("combined update: v%d %v", out.Version, out.Attrs)
	}
	wantIDs(t, "after add+remove", memberIDs(t, s, g.Ref), []string{"g2", "u2", "u3"})
	c = changes(t, s, tenantA, 0)
	last = c[len(c)-1]
	wantIDs(t, "combined Added", last.Added, []string{"u2"})
	wantIDs(t, "combined Removed", last.Removed, []string{"u1"})

	// Replace: only the net difference is journaled.
	if _, err := s.Update(ctx, g.Ref, members(store.MemberDelta{Replace: true, Add: memberList("u1", "u2", "nobody")})); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "after replace", memberIDs(t, s, g.Ref), []string{"u1", "u2"})
	c = changes(t, s, tenantA, 0)
	last = c[len(c)-1]
	wantIDs(t, "replace Added", last.Added, []string{"u1"})
	wantIDs(t, "replace Removed", last.Removed, []string{"g2", "u3"})

	// Replace with nothing empties the group.
	if _, err := s.Update(ctx, g.Ref, members(store.MemberDelta{Replace: true})); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "after replace with nothing", memberIDs(t, s, g.Ref), nil)

	// The group document never holds members.
	if _, ok := mustGet(t, s, g.Ref).Attrs["members"]; ok {
		t.Fatal("group document holds members")
	}
	// Members of a missing group.
	if ms, err := s.Members(ctx, groupRef(tenantA, "nope"), "", 0); err == nil && len(ms) != 0 {
		t.Fatalf("Members of a missing group: %v", ms)
	}
	// Display follows the member's current name.
	if _, err := s.Update(ctx, g.Ref, members(store.MemberDelta{Add: memberList("u2")})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, userRef(tenantA, "u2"), setAttr("displayName", "Bob B")); err != nil {
		t.Fatal(err)
	}
	ms, err = s.Members(ctx, g.Ref, "", 0)
	if err != nil || len(ms) != 1 || ms[0].Display != "Bob B" {
		t.Fatalf("Members after rename: %v %v", ms, err)
	}
}

func testMembersPaging(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	var ids []string
	for i := range 7 {
		id := fmt.Sprintf("u%d", i)
		mustCreate(t, s, newUser(tenantA, id, id))
		ids = append(ids, id)
	}
	g := mustCreate(t, s, newGroup(tenantA, "g", "G"), ids...)
	var got []string
	after := ""
	for range 10 {
		ms, err := s.Members(ctx, g.Ref, after, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) > 3 {
			t.Fatalf("limit 3 returned %d", len(ms))
		}
		if len(ms) == 0 {
			break
		}
		for _, m := range ms {
			got = append(got, m.Value)
		}
		after = ms[len(ms)-1].Value
	}
	wantIDs(t, "paged members", got, ids)
	ms, err := s.Members(ctx, g.Ref, "u4", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Value != "u5" {
		t.Fatalf("Members after u4: %v", ms)
	}
}

func testMemberOf(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	mustCreate(t, s, newUser(tenantA, "u1", "alice"))
	mustCreate(t, s, newGroup(tenantA, "gb", "Beta"), "u1")
	mustCreate(t, s, newGroup(tenantA, "ga", "Alpha"), "u1", "gb")
	mustCreate(t, s, newGroup(tenantA, "gc", "Gamma"))
	mo, err := s.MemberOf(ctx, userRef(tenantA, "u1"))
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "MemberOf u1", mo, []store.Member{
		{Value: "ga", Type: store.Group, Display: "Alpha"},
		{Value: "gb", Type: store.Group, Display: "Beta"},
	})
	mo, err = s.MemberOf(ctx, groupRef(tenantA, "gb"))
	if err != nil {
		t.Fatal(err)
	}
	if len(mo) != 1 || mo[0].Value != "ga" {
		t.Fatalf("MemberOf gb: %v", mo)
	}
	mo, err = s.MemberOf(ctx, groupRef(tenantA, "gc"))
	if err != nil || len(mo) != 0 {
		t.Fatalf("MemberOf gc: %v %v", mo, err)
	}
}

func testDeleteMemberships(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	mustCreate(t, s, newUser(tenantA, "u1", "alice"))
	mustCreate(t, s, newUser(tenantA, "u2", "bob"))
	mustCreate(t, s, newGroup(tenantA, "inner", "Inner"), "u1", "u2")
	mustCreate(t, s, newGroup(tenantA, "g1", "G1"), "u1", "inner")
	mustCreate(t, s, newGroup(tenantA, "g2", "G2"), "u1")
	seq := lastSeq(t, s, tenantA)
	if err := s.Delete(ctx, userRef(tenantA, "u1"), 0); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "inner after user delete", memberIDs(t, s, groupRef(tenantA, "inner")), []string{"u2"})
	wantIDs(t, "g1 after user delete", memberIDs(t, s, groupRef(tenantA, "g1")), []string{"inner"})
	wantIDs(t, "g2 after user delete", memberIDs(t, s, groupRef(tenantA, "g2")), nil)
	// One journal entry for the delete, none per group.
	cs := changes(t, s, tenantA, seq)
	if len(cs) != 1 || cs[0].Op != store.OpDelete || cs[0].ID != "u1" || cs[0].Kind != store.User {
		t.Fatalf("delete journal: %+v", cs)
	}
	// Deleting a group removes it from its parents and frees its members.
	if err := s.Delete(ctx, groupRef(tenantA, "inner"), 0); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "g1 after group delete", memberIDs(t, s, groupRef(tenantA, "g1")), nil)
	mo, err := s.MemberOf(ctx, userRef(tenantA, "u2"))
	if err != nil || len(mo) != 0 {
		t.Fatalf("MemberOf u2 after its group was deleted: %v %v", mo, err)
	}
	// A re-created id does not inherit old memberships.
	mustCreate(t, s, newUser(tenantA, "u1", "alice"))
	mo, err = s.MemberOf(ctx, userRef(tenantA, "u1"))
	if err != nil || len(mo) != 0 {
		t.Fatalf("MemberOf re-created u1: %v %v", mo, err)
	}
	p, err := s.Query(ctx, tenantA, store.Group, store.Query{Filter: parse(t, store.Group, `members eq "u1"`), Count: 10})
	if err != nil || p.Total != 0 {
		t.Fatalf("members eq re-created u1: %+v %v", p, err)
	}
}

func testLargeGroup(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	// 20,000 members; 2,000 under -short or the race detector, where
	// creating the members would dominate the whole suite. A tenth of that
	// unless SCIMBRIDGE_TEST_FULL=1 (CI sets it): the paths are the same.
	largeGroupSize := 20000
	if testing.Short() || raceEnabled {
		largeGroupSize = 2000
	}
	largeGroupSize = testscale.Size(largeGroupSize/10, largeGroupSize)
	start := time.Now()
	ids := make([]string, largeGroupSize)
	for i := range ids {
		ids[i] = fmt.Sprintf("m%05d", i)
		mustCreate(t, s, store.Resource{Ref: userRef(tenantA, ids[i]), Attrs: map[string]any{"userName": ids[i]}})
	}
	t.Logf("created %d users in %v", largeGroupSize, time.Since(start))
	half := largeGroupSize / 2
	g := mustCreate(t, s, newGroup(tenantA, "big", "Big"), ids[:half]...)
	start = time.Now()
	out, err := s.Update(ctx, g.Ref, members(store.MemberDelta{Add: memberList(ids[half:]...)}))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("added %d members in %v", largeGroupSize-half, time.Since(start))
	if out.Version != 2 {
		t.Fatalf("Version = %d, want 2", out.Version)
	}
	cs := changes(t, s, tenantA, lastSeq(t, s, tenantA)-1)
	if len(cs[0].Added) != largeGroupSize-half {
		t.Fatalf("journal Added %d ids, want %d", len(cs[0].Added), largeGroupSize-half)
	}
	got := memberIDs(t, s, g.Ref)
	wantIDs(t, "large group members", got, ids)
	ms, err := s.Members(ctx, g.Ref, ids[largeGroupSize-11], 5)
	if err != nil || len(ms) != 5 || ms[0].Value != ids[largeGroupSize-10] {
		t.Fatalf("paging a large group: %v %v", ms, err)
	}
	// Filter by one member of a large group.
	p, err := s.Query(ctx, tenantA, store.Group, store.Query{Filter: parse(t, store.Group, fmt.Sprintf(`members eq %q`, ids[largeGroupSize*6/10])), Count: 10})
	if err != nil || p.Total != 1 {
		t.Fatalf("members eq in a large group: %+v %v", p, err)
	}
	// The document stays small.
	if b := canon(t, mustGet(t, s, g.Ref).Attrs); len(b) > 100 {
		t.Fatalf("group document grew to %d bytes", len(b))
	}
	// Remove half, then replace everything.
	if _, err := s.Update(ctx, g.Ref, members(store.MemberDelta{Remove: ids[:half]})); err != nil {
		t.Fatal(err)
	}
	if n := len(memberIDs(t, s, g.Ref)); n != largeGroupSize-half {
		t.Fatalf("after remove: %d members", n)
	}
	if _, err := s.Update(ctx, g.Ref, members(store.MemberDelta{Replace: true, Add: memberList(ids[:10]...)})); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "after replace", memberIDs(t, s, g.Ref), ids[:10])
	cs = changes(t, s, tenantA, lastSeq(t, s, tenantA)-1)
	if len(cs[0].Added) != 10 || len(cs[0].Removed) != largeGroupSize-half {
		t.Fatalf("replace journal: %d added, %d removed", len(cs[0].Added), len(cs[0].Removed))
	}
	if err := s.Delete(ctx, g.Ref, 0); err != nil {
		t.Fatal(err)
	}
}
