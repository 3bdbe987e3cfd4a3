package patch

// Reading and writing attributes of the resource document being patched.

import (
	"strings"

	"github.com/scimbridge/scimbridge/schemas"
)

// getIn reads attribute a (of extension urn, or core) from doc.
func getIn(doc map[string]any, urn string, a *schemas.Attribute) any {
	c := doc
	if urn != "" {
		_, v, _ := lookup(doc, urn)
		c, _ = v.(map[string]any)
		if c == nil {
			return nil
		}
	}
	_, v, _ := lookup(c, a.Name)
	return v
}

func (e *engine) get(urn string, a *schemas.Attribute) any { return getIn(e.out, urn, a) }

// container returns the (copied, owned) attribute map of urn in out, creating
// it if create is set; nil if absent and !create.
func (e *engine) container(urn string, create bool) map[string]any {
	if urn == "" {
		return e.out
	}
	if c, ok := e.exts[urn]; ok {
		return c
	}
	var c map[string]any
	if key, v, ok := lookup(e.out, urn); ok {
		if m, ok := v.(map[string]any); ok {
			c = make(map[string]any, len(m)+1)
			for k, x := range m {
				c[k] = x
			}
		}
		if c == nil && !create {
			return nil
		}
		delete(e.out, key)
	}
	if c == nil {
		if !create {
			return nil
		}
		c = map[string]any{}
	}
	e.out[urn] = c
	e.exts[urn] = c
	return c
}

// set stores v (nil: unsets) as the value of a; v must not be shared with
// the input. An extension container left empty is removed.
func (e *engine) set(urn string, a *schemas.Attribute, v any) {
	if ix := e.lists[a]; ix != nil && !sameList(ix.list, v) {
		delete(e.lists, a) // the index describes another list
	}
	c := e.container(urn, v != nil)
	if c == nil {
		return
	}
	deleteFold(c, a.Name)
	e.owned[a] = true
	if v != nil {
		c[a.Name] = v
	} else if urn != "" && len(c) == 0 {
		delete(e.out, urn)
		delete(e.exts, urn)
	}
}

// mutable returns a's value in a form this call owns and may change in place
// (deep-copying it the first time).
func (e *engine) mutable(urn string, a *schemas.Attribute) any {
	v := e.get(urn, a)
	if v == nil || e.owned[a] {
		return v
	}
	v = deepCopy(v)
	e.set(urn, a, v)
	return v
}

func (e *engine) mutList(urn string, a *schemas.Attribute) []any {
	l, _ := e.mutable(urn, a).([]any)
	return l
}

func (e *engine) mutMap(urn string, a *schemas.Attribute) map[string]any {
	m, _ := e.mutable(urn, a).(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m
}

// deleteFold deletes every key of m equal to name case-insensitively.
func deleteFold(m map[string]any, name string) {
	delete(m, name)
	for k := range m {
		if strings.EqualFold(k, name) {
			delete(m, k)
		}
	}
}
