package targets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

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
	// The provenance of the newest entry folded in, handed to the target
	// again when the dead letter is retried.
	Name   string       `json:"name,omitempty"`
	Origin store.Origin `json:"origin,omitzero"`
	At     time.Time    `json:"at,omitzero"`
	// Retry is set by Retry and cleared by the runner when it tries again.
	Retry bool `json:"retry,omitempty"`
}

// maxDeadSeqs bounds DeadLetter.Seqs: a resource that keeps changing while
// dead-lettered must not grow its record without limit.
const maxDeadSeqs = 100

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
	if it.last.Seq > last {
		d.Name, d.Origin, d.At = it.last.Name, it.last.Origin, it.last.At
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

// deadLetters reads the dead letters a page at a time (ListStatePage), so
// that no single store answer holds them all; the runner keeps them in
// memory because every batch checks each of its resources against them.
func (r *Runner) deadLetters(ctx context.Context) (map[string]*DeadLetter, error) {
	m := map[string]*DeadLetter{}
	after := ""
	for {
		ents, err := r.o.Store.ListStatePage(ctx, r.o.Tenant, r.k.deadPrefix(), after, store.DefaultPageLimit)
		if err != nil {
			return nil, fmt.Errorf("targets: list dead letters: %w", err)
		}
		for _, e := range ents {
			var d DeadLetter
			if err := json.Unmarshal(e.Value, &d); err != nil {
				return nil, fmt.Errorf("targets: dead letter %s: %w", e.Key, err)
			}
			m[d.ID] = &d
		}
		if len(ents) < store.DefaultPageLimit {
			return m, nil
		}
		after = ents[len(ents)-1].Key
	}
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
			it.last = store.Change{Seq: d.Seqs[n-1], At: d.At, Name: d.Name, Origin: d.Origin}
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
