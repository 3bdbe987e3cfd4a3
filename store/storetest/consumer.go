package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// testConsumer covers store.Journal: durable cursors, their leases, lag
// and per-resource history. Each subtest uses tenants of its own.
func testConsumer(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"Cursor", testCursor},
		{"CursorRace", testCursorRace},
		{"LeaseLost", testCursorLeaseLost},
		{"Delete", testCursorDelete},
		{"Lag", testConsumersLag},
		{"History", testHistory},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, s) })
	}
}

func jcreate(t *testing.T, s store.Store, r store.Resource, members ...string) {
	t.Helper()
	if _, err := s.Create(ctxT(t), r, memberList(members...)); err != nil {
		t.Fatalf("Create %s %q: %v", r.Kind, r.ID, err)
	}
}

func jupdate(t *testing.T, s store.Store, ref store.Ref, fn func(r *store.Resource) (store.MemberDelta, error)) {
	t.Helper()
	if _, err := s.Update(ctxT(t), ref, fn); err != nil {
		t.Fatalf("Update %v: %v", ref, err)
	}
}

func jdelete(t *testing.T, s store.Store, ref store.Ref) {
	t.Helper()
	if err := s.Delete(ctxT(t), ref, 0); err != nil {
		t.Fatalf("Delete %v: %v", ref, err)
	}
}

func getCursor(t *testing.T, s store.Store, tenant, consumer string) store.Cursor {
	t.Helper()
	c, err := s.GetCursor(ctxT(t), tenant, consumer)
	if err != nil {
		t.Fatalf("GetCursor %s/%s: %v", tenant, consumer, err)
	}
	return c
}

func advance(t *testing.T, s store.Store, tenant, consumer, holder string, ifVersion, seq int64) store.Cursor {
	t.Helper()
	c, err := s.AdvanceCursor(ctxT(t), tenant, consumer, holder, ifVersion, seq)
	if err != nil {
		t.Fatalf("AdvanceCursor %s/%s from version %d to %d: %v", tenant, consumer, ifVersion, seq, err)
	}
	if c.Tenant != tenant || c.Consumer != consumer || c.Seq != seq || c.Version != ifVersion+1 || c.UpdatedAt.IsZero() {
		t.Fatalf("AdvanceCursor %s/%s from version %d to %d = %+v", tenant, consumer, ifVersion, seq, c)
	}
	return c
}

func sameCursor(t *testing.T, what string, got, want store.Cursor) {
	t.Helper()
	if got.Tenant != want.Tenant || got.Consumer != want.Consumer || got.Seq != want.Seq ||
		got.Version != want.Version || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("%s: cursor %+v, want %+v", what, got, want)
	}
}

func testCursor(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	const tn, other = "cursor-a", "cursor-b"
	if _, err := s.GetCursor(ctx, tn, "target"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetCursor of no cursor: %v, want ErrNotFound", err)
	}
	_, err := s.AdvanceCursor(ctx, tn, "target", "", 1, 5)
	wantErr(t, err, store.ErrPrecondition, "advancing a cursor that does not exist from version 1")
	c1 := advance(t, s, tn, "target", "", 0, 0)
	sameCursor(t, "read after create", getCursor(t, s, tn, "target"), c1)
	_, err = s.AdvanceCursor(ctx, tn, "target", "", 0, 3)
	wantErr(t, err, store.ErrPrecondition, "creating an existing cursor")
	c2 := advance(t, s, tn, "target", "", 1, 7)
	_, err = s.AdvanceCursor(ctx, tn, "target", "", 1, 9)
	wantErr(t, err, store.ErrPrecondition, "advancing from a stale version")
	_, err = s.AdvanceCursor(ctx, tn, "target", "", 5, 9)
	wantErr(t, err, store.ErrPrecondition, "advancing from a future version")
	sameCursor(t, "read after failed advances", getCursor(t, s, tn, "target"), c2)
	// A cursor may go back (a consumer that re-reads after a reconcile).
	advance(t, s, tn, "target", "", 2, 3)
	c4 := advance(t, s, tn, "target", "", 3, 11)
	sameCursor(t, "read after 3 advances", getCursor(t, s, tn, "target"), c4)

	// Consumers are per tenant and per name.
	if _, err := s.GetCursor(ctx, other, "target"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetCursor in another tenant: %v, want ErrNotFound", err)
	}
	if _, err := s.GetCursor(ctx, tn, "target2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetCursor of another name: %v, want ErrNotFound", err)
	}
	advance(t, s, other, "target", "", 0, 1)
	advance(t, s, tn, "target2", "", 0, 2)
	sameCursor(t, "read after others were created", getCursor(t, s, tn, "target"), c4)

	for _, bad := range []struct {
		consumer       string
		ifVersion, seq int64
	}{{"", 0, 1}, {"x", -1, 1}, {"x", 0, -1}} {
		if _, err := s.AdvanceCursor(ctx, tn, bad.consumer, "", bad.ifVersion, bad.seq); err == nil ||
			errors.Is(err, store.ErrPrecondition) {
			t.Fatalf("AdvanceCursor(%q, %d, %d): %v, want an argument error", bad.consumer, bad.ifVersion, bad.seq, err)
		}
	}
	if _, err := s.GetCursor(ctx, tn, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused AdvanceCursor created a cursor: %v", err)
	}
}

// testCursorRace: of replicas moving a cursor from the same version, exactly
// one wins; the others get ErrPrecondition and the cursor is the winner's.
func testCursorRace(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	const tn, racers, rounds = "race-a", 4, 8
	var version int64 // 0: the first round races the creation
	for round := range rounds {
		var wg sync.WaitGroup
		start := make(chan struct{})
		got := make([]store.Cursor, racers)
		errs := make([]error, racers)
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				got[i], errs[i] = s.AdvanceCursor(ctx, tn, "racy", "", version, int64(100*round+i))
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: racers %d and %d both advanced from version %d", round, winner, i, version)
			case err == nil:
				winner = i
			case !errors.Is(err, store.ErrPrecondition):
				t.Fatalf("round %d: racer %d: %v, want nil or ErrPrecondition", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no racer advanced from version %d", round, version)
		}
		w := got[winner]
		if w.Version != version+1 || w.Seq != int64(100*round+winner) {
			t.Fatalf("round %d: winner %d got %+v", round, winner, w)
		}
		sameCursor(t, fmt.Sprintf("round %d", round), getCursor(t, s, tn, "racy"), w)
		version = w.Version
	}
}

// testCursorLeaseLost: a consumer that lost its lease never advances.
func testCursorLeaseLost(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	const tn = "lease-a"
	lease := store.ConsumerLease("target")
	acquire := func(holder string, ttl time.Duration) {
		t.Helper()
		if ok, err := s.AcquireLease(ctx, tn, lease, holder, ttl); err != nil || !ok {
			t.Fatalf("AcquireLease %s: %v %v", holder, ok, err)
		}
	}
	// Without a lease nobody advances with a holder.
	_, err := s.AdvanceCursor(ctx, tn, "target", "A", 0, 1)
	wantErr(t, err, store.ErrLeaseLost, "advancing without a lease")
	if _, err := s.GetCursor(ctx, tn, "target"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused AdvanceCursor created a cursor: %v", err)
	}
	acquire("A", time.Minute)
	c := advance(t, s, tn, "target", "A", 0, 1)
	c = advance(t, s, tn, "target", "A", c.Version, 2)
	_, err = s.AdvanceCursor(ctx, tn, "target", "B", c.Version, 3)
	wantErr(t, err, store.ErrLeaseLost, "advancing by a holder that never had the lease")
	// Another consumer's lease is not this one's.
	if ok, err := s.AcquireLease(ctx, tn, store.ConsumerLease("other"), "B", time.Minute); err != nil || !ok {
		t.Fatalf("AcquireLease other: %v %v", ok, err)
	}
	_, err = s.AdvanceCursor(ctx, tn, "target", "B", c.Version, 3)
	wantErr(t, err, store.ErrLeaseLost, "advancing with another consumer's lease")

	// A renews with a short ttl and lets it expire.
	const ttl = 200 * time.Millisecond
	acquire("A", ttl)
	time.Sleep(ttl + 100*time.Millisecond)
	_, err = s.AdvanceCursor(ctx, tn, "target", "A", c.Version, 3)
	wantErr(t, err, store.ErrLeaseLost, "advancing with an expired lease")
	sameCursor(t, "after the expired holder's advance", getCursor(t, s, tn, "target"), c)

	// B takes the expired lease over; A still cannot advance, B can.
	acquire("B", time.Minute)
	if ok, err := s.AcquireLease(ctx, tn, lease, "A", time.Minute); err != nil || ok {
		t.Fatalf("A took B's lease back: %v %v", ok, err)
	}
	_, err = s.AdvanceCursor(ctx, tn, "target", "A", c.Version, 4)
	wantErr(t, err, store.ErrLeaseLost, "advancing by the holder that lost the lease")
	sameCursor(t, "after the old holder's advance", getCursor(t, s, tn, "target"), c)
	advance(t, s, tn, "target", "B", c.Version, 5)
}

func testCursorDelete(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	const tn = "delete-a"
	if err := s.DeleteCursor(ctx, tn, "gone"); err != nil {
		t.Fatalf("DeleteCursor of no cursor: %v", err)
	}
	if ok, err := s.AcquireLease(ctx, tn, store.ConsumerLease("gone"), "A", time.Minute); err != nil || !ok {
		t.Fatalf("AcquireLease: %v %v", ok, err)
	}
	c := advance(t, s, tn, "gone", "A", 0, 4)
	c = advance(t, s, tn, "gone", "A", c.Version, 6)
	advance(t, s, tn, "kept", "", 0, 2)
	if err := s.DeleteCursor(ctx, tn, "gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetCursor(ctx, tn, "gone"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetCursor after DeleteCursor: %v, want ErrNotFound", err)
	}
	if err := s.DeleteCursor(ctx, tn, "gone"); err != nil {
		t.Fatalf("DeleteCursor again: %v", err)
	}
	cs, err := s.Consumers(ctx, tn)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Consumer != "kept" {
		t.Fatalf("Consumers after a delete: %+v, want only kept", cs)
	}
	// The lease went with the cursor: A cannot advance, anyone may take it.
	_, err = s.AdvanceCursor(ctx, tn, "gone", "A", c.Version, 8)
	wantErr(t, err, store.ErrLeaseLost, "advancing a deleted cursor by its old holder")
	if ok, err := s.AcquireLease(ctx, tn, store.ConsumerLease("gone"), "B", time.Minute); err != nil || !ok {
		t.Fatalf("the deleted consumer's lease is still held: %v %v", ok, err)
	}
	_, err = s.AdvanceCursor(ctx, tn, "gone", "", c.Version, 8)
	wantErr(t, err, store.ErrPrecondition, "advancing a deleted cursor from its old version")
	// A consumer of the same name starts afresh.
	n := advance(t, s, tn, "gone", "B", 0, 1)
	sameCursor(t, "recreated", getCursor(t, s, tn, "gone"), n)
	n = advance(t, s, tn, "gone", "B", n.Version, 2)
	sameCursor(t, "recreated and advanced", getCursor(t, s, tn, "gone"), n)
	sameCursor(t, "the other consumer", getCursor(t, s, tn, "kept"), store.Cursor{
		Tenant: tn, Consumer: "kept", Seq: 2, Version: 1, UpdatedAt: getCursor(t, s, tn, "kept").UpdatedAt})
}

// testConsumersLag: lag counts the tenant's entries, however the backend
// numbers them (SQLite's seqs are global, so interleaved tenants leave
// gaps in each tenant's seqs).
func testConsumersLag(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	const ta, tb = "lag-a", "lag-b"
	if cs, err := s.Consumers(ctx, ta); err != nil || len(cs) != 0 {
		t.Fatalf("Consumers of a tenant without any: %+v %v", cs, err)
	}
	for i := range 4 {
		jcreate(t, s, newUser(ta, fmt.Sprintf("a%d", i), fmt.Sprintf("a%d", i)))
		jcreate(t, s, newUser(tb, fmt.Sprintf("b%d", i), fmt.Sprintf("b%d", i)))
		jcreate(t, s, newUser(tb, fmt.Sprintf("c%d", i), fmt.Sprintf("c%d", i)))
	}
	jupdate(t, s, userRef(ta, "a0"), setAttr("title", "x"))
	jdelete(t, s, userRef(tb, "b0"))
	ja, jb := changes(t, s, ta, 0), changes(t, s, tb, 0)
	if len(ja) != 5 || len(jb) != 9 {
		t.Fatalf("journals have %d and %d entries, want 5 and 9", len(ja), len(jb))
	}

	advance(t, s, ta, "zeta", "", 0, 0)          // nothing consumed
	advance(t, s, ta, "alpha", "", 0, ja[1].Seq) // two consumed
	advance(t, s, ta, "omega", "", 0, ja[4].Seq) // all consumed
	advance(t, s, tb, "alpha", "", 0, jb[5].Seq) // six of tb's consumed
	if ok, err := s.AcquireLease(ctx, ta, store.ConsumerLease("alpha"), "replica-1", time.Minute); err != nil || !ok {
		t.Fatalf("AcquireLease: %v %v", ok, err)
	}
	const ttl = 100 * time.Millisecond
	if ok, err := s.AcquireLease(ctx, ta, store.ConsumerLease("omega"), "replica-2", ttl); err != nil || !ok {
		t.Fatalf("AcquireLease: %v %v", ok, err)
	}
	time.Sleep(ttl + 50*time.Millisecond)

	cs, err := s.Consumers(ctx, ta)
	if err != nil {
		t.Fatal(err)
	}
	type info struct {
		name     string
		seq, lag int64
		oldest   time.Time
		holder   string
		lease    bool
	}
	var got []info
	for _, c := range cs {
		if c.Tenant != ta || c.Version != 1 || c.UpdatedAt.IsZero() {
			t.Fatalf("consumer %+v", c)
		}
		if c.Holder != "" && !c.LeaseExpires.After(time.Now()) {
			t.Fatalf("consumer %s: holder %q with a lease expiring %v", c.Consumer, c.Holder, c.LeaseExpires)
		}
		got = append(got, info{c.Consumer, c.Seq, c.Lag, c.OldestUnread.UTC(), c.Holder, !c.LeaseExpires.IsZero()})
	}
	want := []info{
		{"alpha", ja[1].Seq, 3, ja[2].At.UTC(), "replica-1", true},
		{"omega", ja[4].Seq, 0, time.Time{}, "", true}, // its lease expired
		{"zeta", 0, 5, ja[0].At.UTC(), "", false},
	}
	wantEqual(t, "Consumers of "+ta, got, want)

	cs, err = s.Consumers(ctx, tb)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Consumer != "alpha" || cs[0].Lag != 3 || !cs[0].OldestUnread.Equal(jb[6].At) || cs[0].Holder != "" {
		t.Fatalf("Consumers of %s: %+v, want alpha at lag 3", tb, cs)
	}

	// New entries of the other tenant do not count; the tenant's own do.
	jcreate(t, s, newUser(tb, "d", "d"))
	jcreate(t, s, newUser(ta, "e", "e"))
	cs, err = s.Consumers(ctx, ta)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int64{4, 1, 6} {
		if cs[i].Lag != want {
			t.Fatalf("after one more entry, %s has lag %d, want %d", cs[i].Consumer, cs[i].Lag, want)
		}
	}
}

// testHistory: one resource's entries, newest first, paged, the same
// entries as Changes has for it.
func testHistory(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	const tn, other = "history-a", "history-b"
	u, v, g := userRef(tn, "u"), userRef(tn, "v"), groupRef(tn, "g")
	jcreate(t, s, newUser(tn, "u", "u"))
	jcreate(t, s, newUser(tn, "v", "v"))
	jcreate(t, s, newUser(other, "u", "u"))
	jcreate(t, s, newGroup(tn, "g", "G"), "u")
	for i := range 6 {
		jupdate(t, s, u, setAttr("title", fmt.Sprint(i)))
		jupdate(t, s, v, setAttr("title", fmt.Sprint(i)))
		jupdate(t, s, userRef(other, "u"), setAttr("title", fmt.Sprint(i)))
	}
	jupdate(t, s, g, members(store.MemberDelta{Add: memberList("v"), Remove: []string{"u"}}))

	// want is what Changes holds for ref, newest first.
	want := func(ref store.Ref) []store.Change {
		var out []store.Change
		for _, c := range changes(t, s, ref.Tenant, 0) {
			if c.ID == ref.ID && c.Kind == ref.Kind {
				out = append(out, c)
			}
		}
		slices.Reverse(out)
		return out
	}
	history := func(ref store.Ref, before int64, limit int) []store.Change {
		t.Helper()
		h, err := s.History(ctx, ref, before, limit)
		if err != nil {
			t.Fatalf("History %v: %v", ref, err)
		}
		return h
	}
	paged := func(ref store.Ref, limit int) []store.Change {
		t.Helper()
		var out []store.Change
		var before int64
		for range 100 {
			page := history(ref, before, limit)
			if len(page) > limit {
				t.Fatalf("History %v with limit %d returned %d", ref, limit, len(page))
			}
			out = append(out, page...)
			if len(page) < limit {
				return out
			}
			before = page[len(page)-1].Seq
		}
		t.Fatalf("History %v does not end", ref)
		return nil
	}
	check := func(what string, ref store.Ref, n int) {
		t.Helper()
		w := want(ref)
		if len(w) != n {
			t.Fatalf("%s: Changes has %d entries of %v, want %d", what, len(w), ref, n)
		}
		wantEqual(t, what+": History", history(ref, 0, 0), w)
		for _, limit := range []int{1, 2, 3, n} {
			wantEqual(t, fmt.Sprintf("%s: History by pages of %d", what, limit), paged(ref, limit), w)
		}
		for i := 1; i < len(w); i++ {
			if w[i].Seq >= w[i-1].Seq || w[i].Version >= w[i-1].Version && w[i-1].Op != store.OpDelete {
				t.Fatalf("%s: entries out of order: %+v before %+v", what, w[i-1], w[i])
			}
		}
		if n > 0 {
			wantEqual(t, what+": History before the newest", history(ref, w[0].Seq, 2), w[1:min(3, n)])
		}
	}
	check("user", u, 7)
	if h := history(u, 0, 1); h[0].Origin != TestOrigin || h[0].Name != "u" {
		t.Fatalf("History's newest entry %+v lacks the write's provenance", h[0])
	}
	check("group", g, 2)
	if h := history(g, 0, 1); len(h) != 1 || !slices.Equal(h[0].Added, []string{"v"}) || !slices.Equal(h[0].Removed, []string{"u"}) {
		t.Fatalf("group's newest entry %+v, want v added and u removed", h)
	}
	check("other tenant", userRef(other, "u"), 7)
	if h := history(groupRef(tn, "u"), 0, 0); len(h) != 0 {
		t.Fatalf("History of a user's id as a group: %+v", h)
	}
	if h := history(userRef(tn, "nobody"), 0, 0); len(h) != 0 {
		t.Fatalf("History of a resource that never was: %+v", h)
	}

	// After a delete the history is still there, the delete first.
	jdelete(t, s, u)
	check("deleted user", u, 8)
	if h := history(u, 0, 1); h[0].Op != store.OpDelete {
		t.Fatalf("newest entry after the delete: %+v", h[0])
	}
	check("user left alone", v, 7)
}

// BenchHistory measures History of one user (its create and one update,
// newest first, a page of 20) in a journal of 2n entries: n users created
// and updated once. Its cost should not grow with n where History has an
// index it can use.
func BenchHistory(b *testing.B, s store.Store, n int) {
	ctx := Background()
	for i := range n {
		u := BenchUser(i)
		if _, err := s.Create(ctx, u, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Update(ctx, u.Ref, func(r *store.Resource) (store.MemberDelta, error) {
			r.Attrs["title"] = "t"
			return store.MemberDelta{}, nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	for b.Loop() {
		h, err := s.History(ctx, BenchUser((i*7919)%n).Ref, 0, 20)
		if err != nil || len(h) != 2 {
			b.Fatalf("History: %d entries, %v", len(h), err)
		}
		i++
	}
}

// RunConsumerReplicaTest checks cursors across two handles a and b of one
// database (two replicas): one lease holder at a time, and of two moves
// from the same version exactly one wins.
func RunConsumerReplicaTest(t *testing.T, a, b store.Store) {
	ctx := ctxT(t)
	const tn, name = "replicas", "target"
	lease := store.ConsumerLease(name)
	okA, err := a.AcquireLease(ctx, tn, lease, "replica-a", time.Minute)
	if err != nil || !okA {
		t.Fatalf("replica a: AcquireLease %v %v", okA, err)
	}
	if okB, err := b.AcquireLease(ctx, tn, lease, "replica-b", time.Minute); err != nil || okB {
		t.Fatalf("replica b got replica a's lease: %v %v", okB, err)
	}
	c := advance(t, a, tn, name, "replica-a", 0, 1)
	_, err = b.AdvanceCursor(ctx, tn, name, "replica-b", c.Version, 2)
	wantErr(t, err, store.ErrLeaseLost, "replica b advancing without the lease")
	sameCursor(t, "replica b reads replica a's cursor", getCursor(t, b, tn, name), c)

	for round := range 6 {
		var wg sync.WaitGroup
		start := make(chan struct{})
		var got [2]store.Cursor
		var errs [2]error
		for i, s := range []store.Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				got[i], errs[i] = s.AdvanceCursor(ctx, tn, name, "replica-a", c.Version, int64(10*round+i))
			}()
		}
		close(start)
		wg.Wait()
		switch {
		case errs[0] == nil && errs[1] == nil:
			t.Fatalf("round %d: both replicas advanced from version %d", round, c.Version)
		case errs[0] == nil:
			wantErr(t, errs[1], store.ErrPrecondition, "the replica that lost the race")
			c = got[0]
		case errs[1] == nil:
			wantErr(t, errs[0], store.ErrPrecondition, "the replica that lost the race")
			c = got[1]
		default:
			t.Fatalf("round %d: neither replica advanced: %v; %v", round, errs[0], errs[1])
		}
		sameCursor(t, fmt.Sprintf("round %d, read by a", round), getCursor(t, a, tn, name), c)
		sameCursor(t, fmt.Sprintf("round %d, read by b", round), getCursor(t, b, tn, name), c)
	}
	if err := b.DeleteCursor(ctx, tn, name); err != nil {
		t.Fatal(err)
	}
	_, err = a.AdvanceCursor(ctx, tn, name, "replica-a", c.Version, 99)
	wantErr(t, err, store.ErrLeaseLost, "replica a after replica b deleted the consumer")
	if _, err := a.GetCursor(ctx, tn, name); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("replica a reads a deleted cursor: %v", err)
	}
}
