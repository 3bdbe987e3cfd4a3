package pull

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/query"
)

// The skip reasons the engine itself gives.
const (
	SkipDisabled     = "disabled"
	SkipOutOfScope   = "out of scope"
	SkipNoUserName   = "no userName"
	SkipNoObjectID   = "no object id"
	SkipUserNameUsed = "userName already belongs to another source object"
	SkipConflict     = "uniqueness conflict"
)

// outcome of one write.
type outcome int

const (
	outNone outcome = iota
	outCreated
	outUpdated
	outDisabled
	outDeleted
	outUnchanged
)

func (r *round) count(o outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := &r.rec.Counts
	switch o {
	case outCreated:
		c.Created++
	case outUpdated:
		c.Updated++
	case outDisabled:
		c.Disabled++
	case outDeleted:
		c.Deleted++
	case outUnchanged:
		c.Unchanged++
	}
}

// managerChange says what a user observation does to the manager.
type managerChange struct {
	set bool   // false: keep the stored manager
	id  string // bridge id; "" removes it
}

// User implements Observer. The user is applied by one of the round's
// workers (the same one for every observation of an object, so that they
// apply in order), which lets the store commit the writes of several users
// together; the first error of a worker aborts the round.
func (r *round) User(ctx context.Context, u User) error {
	r.mu.Lock()
	r.rec.Counts.Users++
	r.progress.Users++
	if r.progress.Users%1000 == 0 {
		r.reportLocked()
	}
	r.mu.Unlock()
	if err := r.readyScope(ctx); err != nil {
		return err
	}
	return r.do(ctx, u.ObjectID, func(ctx context.Context) error { return r.observeUser(ctx, u) })
}

// do runs job on the round's worker for key, or at once outside the
// user stream. A queued job runs with the round's context, not the
// observer call's, which a source may end once the call returned.
func (r *round) do(ctx context.Context, key string, job func(context.Context) error) error {
	if r.pool == nil {
		return job(ctx)
	}
	rctx := r.ctx
	return r.pool.submit(key, func() error { return job(rctx) })
}

func (r *round) observeUser(ctx context.Context, u User) error {
	if u.ObjectID == "" {
		r.skip(store.User, "", SkipNoObjectID)
		return nil
	}
	r.mu.Lock()
	r.seenU[u.ObjectID] = true
	delete(r.removedU, u.ObjectID)
	r.mu.Unlock()
	name, _ := u.Attrs["userName"].(string)
	if strings.TrimSpace(name) == "" {
		r.skip(store.User, u.ObjectID, SkipNoUserName)
		return nil
	}
	if r.scope != nil && !r.scope.userIn(u.ObjectID, name) {
		if id, ok := r.lookup(store.User, u.ObjectID); ok {
			return r.leave(ctx, u.ObjectID, id)
		}
		r.skip(store.User, u.ObjectID, SkipOutOfScope)
		return nil
	}
	return r.applyUser(ctx, u, name)
}

// applyUser creates or updates the user of an observation.
func (r *round) applyUser(ctx context.Context, u User, name string) error {
	mgr := managerChange{}
	var later *mgrRef
	id, known := r.lookup(store.User, u.ObjectID)
	if u.Manager != nil {
		switch mid, ok := r.lookup(store.User, *u.Manager); {
		case *u.Manager == "":
			mgr = managerChange{set: true}
		case ok:
			mgr = managerChange{set: true, id: mid}
		case r.dry || known && !isNewID(id):
			// A stored user keeps its manager until the end of the round:
			// its manager is mostly one that was never provisioned (a
			// disabled user), and a reserved id would write a dangling
			// manager and take it back again in every full round.
			later = &mgrRef{userObj: u.ObjectID, mgrObj: *u.Manager}
		default:
			// The manager comes later in the round (or never): point at
			// the id it will be created with, so that the user is written
			// once; the end of the round repairs the few that are not.
			rid := r.reserveID(*u.Manager)
			mgr = managerChange{set: true, id: rid}
			later = &mgrRef{userObj: u.ObjectID, mgrObj: *u.Manager, reserved: rid}
		}
	}
	if known && !isNewID(id) {
		o, err := r.updateUser(ctx, u, id, mgr)
		if errors.Is(err, store.ErrNotFound) {
			// Deleted behind the engine's back: first contact again.
			if err := r.dropMap(ctx, store.User, u.ObjectID); err != nil {
				return err
			}
			known = false
		} else if err != nil {
			return r.writeErr(store.User, u.ObjectID, err)
		} else {
			r.deferManager(later, o)
			return nil
		}
	}
	if known { // a dry run's placeholder: the user was already planned
		r.deferManager(later, outCreated)
		return nil
	}
	// First contact: a resource of the same userName (pushed, imported,
	// or created by the admin) becomes this object's. When the tenant had
	// no user this source does not map, the store's userName uniqueness
	// answers that question in the create itself.
	if r.dry || r.unmappedUsers || !u.Enabled && !r.req.Policy.CreateDisabledUsers {
		done, err := r.matchUser(ctx, u, name, mgr, later)
		if done || err != nil {
			return err
		}
	}
	if !u.Enabled && !r.req.Policy.CreateDisabledUsers {
		r.skip(store.User, u.ObjectID, SkipDisabled)
		return nil
	}
	attrs := mergeUser(nil, u, mgr)
	if r.dry {
		r.count(outCreated)
		if err := r.setMap(ctx, store.User, u.ObjectID, newID(u.ObjectID)); err != nil {
			return err
		}
		r.deferManager(later, outCreated)
		return r.planItem(ctx, PlanItem{Kind: store.User, ObjectID: u.ObjectID, Name: name, Action: ActionCreate,
			Changed: changedPaths(nil, attrs)})
	}
	rid := r.reserveID(u.ObjectID)
	res, err := r.st.Create(r.w(ctx), store.Resource{Ref: userRef(r.tenant, rid), Attrs: attrs}, nil)
	var ce *store.ConflictError
	if errors.As(err, &ce) && ce.Attribute == "userName" && !r.unmappedUsers {
		// Pushed (or pulled by another object) meanwhile: match it.
		done, err := r.matchUser(ctx, u, name, mgr, later)
		if done || err != nil {
			return err
		}
	}
	if err != nil {
		return r.writeErr(store.User, u.ObjectID, err)
	}
	if err := r.setMap(ctx, store.User, u.ObjectID, res.ID); err != nil {
		if errors.Is(err, errTaken) { // cannot happen for a new id
			r.skip(store.User, u.ObjectID, SkipUserNameUsed)
			return nil
		}
		return err
	}
	r.count(outCreated)
	r.deferManager(later, outCreated)
	return nil
}

// matchUser looks for an existing user of the same userName and, if there
// is one, makes it this object's and updates it (done).
func (r *round) matchUser(ctx context.Context, u User, name string, mgr managerChange, later *mgrRef) (bool, error) {
	found, err := r.findOne(ctx, store.User, "userName", name)
	if err != nil || found == "" {
		return false, err
	}
	if err := r.setMap(ctx, store.User, u.ObjectID, found); err != nil {
		if errors.Is(err, errTaken) {
			r.skip(store.User, u.ObjectID, SkipUserNameUsed)
			return true, nil
		}
		return true, err
	}
	o, err := r.updateUser(ctx, u, found, mgr)
	if err != nil {
		return true, r.writeErr(store.User, u.ObjectID, err)
	}
	r.deferManager(later, o)
	return true, nil
}

// reserveID returns the id a user of obj is created with if it is created
// in this round: the same for the users naming it as manager before it
// comes and for its own create.
func (r *round) reserveID(obj string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, ok := r.umap[obj]; ok {
		return id
	}
	id, ok := r.reserved[obj]
	if !ok {
		id = uuid.NewString()
		r.reserved[obj] = id
	}
	return id
}

func (r *round) deferManager(m *mgrRef, o outcome) {
	if m == nil {
		return
	}
	m.unchanged = o == outUnchanged
	r.mu.Lock()
	r.mgrLater = append(r.mgrLater, *m)
	r.mu.Unlock()
}

// writeErr turns a uniqueness conflict into a skip (two source objects
// that map to one userName); every other store error aborts the round.
func (r *round) writeErr(kind store.Kind, obj string, err error) error {
	if errors.Is(err, store.ErrConflict) {
		r.skip(kind, obj, SkipConflict)
		r.addError(fmt.Sprintf("%s %s: %v", kind, obj, err))
		return nil
	}
	return fmt.Errorf("pull: write %s %s: %w", kind, obj, err)
}

// updateUser replaces the mapped attributes of the stored user id.
func (r *round) updateUser(ctx context.Context, u User, id string, mgr managerChange) (outcome, error) {
	return r.modifyUser(ctx, u.ObjectID, id, func(a map[string]any) map[string]any { return mergeUser(a, u, mgr) })
}

// modifyUser writes fn's change to a stored user (or plans it) and counts it.
func (r *round) modifyUser(ctx context.Context, obj, id string, fn func(map[string]any) map[string]any) (outcome, error) {
	ref := userRef(r.tenant, id)
	if r.dry {
		cur, err := r.st.Get(ctx, ref)
		if err != nil {
			return outNone, err
		}
		next := fn(maps.Clone(cur.Attrs))
		o := classify(cur.Attrs, next, true)
		r.count(o)
		if o == outUnchanged {
			return o, nil
		}
		action := ActionUpdate
		if o == outDisabled {
			action = ActionDisable
		}
		return o, r.planItem(ctx, PlanItem{Kind: store.User, ObjectID: obj, ID: id,
			Name: store.NameOf(store.User, next), Action: action, Changed: changedPaths(cur.Attrs, next)})
	}
	var before map[string]any
	var version int64
	res, err := r.st.Update(r.w(ctx), ref, func(cur *store.Resource) (store.MemberDelta, error) {
		before, version = cur.Attrs, cur.Version
		cur.Attrs = fn(maps.Clone(cur.Attrs))
		return store.MemberDelta{}, nil
	})
	if err != nil {
		return outNone, err
	}
	o := classify(before, res.Attrs, res.Version != version)
	r.count(o)
	return o, nil
}

// classify says what a change of a user's attributes counts as.
func classify(old, new map[string]any, written bool) outcome {
	if !written || jsonEqual(old, new) {
		return outUnchanged
	}
	if active(old) && !active(new) {
		return outDisabled
	}
	return outUpdated
}

func active(a map[string]any) bool {
	v, ok := a["active"].(bool)
	return !ok || v // absent: active (RFC 7643 leaves it to the provider; the bridge treats it as active)
}

func jsonEqual(a, b map[string]any) bool {
	return string(marshalAttrs(a)) == string(marshalAttrs(b))
}

// mergeUser returns stored attributes with the mapped ones replaced by the
// observation's: attributes the source does not map are kept, mapped ones
// the source did not set are removed.
func mergeUser(stored map[string]any, u User, mgr managerChange) map[string]any {
	out := make(map[string]any, len(stored)+len(u.Attrs)+1)
	maps.Copy(out, stored)
	ext := map[string]any{}
	if e, ok := out[EnterpriseURN].(map[string]any); ok {
		ext = maps.Clone(e)
	}
	for _, a := range MappedUserAttrs {
		if sub, ok := strings.CutPrefix(a, EnterpriseURN+":"); ok {
			if sub != "manager" || mgr.set {
				delete(ext, sub)
			}
			continue
		}
		delete(out, a)
	}
	for k, v := range u.Attrs {
		if reserved[k] {
			continue // the store's, never a source's
		}
		if k == EnterpriseURN {
			if em, ok := v.(map[string]any); ok {
				for sk, sv := range em {
					if sk != "manager" {
						ext[sk] = sv
					}
				}
			}
			continue
		}
		out[k] = v
	}
	out["active"] = u.Enabled
	if mgr.set && mgr.id != "" {
		ext["manager"] = map[string]any{"value": mgr.id}
	}
	if len(ext) > 0 {
		out[EnterpriseURN] = ext
	} else {
		delete(out, EnterpriseURN)
	}
	return out
}

// reserved are the attribute names a source's Attrs may not set: the
// store keeps them outside Attrs.
var reserved = map[string]bool{"id": true, "meta": true, "schemas": true, "members": true, "groups": true}

// setManager sets (id != "") or removes a user's manager.
func setManager(a map[string]any, id string) map[string]any {
	ext := map[string]any{}
	if e, ok := a[EnterpriseURN].(map[string]any); ok {
		ext = maps.Clone(e)
	}
	if id == "" {
		delete(ext, "manager")
	} else {
		ext["manager"] = map[string]any{"value": id}
	}
	if len(ext) > 0 {
		a[EnterpriseURN] = ext
	} else {
		delete(a, EnterpriseURN)
	}
	return a
}

// resolveManagers sets the managers that were observed before their
// manager was: the manager is mapped now, or was not provisioned (then
// the user has none, as with Entra's push).
func (r *round) resolveManagers(ctx context.Context) error {
	for _, m := range r.mgrLater {
		id, ok := r.umap[m.userObj]
		if !ok || r.removedU[m.userObj] {
			continue
		}
		mid := r.umap[m.mgrObj]
		if m.reserved != "" && mid == m.reserved {
			continue // created with the reserved id: already right
		}
		if r.dry && isNewID(id) {
			continue // planned as a create with its manager
		}
		o, err := r.modifyUser(ctx, m.userObj, id, func(a map[string]any) map[string]any { return setManager(a, mid) })
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return r.writeErr(store.User, m.userObj, err)
		}
		// One user, one count: the user's own write counted already, so
		// the fix-up's count is taken back, and an unchanged user that
		// changes now moves from unchanged to updated.
		c := &r.rec.Counts
		switch o {
		case outUnchanged:
			c.Unchanged--
		case outUpdated:
			c.Updated--
		case outDisabled:
			c.Disabled--
		}
		if o != outUnchanged && m.unchanged {
			c.Unchanged--
			c.Updated++
		}
	}
	r.mgrLater = nil
	return nil
}

// removeUser applies a user's removal from the source.
func (r *round) removeUser(ctx context.Context, obj string, reason RemovedReason) error {
	id, ok := r.lookup(store.User, obj)
	if !ok {
		return nil
	}
	if reason == RemovedDeleted && r.req.Policy.OnDelete == OnDeleteDelete {
		return r.deleteUser(ctx, obj, id)
	}
	return r.leave(ctx, obj, id)
}

// leave disables a user and takes it out of every group: a user removed
// from the source or gone out of scope.
func (r *round) leave(ctx context.Context, obj, id string) error {
	if isNewID(id) {
		return nil
	}
	_, err := r.modifyUser(ctx, obj, id, func(a map[string]any) map[string]any {
		a["active"] = false
		return a
	})
	if errors.Is(err, store.ErrNotFound) {
		return r.dropMap(ctx, store.User, obj)
	}
	if err != nil {
		return r.writeErr(store.User, obj, err)
	}
	r.setRemoved(obj)
	groups, err := r.st.MemberOf(ctx, userRef(r.tenant, id))
	if err != nil {
		return fmt.Errorf("pull: groups of user %s: %w", id, err)
	}
	for _, g := range groups {
		if err := r.planItem(ctx, PlanItem{Kind: store.Group, ObjectID: r.objOf(store.Group, g.Value), ID: g.Value, Name: g.Display,
			Action: ActionUpdate, Changed: []string{"members -1"}}); err != nil {
			return err
		}
		if r.dry {
			continue
		}
		_, err := r.st.Update(r.w(ctx), groupRef(r.tenant, g.Value), func(*store.Resource) (store.MemberDelta, error) {
			return store.MemberDelta{Remove: []string{id}}, nil
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("pull: remove user %s from group %s: %w", id, g.Value, err)
		}
	}
	return nil
}

// deleteUser deletes a user (onDelete: delete) and forgets it.
func (r *round) deleteUser(ctx context.Context, obj, id string) error {
	r.setRemoved(obj)
	if isNewID(id) {
		return nil
	}
	if r.dry {
		cur, err := r.st.Get(ctx, userRef(r.tenant, id))
		if errors.Is(err, store.ErrNotFound) {
			return r.dropMap(ctx, store.User, obj)
		}
		if err != nil {
			return err
		}
		r.count(outDeleted)
		if err := r.planItem(ctx, PlanItem{Kind: store.User, ObjectID: obj, ID: id, Name: store.NameOf(store.User, cur.Attrs),
			Action: ActionDelete}); err != nil {
			return err
		}
		return r.dropMap(ctx, store.User, obj)
	}
	err := r.st.Delete(r.w(ctx), userRef(r.tenant, id), 0)
	switch {
	case err == nil:
		r.count(outDeleted)
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("pull: delete user %s: %w", id, err)
	}
	return r.dropMap(ctx, store.User, obj)
}

// findOne returns the id of the one resource of kind whose attr equals
// value ("" if none, or if several do). Resources this source already
// maps are candidates too; callers check the map.
func (r *round) findOne(ctx context.Context, kind store.Kind, attr, value string) (string, error) {
	rt := r.reg.User
	if kind == store.Group {
		rt = r.reg.Group
	}
	lit, err := json.Marshal(value) // a JSON string is a SCIM filter string
	if err != nil {
		return "", err
	}
	f, err := query.Parse(rt, attr+" eq "+string(lit))
	if err != nil {
		return "", fmt.Errorf("pull: match %s by %s: %w", kind, attr, err)
	}
	page, err := r.st.Query(ctx, r.tenant, kind, store.Query{Filter: f, Count: 2})
	if err != nil {
		return "", fmt.Errorf("pull: match %s by %s: %w", kind, attr, err)
	}
	if len(page.Resources) != 1 {
		return "", nil
	}
	return page.Resources[0].ID, nil
}

// sortedKeys returns m's keys whose value is want, sorted.
func sortedKeys(m map[string]bool, want bool) []string {
	var out []string
	for k, v := range m {
		if v == want {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
