package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/testscale"
	"github.com/scimbridge/scimbridge/store"
)

// The journal proof: the contract Store.Changes promises, under load.
//
// Writers create, update, change the members of and delete users and groups
// while a reader follows the journal from a cursor. Afterwards every
// acknowledged write (its call returned nil) has exactly one entry, each
// resource's entries are in version order (create at 1, every update one
// more, the delete one more than that), nothing appears that was not
// acknowledged, the reader saw exactly the journal, and replaying the
// journal gives the stored state (versions and memberships).
//
// A write whose call failed definitively (ErrNotFound, ErrConflict,
// ErrPrecondition) wrote nothing and must not appear. A write whose call
// ended with its context may or may not have happened: it may appear, then
// consistently (in version order, once). Its resource is then left alone by
// its owner, whose later creates and deletes could not be told apart from it.

// Replicas opens a fresh, empty database (StrictTenant strict, as for
// RunTests) and returns two store handles on it, as two replicas of the
// bridge would have; both are closed by t.Cleanup.
type Replicas func(t *testing.T) (store.Store, store.Store)

// RunReplicaTests runs the cases that need two handles on one database, each
// on a fresh database from newReplicas.
func RunReplicaTests(t *testing.T, newReplicas Replicas) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, a, b store.Store)
	}{
		{"JournalProof", func(t *testing.T, a, b store.Store) { journalProof(t, []store.Store{a, b}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withTimeout(t, suiteTimeout, func() {
				a, b := newReplicas(t)
				tc.run(t, a, b)
			})
		})
	}
}

func testJournalProof(t *testing.T, s store.Store) { journalProof(t, []store.Store{s}) }

// proofTenant is the tenant the proof writes (an RFC 7643 one).
const proofTenant = tenantA

// writeCtx is the context of every write of the proof.
func writeCtx(ctx context.Context) context.Context {
	return store.WithOrigin(ctx, store.Origin{Source: store.SourceAdmin, Actor: "storetest"})
}

// proofSize is the proof's size: 32 writers × 200 writes under
// SCIMBRIDGE_TEST_FULL=1 (CI), 8 × 25 by default and under the race
// detector.
func proofSize() (writers, perWriter int) {
	if raceEnabled {
		return 8, 25
	}
	return testscale.Size(8, 32), testscale.Size(25, 200)
}

// incarnation is one life of a resource id, from a create (acknowledged,
// or ambiguous) to its delete if any.
type incarnation struct {
	createAcked bool
	deleted     bool // the delete was acknowledged
	deleteAmb   bool // the delete's call ended with its context
}

// proofLog records what the writers were told.
type proofLog struct {
	mu      sync.Mutex
	lives   map[string][]*incarnation // by id; only the owner appends
	updates map[updKey]int            // acknowledged updates
	ambUpd  map[string]int            // updates whose outcome is unknown, by id
	pool    []string                  // ids of resources created so far (any writer)
	groups  []string
	errs    []error // unexpected errors
	acked   atomic.Int64
	failed  atomic.Int64 // definitive failures
	amb     atomic.Int64
}

type updKey struct {
	id      string
	inc     int
	version int64
}

// outcome classifies a write's error: nil is acknowledged; ErrNotFound,
// ErrConflict and ErrPrecondition are definitive (nothing was written); an
// ended context leaves the outcome unknown. Anything else is a test failure.
type outcome int

const (
	acked outcome = iota
	definitive
	ambiguous
)

func (l *proofLog) classify(what string, err error) outcome {
	switch {
	case err == nil:
		l.acked.Add(1)
		return acked
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrPrecondition):
		l.failed.Add(1)
		return definitive
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		l.amb.Add(1)
		return ambiguous
	}
	l.mu.Lock()
	l.errs = append(l.errs, fmt.Errorf("%s: %w", what, err))
	l.mu.Unlock()
	l.amb.Add(1)
	return ambiguous
}

// proofWriter is one writer's own resources.
type proofWriter struct {
	w         int
	rng       *rand.Rand
	users     []string // own user ids
	groups    []string // own group ids
	abandoned map[string]bool
	fresh     int
}

func incOf(r store.Resource) int {
	s, _ := r.Attrs["inc"].(string)
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

func journalProof(t *testing.T, ss []store.Store) {
	writers, perWriter := proofSize()
	ctx := ctxT(t)
	l := &proofLog{lives: map[string][]*incarnation{}, updates: map[updKey]int{}, ambUpd: map[string]int{}}
	// A few users exist before the reader starts, so that it follows from a
	// cursor other than 0.
	for i := range 4 {
		id := fmt.Sprintf("pre%d", i)
		if _, err := ss[0].Create(writeCtx(ctx), newUser(proofTenant, id, id+".0", "inc", "0"), nil); err != nil {
			t.Fatal(err)
		}
		l.lives[id] = []*incarnation{{createAcked: true}}
		l.pool = append(l.pool, id)
	}
	cursor := lastSeq(t, ss[0], proofTenant)
	reader := ss[len(ss)-1]
	var done atomic.Bool
	// Caught up, it polls as a consumer would (a scan of the journal per
	// call on FerretDB).
	awaitReader := followJournal(ctx, reader, proofTenant, cursor, 200, 20*time.Millisecond, &done)
	start := time.Now()
	stopProgress := make(chan struct{})
	go func() { // on the in-process FerretDB the full size takes minutes
		tk := time.NewTicker(30 * time.Second)
		defer tk.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-tk.C:
				t.Logf("progress %v: %d acked %d failed %d unknown", time.Since(start).Round(time.Second), l.acked.Load(), l.failed.Load(), l.amb.Load())
			}
		}
	}()
	defer close(stopProgress)
	parallel(writers, func(w int) {
		pw := &proofWriter{w: w, rng: rand.New(rand.NewPCG(uint64(w), 14)), abandoned: map[string]bool{}}
		s := ss[w%len(ss)]
		for i := range perWriter {
			pw.step(ctx, t, s, l, i)
		}
	})
	elapsed := time.Since(start)
	done.Store(true)
	got, err := awaitReader()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d writers × %d writes on %d handle(s) in %v: %d acknowledged, %d failed definitively, %d unknown; reader saw %d entries",
		writers, perWriter, len(ss), elapsed.Round(time.Millisecond), l.acked.Load(), l.failed.Load(), l.amb.Load(), len(got))
	for _, err := range l.errs {
		t.Errorf("unexpected write error: %v", err)
	}
	checkProof(t, ss[0], l, cursor, got)
}

// step makes the writer's i-th write.
func (pw *proofWriter) step(ctx context.Context, t *testing.T, s store.Store, l *proofLog, i int) {
	wctx := writeCtx(ctx)
	if i%25 == 24 {
		// A write whose caller gave up before it started: it may not
		// appear, and never half.
		c, cancel := context.WithCancel(wctx)
		cancel()
		wctx = c
	}
	switch op := pw.rng.IntN(20); {
	case op < 4 || len(pw.users) == 0:
		pw.createUser(wctx, s, l)
	case op < 6 || len(pw.groups) == 0:
		pw.createGroup(wctx, s, l)
	case op < 11:
		pw.update(wctx, s, l, pw.pick(l, false), i, store.MemberDelta{})
	case op < 16:
		d := store.MemberDelta{Add: memberList(pw.pick(l, false), pw.pick(l, false))}
		if pw.rng.IntN(2) == 0 {
			d.Remove = []string{pw.pick(l, false)}
		}
		if pw.rng.IntN(10) == 0 {
			d.Replace = true
		}
		pw.update(wctx, s, l, pw.pick(l, true), i, d)
	case op < 19:
		pw.delete(wctx, s, l)
	default:
		pw.conflictingCreate(wctx, s, l)
	}
}

// pick returns a resource id: the writer's own or anyone's, a group or a
// user, possibly one that was deleted meanwhile.
func (pw *proofWriter) pick(l *proofLog, group bool) string {
	own := pw.users
	if group {
		own = pw.groups
	}
	if len(own) > 0 && pw.rng.IntN(2) == 0 {
		return own[pw.rng.IntN(len(own))]
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	all := l.pool
	if group {
		all = l.groups
	}
	if len(all) == 0 {
		return "none"
	}
	return all[pw.rng.IntN(len(all))]
}

// lifeOf returns the incarnations of id (a copy of the slice header).
func (l *proofLog) lifeOf(id string) []*incarnation {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lives[id]
}

// recreatable returns one of the writer's deleted ids, or "".
func (pw *proofWriter) recreatable(l *proofLog, ids []string) string {
	if pw.rng.IntN(2) == 0 {
		return ""
	}
	for _, id := range ids {
		life := l.lifeOf(id)
		if !pw.abandoned[id] && len(life) > 0 && life[len(life)-1].deleted {
			return id
		}
	}
	return ""
}

func (pw *proofWriter) created(l *proofLog, id string, group bool, o outcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if o == definitive {
		return
	}
	first := len(l.lives[id]) == 0
	l.lives[id] = append(l.lives[id], &incarnation{createAcked: o == acked})
	if o == ambiguous {
		pw.abandoned[id] = true
	}
	if !first {
		return
	}
	if group {
		pw.groups = append(pw.groups, id)
		l.groups = append(l.groups, id)
	} else {
		pw.users = append(pw.users, id)
		l.pool = append(l.pool, id)
	}
}

func (pw *proofWriter) createUser(ctx context.Context, s store.Store, l *proofLog) {
	id := pw.recreatable(l, pw.users)
	if id == "" {
		id = fmt.Sprintf("w%du%d", pw.w, pw.fresh)
		pw.fresh++
	}
	inc := len(l.lifeOf(id))
	u := newUser(proofTenant, id, fmt.Sprintf("%s.%d", id, inc), "inc", strconv.Itoa(inc), "title", "new")
	_, err := s.Create(ctx, u, nil)
	pw.created(l, id, false, l.classify("create "+id, err))
}

func (pw *proofWriter) createGroup(ctx context.Context, s store.Store, l *proofLog) {
	id := pw.recreatable(l, pw.groups)
	if id == "" {
		id = fmt.Sprintf("w%dg%d", pw.w, pw.fresh)
		pw.fresh++
	}
	inc := len(l.lifeOf(id))
	g := newGroup(proofTenant, id, "G "+id, "inc", strconv.Itoa(inc))
	_, err := s.Create(ctx, g, memberList(pw.pick(l, false), pw.pick(l, false), pw.pick(l, false)))
	pw.created(l, id, true, l.classify("create "+id, err))
}

// conflictingCreate creates a user with another user's userName: refused
// (ErrConflict) unless that user was deleted meanwhile.
func (pw *proofWriter) conflictingCreate(ctx context.Context, s store.Store, l *proofLog) {
	other := pw.pick(l, false)
	life := l.lifeOf(other)
	id := fmt.Sprintf("w%du%d", pw.w, pw.fresh)
	pw.fresh++
	u := newUser(proofTenant, id, fmt.Sprintf("%s.%d", other, max(len(life)-1, 0)), "inc", "0")
	_, err := s.Create(ctx, u, nil)
	pw.created(l, id, false, l.classify("create "+id, err))
}

// update sets an attribute to a value of its own (so that every update
// writes) and applies d.
func (pw *proofWriter) update(ctx context.Context, s store.Store, l *proofLog, id string, i int, d store.MemberDelta) {
	ref := userRef(proofTenant, id)
	if !d.Empty() {
		ref = groupRef(proofTenant, id)
	}
	r, err := s.Update(ctx, ref, func(r *store.Resource) (store.MemberDelta, error) {
		r.Attrs["title"] = fmt.Sprintf("w%d-%d", pw.w, i)
		return d, nil
	})
	switch l.classify("update "+id, err) {
	case acked:
		k := updKey{id, incOf(r), r.Version}
		l.mu.Lock()
		l.updates[k]++
		l.mu.Unlock()
	case ambiguous:
		l.mu.Lock()
		l.ambUpd[id]++
		l.mu.Unlock()
	}
}

// delete deletes one of the writer's live resources, sometimes only if it
// is still at version 1 or 2 (ErrPrecondition otherwise).
func (pw *proofWriter) delete(ctx context.Context, s store.Store, l *proofLog) {
	ids, kind := pw.users, store.User
	if pw.rng.IntN(3) == 0 {
		ids, kind = pw.groups, store.Group
	}
	var live []string
	for _, id := range ids {
		life := l.lifeOf(id)
		if !pw.abandoned[id] && len(life) > 0 && !life[len(life)-1].deleted {
			live = append(live, id)
		}
	}
	if len(live) == 0 {
		return
	}
	id := live[pw.rng.IntN(len(live))]
	ifVersion := int64(0)
	if pw.rng.IntN(4) == 0 {
		ifVersion = 1 + pw.rng.Int64N(2)
	}
	err := s.Delete(ctx, store.Ref{Tenant: proofTenant, Kind: kind, ID: id}, ifVersion)
	o := l.classify("delete "+id, err)
	l.mu.Lock()
	defer l.mu.Unlock()
	last := l.lives[id][len(l.lives[id])-1]
	switch o {
	case acked:
		last.deleted = true
	case ambiguous:
		last.deleteAmb = true
		pw.abandoned[id] = true
	}
}

// segment is the journal of one incarnation of a resource.
type segment struct {
	entries []store.Change
	deleted bool
}

// checkProof checks the journal against what the writers were told.
func checkProof(t *testing.T, s store.Store, l *proofLog, cursor int64, got []store.Change) {
	t.Helper()
	ctx := ctxT(t)
	all := changes(t, s, proofTenant, 0)
	// The reader saw exactly the journal after its cursor.
	var after []store.Change
	for i, c := range all {
		if i > 0 && c.Seq <= all[i-1].Seq {
			t.Fatalf("journal seq %d after %d", c.Seq, all[i-1].Seq)
		}
		if c.Tenant != proofTenant || c.At.IsZero() {
			t.Fatalf("entry %+v", c)
		}
		if c.Seq > cursor {
			after = append(after, c)
		}
	}
	if len(got) != len(after) {
		t.Fatalf("the reader saw %d entries after its cursor %d, the journal holds %d", len(got), cursor, len(after))
	}
	for i := range got {
		g, a := got[i], after[i]
		if g.Seq != a.Seq || g.ID != a.ID || g.Op != a.Op || g.Version != a.Version {
			t.Fatalf("reader entry %d is %+v, the journal's %+v", i, g, a)
		}
	}
	// Each resource's entries, cut into incarnations.
	segs := map[string][]*segment{}
	kinds := map[string]store.Kind{}
	for _, c := range all {
		if k, ok := kinds[c.ID]; ok && k != c.Kind {
			t.Fatalf("entry %+v: %s was a %s", c, c.ID, k)
		}
		kinds[c.ID] = c.Kind
		ss := segs[c.ID]
		var cur *segment
		if len(ss) > 0 {
			cur = ss[len(ss)-1]
		}
		switch c.Op {
		case store.OpCreate:
			if cur != nil && !cur.deleted {
				t.Fatalf("entry %+v: create of a live resource (its entries: %+v)", c, cur.entries)
			}
			if c.Version != 1 {
				t.Fatalf("entry %+v: create at version %d", c, c.Version)
			}
			segs[c.ID] = append(ss, &segment{entries: []store.Change{c}})
			continue
		case store.OpUpdate, store.OpDelete:
			if cur == nil || cur.deleted {
				t.Fatalf("entry %+v: %s of a resource that does not exist", c, c.Op)
			}
			if prev := cur.entries[len(cur.entries)-1].Version; c.Version != prev+1 {
				t.Fatalf("entry %+v: version %d after %d (a lost or repeated entry)", c, c.Version, prev)
			}
			cur.entries = append(cur.entries, c)
			cur.deleted = c.Op == store.OpDelete
		default:
			t.Fatalf("entry %+v: unknown op", c)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := map[string]bool{}
	for id := range l.lives {
		ids[id] = true
	}
	for id := range segs {
		ids[id] = true
	}
	attributed := map[string]int{}
	for k, n := range l.updates {
		if n > 1 {
			t.Errorf("%d acknowledged updates of %s were told version %d of incarnation %d (a lost update)", n, k.id, k.version, k.inc)
		}
		ss := segs[k.id]
		if k.inc < 0 || k.inc >= len(ss) || k.version < 2 || k.version > int64(len(ss[k.inc].entries)) ||
			ss[k.inc].entries[k.version-1].Op != store.OpUpdate {
			t.Errorf("acknowledged update of %s to version %d (incarnation %d) has no journal entry", k.id, k.version, k.inc)
			continue
		}
		attributed[k.id]++
	}
	for id := range ids {
		lives, ss := l.lives[id], segs[id]
		if len(ss) > len(lives) {
			t.Errorf("%s: %d incarnations journaled, %d created (a write that was not acknowledged appears)", id, len(ss), len(lives))
			continue
		}
		updates := 0
		for k, life := range lives {
			if k >= len(ss) {
				if life.createAcked {
					t.Errorf("%s: acknowledged create (incarnation %d) is not journaled", id, k)
				}
				continue
			}
			sg := ss[k]
			updates += len(sg.entries) - 1
			if sg.deleted {
				updates--
			}
			switch {
			case life.deleted && !sg.deleted:
				t.Errorf("%s: acknowledged delete (incarnation %d) is not journaled", id, k)
			case sg.deleted && !life.deleted && !life.deleteAmb:
				t.Errorf("%s: incarnation %d has a delete entry nobody was told about", id, k)
			}
		}
		if extra := updates - attributed[id]; extra > l.ambUpd[id] {
			t.Errorf("%s: %d update entries were acknowledged to nobody (%d updates had an unknown outcome)", id, extra, l.ambUpd[id])
		}
		// The stored state is the journal's last word.
		r, err := s.Get(ctx, store.Ref{Tenant: proofTenant, Kind: kinds[id], ID: id})
		if len(ss) == 0 || ss[len(ss)-1].deleted {
			if kinds[id] != "" && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: deleted in the journal, Get says %+v %v", id, r, err)
			}
			continue
		}
		last := ss[len(ss)-1]
		if err != nil {
			t.Errorf("%s: live in the journal, Get: %v", id, err)
			continue
		}
		if want := last.entries[len(last.entries)-1].Version; r.Version != want || incOf(r) != len(ss)-1 {
			t.Errorf("%s: stored at version %d (incarnation %d), the journal's last entry says %d (incarnation %d)",
				id, r.Version, incOf(r), want, len(ss)-1)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	checkReplayedMembers(t, s, all)
}

// checkReplayedMembers replays the journal's membership changes, as a
// target would, and compares the result with every live group's members.
//
// The replay applies Added and Removed in journal order and nothing else:
// an entry may only add a member that is live at that point of the
// journal (created and not deleted since), or the journal told a consumer
// about a membership that never held (store/mongo/doc.go says why its
// order, which is not commit order, still guarantees this). Removing a
// member that is no longer there is a no-op: a group write that removed u,
// committed before u's delete, can be journaled after it on MongoDB.
func checkReplayedMembers(t *testing.T, s store.Store, all []store.Change) {
	t.Helper()
	members := map[string]map[string]bool{} // live groups
	live := map[string]bool{}
	for _, c := range all {
		switch {
		case c.Op == store.OpDelete:
			delete(live, c.ID)
			delete(members, c.ID)
			for _, ms := range members { // a deleted member leaves every group
				delete(ms, c.ID)
			}
			continue
		case c.Op == store.OpCreate:
			live[c.ID] = true
			if c.Kind == store.Group {
				members[c.ID] = map[string]bool{}
			}
		}
		if c.Kind != store.Group {
			continue
		}
		ms := members[c.ID]
		for _, id := range c.Removed {
			delete(ms, id)
		}
		for _, id := range c.Added {
			if !live[id] {
				logInvolved(t, all, map[string]bool{c.ID: true, id: true})
				t.Fatalf("seq %d: %s v%d adds %s, which is not live at that point of the journal", c.Seq, c.ID, c.Version, id)
			}
			ms[id] = true
		}
	}
	for g, ms := range members {
		want := make([]string, 0, len(ms))
		for id := range ms {
			want = append(want, id)
		}
		slices.Sort(want)
		got := memberIDs(t, s, groupRef(proofTenant, g))
		if slices.Equal(got, want) {
			continue
		}
		// Name the entries that tell the story of the difference.
		involved := map[string]bool{g: true}
		for _, id := range got {
			involved[id] = involved[id] || !ms[id]
		}
		for id := range ms {
			involved[id] = involved[id] || !slices.Contains(got, id)
		}
		logInvolved(t, all, involved)
		t.Fatalf("members of %s: stored %v, replayed from the journal %v", g, got, want)
	}
}

// logInvolved logs the entries of the resources that tell the story of a
// failure.
func logInvolved(t *testing.T, all []store.Change, involved map[string]bool) {
	t.Helper()
	for _, c := range all {
		if involved[c.ID] {
			t.Logf("  seq %d: %s %s %s v%d added %v removed %v at %s", c.Seq, c.Kind, c.ID, c.Op, c.Version, c.Added, c.Removed, c.At.Format("15:04:05.000000"))
		}
	}
}
