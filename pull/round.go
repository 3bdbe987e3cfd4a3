package pull

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
)

// round is one run's pass over the source: it is the Observer the source
// streams to, and applies users as they come. Groups (and their member
// changes) are kept until the user stream is over, then applied, so that
// members resolve to the users of the round.
//
// Users are applied by a pool of workers while the source streams; mu
// guards what they share (the maps, the record, the plan). The steps after
// the stream run on one goroutine.
type round struct {
	mu     sync.Mutex
	pool   *pool
	ctx    context.Context // the round's, for the pool's jobs
	e      *Engine
	st     store.Store
	req    RunRequest
	rec    *RunRecord
	keys   sourceKeys
	tenant string
	origin store.Origin
	dry    bool
	reg    *schemas.Registry
	plan   *planWriter
	res    Result
	full   bool // known to be a full round before reading (first round, Full, scope change)

	// The identity map of this source, both ways. A dry run puts
	// placeholder ids (newID) for what it would create.
	umap, gmap map[string]string // object id -> bridge id
	uids, gids map[string]string // bridge id -> object id

	seenU, seenG map[string]bool // observed this round (also when skipped or removed)
	gone         map[string]bool // a dry run's deleted ids: not unmatched
	removedU     map[string]bool // users removed this round: never added to a group
	groups       map[string]*groupObs
	groupOrder   []string
	mgrLater     []mgrRef
	reserved     map[string]string          // user object id -> the id to create it with (managers seen first)
	pending      map[string]map[string]bool // user object id -> group object ids (pending.go)
	pendingDirty map[string]bool
	// unmappedUsers: the tenant held users this source does not map when
	// the round started, so a new object must be matched by userName.
	unmappedUsers bool

	scope      *scopeState // nil without a scope
	scopeReady bool
	progress   Progress
}

// groupObs is the merged observation of one group in a round.
type groupObs struct {
	name     string
	attrs    map[string]any
	complete bool
	members  map[string]bool // user object id -> added (true) or removed (false)
	removed  bool
	reason   RemovedReason
}

// mgrRef is a manager to resolve at the end of the round.
type mgrRef struct {
	userObj, mgrObj string
	reserved        string // the manager id the user was written with, if reserved
	unchanged       bool   // the user's write counted as unchanged
}

// newPrefix marks a dry run's placeholder ids.
const newPrefix = "new:"

func newID(obj string) string         { return newPrefix + obj }
func isNewID(id string) bool          { return strings.HasPrefix(id, newPrefix) }
func userRef(t, id string) store.Ref  { return store.Ref{Tenant: t, Kind: store.User, ID: id} }
func groupRef(t, id string) store.Ref { return store.Ref{Tenant: t, Kind: store.Group, ID: id} }

func newRound(e *Engine, req RunRequest, rec *RunRecord) *round {
	kind := req.Source.Kind()
	return &round{
		e: e, st: e.st, req: req, rec: rec, keys: keysFor(kind), tenant: req.Tenant,
		origin: store.Origin{Source: kind, RunID: rec.ID},
		dry:    req.DryRun,
		plan:   &planWriter{st: e.st, tenant: req.Tenant, runID: rec.ID},
		umap:   map[string]string{}, gmap: map[string]string{},
		uids: map[string]string{}, gids: map[string]string{},
		seenU: map[string]bool{}, seenG: map[string]bool{}, removedU: map[string]bool{},
		groups: map[string]*groupObs{}, gone: map[string]bool{}, reserved: map[string]string{},
		pending: map[string]map[string]bool{}, pendingDirty: map[string]bool{},
	}
}

// w returns ctx carrying the round's origin, for writes.
func (r *round) w(ctx context.Context) context.Context { return store.WithOrigin(ctx, r.origin) }

func (r *round) run(ctx context.Context) error {
	reg, err := r.e.schemas()
	if err != nil {
		return fmt.Errorf("pull: load schemas: %w", err)
	}
	r.reg = reg
	if err := r.loadMap(ctx); err != nil {
		return err
	}
	if err := r.loadPending(ctx); err != nil {
		return err
	}
	var checkpoint []byte
	if !r.req.Full {
		ent, err := r.st.GetState(ctx, r.tenant, r.keys.checkpoint())
		switch {
		case err == nil:
			checkpoint = ent.Value
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("pull: read the checkpoint: %w", err)
		}
	}
	forceFull, err := r.loadScope(ctx)
	if err != nil {
		return err
	}
	if forceFull {
		r.e.log.Info("pull: the scope changed since the last round: full round", "tenant", r.tenant)
		checkpoint = nil
	}
	r.full = r.req.Full || checkpoint == nil
	if r.full {
		r.rec.Full = true
	}
	if err := r.countUnmapped(ctx); err != nil {
		return err
	}
	r.ctx, r.pool = ctx, newPool(r.e.workers())
	began := time.Now()
	res, err := r.req.Source.Read(ctx, ReadRequest{Checkpoint: checkpoint, Full: r.full}, r)
	perr := r.pool.close()
	r.pool = nil
	if err != nil {
		return fmt.Errorf("pull: read %s: %w", r.req.Source.Kind(), err)
	}
	if perr != nil {
		return fmt.Errorf("pull: read %s: %w", r.req.Source.Kind(), perr)
	}
	r.res = res
	if r.full {
		r.res.Full = true
	}
	r.e.log.Debug("pull: stream applied", "tenant", r.tenant, "run", r.rec.ID, "took", time.Since(began))
	if err := r.readyScope(ctx); err != nil {
		return err
	}
	if err := r.rescope(ctx); err != nil {
		return err
	}
	if err := r.finishScope(ctx); err != nil {
		return err
	}
	began = time.Now()
	if err := r.applyGroups(ctx); err != nil {
		return err
	}
	r.e.log.Debug("pull: groups applied", "tenant", r.tenant, "run", r.rec.ID, "took", time.Since(began))
	began, late := time.Now(), len(r.mgrLater)
	if err := r.resolveManagers(ctx); err != nil {
		return err
	}
	r.e.log.Debug("pull: managers resolved", "tenant", r.tenant, "run", r.rec.ID, "took", time.Since(began), "late", late)
	if r.res.Full {
		began = time.Now()
		if err := r.sweep(ctx); err != nil {
			return err
		}
		r.e.log.Debug("pull: swept", "tenant", r.tenant, "run", r.rec.ID, "took", time.Since(began))
	}
	r.report()
	if err := r.plan.flush(ctx); err != nil {
		return err
	}
	if r.dry {
		return nil
	}
	if err := r.saveScope(ctx); err != nil {
		return err
	}
	if err := r.savePending(ctx); err != nil {
		return err
	}
	if _, err := r.st.PutState(ctx, r.tenant, r.keys.checkpoint(), r.res.Checkpoint, -1); err != nil {
		return fmt.Errorf("pull: store the checkpoint: %w", err)
	}
	return nil
}

// loadMap reads the source's identity map. It holds two ids per object of
// the source, not the objects: about 200 bytes each, 20 MB for 100,000.
func (r *round) loadMap(ctx context.Context) error {
	ents, err := r.st.ListState(ctx, r.tenant, r.keys.mapPrefix())
	if err != nil {
		return fmt.Errorf("pull: read the identity map: %w", err)
	}
	up, gp := r.keys.userMap(""), r.keys.groupMap("")
	for _, ent := range ents {
		id := string(ent.Value)
		if obj, ok := strings.CutPrefix(ent.Key, up); ok {
			r.umap[obj], r.uids[id] = id, obj
		} else if obj, ok := strings.CutPrefix(ent.Key, gp); ok {
			r.gmap[obj], r.gids[id] = id, obj
		}
	}
	return nil
}

// errTaken: the resource is already the identity of another object of
// this source.
var errTaken = errors.New("pull: the resource belongs to another source object")

// lookup returns the bridge id of a source object.
func (r *round) lookup(kind store.Kind, obj string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if kind == store.Group {
		id, ok := r.gmap[obj]
		return id, ok
	}
	id, ok := r.umap[obj]
	return id, ok
}

// objOf returns the source object of a bridge id ("" if none).
func (r *round) objOf(kind store.Kind, id string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if kind == store.Group {
		return r.gids[id]
	}
	return r.uids[id]
}

func (r *round) setRemoved(obj string) {
	r.mu.Lock()
	r.removedU[obj] = true
	r.mu.Unlock()
}

// setMap records obj -> id in the identity map (in memory; in the store
// unless dry). errTaken if id is another object's.
func (r *round) setMap(ctx context.Context, kind store.Kind, obj, id string) error {
	r.mu.Lock()
	fwd, rev, key := r.umap, r.uids, r.keys.userMap(obj)
	if kind == store.Group {
		fwd, rev, key = r.gmap, r.gids, r.keys.groupMap(obj)
	}
	if other, ok := rev[id]; ok && other != obj {
		r.mu.Unlock()
		return errTaken
	}
	if old, ok := fwd[obj]; ok {
		delete(rev, old)
	}
	fwd[obj], rev[id] = id, obj
	if kind == store.User {
		delete(r.reserved, obj)
	}
	r.mu.Unlock()
	if r.dry || isNewID(id) {
		return nil
	}
	if _, err := r.st.PutState(ctx, r.tenant, key, []byte(id), -1); err != nil {
		return fmt.Errorf("pull: write the identity map: %w", err)
	}
	return nil
}

// dropMap forgets obj (its resource is gone).
func (r *round) dropMap(ctx context.Context, kind store.Kind, obj string) error {
	r.mu.Lock()
	fwd, rev, key := r.umap, r.uids, r.keys.userMap(obj)
	if kind == store.Group {
		fwd, rev, key = r.gmap, r.gids, r.keys.groupMap(obj)
	}
	if id, ok := fwd[obj]; ok {
		delete(rev, id)
		delete(fwd, obj)
		if r.dry {
			r.gone[id] = true
		}
	}
	r.mu.Unlock()
	if r.dry {
		return nil
	}
	if err := r.st.DeleteState(ctx, r.tenant, key); err != nil {
		return fmt.Errorf("pull: write the identity map: %w", err)
	}
	return nil
}

// countUnmapped finds out whether the tenant holds users this source does
// not map (then new objects are matched by userName before a create).
func (r *round) countUnmapped(ctx context.Context) error {
	page, err := r.st.Query(ctx, r.tenant, store.User, store.Query{})
	if err != nil {
		return fmt.Errorf("pull: count users: %w", err)
	}
	r.unmappedUsers = page.Total > len(r.umap)
	return nil
}

// Page implements Observer.
func (r *round) Page(ctx context.Context, kind store.Kind) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rec.Counts.Pages++
	r.progress.Pages++
	r.reportLocked()
}

func (r *round) report() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reportLocked()
}

// reportLocked calls the progress function (with mu held, so that it is
// never called concurrently).
func (r *round) reportLocked() {
	if r.req.Progress != nil {
		r.req.Progress(r.progress)
	}
}

// Skip implements Observer.
func (r *round) Skip(ctx context.Context, s Skip) {
	r.skip(s.Kind, s.ObjectID, s.Reason)
}

func (r *round) skip(kind store.Kind, obj, reason string) {
	r.mu.Lock()
	r.rec.skip(reason)
	r.mu.Unlock()
	r.e.log.Info("pull: skipped", "tenant", r.tenant, "kind", kind, "object", obj, "reason", reason)
}

// Removed implements Observer.
func (r *round) Removed(ctx context.Context, rm Removal) error {
	switch rm.Kind {
	case store.Group:
		r.mu.Lock()
		defer r.mu.Unlock()
		r.seenG[rm.ObjectID] = true
		g := r.group(rm.ObjectID)
		*g = groupObs{removed: true, reason: rm.Reason}
		if r.scope != nil {
			r.scope.removeGroup(rm.ObjectID)
		}
		return nil
	case store.User:
		return r.do(ctx, rm.ObjectID, func(ctx context.Context) error {
			r.mu.Lock()
			r.seenU[rm.ObjectID] = true
			r.removedU[rm.ObjectID] = true
			r.mu.Unlock()
			return r.removeUser(ctx, rm.ObjectID, rm.Reason)
		})
	default:
		r.skip(rm.Kind, rm.ObjectID, fmt.Sprintf("removal of unknown kind %q", rm.Kind))
		return nil
	}
}

// Group implements Observer: it merges the observation into the round's
// groups, applied once the users are.
func (r *round) Group(ctx context.Context, o Group) error {
	if o.ObjectID == "" {
		r.skip(store.Group, "", "no object id")
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rec.Counts.Groups++
	r.progress.Groups++
	r.rec.Counts.Memberships += len(o.Added)
	r.progress.Memberships += len(o.Added)
	r.seenG[o.ObjectID] = true
	g := r.group(o.ObjectID)
	if g.removed {
		*g = groupObs{}
	}
	if o.DisplayName != "" {
		g.name = o.DisplayName
	}
	if o.Attrs != nil {
		g.attrs = o.Attrs
	}
	if o.MembersComplete && !g.complete {
		// The first complete observation: the member list starts over
		// (earlier change observations of the round are superseded).
		g.complete = true
		clear(g.members)
	}
	if g.members == nil {
		g.members = map[string]bool{}
	}
	for _, m := range o.Added {
		g.members[m] = true
	}
	for _, m := range o.Removed {
		g.members[m] = false
	}
	if r.scope != nil {
		r.scope.observeGroup(o)
	}
	return nil
}

func (r *round) group(obj string) *groupObs {
	g, ok := r.groups[obj]
	if !ok {
		g = &groupObs{}
		r.groups[obj] = g
		r.groupOrder = append(r.groupOrder, obj)
	}
	return g
}

func (r *round) addError(msg string) {
	r.mu.Lock()
	r.rec.addError(msg)
	r.mu.Unlock()
}

// planItem adds a dry run's item.
func (r *round) planItem(ctx context.Context, it PlanItem) error {
	if !r.dry {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if isNewID(it.ID) {
		it.ID = ""
	}
	return r.plan.add(ctx, it)
}

// marshalAttrs encodes attributes as the store does, for ChangedAttrs.
func marshalAttrs(a map[string]any) []byte {
	b, err := json.Marshal(a)
	if err != nil {
		return nil
	}
	return b
}

// changedPaths lists the attribute paths that differ between two versions.
func changedPaths(old, new map[string]any) []string {
	cs, err := store.ChangedAttrs(marshalAttrs(old), marshalAttrs(new))
	if err != nil {
		return nil
	}
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Path
	}
	return out
}
