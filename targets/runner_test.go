package targets_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
	"github.com/scimbridge/scimbridge/targets"
	"github.com/scimbridge/scimbridge/targets/targettest"
)

// TestLifecycle: create, update, disable, group membership and delete reach
// the target in order, with the id map kept between them.
func TestLifecycle(t *testing.T) {
	f := newFixture(t)
	r := f.runner(func(o *targets.Options) { o.Batch = 1 }) // one entry per step: no collapse
	f.createUser("u0", "zero")
	if st, err := r.Status(f.ctx); err != nil || st.Lag != -1 || st.OldestUnread.IsZero() || st.Cursor != 0 {
		t.Errorf("status before the first step = %+v, %v", st, err)
	}
	f.drain(r)
	// The runner applies current state, so drain after each write to see
	// each step.
	f.createUser("u1", "alice")
	f.drain(r)
	f.set(store.User, "u1", "title", "Engineer")
	f.drain(r)
	f.set(store.User, "u1", "active", false)
	f.drain(r)
	f.createGroup("g1", "staff")
	f.drain(r)
	f.members("g1", []string{"u1"}, nil)
	f.drain(r)
	f.members("g1", nil, []string{"u1"})
	f.drain(r)
	f.del(store.User, "u1")
	f.drain(r)

	got := actions(f.fake.CallsFor("u1"))
	want := []targets.Action{targets.ActionCreate, targets.ActionUpdate, targets.ActionDisable, targets.ActionDelete}
	if !slices.Equal(got, want) {
		t.Errorf("u1 actions = %v, want %v", got, want)
	}
	calls := f.fake.CallsFor("u1")
	if calls[1].TargetID != "fake:u1" || calls[0].TargetID != "" {
		t.Errorf("target ids handed back = %q, %q; want \"\", fake:u1", calls[0].TargetID, calls[1].TargetID)
	}
	if !slices.Equal(calls[1].Changed, []string{"title"}) {
		t.Errorf("update Changed = %v, want [title]", calls[1].Changed)
	}
	if calls[3].Resource != nil || calls[3].Name != "alice" {
		t.Errorf("delete: Resource %v, Name %q; want nil, alice", calls[3].Resource, calls[3].Name)
	}
	g := f.fake.CallsFor("g1")
	if len(g) != 3 || !slices.Equal(g[1].MembersAdded, []string{"u1"}) || !g[1].MembersOnly() ||
		!slices.Equal(g[2].MembersRemoved, []string{"u1"}) {
		t.Errorf("g1 calls = %+v", g)
	}
	if _, ok := f.fake.Account("u1"); ok {
		t.Error("u1 still in the target after its delete")
	}
	if _, err := f.st.GetState(f.ctx, tenant, "target/fake/map/u/u1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the id map still holds u1 after its delete: %v", err)
	}
	if ent, err := f.st.GetState(f.ctx, tenant, "target/fake/map/g/g1"); err != nil || string(ent.Value) != "fake:g1" {
		t.Errorf("id map of g1 = %q, %v", ent.Value, err)
	}
	if f.cursor() != f.head() {
		t.Errorf("cursor %d, journal head %d", f.cursor(), f.head())
	}
}

// TestCollapse: several entries of one resource in one batch make one apply
// of its current state; a resource created and deleted in one batch is a
// delete.
func TestCollapse(t *testing.T) {
	f := newFixture(t)
	f.createUser("u1", "alice")
	f.set(store.User, "u1", "title", "A")
	f.set(store.User, "u1", "title", "B")
	f.createUser("u2", "bob")
	f.del(store.User, "u2")
	f.createGroup("g1", "staff")
	f.createUser("u3", "carol")
	f.members("g1", []string{"u3"}, nil)
	f.members("g1", nil, []string{"u3"})
	f.members("g1", []string{"u3"}, nil)
	f.drain(f.runner())

	u1 := f.fake.CallsFor("u1")
	if len(u1) != 1 || u1[0].Action != targets.ActionCreate || u1[0].Resource.Attrs["title"] != "B" || len(u1[0].Seqs) != 3 {
		t.Errorf("u1 = %+v, want one create with title B collapsing 3 entries", u1)
	}
	if u2 := f.fake.CallsFor("u2"); len(u2) != 1 || u2[0].Action != targets.ActionDelete {
		t.Errorf("u2 = %+v, want one delete", u2)
	}
	g1 := f.fake.CallsFor("g1")
	if len(g1) != 1 || !slices.Equal(g1[0].MembersAdded, []string{"u3"}) || len(g1[0].MembersRemoved) != 0 {
		t.Errorf("g1 = %+v, want one apply adding u3 (the last op wins)", g1)
	}
	if a, _ := f.fake.Account("g1"); !a.Members["u3"] {
		t.Errorf("g1 members in the target = %v", a.Members)
	}
}

// TestMembersBeforeGroup: a group that adds a member (a user or a nested
// group) created in the same batch is applied after that member, even when
// the group comes first in the batch.
func TestMembersBeforeGroup(t *testing.T) {
	for range 5 { // concurrency: make a lucky order unlikely
		f := newFixture(t)
		f.createGroup("g1", "staff")
		for i := range 8 {
			f.createUser(fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i))
		}
		f.createGroup("g2", "inner")
		f.members("g1", []string{"u0", "u7", "g2"}, nil)
		f.fake.Fail = func(c targets.Change) error {
			for _, m := range c.MembersAdded {
				if _, ok := f.fake.Account(m); !ok {
					return targets.Permanent(fmt.Errorf("member %s of %s does not exist yet", m, c.ID))
				}
			}
			return nil
		}
		f.drain(f.runner(func(o *targets.Options) { o.Workers = 8 }))
		if ds, _ := f.runner().DeadLetters(f.ctx); len(ds) != 0 {
			t.Fatalf("dead letters = %+v", ds)
		}
	}
}

// TestNestedGroupCycle: groups that contain each other, changed in one
// batch, do not deadlock the runner.
func TestNestedGroupCycle(t *testing.T) {
	f := newFixture(t)
	f.createGroup("ga", "a")
	f.createGroup("gb", "b", "ga")
	f.members("ga", []string{"gb"}, nil)
	f.drain(f.runner())
	a, _ := f.fake.Account("ga")
	b, _ := f.fake.Account("gb")
	if !a.Members["gb"] || !b.Members["ga"] {
		t.Errorf("members: ga %v, gb %v", a.Members, b.Members)
	}
}

// TestOrderPerResource: with several workers and small batches, each
// resource's changes still arrive in journal order.
func TestOrderPerResource(t *testing.T) {
	f := newFixture(t)
	for i := range 5 {
		f.createUser(fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i))
	}
	for v := range 6 {
		for i := range 5 {
			f.set(store.User, fmt.Sprintf("u%d", i), "title", fmt.Sprintf("v%d", v))
		}
	}
	f.drain(f.runner(func(o *targets.Options) { o.Batch = 7; o.Workers = 4 }))
	for i := range 5 {
		id := fmt.Sprintf("u%d", i)
		var last int64
		for _, c := range f.fake.CallsFor(id) {
			if c.Seqs[0] <= last {
				t.Errorf("%s: seqs %v after %d", id, c.Seqs, last)
			}
			last = c.Seqs[len(c.Seqs)-1]
		}
		if a, _ := f.fake.Account(id); a.Attrs["title"] != "v5" {
			t.Errorf("%s title in the target = %v, want v5", id, a.Attrs["title"])
		}
	}
}

// crashingStore fails AdvanceCursor once: the process "died" between the
// applies and the advance.
type crashingStore struct {
	store.Store
	crash atomic.Bool
}

func (s *crashingStore) AdvanceCursor(ctx context.Context, tenant, consumer, holder string, ifVersion, seq int64) (store.Cursor, error) {
	if s.crash.CompareAndSwap(true, false) {
		return store.Cursor{}, errors.New("simulated crash before the advance")
	}
	return s.Store.AdvanceCursor(ctx, tenant, consumer, holder, ifVersion, seq)
}

// TestAtLeastOnceAfterCrash: a runner that stops between applying and
// advancing loses nothing; a new runner applies the batch again and the
// idempotent target ends up with each account once.
func TestAtLeastOnceAfterCrash(t *testing.T) {
	f := newFixture(t)
	cs := &crashingStore{Store: f.st}
	cs.crash.Store(true)
	f.createUser("u1", "alice")
	f.createUser("u2", "bob")
	r1 := f.runner(func(o *targets.Options) { o.Store = cs })
	if _, err := r1.Step(f.ctx); err == nil {
		t.Fatal("the step survived the crash")
	}
	if f.cursor() != 0 {
		t.Fatalf("cursor advanced to %d", f.cursor())
	}
	if err := r1.Release(f.ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // the released lease lapses 1 ms after Release
	f.set(store.User, "u1", "title", "after")
	f.drain(f.runner(func(o *targets.Options) { o.Holder = "h2" }))
	if got := len(f.fake.CallsFor("u1")); got != 2 {
		t.Errorf("u1 applied %d times, want 2 (before the crash and again)", got)
	}
	if !slices.Equal(f.fake.IDs(), []string{"u1", "u2"}) {
		t.Errorf("target holds %v", f.fake.IDs())
	}
	if a, _ := f.fake.Account("u1"); a.Attrs["title"] != "after" || a.TargetID != "fake:u1" {
		t.Errorf("u1 = %+v", a)
	}
	if f.cursor() != f.head() {
		t.Errorf("cursor %d, head %d", f.cursor(), f.head())
	}
}

// TestRetryThenSuccess: transient failures are retried with backoff
// (honouring a Retry-After) until the apply succeeds.
func TestRetryThenSuccess(t *testing.T) {
	f := newFixture(t)
	var n atomic.Int32
	f.fake.Fail = func(c targets.Change) error {
		switch n.Add(1) {
		case 1:
			return errors.New("connection refused")
		case 2:
			return targets.RetryAfter(30*time.Millisecond, errors.New("429"))
		}
		return nil
	}
	f.createUser("u1", "alice")
	start := time.Now()
	f.drain(f.runner(func(o *targets.Options) { o.MaxAttempts = 5 }))
	if len(f.fake.CallsFor("u1")) != 3 {
		t.Errorf("calls = %d, want 3", len(f.fake.CallsFor("u1")))
	}
	if time.Since(start) < 30*time.Millisecond {
		t.Errorf("the Retry-After of 30ms was not honoured (%s)", time.Since(start))
	}
	if _, ok := f.fake.Account("u1"); !ok {
		t.Error("u1 not applied")
	}
	st, err := f.runner().Status(f.ctx)
	if err != nil || st.DeadLetters != 0 || st.LastSuccess.IsZero() {
		t.Errorf("status = %+v, %v", st, err)
	}
}

// TestDeadLetter: a resource that keeps failing is dead-lettered after
// MaxAttempts (at once if permanent) without blocking the others; its later
// entries wait behind it; Retry re-queues it and it then goes through.
func TestDeadLetter(t *testing.T) {
	f := newFixture(t)
	var broken atomic.Bool
	broken.Store(true)
	f.fake.Fail = func(c targets.Change) error {
		if !broken.Load() {
			return nil
		}
		switch c.ID {
		case "bad":
			return errors.New("server unavailable")
		case "perm":
			return targets.Permanent(errors.New("title: value too long"))
		}
		return nil
	}
	f.createUser("bad", "bad")
	f.createUser("perm", "perm")
	f.createUser("ok", "ok")
	r := f.runner()
	f.drain(r)
	if got := len(f.fake.CallsFor("bad")); got != 3 {
		t.Errorf("bad attempted %d times, want MaxAttempts=3", got)
	}
	if got := len(f.fake.CallsFor("perm")); got != 1 {
		t.Errorf("perm attempted %d times, want 1 (permanent)", got)
	}
	if _, ok := f.fake.Account("ok"); !ok {
		t.Error("ok was blocked by the failing resources")
	}
	if f.cursor() != f.head() {
		t.Errorf("cursor %d did not pass the dead letters (head %d)", f.cursor(), f.head())
	}
	ds, err := r.DeadLetters(f.ctx)
	if err != nil || len(ds) != 2 {
		t.Fatalf("dead letters = %+v, %v", ds, err)
	}
	if ds[0].ID != "bad" || ds[0].Attempts != 3 || ds[0].Permanent || ds[0].Error != "server unavailable" ||
		ds[0].FirstFailure.IsZero() || len(ds[0].Seqs) != 1 {
		t.Errorf("bad's dead letter = %+v", ds[0])
	}
	if ds[1].ID != "perm" || !ds[1].Permanent || ds[1].Attempts != 1 || ds[1].Error != "permanent: title: value too long" {
		t.Errorf("perm's dead letter = %+v", ds[1])
	}

	// Later entries of bad wait behind its dead letter; ok flows.
	f.set(store.User, "bad", "title", "X")
	f.set(store.User, "ok", "title", "Y")
	f.drain(r)
	if got := len(f.fake.CallsFor("bad")); got != 3 {
		t.Errorf("bad was applied again (%d calls) while dead-lettered", got)
	}
	if a, _ := f.fake.Account("ok"); a.Attrs["title"] != "Y" {
		t.Errorf("ok title = %v", a.Attrs["title"])
	}
	ds, _ = r.DeadLetters(f.ctx)
	if len(ds[0].Seqs) != 2 || ds[0].Entries != 2 || !slices.Equal(ds[0].Changed, []string{"active", "title", "userName"}) {
		t.Errorf("bad's dead letter after a later entry = %+v", ds[0])
	}
	st, err := r.Status(f.ctx)
	if err != nil || st.DeadLetters != 2 || st.LastError == "" || st.Lag != 0 || st.Cursor != f.head() {
		t.Errorf("status = %+v, %v", st, err)
	}

	// Retry: bad goes through with its current state, and leaves the list.
	broken.Store(false)
	if err := r.Retry(f.ctx, "bad"); err != nil {
		t.Fatal(err)
	}
	if err := r.Retry(f.ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Retry of an unknown id: %v", err)
	}
	f.drain(r)
	if a, ok := f.fake.Account("bad"); !ok || a.Attrs["title"] != "X" {
		t.Errorf("bad after Retry = %+v, %v", a, ok)
	}
	calls := f.fake.CallsFor("bad")
	if c := calls[len(calls)-1]; c.Action != targets.ActionCreate || c.Name != "bad" || c.At.IsZero() ||
		c.Origin != storetest.TestOrigin || !slices.Equal(c.Seqs, ds[0].Seqs) {
		t.Errorf("the retried change = %+v", c)
	}
	if ds, _ = r.DeadLetters(f.ctx); len(ds) != 1 || ds[0].ID != "perm" {
		t.Errorf("dead letters after Retry = %+v", ds)
	}
	if n, err := r.RetryAll(f.ctx); err != nil || n != 1 {
		t.Errorf("RetryAll = %d, %v", n, err)
	}
	f.drain(r)
	if ds, _ = r.DeadLetters(f.ctx); len(ds) != 0 {
		t.Errorf("dead letters after RetryAll = %+v", ds)
	}
	if _, ok := f.fake.Account("perm"); !ok {
		t.Error("perm not applied after RetryAll")
	}
}

// TestRetryFailsAgain: a re-queued dead letter that fails again stays one,
// with its attempts added up, and keeps collecting later entries.
func TestRetryFailsAgain(t *testing.T) {
	f := newFixture(t)
	f.fake.Fail = func(c targets.Change) error { return targets.Permanent(errors.New("no")) }
	f.createUser("u1", "alice")
	r := f.runner()
	f.drain(r)
	if err := r.Retry(f.ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	f.set(store.User, "u1", "title", "T")
	f.drain(r)
	ds, _ := r.DeadLetters(f.ctx)
	if len(ds) != 1 || ds[0].Attempts != 2 || ds[0].Retry || ds[0].Entries != 2 {
		t.Errorf("dead letter = %+v", ds)
	}
	if got := len(f.fake.CallsFor("u1")); got != 2 {
		t.Errorf("calls = %d, want 2 (first try, the retry; the later entry waited)", got)
	}
}

// TestLeaseLost: a runner whose lease was taken over stops without
// advancing the cursor, and Run returns store.ErrLeaseLost.
func TestLeaseLost(t *testing.T) {
	f := newFixture(t)
	f.createUser("u1", "alice")
	f.fake.Fail = func(targets.Change) error { return steal(f) }
	r := f.runner()
	if _, err := r.Step(f.plain); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("step = %v, want ErrLeaseLost", err)
	}
	if f.cursor() != 0 {
		t.Errorf("cursor advanced to %d without the lease", f.cursor())
	}
	if _, err := r.Step(f.plain); !errors.Is(err, targets.ErrNotHolder) {
		t.Errorf("step while h2 holds the lease = %v", err)
	}

	// Run: the renewal notices and stops the runner.
	g := newFixture(t)
	g.createUser("u1", "alice")
	r = g.runner(func(o *targets.Options) { o.LeaseTTL = 30 * time.Millisecond })
	g.fake.Fail = func(c targets.Change) error {
		if err := steal(g); err != nil {
			return err
		}
		<-time.After(50 * time.Millisecond) // the renewal runs meanwhile
		return errors.New("still busy")
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(g.plain) }()
	select {
	case err := <-done:
		if !errors.Is(err, store.ErrLeaseLost) {
			t.Errorf("Run = %v, want ErrLeaseLost", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop after losing its lease")
	}
	if g.cursor() != 0 {
		t.Errorf("cursor advanced to %d without the lease", g.cursor())
	}
}

// steal lets h1's lease expire and gives it to h2 (again if h1's renewal
// got in between).
func steal(f *fixture) error {
	lease := store.ConsumerLease("target/fake")
	for range 200 {
		if _, err := f.st.AcquireLease(f.ctx, tenant, lease, "h1", time.Millisecond); err != nil {
			return err
		}
		time.Sleep(2 * time.Millisecond)
		ok, err := f.st.AcquireLease(f.ctx, tenant, lease, "h2", time.Minute)
		if err != nil || ok {
			return err
		}
	}
	return errors.New("could not steal the lease")
}

// TestRunFollowsTheJournal: Run applies what is written while it runs and
// returns nil when its context ends.
func TestRunFollowsTheJournal(t *testing.T) {
	f := newFixture(t)
	r := f.runner()
	ctx, cancel := context.WithCancel(f.plain)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	f.createUser("u1", "alice")
	f.set(store.User, "u1", "title", "T")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if a, ok := f.fake.Account("u1"); ok && a.Attrs["title"] == "T" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("u1 never reached the target")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	// It released its lease on the way out: another replica takes over at
	// once, not after the 30s TTL.
	for i := 0; ; i++ {
		ok, err := f.st.AcquireLease(f.ctx, tenant, store.ConsumerLease("target/fake"), "h2", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if i == 100 {
			t.Fatal("the lease was not released when Run returned")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestRetryDoesNotBlockOthers: while one resource waits out its backoff,
// the other resources of the batch are applied.
func TestRetryDoesNotBlockOthers(t *testing.T) {
	f := newFixture(t)
	var slowDone, fastAt atomic.Int64
	var n atomic.Int32
	f.fake.Fail = func(c targets.Change) error {
		if c.ID == "fast" {
			fastAt.Store(time.Now().UnixNano())
			return nil
		}
		if c.ID != "slow" {
			return nil
		}
		if n.Add(1) < 3 {
			return errors.New("busy")
		}
		slowDone.Store(time.Now().UnixNano())
		return nil
	}
	f.createUser("slow", "slow")
	for i := range 6 {
		f.createUser(fmt.Sprintf("fast%d", i), fmt.Sprintf("fast%d", i))
	}
	f.createUser("fast", "fast")
	f.drain(f.runner(func(o *targets.Options) {
		o.BackoffMin, o.BackoffMax, o.MaxAttempts, o.Workers = 100*time.Millisecond, 200*time.Millisecond, 5, 2
	}))
	if fastAt.Load() == 0 || slowDone.Load() == 0 || fastAt.Load() > slowDone.Load() {
		t.Errorf("fast applied at %d, slow at %d: the retrying resource blocked the others", fastAt.Load(), slowDone.Load())
	}
	if len(f.fake.IDs()) != 8 {
		t.Errorf("target holds %v", f.fake.IDs())
	}
}

// TestCursorExpired: a cursor whose entries were trimmed calls the
// reconcile hook instead of skipping, then continues from the trim floor.
func TestCursorExpired(t *testing.T) {
	f := newFixture(t)
	f.createUser("u1", "alice")
	r := f.runner()
	f.drain(r)
	// Stale consumer: no lease, cursor older than the cutoff.
	if err := r.Release(f.ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	f.createUser("u2", "bob")
	f.createUser("u3", "carol")
	if _, err := f.st.Trim(f.ctx, tenant, time.Now().Add(time.Hour), 100); err != nil {
		t.Fatal(err)
	}
	floor, _ := f.st.TrimFloor(f.ctx, tenant)
	if floor <= 1 {
		t.Fatalf("trim floor %d: nothing trimmed", floor)
	}
	f.createUser("u4", "dave") // after the floor: still in the journal

	// Without a hook: an error, nothing skipped.
	if _, err := r.Step(f.plain); !errors.Is(err, store.ErrCursorExpired) {
		t.Fatalf("step without a reconcile hook = %v", err)
	}
	if st, _ := r.Status(f.ctx); !st.Expired || st.LastError == "" {
		t.Errorf("status = %+v, want Expired and the error", st)
	}

	var called []string
	r = f.runner(func(o *targets.Options) {
		o.Reconcile = func(ctx context.Context, tn, target string) error {
			called = append(called, tn+"/"+target)
			return nil
		}
	})
	f.drain(r)
	if !slices.Equal(called, []string{"t1/fake"}) {
		t.Errorf("reconcile hook calls = %v", called)
	}
	if f.cursor() != f.head() {
		t.Errorf("cursor %d, head %d after the reconcile and the entries after the floor", f.cursor(), f.head())
	}
	if _, ok := f.fake.Account("u4"); !ok {
		t.Error("u4, written after the trim floor, was not applied after the reconcile")
	}
	if _, ok := f.fake.Account("u3"); ok {
		t.Error("u3 (trimmed) was applied from the journal: the fake reconcile hook does nothing")
	}

	// A new target after a trim starts with a reconcile too.
	called = nil
	f.drain(f.runner(func(o *targets.Options) {
		o.Name = "other"
		o.Reconcile = func(ctx context.Context, tn, target string) error {
			called = append(called, tn+"/"+target)
			return nil
		}
	}))
	if !slices.Equal(called, []string{"t1/other"}) {
		t.Errorf("reconcile hook calls for a new target = %v", called)
	}
}

// TestRegistry: explicit registration, fresh configs, unknown types.
func TestRegistry(t *testing.T) {
	reg := targets.NewRegistry()
	fake := targettest.New()
	reg.Register("fake", func() targets.Config { return &fakeConfig{t: fake} })
	if _, err := reg.New("nope"); err == nil || err.Error() != `unknown target type "nope" (known: fake)` {
		t.Errorf("New(nope) = %v", err)
	}
	tg, err := reg.Open("fake", "f1", func(c targets.Config) error { c.(*fakeConfig).Value = "x"; return nil }, targets.Deps{})
	if err != nil || tg != fake {
		t.Errorf("Open = %v, %v", tg, err)
	}
	if _, err := reg.Open("fake", "f2", nil, targets.Deps{}); err == nil || err.Error() != `target "f2": fake.value: required` {
		t.Errorf("Open of an invalid config = %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("a duplicate Register did not panic")
		}
	}()
	reg.Register("fake", func() targets.Config { return &fakeConfig{} })
}

type fakeConfig struct {
	Value string
	t     targets.Target
}

func (c *fakeConfig) Validate() error {
	if c.Value == "" {
		return errors.New("fake.value: required")
	}
	return nil
}

func (c *fakeConfig) Open(name string, deps targets.Deps) (targets.Target, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c.t, nil
}

// TestStatusAcrossRestart: a new runner (a restart, another replica) keeps
// the last error and success its predecessor recorded, and Status reports
// the delay of the oldest unread entry.
func TestStatusAcrossRestart(t *testing.T) {
	f := newFixture(t)
	f.fake.Fail = func(c targets.Change) error { return targets.Permanent(errors.New("rejected")) }
	f.createUser("u1", "alice")
	f.drain(f.runner())
	f.fake.Fail = nil
	f.createUser("u2", "bob")
	time.Sleep(20 * time.Millisecond)
	st, err := targets.ReadStatus(f.ctx, f.st, tenant, "fake")
	if err != nil || st.Lag != 1 || st.Delay < 20*time.Millisecond || st.DeadLetters != 1 {
		t.Errorf("status with one unread entry = %+v, %v", st, err)
	}
	f.drain(f.runner(func(o *targets.Options) { o.Holder = "h1" }))
	st, err = targets.ReadStatus(f.ctx, f.st, tenant, "fake")
	if err != nil || st.LastError != "User u1: permanent: rejected" || st.LastSuccess.IsZero() || st.Lag != 0 || st.Delay != 0 {
		t.Errorf("status after a restart = %+v, %v", st, err)
	}
}

// TestConvergesUnderLoad: with Run going while users and groups are
// created, edited, regrouped and deleted concurrently, the target ends up
// holding exactly what the store holds, attributes and memberships.
func TestConvergesUnderLoad(t *testing.T) {
	f := newFixture(t)
	r := f.runner(func(o *targets.Options) { o.Batch = 13; o.Workers = 3 })
	ctx, cancel := context.WithCancel(f.plain)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	const users, groups = 20, 4
	for g := range groups {
		f.createGroup(fmt.Sprintf("g%d", g), fmt.Sprintf("group%d", g))
	}
	for i := range users {
		id := fmt.Sprintf("u%d", i)
		f.createUser(id, "user"+id)
		f.members(fmt.Sprintf("g%d", i%groups), []string{id}, nil)
	}
	for round := range 3 {
		for i := range users {
			id := fmt.Sprintf("u%d", i)
			f.set(store.User, id, "title", fmt.Sprintf("t%d", round))
			if (i+round)%5 == 0 {
				f.members(fmt.Sprintf("g%d", i%groups), nil, []string{id})
				f.members(fmt.Sprintf("g%d", (i+1)%groups), []string{id}, nil)
			}
		}
	}
	for i := range users {
		if i%7 == 0 {
			f.del(store.User, fmt.Sprintf("u%d", i))
		}
	}
	f.members("g1", []string{"g2"}, nil)

	deadline := time.Now().Add(30 * time.Second)
	for f.cursor() != f.head() {
		if time.Now().After(deadline) {
			t.Fatalf("cursor %d never reached the head %d", f.cursor(), f.head())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	var want []string
	for _, kind := range []store.Kind{store.User, store.Group} {
		page, err := f.st.Query(f.ctx, tenant, kind, store.Query{Count: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, res := range page.Resources {
			want = append(want, res.ID)
			a, ok := f.fake.Account(res.ID)
			if !ok {
				t.Errorf("%s missing from the target", res.ID)
				continue
			}
			if kind == store.User && a.Attrs["title"] != res.Attrs["title"] {
				t.Errorf("%s title %v in the target, %v in the store", res.ID, a.Attrs["title"], res.Attrs["title"])
			}
			if kind == store.Group {
				ms, err := f.st.Members(f.ctx, res.Ref, "", 0)
				if err != nil {
					t.Fatal(err)
				}
				var sm, tm []string
				for _, m := range ms {
					sm = append(sm, m.Value)
				}
				for m := range a.Members {
					// A deleted member leaves its groups without a group entry;
					// the adapter handles that when it deletes the account.
					if _, ok := f.fake.Account(m); ok {
						tm = append(tm, m)
					}
				}
				slices.Sort(sm)
				slices.Sort(tm)
				if !slices.Equal(sm, tm) {
					t.Errorf("%s members %v in the target, %v in the store", res.ID, tm, sm)
				}
			}
		}
	}
	slices.Sort(want)
	if got := f.fake.IDs(); !slices.Equal(got, want) {
		t.Errorf("target holds %v, store %v", got, want)
	}
}
