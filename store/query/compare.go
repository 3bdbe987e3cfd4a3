package query

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scimbridge/scimbridge/schemas"
)

// scalar tests one value x of c's attribute against `op c.Value`. op is never
// Ne (see effectiveOp); Pr tests presence.
func scalar(x any, c *Compare, op Op) bool {
	if op == Pr {
		return present(x)
	}
	leaf := c.Path.Leaf()
	if leaf == nil {
		return false
	}
	switch leaf.Type {
	case schemas.TypeBoolean:
		b, ok := toBool(x)
		want, ok2 := toBool(c.Value)
		return ok && ok2 && op == Eq && b == want
	case schemas.TypeInteger, schemas.TypeDecimal:
		n, ok := toFloat(x)
		want, ok2 := toFloat(c.Value)
		if !ok || !ok2 || math.IsNaN(n) || math.IsNaN(want) {
			return false
		}
		switch {
		case n < want:
			return order(op, -1)
		case n > want:
			return order(op, 1)
		}
		return order(op, 0)
	case schemas.TypeDateTime:
		t, ok := toTime(x)
		want, ok2 := toTime(c.Value)
		return ok && ok2 && order(op, t.Compare(want))
	case schemas.TypeComplex:
		return false
	}
	s, ok := x.(string)
	want, ok2 := c.Value.(string)
	return ok && ok2 && matchString(op, s, want, leaf.CaseExact || isMembershipID(c.Path))
}

// isMembershipID reports whether p is a group's members.value or a user's
// groups.value. Their values are resource ids, which are case-exact, although
// RFC 7643 marks both caseExact=false; the index planner (FieldMemberValue,
// FieldGroupValue) compares them exactly too, and Match must agree with it.
func isMembershipID(p schemas.Path) bool {
	if p.URN != "" || p.Sub == nil || p.Sub.Name != "value" {
		return false
	}
	return p.Attr.Name == "members" && p.Attr.SchemaURN == schemas.GroupURN ||
		p.Attr.Name == "groups" && p.Attr.SchemaURN == schemas.UserURN
}

// order reports whether a comparison result cmp (-1, 0, 1) satisfies op; the
// substring operators never hold for ordered types.
func order(op Op, cmp int) bool {
	switch op {
	case Eq:
		return cmp == 0
	case Gt:
		return cmp > 0
	case Ge:
		return cmp >= 0
	case Lt:
		return cmp < 0
	case Le:
		return cmp <= 0
	}
	return false
}

// present reports whether x is a present, non-empty value.
func present(x any) bool {
	switch v := x.(type) {
	case nil:
		return false
	case string:
		return v != ""
	case []any:
		for _, el := range v {
			if present(el) {
				return true
			}
		}
		return false
	case []string:
		for _, el := range v {
			if el != "" {
				return true
			}
		}
		return false
	case []map[string]any:
		for _, el := range v {
			if present(el) {
				return true
			}
		}
		return false
	case map[string]any:
		for _, el := range v {
			if present(el) {
				return true
			}
		}
		return false
	}
	return true
}

// matchString applies a string operator, case-insensitively unless exact.
// Case-insensitive means comparing strings.ToLower of both sides; ASCII
// strings take an allocation-free path with the same result.
func matchString(op Op, s, want string, exact bool) bool {
	if !exact {
		if isASCII(s) && isASCII(want) {
			return matchASCIIFold(op, s, want)
		}
		s, want = strings.ToLower(s), strings.ToLower(want)
	}
	switch op {
	case Eq:
		return s == want
	case Co:
		return strings.Contains(s, want)
	case Sw:
		return strings.HasPrefix(s, want)
	case Ew:
		return strings.HasSuffix(s, want)
	}
	return order(op, strings.Compare(s, want))
}

func matchASCIIFold(op Op, s, want string) bool {
	switch op {
	case Eq:
		return len(s) == len(want) && equalASCIIFold(s, want)
	case Co:
		for i := 0; i+len(want) <= len(s); i++ {
			if equalASCIIFold(s[i:i+len(want)], want) {
				return true
			}
		}
		return false
	case Sw:
		return len(s) >= len(want) && equalASCIIFold(s[:len(want)], want)
	case Ew:
		return len(s) >= len(want) && equalASCIIFold(s[len(s)-len(want):], want)
	}
	return order(op, compareASCIIFold(s, want))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func lowerASCII(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + ('a' - 'A')
	}
	return b
}

// equalASCIIFold compares two ASCII strings of equal length.
func equalASCIIFold(a, b string) bool {
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func compareASCIIFold(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		x, y := lowerASCII(a[i]), lowerASCII(b[i])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

// toBool accepts bools and, tolerantly, the strings "true"/"false" in any case.
func toBool(x any) (bool, bool) {
	switch v := x.(type) {
	case bool:
		return v, true
	case string:
		if strings.EqualFold(v, "true") {
			return true, true
		}
		if strings.EqualFold(v, "false") {
			return false, true
		}
	}
	return false, false
}

func toFloat(x any) (float64, bool) {
	switch v := x.(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case int32:
		return float64(v), true
	case uint64:
		return float64(v), true
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		return f, err == nil
	}
	return 0, false
}

func toTime(x any) (time.Time, bool) {
	switch v := x.(type) {
	case string:
		t, err := time.Parse(time.RFC3339Nano, v)
		return t, err == nil
	case time.Time:
		return v, true
	}
	return time.Time{}, false
}
