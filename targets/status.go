package targets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// Status is what `targets status` shows for one target.
type Status struct {
	Tenant, Target string
	Cursor         int64         // last journal entry applied or dead-lettered
	Lag            int64         // journal entries after Cursor; -1 before the runner's first step (no cursor yet)
	OldestUnread   time.Time     // zero if none
	Holder         string        // replica holding the lease, "" if none
	Expired        bool          // the cursor was trimmed: reconcile needed
	Delay          time.Duration // how long the oldest unread entry has waited (lag in time), 0 if none
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

// noteError records err as the target's last error.
func (r *Runner) noteError(ctx context.Context, err error) {
	r.log.Warn("targets: step failed", "err", err)
	r.mu.Lock()
	r.status.LastError, r.status.LastErrorAt = err.Error(), r.o.Now().UTC()
	r.mu.Unlock()
	r.saveStatus(ctx)
}

// loadStatus reads the status a previous runner saved, once.
func (r *Runner) loadStatus(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.loaded {
		return nil
	}
	ent, err := r.o.Store.GetState(ctx, r.o.Tenant, r.k.status())
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fmt.Errorf("targets: read the status: %w", err)
	default:
		// A record that does not decode is replaced by the next save.
		_ = json.Unmarshal(ent.Value, &r.status)
	}
	r.loaded = true
	return nil
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
	if !s.OldestUnread.IsZero() {
		s.Delay = max(time.Since(s.OldestUnread), 0)
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
