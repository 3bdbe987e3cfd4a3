// Package pulltest is an in-memory pull.Source for tests of the engine and
// of what is built on it: a small directory that records every change with
// a version, so that a round from a checkpoint emits the changes since it,
// the way a Graph delta query does.
package pulltest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"

	"github.com/scimbridge/scimbridge/pull"
	"github.com/scimbridge/scimbridge/store"
)

// Source is an in-memory directory. It is safe for concurrent use; the
// engine calls Read at most once at a time.
type Source struct {
	// MemberSplit > 0 emits each group's members over several observations
	// of at most this many (as Graph splits big groups over pages).
	MemberSplit int
	// PageSize is how many objects one Page stands for (default 10).
	PageSize int
	// FailAfterUsers > 0 makes a Read fail after emitting that many users.
	FailAfterUsers int
	// RestartFull makes the next incremental Read find its checkpoint
	// unusable and read everything instead, saying so in Result.Full (as
	// Graph's 410 Gone or syncStateNotFound).
	RestartFull bool
	// Block, if set, is received from before a Read emits anything (tests
	// of concurrent runs).
	Block chan struct{}

	kind store.Source

	mu         sync.Mutex
	ver        int
	users      map[string]*userEnt
	userOrder  []string
	groups     map[string]*groupEnt
	groupOrder []string
	mlog       []memberChange
	// nestedRemoved records member groups taken out (for incremental rounds).
	nestedRemoved []memberChange
	reads         int
}

type userEnt struct {
	u       pull.User
	ver     int
	removed pull.RemovedReason // "" while it exists
	vanish  bool               // gone without a removal record
}

type groupEnt struct {
	name    string
	members map[string]bool
	nested  map[string]bool
	ver     int
	removed pull.RemovedReason
	vanish  bool
}

type memberChange struct {
	ver           int
	group, member string
	add           bool
}

// New returns an empty directory whose writes carry provenance kind.
func New(kind store.Source) *Source {
	return &Source{kind: kind, users: map[string]*userEnt{}, groups: map[string]*groupEnt{}}
}

// Kind implements pull.Source.
func (s *Source) Kind() store.Source { return s.kind }

// Reads returns how many rounds were read.
func (s *Source) Reads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// PutUser adds or changes a user.
func (s *Source) PutUser(u pull.User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ver++
	if _, ok := s.users[u.ObjectID]; !ok {
		s.userOrder = append(s.userOrder, u.ObjectID)
	}
	u.Attrs = maps.Clone(u.Attrs)
	s.users[u.ObjectID] = &userEnt{u: u, ver: s.ver}
}

// RemoveUser removes a user with a removal record of reason.
func (s *Source) RemoveUser(obj string, reason pull.RemovedReason) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ver++
	if e, ok := s.users[obj]; ok {
		e.removed, e.ver = reason, s.ver
	}
}

// VanishUser removes a user without a removal record: only a full round
// notices (as when a delta link expired).
func (s *Source) VanishUser(obj string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.users[obj]; ok {
		e.vanish = true
	}
}

// PutGroup adds a group or renames it.
func (s *Source) PutGroup(obj, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ver++
	g, ok := s.groups[obj]
	if !ok || g.removed != "" {
		if !ok {
			s.groupOrder = append(s.groupOrder, obj)
		}
		g = &groupEnt{members: map[string]bool{}, nested: map[string]bool{}}
		s.groups[obj] = g
	}
	g.name, g.ver = name, s.ver
}

// RemoveGroup removes a group with a removal record of reason.
func (s *Source) RemoveGroup(obj string, reason pull.RemovedReason) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ver++
	if g, ok := s.groups[obj]; ok {
		g.removed, g.ver = reason, s.ver
	}
}

// AddMembers adds users to a group.
func (s *Source) AddMembers(group string, users ...string) { s.members(group, true, users) }

// RemoveMembers removes users from a group.
func (s *Source) RemoveMembers(group string, users ...string) { s.members(group, false, users) }

func (s *Source) members(group string, add bool, users []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[group]
	if !ok {
		panic("pulltest: no group " + group)
	}
	for _, u := range users {
		s.ver++
		if add {
			g.members[u] = true
		} else {
			delete(g.members, u)
		}
		s.mlog = append(s.mlog, memberChange{ver: s.ver, group: group, member: u, add: add})
	}
}

// AddNested makes child a member group of group.
func (s *Source) AddNested(group, child string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ver++
	s.groups[group].nested[child] = true
	s.groups[group].ver = s.ver
}

// RemoveNested takes child out of group's member groups.
func (s *Source) RemoveNested(group, child string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ver++
	delete(s.groups[group].nested, child)
	s.groups[group].ver = s.ver
	s.nestedRemoved = append(s.nestedRemoved, memberChange{ver: s.ver, group: group, member: child})
}

// Read implements pull.Source.
func (s *Source) Read(ctx context.Context, req pull.ReadRequest, obs pull.Observer) (pull.Result, error) {
	if s.Block != nil {
		select {
		case <-s.Block:
		case <-ctx.Done():
			return pull.Result{}, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	from, full := 0, req.Full || req.Checkpoint == nil
	if !full && s.RestartFull {
		s.RestartFull, full = false, true
	}
	if !full {
		v, err := strconv.Atoi(string(req.Checkpoint))
		if err != nil {
			return pull.Result{}, fmt.Errorf("pulltest: bad checkpoint %q", req.Checkpoint)
		}
		from = v
	}
	pageSize := s.PageSize
	if pageSize <= 0 {
		pageSize = 10
	}
	emitted := 0
	page := func(kind store.Kind) {
		if emitted++; emitted%pageSize == 0 {
			obs.Page(ctx, kind)
		}
	}
	// Member changes since the checkpoint, net per (group, member).
	changes := map[string]map[string]bool{}
	for _, c := range s.mlog {
		if c.ver > from {
			if changes[c.group] == nil {
				changes[c.group] = map[string]bool{}
			}
			changes[c.group][c.member] = c.add
		}
	}
	for _, obj := range s.groupOrder {
		g := s.groups[obj]
		if g.vanish || (g.removed != "" && full) {
			continue
		}
		if g.removed != "" {
			if g.ver > from {
				if err := obs.Removed(ctx, pull.Removal{Kind: store.Group, ObjectID: obj, Reason: g.removed}); err != nil {
					return pull.Result{}, err
				}
				page(store.Group)
			}
			continue
		}
		var obsv []pull.Group
		switch {
		case full:
			obsv = s.split(pull.Group{ObjectID: obj, DisplayName: g.name, MembersComplete: true,
				Added: slices.Sorted(maps.Keys(g.members)), Nested: slices.Sorted(maps.Keys(g.nested))})
		case g.ver > from || changes[obj] != nil:
			o := pull.Group{ObjectID: obj, Nested: slices.Sorted(maps.Keys(g.nested))}
			for _, c := range s.nestedRemoved {
				if c.ver > from && c.group == obj && !g.nested[c.member] {
					o.NestedRemoved = append(o.NestedRemoved, c.member)
				}
			}
			if g.ver > from {
				o.DisplayName = g.name
			}
			for _, m := range slices.Sorted(maps.Keys(changes[obj])) {
				if changes[obj][m] {
					o.Added = append(o.Added, m)
				} else {
					o.Removed = append(o.Removed, m)
				}
			}
			obsv = s.split(o)
		}
		for _, o := range obsv {
			if err := obs.Group(ctx, o); err != nil {
				return pull.Result{}, err
			}
			page(store.Group)
		}
	}
	users := 0
	for _, obj := range s.userOrder {
		e := s.users[obj]
		if e.vanish || (e.removed != "" && full) || (!full && e.ver <= from) {
			continue
		}
		if s.FailAfterUsers > 0 && users == s.FailAfterUsers {
			return pull.Result{}, errors.New("pulltest: injected paging failure")
		}
		users++
		var err error
		if e.removed != "" {
			err = obs.Removed(ctx, pull.Removal{Kind: store.User, ObjectID: obj, Reason: e.removed})
		} else {
			err = obs.User(ctx, cloneUser(e.u))
		}
		if err != nil {
			return pull.Result{}, err
		}
		page(store.User)
	}
	return pull.Result{Checkpoint: []byte(strconv.Itoa(s.ver)), Full: full}, nil
}

// split cuts a group observation's members into MemberSplit-sized ones.
func (s *Source) split(o pull.Group) []pull.Group {
	if s.MemberSplit <= 0 || len(o.Added)+len(o.Removed) <= s.MemberSplit {
		return []pull.Group{o}
	}
	var out []pull.Group
	for i := 0; i < len(o.Added); i += s.MemberSplit {
		p := o
		p.Added, p.Removed = o.Added[i:min(i+s.MemberSplit, len(o.Added))], nil
		out = append(out, p)
	}
	for i := 0; i < len(o.Removed); i += s.MemberSplit {
		p := o
		p.Added, p.Removed = nil, o.Removed[i:min(i+s.MemberSplit, len(o.Removed))]
		out = append(out, p)
	}
	return out
}

func cloneUser(u pull.User) pull.User {
	u.Attrs = maps.Clone(u.Attrs)
	if u.Manager != nil {
		m := *u.Manager
		u.Manager = &m
	}
	return u
}

// Users implements pull.Source.
func (s *Source) Users(ctx context.Context, ids []string, obs pull.Observer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		e, ok := s.users[id]
		var err error
		if !ok || e.vanish || e.removed != "" {
			err = obs.Removed(ctx, pull.Removal{Kind: store.User, ObjectID: id, Reason: pull.RemovedDeleted})
		} else {
			err = obs.User(ctx, cloneUser(e.u))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

var _ pull.Source = (*Source)(nil)
