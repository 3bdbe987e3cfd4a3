package query

import (
	"strings"

	"github.com/scimbridge/scimbridge/schemas"
)

// Subject is what Match evaluates. Doc is the resource in SCIM JSON form:
// Attrs plus "id" and "meta" {"resourceType","created","lastModified","version"}
// (created and lastModified as RFC 3339 strings). Members, if not nil, returns a
// group's members as maps with "value", "type" and "display"; it is called only
// when the filter references members. Groups, if not nil, likewise returns the
// groups a user belongs to, as maps with "value", "display" and "type": a
// user's groups attribute is not stored with the user but read from the
// group memberships, as when it is rendered.
//
// Doc keys are looked up by canonical name first and case-insensitively if
// that fails; extension attributes live in a map under the extension URN.
type Subject struct {
	Doc     map[string]any
	Members func() []map[string]any
	Groups  func() []map[string]any
}

// Match reports whether the subject matches f; a nil f matches everything.
//
// Semantics (RFC 7644 §3.4.2.2):
//   - Strings compare case-insensitively unless the attribute is caseExact
//     (a group's members.value, an id, always compares exactly);
//     gt/ge/lt/le order strings lexicographically (by code point, after
//     lower-casing when case-insensitive), numbers numerically and dateTimes
//     chronologically.
//   - A multi-valued attribute matches if any of its values matches; a value
//     path matches if one element satisfies its whole filter.
//   - ne is the negation of eq: `x ne v` matches when x is missing and, for a
//     multi-valued x, when no value equals v.
//   - pr matches a present, non-empty value: a non-empty string, any bool or
//     number, an array with a present element, a complex value with a present
//     sub-attribute. `x eq null` is `not (x pr)`, `x ne null` is `x pr`.
//   - Values of the wrong type in Doc never match (eq), so never make ne fail.
//   - Paths on a group's core "members" attribute read s.Members (at most once
//     per call) when it is set, else Doc["members"]; paths on a user's core
//     "groups" attribute read s.Groups the same way.
func Match(f Filter, s Subject) bool {
	if f == nil {
		return true
	}
	e := evaluator{s: s}
	return e.match(f)
}

// MatchElement evaluates the inner filter of a ValuePath against one element of
// a multi-valued complex attribute (or the value of a single-valued complex
// one, as in a PATCH path `manager[value eq "id"]`). A nil f matches.
func MatchElement(f Filter, elem map[string]any) bool {
	if f == nil {
		return true
	}
	return matchElem(f, elem)
}

// evaluator holds the per-call state of Match. members holds what
// s.Members or s.Groups returned (a subject is a group or a user, so only one
// of them is ever read).
type evaluator struct {
	s       Subject
	members []map[string]any
	loaded  bool
}

func (e *evaluator) match(f Filter) bool {
	switch x := f.(type) {
	case *And:
		return x != nil && e.match(x.Left) && e.match(x.Right)
	case *Or:
		return x != nil && (e.match(x.Left) || e.match(x.Right))
	case *Not:
		return x != nil && !e.match(x.X)
	case *Compare:
		return x != nil && e.compare(x)
	case *ValuePath:
		return x != nil && e.valuePath(x)
	case nil:
		return true
	}
	return false
}

// attr returns the value of p's top-level attribute, or the group's members
// (a user's groups) when they come from a loader.
func (e *evaluator) attr(p schemas.Path) (v any, members []map[string]any, isMembers bool) {
	if p.Attr == nil {
		return nil, nil, false
	}
	if p.URN == "" && e.s.Members != nil && p.Attr.Name == "members" && p.Attr.SchemaURN == schemas.GroupURN {
		if !e.loaded {
			e.members, e.loaded = e.s.Members(), true
		}
		return nil, e.members, true
	}
	if p.URN == "" && e.s.Groups != nil && p.Attr.Name == "groups" && p.Attr.SchemaURN == schemas.UserURN {
		if !e.loaded {
			e.members, e.loaded = e.s.Groups(), true
		}
		return nil, e.members, true
	}
	root := e.s.Doc
	if p.URN != "" {
		m, ok := get(root, p.URN).(map[string]any)
		if !ok {
			return nil, nil, false
		}
		root = m
	}
	return get(root, p.Attr.Name), nil, false
}

func (e *evaluator) compare(c *Compare) bool {
	op, negate := effectiveOp(c)
	v, members, isMembers := e.attr(c.Path)
	var r bool
	if isMembers {
		r = anyElem(members, c, op)
	} else {
		r = anyIn(v, c.Path.Sub, c, op)
	}
	return r != negate
}

func (e *evaluator) valuePath(vp *ValuePath) bool {
	v, members, isMembers := e.attr(vp.Path)
	if isMembers {
		for _, m := range members {
			if matchElem(vp.Filter, m) {
				return true
			}
		}
		return false
	}
	switch x := v.(type) {
	case []any:
		for _, el := range x {
			if m, ok := el.(map[string]any); ok && matchElem(vp.Filter, m) {
				return true
			}
		}
	case []map[string]any:
		for _, m := range x {
			if matchElem(vp.Filter, m) {
				return true
			}
		}
	case map[string]any:
		return matchElem(vp.Filter, x)
	}
	return false
}

// matchElem evaluates a value filter against one element.
func matchElem(f Filter, elem map[string]any) bool {
	switch x := f.(type) {
	case *And:
		return x != nil && matchElem(x.Left, elem) && matchElem(x.Right, elem)
	case *Or:
		return x != nil && (matchElem(x.Left, elem) || matchElem(x.Right, elem))
	case *Not:
		return x != nil && !matchElem(x.X, elem)
	case *Compare:
		if x == nil {
			return false
		}
		op, negate := effectiveOp(x)
		r := x.Path.Sub != nil && anyIn(get(elem, x.Path.Sub.Name), nil, x, op)
		return r != negate
	case nil:
		return true
	}
	return false
}

// effectiveOp maps ne and null comparisons onto eq and pr: it returns the
// operator to test values with and whether to negate the result.
func effectiveOp(c *Compare) (Op, bool) {
	switch {
	case c.Op == Pr:
		return Pr, false
	case c.Value == nil && c.Op == Eq:
		return Pr, true
	case c.Value == nil && c.Op == Ne:
		return Pr, false
	case c.Op == Ne:
		return Eq, true
	}
	return c.Op, false
}

// anyIn reports whether some value in v satisfies `op c.Value`. With sub set,
// v is a complex value or a list of them and the sub-attribute is tested.
func anyIn(v any, sub *schemas.Attribute, c *Compare, op Op) bool {
	if sub != nil {
		switch x := v.(type) {
		case map[string]any:
			return anyIn(get(x, sub.Name), nil, c, op)
		case []any:
			for _, el := range x {
				if m, ok := el.(map[string]any); ok && anyIn(get(m, sub.Name), nil, c, op) {
					return true
				}
			}
		case []map[string]any:
			for _, m := range x {
				if anyIn(get(m, sub.Name), nil, c, op) {
					return true
				}
			}
		}
		return false
	}
	switch x := v.(type) {
	case nil:
		return false
	case []any:
		for _, el := range x {
			if anyIn(el, nil, c, op) {
				return true
			}
		}
		return false
	case []string:
		for _, el := range x {
			if scalar(el, c, op) {
				return true
			}
		}
		return false
	case []map[string]any:
		return anyElem(x, c, op)
	}
	return scalar(v, c, op)
}

// anyElem is anyIn for a list of complex values (group members).
func anyElem(elems []map[string]any, c *Compare, op Op) bool {
	for _, m := range elems {
		var ok bool
		if c.Path.Sub != nil {
			ok = anyIn(get(m, c.Path.Sub.Name), nil, c, op)
		} else {
			ok = scalar(m, c, op)
		}
		if ok {
			return true
		}
	}
	return false
}

// get returns m[key], falling back to a case-insensitive key match.
func get(m map[string]any, key string) any {
	if m == nil {
		return nil
	}
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}
