package pull_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/pull"
	"github.com/scimbridge/scimbridge/pull/pulltest"
	"github.com/scimbridge/scimbridge/store"
)

// A dry run writes nothing but its run record and plan: no resources, no
// identity map, no checkpoint. The plan is stored in pages and read back
// in Seq order.
func TestDryRun(t *testing.T) {
	f := newFixture(t)
	const n = 1203
	for i := range n {
		f.src.PutUser(user(fmt.Sprintf("u%04d", i), fmt.Sprintf("user%04d@x.example", i), true))
	}
	f.src.PutGroup("g1", "G")
	f.src.AddMembers("g1", "u0000", "u0001")
	var prog pull.Progress
	calls := 0
	rec := f.run(dry, func(r *pull.RunRequest) {
		r.Progress = func(p pull.Progress) { prog = p; calls++ }
	})
	if rec.Counts.Created != n+1 || !rec.DryRun {
		t.Fatalf("counts %+v", rec.Counts)
	}
	if prog.Users != n || prog.Groups != 1 || prog.Memberships != 2 || prog.Pages != rec.Counts.Pages || calls < n/1000 {
		t.Errorf("progress %+v after %d calls (counts %+v)", prog, calls, rec.Counts)
	}
	if f.total(store.User) != 0 || f.total(store.Group) != 0 || f.lastSeq() != 0 {
		t.Fatal("a dry run wrote resources")
	}
	ents, err := f.st.ListState(f.ctx, tenant, "pull/graph/")
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Fatalf("a dry run wrote source state: %s...", ents[0].Key)
	}
	pages, err := f.st.ListState(f.ctx, tenant, "pull/plan/"+rec.ID+"/")
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 3 {
		t.Errorf("%d plan pages, want 3 (500 items each)", len(pages))
	}
	items, err := f.eng.Plan(f.ctx, tenant, rec.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != n+1 {
		t.Fatalf("%d plan items", len(items))
	}
	for i, it := range items {
		if it.Seq != i+1 || it.Action != pull.ActionCreate || it.ID != "" {
			t.Fatalf("item %d: %+v", i, it)
		}
	}
	last := items[n]
	if last.Kind != store.Group || !slices.Contains(last.Changed, "members +2") {
		t.Errorf("group item %+v", last)
	}
	page, err := f.eng.Plan(f.ctx, tenant, rec.ID, 498, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 5 || page[0].Seq != 499 || page[4].Seq != 503 {
		t.Errorf("page after 498: %+v", page)
	}

	// After a real round, a dry run plans updates with the changed
	// attributes, disables, deletes and the unmatched resources.
	f.run()
	seq := f.lastSeq()
	cp := f.state("pull/graph/checkpoint")
	f.src.PutUser(user("u0000", "user0000@x.example", true, "title", "Chief"))
	f.src.RemoveUser("u0001", pull.RemovedChanged)
	f.src.RemoveGroup("g1", pull.RemovedDeleted)
	pushed := f.push(store.User, map[string]any{"userName": "pushed@x.example"})
	seq++
	rec = f.run(dry, full)
	items, err = f.eng.Plan(f.ctx, tenant, rec.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]pull.PlanItem{}
	for _, it := range items {
		actions[it.Action+" "+it.Name] = it
	}
	if it, ok := actions["update user0000@x.example"]; !ok || !slices.Contains(it.Changed, "title") || it.ObjectID != "u0000" {
		t.Errorf("update item %+v (items %v)", it, keys(actions))
	}
	if _, ok := actions["disable user0001@x.example"]; !ok {
		t.Errorf("no disable item: %v", keys(actions))
	}
	if _, ok := actions["delete G"]; !ok {
		t.Errorf("no delete item: %v", keys(actions))
	}
	if it, ok := actions["unmatched pushed@x.example"]; !ok || it.ID != pushed.ID {
		t.Errorf("no unmatched item: %v", keys(actions))
	}
	// The disabled user also leaves G (before G's deletion is planned).
	if it, ok := actions["update G"]; !ok || !slices.Contains(it.Changed, "members -1") {
		t.Errorf("no member removal: %v", keys(actions))
	}
	if len(items) != 5 || rec.Counts.Unchanged != n-2 || rec.Counts.Unmatched != 1 {
		t.Errorf("%d items, counts %+v", len(items), rec.Counts)
	}
	if f.lastSeq() != seq || string(f.state("pull/graph/checkpoint")) != string(cp) {
		t.Error("the dry run wrote resources or the checkpoint")
	}
}

func keys(m map[string]pull.PlanItem) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// A failing round returns its record and the error, does not advance the
// checkpoint, and the next round converges.
func TestFailedRoundDoesNotAdvance(t *testing.T) {
	f := newFixture(t)
	f.src.PutUser(user("u1", "a@x.example", true))
	f.run()
	cp := f.state("pull/graph/checkpoint")
	f.src.PutUser(user("u2", "b@x.example", true))
	f.src.PutUser(user("u3", "c@x.example", true))
	f.src.FailAfterUsers = 1
	rec, err := f.eng.Run(f.ctx, f.req())
	if err == nil || rec.Outcome != pull.OutcomeFailed || len(rec.Errors) == 0 || rec.Finished.IsZero() {
		t.Fatalf("err %v record %+v", err, rec)
	}
	if got := f.state("pull/graph/checkpoint"); string(got) != string(cp) {
		t.Fatalf("checkpoint advanced from %s to %s", cp, got)
	}
	stored, err := f.eng.GetRun(f.ctx, tenant, rec.ID)
	if err != nil || stored.Outcome != pull.OutcomeFailed {
		t.Fatalf("stored record %+v, %v", stored, err)
	}
	f.src.FailAfterUsers = 0
	rec = f.run()
	if rec.Counts.Users != 2 || rec.Counts.Created != 1 || rec.Counts.Unchanged != 1 {
		t.Fatalf("converging round counts %+v", rec.Counts)
	}
	f.mustName(store.User, "c@x.example")
}

// While a run holds the tenant's lease, another holder gets a BusyError
// naming it; Wait waits for the lease instead. Start returns the id at
// once, GetRun and Runs show the record.
func TestBusyStartGetRun(t *testing.T) {
	f := newFixture(t)
	f.src.PutUser(user("u1", "a@x.example", true))
	f.src.Block = make(chan struct{})
	id, err := f.eng.Start(f.ctx, pull.RunRequest{Tenant: tenant, Source: f.src, Trigger: pull.TriggerAdmin})
	if err != nil {
		t.Fatal(err)
	}
	running, err := f.eng.GetRun(f.ctx, tenant, id)
	if err != nil || running.Outcome != pull.OutcomeRunning || running.Trigger != pull.TriggerAdmin {
		t.Fatalf("running record %+v, %v", running, err)
	}

	other := pull.NewEngine(f.st, pull.Options{Holder: "other-holder"})
	src2 := f.src
	_, err = other.Run(f.ctx, pull.RunRequest{Tenant: tenant, Source: src2})
	var be *pull.BusyError
	if !errors.As(err, &be) || !errors.Is(err, pull.ErrBusy) || be.Holder != "test-holder" || be.Since.IsZero() {
		t.Fatalf("err %v", err)
	}
	// The same engine is busy too (one holder id per process).
	if _, err := f.eng.Start(f.ctx, f.req()); !errors.Is(err, pull.ErrBusy) {
		t.Fatalf("second start: %v", err)
	}

	waited := make(chan error, 1)
	go func() {
		_, err := other.Run(f.ctx, pull.RunRequest{Tenant: tenant, Source: f.src, Wait: true, Trigger: pull.TriggerCLI})
		waited <- err
	}()
	close(f.src.Block)
	done := waitRun(t, f.eng, id)
	if done.Outcome != pull.OutcomeSucceeded || done.Counts.Created != 1 || done.Finished.IsZero() {
		t.Fatalf("record %+v", done)
	}
	if err := <-waited; err != nil {
		t.Fatalf("waiting run: %v", err)
	}
	runs, err := f.eng.Runs(f.ctx, tenant, 0)
	if err != nil || len(runs) != 2 || runs[1].ID != id || runs[0].Holder != "other-holder" {
		t.Fatalf("runs %+v, %v", runs, err)
	}
	if _, err := f.eng.GetRun(f.ctx, tenant, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown run: %v", err)
	}
}

func waitRun(t *testing.T, e *pull.Engine, id string) pull.RunRecord {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		rec, err := e.GetRun(context.Background(), tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Outcome != pull.OutcomeRunning {
			return rec
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("run did not finish")
	return pull.RunRecord{}
}

// Only the last 50 run records (and their plans) are kept.
func TestRunsTrimmed(t *testing.T) {
	f := newFixture(t)
	first := f.run(dry)
	for range 51 {
		f.run()
	}
	runs, err := f.eng.Runs(f.ctx, tenant, 0)
	if err != nil || len(runs) != 50 {
		t.Fatalf("%d runs, %v", len(runs), err)
	}
	if !runs[0].Started.After(runs[49].Started) && runs[0].ID <= runs[49].ID {
		t.Error("runs not newest first")
	}
	if _, err := f.eng.GetRun(f.ctx, tenant, first.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("oldest run still there: %v", err)
	}
	if pages, _ := f.st.ListState(f.ctx, tenant, "pull/plan/"+first.ID); len(pages) != 0 {
		t.Error("the oldest run's plan is still there")
	}
}

// Schedule runs each tenant on its interval with Trigger "schedule" and
// records the next run for NextRun.
func TestSchedule(t *testing.T) {
	f := newFixture(t)
	f.src.PutUser(user("u1", "a@x.example", true))
	ctx, cancel := context.WithTimeout(f.ctx, 1200*time.Millisecond)
	defer cancel()
	f.eng.Schedule(ctx, []pull.Scheduled{{Tenant: tenant, Interval: 200 * time.Millisecond, Request: f.req},
		{Tenant: "idle", Interval: 0, Request: f.req}})
	runs, err := f.eng.Runs(f.ctx, tenant, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) < 2 || len(runs) > 7 {
		t.Fatalf("%d scheduled runs in 1.2s at 200ms", len(runs))
	}
	for _, r := range runs {
		if r.Trigger != pull.TriggerSchedule {
			t.Errorf("trigger %q", r.Trigger)
		}
	}
	next, err := f.eng.NextRun(f.ctx, tenant)
	if err != nil || !next.After(runs[0].Started) {
		t.Errorf("next %v (last started %v), %v", next, runs[0].Started, err)
	}
	if next, err := f.eng.NextRun(f.ctx, "idle"); err != nil || !next.IsZero() {
		t.Errorf("idle tenant next %v, %v", next, err)
	}
}

// Bad requests are refused before anything happens.
func TestBadRequest(t *testing.T) {
	f := newFixture(t)
	for _, req := range []pull.RunRequest{
		{Source: f.src},
		{Tenant: tenant},
		{Tenant: tenant, Source: f.src, Policy: pull.Policy{OnDelete: "purge"}},
	} {
		if _, err := f.eng.Run(f.ctx, req); err == nil || !strings.HasPrefix(err.Error(), "pull: ") {
			t.Errorf("%+v: %v", req, err)
		}
	}
}

// leaseThief is a store whose pull lease another holder takes over after
// the first acquisition.
type leaseThief struct {
	store.Store
	calls int
}

func (s *leaseThief) AcquireLease(ctx context.Context, tenant, name, holder string, ttl time.Duration) (bool, error) {
	s.calls++
	if s.calls > 1 && ttl > time.Millisecond {
		return false, nil
	}
	return s.Store.AcquireLease(ctx, tenant, name, holder, ttl)
}

// A run whose lease is lost stops and fails without a checkpoint.
func TestLeaseLost(t *testing.T) {
	f := newFixture(t)
	f.src.PutUser(user("u1", "a@x.example", true))
	f.src.Block = make(chan struct{}) // never closed: only the lost lease ends the read
	eng := pull.NewEngine(&leaseThief{Store: f.st}, pull.Options{Holder: "h", LeaseTTL: 30 * time.Millisecond})
	rec, err := eng.Run(f.ctx, f.req())
	if err == nil || !strings.Contains(err.Error(), "lease was lost") || rec.Outcome != pull.OutcomeFailed {
		t.Fatalf("err %v outcome %q", err, rec.Outcome)
	}
	if f.state("pull/graph/checkpoint") != nil || f.total(store.User) != 0 {
		t.Error("a run that lost its lease wrote")
	}
}

// deadProcess is a store that stops answering writes once dead is set, as
// for a process killed in the middle of a run: its run record stays
// "running" and its lease is not renewed.
type deadProcess struct {
	store.Store
	dead atomic.Bool
}

var errDead = errors.New("the process is gone")

func (s *deadProcess) PutState(ctx context.Context, tenant, key string, value []byte, ifVersion int64) (int64, error) {
	if s.dead.Load() {
		return 0, errDead
	}
	return s.Store.PutState(ctx, tenant, key, value, ifVersion)
}

func (s *deadProcess) AcquireLease(ctx context.Context, tenant, name, holder string, ttl time.Duration) (bool, error) {
	if s.dead.Load() {
		return false, errDead
	}
	return s.Store.AcquireLease(ctx, tenant, name, holder, ttl)
}

// The record of a run whose process died is closed as failed by the next
// run, instead of showing as running forever.
func TestAbandonedRunClosed(t *testing.T) {
	f := newFixture(t)
	f.src.PutUser(user("u1", "a@x.example", true))
	f.src.Block = make(chan struct{})
	ds := &deadProcess{Store: f.st}
	dying := pull.NewEngine(ds, pull.Options{Holder: "dying", LeaseTTL: 50 * time.Millisecond})
	id, err := dying.Start(f.ctx, f.req())
	if err != nil {
		t.Fatal(err)
	}
	ds.dead.Store(true)
	// The lease lapses; then the next run (another process) may start.
	next := pull.NewEngine(f.st, pull.Options{Holder: "next", LeaseTTL: time.Minute})
	req := f.req()
	req.Wait = true
	ctx, cancel := context.WithTimeout(f.ctx, 10*time.Second)
	defer cancel()
	// The dying process's round is still blocked; give the next one a
	// source of its own.
	src := pulltest.New(store.SourcePullGraph)
	src.PutUser(user("u1", "a@x.example", true))
	req.Source = src
	if _, err := next.Run(ctx, req); err != nil {
		t.Fatal(err)
	}
	old, err := next.GetRun(f.ctx, tenant, id)
	if err != nil || old.Outcome != pull.OutcomeFailed || old.Finished.IsZero() || len(old.Errors) == 0 ||
		!strings.Contains(old.Errors[len(old.Errors)-1], "abandoned") {
		t.Fatalf("abandoned record %+v, %v", old, err)
	}
	close(f.src.Block)
}
