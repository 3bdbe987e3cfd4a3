package pull

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
)

// Policy is a tenant's pull configuration, as the engine needs it.
type Policy struct {
	OnDelete            OnDelete // "disable" (default) | "delete"
	CreateDisabledUsers bool
	Scope               *Scope // nil: every user and group of the source
}

// OnDelete says what happens to a user that was deleted in the source.
type OnDelete string

// The delete policies.
const (
	OnDeleteDisable OnDelete = "disable"
	OnDeleteDelete  OnDelete = "delete"
)

// Scope limits a pull to some groups and users.
type Scope struct {
	Groups []string // display names or object ids
	Users  []string // userPrincipalNames (userName) or object ids, besides the groups' members
	Nested bool     // also members of nested groups
}

// Options configures an Engine.
type Options struct {
	Holder   string        // lease holder id of this process (host:pid:random)
	LeaseTTL time.Duration // default 2m; renewed while a run goes on
	Logger   *slog.Logger
}

// Trigger says what started a run.
type Trigger string

// The triggers.
const (
	TriggerCLI      Trigger = "cli"
	TriggerSchedule Trigger = "schedule"
	TriggerAdmin    Trigger = "admin"
)

// RunRequest is one run to perform.
type RunRequest struct {
	Tenant   string
	Source   Source
	Policy   Policy
	DryRun   bool // plan only: nothing written, not even the checkpoint (the run record and plan are written)
	Full     bool // ignore the checkpoint
	Trigger  Trigger
	Wait     bool           // wait for another holder's lease instead of ErrBusy
	Progress func(Progress) // optional; called from the run's goroutine
}

// Progress is what a run has observed so far.
type Progress struct{ Pages, Users, Groups, Memberships int }

// ErrBusy: another run holds the tenant's pull lease.
var ErrBusy = errors.New("pull: another run holds the tenant's pull lease")

// BusyError says who holds the tenant's pull lease. It matches ErrBusy.
type BusyError struct {
	Holder string
	Since  time.Time
}

func (e *BusyError) Error() string {
	if e.Since.IsZero() {
		return fmt.Sprintf("%v (holder %q)", ErrBusy, e.Holder)
	}
	return fmt.Sprintf("%v (holder %q since %s)", ErrBusy, e.Holder, e.Since.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrBusy) true.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// Engine runs pulls into one store. It is safe for concurrent use; runs of
// one tenant are serialised by the tenant's pull lease (across processes)
// and by the engine itself (within one, as every run of a process holds the
// lease under the same holder id).
type Engine struct {
	st   store.Store
	opts Options
	log  *slog.Logger
	now  func() time.Time

	mu      sync.Mutex
	running map[string]time.Time // tenant -> start of this process's run

	regOnce sync.Once
	reg     *schemas.Registry
	regErr  error
}

// defaultLeaseTTL is the lease's lifetime when Options.LeaseTTL is 0.
const defaultLeaseTTL = 2 * time.Minute

// NewEngine returns an engine that pulls into st.
func NewEngine(st store.Store, opts Options) *Engine {
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = defaultLeaseTTL
	}
	if opts.Holder == "" {
		opts.Holder = "pull-" + randomHex(6)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{st: st, opts: opts, log: log, now: time.Now, running: map[string]time.Time{}}
}

// schemas returns the registry used to build first-contact filters.
func (e *Engine) schemas() (*schemas.Registry, error) {
	e.regOnce.Do(func() { e.reg, e.regErr = schemas.Load() })
	return e.reg, e.regErr
}

func (req RunRequest) validate() error {
	switch {
	case req.Tenant == "":
		return errors.New("pull: empty tenant")
	case req.Source == nil:
		return errors.New("pull: no source")
	case req.Source.Kind() == "":
		return errors.New("pull: the source has no kind")
	}
	switch req.Policy.OnDelete {
	case "", OnDeleteDisable, OnDeleteDelete:
	default:
		return fmt.Errorf("pull: onDelete: %q is neither %q nor %q", req.Policy.OnDelete, OnDeleteDisable, OnDeleteDelete)
	}
	return nil
}

// leaseInfo is stored next to the lease, so that a busy caller can say who
// holds it and since when (AcquireLease only answers yes or no).
type leaseInfo struct {
	Holder string    `json:"holder"`
	Since  time.Time `json:"since"`
}

// acquire takes the tenant's pull lease (waiting for it with req.Wait) and
// returns when the run holding it started and the function that releases it.
func (e *Engine) acquire(ctx context.Context, req RunRequest) (time.Time, func(), error) {
	poll := min(e.opts.LeaseTTL/4, time.Second)
	for {
		since, release, err := e.tryAcquire(ctx, req.Tenant)
		if err == nil || !errors.Is(err, ErrBusy) || !req.Wait {
			return since, release, err
		}
		select {
		case <-ctx.Done():
			return time.Time{}, nil, fmt.Errorf("pull: waiting for the lease: %w (%w)", ctx.Err(), err)
		case <-time.After(poll):
		}
	}
}

func (e *Engine) tryAcquire(ctx context.Context, tenant string) (time.Time, func(), error) {
	now := e.now()
	e.mu.Lock()
	if since, ok := e.running[tenant]; ok {
		e.mu.Unlock()
		return time.Time{}, nil, &BusyError{Holder: e.opts.Holder, Since: since}
	}
	e.running[tenant] = now
	e.mu.Unlock()
	unmark := func() {
		e.mu.Lock()
		delete(e.running, tenant)
		e.mu.Unlock()
	}
	ok, err := e.st.AcquireLease(ctx, tenant, leaseName, e.opts.Holder, e.opts.LeaseTTL)
	if err != nil {
		unmark()
		return time.Time{}, nil, fmt.Errorf("pull: acquire the lease: %w", err)
	}
	if !ok {
		unmark()
		be := &BusyError{}
		if ent, err := e.st.GetState(ctx, tenant, keyLease); err == nil {
			var li leaseInfo
			if json.Unmarshal(ent.Value, &li) == nil {
				be.Holder, be.Since = li.Holder, li.Since
			}
		}
		return time.Time{}, nil, be
	}
	li, _ := json.Marshal(leaseInfo{Holder: e.opts.Holder, Since: now})
	if _, err := e.st.PutState(ctx, tenant, keyLease, li, -1); err != nil {
		e.releaseLease(ctx, tenant)
		unmark()
		return time.Time{}, nil, fmt.Errorf("pull: record the lease: %w", err)
	}
	return now, func() {
		e.releaseLease(context.WithoutCancel(ctx), tenant)
		unmark()
	}, nil
}

// releaseLease lets the lease expire at once: the store has no release, but
// renewing it for a millisecond frees it for the next holder.
func (e *Engine) releaseLease(ctx context.Context, tenant string) {
	if _, err := e.st.AcquireLease(ctx, tenant, leaseName, e.opts.Holder, time.Millisecond); err != nil {
		e.log.Warn("pull: release the lease", "tenant", tenant, "err", err)
	}
}

// errLeaseLost ends a run whose lease another holder took over.
var errLeaseLost = errors.New("pull: the tenant's pull lease was lost to another holder")

// renew keeps the lease while the run goes on; it cancels the run when the
// lease is lost. The returned function stops it.
func (e *Engine) renew(ctx context.Context, cancel context.CancelCauseFunc, tenant string) func() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(max(e.opts.LeaseTTL/3, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				ok, err := e.st.AcquireLease(ctx, tenant, leaseName, e.opts.Holder, e.opts.LeaseTTL)
				if err != nil {
					e.log.Warn("pull: renew the lease", "tenant", tenant, "err", err)
					continue // the next renewal may succeed before the lease expires
				}
				if !ok {
					cancel(errLeaseLost)
					return
				}
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// Run performs one round synchronously. When another holder has the
// tenant's pull lease it returns a *BusyError (errors.Is(err, ErrBusy)).
// A run that fails returns its record (Outcome "failed") AND the error.
func (e *Engine) Run(ctx context.Context, req RunRequest) (RunRecord, error) {
	if err := req.validate(); err != nil {
		return RunRecord{}, err
	}
	since, release, err := e.acquire(ctx, req)
	if err != nil {
		return RunRecord{}, err
	}
	defer release()
	rec, err := e.begin(ctx, req, since)
	if err != nil {
		return RunRecord{}, err
	}
	return e.execute(ctx, req, rec)
}

// Start begins a run in the background and returns its id once the lease
// is held and the record written ("running"); *BusyError if busy.
func (e *Engine) Start(ctx context.Context, req RunRequest) (string, error) {
	if err := req.validate(); err != nil {
		return "", err
	}
	since, release, err := e.acquire(ctx, req)
	if err != nil {
		return "", err
	}
	rec, err := e.begin(ctx, req, since)
	if err != nil {
		release()
		return "", err
	}
	// The run outlives the request that started it.
	bg := context.WithoutCancel(ctx)
	go func() {
		defer release()
		if _, err := e.execute(bg, req, rec); err != nil {
			e.log.Error("pull: run failed", "tenant", req.Tenant, "run", rec.ID, "err", err)
		}
	}()
	return rec.ID, nil
}

// begin writes the record of a run that starts now. The caller holds the
// tenant's lease, so no other run of the tenant is going on: a record still
// "running" belongs to a process that stopped (killed, or its lease lost
// without a chance to write the outcome) and is closed as failed, rather
// than showing as running forever in pull status and the admin API.
func (e *Engine) begin(ctx context.Context, req RunRequest, started time.Time) (RunRecord, error) {
	if err := e.closeAbandoned(ctx, req.Tenant, started); err != nil {
		e.log.Warn("pull: close abandoned run records", "tenant", req.Tenant, "err", err)
	}
	rec := RunRecord{
		ID:      newRunID(started),
		Tenant:  req.Tenant,
		Source:  req.Source.Kind(),
		Trigger: req.Trigger,
		DryRun:  req.DryRun,
		Full:    req.Full,
		Started: started.UTC(),
		Outcome: OutcomeRunning,
		Skips:   map[string]int{},
		Holder:  e.opts.Holder,
	}
	if err := e.putRecord(ctx, rec); err != nil {
		return RunRecord{}, err
	}
	return rec, nil
}

// execute runs the round of rec and records its outcome.
func (e *Engine) execute(ctx context.Context, req RunRequest, rec RunRecord) (RunRecord, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := e.renew(ctx, cancel, req.Tenant)
	r := newRound(e, req, &rec)
	err := r.run(ctx)
	stop()
	if err != nil && context.Cause(ctx) != nil && !errors.Is(err, context.Cause(ctx)) {
		err = fmt.Errorf("%w: %w", context.Cause(ctx), err)
	}
	rec.Finished = e.now().UTC()
	if r.res.Full {
		rec.Full = true
	}
	wctx := context.WithoutCancel(ctx)
	if err != nil {
		rec.Outcome = OutcomeFailed
		rec.addError(err.Error())
		e.log.Error("pull: run failed", "tenant", rec.Tenant, "run", rec.ID, "err", err)
	} else {
		rec.Outcome = OutcomeSucceeded
		e.log.Info("pull: run done", "tenant", rec.Tenant, "run", rec.ID, "dryRun", rec.DryRun, "full", rec.Full,
			"created", rec.Counts.Created, "updated", rec.Counts.Updated, "disabled", rec.Counts.Disabled,
			"deleted", rec.Counts.Deleted, "unchanged", rec.Counts.Unchanged, "skipped", rec.Counts.Skipped,
			"errors", rec.Counts.Errors, "duration", rec.Finished.Sub(rec.Started))
	}
	if perr := e.putRecord(wctx, rec); perr != nil {
		if err == nil {
			err = perr
		}
		e.log.Error("pull: write the run record", "tenant", rec.Tenant, "run", rec.ID, "err", perr)
	}
	if terr := e.trimRuns(wctx, rec.Tenant); terr != nil {
		e.log.Warn("pull: trim old run records", "tenant", rec.Tenant, "err", terr)
	}
	return rec, err
}

// errAbandoned is the error recorded on a run whose process stopped
// before it could record the outcome.
const errAbandoned = "abandoned: the process running it stopped before it finished (its lease expired); the checkpoint was not advanced, the next run converges"

// closeAbandoned marks the tenant's records still "running" as failed.
func (e *Engine) closeAbandoned(ctx context.Context, tenant string, now time.Time) error {
	recs, err := e.Runs(ctx, tenant, 0)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if rec.Outcome != OutcomeRunning {
			continue
		}
		rec.Outcome = OutcomeFailed
		rec.Finished = now.UTC()
		rec.addError(errAbandoned)
		if err := e.putRecord(ctx, rec); err != nil {
			return err
		}
		e.log.Warn("pull: closed an abandoned run record", "tenant", tenant, "run", rec.ID, "holder", rec.Holder)
	}
	return nil
}
