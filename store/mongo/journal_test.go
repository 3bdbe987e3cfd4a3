package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/scimbridge/scimbridge/internal/testmongo"
	"github.com/scimbridge/scimbridge/internal/testscale"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

var errKilled = errors.New("killed by fault hook")

const lease = 100 * time.Millisecond

// TestJournalFaultInjection kills writes at every step boundary and checks
// that a new Store on the same database converges: every write that
// reached its commit point (the head write) is journaled exactly once,
// with its membership delta applied; a write killed before it is not
// journaled and does not block later writes.
func TestJournalFaultInjection(t *testing.T) {
	ctx := storetest.Background()
	u := func(id string) store.Resource {
		return store.Resource{Ref: store.Ref{Tenant: "t", Kind: store.User, ID: id}, Attrs: map[string]any{"userName": id}}
	}
	gref := store.Ref{Tenant: "t", Kind: store.Group, ID: "g"}
	// The killed writes carry an origin of their own: recovery, which
	// runs with another, journals them with theirs (kept in the outbox).
	killed := store.Origin{Source: store.SourcePush, Actor: "killed-writer"}
	opCtx := store.WithOrigin(ctx, killed)
	ops := []struct {
		name string
		do   func(s *Store) error
		// expected journal tail after recovery if the write committed
		want store.Change
	}{
		{"create", func(s *Store) error {
			_, err := s.Create(opCtx, store.Resource{Ref: store.Ref{Tenant: "t", Kind: store.Group, ID: "g2"},
				Attrs: map[string]any{"displayName": "G2"}}, []store.Member{{Value: "u1"}})
			return err
		}, store.Change{Kind: store.Group, ID: "g2", Op: store.OpCreate, Version: 1, Added: []string{"u1"}}},
		{"update", func(s *Store) error {
			_, err := s.Update(opCtx, gref, func(r *store.Resource) (store.MemberDelta, error) {
				r.Attrs["title"] = "x"
				return store.MemberDelta{Add: []store.Member{{Value: "u2"}}, Remove: []string{"u1"}}, nil
			})
			return err
		}, store.Change{Kind: store.Group, ID: "g", Op: store.OpUpdate, Version: 2, Added: []string{"u2"}, Removed: []string{"u1"}}},
		{"delete", func(s *Store) error { return s.Delete(opCtx, gref, 0) },
			store.Change{Kind: store.Group, ID: "g", Op: store.OpDelete, Version: 2}},
	}
	// Both uniqueness modes: with strict uniqueness the group's name is a
	// unique key too, which a recovered write must hold or free.
	for _, mode := range []string{"rfc7643", "strict"} {
		var strict []string
		if mode == "strict" {
			strict = []string{"t"}
		}
		for _, op := range ops {
			for _, step := range []string{"claimed", "written", "members", "journaled"} {
				if op.name == "create" && step == "claimed" {
					continue // creates take no claim
				}
				t.Run(mode+"/"+op.name+"/"+step, func(t *testing.T) {
					uri, db := testmongo.DB(t)
					var armed atomic.Bool
					s1, err := Open(ctx, uri, db, WithStrictUniqueness(strict...), WithLease(lease), withoutRecoverer(), WithFaultHook(func(s string) error {
						if armed.Load() && s == step {
							return errKilled
						}
						return nil
					}))
					if err != nil {
						t.Fatal(err)
					}
					defer s1.Close()
					for _, id := range []string{"u1", "u2"} {
						if _, err := s1.Create(ctx, u(id), nil); err != nil {
							t.Fatal(err)
						}
					}
					if _, err := s1.Create(ctx, store.Resource{Ref: gref, Attrs: map[string]any{"displayName": "G"}}, []store.Member{{Value: "u1"}}); err != nil {
						t.Fatal(err)
					}
					before, _ := s1.Changes(ctx, "t", 0, 0)
					armed.Store(true)
					if err := op.do(s1); !errors.Is(err, errKilled) {
						t.Fatalf("write: %v, want the injected fault", err)
					}
					s1.Close() // the process dies

					s2, err := Open(ctx, uri, db, WithStrictUniqueness(strict...), WithLease(lease), withoutRecoverer())
					if err != nil {
						t.Fatal(err)
					}
					defer s2.Close()
					time.Sleep(lease + 20*time.Millisecond)
					if err := s2.Recover(ctx); err != nil {
						t.Fatal(err)
					}
					// Recovery is idempotent.
					if err := s2.Recover(ctx); err != nil {
						t.Fatal(err)
					}
					all, err := s2.Changes(ctx, "t", 0, 0)
					if err != nil {
						t.Fatal(err)
					}
					checkJournal(t, all)
					committed := step != "claimed"
					got := all[len(before):]
					if !committed {
						if len(got) != 0 {
							t.Fatalf("uncommitted write journaled: %+v", got)
						}
						// The abandoned claim does not block the next writer.
						if err := op.do(s2); err != nil {
							t.Fatalf("write after recovery: %v", err)
						}
						all, _ = s2.Changes(ctx, "t", 0, 0)
						checkJournal(t, all)
						got = all[len(before):]
					}
					if len(got) != 1 {
						t.Fatalf("journal after recovery: %+v, want one entry", got)
					}
					c, w := got[0], op.want
					if c.Kind != w.Kind || c.ID != w.ID || c.Op != w.Op || c.Version != w.Version ||
						!slices.Equal(c.Added, w.Added) || !slices.Equal(c.Removed, w.Removed) {
						t.Fatalf("entry %+v, want %+v", c, w)
					}
					if wantName := map[string]string{"create": "G2", "update": "G", "delete": "G"}[op.name]; c.Origin != killed || c.Name != wantName {
						t.Fatalf("entry origin %+v named %q, want the killed writer's %+v named %q", c.Origin, c.Name, killed, wantName)
					}
					// The membership delta converged and nothing is left pending.
					switch op.name {
					case "create":
						// The recovered create holds its name where names are unique.
						_, err := s2.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "t", Kind: store.Group, ID: "g3"},
							Attrs: map[string]any{"displayName": "g2"}}, nil)
						if mode == "strict" && !errors.Is(err, store.ErrConflict) {
							t.Fatalf("create of a recovered create's name in a strict tenant: %v, want a conflict", err)
						} else if mode != "strict" && err != nil {
							t.Fatalf("create of a recovered create's name: %v", err)
						}
					case "update":
						ms, err := s2.Members(ctx, gref, "", 0)
						if err != nil || len(ms) != 1 || ms[0].Value != "u2" {
							t.Fatalf("members %v %v", ms, err)
						}
					case "delete":
						if mo, err := s2.MemberOf(ctx, store.Ref{Tenant: "t", Kind: store.User, ID: "u1"}); err != nil || len(mo) != 0 {
							t.Fatalf("memberships of u1 after group delete: %v %v", mo, err)
						}
						if _, err := s2.Create(ctx, store.Resource{Ref: gref, Attrs: map[string]any{"displayName": "G"}}, nil); err != nil {
							t.Fatalf("re-create after recovered delete: %v", err)
						}
					}
					if n, err := s2.res.CountDocuments(ctx, map[string]any{"pj": true}); err != nil || n != 0 {
						t.Fatalf("%d heads still pending (%v)", n, err)
					}
				})
			}
		}
	}
}

// checkJournal checks that sequence numbers are 1, 2, 3, … and that each
// (id, version) appears once, in version order per resource.
func checkJournal(t *testing.T, cs []store.Change) {
	t.Helper()
	last := map[string]int64{}
	for i, c := range cs {
		if c.Seq != int64(i+1) {
			t.Fatalf("entry %d has seq %d", i, c.Seq)
		}
		k := string(c.Kind) + "/" + c.ID
		if c.Op == store.OpCreate {
			last[k] = 0
		}
		if c.Version <= last[k] {
			t.Fatalf("%s: version %d after %d", k, c.Version, last[k])
		}
		last[k] = c.Version
	}
}

// TestJournalConcurrentReader runs many writers against a reader that polls
// Changes: the reader must see every change exactly once, with no gap, in
// version order per resource.
func TestJournalConcurrentReader(t *testing.T) {
	// Under machine load this once lost updates: one replica's journal
	// inserts stepped one taken seq per round trip behind the other's, its
	// writes outlived their lease, and recovery cleared them from an old
	// snapshot. See journal and finish.
	writers, perWriter := 16, 50
	if raceDetector || !testscale.Full() {
		// The default run (without SCIMBRIDGE_TEST_FULL=1, which CI sets)
		// takes a quarter of the writes.
		writers, perWriter = 8, 25
	}
	ctx := storetest.Background()
	uri, db := testmongo.DB(t)
	var ss []*Store
	for range 2 { // two replicas on one database
		s, err := Open(ctx, uri, db)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ss = append(ss, s)
	}
	var done atomic.Bool
	var got []store.Change
	readErr := make(chan error, 1)
	go func() {
		after := int64(0)
		for {
			finished := done.Load()
			cs, err := ss[1].Changes(ctx, "t", after, 13)
			if err != nil {
				readErr <- err
				return
			}
			for _, c := range cs {
				if c.Seq != after+1 {
					readErr <- fmt.Errorf("seq %d after %d", c.Seq, after)
					return
				}
				after = c.Seq
				got = append(got, c)
			}
			if len(cs) == 0 {
				if finished {
					readErr <- nil
					return
				}
				time.Sleep(time.Millisecond)
			}
		}
	}()
	var wg sync.WaitGroup
	var writes atomic.Int64
	var ackMu sync.Mutex
	acked := map[string]int{} // id@version of every acknowledged write
	var slowest time.Duration
	ack := func(r store.Resource, took time.Duration) {
		ackMu.Lock()
		acked[fmt.Sprintf("%s@%d", r.ID, r.Version)]++
		slowest = max(slowest, took)
		ackMu.Unlock()
		writes.Add(1)
	}
	// The shared resources exist before the writers start.
	for i := range 4 {
		id := fmt.Sprintf("shared%d", i)
		r, err := ss[0].Create(ctx, store.Resource{Ref: store.Ref{Tenant: "t", Kind: store.User, ID: id}, Attrs: map[string]any{"userName": id}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ack(r, 0)
	}
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := ss[w%2]
			shared := store.Ref{Tenant: "t", Kind: store.User, ID: fmt.Sprintf("shared%d", w%4)}
			for i := range perWriter {
				var err error
				var r store.Resource
				start := time.Now()
				switch {
				case i == 0:
					id := fmt.Sprintf("w%d", w)
					r, err = s.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "t", Kind: store.User, ID: id}, Attrs: map[string]any{"userName": id}}, nil)
				case i%3 == 0:
					r, err = s.Update(ctx, shared, func(r *store.Resource) (store.MemberDelta, error) {
						r.Attrs[fmt.Sprintf("w%d", w)] = float64(i)
						return store.MemberDelta{}, nil
					})
				default:
					r, err = s.Update(ctx, store.Ref{Tenant: "t", Kind: store.User, ID: fmt.Sprintf("w%d", w)}, func(r *store.Resource) (store.MemberDelta, error) {
						r.Attrs["n"] = float64(i)
						return store.MemberDelta{}, nil
					})
				}
				if err != nil {
					errs <- fmt.Errorf("writer %d write %d: %w", w, i, err)
					return
				}
				ack(r, time.Since(start))
			}
		}()
	}
	wg.Wait()
	done.Store(true)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := <-readErr; err != nil {
		t.Fatal(err)
	}
	all, err := ss[0].Changes(ctx, "t", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d writes, slowest took %v", writes.Load(), slowest)
	checkJournal(t, got)
	// Every acknowledged write has its own version and its own entry.
	journaled := map[string]bool{}
	for _, c := range all {
		journaled[fmt.Sprintf("%s@%d", c.ID, c.Version)] = true
	}
	for k, n := range acked {
		if n > 1 {
			t.Errorf("%d acknowledged writes share %s (a lost update)", n, k)
		}
		if !journaled[k] {
			t.Errorf("acknowledged write %s has no journal entry", k)
		}
	}
	if len(got) != len(all) || int64(len(got)) != writes.Load() {
		t.Fatalf("reader saw %d changes, journal has %d, %d writes acknowledged", len(got), len(all), writes.Load())
	}
	seen := map[string]bool{}
	for _, c := range got {
		k := fmt.Sprintf("%s@%d", c.ID, c.Version)
		if seen[k] {
			t.Fatalf("%s seen twice", k)
		}
		seen[k] = true
	}
}

// TestJournalReplicaCatchesUp checks that a replica whose next sequence
// number fell far behind another replica's journaling jumps past the taken
// numbers in a logarithmic number of lookups instead of trying each one
// (stepping one by one once held writes past their lease under load).
func TestJournalReplicaCatchesUp(t *testing.T) {
	ahead := 200
	if raceDetector {
		ahead = 50
	}
	ctx := storetest.Background()
	uri, db := testmongo.DB(t)
	var journalOps atomic.Int64
	mon := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		if e.CommandName != "find" && e.CommandName != "insert" && e.CommandName != "aggregate" {
			return
		}
		if coll, ok := e.Command.Lookup(e.CommandName).StringValueOK(); ok && coll == "journal" {
			journalOps.Add(1)
		}
	}}
	s0, err := Open(ctx, uri, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s0.Close()
	s1, err := Open(ctx, uri, db, WithClientOptions(options.Client().SetMonitor(mon)))
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	user := func(id string) store.Resource {
		return store.Resource{Ref: store.Ref{Tenant: "t", Kind: store.User, ID: id}, Attrs: map[string]any{"userName": id}}
	}
	if _, err := s1.Create(ctx, user("behind"), nil); err != nil { // s1 now expects seq 2 next
		t.Fatal(err)
	}
	for i := range ahead {
		if _, err := s0.Create(ctx, user(fmt.Sprintf("u%d", i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	journalOps.Store(0)
	if _, err := s1.Update(ctx, store.Ref{Tenant: "t", Kind: store.User, ID: "behind"}, func(r *store.Resource) (store.MemberDelta, error) {
		r.Attrs["title"] = "x"
		return store.MemberDelta{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := journalOps.Load(); n > 25 {
		t.Errorf("%d journal commands to get past %d taken sequence numbers, want a logarithmic number", n, ahead)
	}
	cs, err := s1.Changes(ctx, "t", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkJournal(t, cs)
	if len(cs) != ahead+2 || cs[len(cs)-1].ID != "behind" || cs[len(cs)-1].Version != 2 {
		t.Fatalf("journal has %d entries ending %+v, want %d ending with behind@2", len(cs), cs[len(cs)-1], ahead+2)
	}
}

// TestJournalLateTakeover runs a takeover from a snapshot that is old by
// the time it acts: the write it would finish gets finished by another
// writer, and a newer write follows, before the takeover starts or while
// it runs. It must change nothing (clearing from the old snapshot would put
// the older state back, and the next write of that version would then share
// the older write's journal entry).
func TestJournalLateTakeover(t *testing.T) {
	for _, movesAt := range []string{"before", "members"} {
		t.Run(movesAt, func(t *testing.T) {
			ctx := storetest.Background()
			uri, db := testmongo.DB(t)
			other, err := Open(ctx, uri, db, WithLease(lease), withoutRecoverer())
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			ref := store.Ref{Tenant: "t", Kind: store.User, ID: "x"}
			set := func(s *Store, v string) error {
				_, err := s.Update(ctx, ref, func(r *store.Resource) (store.MemberDelta, error) {
					r.Attrs["title"] = v
					return store.MemberDelta{}, nil
				})
				return err
			}
			var kill, move atomic.Bool
			s, err := Open(ctx, uri, db, WithLease(lease), withoutRecoverer(), WithFaultHook(func(step string) error {
				if kill.Load() && step == "written" {
					return errKilled
				}
				if move.Load() && step == movesAt {
					move.Store(false)
					return set(other, "three") // finishes v2 (lease over), writes v3
				}
				return nil
			}))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Create(ctx, store.Resource{Ref: ref, Attrs: map[string]any{"userName": "x"}}, nil); err != nil {
				t.Fatal(err)
			}
			kill.Store(true)
			if err := set(s, "two"); !errors.Is(err, errKilled) {
				t.Fatalf("write: %v, want the injected fault", err)
			}
			kill.Store(false)
			old, err := s.loadHead(ctx, "t", "x") // a helper's snapshot: v2, pending
			if err != nil || !old.PJ || old.V != 2 {
				t.Fatalf("snapshot %+v %v", old, err)
			}
			time.Sleep(lease + 20*time.Millisecond)
			if movesAt == "before" {
				if err := set(other, "three"); err != nil {
					t.Fatal(err)
				}
			} else {
				move.Store(true)
			}
			if err := s.finish(ctx, old, true); err != nil { // the late helper
				t.Fatal(err)
			}
			r, err := s.Get(ctx, ref)
			if err != nil || r.Version != 3 || r.Attrs["title"] != "three" {
				t.Fatalf("after the late takeover: %+v %v, want version 3 titled three", r, err)
			}
			cs, err := s.Changes(ctx, "t", 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			checkJournal(t, cs)
			if len(cs) != 3 {
				t.Fatalf("journal %+v, want create, v2, v3", cs)
			}
		})
	}
}

// TestLeaseGrowsWithDelta checks that a write applying a large membership
// delta is not taken over while its writer can still be busy with it.
func TestLeaseGrowsWithDelta(t *testing.T) {
	at := time.Unix(1000, 0)
	var now time.Time
	s := &Store{lease: 30 * time.Second, now: func() time.Time { return now }}
	small := &pending{At: at.UnixNano(), Add: make([]memberRef, 10)}
	big := &pending{At: at.UnixNano(), Add: make([]memberRef, 100_000), Rm: make([]string, 100_000)}
	for _, c := range []struct {
		p     *pending
		after time.Duration
		want  bool
	}{
		{small, 29 * time.Second, false},
		{small, 31 * time.Second, true},
		{big, 31 * time.Second, false},
		{big, 229 * time.Second, false},
		{big, 231 * time.Second, true},
		{nil, 0, true},
	} {
		now = at.Add(c.after)
		if got := s.expired(c.p); got != c.want {
			n := 0
			if c.p != nil {
				n = len(c.p.Add) + len(c.p.Rm)
			}
			t.Errorf("delta of %d after %v: expired %v, want %v", n, c.after, got, c.want)
		}
	}
}
