// Package query is the backend-neutral form of a SCIM filter (RFC 7644
// §3.4.2.2): Parse turns a filter string into a tree whose attribute paths are
// resolved against a resource type's schema, Match evaluates that tree against a
// resource in memory with the exact RFC semantics (caseExact, multi-valued "any"
// matching, value paths, pr), and backends push the indexed parts of the tree
// down to their own indexes. Parsing uses github.com/scim2/filter-parser (the
// parser elimity-com/scim uses).
package query

import (
	"errors"

	"github.com/scimbridge/scimbridge/schemas"
)

// ErrInvalidFilter is wrapped by every Parse error (a 400 invalidFilter).
var ErrInvalidFilter = errors.New("invalid filter")

// Op is a comparison operator, always lower-case.
type Op string

// The comparison operators.
const (
	Eq Op = "eq"
	Ne Op = "ne"
	Co Op = "co"
	Sw Op = "sw"
	Ew Op = "ew"
	Gt Op = "gt"
	Ge Op = "ge"
	Lt Op = "lt"
	Le Op = "le"
	Pr Op = "pr"
)

// Filter is a node of a parsed filter: *And, *Or, *Not, *Compare or *ValuePath.
// Trees returned by Parse and ParsePath are cached and shared between
// goroutines: never modify them.
type Filter interface{ isFilter() }

// And matches when both sides match.
type And struct{ Left, Right Filter }

// Or matches when either side matches.
type Or struct{ Left, Right Filter }

// Not matches when X does not match.
type Not struct{ X Filter }

// Compare is `attrPath op value` or `attrPath pr`.
//
// Path is resolved against the resource type. A path naming a multi-valued
// complex attribute without a sub-attribute (`emails eq "x"`, `members eq
// "id"`) is resolved to its "value" sub-attribute, as RFC 7644 and Entra's
// `members eq` / `manager eq` reference checks expect; a single-valued complex
// attribute with a "value" sub-attribute (manager) likewise.
//
// Value is nil (for pr and `eq null`), string, bool or float64. For dateTime
// attributes it is the string as given; Match compares chronologically.
type Compare struct {
	Path  schemas.Path
	Op    Op
	Value any
}

// ValuePath is `attr[filter]`: Filter's Compare paths name sub-attributes of
// Attr (Path.Attr is Attr, Path.Sub the sub-attribute) and must all hold for
// the same element.
type ValuePath struct {
	Path   schemas.Path // Sub is nil
	Filter Filter
}

func (*And) isFilter()       {}
func (*Or) isFilter()        {}
func (*Not) isFilter()       {}
func (*Compare) isFilter()   {}
func (*ValuePath) isFilter() {}
