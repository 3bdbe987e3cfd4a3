package query

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	filter "github.com/scim2/filter-parser/v2"
)

// fastFilter parses the filter shapes nearly every client sends, without
// filter-parser (which costs ~13µs per byte):
//
//	attrPath SP+ compareOp SP+ compValue
//	attrPath SP+ "pr"
//	attrPath "[" attrExp "]." subAttr SP+ compareOp SP+ compValue (or SP+ "pr")
//
// and chains of those joined by SP+ "and" SP+. The third is Entra's matching
// query when the work e-mail is the matching attribute
// (`emails[type eq "work"].value eq "x"`), sent with a new address for every
// user, so the parse cache cannot help it. Only the tokenising is done
// here, and only for inputs it accepts exactly as filter-parser's grammar does
// (same spacing, case folding, string escapes, number syntax); attribute
// resolution and value checks go through converter.attrExp, as on the general
// path, and the chain is nested to the left as filter-parser nests it, so the
// result is the tree the general path builds.
//
// It returns ok=false for anything else — or, not, groups, value paths, tabs,
// non-ASCII outside strings, value paths of other shapes, and every input with
// an error of any kind — and the caller falls back to the general path, which
// decides the error.
func (c *converter) fastFilter(s string) (f Filter, ok bool) {
	defer func() {
		if recover() != nil {
			f, ok = nil, false
		}
	}()
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxInputLen {
		return nil, false
	}
	for {
		cmp, n, ok := c.fastConjunct(s)
		if !ok {
			return nil, false
		}
		if f == nil {
			f = cmp
		} else {
			f = &And{Left: f, Right: cmp}
		}
		s = s[n:]
		if s == "" {
			return f, true
		}
		// SP+ "and" SP+
		rest := fastSkipSP(s)
		if len(rest) == len(s) || len(rest) < 3 || !fastWordIs(rest[:3], "and") {
			return nil, false
		}
		s = fastSkipSP(rest[3:])
		if len(s) == len(rest)-3 {
			return nil, false
		}
	}
}

// fastConjunct converts one comparison, or one value path followed by a
// sub-attribute comparison, at the start of s. n is the number of bytes
// consumed.
func (c *converter) fastConjunct(s string) (f Filter, n int, ok bool) {
	if x, n, ok := fastAttrExp(s, 0); ok {
		cmp, err := c.attrExp(&x, nil)
		return cmp, n, err == nil
	}
	return c.fastSubPath(s)
}

// fastSubPath converts `attrPath "[" attrExp "]." subAttr SP+ op SP+ value`
// (or `SP+ pr`) at the start of s, with no spaces next to the brackets, to
// the tree the general path builds for it (see subPathExp):
// attr[attrExp and subAttr op value].
func (c *converter) fastSubPath(s string) (Filter, int, bool) {
	open := strings.IndexByte(s, '[')
	if open <= 0 {
		return nil, 0, false
	}
	ap, ok := fastAttrPath(s[:open])
	if !ok {
		return nil, 0, false
	}
	in, m, ok := fastAttrExp(s[open+1:], ']')
	if !ok {
		return nil, 0, false
	}
	rest := s[open+1+m:]
	if len(rest) < 2 || rest[0] != ']' || rest[1] != '.' {
		return nil, 0, false
	}
	sub, k, ok := fastAttrExp(rest[2:], 0)
	if !ok || sub.AttributePath.URIPrefix != nil || sub.AttributePath.SubAttribute != nil {
		return nil, 0, false
	}
	p, err := c.valuePathAttr(ap)
	if err != nil {
		return nil, 0, false
	}
	inner, err := c.attrExp(&in, &p)
	if err != nil {
		return nil, 0, false
	}
	cmp, err := c.attrExp(&sub, &p)
	if err != nil {
		return nil, 0, false
	}
	return &ValuePath{Path: p, Filter: &And{Left: inner, Right: cmp}}, open + 1 + m + 2 + k, true
}

// fastAttrExp scans `attrPath SP+ op SP+ value` or `attrPath SP+ pr` at the
// start of s, stopping at the end of s, at the space after it or, if end is
// not 0, at end right after it. n is the number of bytes consumed.
func fastAttrExp(s string, end byte) (x filter.AttributeExpression, n int, ok bool) {
	// attrPath: everything up to the first space.
	sp := strings.IndexByte(s, ' ')
	if sp <= 0 {
		return x, 0, false
	}
	if x.AttributePath, ok = fastAttrPath(s[:sp]); !ok {
		return x, 0, false
	}
	rest := fastSkipSP(s[sp:])

	// compareOp or pr: two ASCII letters followed by a space or the end.
	if len(rest) < 2 || (len(rest) > 2 && rest[2] != ' ' && (end == 0 || rest[2] != end)) {
		return x, 0, false
	}
	op := rest[:2]
	if fastWordIs(op, "pr") {
		x.Operator = filter.PR
		return x, len(s) - len(rest) + 2, true
	}
	if len(rest) > 2 && rest[2] != ' ' {
		return x, 0, false
	}
	switch lower := string([]byte{fastLower(op[0]), fastLower(op[1])}); lower {
	case "eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le":
		x.Operator = filter.CompareOperator(lower)
	default:
		return x, 0, false
	}
	if len(rest) == 2 {
		return x, 0, false
	}
	val := fastSkipSP(rest[2:])
	if len(val) == len(rest)-2 {
		return x, 0, false
	}

	// compValue, followed by a space or the end.
	var m int
	if x.CompareValue, m, ok = fastValue(val); !ok {
		return x, 0, false
	}
	if m < len(val) && val[m] != ' ' && (end == 0 || val[m] != end) {
		return x, 0, false
	}
	return x, len(s) - len(val) + m, true
}

// fastAttrPath checks tok against the attrPath grammar of filter-parser
//
//	AttrPath <- Uri? AttrName ('.' AttrName)?
//	Uri      <- ([a-zA-Z0-9.]+ ':')+          (greedy)
//	AttrName <- alpha ('-' / '_' / digit / alpha)*
//
// (less its rare optional '$' before AttrName) and splits it as filter-parser
// does: the URI prefix is everything before the last ':', without that ':'.
func fastAttrPath(tok string) (ap filter.AttributePath, ok bool) {
	name := tok
	if i := strings.LastIndexByte(tok, ':'); i >= 0 {
		uri := tok[:i]
		for seg := range strings.SplitSeq(uri, ":") {
			if seg == "" {
				return ap, false
			}
			for j := 0; j < len(seg); j++ {
				if b := seg[j]; !fastIsAlpha(b) && !fastIsDigit(b) && b != '.' {
					return ap, false
				}
			}
		}
		ap.URIPrefix = &uri
		name = tok[i+1:]
	}
	attr, sub, hasSub := strings.Cut(name, ".")
	if !fastIsAttrName(attr) || (hasSub && !fastIsAttrName(sub)) {
		return ap, false
	}
	ap.AttributeName = attr
	if hasSub {
		ap.SubAttribute = &sub
	}
	return ap, true
}

func fastIsAttrName(s string) bool {
	if s == "" || !fastIsAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if b := s[i]; !fastIsAlpha(b) && !fastIsDigit(b) && b != '-' && b != '_' {
			return false
		}
	}
	return true
}

// fastValue scans a compValue at the start of s: a string (its raw content
// between the quotes, as filter-parser returns it), true, false, null (any
// case) or a number (a json.Number spelled as filter-parser rebuilds it). n is
// the number of bytes consumed.
func fastValue(s string) (v any, n int, ok bool) {
	if s == "" {
		return nil, 0, false
	}
	if s[0] == '"' {
		return fastString(s)
	}
	end := strings.IndexByte(s, ' ')
	if end < 0 {
		end = len(s)
	}
	tok := s[:end]
	switch {
	case fastWordIs(tok, "true"):
		return true, end, true
	case fastWordIs(tok, "false"):
		return false, end, true
	case fastWordIs(tok, "null"):
		return nil, end, true
	}
	if num, ok := fastNumber(tok); ok {
		return num, end, true
	}
	return nil, 0, false
}

// fastString scans a string literal at the start of s (s[0] is '"') as
// filter-parser's grammar does:
//
//	String    <- '"' Character* '"'
//	Character <- Unescaped / '\' Escaped
//	Unescaped <- [x20-x21] / [x23-x5B] / [x5D-x10FFFF]
//	Escaped   <- '"' / '\' / '/' / 'b' / 'f' / 'n' / 'r' / 't' / 'u' [0-9A-F]{4}
//
// (upper-case hex digits only), and additionally requires valid UTF-8. It
// returns the raw content; converter.value unescapes it.
func fastString(s string) (v any, n int, ok bool) {
	ascii := true
	for i := 1; i < len(s); i++ {
		switch b := s[i]; {
		case b == '"':
			raw := s[1:i]
			if !ascii && !utf8.ValidString(raw) {
				return nil, 0, false
			}
			return raw, i + 1, true
		case b < 0x20:
			return nil, 0, false
		case b >= utf8.RuneSelf:
			ascii = false
		case b == '\\':
			i++
			if i >= len(s) {
				return nil, 0, false
			}
			switch s[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(s) {
					return nil, 0, false
				}
				for _, h := range []byte(s[i+1 : i+5]) {
					if !fastIsDigit(h) && (h < 'A' || h > 'F') {
						return nil, 0, false
					}
				}
				i += 4
			default:
				return nil, 0, false
			}
		}
	}
	return nil, 0, false
}

// fastNumber checks tok against filter-parser's (JSON's) number grammar
//
//	Number <- '-'? ('0' / [1-9] [0-9]*) ('.' [0-9]+)? ([eE] [-+]? [0-9]+)?
//
// and returns it as filter-parser rebuilds it: with a lower-case 'e'.
func fastNumber(tok string) (json.Number, bool) {
	i := 0
	if i < len(tok) && tok[i] == '-' {
		i++
	}
	switch {
	case i < len(tok) && tok[i] == '0':
		i++
	case i < len(tok) && tok[i] >= '1' && tok[i] <= '9':
		i = fastDigits(tok, i+1)
	default:
		return "", false
	}
	if i < len(tok) && tok[i] == '.' {
		j := fastDigits(tok, i+1)
		if j == i+1 {
			return "", false
		}
		i = j
	}
	exp := i
	if i < len(tok) && (tok[i] == 'e' || tok[i] == 'E') {
		i++
		if i < len(tok) && (tok[i] == '-' || tok[i] == '+') {
			i++
		}
		j := fastDigits(tok, i)
		if j == i {
			return "", false
		}
		i = j
	}
	if i != len(tok) {
		return "", false
	}
	if exp < len(tok) && tok[exp] == 'E' {
		return json.Number(tok[:exp] + "e" + tok[exp+1:]), true
	}
	return json.Number(tok), true
}

func fastDigits(s string, i int) int {
	for i < len(s) && fastIsDigit(s[i]) {
		i++
	}
	return i
}

func fastSkipSP(s string) string {
	i := 0
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return s[i:]
}

func fastIsAlpha(b byte) bool { return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' }
func fastIsDigit(b byte) bool { return '0' <= b && b <= '9' }

func fastLower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + ('a' - 'A')
	}
	return b
}

// fastWordIs reports whether s equals the lower-case ASCII word w, ignoring
// ASCII case only (unlike strings.EqualFold, "ſ" is not "s").
func fastWordIs(s, w string) bool {
	if len(s) != len(w) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if fastLower(s[i]) != w[i] {
			return false
		}
	}
	return true
}
