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
	// lists indexes the owned lists of multi-valued attributes (index.go).
	lists map[*schemas.Attribute]*listIndex
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
	if id, ok := memberValueEq(path); ok && name == OpRemove && e.rt.Name == string(store.Group) {
		// What the general path does for this filter (see memberOp), without
		// parsing it: Entra removes members with one such operation each.
		e.members.removeMember(id)
		return nil
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
	ix := e.index(a, list)
	var added []int
	for _, nv := range vals {
		dup := false
		if len(list) < indexMin && ix.byKey == nil {
			for _, old := range list {
				if equal(old, nv) {
					dup = true
					break
				}
			}
		} else {
			// Duplicates are found by key, not by a scan.
			for _, i := range ix.keys()[dedupKey(nv)] {
				if equal(list[i], nv) {
					dup = true
					break
				}
			}
		}
		if !dup {
			added = append(added, len(list))
			list = append(list, nv)
			ix.appended(list, len(list)-1)
		}
	}
	if len(added) == 0 {
		return nil
	}
	e.normalisePrimary(a, list, added)
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
