package query

import (
	"errors"

	"github.com/scimbridge/scimbridge/schemas"
)

// Parse parses filter (RFC 7644 §3.4.2.2) and resolves every attribute path
// against rt. Errors wrap ErrInvalidFilter and say what is wrong (unknown
// attribute, gt on a boolean, syntax). Parsed results are cached in a bounded,
// concurrency-safe cache keyed by (rt.Name, filter), so the hot Entra
// `userName eq "x"` path costs one map lookup after the first parse of a string.
func Parse(rt *schemas.ResourceType, filter string) (Filter, error) {
	return nil, errors.New("TODO: not implemented")
}

// Subject is what Match evaluates. Doc is the resource in SCIM JSON form:
// Attrs plus "id" and "meta" {"resourceType","created","lastModified","version"}
// (created and lastModified as RFC 3339 strings). Members, if not nil, returns a
// group's members as maps with "value", "type" and "display"; it is called only
// when the filter references members.
type Subject struct {
	Doc     map[string]any
	Members func() []map[string]any
}

// Match reports whether the subject matches f; a nil f matches everything.
func Match(f Filter, s Subject) bool { return false }

// MatchElement evaluates the inner filter of a ValuePath against one element of
// a multi-valued complex attribute.
func MatchElement(f Filter, elem map[string]any) bool { return false }

// PathExpr is a parsed PATCH path (RFC 7644 §3.5.2:
// PATH = attrPath / valuePath [subAttr]).
type PathExpr struct {
	Path   schemas.Path       // the attribute; Path.Sub is set for "name.givenName"-style paths
	Filter Filter             // the value filter of attr[...], or nil
	Sub    *schemas.Attribute // the sub-attribute after "]" as in emails[type eq "work"].value, or nil
}

// ErrInvalidPath is wrapped by every ParsePath error (a 400 invalidPath).
var ErrInvalidPath = errors.New("invalid path")

// ParsePath parses a PATCH path and resolves it against rt. Errors wrap
// ErrInvalidPath and say what is wrong.
func ParsePath(rt *schemas.ResourceType, path string) (PathExpr, error) {
	return PathExpr{}, errors.New("TODO: not implemented")
}
