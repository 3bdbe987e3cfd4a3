package query

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// String returns the filter in SCIM syntax with canonical attribute names;
// Parse accepts it back. Nested logical operations are parenthesised.
func (f *And) String() string { return logical(f.Left, "and", f.Right) }

// String returns the filter in SCIM syntax; see And.String.
func (f *Or) String() string { return logical(f.Left, "or", f.Right) }

// String returns the filter in SCIM syntax; see And.String.
func (f *Not) String() string { return "not (" + str(f.X) + ")" }

// String returns the comparison in SCIM syntax. Inside a value path the
// sub-attribute's name is used alone.
func (f *Compare) String() string { return compareString(f, false) }

// String returns the value path in SCIM syntax. A value filter the grammar
// cannot hold in brackets alone, `f and sub op value` where f is not a single
// comparison (parsed from `attr[f].sub op value`), is printed in that form.
func (f *ValuePath) String() string {
	if a, ok := f.Filter.(*And); ok {
		_, leftCmp := a.Left.(*Compare)
		if c, ok := a.Right.(*Compare); ok && !leftCmp && c.Path.Sub != nil {
			return f.Path.String() + "[" + elemString(a.Left) + "]." + compareString(c, true)
		}
	}
	return f.Path.String() + "[" + elemString(f.Filter) + "]"
}

// String returns the path in SCIM PATCH syntax.
func (p PathExpr) String() string {
	if p.Path.Attr == nil {
		return ""
	}
	s := p.Path.String()
	if p.Filter != nil {
		s += "[" + elemString(p.Filter) + "]"
	}
	if p.Sub != nil {
		s += "." + p.Sub.Name
	}
	return s
}

func str(f Filter) string {
	if s, ok := f.(interface{ String() string }); ok && f != nil {
		return s.String()
	}
	return "<nil>"
}

func logical(l Filter, op string, r Filter) string {
	return group(l) + " " + op + " " + group(r)
}

// group parenthesises nested logical operations.
func group(f Filter) string {
	switch f.(type) {
	case *And, *Or:
		return "(" + str(f) + ")"
	}
	return str(f)
}

// elemString prints a value filter, whose comparisons name sub-attributes only.
func elemString(f Filter) string {
	switch x := f.(type) {
	case *And:
		return elemGroup(x.Left) + " and " + elemGroup(x.Right)
	case *Or:
		return elemGroup(x.Left) + " or " + elemGroup(x.Right)
	case *Not:
		return "not (" + elemString(x.X) + ")"
	case *Compare:
		return compareString(x, true)
	}
	return str(f)
}

func elemGroup(f Filter) string {
	switch f.(type) {
	case *And, *Or:
		return "(" + elemString(f) + ")"
	}
	return elemString(f)
}

func compareString(c *Compare, inElement bool) string {
	var path string
	switch {
	case c.Path.Attr == nil:
		path = "<nil>"
	case inElement && c.Path.Sub != nil:
		path = c.Path.Sub.Name
	default:
		path = c.Path.String()
	}
	if c.Op == Pr {
		return path + " pr"
	}
	return path + " " + string(c.Op) + " " + literal(c.Value)
}

func literal(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return quote(x)
	}
	return quote("")
}

// quote writes s as a string literal the filter grammar accepts: JSON escapes
// with upper-case \u hex digits.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == utf8.RuneError:
			b.WriteString(`\u`)
			h := strings.ToUpper(strconv.FormatInt(int64(r), 16))
			b.WriteString(strings.Repeat("0", 4-len(h)) + h)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
