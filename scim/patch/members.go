package patch

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/query"
)

// memberState composes the membership changes of a request's operations, in
// order, into one store.MemberDelta. Add and remove are kept disjoint, so the
// order in which the store applies them does not matter. Every step is O(1)
// per member.
type memberState struct {
	replace   bool
	add       []store.Member // entries with Value "" were removed again
	addIdx    map[string]int // live member id -> index in add
	remove    []string       // entries "" were added again
	removeIdx map[string]int // member id -> index in remove

	hint int // size of the largest member list seen, to presize add

	current []store.Member // Options.Members, once loaded
	loaded  bool
}

func (s *memberState) addMember(m store.Member) {
	if i, ok := s.removeIdx[m.Value]; ok {
		s.remove[i] = ""
		delete(s.removeIdx, m.Value)
	}
	if _, ok := s.addIdx[m.Value]; ok {
		return
	}
	if s.addIdx == nil {
		s.addIdx = make(map[string]int, s.hint)
		s.add = make([]store.Member, 0, s.hint)
	}
	s.addIdx[m.Value] = len(s.add)
	s.add = append(s.add, m)
}

func (s *memberState) removeMember(id string) {
	if i, ok := s.addIdx[id]; ok {
		s.add[i].Value = ""
		delete(s.addIdx, id)
	}
	if s.replace {
		return // the group starts empty: dropping id from add is enough
	}
	if _, ok := s.removeIdx[id]; ok {
		return
	}
	if s.removeIdx == nil {
		s.removeIdx = map[string]int{}
	}
	s.removeIdx[id] = len(s.remove)
	s.remove = append(s.remove, id)
}

func (s *memberState) sizeHint(v any) {
	if l, ok := v.([]any); ok && len(l) > s.hint {
		s.hint = len(l)
	}
}

func (s *memberState) removeAll() {
	s.replace = true
	s.add, s.addIdx, s.remove, s.removeIdx = nil, nil, nil, nil
}

func (s *memberState) result() store.MemberDelta {
	d := store.MemberDelta{Replace: s.replace}
	if len(s.addIdx) > 0 {
		d.Add = make([]store.Member, 0, len(s.addIdx))
		for _, m := range s.add {
			if m.Value != "" {
				d.Add = append(d.Add, m)
			}
		}
	}
	if len(s.removeIdx) > 0 {
		d.Remove = make([]string, 0, len(s.removeIdx))
		for _, id := range s.remove {
			if id != "" {
				d.Remove = append(d.Remove, id)
			}
		}
	}
	return d
}

// memberOp applies an operation on a group's members.
func (e *engine) memberOp(op string, t target, v any, hasValue bool) error {
	if t.sub != nil {
		return errf(Mutability, "the sub-attributes of members are immutable")
	}
	if t.filter != nil && op != OpRemove {
		return errf(Mutability, "members are immutable: %s members[...] is not supported, use add or remove", op)
	}
	s := &e.members
	switch op {
	case OpAdd:
		s.sizeHint(v)
		return parseMembers(v, s.addMember)
	case OpReplace:
		s.removeAll()
		s.sizeHint(v)
		return parseMembers(v, s.addMember)
	}
	// remove
	switch {
	case t.filter != nil:
		if ids, ok := valueEqIDs(t.filter, nil); ok {
			for _, id := range ids {
				s.removeMember(id)
			}
			return nil
		}
		return e.removeMatchingMembers(t.filter)
	case !hasValue || v == nil:
		s.removeAll() // RFC: remove without a filter removes every member
		return nil
	default:
		// Entra's non-RFC form: remove only the listed members. An empty list
		// removes nothing (a strict reading would wipe the group).
		return parseMembers(v, func(m store.Member) { s.removeMember(m.Value) })
	}
}

// parseMembers calls fn for each member of a members value: an array of
// objects (or one object) whose "value" is a non-empty string. "$ref" (which
// Entra sends as null), "type", "display" and unknown keys are not checked; type
// and display are passed on when they are strings. null or "" is no member.
func parseMembers(v any, fn func(store.Member)) error {
	if clearValue(v) {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	for _, el := range list {
		m, ok := el.(map[string]any)
		if !ok {
			return errf(InvalidValue, "members must be objects with a value")
		}
		// Exact keys first: the common Entra element {"$ref":null,"value":id}
		// needs no iteration.
		value, hasValue := m["value"]
		typ, hasType := m["type"]
		display, hasDisplay := m["display"]
		_, hasRef := m["$ref"]
		if n := count(hasValue, hasType, hasDisplay, hasRef); n < len(m) {
			for k, x := range m {
				switch {
				case !hasValue && strings.EqualFold(k, "value"):
					value, hasValue = x, true
				case !hasType && strings.EqualFold(k, "type"):
					typ = x
				case !hasDisplay && strings.EqualFold(k, "display"):
					display = x
				}
			}
		}
		id, ok := value.(string)
		if !hasValue || !ok || id == "" {
			return errf(InvalidValue, "a member's value must be a non-empty string")
		}
		mem := store.Member{Value: id}
		if s, ok := typ.(string); ok {
			switch {
			case strings.EqualFold(s, string(store.User)):
				mem.Type = store.User
			case strings.EqualFold(s, string(store.Group)):
				mem.Type = store.Group
			}
		}
		if s, ok := display.(string); ok {
			mem.Display = s
		}
		fn(mem)
	}
	return nil
}

func count(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// memberValueEq recognises the path `members[value eq "id"]` exactly as
// scim/entra writes it (one space each side of eq, a JSON string, names in
// any case) and returns the id. Anything else is left to query.ParsePath.
func memberValueEq(path string) (string, bool) {
	const prefix = `members[value eq "`
	if len(path) < len(prefix)+2 || !strings.EqualFold(path[:len(prefix)], prefix) || !strings.HasSuffix(path, `"]`) {
		return "", false
	}
	var id string
	if err := json.Unmarshal([]byte(path[len(prefix)-1:len(path)-1]), &id); err != nil || id == "" {
		return "", false
	}
	return id, true
}

// valueEqIDs returns the ids of a filter made only of `value eq "id"` terms
// joined by or.
func valueEqIDs(f query.Filter, ids []string) ([]string, bool) {
	switch x := f.(type) {
	case *query.Or:
		ids, ok := valueEqIDs(x.Left, ids)
		if !ok {
			return nil, false
		}
		return valueEqIDs(x.Right, ids)
	case *query.Compare:
		if x.Op != query.Eq || x.Path.Sub == nil || x.Path.Sub.Name != "value" {
			return nil, false
		}
		id, ok := x.Value.(string)
		if !ok || id == "" {
			return nil, false
		}
		return append(ids, id), true
	}
	return nil, false
}

// removeMatchingMembers removes the members matching f among the group's
// members as the earlier operations left them: Options.Members (unless a
// replace or remove-all came first) minus removed ones, plus added ones.
func (e *engine) removeMatchingMembers(f query.Filter) error {
	s := &e.members
	var ids []string
	elem := func(m store.Member) map[string]any {
		el := map[string]any{"value": m.Value}
		if m.Type != "" {
			el["type"] = string(m.Type)
		}
		if m.Display != "" {
			el["display"] = m.Display
		}
		return el
	}
	var known map[string]bool // current members considered (the store knows their type)
	if !s.replace {
		if !s.loaded {
			if e.opt.Members == nil {
				return errors.New("a members filter needs Options.Members")
			}
			cur, err := e.opt.Members()
			if err != nil {
				return err
			}
			s.current, s.loaded = cur, true
		}
		known = make(map[string]bool, len(s.current))
		for _, m := range s.current {
			if _, removed := s.removeIdx[m.Value]; removed {
				continue
			}
			known[m.Value] = true
			if query.MatchElement(f, elem(m)) {
				ids = append(ids, m.Value)
			}
		}
	}
	for _, m := range s.add {
		if m.Value != "" && !known[m.Value] && query.MatchElement(f, elem(m)) {
			ids = append(ids, m.Value)
		}
	}
	for _, id := range ids {
		s.removeMember(id)
	}
	return nil
}
