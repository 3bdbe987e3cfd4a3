package patch

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/query"
)

// Options are the inputs Apply needs besides the resource.
type Options struct {
	// Members lazily returns the group's current members. It is called at
	// most once per Apply, and only for member filters other than
	// `value eq` (e.g. members[type eq "Group"]).
	Members func() ([]store.Member, error)
}

// Apply applies ops in order to attrs (a resource's Attrs: core attributes at
// the top level under canonical names, extension attributes in a map under the
// extension URN) and returns the new Attrs and, for groups, the membership
// delta. attrs is never modified: only the attributes an operation touches are
// copied, each at most once per call. All or nothing: on error it returns nil
// attrs, an empty delta and a *Error (or the error of Options.Members).
func Apply(rt *schemas.ResourceType, attrs map[string]any, ops []Operation, opt Options) (map[string]any, store.MemberDelta, error) {
	if rt == nil {
		return nil, store.MemberDelta{}, errors.New("patch: nil resource type")
	}
	e := &engine{
		rt:      rt,
		orig:    attrs,
		out:     make(map[string]any, len(attrs)+2),
		exts:    map[string]map[string]any{},
		owned:   map[*schemas.Attribute]bool{},
		touched: map[*schemas.Attribute]string{},
		opt:     opt,
	}
	for k, v := range attrs {
		e.out[k] = v
	}
	for i, op := range ops {
		if err := e.apply(op); err != nil {
			n := op.Index
			if n <= 0 {
				n = i + 1
			}
			return nil, store.MemberDelta{}, opError(n, err)
		}
	}
	if err := e.finish(); err != nil {
		return nil, store.MemberDelta{}, err
	}
	return e.out, e.members.result(), nil
}

// opError prefixes err with the 1-based operation number n.
func opError(n int, err error) error {
	var pe *Error
	if errors.As(err, &pe) {
		return &Error{ScimType: pe.ScimType, Detail: fmt.Sprintf("operation %d: %s", n, pe.Detail)}
	}
	return fmt.Errorf("patch: operation %d: %w", n, err)
}

// target is what one operation (or one key of a path-less value) addresses.
type target struct {
	urn    string             // extension URN, "" for core
	attr   *schemas.Attribute // top-level attribute
	sub    *schemas.Attribute // sub-attribute (name.givenName, emails[...].value) or nil
	filter query.Filter       // value filter or nil
}

type engine struct {
	rt   *schemas.ResourceType
	orig map[string]any
	out  map[string]any
	// exts holds the extension containers of out already copied.
	exts map[string]map[string]any
	// owned marks the attributes whose value in out was created by this call
	// and may be changed in place.
	owned map[*schemas.Attribute]bool
	// touched maps every attribute an operation changed to its URN.
	touched map[*schemas.Attribute]string
	opt     Options
	members memberState
}

func (e *engine) apply(op Operation) error {
	name := op.Op
	switch name {
	case OpAdd, OpReplace, OpRemove:
	default:
		return errf(InvalidSyntax, "op %q is not add, remove or replace (RFC 7644 op names are lower-case)", op.Op)
	}
	path := strings.TrimSpace(op.Path)
	if path == "" {
		if name == OpRemove {
			return errf(NoTarget, "remove requires a path")
		}
		if !op.HasValue {
			return errf(InvalidSyntax, "%s without a path requires a value", name)
		}
		return e.pathless(name, op.Value)
	}
	if !op.HasValue && name != OpRemove {
		return errf(InvalidSyntax, "%s requires a value", name)
	}
	if ext := e.rt.Extension(path); ext != nil {
		return e.extension(name, ext, op.Value, op.HasValue)
	}
	pe, err := query.ParsePath(e.rt, path)
	if err != nil {
		return errf(InvalidPath, "%s", strings.TrimPrefix(err.Error(), "query: "))
	}
	t := target{urn: pe.Path.URN, attr: pe.Path.Attr, sub: pe.Sub, filter: pe.Filter}
	if t.attr == nil {
		return errf(InvalidPath, "path %q names no attribute", path)
	}
	if t.sub == nil {
		t.sub = pe.Path.Sub
	} else if pe.Path.Sub != nil {
		return errf(InvalidPath, "path %q has two sub-attributes", path)
	}
	return e.applyTarget(name, t, op.Value, op.HasValue)
}

// pathless applies an add or replace without a path (RFC 7644 §3.5.2.1,
// §3.5.2.3): every key of the object is a top-level attribute name or an
// extension URN whose value is an object of its attributes. (Dotted and
// URN-qualified attribute paths as keys are Entra's; scim/entra splits them
// into operations with paths.) Keys are applied in sorted order so that the
// result does not depend on map order.
func (e *engine) pathless(op string, v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return errf(InvalidValue, "%s without a path requires an object value", op)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		val := m[k]
		if strings.EqualFold(k, "schemas") {
			continue
		}
		if ext := e.rt.Extension(k); ext != nil {
			if err := e.extension(op, ext, val, true); err != nil {
				return err
			}
			continue
		}
		t, err := e.resolveKey(k)
		if err != nil {
			return err
		}
		if err := e.applyTarget(op, t, val, true); err != nil {
			return err
		}
	}
	return nil
}

// resolveKey resolves a key of a path-less value: a top-level core or common
// attribute name (case-insensitive).
func (e *engine) resolveKey(k string) (target, error) {
	a := e.rt.Attribute(k)
	if a == nil {
		return target{}, errf(InvalidValue, "unknown attribute %q (a path-less value is keyed by attribute names)", k)
	}
	return target{attr: a}, nil
}

// extension applies an operation whose path (or path-less key) is an
// extension URN. add and replace take an object of the extension's attributes
// (keys may be dotted paths); null clears the extension; remove removes all
// of its attributes.
func (e *engine) extension(op string, ext *schemas.Extension, v any, hasValue bool) error {
	urn := ext.Schema.ID
	if op == OpRemove || clearValue(v) {
		for _, a := range ext.Attributes() {
			if e.get(urn, a) == nil {
				continue
			}
			if err := e.applyTarget(OpRemove, target{urn: urn, attr: a}, nil, false); err != nil {
				return err
			}
		}
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return errf(InvalidValue, "the value of %s must be an object", urn)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p, err := e.rt.ResolvePath(urn + ":" + k)
		if err != nil || p.URN != urn {
			return errf(InvalidValue, "%s has no attribute %q", urn, k)
		}
		if err := e.applyTarget(op, target{urn: urn, attr: p.Attr, sub: p.Sub}, m[k], true); err != nil {
			return err
		}
	}
	return nil
}

func (e *engine) applyTarget(op string, t target, v any, hasValue bool) error {
	a := t.attr
	if e.rt.Name == string(store.Group) && t.urn == "" && a.Name == "members" {
		return e.memberOp(op, t, v, hasValue)
	}
	if a.Mutability == schemas.MutabilityReadOnly || (t.sub != nil && t.sub.Mutability == schemas.MutabilityReadOnly) {
		return errf(Mutability, "%s is read-only", pathString(t))
	}
	if !a.IsComplex() && (t.sub != nil || t.filter != nil) {
		return errf(InvalidPath, "%s is not complex", a.Name)
	}
	if t.sub != nil && t.sub.Parent != a {
		return errf(InvalidPath, "%s is not a sub-attribute of %s", t.sub.Name, a.Name)
	}
	e.touched[a] = t.urn
	switch {
	case t.filter != nil && a.MultiValued:
		return e.filtered(op, t, v)
	case t.filter != nil:
		return e.filteredSingle(op, t, v)
	case t.sub != nil && a.MultiValued:
		return e.everyElement(op, t, v)
	case t.sub != nil:
		return e.subAttr(op, t, v)
	case op == OpRemove:
		return e.remove(t, v, hasValue)
	case a.MultiValued:
		return e.setMulti(op, t, v)
	case a.IsComplex():
		return e.setComplex(op, t, v)
	default:
		cv, clear, err := coerceScalar(a, v)
		if err != nil {
			return err
		}
		if clear {
			return e.clear(t, InvalidValue)
		}
		e.set(t.urn, a, cv)
		return nil
	}
}

func pathString(t target) string {
	s := t.attr.Name
	if t.sub != nil {
		s += "." + t.sub.Name
	}
	if t.urn != "" {
		s = t.urn + ":" + s
	}
	return s
}

// clear unsets a whole attribute; for a required one it fails with
// requiredErr (invalidValue for a null/"" value, mutability for remove).
func (e *engine) clear(t target, requiredErr string) error {
	if t.attr.Required {
		return errf(requiredErr, "%s is required", pathString(t))
	}
	e.set(t.urn, t.attr, nil)
	return nil
}

// remove without a filter or sub-attribute.
func (e *engine) remove(t target, v any, hasValue bool) error {
	a := t.attr
	if a.MultiValued && hasValue && v != nil {
		return e.removeListed(t, v)
	}
	if e.get(t.urn, a) == nil {
		if a.Required {
			return errf(Mutability, "%s is required", pathString(t))
		}
		return nil
	}
	return e.clear(t, Mutability)
}

// removeListed is the non-destructive reading of a remove that carries a
// value list (see the package documentation): only the elements that match a
// listed value go; an empty list removes nothing.
func (e *engine) removeListed(t target, v any) error {
	a := t.attr
	want, _, err := coerceMulti(a, v)
	if err != nil {
		return err
	}
	if len(want) == 0 {
		return nil
	}
	if !a.IsComplex() {
		return e.removeValues(t, want)
	}
	return e.removeElements(t, func(el map[string]any) bool {
		for _, w := range want {
			if subsetMatch(a, el, w.(map[string]any)) {
				return true
			}
		}
		return false
	})
}

// setMulti is add or replace of a whole multi-valued attribute.
func (e *engine) setMulti(op string, t target, v any) error {
	a := t.attr
	vals, clear, err := coerceMulti(a, v)
	if err != nil {
		return err
	}
	if clear || (op == OpReplace && len(vals) == 0) {
		return e.clear(t, InvalidValue)
	}
	if op == OpReplace {
		normalisePrimary(a, vals, nil)
		e.set(t.urn, a, vals)
		return nil
	}
	if len(vals) == 0 {
		return nil
	}
	list := e.mutList(t.urn, a)
	var added []int
	for _, nv := range vals {
		dup := false
		for _, old := range list {
			if equal(old, nv) {
				dup = true
				break
			}
		}
		if !dup {
			added = append(added, len(list))
			list = append(list, nv)
		}
	}
	if len(added) == 0 {
		return nil
	}
	normalisePrimary(a, list, added)
	e.set(t.urn, a, list)
	return nil
}

// setComplex is add (merge) or replace (whole value) of a single-valued
// complex attribute.
func (e *engine) setComplex(op string, t target, v any) error {
	a := t.attr
	m, clear, err := coerceSingleComplex(a, v)
	if err != nil {
		return err
	}
	if clear {
		return e.clear(t, InvalidValue)
	}
	if op == OpReplace {
		if len(dropNils(m)) == 0 {
			return e.clear(t, InvalidValue)
		}
		e.set(t.urn, a, m)
		return nil
	}
	cur := e.mutMap(t.urn, a)
	for k, nv := range m {
		if nv == nil {
			delete(cur, k)
		} else {
			cur[k] = nv
		}
	}
	if len(cur) == 0 {
		return e.clear(t, InvalidValue)
	}
	e.set(t.urn, a, cur)
	return nil
}

// subAttr is any op on name.givenName-style paths of a single-valued complex
// attribute.
func (e *engine) subAttr(op string, t target, v any) error {
	a := t.attr
	var cv any
	clear := op == OpRemove
	if !clear {
		var err error
		if cv, clear, err = coerceScalar(t.sub, v); err != nil {
			return err
		}
	}
	if clear {
		if t.sub.Required && op == OpRemove {
			return errf(Mutability, "%s is required", pathString(t))
		}
		cur, _ := e.get(t.urn, a).(map[string]any)
		if _, _, ok := lookup(cur, t.sub.Name); !ok {
			return nil
		}
		cur = e.mutMap(t.urn, a)
		deleteFold(cur, t.sub.Name)
		if len(cur) == 0 {
			return e.clear(target{urn: t.urn, attr: a}, Mutability)
		}
		e.set(t.urn, a, cur)
		return nil
	}
	cur := e.mutMap(t.urn, a)
	deleteFold(cur, t.sub.Name)
	cur[t.sub.Name] = cv
	e.set(t.urn, a, cur)
	return nil
}

// everyElement is an op on emails.value-style paths (a sub-attribute of a
// multi-valued attribute without a filter): it applies to every element; add
// or replace on an empty attribute creates one element.
func (e *engine) everyElement(op string, t target, v any) error {
	return e.onElements(op, t, v, func(map[string]any) bool { return true }, map[string]any{})
}

// filtered is an op on a multi-valued complex attribute with a value filter.
func (e *engine) filtered(op string, t target, v any) error {
	f := t.filter
	return e.onElements(op, t, v, func(el map[string]any) bool { return query.MatchElement(f, el) }, createFromFilter(op, f))
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
// plus the value, or fail with noTarget if create is nil.
func (e *engine) onElements(op string, t target, v any, match func(map[string]any) bool, create map[string]any) error {
	a := t.attr
	cur, _ := e.get(t.urn, a).([]any)
	var idx []int
	for i, el := range cur {
		if m, ok := el.(map[string]any); ok && match(m) {
			idx = append(idx, i)
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
		idx = []int{len(list)}
		list = append(list, el)
	} else {
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
	normalisePrimary(a, list, idx)
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
	return e.onElements(OpRemove, target{urn: t.urn, attr: t.attr}, nil, drop, nil)
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

// finish checks the rules that span operations: a required attribute that had
// a value still has one, and an immutable attribute that had a value still has
// the same value (also for immutable sub-attributes of single-valued complex
// attributes).
func (e *engine) finish() error {
	for a, urn := range e.touched {
		old := getIn(e.orig, urn, a)
		if old == nil {
			continue
		}
		nv := e.get(urn, a)
		t := target{urn: urn, attr: a}
		if a.Required && nv == nil {
			return errf(Mutability, "%s is required", pathString(t))
		}
		if a.Mutability == schemas.MutabilityImmutable && !equal(old, nv) {
			return errf(Mutability, "%s is immutable", pathString(t))
		}
		if a.IsComplex() && !a.MultiValued {
			om, _ := old.(map[string]any)
			nm, _ := nv.(map[string]any)
			for _, s := range a.SubAttributes {
				if s.Mutability != schemas.MutabilityImmutable {
					continue
				}
				if ov, ok := om[s.Name]; ok && !equal(ov, nm[s.Name]) {
					return errf(Mutability, "%s.%s is immutable", pathString(t), s.Name)
				}
			}
		}
	}
	return nil
}

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
