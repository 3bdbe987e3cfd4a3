package pull

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/scimbridge/scimbridge/store"
)

// SkipNoDisplayName: a group seen for the first time without a name.
const SkipNoDisplayName = "no displayName"

// applyGroups writes the round's groups, after its users: names, and
// memberships by the users' bridge ids.
func (r *round) applyGroups(ctx context.Context) error {
	r.injectPending()
	p := newPool(r.e.workers())
	for _, obj := range r.groupOrder {
		g := r.groups[obj]
		if err := p.submit(obj, func() error { return r.applyGroup(ctx, obj, g) }); err != nil {
			break
		}
	}
	if err := p.close(); err != nil {
		return err
	}
	if err := r.settlePending(ctx); err != nil {
		return err
	}
	r.groups, r.groupOrder = nil, nil
	return nil
}

func (r *round) applyGroup(ctx context.Context, obj string, g *groupObs) error {
	_, mapped := r.lookup(store.Group, obj)
	switch {
	case g.removed:
		// Groups have no active flag: soft-deleted ones go too (a
		// restore brings them back as a new observation).
		if mapped {
			if g.reason == RemovedChanged {
				r.e.log.Info("pull: deleting a group that was soft-deleted in the source (a restore creates it again)",
					"tenant", r.tenant, "object", obj)
			}
			return r.deleteGroup(ctx, obj)
		}
	case r.scope != nil && !r.scope.provisioned[obj]:
		if mapped { // gone out of scope
			return r.deleteGroup(ctx, obj)
		}
	default:
		return r.upsertGroup(ctx, obj, g)
	}
	return nil
}

// groupAttrs returns stored attributes with the observation's applied.
func groupAttrs(stored map[string]any, obj string, g *groupObs) map[string]any {
	out := make(map[string]any, len(stored)+2+len(g.attrs))
	maps.Copy(out, stored)
	for k, v := range g.attrs {
		if !reserved[k] {
			out[k] = v
		}
	}
	if g.name != "" {
		out["displayName"] = g.name
	}
	out["externalId"] = obj
	return out
}

func (r *round) upsertGroup(ctx context.Context, obj string, g *groupObs) error {
	id, known := r.lookup(store.Group, obj)
	if !known {
		// First contact: the group Entra's push (or an import) created has
		// the object id as externalId; else a unique displayName.
		found, err := r.findOne(ctx, store.Group, "externalId", obj)
		if err != nil {
			return err
		}
		if other := r.objOf(store.Group, found); other != "" && other != obj {
			found = ""
		}
		if found == "" && g.name != "" {
			if found, err = r.findOne(ctx, store.Group, "displayName", g.name); err != nil {
				return err
			}
			if other := r.objOf(store.Group, found); other != "" && other != obj {
				found = ""
			}
		}
		if found != "" {
			err := r.setMap(ctx, store.Group, obj, found)
			switch {
			case err == nil:
				id, known = found, true
			case !errors.Is(err, errTaken): // taken meanwhile by another object: create
				return err
			}
		}
	}
	add, remove := map[string]bool{}, map[string]bool{}
	// Users are not written in this phase: their maps are read unlocked.
	for m, added := range g.members {
		uid, ok := r.umap[m]
		if !ok {
			// Not provisioned (skipped as disabled, say): the membership
			// waits for the user.
			r.pend(m, obj, added)
			continue
		}
		if added && !r.removedU[m] {
			add[uid] = true
		} else {
			remove[uid] = true
		}
	}
	if known {
		err := r.updateGroup(ctx, obj, id, g, add, remove)
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := r.dropMap(ctx, store.Group, obj); err != nil {
			return err
		}
	}
	if g.name == "" {
		r.skip(store.Group, obj, SkipNoDisplayName)
		return nil
	}
	attrs := groupAttrs(nil, obj, g)
	ids := sortedKeys(add, true)
	if r.dry {
		r.count(outCreated)
		changed := changedPaths(nil, attrs)
		if len(ids) > 0 {
			changed = append(changed, "members +"+strconv.Itoa(len(ids)))
		}
		if err := r.setMap(ctx, store.Group, obj, newID(obj)); err != nil {
			return err
		}
		return r.planItem(ctx, PlanItem{Kind: store.Group, ObjectID: obj, Name: g.name, Action: ActionCreate, Changed: changed})
	}
	members := make([]store.Member, len(ids))
	for i, uid := range ids {
		members[i] = store.Member{Value: uid}
	}
	res, err := r.st.Create(r.w(ctx), store.Resource{Ref: groupRef(r.tenant, ""), Attrs: attrs}, members)
	if err != nil {
		return r.writeErr(store.Group, obj, err)
	}
	r.count(outCreated)
	return r.setMap(ctx, store.Group, obj, res.ID)
}

// updateGroup applies a group observation to the stored group id. A
// complete member list removes the members not in it. It returns
// store.ErrNotFound if the group is gone.
func (r *round) updateGroup(ctx context.Context, obj, id string, g *groupObs, add, remove map[string]bool) error {
	ref := groupRef(r.tenant, id)
	if g.complete || r.dry {
		cur, err := r.st.Members(ctx, ref, "", 0)
		if err != nil {
			return err
		}
		isMember := make(map[string]bool, len(cur))
		for _, m := range cur {
			isMember[m.Value] = true
			if g.complete && !add[m.Value] {
				remove[m.Value] = true
			}
		}
		if r.dry { // only what would change
			for uid := range add {
				if isMember[uid] {
					delete(add, uid)
				}
			}
			for uid := range remove {
				if !isMember[uid] {
					delete(remove, uid)
				}
			}
		}
	}
	if r.dry {
		cur, err := r.st.Get(ctx, ref)
		if err != nil {
			return err
		}
		next := groupAttrs(cur.Attrs, obj, g)
		changed := changedPaths(cur.Attrs, next)
		if len(add) > 0 {
			changed = append(changed, "members +"+strconv.Itoa(len(add)))
		}
		if len(remove) > 0 {
			changed = append(changed, "members -"+strconv.Itoa(len(remove)))
		}
		if len(changed) == 0 {
			r.count(outUnchanged)
			return nil
		}
		r.count(outUpdated)
		return r.planItem(ctx, PlanItem{Kind: store.Group, ObjectID: obj, ID: id, Name: store.NameOf(store.Group, next),
			Action: ActionUpdate, Changed: changed})
	}
	delta := store.MemberDelta{Remove: sortedKeys(remove, true)}
	for _, uid := range sortedKeys(add, true) {
		delta.Add = append(delta.Add, store.Member{Value: uid})
	}
	var version int64
	res, err := r.st.Update(r.w(ctx), ref, func(cur *store.Resource) (store.MemberDelta, error) {
		version = cur.Version
		cur.Attrs = groupAttrs(cur.Attrs, obj, g)
		return delta, nil
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return err
		}
		return r.writeErr(store.Group, obj, err)
	}
	if res.Version != version {
		r.count(outUpdated)
	} else {
		r.count(outUnchanged)
	}
	return nil
}

// deleteGroup deletes the group of obj and forgets it.
func (r *round) deleteGroup(ctx context.Context, obj string) error {
	id, _ := r.lookup(store.Group, obj)
	if isNewID(id) {
		return r.dropMap(ctx, store.Group, obj)
	}
	if r.dry {
		cur, err := r.st.Get(ctx, groupRef(r.tenant, id))
		if err == nil {
			r.count(outDeleted)
			if err := r.planItem(ctx, PlanItem{Kind: store.Group, ObjectID: obj, ID: id,
				Name: store.NameOf(store.Group, cur.Attrs), Action: ActionDelete}); err != nil {
				return err
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return r.dropMap(ctx, store.Group, obj)
	}
	err := r.st.Delete(r.w(ctx), groupRef(r.tenant, id), 0)
	switch {
	case err == nil:
		r.count(outDeleted)
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("pull: delete group %s: %w", id, err)
	}
	return r.dropMap(ctx, store.Group, obj)
}

// sweep ends a full round: what this source's map holds and the round did
// not observe is gone from the source (users per onDelete, groups deleted);
// the tenant's other resources are counted as unmatched and never touched.
func (r *round) sweep(ctx context.Context) error {
	var users, groups []string
	for obj := range r.umap {
		if !r.seenU[obj] {
			users = append(users, obj)
		}
	}
	for obj := range r.gmap {
		if !r.seenG[obj] {
			groups = append(groups, obj)
		}
	}
	slices.Sort(users)
	slices.Sort(groups)
	for _, obj := range users {
		if err := r.removeUser(ctx, obj, RemovedDeleted); err != nil {
			return err
		}
	}
	for _, obj := range groups {
		if err := r.deleteGroup(ctx, obj); err != nil {
			return err
		}
	}
	for _, kind := range []store.Kind{store.User, store.Group} {
		if err := r.unmatched(ctx, kind); err != nil {
			return err
		}
	}
	return nil
}

// unmatchedPage is how many resources a dry run lists per query.
const unmatchedPage = 500

// unmatched counts the tenant's resources of kind that this source does
// not map; a dry run lists them in its plan.
func (r *round) unmatched(ctx context.Context, kind store.Kind) error {
	ids := r.uids
	if kind == store.Group {
		ids = r.gids
	}
	if !r.dry {
		page, err := r.st.Query(ctx, r.tenant, kind, store.Query{})
		if err != nil {
			return fmt.Errorf("pull: count %s resources: %w", kind, err)
		}
		mapped := 0
		for id := range ids {
			if !isNewID(id) {
				mapped++
			}
		}
		r.rec.Counts.Unmatched += max(0, page.Total-mapped)
		return nil
	}
	for start := 1; ; start += unmatchedPage {
		page, err := r.st.Query(ctx, r.tenant, kind, store.Query{StartIndex: start, Count: unmatchedPage})
		if err != nil {
			return fmt.Errorf("pull: list %s resources: %w", kind, err)
		}
		for _, res := range page.Resources {
			if _, ok := ids[res.ID]; ok || r.gone[res.ID] {
				continue
			}
			r.rec.Counts.Unmatched++
			if err := r.planItem(ctx, PlanItem{Kind: kind, ID: res.ID, Name: store.NameOf(kind, res.Attrs), Action: ActionUnmatched}); err != nil {
				return err
			}
		}
		if len(page.Resources) < unmatchedPage {
			return nil
		}
	}
}
