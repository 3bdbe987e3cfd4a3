package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/testscale"
	"github.com/scimbridge/scimbridge/store"
)

func concurrencyTests() []testCase {
	return []testCase{
		{"ParallelMemberAdds", testParallelMemberAdds},
		{"ParallelCreateSameUserName", testParallelCreate},
		{"IfMatchRace", testIfMatchRace},
		{"JournalReaderSeesEveryChange", testJournalReader},
		{"StrictParallelCreates", testStrictParallelCreates},
		{"StrictParallelRenames", testStrictParallelRenames},
		{"UpdateFnHoldsNoWrite", testUpdateFnHoldsNoWrite},
		{"UpdateLostRace", testUpdateLostRace},
		{"JournalProof", testJournalProof},
	}
}

// parallel runs fn(i) for i in [0, n) in n goroutines started together.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

func testParallelMemberAdds(t *testing.T, s store.Store) {
	const n = 20
	var ids []string
	for i := range n {
		id := fmt.Sprintf("u%02d", i)
		mustCreate(t, s, newUser(tenantA, id, id))
		ids = append(ids, id)
	}
	g := mustCreate(t, s, newGroup(tenantA, "g", "G"))
	seq := lastSeq(t, s, tenantA)
	ctx := ctxT(t)
	errs := make([]error, n)
	parallel(n, func(i int) {
		// Each writer also touches an attribute, as a PATCH would.
		_, errs[i] = s.Update(ctx, g.Ref, func(r *store.Resource) (store.MemberDelta, error) {
			r.Attrs[fmt.Sprintf("x%02d", i)] = true
			return store.MemberDelta{Add: memberList(ids[i])}, nil
		})
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	wantIDs(t, "members after parallel adds", memberIDs(t, s, g.Ref), ids)
	got := mustGet(t, s, g.Ref)
	if got.Version != 1+n {
		t.Fatalf("Version = %d, want %d", got.Version, 1+n)
	}
	if len(got.Attrs) != 1+n {
		t.Fatalf("attributes lost: %v", got.Attrs)
	}
	cs := changes(t, s, tenantA, seq)
	if len(cs) != n {
		t.Fatalf("%d journal entries, want %d", len(cs), n)
	}
	seen := map[string]bool{}
	versions := map[int64]bool{}
	for _, c := range cs {
		if len(c.Added) != 1 || len(c.Removed) != 0 || seen[c.Added[0]] {
			t.Fatalf("journal entry %+v", c)
		}
		seen[c.Added[0]] = true
		versions[c.Version] = true
	}
	if len(versions) != n {
		t.Fatalf("journal versions not distinct: %v", versions)
	}
}

func testParallelCreate(t *testing.T, s store.Store) {
	const n = 10
	ctx := ctxT(t)
	errs := make([]error, n)
	parallel(n, func(i int) {
		_, errs[i] = s.Create(ctx, newUser(tenantA, "", fmt.Sprintf("Same%c", "Aa"[i%2])), nil)
	})
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrConflict):
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d creates succeeded, want exactly 1", ok)
	}
	_, total := queryIDs(t, s, store.User, store.Query{})
	if total != 1 {
		t.Fatalf("%d users stored, want 1", total)
	}
	if n := len(changes(t, s, tenantA, 0)); n != 1 {
		t.Fatalf("%d journal entries, want 1", n)
	}
}

func testIfMatchRace(t *testing.T, s store.Store) {
	const n = 10
	u := mustCreate(t, s, newUser(tenantA, "u1", "alice"))
	ctx := ctxT(t)
	read := mustGet(t, s, u.Ref).Version
	errs := make([]error, n)
	parallel(n, func(i int) {
		_, errs[i] = s.Update(ctx, u.Ref, func(r *store.Resource) (store.MemberDelta, error) {
			if r.Version != read {
				return store.MemberDelta{}, store.ErrPrecondition
			}
			r.Attrs["title"] = fmt.Sprintf("writer %d", i)
			return store.MemberDelta{}, nil
		})
	})
	won := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if won >= 0 {
				t.Fatalf("writers %d and %d both won", won, i)
			}
			won = i
		case errors.Is(err, store.ErrPrecondition):
		default:
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no writer won")
	}
	got := mustGet(t, s, u.Ref)
	if got.Version != read+1 || got.Attrs["title"] != fmt.Sprintf("writer %d", won) {
		t.Fatalf("stored v%d %v, want v%d by writer %d", got.Version, got.Attrs, read+1, won)
	}
}

func testJournalReader(t *testing.T, s store.Store) {
	// 8 writers of 25 creates each; 4 of 10 unless SCIMBRIDGE_TEST_FULL=1
	// (CI sets it): the same interleavings, shorter on the in-process
	// FerretDB.
	writers, perWriter := testscale.Size(4, 8), testscale.Size(10, 25)
	ctx := ctxT(t)
	var done atomic.Bool
	type seen struct {
		id      string
		version int64
	}
	awaitReader := followJournal(ctx, s, tenantA, 0, 7, time.Millisecond, &done)
	errs := make([]error, writers)
	parallel(writers, func(w int) {
		for i := range perWriter {
			id := fmt.Sprintf("w%d-%d", w, i)
			if _, err := s.Create(ctx, newUser(tenantA, id, id), nil); err != nil {
				errs[w] = err
				return
			}
			if i%5 == 0 {
				if _, err := s.Update(ctx, userRef(tenantA, id), setAttr("title", "t")); err != nil {
					errs[w] = err
					return
				}
			}
		}
	})
	done.Store(true)
	for w, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", w, err)
		}
	}
	got, err := awaitReader()
	if err != nil {
		t.Fatal(err)
	}
	want := writers * (perWriter + perWriter/5)
	if len(got) != want {
		t.Fatalf("reader saw %d changes, want %d", len(got), want)
	}
	m := map[seen]bool{}
	for _, c := range got {
		k := seen{c.ID, c.Version}
		if m[k] {
			t.Fatalf("change %+v seen twice", k)
		}
		m[k] = true
	}
	// The reader saw exactly what the journal holds.
	all := changes(t, s, tenantA, 0)
	if len(all) != len(got) {
		t.Fatalf("journal has %d entries, reader saw %d", len(all), len(got))
	}
	for i := range all {
		if all[i].Seq != got[i].Seq || all[i].ID != got[i].ID {
			t.Fatalf("entry %d: journal %+v, reader %+v", i, all[i], got[i])
		}
	}
}

// followJournal reads tenant's journal from after on in a goroutine, limit
// entries a call, as a consumer would: while caught up it waits poll
// before asking again, and it stops once done is set and a call finds
// nothing new. The returned function waits for it and gives the entries
// read, in order, or the first error, including an entry whose Seq did not
// move past the cursor.
func followJournal(ctx context.Context, s store.Store, tenant string, after int64, limit int, poll time.Duration, done *atomic.Bool) func() ([]store.Change, error) {
	var got []store.Change
	errc := make(chan error, 1)
	go func() {
		for {
			finished := done.Load()
			cs, err := s.Changes(ctx, tenant, after, limit)
			if err != nil {
				errc <- err
				return
			}
			for _, c := range cs {
				if c.Seq <= after {
					errc <- fmt.Errorf("reader: seq %d after %d", c.Seq, after)
					return
				}
				after = c.Seq
				got = append(got, c)
			}
			if len(cs) == 0 {
				if finished {
					errc <- nil
					return
				}
				time.Sleep(poll)
			}
		}
	}()
	return func() ([]store.Change, error) {
		err := <-errc
		return got, err
	}
}
