package query

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/scimbridge/scimbridge/schemas"
)

const (
	// maxInputLen bounds the filters and paths Parse and ParsePath accept:
	// the parser needs about 13µs per byte, so this caps one parse at ~50ms
	// while leaving room for an `or` chain of a hundred ids.
	maxInputLen = 4 << 10
	// maxNesting bounds the depth of "(" and "[" groups, so the recursive
	// descent parser cannot be driven into a stack overflow.
	maxNesting = 32
)

// Parse parses filter (RFC 7644 §3.4.2.2) and resolves every attribute path
// against rt. Errors wrap ErrInvalidFilter and say what is wrong (unknown
// attribute, gt on a boolean, syntax). Parsed results are cached in a bounded,
// concurrency-safe cache keyed by (rt, filter), so the hot Entra
// `userName eq "x"` path costs one map lookup after the first parse of a string.
//
// The returned tree may be shared with other callers: it must not be modified.
//
// Operators and attribute names are case-insensitive; surrounding spaces are
// ignored; an empty filter is an error (callers treat an absent filter as nil).
// Compare values are normalised: strings are unescaped, numbers are float64
// (integral for integer attributes), "true"/"false" strings in any case are
// accepted for boolean attributes and become bool, dateTime values must be RFC
// 3339. Only eq and ne accept null. Attributes returned "never" (password)
// cannot be filtered on.
//
// Value filters (`emails[type eq "work" and value co "@x"]`) support what the
// underlying parser supports: one comparison, two joined by and/or, or not
// (...) around those. A value filter followed by a sub-attribute and a
// comparison, `emails[type eq "work"].value eq "x"` or `attr[f].sub pr`, is
// accepted too (Entra sends it when an admin matches users by work e-mail);
// it means that one element satisfies both, and parses to the same tree as
// `emails[type eq "work" and value eq "x"]`.
//
// Attributes the server builds from its own base URL (meta.location, the
// $ref of members and groups) cannot be filtered on: no store holds them.
func Parse(rt *schemas.ResourceType, filter string) (Filter, error) {
	if rt == nil {
		return nil, fmt.Errorf("%w: no resource type", ErrInvalidFilter)
	}
	k := cacheKey{rt, filter}
	if f, ok := filterCache.get(k); ok {
		return f, nil
	}
	c := converter{rt: rt, sentinel: ErrInvalidFilter}
	// The common shapes (`userName eq "x"`, and-chains of comparisons) take
	// the fast path; anything else, and every error, the general one.
	f, ok := c.fastFilter(filter)
	if !ok {
		var err error
		if f, err = c.filter(filter); err != nil {
			return nil, err
		}
	}
	filterCache.put(k, f)
	return f, nil
}

// converter turns filter-parser's trees into ours. sentinel is the error every
// failure wraps (ErrInvalidFilter, or ErrInvalidPath for PATCH paths).
type converter struct {
	rt       *schemas.ResourceType
	sentinel error
	inPath   bool // converting a PATCH path: value filters on single-valued complex attributes are allowed

	// subPaths maps the lower-cased placeholder attribute names hoistSubPaths
	// puts in place of `attr[filter]` (when a ".sub" follows) to the text
	// they replace.
	subPaths map[string]string
}

func (c *converter) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{c.sentinel}, args...)...)
}

func (c *converter) filter(s string) (f Filter, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, c.errorf("cannot parse %s", excerpt(s))
		}
	}()
	s = strings.TrimSpace(s)
	if err := c.prescan(s, "filter"); err != nil {
		return nil, err
	}
	expr, err := filter.ParseFilterNumber([]byte(c.hoistSubPaths(s)))
	if err != nil {
		return nil, c.syntaxError(s)
	}
	return c.expr(expr, nil)
}

// hoistSubPaths makes `attr[filter].sub op value` parseable: filter-parser's
// filter grammar has no sub-attribute after a value filter (only its PATCH
// path grammar has), so each `attr[filter]` followed by "." is replaced by a
// placeholder attribute name, leaving `placeholder.sub op value`, which it
// parses as an ordinary comparison; attrExp then parses the saved
// `attr[filter]` on its own and joins the two (subPathExp). The placeholder
// is a name that occurs nowhere in s, so it cannot shadow what the client
// wrote. s is returned unchanged when it has no such value path, or has
// nested brackets (which the parser rejects anyway).
func (c *converter) hoistSubPaths(s string) string {
	if !strings.Contains(s, "].") {
		return s
	}
	base := "subpath"
	for strings.Contains(strings.ToLower(s), base) {
		base += "x"
	}
	var b strings.Builder
	last, open := 0, -1
	inString, escaped := false, false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case ch == '\\':
				escaped = true
			case ch == '"':
				inString = false
			}
			continue
		}
		switch ch {
		case '"':
			inString = true
		case '[':
			if open >= 0 {
				return s
			}
			open = i
		case ']':
			if open < 0 {
				return s
			}
			// A path starting right where the last hoisted one ended
			// (`a[x].b[y].c`) is a syntax error: leave it to the parser.
			start := attrPathStart(s, open)
			if i+1 < len(s) && s[i+1] == '.' && start >= 0 && (start > last || last == 0) {
				name := base + strconv.Itoa(len(c.subPaths))
				if c.subPaths == nil {
					c.subPaths = map[string]string{}
				}
				c.subPaths[name] = s[start : i+1]
				b.WriteString(s[last:start])
				b.WriteString(name)
				last = i + 1
			}
			open = -1
		}
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// attrPathStart returns where the attribute path before the "[" at open
// starts (the grammar allows spaces between them), or -1 if there is none.
func attrPathStart(s string, open int) int {
	j := open
	for j > 0 && s[j-1] == ' ' {
		j--
	}
	end := j
	for j > 0 {
		b := s[j-1]
		if !fastIsAlpha(b) && !fastIsDigit(b) && !strings.ContainsRune("-_.:$", rune(b)) {
			break
		}
		j--
	}
	if j == end {
		return -1
	}
	return j
}

// subPath returns the text a placeholder attribute name stands for.
func (c *converter) subPath(ap filter.AttributePath) (string, bool) {
	if c.subPaths == nil || ap.URIPrefix != nil {
		return "", false
	}
	text, ok := c.subPaths[strings.ToLower(ap.AttributeName)]
	return text, ok
}

// subPathExp converts `attr[filter].sub op value` (x, with attr[filter]
// hoisted out by hoistSubPaths) to attr[filter and sub op value].
func (c *converter) subPathExp(x *filter.AttributeExpression, text string, vp *schemas.Path) (Filter, error) {
	if vp != nil {
		return nil, c.errorf("value filters cannot be nested")
	}
	if x.AttributePath.SubAttribute == nil {
		return nil, c.errorf("syntax error in %s", excerpt(text))
	}
	fvp, err := filter.ParseValuePathNumber([]byte(text))
	if err != nil || fvp.ValueFilter == nil {
		return nil, c.syntaxError(text)
	}
	p, err := c.valuePathAttr(fvp.AttributePath)
	if err != nil {
		return nil, err
	}
	inner, err := c.expr(fvp.ValueFilter, &p)
	if err != nil {
		return nil, err
	}
	sub := *x
	sub.AttributePath = filter.AttributePath{AttributeName: *x.AttributePath.SubAttribute}
	cmp, err := c.attrExp(&sub, &p)
	if err != nil {
		return nil, err
	}
	return &ValuePath{Path: p, Filter: &And{Left: inner, Right: cmp}}, nil
}

// prescan checks what the parser reports badly or not at all: emptiness,
// length, unterminated strings, unbalanced or too deeply nested groups.
func (c *converter) prescan(s, what string) error {
	if s == "" {
		return c.errorf("empty %s", what)
	}
	if len(s) > maxInputLen {
		return c.errorf("%s longer than %d bytes", what, maxInputLen)
	}
	var stack [maxNesting]byte
	depth := 0
	inString, escaped := false, false
	for i := 0; i < len(s); i++ {
		b := s[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
			continue
		}
		switch b {
		case '"':
			inString = true
		case '(', '[':
			if depth == maxNesting {
				return c.errorf("%s nested more than %d levels deep", what, maxNesting)
			}
			stack[depth] = b
			depth++
		case ')', ']':
			open := byte('(')
			if b == ']' {
				open = '['
			}
			if depth == 0 || stack[depth-1] != open {
				return c.errorf("unbalanced %q at position %d", b, i+1)
			}
			depth--
		}
	}
	if inString {
		return c.errorf("unterminated string in %s", excerpt(s))
	}
	if depth > 0 {
		closing := ")"
		if stack[depth-1] == '[' {
			closing = "]"
		}
		return c.errorf("missing %q in %s", closing, excerpt(s))
	}
	return nil
}

func (c *converter) syntaxError(s string) error {
	hint := `expected attrPath op value, attrPath pr, attr[filter], attr[filter].sub op value or not (filter), joined by and/or; strings in double quotes`
	if strings.Contains(s, "[") {
		hint += `; a value filter holds one comparison, or two joined by and/or`
	}
	return c.errorf("syntax error in %s (%s)", excerpt(s), hint)
}

// excerpt quotes s for an error message, shortened if long.
func excerpt(s string) string {
	const n = 80
	if len(s) > n {
		return strconv.Quote(s[:n]) + "..."
	}
	return strconv.Quote(s)
}

// expr converts e. vp is the attribute of the enclosing value filter, or nil.
func (c *converter) expr(e filter.Expression, vp *schemas.Path) (Filter, error) {
	switch x := e.(type) {
	case *filter.LogicalExpression:
		if x == nil || x.Left == nil || x.Right == nil {
			break
		}
		l, err := c.expr(x.Left, vp)
		if err != nil {
			return nil, err
		}
		r, err := c.expr(x.Right, vp)
		if err != nil {
			return nil, err
		}
		switch strings.ToLower(string(x.Operator)) {
		case string(filter.AND):
			return &And{Left: l, Right: r}, nil
		case string(filter.OR):
			return &Or{Left: l, Right: r}, nil
		}
		return nil, c.errorf("unknown logical operator %q", x.Operator)
	case *filter.NotExpression:
		if x == nil || x.Expression == nil {
			break
		}
		inner, err := c.expr(x.Expression, vp)
		if err != nil {
			return nil, err
		}
		return &Not{X: inner}, nil
	case *filter.AttributeExpression:
		if x == nil {
			break
		}
		return c.attrExp(x, vp)
	case *filter.ValuePath:
		if x == nil || x.ValueFilter == nil {
			break
		}
		if vp != nil {
			return nil, c.errorf("value filters cannot be nested")
		}
		p, err := c.valuePathAttr(x.AttributePath)
		if err != nil {
			return nil, err
		}
		inner, err := c.expr(x.ValueFilter, &p)
		if err != nil {
			return nil, err
		}
		return &ValuePath{Path: p, Filter: inner}, nil
	}
	return nil, c.errorf("unsupported expression")
}

// resolve resolves an attribute path against the resource type.
func (c *converter) resolve(ap filter.AttributePath) (schemas.Path, error) {
	if text, ok := c.subPath(ap); ok {
		return schemas.Path{}, c.errorf("%s must be followed by a comparison (op value, or pr)", excerpt(text+"."+deref(ap.SubAttribute)))
	}
	s := ap.AttributeName
	if ap.SubAttribute != nil {
		s += "." + *ap.SubAttribute
	}
	if ap.URIPrefix != nil {
		s = *ap.URIPrefix + ":" + s
	}
	p, err := c.rt.ResolvePath(s)
	if err != nil {
		return schemas.Path{}, c.errorf("unknown attribute %q of %s", s, c.rt.Name)
	}
	return p, nil
}

// valuePathAttr resolves the attribute of attr[...]: a multi-valued complex
// attribute (in PATCH paths any complex attribute, for manager[value eq "id"]).
func (c *converter) valuePathAttr(ap filter.AttributePath) (schemas.Path, error) {
	p, err := c.resolve(ap)
	if err != nil {
		return p, err
	}
	if p.Sub != nil {
		return schemas.Path{}, c.errorf("value filter on sub-attribute %q: only a complex attribute can take one", p)
	}
	if !p.Attr.IsComplex() || (!c.inPath && !p.Attr.MultiValued) {
		return schemas.Path{}, c.errorf("value filter on %q: only a multi-valued complex attribute can take one", p)
	}
	return p, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (c *converter) attrExp(x *filter.AttributeExpression, vp *schemas.Path) (Filter, error) {
	if text, ok := c.subPath(x.AttributePath); ok {
		return c.subPathExp(x, text, vp)
	}
	var p schemas.Path
	if vp != nil {
		ap := x.AttributePath
		if ap.URIPrefix != nil || ap.SubAttribute != nil {
			return nil, c.errorf("%q in the value filter of %q must be a sub-attribute name", ap.String(), vp)
		}
		sub := vp.Attr.Sub(ap.AttributeName)
		if sub == nil {
			return nil, c.errorf("unknown sub-attribute %q of %q", ap.AttributeName, vp)
		}
		p = schemas.Path{URN: vp.URN, Attr: vp.Attr, Sub: sub}
	} else {
		var err error
		if p, err = c.resolve(x.AttributePath); err != nil {
			return nil, err
		}
	}
	leaf := p.Leaf()
	if leaf.Returned == schemas.ReturnedNever {
		return nil, c.errorf("attribute %q cannot be used in a filter", p)
	}
	if why := serverBuilt(p); why != "" && !c.inPath {
		return nil, c.errorf("attribute %q cannot be used in a filter: %s", p, why)
	}
	op := Op(strings.ToLower(string(x.Operator)))
	switch op {
	case Eq, Ne, Co, Sw, Ew, Gt, Ge, Lt, Le, Pr:
	default:
		return nil, c.errorf("unknown operator %q", x.Operator)
	}
	if op == Pr {
		return &Compare{Path: p, Op: Pr}, nil
	}
	if leaf.IsComplex() {
		v := leaf.Sub("value")
		if v == nil {
			return nil, c.errorf("%q is a complex attribute without a value sub-attribute: name one of its sub-attributes or use pr", p)
		}
		p.Sub, leaf = v, v
	}
	val, err := c.value(p, leaf, op, x.CompareValue)
	if err != nil {
		return nil, err
	}
	return &Compare{Path: p, Op: op, Value: val}, nil
}

// serverBuilt says why p cannot be filtered on when the server builds its
// value from its base URL when rendering (so no store holds it), or returns "".
func serverBuilt(p schemas.Path) string {
	if p.URN != "" || p.Sub == nil || p.Attr == nil {
		return ""
	}
	switch {
	case p.Attr.Name == "meta" && p.Sub.Name == "location":
		return "it is built from the server's base URL; filter on id instead"
	case p.Sub.Name == "$ref" && (p.Attr.Name == "members" && p.Attr.SchemaURN == schemas.GroupURN ||
		p.Attr.Name == "groups" && p.Attr.SchemaURN == schemas.UserURN):
		return "it is built from the server's base URL; filter on " + p.Attr.Name + ".value (the id) instead"
	}
	return ""
}

// value checks and normalises the comparison value of `p op raw`.
func (c *converter) value(p schemas.Path, leaf *schemas.Attribute, op Op, raw any) (any, error) {
	if raw == nil {
		if op == Eq || op == Ne {
			return nil, nil
		}
		return nil, c.errorf("%q %s null: only eq and ne take null", p, op)
	}
	ordering := op == Gt || op == Ge || op == Lt || op == Le
	substring := op == Co || op == Sw || op == Ew
	str, isString := raw.(string)
	if isString {
		var ok bool
		if str, ok = unescape(str); !ok {
			return nil, c.errorf("bad escape sequence in string %s", excerpt(str))
		}
	}
	switch leaf.Type {
	case schemas.TypeBoolean:
		if ordering || substring {
			return nil, c.errorf("operator %s is not supported on boolean attribute %q", op, p)
		}
		switch v := raw.(type) {
		case bool:
			return v, nil
		case string:
			// Entra's validator sends [primary eq "True"].
			if strings.EqualFold(str, "true") {
				return true, nil
			}
			if strings.EqualFold(str, "false") {
				return false, nil
			}
		}
		return nil, c.errorf("%q is a boolean attribute: compare it with true or false", p)
	case schemas.TypeInteger, schemas.TypeDecimal:
		if substring {
			return nil, c.errorf("operator %s is not supported on numeric attribute %q", op, p)
		}
		n, ok := raw.(json.Number)
		if !ok {
			return nil, c.errorf("%q is a number attribute: compare it with a number", p)
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, c.errorf("number %s out of range", n)
		}
		if leaf.Type == schemas.TypeInteger && f != math.Trunc(f) {
			return nil, c.errorf("%q is an integer attribute: %s is not an integer", p, n)
		}
		return f, nil
	case schemas.TypeDateTime:
		if substring {
			return nil, c.errorf("operator %s is not supported on dateTime attribute %q", op, p)
		}
		if !isString {
			return nil, c.errorf("%q is a dateTime attribute: compare it with an RFC 3339 string", p)
		}
		if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
			return nil, c.errorf("%s is not an RFC 3339 dateTime", excerpt(str))
		}
		return str, nil
	case schemas.TypeBinary:
		if ordering {
			return nil, c.errorf("operator %s is not supported on binary attribute %q", op, p)
		}
	}
	if !isString {
		return nil, c.errorf("%q is a %s attribute: compare it with a string", p, leaf.Type)
	}
	return str, nil
}

// unescape decodes the JSON escapes of a string literal's raw content.
func unescape(raw string) (string, bool) {
	if !strings.Contains(raw, `\`) {
		return raw, true
	}
	var s string
	if err := json.Unmarshal([]byte(`"`+raw+`"`), &s); err != nil {
		return "", false
	}
	return s, true
}
