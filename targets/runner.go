package targets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// ReconcileFunc is called when the runner cannot continue from the journal:
// its cursor's entries were trimmed (store.ErrCursorExpired), or it starts
// with no cursor after the journal was trimmed. It must bring the target in
// line with the store; on success the runner continues from the tenant's
// trim floor (entries after it are applied again, which idempotent
// adapters absorb).
type ReconcileFunc func(ctx context.Context, tenant, target string) error

// Options configure a Runner. Zero durations and counts take the defaults
// noted.
type Options struct {
	Tenant string
	Name   string // the target's configured name
	Target Target
	Store  store.Store
	Holder string // this replica's lease holder id (required)

	LeaseTTL      time.Duration // 30s; renewed every LeaseTTL/3
	Batch         int           // journal entries per step, 200
	Workers       int           // resources applied concurrently within a batch, 4
	MaxAttempts   int           // attempts before a change is dead-lettered, 6
	BackoffMin    time.Duration // first retry delay, 500ms; doubled per attempt, with jitter
	BackoffMax    time.Duration // 30s
	MaxRetryAfter time.Duration // cap on a target's Retry-After, 2m
	Poll          time.Duration // idle wait between journal reads, 1s

	Reconcile ReconcileFunc // nil: an expired cursor stops the runner with the error
	Logger    *slog.Logger
	Now       func() time.Time
}

// Runner feeds one target of one tenant from the tenant's journal.
//
// Semantics (docs/targets.md): entries are read in Seq order from the
// durable cursor; the entries of one resource in a batch collapse into one
// Change built from the resource's current state; resources of a batch are
// applied concurrently, each resource in order (a resource appears once per
// batch, and batches run one after another). A failed apply is retried with
// exponential backoff and jitter; after MaxAttempts, or at once on a
// PermanentError, the change becomes a dead letter and the batch goes on.
// Later entries of a dead-lettered resource are folded into its dead letter
// until Retry re-queues it. The cursor advances past a batch only when each
// of its resources was applied or dead-lettered, so delivery is at least
// once.
type Runner struct {
	o   Options
	k   keys
	log *slog.Logger

	mu     sync.Mutex // guards the fields below (written by workers)
	status statusRecord
}

// DeadLetter is a change the target kept refusing. Seqs lists the journal
// entries it holds (the first ones and the newest, see maxDeadSeqs).
type DeadLetter struct {
	Kind           store.Kind `json:"kind"`
	ID             string     `json:"id"`
	Seqs           []int64    `json:"seqs"`
	Entries        int        `json:"entries"` // entries folded in, including those not in Seqs
	MembersAdded   []string   `json:"membersAdded,omitempty"`
	MembersRemoved []string   `json:"membersRemoved,omitempty"`
	Changed        []string   `json:"changed,omitempty"`
	Error          string     `json:"error"`
	Permanent      bool       `json:"permanent"`
	Attempts       int        `json:"attempts"`
	FirstFailure   time.Time  `json:"firstFailure"`
	LastFailure    time.Time  `json:"lastFailure"`
	// Retry is set by Retry and cleared by the runner when it tries again.
	Retry bool `json:"retry,omitempty"`
}

// maxDeadSeqs bounds DeadLetter.Seqs: a resource that keeps changing while
// dead-lettered must not grow its record without limit.
const maxDeadSeqs = 100

// Status is what `targets status` shows for one target.
type Status struct {
	Tenant, Target string
	Cursor         int64     // last journal entry applied or dead-lettered
	Lag            int64     // journal entries after Cursor; -1 before the runner's first step (no cursor yet)
	OldestUnread   time.Time // zero if none
	Holder         string    // replica holding the lease, "" if none
	Expired        bool      // the cursor was trimmed: reconcile needed
	LastSuccess    time.Time
	LastError      string
	LastErrorAt    time.Time
	DeadLetters    int
}

// statusRecord is the persisted part of Status.
type statusRecord struct {
	LastSuccess time.Time `json:"lastSuccess,omitzero"`
	LastError   string    `json:"lastError,omitempty"`
	LastErrorAt time.Time `json:"lastErrorAt,omitzero"`
}

// NewRunner checks o and applies its defaults.
func NewRunner(o Options) (*Runner, error) {
	switch {
	case o.Tenant == "":
		return nil, errors.New("targets: runner: empty tenant")
	case o.Name == "":
		return nil, errors.New("targets: runner: empty target name")
	case o.Target == nil || o.Store == nil:
		return nil, errors.New("targets: runner: target and store are required")
	case o.Holder == "":
		return nil, errors.New("targets: runner: empty lease holder")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defi := func(d *int, v int) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.LeaseTTL, 30*time.Second)
	def(&o.BackoffMin, 500*time.Millisecond)
	def(&o.BackoffMax, 30*time.Second)
	def(&o.MaxRetryAfter, 2*time.Minute)
	def(&o.Poll, time.Second)
	defi(&o.Batch, 200)
	defi(&o.Workers, 4)
	defi(&o.MaxAttempts, 6)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Runner{o: o, k: keysFor(o.Name), log: o.Logger.With("tenant", o.Tenant, "target", o.Name)}, nil
}

// ErrNotHolder: another replica holds the target's consumer lease.
var ErrNotHolder = errors.New("targets: another replica holds the target's lease")

// Run feeds the target until ctx ends (nil) or the lease is lost
// (store.ErrLeaseLost). While another replica holds the lease it waits and
// tries again every Poll. Errors of a step (a store outage, a failed
// reconcile) are logged, recorded in the status, and retried after Poll.
func (r *Runner) Run(ctx context.Context) error {
	for {
		ok, err := r.o.Store.AcquireLease(ctx, r.o.Tenant, r.k.lease(), r.o.Holder, r.o.LeaseTTL)
		if err == nil && ok {
			err = r.lead(ctx)
			if errors.Is(err, store.ErrLeaseLost) {
				return err
			}
			if ctx.Err() != nil {
				// Shutting down: let another replica take over at once.
				if err := r.Release(context.WithoutCancel(ctx)); err != nil {
					r.log.Warn("targets: release the lease", "err", err)
				}
				return nil
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			r.log.Warn("targets: runner", "err", err)
		}
		if !sleep(ctx, r.o.Poll) {
			return nil
		}
	}
}

// lead runs steps while this replica holds the lease.
func (r *Runner) lead(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := r.renew(ctx, cancel)
	defer stop()
	for {
		n, err := r.step(ctx)
		if cause := context.Cause(ctx); errors.Is(cause, store.ErrLeaseLost) {
			return cause
		}
		if err != nil {
			return err
		}
		if n == 0 && !sleep(ctx, r.o.Poll) {
			if cause := context.Cause(ctx); errors.Is(cause, store.ErrLeaseLost) {
				return cause
			}
			return nil
		}
	}
}

// renew keeps the lease while lead runs and cancels it with
// store.ErrLeaseLost when another replica took it.
func (r *Runner) renew(ctx context.Context, cancel context.CancelCauseFunc) func() {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(max(r.o.LeaseTTL/3, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				ok, err := r.o.Store.AcquireLease(ctx, r.o.Tenant, r.k.lease(), r.o.Holder, r.o.LeaseTTL)
				if err != nil {
					r.log.Warn("targets: renew the lease", "err", err)
					continue // the next renewal may succeed before it expires
				}
				if !ok {
					cancel(store.ErrLeaseLost)
					return
				}
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// Step takes (or renews) the lease and processes one batch: re-queued dead
// letters first, then up to Batch journal entries. It returns the number
// of journal entries consumed; ErrNotHolder if another replica holds the
// lease; store.ErrLeaseLost if the lease was lost before the cursor could
// advance (nothing is advanced then). Tests and `targets run --once` use it;
// Run calls it in a loop.
func (r *Runner) Step(ctx context.Context) (int, error) {
	ok, err := r.o.Store.AcquireLease(ctx, r.o.Tenant, r.k.lease(), r.o.Holder, r.o.LeaseTTL)
	if err != nil {
		return 0, fmt.Errorf("targets: acquire the lease: %w", err)
	}
	if !ok {
		return 0, ErrNotHolder
	}
	return r.step(ctx)
}

// Release lets the lease expire at once, so that another replica can take
// over without waiting for the TTL (the store has no release: renewing for
// a millisecond does it).
func (r *Runner) Release(ctx context.Context) error {
	_, err := r.o.Store.AcquireLease(ctx, r.o.Tenant, r.k.lease(), r.o.Holder, time.Millisecond)
	return err
}

func (r *Runner) step(ctx context.Context) (int, error) {
	n, err := r.stepInner(ctx)
	if err != nil && ctx.Err() == nil {
		r.noteError(ctx, err)
	}
	return n, err
}

func (r *Runner) stepInner(ctx context.Context) (int, error) {
	dead, err := r.deadLetters(ctx)
	if err != nil {
		return 0, err
	}
	if err := r.retryRequested(ctx, dead); err != nil {
		return 0, err
	}

	return r.fromJournal(ctx, dead)
}

// fromJournal reads and applies one batch from the cursor.
func (r *Runner) fromJournal(ctx context.Context, dead map[string]*DeadLetter) (int, error) {
	st, t := r.o.Store, r.o.Tenant
	cur, err := st.GetCursor(ctx, t, r.k.consumer())
	var after, version int64
	switch {
	case errors.Is(err, store.ErrNotFound):
		floor, err := st.TrimFloor(ctx, t)
		if err != nil {
			return 0, fmt.Errorf("targets: trim floor: %w", err)
		}
		if floor > 0 {
			// A new target after a trim: the journal no longer holds
			// everything, only a reconcile can bring the target up to date.
			if err := r.reconcile(ctx, 0); err != nil {
				return 0, err
			}
			return r.fromJournal(ctx, dead)
		}
	case err != nil:
		return 0, fmt.Errorf("targets: read the cursor: %w", err)
	default:
		after, version = cur.Seq, cur.Version
	}

	entries, err := st.Changes(ctx, t, after, r.o.Batch)
	if errors.Is(err, store.ErrCursorExpired) {
		if err := r.reconcile(ctx, version); err != nil {
			return 0, err
		}
		return r.fromJournal(ctx, dead)
	}
	if err != nil {
		return 0, fmt.Errorf("targets: read the journal: %w", err)
	}
	if len(entries) == 0 {
		return 0, nil
	}

	items := collapse(entries)
	errs := make([]error, len(items))
	done := make([]chan struct{}, len(items))
	pos := make(map[string]int, len(items))
	for i, it := range items {
		done[i] = make(chan struct{})
		pos[it.id] = i
	}
	sem := make(chan struct{}, r.o.Workers)
	var wg sync.WaitGroup
	deps := batchDeps(items, pos)
	for i, it := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[i])
			for _, j := range deps[i] {
				<-done[j]
			}
			if d, ok := dead[it.id]; ok {
				// Later entries wait behind the dead letter.
				errs[i] = r.foldDead(ctx, d, it)
				return
			}
			sem <- struct{}{}
			defer func() { <-sem }()
			_, errs[i] = r.deliver(ctx, it, nil)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, err // nothing advanced: the batch is applied again
	}
	last := entries[len(entries)-1].Seq
	if _, err := st.AdvanceCursor(ctx, t, r.k.consumer(), r.o.Holder, version, last); err != nil {
		return 0, fmt.Errorf("targets: advance the cursor to %d: %w", last, err)
	}
	r.saveStatus(ctx)
	return len(entries), nil
}

// batchDeps returns, per item of a batch, the items it must wait for: a
// group waits for the members it adds that are applied in the same batch
// (users and nested groups), so that a target sees an account or group
// before it is put in a group. Users wait for nothing; an edge that would
// close a cycle of nested groups is dropped, so waiting never deadlocks.
func batchDeps(items []*item, pos map[string]int) [][]int {
	deps := make([][]int, len(items))
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(items))
	var visit func(i int)
	visit = func(i int) {
		color[i] = grey
		members := make([]string, 0, len(items[i].members))
		for m, add := range items[i].members {
			if add {
				members = append(members, m)
			}
		}
		slices.Sort(members) // deterministic cycle breaking
		for _, m := range members {
			j, ok := pos[m]
			if !ok || j == i {
				continue
			}
			if items[j].kind == store.Group {
				if color[j] == grey {
					continue // a cycle: no wait
				}
				if color[j] == white {
					visit(j)
				}
			}
			deps[i] = append(deps[i], j)
		}
		color[i] = black
	}
	for i, it := range items {
		if it.kind == store.Group && color[i] == white {
			visit(i)
		}
	}
	return deps
}

// reconcile handles a cursor the journal no longer covers.
func (r *Runner) reconcile(ctx context.Context, version int64) error {
	if r.o.Reconcile == nil {
		return fmt.Errorf("targets: %w (no reconcile configured)", store.ErrCursorExpired)
	}
	r.log.Warn("targets: the journal was trimmed past the cursor: reconciling")
	if err := r.o.Reconcile(ctx, r.o.Tenant, r.o.Name); err != nil {
		return fmt.Errorf("targets: reconcile after an expired cursor: %w", err)
	}
	floor, err := r.o.Store.TrimFloor(ctx, r.o.Tenant)
	if err != nil {
		return fmt.Errorf("targets: trim floor: %w", err)
	}
	if _, err := r.o.Store.AdvanceCursor(ctx, r.o.Tenant, r.k.consumer(), r.o.Holder, version, floor); err != nil {
		return fmt.Errorf("targets: move the cursor to the trim floor %d: %w", floor, err)
	}
	return nil
}

// item is one resource's entries in a batch.
type item struct {
	kind    store.Kind
	id      string
	seqs    []int64
	changed []string
	members map[string]bool // member id -> added (true) or removed (false); the last entry wins
	last    store.Change
}

// collapse groups a batch's entries by resource, in order of first
// appearance.
func collapse(entries []store.Change) []*item {
	var items []*item
	byID := map[string]*item{}
	for _, e := range entries {
		it := byID[e.ID]
		if it == nil || it.kind != e.Kind {
			it = &item{kind: e.Kind, id: e.ID, members: map[string]bool{}}
			byID[e.ID] = it
			items = append(items, it)
		}
		it.seqs = append(it.seqs, e.Seq)
		for _, c := range e.Changed {
			if !slices.Contains(it.changed, c.Path) {
				it.changed = append(it.changed, c.Path)
			}
		}
		for _, m := range e.Added {
			it.members[m] = true
		}
		for _, m := range e.Removed {
			it.members[m] = false
		}
		it.last = e
	}
	for _, it := range items {
		slices.Sort(it.changed)
	}
	return items
}

func (it *item) memberLists() (added, removed []string) {
	for m, add := range it.members {
		if add {
			added = append(added, m)
		} else {
			removed = append(removed, m)
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	return added, removed
}

// change builds the Change of it from the resource's current state.
func (r *Runner) change(ctx context.Context, it *item) (Change, error) {
	c := Change{Tenant: r.o.Tenant, Target: r.o.Name, Kind: it.kind, ID: it.id, Seqs: it.seqs,
		Changed: it.changed, Origin: it.last.Origin, Name: it.last.Name, At: it.last.At}
	c.MembersAdded, c.MembersRemoved = it.memberLists()
	ent, err := r.o.Store.GetState(ctx, r.o.Tenant, r.k.idMap(it.kind, it.id))
	switch {
	case err == nil:
		c.TargetID = string(ent.Value)
	case !errors.Is(err, store.ErrNotFound):
		return c, fmt.Errorf("targets: read the id map: %w", err)
	}
	res, err := r.o.Store.Get(ctx, store.Ref{Tenant: r.o.Tenant, Kind: it.kind, ID: it.id})
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.Action = ActionDelete
		return c, nil
	case err != nil:
		return c, fmt.Errorf("targets: read %s %s: %w", it.kind, it.id, err)
	}
	c.Resource = &res
	switch {
	case it.kind == store.User && res.Attrs["active"] == false:
		c.Action = ActionDisable
	case c.TargetID == "":
		c.Action = ActionCreate
	default:
		c.Action = ActionUpdate
	}
	return c, nil
}

// deliver applies it with retries, and dead-letters it when the target
// keeps failing (dead is true then). It returns an error only when the
// batch must not advance: the store failed, or ctx ended. prev is the dead
// letter being retried.
func (r *Runner) deliver(ctx context.Context, it *item, prev *DeadLetter) (dead bool, err error) {
	for attempt := 1; ; attempt++ {
		c, err := r.change(ctx, it)
		if err != nil {
			return false, err
		}
		tid, err := r.o.Target.Apply(ctx, c)
		if err == nil {
			return false, r.applied(ctx, c, tid)
		}
		if ctx.Err() != nil {
			return false, context.Cause(ctx)
		}
		if IsPermanent(err) || attempt >= r.o.MaxAttempts {
			return true, r.deadLetter(ctx, it, prev, err, attempt)
		}
		r.log.Debug("targets: apply failed, retrying", "kind", it.kind, "id", it.id, "attempt", attempt, "err", err)
		if !sleep(ctx, r.backoff(attempt, err)) {
			return false, context.Cause(ctx)
		}
	}
}

// backoff is the wait after the attempt-th failure: BackoffMin doubled per
// attempt up to BackoffMax, with jitter in [d/2, d]; at least the target's
// Retry-After (capped by MaxRetryAfter).
func (r *Runner) backoff(attempt int, err error) time.Duration {
	d := r.o.BackoffMin
	for i := 1; i < attempt && d < r.o.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, r.o.BackoffMax)
	d = d/2 + rand.N(d/2+1)
	var ra *RetryAfterError
	if errors.As(err, &ra) && ra.After > d {
		d = min(ra.After, r.o.MaxRetryAfter)
	}
	return d
}

// applied records a successful apply in the id map and the status.
func (r *Runner) applied(ctx context.Context, c Change, tid string) error {
	key := r.k.idMap(c.Kind, c.ID)
	switch {
	case c.Action == ActionDelete || tid == "":
		if c.TargetID != "" {
			if err := r.o.Store.DeleteState(ctx, r.o.Tenant, key); err != nil {
				return fmt.Errorf("targets: forget the target id: %w", err)
			}
		}
	case tid != c.TargetID:
		if _, err := r.o.Store.PutState(ctx, r.o.Tenant, key, []byte(tid), -1); err != nil {
			return fmt.Errorf("targets: record the target id: %w", err)
		}
	}
	r.mu.Lock()
	r.status.LastSuccess = r.o.Now().UTC()
	r.mu.Unlock()
	return nil
}

// deadLetter records it as a dead letter (a new one, or prev again).
func (r *Runner) deadLetter(ctx context.Context, it *item, prev *DeadLetter, cause error, attempts int) error {
	now := r.o.Now().UTC()
	d := DeadLetter{Kind: it.kind, ID: it.id, FirstFailure: now}
	if prev != nil {
		d = *prev
		d.Retry = false
	}
	d.Error, d.Permanent, d.LastFailure = cause.Error(), IsPermanent(cause), now
	d.Attempts += attempts
	if prev == nil {
		addToDead(&d, it)
	}
	r.log.Warn("targets: dead-lettered", "kind", it.kind, "id", it.id, "attempts", d.Attempts, "err", cause)
	r.mu.Lock()
	r.status.LastError, r.status.LastErrorAt = fmt.Sprintf("%s %s: %s", it.kind, it.id, d.Error), now
	r.mu.Unlock()
	return r.putDead(ctx, d)
}

// foldDead adds it's entries to the resource's dead letter.
func (r *Runner) foldDead(ctx context.Context, d *DeadLetter, it *item) error {
	addToDead(d, it)
	return r.putDead(ctx, *d)
}

func addToDead(d *DeadLetter, it *item) {
	// A batch that failed for another reason is read again: fold each
	// entry once.
	var last int64
	if n := len(d.Seqs); n > 0 {
		last = d.Seqs[n-1]
	}
	for _, s := range it.seqs {
		if s > last {
			d.Seqs = append(d.Seqs, s)
			d.Entries++
		}
	}
	if n := len(d.Seqs); n > maxDeadSeqs {
		// Keep the first entries (where it started failing) and the newest.
		d.Seqs = append(d.Seqs[:maxDeadSeqs/2], d.Seqs[n-maxDeadSeqs/2:]...)
	}
	for _, c := range it.changed {
		if !slices.Contains(d.Changed, c) {
			d.Changed = append(d.Changed, c)
		}
	}
	slices.Sort(d.Changed)
	for m, add := range it.members {
		d.MembersAdded = slices.DeleteFunc(d.MembersAdded, func(s string) bool { return s == m })
		d.MembersRemoved = slices.DeleteFunc(d.MembersRemoved, func(s string) bool { return s == m })
		if add {
			d.MembersAdded = append(d.MembersAdded, m)
		} else {
			d.MembersRemoved = append(d.MembersRemoved, m)
		}
	}
	slices.Sort(d.MembersAdded)
	slices.Sort(d.MembersRemoved)
}

func (r *Runner) putDead(ctx context.Context, d DeadLetter) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if _, err := r.o.Store.PutState(ctx, r.o.Tenant, r.k.dead(d.ID), b, -1); err != nil {
		return fmt.Errorf("targets: record the dead letter of %s: %w", d.ID, err)
	}
	return nil
}

// DeadLetters lists the target's dead letters by resource id.
func (r *Runner) DeadLetters(ctx context.Context) ([]DeadLetter, error) {
	m, err := r.deadLetters(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]DeadLetter, 0, len(m))
	for _, d := range m {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b DeadLetter) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// TODO(targets): page this with the store's paged state listing (issue 16's
// store increment) once it lands.
func (r *Runner) deadLetters(ctx context.Context) (map[string]*DeadLetter, error) {
	ents, err := r.o.Store.ListState(ctx, r.o.Tenant, r.k.deadPrefix())
	if err != nil {
		return nil, fmt.Errorf("targets: list dead letters: %w", err)
	}
	m := make(map[string]*DeadLetter, len(ents))
	for _, e := range ents {
		var d DeadLetter
		if err := json.Unmarshal(e.Value, &d); err != nil {
			return nil, fmt.Errorf("targets: dead letter %s: %w", e.Key, err)
		}
		m[d.ID] = &d
	}
	return m, nil
}

// retryRequested delivers the dead letters Retry re-queued; those that
// succeed are removed, the others are dead letters again.
func (r *Runner) retryRequested(ctx context.Context, dead map[string]*DeadLetter) error {
	for id, d := range dead {
		if !d.Retry {
			continue
		}
		it := &item{kind: d.Kind, id: d.ID, seqs: slices.Clone(d.Seqs), changed: d.Changed, members: map[string]bool{}}
		for _, m := range d.MembersAdded {
			it.members[m] = true
		}
		for _, m := range d.MembersRemoved {
			it.members[m] = false
		}
		if n := len(d.Seqs); n > 0 {
			it.last = store.Change{Seq: d.Seqs[n-1], At: d.LastFailure}
		}
		again, err := r.deliver(ctx, it, d)
		if err != nil {
			return err
		}
		if again {
			// deadLetter rewrote it (attempts, error, Retry cleared):
			// fold later entries into that version.
			ent, err := r.o.Store.GetState(ctx, r.o.Tenant, r.k.dead(id))
			if err != nil {
				return fmt.Errorf("targets: read the dead letter of %s: %w", id, err)
			}
			var nd DeadLetter
			if err := json.Unmarshal(ent.Value, &nd); err != nil {
				return fmt.Errorf("targets: dead letter %s: %w", id, err)
			}
			dead[id] = &nd
			continue
		}
		if err := r.o.Store.DeleteState(ctx, r.o.Tenant, r.k.dead(id)); err != nil {
			return fmt.Errorf("targets: remove the dead letter of %s: %w", id, err)
		}
		delete(dead, id)
	}
	return nil
}

// Retry re-queues the dead letter of resource id: the runner applies the
// resource's current state at its next step. ErrNotFound (wrapped) if
// there is none.
func (r *Runner) Retry(ctx context.Context, id string) error {
	return RetryDeadLetter(ctx, r.o.Store, r.o.Tenant, r.o.Name, id)
}

// RetryAll re-queues every dead letter of the target and returns how many.
func (r *Runner) RetryAll(ctx context.Context) (int, error) {
	ds, err := r.DeadLetters(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range ds {
		if d.Retry {
			continue
		}
		if err := r.Retry(ctx, d.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return n, err
		}
		n++
	}
	return n, nil
}

// RetryDeadLetter re-queues a dead letter of the target name without a
// Runner (the CLI and admin API, in another process than the runner).
func RetryDeadLetter(ctx context.Context, st store.Store, tenant, name, id string) error {
	k := keysFor(name).dead(id)
	for {
		ent, err := st.GetState(ctx, tenant, k)
		if err != nil {
			return fmt.Errorf("targets: dead letter %s of %s: %w", id, name, err)
		}
		var d DeadLetter
		if err := json.Unmarshal(ent.Value, &d); err != nil {
			return fmt.Errorf("targets: dead letter %s: %w", id, err)
		}
		d.Retry = true
		b, _ := json.Marshal(d)
		_, err = st.PutState(ctx, tenant, k, b, ent.Version)
		if errors.Is(err, store.ErrPrecondition) {
			continue // the runner wrote it meanwhile
		}
		return err
	}
}

// noteError records err as the target's last error.
func (r *Runner) noteError(ctx context.Context, err error) {
	r.log.Warn("targets: step failed", "err", err)
	r.mu.Lock()
	r.status.LastError, r.status.LastErrorAt = err.Error(), r.o.Now().UTC()
	r.mu.Unlock()
	r.saveStatus(ctx)
}

// saveStatus persists the last success and error for Status in other
// processes.
func (r *Runner) saveStatus(ctx context.Context) {
	r.mu.Lock()
	b, _ := json.Marshal(r.status)
	r.mu.Unlock()
	if _, err := r.o.Store.PutState(context.WithoutCancel(ctx), r.o.Tenant, r.k.status(), b, -1); err != nil {
		r.log.Warn("targets: record the status", "err", err)
	}
}

// Status reports the target's position, lag, last success and error and
// its dead letters.
func (r *Runner) Status(ctx context.Context) (Status, error) {
	return ReadStatus(ctx, r.o.Store, r.o.Tenant, r.o.Name)
}

// ReadStatus is Status without a Runner (the CLI and admin API).
func ReadStatus(ctx context.Context, st store.Store, tenant, name string) (Status, error) {
	k := keysFor(name)
	s := Status{Tenant: tenant, Target: name}
	cs, err := st.Consumers(ctx, tenant)
	if err != nil {
		return s, fmt.Errorf("targets: status: %w", err)
	}
	found := false
	for _, c := range cs {
		if c.Consumer == k.consumer() {
			s.Cursor, s.Lag, s.OldestUnread, s.Holder, s.Expired = c.Seq, c.Lag, c.OldestUnread, c.Holder, c.Expired
			found = true
		}
	}
	if !found {
		// No cursor yet: everything in the journal is unread.
		floor, err := st.TrimFloor(ctx, tenant)
		if err != nil {
			return s, fmt.Errorf("targets: status: %w", err)
		}
		if all, err := st.Changes(ctx, tenant, floor, 1); err == nil && len(all) > 0 {
			s.OldestUnread = all[0].At
			s.Lag = -1
		}
	}
	if ent, err := st.GetState(ctx, tenant, k.status()); err == nil {
		var rec statusRecord
		if json.Unmarshal(ent.Value, &rec) == nil {
			s.LastSuccess, s.LastError, s.LastErrorAt = rec.LastSuccess, rec.LastError, rec.LastErrorAt
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return s, fmt.Errorf("targets: status: %w", err)
	}
	ds, err := st.ListState(ctx, tenant, k.deadPrefix())
	if err != nil {
		return s, fmt.Errorf("targets: status: %w", err)
	}
	s.DeadLetters = len(ds)
	return s, nil
}

// sleep waits d or until ctx ends; false if ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
