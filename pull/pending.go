package pull

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Pending memberships: a group observation may name a member that is not
// provisioned (a disabled user that createDisabledUsers keeps out, one
// skipped as malformed). An incremental round that later creates the user
// does not observe the group again, so the membership is kept in a state
// record per user, pull/<src>/pending/<user object id> (the group object
// ids), and applied in the first round that maps the user. They are few:
// only memberships of users that are not provisioned.

// loadPending reads the pending memberships.
func (r *round) loadPending(ctx context.Context) error {
	ents, err := r.st.ListState(ctx, r.tenant, r.keys.pendingPrefix())
	if err != nil {
		return fmt.Errorf("pull: read pending memberships: %w", err)
	}
	for _, ent := range ents {
		var groups []string
		if err := json.Unmarshal(ent.Value, &groups); err != nil {
			return fmt.Errorf("pull: decode %s: %w", ent.Key, err)
		}
		r.pending[strings.TrimPrefix(ent.Key, r.keys.pendingPrefix())] = setOf(groups)
	}
	return nil
}

// pend records (added) or drops a membership of an unprovisioned user.
func (r *round) pend(user, group string, added bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	gs := r.pending[user]
	if added == (gs != nil && gs[group]) {
		return
	}
	if gs == nil {
		gs = map[string]bool{}
		r.pending[user] = gs
	}
	if added {
		gs[group] = true
	} else {
		delete(gs, group)
	}
	r.pendingDirty[user] = true
}

// injectPending adds the pending memberships of users that are mapped now
// to the round's group observations (before the groups are applied).
func (r *round) injectPending() {
	for user, gs := range r.pending {
		if _, ok := r.umap[user]; !ok || r.removedU[user] {
			continue
		}
		for group := range gs {
			g, observed := r.groups[group]
			if !observed {
				if _, mapped := r.gmap[group]; !mapped {
					continue // the group is gone
				}
				g = r.group(group)
			}
			if _, said := g.members[user]; !said { // the round's own word wins
				if g.members == nil {
					g.members = map[string]bool{}
				}
				g.members[user] = true
			}
		}
		delete(r.pending, user)
		r.pendingDirty[user] = true
	}
}

// settlePending drops pending memberships that a complete member list of
// the round no longer has.
func (r *round) settlePending(ctx context.Context) error {
	for user, gs := range r.pending {
		for group := range gs {
			if g, ok := r.groups[group]; ok && (g.removed || g.complete && !g.members[user]) {
				delete(gs, group)
				r.pendingDirty[user] = true
			}
		}
	}
	return nil
}

// savePending writes the changed pending records of a round that applied.
func (r *round) savePending(ctx context.Context) error {
	for _, user := range slices.Sorted(maps.Keys(r.pendingDirty)) {
		key := r.keys.pending(user)
		gs := r.pending[user]
		if len(gs) == 0 {
			if err := r.st.DeleteState(ctx, r.tenant, key); err != nil {
				return fmt.Errorf("pull: write pending memberships: %w", err)
			}
			continue
		}
		b, err := json.Marshal(slices.Sorted(maps.Keys(gs)))
		if err != nil {
			return err
		}
		if _, err := r.st.PutState(ctx, r.tenant, key, b, -1); err != nil {
			return fmt.Errorf("pull: write pending memberships: %w", err)
		}
	}
	return nil
}
