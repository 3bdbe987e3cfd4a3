// Package entra is scimbridge's Microsoft Entra ID dialect normaliser: it turns
// every request shape Entra's provisioning service (both the default dialect
// and the aadOptscim062020 one, and provision-on-demand) or Microsoft's SCIM
// validator sends into RFC 7643/7644 form, in one place, before validation.
// The PATCH engine (scim/patch) and the POST/PUT decoder then only implement
// the RFC. See docs/entra-and-graph.md §1.4, §1.5 and §1.8 for the shapes.
//
// Everything here is pure: no I/O, the inputs are never modified, and the
// output only depends on the schema and the request. Normalisation never
// makes a request more destructive than what it literally asks for; a request
// it cannot make sense of is returned unchanged (or with a *patch.Error) so
// that validation rejects it as a whole.
//
// PATCH (NormalizePatch) rewrites:
//
//   - op names in any case ("Replace", "ADD") to the RFC's lower-case names;
//   - "True"/"False" strings (any case) to JSON booleans, ONLY where the
//     schema type of the target attribute or sub-attribute is boolean (active,
//     emails[].primary, roles[].primary, ...). A string attribute whose value
//     is "True" stays the string "True";
//   - "" to null wherever a value is expected (top-level values, values of
//     path-less keys, sub-attributes of objects): Entra and the validator's
//     null-update test use "" for "clear", and RFC 7643 §2.5 makes null
//     "unassigned". Apply clears the attribute (a required one is an error);
//   - a path-less add/replace whose value is an object into one operation
//     per key, in sorted key order (so "name" comes before "name.givenName"),
//     with the key as path: keys may be attribute names, dotted paths
//     (name.givenName), URN-qualified paths
//     (urn:...:enterprise:2.0:User:employeeNumber), extension URNs with an
//     object value, or value paths. "schemas" keys are dropped. An unknown key
//     fails the whole request with invalidValue;
//   - remove of "members" with a value list (Entra's default dialect) into
//     one `remove members[value eq "id"]` per listed member. An EMPTY list
//     becomes no operation at all: it removes nothing and never wipes the
//     group (a strict RFC reading would remove every member). A list element
//     without a non-empty string value fails the request with invalidValue.
//     Remove without a value, or with null, keeps its RFC meaning (all);
//   - group member elements: "$ref": null (Entra's multi-member add) and
//     other null sub-values are dropped;
//   - a single-valued complex attribute with a "value" sub-attribute (the
//     enterprise manager) given as a plain string id, as {"value": id} or as
//     a one-element array becomes {"value": id}; "" / null / [] become null,
//     so `replace manager ""` removes the manager;
//   - roles elements whose "value" is a JSON-encoded object (Entra's
//     AppRoleAssignmentsComplex: "{\"id\":\"…\",\"value\":\"Admin\",
//     \"displayName\":\"Admin\"}") become {"value": inner value (or the inner
//     id when it has no value), "display": inner displayName (unless the
//     element already has a display)}; the element's other keys (primary,
//     type) are kept. A value that is not a JSON object stays as given.
//
// What is NOT here because it needs the current resource and so lives in
// patch.Apply (documented there): a value-path add/replace that matches no
// element creates it from the filter's eq terms (`emails[type eq
// "work"].value`); `remove manager[value eq "id"]` removes the manager only if
// it is that id; a remove with a filter that matches nothing is a no-op.
//
// POST/PUT bodies (NormalizeResource) get the same value rewrites (string
// booleans by schema type, manager forms, roles JSON strings, nulls kept as
// null for the decoder to drop).
//
// In both, a "schemas" key inside an extension object
// ("urn:…:enterprise:2.0:User": {"schemas": […], …}) is dropped: some
// clients repeat the schema list there, and it adds nothing to the key.
package entra

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/scim/patch"
	"github.com/scimbridge/scimbridge/store/query"
)

// ParsePatch decodes a PatchOp body (patch.ParseRequest) and normalises its
// operations for rt. It is the one call a handler (PATCH or a Bulk PATCH
// operation) needs before patch.Apply.
func ParsePatch(rt *schemas.ResourceType, body []byte) ([]patch.Operation, error) {
	ops, err := patch.ParseRequest(body)
	if err != nil {
		return nil, err
	}
	return NormalizePatch(rt, ops)
}

// NormalizePatch returns ops rewritten into RFC 7644 form (see the package
// documentation). Operations it does not understand are passed through for
// patch.Apply to reject. Errors are *patch.Error. ops is not modified; the
// Index of every returned operation is that of the operation it came from.
func NormalizePatch(rt *schemas.ResourceType, ops []patch.Operation) ([]patch.Operation, error) {
	out := make([]patch.Operation, 0, len(ops))
	for i, op := range ops {
		if op.Index == 0 {
			op.Index = i + 1
		}
		var err error
		if out, err = normOp(rt, op, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func opErr(op patch.Operation, scimType, format string, args ...any) error {
	args = append([]any{op.Index}, args...)
	return &patch.Error{ScimType: scimType, Detail: fmt.Sprintf("operation %d: "+format, args...)}
}

// normOp appends the RFC form of op to out.
func normOp(rt *schemas.ResourceType, op patch.Operation, out []patch.Operation) ([]patch.Operation, error) {
	name := strings.ToLower(strings.TrimSpace(op.Op))
	switch name {
	case patch.OpAdd, patch.OpRemove, patch.OpReplace:
		op.Op = name
	default:
		return append(out, op), nil // Apply rejects it
	}
	op.Path = strings.TrimSpace(op.Path)

	if op.Path == "" {
		m, ok := op.Value.(map[string]any)
		if name == patch.OpRemove || !op.HasValue || !ok {
			return append(out, op), nil // noTarget / invalidSyntax / invalidValue in Apply
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			if !strings.EqualFold(k, "schemas") {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !resolvable(rt, k) {
				return nil, opErr(op, patch.InvalidValue, "unknown attribute %q", k)
			}
			sub := patch.Operation{Op: name, Path: k, Value: m[k], HasValue: true, Index: op.Index}
			var err error
			if out, err = normOp(rt, sub, out); err != nil {
				return nil, err
			}
		}
		return out, nil
	}

	if ext := rt.Extension(op.Path); ext != nil {
		if op.HasValue {
			op.Value = normExtension(rt, ext, op.Value)
		}
		return append(out, op), nil
	}
	pe, err := query.ParsePath(rt, op.Path)
	if err != nil || pe.Path.Attr == nil {
		return append(out, op), nil // invalidPath in Apply
	}
	a, sub := pe.Path.Attr, pe.Sub
	if sub == nil {
		sub = pe.Path.Sub
	}
	isMembers := rt.Name == "Group" && pe.Path.URN == "" && a.Name == "members"

	if isMembers && name == patch.OpRemove && pe.Filter == nil && sub == nil && op.HasValue && op.Value != nil {
		return removeListedMembers(op, out)
	}
	if !op.HasValue {
		return append(out, op), nil
	}
	switch {
	case sub != nil:
		op.Value = normScalar(sub, op.Value)
	case pe.Filter != nil && a.MultiValued:
		op.Value = normElementValue(a, op.Value)
	case pe.Filter != nil, !a.MultiValued:
		op.Value = normSingle(a, op.Value)
	default:
		op.Value = normMulti(a, op.Value)
	}
	return append(out, op), nil
}

// resolvable reports whether a path-less key names something of rt.
func resolvable(rt *schemas.ResourceType, k string) bool {
	if rt.Extension(k) != nil {
		return true
	}
	if strings.ContainsRune(k, '[') {
		pe, err := query.ParsePath(rt, k)
		return err == nil && pe.Path.Attr != nil
	}
	_, err := rt.ResolvePath(k)
	return err == nil
}

// removeListedMembers rewrites {"op":"remove","path":"members","value":[{"value":id},…]}
// into one remove per listed member; an empty list yields nothing.
func removeListedMembers(op patch.Operation, out []patch.Operation) ([]patch.Operation, error) {
	list, ok := op.Value.([]any)
	if !ok {
		list = []any{op.Value}
	}
	for _, el := range list {
		id := ""
		if m, ok := el.(map[string]any); ok {
			for k, v := range m {
				if strings.EqualFold(k, "value") {
					id, _ = v.(string)
				}
			}
		}
		if id == "" {
			return nil, opErr(op, patch.InvalidValue, "each member to remove must be an object with a non-empty string value")
		}
		lit, _ := json.Marshal(id)
		out = append(out, patch.Operation{Op: patch.OpRemove, Path: `members[value eq ` + string(lit) + `]`, Index: op.Index})
	}
	return out, nil
}

// normExtension normalises the object value of an extension URN path (or
// path-less URN key): each key is an attribute path within the extension.
func normExtension(rt *schemas.ResourceType, ext *schemas.Extension, v any) any {
	if s, ok := v.(string); ok && s == "" {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(m))
	for k, x := range m {
		if strings.EqualFold(k, "schemas") {
			continue // see NormalizeResource
		}
		p, err := rt.ResolvePath(ext.Schema.ID + ":" + k)
		switch {
		case err != nil:
			out[k] = x
		case p.Sub != nil:
			out[k] = normScalar(p.Sub, x)
		case p.Attr.MultiValued:
			out[k] = normMulti(p.Attr, x)
		default:
			out[k] = normSingle(p.Attr, x)
		}
	}
	return out
}

// normScalar normalises the value of a simple (sub-)attribute: "" becomes
// null, and a "true"/"false" string becomes a bool if a is boolean.
func normScalar(a *schemas.Attribute, v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	if s == "" {
		return nil
	}
	if a.Type == schemas.TypeBoolean {
		switch {
		case strings.EqualFold(s, "true"):
			return true
		case strings.EqualFold(s, "false"):
			return false
		}
	}
	return v
}

// normSingle normalises the value of a single-valued attribute.
func normSingle(a *schemas.Attribute, v any) any {
	if !a.IsComplex() {
		return normScalar(a, v)
	}
	hasValue := a.Sub("value") != nil
	switch x := v.(type) {
	case string:
		if x == "" {
			return nil
		}
		if hasValue {
			return map[string]any{a.Sub("value").Name: x}
		}
	case []any:
		if hasValue {
			switch len(x) {
			case 0:
				return nil
			case 1:
				if _, nested := x[0].([]any); !nested {
					return normSingle(a, x[0])
				}
			}
		}
	case map[string]any:
		return normObject(a, x)
	}
	return v
}

// normMulti normalises the value of a whole multi-valued attribute: a list of
// elements or one element.
func normMulti(a *schemas.Attribute, v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		if x == "" {
			return nil
		}
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			out[i] = normElement(a, el)
		}
		return out
	}
	return normElement(a, v)
}

// normElementValue normalises the value of a filtered path without a
// sub-attribute (emails[type eq "work"]): one element, possibly wrapped in a
// one-element array.
func normElementValue(a *schemas.Attribute, v any) any {
	if s, ok := v.(string); ok && s == "" {
		return nil
	}
	if l, ok := v.([]any); ok {
		out := make([]any, len(l))
		for i, el := range l {
			out[i] = normElement(a, el)
		}
		return out
	}
	return normElement(a, v)
}

// normElement normalises one element of a multi-valued attribute.
func normElement(a *schemas.Attribute, v any) any {
	if !a.IsComplex() {
		return normScalar(a, v)
	}
	if isRoles(a) {
		v = roleFromJSON(v)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	o := normObject(a, m)
	if a.Parent == nil && a.Name == "members" {
		for k, x := range o {
			if x == nil {
				delete(o, k) // "$ref": null
			}
		}
	}
	return o
}

// normObject normalises the sub-attribute values of one complex value.
// Unknown keys are kept for validation to reject.
func normObject(a *schemas.Attribute, m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, x := range m {
		if sub := a.Sub(k); sub != nil {
			out[k] = normScalar(sub, x)
		} else {
			out[k] = x
		}
	}
	return out
}

func isRoles(a *schemas.Attribute) bool {
	return a.Parent == nil && a.MultiValued && a.Name == "roles" && a.SchemaURN == schemas.UserURN
}

// roleFromJSON turns a roles element whose value is a JSON-encoded object
// (or an element that is itself such a string) into a plain role element.
func roleFromJSON(v any) any {
	var outer map[string]any
	var raw string
	switch x := v.(type) {
	case string:
		raw, outer = x, map[string]any{}
	case map[string]any:
		key := ""
		for k, y := range x {
			if strings.EqualFold(k, "value") {
				key = k
				raw, _ = y.(string)
			}
		}
		if key == "" {
			return v
		}
		outer = make(map[string]any, len(x)+1)
		for k, y := range x {
			if k != key {
				outer[k] = y
			}
		}
	default:
		return v
	}
	raw = strings.TrimSpace(raw)
	if !strings.HasPrefix(raw, "{") {
		return v
	}
	var inner map[string]any
	if err := json.Unmarshal([]byte(raw), &inner); err != nil {
		return v
	}
	get := func(name string) string {
		for k, y := range inner {
			if s, ok := y.(string); ok && strings.EqualFold(k, name) && s != "" {
				return s
			}
		}
		return ""
	}
	val := get("value")
	if val == "" {
		val = get("id")
	}
	if val == "" {
		return v
	}
	outer["value"] = val
	hasDisplay := false
	for k, y := range outer {
		if strings.EqualFold(k, "display") && y != nil {
			hasDisplay = true
		}
	}
	if d := get("displayName"); d != "" && !hasDisplay {
		outer["display"] = d
	}
	return outer
}

// NormalizeResource returns a POST/PUT body rewritten for rt: string
// booleans to bools where the schema says boolean, the manager forms to
// {"value": id}, roles JSON strings to role elements (see the package
// documentation). Top-level keys and unknown attributes are left as they are
// for the decoder to validate; body is not modified.
func NormalizeResource(rt *schemas.ResourceType, body map[string]any) map[string]any {
	out := make(map[string]any, len(body))
	for k, v := range body {
		switch {
		case rt.Attribute(k) != nil:
			a := rt.Attribute(k)
			if a.Name == "members" && rt.Name == "Group" {
				out[k] = normMembersBody(a, v)
			} else {
				out[k] = normBody(a, v)
			}
		case rt.Extension(k) != nil:
			m, ok := v.(map[string]any)
			if !ok {
				out[k] = v
				continue
			}
			ext := rt.Extension(k)
			em := make(map[string]any, len(m))
			for ek, ev := range m {
				if strings.EqualFold(ek, "schemas") {
					// Some clients repeat the schemas list inside an
					// extension object; it says nothing the key doesn't.
					continue
				}
				if a := rt.ExtensionAttribute(ext.Schema.ID, ek); a != nil {
					em[ek] = normBody(a, ev)
				} else {
					em[ek] = ev
				}
			}
			out[k] = em
		default:
			out[k] = v
		}
	}
	return out
}

// normBody is the POST/PUT form of the value rewrites: like normMulti and
// normSingle, but a "" scalar is left for the decoder (which drops it).
func normBody(a *schemas.Attribute, v any) any {
	if v == nil {
		return nil
	}
	if s, ok := v.(string); ok && s == "" {
		return v
	}
	if a.MultiValued {
		return normMulti(a, v)
	}
	return normSingle(a, v)
}

func normMembersBody(a *schemas.Attribute, v any) any {
	if l, ok := v.([]any); ok {
		out := make([]any, len(l))
		for i, el := range l {
			out[i] = normElement(a, el)
		}
		return out
	}
	return v
}
