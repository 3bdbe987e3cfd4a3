package pull

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// Scheduled is one tenant's periodic pull.
type Scheduled struct {
	Tenant   string
	Interval time.Duration
	Request  func() RunRequest
}

// Schedule runs every entry's pull on its interval until ctx ends
// (Trigger "schedule"; a busy tenant is skipped, not an error) and records
// the next run time so NextRun can read it from any process. The first run
// of a tenant is due one interval after its last recorded run started (at
// once if it has none), so that restarts and replicas do not pull more
// often than the interval.
func (e *Engine) Schedule(ctx context.Context, entries []Scheduled) {
	var wg sync.WaitGroup
	for _, s := range entries {
		if s.Interval <= 0 || s.Request == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.scheduleOne(ctx, s)
		}()
	}
	wg.Wait()
}

func (e *Engine) scheduleOne(ctx context.Context, s Scheduled) {
	next := e.now()
	if runs, err := e.Runs(ctx, s.Tenant, 1); err == nil && len(runs) > 0 {
		if due := runs[0].Started.Add(s.Interval); due.After(next) {
			next = due
		}
	}
	for {
		e.setNext(ctx, s.Tenant, next)
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		req := s.Request()
		req.Tenant, req.Trigger, req.Wait = s.Tenant, TriggerSchedule, false
		started := e.now()
		_, err := e.Run(ctx, req)
		switch {
		case errors.Is(err, ErrBusy):
			e.log.Info("pull: scheduled run skipped, the tenant is busy", "tenant", s.Tenant, "err", err)
		case err != nil && ctx.Err() == nil:
			e.log.Warn("pull: scheduled run failed", "tenant", s.Tenant, "err", err)
		}
		next = started.Add(s.Interval)
		if now := e.now(); next.Before(now) {
			next = now // a run longer than the interval: the next one at once
		}
	}
}

func (e *Engine) setNext(ctx context.Context, tenant string, t time.Time) {
	if _, err := e.st.PutState(ctx, tenant, keyNext, []byte(t.UTC().Format(time.RFC3339Nano)), -1); err != nil && ctx.Err() == nil {
		e.log.Warn("pull: record the next run", "tenant", tenant, "err", err)
	}
}

// NextRun returns when the tenant's next scheduled run is due (zero if none).
func (e *Engine) NextRun(ctx context.Context, tenant string) (time.Time, error) {
	ent, err := e.st.GetState(ctx, tenant, keyNext)
	if errors.Is(err, store.ErrNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("pull: read the next run: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, string(ent.Value))
	if err != nil {
		return time.Time{}, fmt.Errorf("pull: decode the next run: %w", err)
	}
	return t, nil
}
