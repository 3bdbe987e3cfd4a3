package patch

// Operations on the elements of multi-valued attributes: value filters,
// sub-attribute paths over every element, and the primary rule.

import (
	"strings"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store/query"
)

// everyElement is an op on emails.value-style paths (a sub-attribute of a
// multi-valued attribute without a filter): it applies to every element; add
// or replace on an empty attribute creates one element.
func (e *engine) everyElement(op string, t target, v any) error {
	return e.onElements(op, t, v, func(map[string]any) bool { return true }, nil, map[string]any{})
}

// filtered is an op on a multi-valued complex attribute with a value filter.
func (e *engine) filtered(op string, t target, v any) error {
	f := t.filter
	return e.onElements(op, t, v, func(el map[string]any) bool { return query.MatchElement(f, el) }, f, createFromFilter(op, f))
}

// createFromFilter is the element an add or replace with value filter f
// creates when no element matches (Entra's `emails[type eq "work"].value`
// on a user without a work email; RFC replace would answer noTarget): the
// filter's eq terms. nil (noTarget) for remove and for filters with no
// usable eq terms. This tolerance stays in Apply because whether anything
// matches depends on the current resource.
func createFromFilter(op string, f query.Filter) map[string]any {
	if op == OpRemove {
		return nil
	}
	terms := map[string]any{}
	if !eqTerms(f, terms) {
		return nil
	}
	return terms
}

// onElements applies op to the elements of t.attr that match. When nothing
// matches, add and replace append the element create (the filter's eq terms)
// plus the value, or fail with noTarget if create is nil. f, when it is not
// nil, is the filter match implements: if it has a term the list's index
// can answer, only the elements the index names are tested.
func (e *engine) onElements(op string, t target, v any, match func(map[string]any) bool, f query.Filter, create map[string]any) error {
	a := t.attr
	cur, _ := e.get(t.urn, a).([]any)
	var idx []int
	if sub, key, ok := indexTerm(f); ok && len(cur) >= indexMin {
		cur = e.mutList(t.urn, a) // the index describes the owned list
		for _, i := range e.index(a, cur).values(sub)[key] {
			if m, ok := cur[i].(map[string]any); ok && match(m) {
				idx = append(idx, i)
			}
		}
	} else {
		for i, el := range cur {
			if m, ok := el.(map[string]any); ok && match(m) {
				idx = append(idx, i)
			}
		}
	}

	// What to do with each matched element.
	var (
		subVal      any                     // value for t.sub
		obj         map[string]any          // value object when t.sub == nil
		removing    = op == OpRemove        // drop elements / unset the sub
		sub         = t.sub                 // may be nil
		hasValueSub = a.Sub("value") != nil // elements without "value" are dropped
	)
	if !removing {
		if sub != nil {
			cv, clear, err := coerceScalar(sub, v)
			if err != nil {
				return err
			}
			subVal, removing = cv, clear
		} else {
			m, clear, err := coerceElement(a, v)
			if err != nil {
				return err
			}
			obj, removing = m, clear
		}
	}

	if removing {
		if len(idx) == 0 {
			return nil
		}
		if sub != nil && sub.Required {
			return errf(Mutability, "%s is required", pathString(t))
		}
		matched := make(map[int]bool, len(idx))
		for _, i := range idx {
			matched[i] = true
		}
		list := e.mutList(t.urn, a)
		out := list[:0]
		for i, el := range list {
			if matched[i] {
				if sub == nil {
					continue
				}
				m := el.(map[string]any)
				deleteFold(m, sub.Name)
				if len(m) == 0 || (hasValueSub && sub.Name == "value") {
					continue
				}
			}
			out = append(out, el)
		}
		delete(e.lists, a) // positions moved, or elements changed in place
		if len(out) == 0 {
			return e.clear(target{urn: t.urn, attr: a}, Mutability)
		}
		e.set(t.urn, a, out)
		return nil
	}

	list := e.mutList(t.urn, a)
	if len(idx) == 0 {
		if create == nil {
			return errf(NoTarget, "no value of %s matches the filter", pathString(target{urn: t.urn, attr: a}))
		}
		el := create
		if sub != nil {
			el[sub.Name] = subVal
		} else {
			for k, nv := range obj {
				if nv == nil {
					delete(el, k)
				} else {
					el[k] = nv
				}
			}
		}
		ix := e.lists[a]
		if ix != nil && !sameList(ix.list, list) {
			ix = nil
		}
		idx = []int{len(list)}
		list = append(list, el)
		if ix != nil {
			ix.appended(list, len(list)-1)
		}
	} else {
		if ix := e.lists[a]; ix != nil && sameList(ix.list, list) {
			changed := "" // whole elements change
			if sub != nil {
				changed = sub.Name
			}
			ix.changed(changed)
		}
		for _, i := range idx {
			m := list[i].(map[string]any)
			switch {
			case sub != nil:
				deleteFold(m, sub.Name)
				m[sub.Name] = subVal
			case op == OpAdd:
				for k, nv := range obj {
					deleteFold(m, k)
					if nv != nil {
						m[k] = nv
					}
				}
			default: // replace the element, keeping the filter's eq terms
				el := map[string]any{}
				if create != nil {
					for k, tv := range create {
						el[k] = tv
					}
				}
				for k, nv := range obj {
					if nv == nil {
						delete(el, k)
					} else {
						el[k] = nv
					}
				}
				list[i] = el
			}
		}
	}
	e.normalisePrimary(a, list, idx)
	e.set(t.urn, a, list)
	return nil
}

// coerceElement coerces an object value for one element of a multi-valued
// complex attribute; nils in the result mean "unset".
func coerceElement(a *schemas.Attribute, v any) (map[string]any, bool, error) {
	if clearValue(v) {
		return nil, true, nil
	}
	if l, ok := v.([]any); ok && len(l) == 1 {
		v = l[0]
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false, errf(InvalidValue, "the value for an element of %s must be an object", a.Name)
	}
	cm, err := coerceObject(a, m)
	if err != nil {
		return nil, false, err
	}
	return cm, len(cm) == 0, nil
}

// filteredSingle is an op on a single-valued complex attribute with a filter,
// e.g. remove manager[value eq "123"]: it applies only if the current value
// matches.
func (e *engine) filteredSingle(op string, t target, v any) error {
	cur, _ := e.get(t.urn, t.attr).(map[string]any)
	if cur == nil || !query.MatchElement(t.filter, cur) {
		if op == OpRemove {
			return nil
		}
		return errf(NoTarget, "the value of %s does not match the filter", t.attr.Name)
	}
	if t.sub != nil {
		return e.subAttr(op, t, v)
	}
	if op == OpRemove {
		return e.clear(t, Mutability)
	}
	if op == OpReplace {
		terms := map[string]any{}
		if eqTerms(t.filter, terms) {
			m, clear, err := coerceSingleComplex(t.attr, v)
			if err != nil {
				return err
			}
			if !clear {
				for k, nv := range m {
					terms[k] = nv
				}
				v = terms
			}
		}
	}
	return e.setComplex(op, t, v)
}

// eqTerms collects the `sub eq value` terms of an and-only filter into out,
// coerced to the sub-attributes' types. It reports false for filters it cannot
// turn into an element (or, not, other operators, null values).
func eqTerms(f query.Filter, out map[string]any) bool {
	switch x := f.(type) {
	case *query.And:
		return eqTerms(x.Left, out) && eqTerms(x.Right, out)
	case *query.Compare:
		if x.Op != query.Eq || x.Path.Sub == nil || x.Value == nil {
			return false
		}
		if x.Path.Sub.Mutability == schemas.MutabilityReadOnly {
			return false
		}
		v, clear, err := coerceScalar(x.Path.Sub, x.Value)
		if err != nil || clear {
			return false
		}
		out[x.Path.Sub.Name] = v
		return true
	}
	return false
}

// removeElements removes the elements of a multi-valued attribute for which
// drop is true; the attribute is unset when none remain.
func (e *engine) removeElements(t target, drop func(map[string]any) bool) error {
	return e.onElements(OpRemove, target{urn: t.urn, attr: t.attr}, nil, drop, nil, nil)
}

// removeValues removes the listed values from a simple multi-valued
// attribute (strings compared by its caseExact).
func (e *engine) removeValues(t target, want []any) error {
	a := t.attr
	cur, _ := e.get(t.urn, a).([]any)
	out := make([]any, 0, len(cur))
	for _, v := range cur {
		drop := false
		for _, w := range want {
			vs, vok := v.(string)
			ws, wok := w.(string)
			if (vok && wok && !a.CaseExact && strings.EqualFold(vs, ws)) || equal(v, w) {
				drop = true
				break
			}
		}
		if !drop {
			out = append(out, v)
		}
	}
	if len(out) == len(cur) {
		return nil
	}
	if len(out) == 0 {
		return e.clear(t, Mutability)
	}
	e.set(t.urn, a, out)
	return nil
}

// normalisePrimary keeps at most one element with primary true: the last of
// the elements at changed that has it, else the last one overall.
func normalisePrimary(a *schemas.Attribute, list []any, changed []int) {
	if a.Sub("primary") == nil {
		return
	}
	keep := -1
	for _, i := range changed {
		if m, ok := list[i].(map[string]any); ok && m["primary"] == true {
			keep = i
		}
	}
	if keep < 0 {
		n := 0
		for i, el := range list {
			if m, ok := el.(map[string]any); ok && m["primary"] == true {
				keep = i
				n++
			}
		}
		if n < 2 {
			return
		}
	}
	for i, el := range list {
		if m, ok := el.(map[string]any); ok && i != keep && m["primary"] == true {
			m["primary"] = false
		}
	}
}
