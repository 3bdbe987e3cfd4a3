package schemas

import (
	"sort"
	"strings"
)

// Default string length limits, in bytes of UTF-8.
const (
	// DefaultMaxStringBytes caps any string attribute value.
	DefaultMaxStringBytes = 4096
	// DefaultMaxIdentifierBytes caps the values clients match on and the
	// stores index: userName, externalId and emails[].value.
	DefaultMaxIdentifierBytes = 256
)

// identifierPaths are the attributes StringLimits.MaxIdentifierBytes caps
// (canonical paths as OverLimit names them).
var identifierPaths = map[string]bool{"userName": true, "externalId": true, "emails.value": true}

// StringLimits caps the length in bytes of the string values of a resource.
// Zero fields mean the defaults.
type StringLimits struct {
	MaxBytes           int
	MaxIdentifierBytes int
}

// OverLimit is one string value longer than its limit.
type OverLimit struct {
	// Attribute is the value's canonical path: "userName",
	// "name.givenName", "emails.value",
	// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value".
	Attribute string
	Bytes     int
	Limit     int
}

// LimitFor returns the limit of the attribute at path (as OverLimit names it).
func (l StringLimits) LimitFor(path string) int {
	if identifierPaths[path] {
		if l.MaxIdentifierBytes > 0 {
			return l.MaxIdentifierBytes
		}
		return DefaultMaxIdentifierBytes
	}
	if l.MaxBytes > 0 {
		return l.MaxBytes
	}
	return DefaultMaxStringBytes
}

// Check returns the string values of attrs (a stored resource's attributes:
// canonical names, extensions under their URN) that exceed their limit,
// sorted by attribute. A value equal to one found at the same path in
// allowed is not reported: a value stored before (by an import, or under a
// larger limit) does not block later changes to other attributes. allowed
// may be nil.
func (l StringLimits) Check(attrs, allowed map[string]any) []OverLimit {
	var out []OverLimit
	var keep map[string]map[string]bool
	walkResource(attrs, func(path, s string) {
		limit := l.LimitFor(path)
		if len(s) <= limit {
			return
		}
		if allowed != nil {
			if keep == nil {
				keep = map[string]map[string]bool{}
				walkResource(allowed, func(p, v string) {
					if len(v) > l.LimitFor(p) {
						if keep[p] == nil {
							keep[p] = map[string]bool{}
						}
						keep[p][v] = true
					}
				})
			}
			if keep[path][s] {
				return
			}
		}
		out = append(out, OverLimit{Attribute: path, Bytes: len(s), Limit: limit})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Attribute < out[j].Attribute })
	return out
}

// walkResource calls f with the path of every string in a resource's
// attributes. A top-level key that is a URN is an extension: its attributes
// are joined to it with ":", sub-attributes everywhere with ".".
func walkResource(attrs map[string]any, f func(path, s string)) {
	for k, v := range attrs {
		ext, isExt := v.(map[string]any)
		if !isExt || !strings.HasPrefix(strings.ToLower(k), "urn:") {
			walkStrings(k, v, f)
			continue
		}
		for ek, ev := range ext {
			walkStrings(k+":"+ek, ev, f)
		}
	}
}

func walkStrings(path string, v any, f func(path, s string)) {
	switch x := v.(type) {
	case string:
		f(path, x)
	case []any:
		for _, e := range x {
			walkStrings(path, e, f)
		}
	case map[string]any:
		for k, e := range x {
			walkStrings(path+"."+k, e, f)
		}
	}
}
