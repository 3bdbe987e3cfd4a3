package storetest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

func testJournal(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	if cs := changes(t, s, tenantA, 0); len(cs) != 0 {
		t.Fatalf("fresh store has journal %+v", cs)
	}
	before := time.Now().Add(-time.Second)
	mustCreate(t, s, newUser(tenantA, "u1", "alice"))
	mustCreate(t, s, newUser(tenantA, "u2", "bob"))
	mustCreate(t, s, newGroup(tenantA, "g1", "G"), "u1")
	if _, err := s.Update(ctx, userRef(tenantA, "u2"), setAttr("title", "x")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, groupRef(tenantA, "g1"), members(store.MemberDelta{Add: memberList("u2"), Remove: []string{"u1"}})); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, userRef(tenantA, "u1"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, groupRef(tenantA, "g1"), 0); err != nil {
		t.Fatal(err)
	}
	type entry struct {
		kind           store.Kind
		id             string
		op             store.ChangeOp
		version        int64
		added, removed []string
	}
	want := []entry{
		{store.User, "u1", store.OpCreate, 1, nil, nil},
		{store.User, "u2", store.OpCreate, 1, nil, nil},
		{store.Group, "g1", store.OpCreate, 1, []string{"u1"}, nil},
		{store.User, "u2", store.OpUpdate, 2, nil, nil},
		{store.Group, "g1", store.OpUpdate, 2, []string{"u2"}, []string{"u1"}},
		{store.User, "u1", store.OpDelete, 0, nil, nil},
		{store.Group, "g1", store.OpDelete, 0, nil, nil},
	}
	cs := changes(t, s, tenantA, 0)
	if len(cs) != len(want) {
		t.Fatalf("journal has %d entries, want %d: %+v", len(cs), len(want), cs)
	}
	for i, c := range cs {
		w := want[i]
		if i > 0 && c.Seq <= cs[i-1].Seq {
			t.Fatalf("Seq not increasing: %d after %d", c.Seq, cs[i-1].Seq)
		}
		if c.Tenant != tenantA || c.Kind != w.kind || c.ID != w.id || c.Op != w.op {
			t.Fatalf("entry %d = %+v, want %+v", i, c, w)
		}
		if w.version > 0 && c.Version != w.version {
			t.Fatalf("entry %d version %d, want %d", i, c.Version, w.version)
		}
		if c.At.Before(before) || c.At.After(time.Now().Add(time.Second)) {
			t.Fatalf("entry %d At = %v", i, c.At)
		}
		wantIDs(t, fmt.Sprintf("entry %d Added", i), c.Added, w.added)
		wantIDs(t, fmt.Sprintf("entry %d Removed", i), c.Removed, w.removed)
	}
	// A failed write is not journaled.
	_, _ = s.Create(ctx, newUser(tenantA, "u3", "BOB"), nil)
	if n := len(changes(t, s, tenantA, 0)); n != len(want) {
		t.Fatalf("failed create journaled: %d entries", n)
	}
}

func testJournalPaging(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	for i := range 10 {
		mustCreate(t, s, newUser(tenantA, fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i)))
		mustCreate(t, s, newUser(tenantB, fmt.Sprintf("b%d", i), fmt.Sprintf("user%d", i)))
	}
	all := changes(t, s, tenantA, 0)
	if len(all) != 10 {
		t.Fatalf("%d entries, want 10", len(all))
	}
	var got []string
	after := int64(0)
	for range 20 {
		cs, err := s.Changes(ctx, tenantA, after, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) > 3 {
			t.Fatalf("limit 3 returned %d", len(cs))
		}
		if len(cs) == 0 {
			break
		}
		for _, c := range cs {
			if c.Seq <= after {
				t.Fatalf("Seq %d not after %d", c.Seq, after)
			}
			got = append(got, c.ID)
			after = c.Seq
		}
	}
	var want []string
	for i := range 10 {
		want = append(want, fmt.Sprintf("u%d", i))
	}
	wantIDs(t, "paged journal", got, want)
	cs, err := s.Changes(ctx, tenantA, all[4].Seq, 2)
	if err != nil || len(cs) != 2 || cs[0].ID != "u5" || cs[1].ID != "u6" {
		t.Fatalf("Changes after 5th entry: %+v %v", cs, err)
	}
	cs, err = s.Changes(ctx, tenantA, all[9].Seq, 10)
	if err != nil || len(cs) != 0 {
		t.Fatalf("Changes at the end: %+v %v", cs, err)
	}
}

func testState(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	_, err := s.GetState(ctx, tenantA, "k")
	wantErr(t, err, store.ErrNotFound, "GetState missing")
	_, err = s.PutState(ctx, tenantA, "k", []byte("x"), 1)
	wantErr(t, err, store.ErrPrecondition, "PutState ifVersion 1 on missing")
	v, err := s.PutState(ctx, tenantA, "k", []byte("one"), 0)
	if err != nil || v != 1 {
		t.Fatalf("PutState create: %d %v", v, err)
	}
	_, err = s.PutState(ctx, tenantA, "k", []byte("dup"), 0)
	wantErr(t, err, store.ErrPrecondition, "PutState ifVersion 0 on existing")
	v, err = s.PutState(ctx, tenantA, "k", []byte("two"), 1)
	if err != nil || v != 2 {
		t.Fatalf("PutState CAS: %d %v", v, err)
	}
	_, err = s.PutState(ctx, tenantA, "k", []byte("stale"), 1)
	wantErr(t, err, store.ErrPrecondition, "PutState stale version")
	e, err := s.GetState(ctx, tenantA, "k")
	if err != nil || e.Key != "k" || e.Version != 2 || !bytes.Equal(e.Value, []byte("two")) {
		t.Fatalf("GetState = %+v %v", e, err)
	}
	v, err = s.PutState(ctx, tenantA, "k", []byte("three"), -1)
	if err != nil || v != 3 {
		t.Fatalf("PutState unconditional: %d %v", v, err)
	}
	v, err = s.PutState(ctx, tenantA, "new", []byte{}, -1)
	if err != nil || v != 1 {
		t.Fatalf("PutState unconditional create: %d %v", v, err)
	}
	if e, err := s.GetState(ctx, tenantA, "new"); err != nil || len(e.Value) != 0 {
		t.Fatalf("empty value: %+v %v", e, err)
	}
	if err := s.DeleteState(ctx, tenantA, "k"); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetState(ctx, tenantA, "k")
	wantErr(t, err, store.ErrNotFound, "GetState deleted")
	if err := s.DeleteState(ctx, tenantA, "k"); err != nil {
		t.Fatalf("DeleteState absent: %v", err)
	}
	v, err = s.PutState(ctx, tenantA, "k", []byte("again"), 0)
	if err != nil || v != 1 {
		t.Fatalf("PutState after delete: %d %v", v, err)
	}
}

func testListState(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	for _, k := range []string{"cursor/b", "cursor/a", "cursorx", "delta/users", "cursor/", "curso"} {
		if _, err := s.PutState(ctx, tenantA, k, []byte(k), 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PutState(ctx, tenantB, "cursor/c", []byte("b"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutState(ctx, tenantA, "cursor/a", []byte("a2"), 1); err != nil {
		t.Fatal(err)
	}
	es, err := s.ListState(ctx, tenantA, "cursor/")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, e := range es {
		keys = append(keys, e.Key)
	}
	wantIDs(t, "ListState cursor/", keys, []string{"cursor/", "cursor/a", "cursor/b"})
	if es[1].Version != 2 || string(es[1].Value) != "a2" {
		t.Fatalf("ListState entry %+v", es[1])
	}
	es, err = s.ListState(ctx, tenantA, "")
	if err != nil || len(es) != 6 {
		t.Fatalf("ListState all: %d %v", len(es), err)
	}
	es, err = s.ListState(ctx, tenantA, "zzz")
	if err != nil || len(es) != 0 {
		t.Fatalf("ListState none: %v %v", es, err)
	}
}

func testLease(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	const ttl = 300 * time.Millisecond
	acquire := func(holder string) bool {
		t.Helper()
		ok, err := s.AcquireLease(ctx, tenantA, "pull", holder, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !acquire("A") {
		t.Fatal("A did not get a free lease")
	}
	if acquire("B") {
		t.Fatal("B got A's lease")
	}
	// Another tenant's lease of the same name is independent.
	if ok, err := s.AcquireLease(ctx, tenantB, "pull", "B", ttl); err != nil || !ok {
		t.Fatalf("B in tenant B: %v %v", ok, err)
	}
	// A renews before expiry, which extends the lease.
	time.Sleep(ttl / 2)
	if !acquire("A") {
		t.Fatal("A could not renew")
	}
	time.Sleep(ttl * 2 / 3)
	if acquire("B") {
		t.Fatal("B got the lease A renewed")
	}
	time.Sleep(ttl + 50*time.Millisecond)
	if !acquire("B") {
		t.Fatal("B did not get the expired lease")
	}
	if acquire("A") {
		t.Fatal("A got B's lease")
	}
}
