package targets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	loaded bool // status was read from the store (a restart keeps the last error)
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
	if err := r.loadStatus(ctx); err != nil {
		return 0, err
	}
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
