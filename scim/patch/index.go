package patch

// Indexes over the elements of a multi-valued attribute, so that a request's
// operations cost what they touch rather than the length of the attribute
// (which earlier operations may have grown): without them, N operations
// adding to one attribute, or addressing its elements by a value filter,
// cost O(N²).

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store/query"
)

// listIndex describes one owned list of a multi-valued attribute by
// position. It is valid while the attribute's value is that list (same
// backing array and length): appends through the index keep it valid, any
// other change of the attribute drops it (see engine.set), and changes in
// place that alter indexed content drop the affected parts.
type listIndex struct {
	list []any
	// byKey maps dedupKey of each element to its positions (nil: not built).
	byKey map[string][]int
	// bySub maps a string sub-attribute's name to the positions of the
	// elements by strings.ToLower of that sub-attribute's value (a missing
	// name: not built).
	bySub map[string]map[string][]int
	// primary is the position of the one element with primary true, -1 if
	// none, unknownPrimary until the list has been normalised once.
	primary int
}

const unknownPrimary = -2

// indexMin is the list length from which lookups go through the index:
// shorter lists (nearly all) are scanned, which is cheaper than building it.
const indexMin = 16

// sameList reports whether v is the slice l (same backing array and length).
func sameList(l []any, v any) bool {
	w, ok := v.([]any)
	if !ok || len(w) != len(l) {
		return false
	}
	return len(l) == 0 || &w[0] == &l[0]
}

// index returns the index of list, the owned value of a, creating an empty
// one if there is none or it describes another list.
func (e *engine) index(a *schemas.Attribute, list []any) *listIndex {
	if ix := e.lists[a]; ix != nil && sameList(ix.list, list) {
		return ix
	}
	ix := &listIndex{list: list, primary: unknownPrimary}
	if e.lists == nil {
		e.lists = map[*schemas.Attribute]*listIndex{}
	}
	e.lists[a] = ix
	return ix
}

// keys returns byKey, building it on first use.
func (ix *listIndex) keys() map[string][]int {
	if ix.byKey == nil {
		ix.byKey = make(map[string][]int, len(ix.list))
		for i, el := range ix.list {
			k := dedupKey(el)
			ix.byKey[k] = append(ix.byKey[k], i)
		}
	}
	return ix.byKey
}

// values returns bySub[sub], building it on first use.
func (ix *listIndex) values(sub string) map[string][]int {
	if m, ok := ix.bySub[sub]; ok {
		return m
	}
	if ix.bySub == nil {
		ix.bySub = map[string]map[string][]int{}
	}
	m := make(map[string][]int, len(ix.list))
	for i, el := range ix.list {
		if k, ok := subKey(el, sub); ok {
			m[k] = append(m[k], i)
		}
	}
	ix.bySub[sub] = m
	return m
}

// appended records that list (which now backs the attribute) got a new
// element at position i.
func (ix *listIndex) appended(list []any, i int) {
	ix.list = list
	el := list[i]
	if ix.byKey != nil {
		k := dedupKey(el)
		ix.byKey[k] = append(ix.byKey[k], i)
	}
	for sub, m := range ix.bySub {
		if k, ok := subKey(el, sub); ok {
			m[k] = append(m[k], i)
		}
	}
}

// changed records that elements were changed in place: sub names the one
// sub-attribute that changed, "" means any part of them.
func (ix *listIndex) changed(sub string) {
	ix.byKey = nil
	if sub == "" {
		ix.bySub = nil
		return
	}
	delete(ix.bySub, sub)
}

// dedupKey groups elements that may be equal: an encoding of the element
// without its top-level "primary" (which normalising changes in place) that
// is the same for equal values; equal decides.
func dedupKey(el any) string {
	return string(appendKey(nil, el, true))
}

func appendKey(b []byte, v any, top bool) []byte {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			if !top || k != "primary" {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		b = append(b, '{')
		for _, k := range keys {
			b = strconv.AppendQuote(b, k)
			b = append(b, ':')
			b = appendKey(b, x[k], false)
			b = append(b, ',')
		}
		return append(b, '}')
	case []any:
		b = append(b, '[')
		for _, e := range x {
			b = appendKey(b, e, false)
			b = append(b, ',')
		}
		return append(b, ']')
	case string:
		return strconv.AppendQuote(b, x)
	case float64:
		return strconv.AppendFloat(b, x, 'g', -1, 64)
	case bool:
		return strconv.AppendBool(b, x)
	case nil:
		return append(b, "null"...)
	}
	j, _ := json.Marshal(v) // other types: equal decides anyway
	return append(b, j...)
}

// subKey is an element's index key for sub: the lower-cased string value.
// Elements whose sub is not a string are not indexed.
func subKey(el any, sub string) (string, bool) {
	m, ok := el.(map[string]any)
	if !ok {
		return "", false
	}
	_, v, _ := lookup(m, sub)
	s, ok := v.(string)
	if !ok {
		return "", false
	}
	return strings.ToLower(s), true
}

// indexTerm finds a term of f that every matching element satisfies and
// the index can answer: `sub eq "string"` on a string or reference
// sub-attribute, at the top of f or anywhere in an and-chain. (query
// compares such strings case-insensitively as strings.ToLower of both
// sides, or exactly; either way a match has the same lower-cased value.)
func indexTerm(f query.Filter) (sub, key string, ok bool) {
	switch x := f.(type) {
	case *query.And:
		if sub, key, ok = indexTerm(x.Left); ok {
			return sub, key, ok
		}
		return indexTerm(x.Right)
	case *query.Compare:
		if x.Op != query.Eq || x.Path.Sub == nil {
			return "", "", false
		}
		if t := x.Path.Sub.Type; t != schemas.TypeString && t != schemas.TypeReference {
			return "", "", false
		}
		s, isStr := x.Value.(string)
		if !isStr {
			return "", "", false
		}
		return x.Path.Sub.Name, strings.ToLower(s), true
	}
	return "", "", false
}

// normalisePrimary is the package function normalisePrimary for the owned
// list of a, in O(len(changed)) once the list is known to be normalised.
func (e *engine) normalisePrimary(a *schemas.Attribute, list []any, changed []int) {
	if a.Sub("primary") == nil {
		return
	}
	ix := e.index(a, list)
	if ix.primary == unknownPrimary {
		normalisePrimary(a, list, changed)
		ix.primary = -1
		for i, el := range list {
			if isPrimary(el) {
				ix.primary = i
			}
		}
		return
	}
	// At most ix.primary had primary true before; only changed elements
	// can have gained it.
	keep := -1
	for _, i := range changed {
		if isPrimary(list[i]) {
			keep = i
		}
	}
	if keep < 0 {
		if ix.primary >= 0 && !isPrimary(list[ix.primary]) {
			ix.primary = -1
		}
		return
	}
	for _, i := range changed {
		if i != keep && isPrimary(list[i]) {
			list[i].(map[string]any)["primary"] = false
		}
	}
	if ix.primary >= 0 && ix.primary != keep && isPrimary(list[ix.primary]) {
		list[ix.primary].(map[string]any)["primary"] = false
	}
	ix.primary = keep
}

func isPrimary(el any) bool {
	m, ok := el.(map[string]any)
	return ok && m["primary"] == true
}
