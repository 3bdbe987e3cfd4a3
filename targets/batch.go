package targets

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

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
