package pull

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/scimbridge/scimbridge/store"
)

// Scope by groups is decided from the group observations, which a source
// emits before its users. An incremental round sees only the groups that
// changed, so the engine keeps what it needs between rounds in state
// records: every group's name (to resolve scope names), and the user
// members and nested groups of the groups that can put users in scope
// (the scoped ones; every group with Nested, since a nested group may come
// under a scoped one later). A changed scope definition makes the next
// round a full one, which observes every group's members afresh.

// scopeDefRec is the scope the stored scope records were computed for.
type scopeDefRec struct {
	Groups      []string `json:"groups"`
	Users       []string `json:"users"`
	Nested      bool     `json:"nested"`
	Closure     []string `json:"closure"`     // the groups whose members were in scope
	Provisioned []string `json:"provisioned"` // the scoped groups
}

// scopeGroupRec is one group's scope record. Its user members are in
// Chunks records of at most memberChunk ids each (a scoped group may be
// the whole directory; no state record may grow with it).
type scopeGroupRec struct {
	Name   string   `json:"name"`
	Nested []string `json:"nested,omitempty"`
	Chunks int      `json:"chunks,omitempty"`
}

// memberChunk is how many member ids one scope record holds.
const memberChunk = 5000

type scopeGroup struct {
	name    string
	members map[string]bool
	nested  map[string]bool
}

// scopeState is the scope of a round.
type scopeState struct {
	def     Scope
	users   map[string]bool // Scope.Users, lower-cased
	groups  map[string]*scopeGroup
	reset   map[string]bool // groups whose complete member list this round has started
	chunks  map[string]int  // member records of each group, as stored
	dirty   map[string]bool
	deleted map[string]bool

	oldIn       map[string]bool // users in scope by group before the round
	in          map[string]bool // and after
	provisioned map[string]bool // the scoped groups
	closure     map[string]bool
}

// loadScope reads the scope records. It reports whether the scope changed
// since they were written (then the round must be full).
func (r *round) loadScope(ctx context.Context) (bool, error) {
	var def *scopeDefRec
	ent, err := r.st.GetState(ctx, r.tenant, r.keys.scopeDef())
	switch {
	case err == nil:
		def = &scopeDefRec{}
		if err := json.Unmarshal(ent.Value, def); err != nil {
			return false, fmt.Errorf("pull: decode the scope record: %w", err)
		}
	case !errors.Is(err, store.ErrNotFound):
		return false, fmt.Errorf("pull: read the scope record: %w", err)
	}
	sc := r.req.Policy.Scope
	if sc == nil {
		return def != nil, nil
	}
	s := &scopeState{
		def: *sc, users: map[string]bool{}, groups: map[string]*scopeGroup{},
		reset: map[string]bool{}, chunks: map[string]int{}, dirty: map[string]bool{}, deleted: map[string]bool{},
		oldIn: map[string]bool{}, in: map[string]bool{}, provisioned: map[string]bool{}, closure: map[string]bool{},
	}
	for _, u := range sc.Users {
		s.users[strings.ToLower(u)] = true
	}
	ents, err := r.st.ListState(ctx, r.tenant, r.keys.scopeGroupPrefix())
	if err != nil {
		return false, fmt.Errorf("pull: read the scope records: %w", err)
	}
	for _, ent := range ents {
		var rec scopeGroupRec
		if err := json.Unmarshal(ent.Value, &rec); err != nil {
			return false, fmt.Errorf("pull: decode scope record %s: %w", ent.Key, err)
		}
		obj := strings.TrimPrefix(ent.Key, r.keys.scopeGroupPrefix())
		s.groups[obj] = &scopeGroup{name: rec.Name, members: map[string]bool{}, nested: setOf(rec.Nested)}
		s.chunks[obj] = rec.Chunks
	}
	ents, err = r.st.ListState(ctx, r.tenant, r.keys.scopeMemberPrefix())
	if err != nil {
		return false, fmt.Errorf("pull: read the scope records: %w", err)
	}
	for _, ent := range ents {
		rest := strings.TrimPrefix(ent.Key, r.keys.scopeMemberPrefix())
		obj := rest[:max(0, strings.LastIndexByte(rest, '/'))]
		g, ok := s.groups[obj]
		if !ok {
			continue // a leftover of a group whose record is gone
		}
		var ids []string
		if err := json.Unmarshal(ent.Value, &ids); err != nil {
			return false, fmt.Errorf("pull: decode scope record %s: %w", ent.Key, err)
		}
		for _, id := range ids {
			g.members[id] = true
		}
	}
	r.scope = s
	if def == nil {
		return true, nil
	}
	for _, obj := range def.Closure {
		if g, ok := s.groups[obj]; ok {
			maps.Copy(s.oldIn, g.members)
		}
	}
	changed := !slices.Equal(def.Groups, sc.Groups) || !slices.Equal(def.Users, sc.Users) || def.Nested != sc.Nested
	return changed, nil
}

func setOf(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

func (s *scopeState) observeGroup(o Group) {
	g, ok := s.groups[o.ObjectID]
	if !ok {
		g = &scopeGroup{members: map[string]bool{}, nested: map[string]bool{}}
		s.groups[o.ObjectID] = g
	}
	s.dirty[o.ObjectID] = true
	delete(s.deleted, o.ObjectID)
	if o.DisplayName != "" {
		g.name = o.DisplayName
	}
	if o.MembersComplete && !s.reset[o.ObjectID] {
		s.reset[o.ObjectID] = true
		clear(g.members)
		clear(g.nested)
	}
	for _, m := range o.Added {
		g.members[m] = true
	}
	for _, m := range o.Removed {
		delete(g.members, m)
	}
	for _, n := range o.Nested {
		g.nested[n] = true
	}
	for _, n := range o.NestedRemoved {
		delete(g.nested, n)
	}
}

func (s *scopeState) removeGroup(obj string) {
	delete(s.groups, obj)
	delete(s.dirty, obj)
	s.deleted[obj] = true
}

// userIn reports whether a user is in scope.
func (s *scopeState) userIn(obj, userName string) bool {
	return s.in[obj] || s.users[strings.ToLower(obj)] || s.users[strings.ToLower(userName)]
}

// readyScope decides the scope once the round's groups are known: at its
// first user, or at its end.
func (r *round) readyScope(ctx context.Context) error {
	if r.scope == nil || r.scopeReady {
		return nil
	}
	r.scopeReady = true
	return r.resolveScope()
}

// resolveScope computes the scoped groups, their closure and the users in
// scope from the groups known now.
func (r *round) resolveScope() error {
	s := r.scope
	if r.full || r.res.Full { // every group was observed: the others are gone
		for obj := range s.groups {
			if !r.seenG[obj] {
				s.removeGroup(obj)
			}
		}
	}
	clear(s.provisioned)
	clear(s.closure)
	clear(s.in)
	for _, want := range s.def.Groups {
		if _, ok := s.groups[want]; ok {
			s.provisioned[want] = true
			continue
		}
		var ids []string
		for obj, g := range s.groups {
			if strings.EqualFold(g.name, want) {
				ids = append(ids, obj)
			}
		}
		slices.Sort(ids)
		switch len(ids) {
		case 0:
			r.addError(fmt.Sprintf("scope group %q matches no group", want))
			r.e.log.Warn("pull: a scope group matches no group", "tenant", r.tenant, "group", want)
		case 1:
			s.provisioned[ids[0]] = true
		default:
			return fmt.Errorf("pull: scope group %q matches %d groups (ids %s): name it by object id",
				want, len(ids), strings.Join(ids, ", "))
		}
	}
	queue := slices.Collect(maps.Keys(s.provisioned))
	for len(queue) > 0 {
		obj := queue[0]
		queue = queue[1:]
		if s.closure[obj] {
			continue
		}
		s.closure[obj] = true
		g, ok := s.groups[obj]
		if !ok {
			continue
		}
		maps.Copy(s.in, g.members)
		if s.def.Nested {
			for n := range g.nested {
				queue = append(queue, n)
			}
		}
	}
	return nil
}

// rescope ends a round that the source turned into a full one by itself
// (its checkpoint expired): only now is it known that the groups it did
// not observe are gone, so the scope is computed again and the users of
// the round that it no longer covers are disabled.
func (r *round) rescope(ctx context.Context) error {
	if r.scope == nil || r.full || !r.res.Full {
		return nil
	}
	if err := r.resolveScope(); err != nil {
		return err
	}
	for _, obj := range slices.Sorted(maps.Keys(r.seenU)) {
		id, ok := r.umap[obj]
		if !ok || r.removedU[obj] || r.scope.in[obj] || r.scope.users[strings.ToLower(obj)] {
			continue
		}
		if !isNewID(id) && len(r.scope.users) > 0 {
			if cur, err := r.st.Get(ctx, userRef(r.tenant, id)); err == nil && r.scope.users[strings.ToLower(store.NameOf(store.User, cur.Attrs))] {
				continue
			}
		}
		if err := r.leave(ctx, obj, id); err != nil {
			return err
		}
	}
	return nil
}

// fetchBatch is how many users finishScope asks a source for at once.
const fetchBatch = 100

// finishScope ends a scoped round: users that came into scope without
// being in the round's user stream are fetched from the source (created,
// or enabled again), users that went out of it are disabled.
func (r *round) finishScope(ctx context.Context) error {
	s := r.scope
	if s == nil {
		return nil
	}
	var in, out []string
	for obj := range s.in {
		if !s.oldIn[obj] && !r.seenU[obj] {
			in = append(in, obj)
		}
	}
	for obj := range s.oldIn {
		if !s.in[obj] && !r.seenU[obj] && !s.users[strings.ToLower(obj)] {
			out = append(out, obj)
		}
	}
	slices.Sort(in)
	slices.Sort(out)
	for i := 0; i < len(in); i += fetchBatch {
		if err := r.req.Source.Users(ctx, in[i:min(i+fetchBatch, len(in))], r); err != nil {
			return fmt.Errorf("pull: fetch users that came into scope: %w", err)
		}
	}
	for _, obj := range out {
		id, ok := r.umap[obj]
		if !ok {
			continue
		}
		if !isNewID(id) && len(s.users) > 0 {
			// Listed by userName in Scope.Users: still in scope.
			if cur, err := r.st.Get(ctx, userRef(r.tenant, id)); err == nil && s.users[strings.ToLower(store.NameOf(store.User, cur.Attrs))] {
				continue
			}
		}
		if err := r.leave(ctx, obj, id); err != nil {
			return err
		}
	}
	return nil
}

// putScopeMembers writes a group's member records (none: removes them).
func (r *round) putScopeMembers(ctx context.Context, obj string, members []string) error {
	s := r.scope
	n := (len(members) + memberChunk - 1) / memberChunk
	for i := range n {
		b, err := json.Marshal(members[i*memberChunk : min((i+1)*memberChunk, len(members))])
		if err != nil {
			return err
		}
		if _, err := r.st.PutState(ctx, r.tenant, r.keys.scopeMembers(obj, i), b, -1); err != nil {
			return fmt.Errorf("pull: write the scope records: %w", err)
		}
	}
	for i := n; i < s.chunks[obj]; i++ {
		if err := r.st.DeleteState(ctx, r.tenant, r.keys.scopeMembers(obj, i)); err != nil {
			return fmt.Errorf("pull: write the scope records: %w", err)
		}
	}
	s.chunks[obj] = n
	return nil
}

// saveScope writes the scope records of a round that applied (or removes
// them once the tenant has no scope any more).
func (r *round) saveScope(ctx context.Context) error {
	s := r.scope
	if s == nil {
		if r.req.Policy.Scope != nil {
			return nil
		}
		ents, err := r.st.ListState(ctx, r.tenant, r.keys.scopeDef())
		if err != nil {
			return fmt.Errorf("pull: read the scope records: %w", err)
		}
		for _, ent := range ents {
			if err := r.st.DeleteState(ctx, r.tenant, ent.Key); err != nil {
				return fmt.Errorf("pull: remove the scope records: %w", err)
			}
		}
		return nil
	}
	for obj := range s.deleted {
		if err := r.putScopeMembers(ctx, obj, nil); err != nil {
			return err
		}
		if err := r.st.DeleteState(ctx, r.tenant, r.keys.scopeGroup(obj)); err != nil {
			return fmt.Errorf("pull: write the scope records: %w", err)
		}
	}
	for obj := range s.dirty {
		g := s.groups[obj]
		var members []string
		if s.def.Nested || s.provisioned[obj] {
			members = slices.Sorted(maps.Keys(g.members))
		}
		if err := r.putScopeMembers(ctx, obj, members); err != nil {
			return err
		}
		rec := scopeGroupRec{Name: g.name, Nested: slices.Sorted(maps.Keys(g.nested)), Chunks: s.chunks[obj]}
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if _, err := r.st.PutState(ctx, r.tenant, r.keys.scopeGroup(obj), b, -1); err != nil {
			return fmt.Errorf("pull: write the scope records: %w", err)
		}
	}
	def := scopeDefRec{
		Groups: s.def.Groups, Users: s.def.Users, Nested: s.def.Nested,
		Closure: slices.Sorted(maps.Keys(s.closure)), Provisioned: slices.Sorted(maps.Keys(s.provisioned)),
	}
	b, err := json.Marshal(def)
	if err != nil {
		return err
	}
	if _, err := r.st.PutState(ctx, r.tenant, r.keys.scopeDef(), b, -1); err != nil {
		return fmt.Errorf("pull: write the scope record: %w", err)
	}
	return nil
}
