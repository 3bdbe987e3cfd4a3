package query

import (
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/schemas"
)

// Indexed fields a Plan can produce terms for. Every backend keeps an index
// (or an equivalent lookup) for each of them.
const (
	FieldID           = "id"                // exact
	FieldExternalID   = "externalId"        // exact (caseExact)
	FieldUserName     = "userName"          // lower-cased (users)
	FieldDisplayName  = "displayName"       // lower-cased (users and groups)
	FieldEmailValue   = "emails.value"      // lower-cased (users, any element)
	FieldActive       = "active"            // bool
	FieldLastModified = "meta.lastModified" // time.Time
	FieldCreated      = "meta.created"      // time.Time
	FieldMemberValue  = "members.value"     // exact member id (groups, via membership records)
	FieldGroupValue   = "groups.value"      // exact group id (users, via membership records)
)

// Term is one condition a backend can answer from an index.
//
// For a simple term, Field is one of the Field constants and Op one of:
//   - Eq, Sw, Co, Ew for the string fields, with Value a string; for the
//     case-insensitive fields (userName, displayName, emails.value) Value is
//     already lower-cased (strings.ToLower) and must be compared with the
//     lower-cased stored value; id and externalId compare exactly;
//   - Eq for active, with Value a bool (a resource without active never
//     matches);
//   - Eq, Gt, Ge, Lt, Le for meta.created and meta.lastModified, with Value a
//     time.Time compared chronologically;
//   - Eq for members.value, with Value the member id compared exactly (ids are
//     case-exact even though the Group schema marks members.value
//     caseExact=false): the groups with a membership record for that member;
//   - Eq for groups.value, with Value a group id compared exactly: the users
//     with a membership record in that group (a user's groups attribute is
//     not stored with the user).
//
// A disjunction has Or set (two or more simple terms, never nested) and
// Field, Op and Value unset: it holds when any alternative holds.
type Term struct {
	Field string
	Op    Op
	Value any
	Or    []Term
}

// Plan extracts from f the conditions a backend can answer from its indexes.
//
// The returned terms form a conjunction that every resource matching f
// satisfies, so a backend may restrict its candidates to the resources that
// satisfy all of them (no terms: every resource of the kind is a candidate).
// exact reports that the terms say exactly what f says: a candidate that
// satisfies the terms matches f, and the backend may skip Match. When exact is
// false the backend must evaluate f with Match on every candidate.
//
// A nil f yields no terms and exact = true. Not, ne, pr, unindexed
// attributes and comparisons with values of the wrong type are left to Match.
// An Or becomes a disjunction term when both sides yield terms; a value path
// (emails[...], members[...]) contributes its "value" sub-attribute terms, so
// `emails[type eq "work"].value eq "x"` is looked up in the e-mail index and
// its type checked by Match.
func Plan(f Filter) (terms []Term, exact bool) {
	if f == nil {
		return nil, true
	}
	return plan(f)
}

func plan(f Filter) ([]Term, bool) {
	switch n := f.(type) {
	case *And:
		l, le := plan(n.Left)
		r, re := plan(n.Right)
		return append(l, r...), le && re
	case *Or:
		l, le := plan(n.Left)
		r, re := plan(n.Right)
		if len(l) == 0 || len(r) == 0 {
			return nil, false
		}
		// A side with several conjoined terms is narrowed to its first
		// term: a superset, hence not exact.
		exact := le && re && len(l) == 1 && len(r) == 1
		alts := append(alternatives(l[0]), alternatives(r[0])...)
		return []Term{{Or: alts}}, exact
	case *Not:
		return nil, false
	case *Compare:
		// Inside a value path the Compare path is already Attr.Sub
		// (emails.value), so it plans like a plain attribute path.
		t, ok := compareTerm(n.Path, n.Op, n.Value)
		if !ok {
			return nil, false
		}
		return []Term{t}, true
	case *ValuePath:
		ts, ex := plan(n.Filter)
		// Several terms inside one value path must hold for the same
		// element, which separate index lookups cannot express.
		return ts, ex && len(ts) <= 1
	}
	return nil, false
}

func alternatives(t Term) []Term {
	if t.Or != nil {
		return t.Or
	}
	return []Term{t}
}

// compareTerm returns the term for `p op v` if p is indexed and op/v fit.
func compareTerm(p schemas.Path, op Op, v any) (Term, bool) {
	if p.URN != "" || p.Attr == nil || p.Attr.Parent != nil {
		return Term{}, false
	}
	field := p.Attr.Name
	if p.Sub != nil {
		field += "." + p.Sub.Name
	} else if p.Attr.IsComplex() {
		return Term{}, false
	}
	switch field {
	case FieldID, FieldExternalID, FieldUserName, FieldDisplayName, FieldEmailValue:
		s, ok := v.(string)
		if !ok {
			return Term{}, false
		}
		switch op {
		case Eq, Sw, Co, Ew:
		default:
			return Term{}, false
		}
		if field != FieldID && field != FieldExternalID {
			s = strings.ToLower(s)
		}
		return Term{Field: field, Op: op, Value: s}, true
	case FieldActive:
		b, ok := v.(bool)
		if !ok || op != Eq {
			return Term{}, false
		}
		return Term{Field: field, Op: op, Value: b}, true
	case FieldLastModified, FieldCreated:
		s, ok := v.(string)
		if !ok {
			return Term{}, false
		}
		switch op {
		case Eq, Gt, Ge, Lt, Le:
		default:
			return Term{}, false
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return Term{}, false
		}
		return Term{Field: field, Op: op, Value: t}, true
	case FieldGroupValue:
		s, ok := v.(string)
		if !ok || op != Eq || p.Attr.SchemaURN != schemas.UserURN {
			return Term{}, false
		}
		return Term{Field: field, Op: op, Value: s}, true
	case FieldMemberValue:
		s, ok := v.(string)
		if !ok || op != Eq {
			return Term{}, false
		}
		return Term{Field: field, Op: op, Value: s}, true
	}
	return Term{}, false
}
