package patch

import (
	"encoding/json"
	"math"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/schemas"
)

// clearValue reports whether v means "no value": null (RFC 7643 §2.5). ""
// is Entra's way of saying the same; scim/entra turns it into null.
func clearValue(v any) bool { return v == nil }

// coerceScalar checks v against a simple (non-complex) attribute's type and
// returns it in stored form. clear is true for null and "".
func coerceScalar(a *schemas.Attribute, v any) (out any, clear bool, err error) {
	if clearValue(v) {
		return nil, true, nil
	}
	if n, ok := v.(json.Number); ok {
		f, perr := n.Float64()
		if perr != nil {
			return nil, false, errf(InvalidValue, "%s: %q is not a number", a.Name, n)
		}
		v = f
	}
	switch a.Type {
	case schemas.TypeBoolean:
		if x, ok := v.(bool); ok {
			return x, false, nil
		}
		return nil, false, errf(InvalidValue, "%s must be a boolean", a.Name)
	case schemas.TypeInteger:
		if f, ok := v.(float64); ok && f == math.Trunc(f) && !math.IsInf(f, 0) {
			return f, false, nil
		}
		return nil, false, errf(InvalidValue, "%s must be an integer", a.Name)
	case schemas.TypeDecimal:
		if f, ok := v.(float64); ok {
			return f, false, nil
		}
		return nil, false, errf(InvalidValue, "%s must be a number", a.Name)
	case schemas.TypeDateTime:
		if s, ok := v.(string); ok {
			if _, perr := time.Parse(time.RFC3339Nano, s); perr == nil {
				return s, false, nil
			}
		}
		return nil, false, errf(InvalidValue, "%s must be an RFC 3339 dateTime string", a.Name)
	case schemas.TypeComplex:
		return nil, false, errf(InvalidValue, "%s is complex: its value must be an object", a.Name)
	default: // string, reference, binary
		if s, ok := v.(string); ok {
			return s, false, nil
		}
		return nil, false, errf(InvalidValue, "%s must be a string", a.Name)
	}
}

// coerceObject checks the sub-attributes of one complex value. Keys are
// canonicalised; a null or "" sub-value is kept as nil (meaning "unset" to
// merging callers, see dropNils); readOnly sub-attributes are dropped.
func coerceObject(a *schemas.Attribute, m map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(m))
	for k, v := range m {
		sub := a.Sub(k)
		if sub == nil {
			return nil, errf(InvalidValue, "%s has no sub-attribute %q", a.Name, k)
		}
		if sub.Mutability == schemas.MutabilityReadOnly {
			continue
		}
		cv, clear, err := coerceScalar(sub, v)
		if err != nil {
			return nil, err
		}
		if clear {
			out[sub.Name] = nil
			continue
		}
		out[sub.Name] = cv
	}
	return out, nil
}

// dropNils removes the nil ("unset") entries coerceObject leaves.
func dropNils(m map[string]any) map[string]any {
	for k, v := range m {
		if v == nil {
			delete(m, k)
		}
	}
	return m
}

// coerceSingleComplex coerces the value of a single-valued complex attribute:
// an object. (Entra's manager forms, a plain string id or a one-element
// array, are turned into objects by scim/entra.) The result may hold nils
// (unset); clear is true for null or an object with nothing in it.
func coerceSingleComplex(a *schemas.Attribute, v any) (map[string]any, bool, error) {
	if clearValue(v) {
		return nil, true, nil
	}
	switch x := v.(type) {
	case map[string]any:
		m, err := coerceObject(a, x)
		if err != nil {
			return nil, false, err
		}
		return m, len(m) == 0, nil
	case []any:
		return nil, false, errf(InvalidValue, "%s is single-valued", a.Name)
	}
	return nil, false, errf(InvalidValue, "%s must be an object", a.Name)
}

// coerceMulti coerces the value of a multi-valued attribute to a list of
// elements (a single element is accepted as a one-element list). Elements that
// are empty are dropped. clear is true for null or "".
func coerceMulti(a *schemas.Attribute, v any) ([]any, bool, error) {
	if clearValue(v) {
		return nil, true, nil
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	out := make([]any, 0, len(list))
	for _, el := range list {
		if a.IsComplex() {
			m, ok := el.(map[string]any)
			if !ok {
				return nil, false, errf(InvalidValue, "%s elements must be objects", a.Name)
			}
			cm, err := coerceObject(a, m)
			if err != nil {
				return nil, false, err
			}
			if len(dropNils(cm)) > 0 {
				out = append(out, cm)
			}
			continue
		}
		cv, clear, err := coerceScalar(a, el)
		if err != nil {
			return nil, false, err
		}
		if !clear {
			out = append(out, cv)
		}
	}
	return out, false, nil
}

// deepCopy copies a decoded JSON value.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = deepCopy(e)
		}
		return l
	}
	return v
}

// equal compares two decoded JSON values.
func equal(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equal(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case string:
		y, ok := b.(string)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	}
	return false
}

// subsetMatch reports whether elem holds every entry of want, comparing strings
// by the sub-attribute's caseExact.
func subsetMatch(a *schemas.Attribute, elem, want map[string]any) bool {
	for k, w := range want {
		v, ok := elem[k]
		if !ok {
			return false
		}
		ws, wok := w.(string)
		vs, vok := v.(string)
		if wok && vok {
			if sub := a.Sub(k); sub != nil && !sub.CaseExact {
				if !strings.EqualFold(ws, vs) {
					return false
				}
				continue
			}
		}
		if !equal(v, w) {
			return false
		}
	}
	return true
}

// lookup returns the entry of m called name: the exact key, else a key equal
// to it case-insensitively.
func lookup(m map[string]any, name string) (key string, v any, ok bool) {
	if v, ok := m[name]; ok {
		return name, v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return k, v, true
		}
	}
	return "", nil, false
}
