package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// testTrim covers retention (store.Journal's Trim and TrimFloor): what is
// trimmed, the consumers that hold it back and those that do not, and
// ErrCursorExpired below the trim floor.
func testTrim(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	const ta, tb = "trim-a", "trim-b"
	if n, err := s.Trim(ctx, ta, time.Now(), 0); err == nil {
		t.Fatalf("Trim with limit 0 = %d, nil; want an error", n)
	}
	// A consumer that moved before the cutoff and holds no lease is stale.
	advance(t, s, ta, "stale", "", 0, 0)
	for i := range 6 {
		jcreate(t, s, newUser(ta, fmt.Sprintf("u%d", i), fmt.Sprintf("u%d", i)))
	}
	jcreate(t, s, newUser(tb, "b0", "b0"))
	jcreate(t, s, newUser(tb, "b1", "b1"))
	e := changes(t, s, ta, 0)
	if len(e) != 6 {
		t.Fatalf("journal has %d entries, want 6", len(e))
	}
	trim := func(before time.Time, limit, want int) {
		t.Helper()
		n, err := s.Trim(ctx, ta, before, limit)
		if err != nil || n != want {
			t.Fatalf("Trim(before %v, limit %d) = %d, %v; want %d", before, limit, n, err, want)
		}
	}
	floor := func(want int64) {
		t.Helper()
		f, err := s.TrimFloor(ctx, ta)
		if err != nil || f != want {
			t.Fatalf("TrimFloor = %d, %v; want %d", f, err, want)
		}
	}
	floor(0)
	trim(time.Now().Add(-time.Hour), 100, 0) // nothing is that old
	floor(0)

	time.Sleep(20 * time.Millisecond)
	cutoff := time.Now()
	time.Sleep(20 * time.Millisecond)
	// A consumer that moved after the cutoff is live: it holds trimming
	// at its position.
	live := advance(t, s, ta, "live", "", 0, e[2].Seq)

	trim(cutoff, 2, 2) // batches of limit, oldest first
	floor(e[1].Seq)
	trim(cutoff, 100, 1) // only e[2]: the live consumer is there
	floor(e[2].Seq)
	trim(cutoff, 100, 0)

	// Below the floor: ErrCursorExpired, never a silent skip.
	for _, after := range []int64{0, e[0].Seq, e[2].Seq - 1} {
		if cs, err := s.Changes(ctx, ta, after, 0); !errors.Is(err, store.ErrCursorExpired) {
			t.Fatalf("Changes after %d below the floor %d = %d entries, %v; want ErrCursorExpired", after, e[2].Seq, len(cs), err)
		}
	}
	sameSeqs(t, "Changes after the floor", changes(t, s, ta, e[2].Seq), e[3:])
	// Other tenants keep theirs.
	if got := changes(t, s, tb, 0); len(got) != 2 {
		t.Fatalf("tenant %s has %d entries after trimming %s, want 2", tb, len(got), ta)
	}
	if f, err := s.TrimFloor(ctx, tb); err != nil || f != 0 {
		t.Fatalf("TrimFloor of an untrimmed tenant = %d, %v", f, err)
	}
	cs, err := s.Consumers(ctx, ta)
	if err != nil || len(cs) != 2 {
		t.Fatalf("Consumers = %+v, %v", cs, err)
	}
	for _, c := range cs {
		switch c.Consumer {
		case "live":
			if c.Expired || c.Lag != 3 {
				t.Fatalf("live consumer %+v: want not expired, lag 3", c)
			}
		case "stale":
			if !c.Expired || c.Lag != 3 {
				t.Fatalf("stale consumer %+v: want expired, lag 3 (the entries left)", c)
			}
		}
	}

	// With a later cutoff the "live" consumer is stale too, but one whose
	// lease runs past the cutoff is live however long ago it moved.
	later := time.Now().Add(time.Hour)
	advance(t, s, ta, "leased", "", 0, e[4].Seq)
	if ok, err := s.AcquireLease(ctx, ta, store.ConsumerLease("leased"), "replica-1", 2*time.Hour); err != nil || !ok {
		t.Fatalf("AcquireLease: %v %v", ok, err)
	}
	trim(later, 100, 2) // e[3], e[4]; "live" at e[2] no longer holds
	floor(e[4].Seq)
	if _, err := s.Changes(ctx, ta, live.Seq, 0); !errors.Is(err, store.ErrCursorExpired) {
		t.Fatalf("Changes after the stale consumer's position: %v, want ErrCursorExpired", err)
	}
	// A removed consumer holds nothing back.
	if err := s.DeleteCursor(ctx, ta, "leased"); err != nil {
		t.Fatal(err)
	}
	trim(later, 100, 1)
	floor(e[5].Seq)
	if got := changes(t, s, ta, e[5].Seq); len(got) != 0 {
		t.Fatalf("Changes after trimming everything = %+v", got)
	}
	// Writes go on above the floor.
	jcreate(t, s, newUser(ta, "u6", "u6"))
	got := changes(t, s, ta, e[5].Seq)
	if len(got) != 1 || got[0].ID != "u6" || got[0].Seq <= e[5].Seq {
		t.Fatalf("Changes after a write above the floor %d = %+v", e[5].Seq, got)
	}
}

func sameSeqs(t *testing.T, what string, got, want []store.Change) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d entries, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i].Seq != want[i].Seq || got[i].ID != want[i].ID {
			t.Fatalf("%s: entry %d is %d %s, want %d %s", what, i, got[i].Seq, got[i].ID, want[i].Seq, want[i].ID)
		}
	}
}

// RunRetentionReopenTest trims a tenant's whole journal, closes the store,
// opens it again with open and writes more: sequence numbers go on above
// the floor, nothing after the floor is lost, and Changes below it still
// answers store.ErrCursorExpired. Every call of open must open the same,
// initially empty, database.
func RunRetentionReopenTest(t *testing.T, open Opener) {
	ctx, cancel := context.WithTimeout(context.Background(), suiteTimeout)
	defer cancel()
	ctx = store.WithOrigin(ctx, TestOrigin)
	const tenant = "trim-reopen"
	s, err := open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		jcreate(t, s, newUser(tenant, fmt.Sprintf("u%d", i), fmt.Sprintf("u%d", i)))
	}
	e := changes(t, s, tenant, 0)
	if n, err := s.Trim(ctx, tenant, time.Now().Add(time.Minute), 3); err != nil || n != 3 {
		t.Fatalf("Trim = %d, %v; want 3", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := s.TrimFloor(ctx, tenant); err != nil || f != e[2].Seq {
		t.Fatalf("TrimFloor after reopening = %d, %v; want %d", f, err, e[2].Seq)
	}
	sameSeqs(t, "Changes after the floor, reopened", changes(t, s, tenant, e[2].Seq), e[3:])
	if n, err := s.Trim(ctx, tenant, time.Now().Add(time.Minute), 100); err != nil || n != 2 {
		t.Fatalf("Trim of the rest = %d, %v; want 2", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The journal is empty now: a new handle must still number above
	// the floor, not from 1.
	s, err = open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 5; i < 8; i++ {
		jcreate(t, s, newUser(tenant, fmt.Sprintf("u%d", i), fmt.Sprintf("u%d", i)))
	}
	got := changes(t, s, tenant, e[4].Seq)
	if len(got) != 3 {
		t.Fatalf("Changes after the floor = %d entries, want 3", len(got))
	}
	for i, c := range got {
		if c.Seq <= e[4].Seq || i > 0 && c.Seq <= got[i-1].Seq || c.ID != fmt.Sprintf("u%d", i+5) {
			t.Fatalf("entry %d after the floor %d: %d %s", i, e[4].Seq, c.Seq, c.ID)
		}
	}
	if _, err := s.Changes(ctx, tenant, e[3].Seq, 0); !errors.Is(err, store.ErrCursorExpired) {
		t.Fatalf("Changes below the floor after reopening: %v, want ErrCursorExpired", err)
	}
}

// BenchTrim measures one Trim of batch entries, the unit serve's trimmer
// works in, from a tenant's journal beside another tenant's base entries
// (a scan of the journal shows as a cost growing with base). Each
// iteration first writes the batch it trims, with the timer stopped.
func BenchTrim(b *testing.B, s store.Store, base, batch int) {
	ctx := Background()
	for i := range base {
		u := BenchUser(i)
		u.Tenant = "bench-other"
		if _, err := s.Create(ctx, u, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for j := range batch {
			if _, err := s.Create(ctx, BenchUser(i*batch+j), nil); err != nil {
				b.Fatal(err)
			}
		}
		before := time.Now().Add(time.Minute)
		b.StartTimer()
		n, err := s.Trim(ctx, BenchUser(0).Tenant, before, batch)
		if err != nil || n != batch {
			b.Fatalf("Trim = %d, %v; want %d", n, err, batch)
		}
	}
}

// testTrimConcurrent trims a tenant's whole journal, batch after batch,
// while writers write to it and a reader follows it: every write is
// trimmed exactly once or still in the journal above the final floor
// (none numbered below a floor, none lost to a reused sequence number),
// and the reader, which jumps to the floor on ErrCursorExpired, never sees
// an entry twice or out of order.
func testTrimConcurrent(t *testing.T, s store.Store) { trimConcurrent(t, s, s) }

// RunTrimReplicaTest is testTrimConcurrent over two handles a and b of one
// database (two replicas): the writers alternate between them, b trims and
// a reads, so writers collide with sequence numbers the other handle took
// while b trims them.
func RunTrimReplicaTest(t *testing.T, a, b store.Store) {
	withTimeout(t, suiteTimeout, func() { trimConcurrent(t, a, b) })
}

func trimConcurrent(t *testing.T, s, s2 store.Store) {
	ctx := ctxT(t)
	const tenant = "trim-concurrent"
	writers, per := 8, 25
	if testing.Short() {
		writers, per = 4, 10
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers+2)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				id := fmt.Sprintf("w%d-%d", w, i)
				st := s
				if w%2 == 1 {
					st = s2
				}
				if _, err := st.Create(ctx, newUser(tenant, id, id), nil); err != nil {
					errs <- fmt.Errorf("Create %s: %w", id, err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	trimmed := 0
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { // the trimmer
		defer bg.Done()
		for {
			n, err := s2.Trim(ctx, tenant, time.Now().Add(time.Hour), 5)
			if err != nil {
				errs <- fmt.Errorf("Trim: %w", err)
				return
			}
			trimmed += n
			select {
			case <-done:
				return
			default:
			}
			time.Sleep(time.Millisecond)
		}
	}()
	go func() { // the reader
		defer bg.Done()
		var after int64
		for {
			cs, err := s.Changes(ctx, tenant, after, 0)
			if errors.Is(err, store.ErrCursorExpired) {
				f, err := s.TrimFloor(ctx, tenant)
				if err != nil || f <= after {
					errs <- fmt.Errorf("TrimFloor after ErrCursorExpired at %d: %d, %v", after, f, err)
					return
				}
				after = f
				continue
			}
			if err != nil {
				errs <- fmt.Errorf("Changes: %w", err)
				return
			}
			for _, c := range cs {
				if c.Seq <= after {
					errs <- fmt.Errorf("reader after %d got entry %d", after, c.Seq)
					return
				}
				after = c.Seq
			}
			select {
			case <-done:
				return
			default:
			}
			time.Sleep(time.Millisecond)
		}
	}()
	wg.Wait()
	close(done)
	bg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	floor, err := s.TrimFloor(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	left := changes(t, s, tenant, floor)
	t.Logf("%d writes: %d trimmed while written, %d left above the floor %d", writers*per, trimmed, len(left), floor)
	if trimmed+len(left) != writers*per {
		t.Fatalf("%d entries trimmed and %d left above the floor %d, want %d writes in all", trimmed, len(left), floor, writers*per)
	}
	seen := map[string]bool{}
	for _, c := range left {
		if seen[c.ID] {
			t.Fatalf("entry of %s twice above the floor", c.ID)
		}
		seen[c.ID] = true
	}
}
