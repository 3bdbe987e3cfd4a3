package query

import (
	"errors"
	"strings"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/scimbridge/scimbridge/schemas"
)

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
//
// Unlike in Parse, a path naming a complex attribute is not redirected to its
// "value" sub-attribute (`emails` targets the whole attribute), and a value
// filter is also accepted on a single-valued complex attribute, for Entra's
// `urn:...:enterprise:2.0:User:manager[value eq "id"]`; match it with
// MatchElement. Value filters follow Parse's rules ("True" for booleans,
// sub-attribute names only). Results are cached like Parse's and must not be
// modified.
func ParsePath(rt *schemas.ResourceType, path string) (PathExpr, error) {
	if rt == nil {
		return PathExpr{}, ErrInvalidPath
	}
	k := cacheKey{rt, path}
	if pe, ok := pathCache.get(k); ok {
		return pe, nil
	}
	c := converter{rt: rt, sentinel: ErrInvalidPath, inPath: true}
	pe, err := c.path(path)
	if err != nil {
		return PathExpr{}, err
	}
	pathCache.put(k, pe)
	return pe, nil
}

func (c *converter) path(s string) (pe PathExpr, err error) {
	defer func() {
		if r := recover(); r != nil {
			pe, err = PathExpr{}, c.errorf("cannot parse %s", excerpt(s))
		}
	}()
	s = strings.TrimSpace(s)
	if err := c.prescan(s, "path"); err != nil {
		return PathExpr{}, err
	}
	fp, err := filter.ParsePathNumber([]byte(s))
	if err != nil {
		return PathExpr{}, c.errorf("syntax error in %s (expected attr, attr.sub, attr[filter] or attr[filter].sub, optionally URN-qualified)", excerpt(s))
	}
	if fp.ValueExpression == nil {
		p, err := c.resolve(fp.AttributePath)
		if err != nil {
			return PathExpr{}, err
		}
		return PathExpr{Path: p}, nil
	}
	p, err := c.valuePathAttr(fp.AttributePath)
	if err != nil {
		return PathExpr{}, err
	}
	inner, err := c.expr(fp.ValueExpression, &p)
	if err != nil {
		return PathExpr{}, err
	}
	pe = PathExpr{Path: p, Filter: inner}
	if fp.SubAttribute != nil {
		if pe.Sub = p.Attr.Sub(*fp.SubAttribute); pe.Sub == nil {
			return PathExpr{}, c.errorf("unknown sub-attribute %q of %q", *fp.SubAttribute, p)
		}
	}
	return pe, nil
}
