package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

func openT(t *testing.T) *Store {
	t.Helper()
	s, err := Open(storetest.Background(), filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// hold occupies the writer with a request that blocks until the returned
// function is called, so that the requests queued meanwhile form one batch.
func hold(t *testing.T, s *Store) (release func()) {
	t.Helper()
	started, done := make(chan struct{}), make(chan struct{})
	go s.write(storetest.Background(), func(context.Context, *sql.Tx) error {
		close(started)
		<-done
		return nil
	})
	<-started
	return sync.OnceFunc(func() { close(done) })
}

// waitQueued waits until n requests are queued.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.qmu.Lock()
		l := len(s.queue)
		s.qmu.Unlock()
		if l >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests queued, want %d", l, n)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// inOrder starts fns one at a time, each once the previous one is queued,
// while the writer is held, then releases the writer and waits for all: the
// requests run as one batch in this order. It returns the number of
// transactions the batch committed.
func inOrder(t *testing.T, s *Store, fns ...func()) int64 {
	t.Helper()
	release := hold(t, s)
	defer release()
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn()
		}()
		waitQueued(t, s, i+1)
	}
	before := s.writes.Load()
	release()
	wg.Wait()
	return s.writes.Load() - before - 1 // the held request committed too
}

func oneCommit(t *testing.T, n int64) {
	t.Helper()
	if n != 1 {
		t.Fatalf("batch committed %d transactions, want 1", n)
	}
}

func user(id, userName string) store.Resource {
	return store.Resource{Ref: store.Ref{Tenant: "t", Kind: store.User, ID: id},
		Attrs: map[string]any{"userName": userName}}
}

// TestBatchFailureIsolation: in one batch of 50 creates, the 10 that repeat
// a userName get ErrConflict and the 40 others land, with their journal
// entries only.
func TestBatchFailureIsolation(t *testing.T) {
	s := openT(t)
	ctx := storetest.Background()
	const n, dups = 50, 10
	errs := make([]error, n)
	var fns []func()
	for i := range n {
		r := user(fmt.Sprintf("u%02d", i), fmt.Sprintf("user%02d", i))
		if i >= n-dups {
			r.Attrs["userName"] = fmt.Sprintf("USER%02d", i-(n-dups)) // same as an earlier one, in another case
		}
		fns = append(fns, func() { _, errs[i] = s.Create(ctx, r, nil) })
	}
	oneCommit(t, inOrder(t, s, fns...))
	var want []string
	for i, err := range errs {
		if i >= n-dups {
			var ce *store.ConflictError
			if !errors.As(err, &ce) || ce.Attribute != "userName" {
				t.Errorf("duplicate %d: %v, want a userName conflict", i, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("create %d: %v", i, err)
		}
		want = append(want, fmt.Sprintf("u%02d", i))
	}
	p, err := s.Query(ctx, "t", store.User, store.Query{Count: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range p.Resources {
		got = append(got, r.ID)
		if _, err := s.Get(ctx, r.Ref); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
	cs, err := s.Changes(ctx, "t", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, c := range cs {
		if c.Op != store.OpCreate || c.Version != 1 {
			t.Fatalf("journal entry %+v", c)
		}
		got = append(got, c.ID)
	}
	if !slices.Equal(got, want) { // journal order is batch order
		t.Fatalf("journal %v, want %v", got, want)
	}
}

// TestBatchMixed runs, in one batch, updates of one group that must compose,
// failing updates, deletes and state writes next to each other. The updates
// are Update's last attempt, which runs fn inside the writer (the first ones
// run fn outside it and are tested in update_test.go).
func TestBatchMixed(t *testing.T) {
	s := openT(t)
	ctx := storetest.Background()
	for i := range 10 {
		if _, err := s.Create(ctx, user(fmt.Sprintf("m%d", i), fmt.Sprintf("m%d", i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	g, err := s.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "t", Kind: store.Group, ID: "g"},
		Attrs: map[string]any{"displayName": "G"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	seq := lastSeq(t, s)
	var fns []func()
	addErrs := make([]error, 10)
	for i := range 10 {
		fns = append(fns, func() {
			_, addErrs[i] = s.updateInWriter(ctx, g.Ref, func(r *store.Resource) (store.MemberDelta, error) {
				r.Attrs[fmt.Sprint("x", i)] = true
				return store.MemberDelta{Add: []store.Member{{Value: fmt.Sprintf("m%d", i)}}}, nil
			})
		})
	}
	var precondErr, notFoundErr, deleteErr, dupErr, putErr error
	var panicked any
	var version int64
	fns = append(fns,
		func() {
			_, precondErr = s.updateInWriter(ctx, g.Ref, func(r *store.Resource) (store.MemberDelta, error) {
				r.Attrs["lost"] = true
				return store.MemberDelta{Add: []store.Member{{Value: "m9"}}}, store.ErrPrecondition
			})
		},
		func() {
			_, notFoundErr = s.updateInWriter(ctx, store.Ref{Tenant: "t", Kind: store.User, ID: "nobody"},
				func(r *store.Resource) (store.MemberDelta, error) { return store.MemberDelta{}, nil })
		},
		func() {
			defer func() { panicked = recover() }()
			s.updateInWriter(ctx, g.Ref, func(r *store.Resource) (store.MemberDelta, error) {
				r.Attrs["lost"] = true
				panic("boom")
			})
		},
		func() { deleteErr = s.Delete(ctx, store.Ref{Tenant: "t", Kind: store.User, ID: "m0"}, 0) },
		func() { _, dupErr = s.Create(ctx, user("m0", "again"), nil) }, // m0 is gone by now
		func() { version, putErr = s.PutState(ctx, "t", "k", []byte("v"), 0) },
	)
	oneCommit(t, inOrder(t, s, fns...))
	for i, err := range addErrs {
		if err != nil {
			t.Fatalf("add %d: %v", i, err)
		}
	}
	if !errors.Is(precondErr, store.ErrPrecondition) || !errors.Is(notFoundErr, store.ErrNotFound) {
		t.Fatalf("failing updates: %v, %v", precondErr, notFoundErr)
	}
	if panicked != "boom" {
		t.Fatalf("panic in fn: recovered %v", panicked)
	}
	if deleteErr != nil || dupErr != nil || putErr != nil || version != 1 {
		t.Fatalf("delete %v, re-create %v, put state %v %d", deleteErr, dupErr, putErr, version)
	}
	got, err := s.Get(ctx, g.Ref)
	if err != nil {
		t.Fatal(err)
	}
	// 10 adds, then the delete of m0 removes a membership without a new version.
	if got.Version != 11 || len(got.Attrs) != 11 || got.Attrs["lost"] != nil {
		t.Fatalf("group v%d %v", got.Version, got.Attrs)
	}
	ms, err := s.Members(ctx, g.Ref, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 9 || ms[0].Value != "m1" {
		t.Fatalf("members %+v", ms)
	}
	cs, err := s.Changes(ctx, "t", seq, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 12 { // 10 updates, the delete, the create
		t.Fatalf("%d journal entries: %+v", len(cs), cs)
	}
	for i, c := range cs[:10] {
		if c.Version != int64(i+2) || len(c.Added) != 1 || c.Added[0] != fmt.Sprintf("m%d", i) {
			t.Fatalf("journal entry %d: %+v", i, c)
		}
	}
}

// TestBatchMembersRead: an Update fn that runs inside the writer (Update's
// last attempt) and reads the members through the store sees the earlier
// writes of its batch.
func TestBatchMembersRead(t *testing.T) {
	s := openT(t)
	ctx := storetest.Background()
	if _, err := s.Create(ctx, user("u1", "u1"), nil); err != nil {
		t.Fatal(err)
	}
	g, err := s.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "t", Kind: store.Group, ID: "g"},
		Attrs: map[string]any{"displayName": "G"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var seen []store.Member
	var err1, err2 error
	n := inOrder(t, s,
		func() {
			_, err1 = s.updateInWriter(ctx, g.Ref, func(r *store.Resource) (store.MemberDelta, error) {
				return store.MemberDelta{Add: []store.Member{{Value: "u1"}}}, nil
			})
		},
		func() {
			_, err2 = s.updateInWriter(ctx, g.Ref, func(r *store.Resource) (store.MemberDelta, error) {
				ms, err := s.Members(ctx, g.Ref, "", 0)
				seen = ms
				var rm []string
				for _, m := range ms {
					rm = append(rm, m.Value)
				}
				return store.MemberDelta{Remove: rm}, err
			})
		},
	)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if n != 2 { // the second Update ran again after the first committed
		t.Fatalf("batch committed %d transactions, want 2", n)
	}
	if len(seen) != 1 || seen[0].Value != "u1" {
		t.Fatalf("fn saw members %+v, want u1", seen)
	}
	if ms, _ := s.Members(ctx, g.Ref, "", 0); len(ms) != 0 {
		t.Fatalf("members %+v, want none", ms)
	}
}

// TestBatchBrokenTransaction: a request that ends the transaction under the
// batch fails alone; the others run again and land.
func TestBatchBrokenTransaction(t *testing.T) {
	s := openT(t)
	ctx := storetest.Background()
	errs := make([]error, 3)
	oneCommit(t, inOrder(t, s,
		func() { _, errs[0] = s.Create(ctx, user("a", "a"), nil) },
		func() {
			errs[1] = s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `ROLLBACK`)
				return err
			})
		},
		func() { _, errs[2] = s.Create(ctx, user("b", "b"), nil) },
	))
	if errs[0] != nil || errs[1] == nil || errs[2] != nil {
		t.Fatalf("errors %v", errs)
	}
	for _, id := range []string{"a", "b"} {
		if _, err := s.Get(ctx, store.Ref{Tenant: "t", Kind: store.User, ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if cs, _ := s.Changes(ctx, "t", 0, 0); len(cs) != 2 {
		t.Fatalf("journal %+v", cs)
	}
}

// TestBatchCancelledWhileQueued: a request withdrawn before its batch starts
// is not written.
func TestBatchCancelledWhileQueued(t *testing.T) {
	s := openT(t)
	release := hold(t, s)
	ctx, cancel := context.WithCancel(storetest.Background())
	errc := make(chan error)
	go func() {
		_, err := s.Create(ctx, user("a", "a"), nil)
		errc <- err
	}()
	waitQueued(t, s, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Create: %v", err)
	}
	release()
	if _, err := s.Create(storetest.Background(), user("b", "b"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(storetest.Background(), store.Ref{Tenant: "t", Kind: store.User, ID: "a"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("withdrawn create: Get %v", err)
	}
}

func lastSeq(t *testing.T, s *Store) int64 {
	t.Helper()
	cs, err := s.Changes(storetest.Background(), "t", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) == 0 {
		return 0
	}
	return cs[len(cs)-1].Seq
}
