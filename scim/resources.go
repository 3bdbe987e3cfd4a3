package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/schema"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/scim/entra"
	"github.com/scimbridge/scimbridge/store"
)

// readBody reads the request body up to the configured limit; a larger body
// is a 413, one that arrives too slowly a 408 (see guardBody), one that is
// not valid UTF-8 a 400.
func (s *server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return readLimited(w, r, s.maxBody, errTooLarge)
}

// readLimited reads the body of r up to limit bytes (tooLarge beyond) and
// checks that it is valid UTF-8.
func readLimited(w http.ResponseWriter, r *http.Request, limit int64, tooLarge *apiError) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return nil, tooLarge
		case errors.Is(err, errBodyTooSlow):
			return nil, errSlowBody
		}
		return nil, errBadRequest(scimerrors.ScimTypeInvalidSyntax, "The request body could not be read.")
	}
	if err := checkUTF8(b); err != nil {
		return nil, err
	}
	return b, nil
}

// checkUTF8 rejects a body that is not valid UTF-8 or whose JSON strings
// escape a lone UTF-16 surrogate ("\ud800"): encoding/json would store
// either as U+FFFD, a value that differs from the one sent.
func checkUTF8(b []byte) error {
	if !utf8.Valid(b) {
		i := 0
		for i < len(b) {
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return errBadRequest(scimerrors.ScimTypeInvalidValue, fmt.Sprintf("The request body is not valid UTF-8 (at byte %d).", i))
	}
	// Only escapes inside strings matter; a backslash only occurs there.
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			continue
		}
		if b[i+1] != 'u' {
			i++ // skip the escaped character (it may be a backslash)
			continue
		}
		c, ok := hex4(b[i+2:])
		if !ok {
			continue // invalid JSON: the decoder reports it
		}
		switch {
		case c >= 0xD800 && c <= 0xDBFF:
			if len(b) >= i+12 && b[i+6] == '\\' && b[i+7] == 'u' {
				if lo, ok := hex4(b[i+8:]); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					i += 11
					continue
				}
			}
			fallthrough
		case c >= 0xDC00 && c <= 0xDFFF:
			return errBadRequest(scimerrors.ScimTypeInvalidValue, fmt.Sprintf("The request body escapes an unpaired UTF-16 surrogate (at byte %d), which is not a character.", i))
		}
		i += 5
	}
	return nil
}

// hex4 decodes four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// checkStringLimits rejects a resource with a string longer than its limit
// (schemas.StringLimits), except values already stored at the same path in
// old (nil for a new resource): an imported over-long value does not block
// changes to other attributes.
func (s *server) checkStringLimits(attrs, old map[string]any) error {
	over := s.limits.Check(attrs, old)
	if len(over) == 0 {
		return nil
	}
	o := over[0]
	return errBadRequest(scimerrors.ScimTypeInvalidValue, fmt.Sprintf("Attribute %q is %d bytes long; the limit is %d bytes.", o.Attribute, o.Bytes, o.Limit))
}

// decodeJSONObject decodes a JSON object keeping numbers as json.Number, as
// elimity's validation expects.
func decodeJSONObject(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || m == nil {
		return nil, errBadRequest(scimerrors.ScimTypeInvalidSyntax, "The request body must be a JSON object.")
	}
	if d.More() {
		return nil, errBadRequest(scimerrors.ScimTypeInvalidSyntax, "The request body must hold one JSON object.")
	}
	return m, nil
}

// decodedResource is a validated POST or PUT body.
type decodedResource struct {
	attrs      map[string]any
	members    []store.Member // groups only
	hasMembers bool           // the body carried a "members" attribute
}

// decodeResource parses and validates a POST/PUT body for rt. Attribute names
// are matched case-insensitively and stored in canonical spelling; unknown
// attributes are errors; readOnly attributes (id, meta, groups) are ignored as
// RFC 7643 §7 says; password is not stored (scimbridge does not keep
// credentials). Types are checked by elimity-com/scim's schema validation.
func (s *server) decodeResource(rt *schemas.ResourceType, body []byte) (decodedResource, error) {
	m, err := decodeJSONObject(body)
	if err != nil {
		return decodedResource{}, err
	}
	m = entra.NormalizeResource(rt, m)
	if err := checkSchemas(rt, m["schemas"]); err != nil {
		return decodedResource{}, err
	}
	var out decodedResource
	core := map[string]any{"schemas": []any{rt.Schema.ID}}
	exts := map[string]map[string]any{}
	for k, v := range m {
		switch strings.ToLower(k) {
		case "schemas", "id", "meta":
			continue
		case "members":
			if rt.Name == string(store.Group) {
				out.members, err = decodeMembers(v)
				if err != nil {
					return decodedResource{}, err
				}
				out.hasMembers = true
				continue
			}
		}
		if a := rt.Attribute(k); a != nil {
			if a.Mutability == schemas.MutabilityReadOnly && a.Name != "externalId" {
				continue
			}
			if a.Name == "password" {
				continue
			}
			cv, err := canonicalValue(a, v, a.Name)
			if err != nil {
				return decodedResource{}, err
			}
			if _, dup := core[a.Name]; dup {
				return decodedResource{}, errBadRequest(scimerrors.ScimTypeInvalidSyntax, fmt.Sprintf("Attribute %q appears more than once.", a.Name))
			}
			core[a.Name] = cv
			continue
		}
		if e := rt.Extension(k); e != nil {
			em, err := canonicalExtension(e, v)
			if err != nil {
				return decodedResource{}, err
			}
			exts[e.Schema.ID] = em
			continue
		}
		return decodedResource{}, errBadRequest(scimerrors.ScimTypeInvalidSyntax, fmt.Sprintf("Unknown attribute %q for resource type %s.", k, rt.Name))
	}
	ext, _ := core["externalId"]
	delete(core, "externalId")
	validated, serr := rt.Schema.Validate(core)
	if serr != nil {
		return decodedResource{}, validationError(rt.Schema, core, serr)
	}
	out.attrs = validated
	if ext != nil {
		xs, ok := ext.(string)
		if !ok {
			return decodedResource{}, errBadRequest(scimerrors.ScimTypeInvalidValue, "Attribute \"externalId\" must be a string.")
		}
		if xs != "" {
			out.attrs["externalId"] = xs
		}
	}
	for _, e := range rt.Extensions {
		em, ok := exts[e.Schema.ID]
		if !ok {
			if e.Required {
				return decodedResource{}, errBadRequest(scimerrors.ScimTypeInvalidValue, fmt.Sprintf("Extension %q is required.", e.Schema.ID))
			}
			continue
		}
		v, serr := e.Schema.ValidateExtension(em)
		if serr != nil {
			return decodedResource{}, validationError(e.Schema, em, serr)
		}
		if len(v) > 0 {
			out.attrs[e.Schema.ID] = v
		}
	}
	normalize(out.attrs)
	if err := checkRequired(rt, out.attrs); err != nil {
		return decodedResource{}, errBadRequest(scimerrors.ScimTypeInvalidValue, err.(*apiError).detail)
	}
	return out, nil
}

// checkSchemas requires the "schemas" attribute to list the resource type's
// core schema (RFC 7643 §3). Other URNs are tolerated: Entra adds its own
// group schema URN.
func checkSchemas(rt *schemas.ResourceType, v any) error {
	list, ok := v.([]any)
	if ok {
		for _, u := range list {
			if us, _ := u.(string); strings.EqualFold(us, rt.Schema.ID) {
				return nil
			}
		}
	}
	return errBadRequest(scimerrors.ScimTypeInvalidSyntax, fmt.Sprintf("The \"schemas\" attribute must include %q.", rt.Schema.ID))
}

func decodeMembers(v any) ([]store.Member, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, errBadRequest(scimerrors.ScimTypeInvalidValue, "Attribute \"members\" must be an array.")
	}
	out := make([]store.Member, 0, len(list))
	for _, e := range list {
		em, ok := e.(map[string]any)
		if !ok {
			return nil, errBadRequest(scimerrors.ScimTypeInvalidValue, "Each member must be an object with a \"value\".")
		}
		var val string
		for k, x := range em {
			if strings.EqualFold(k, "value") {
				val, _ = x.(string)
			}
		}
		if val == "" {
			return nil, errBadRequest(scimerrors.ScimTypeInvalidValue, "Each member must have a non-empty string \"value\".")
		}
		out = append(out, store.Member{Value: val})
	}
	return out, nil
}

func canonicalExtension(e *schemas.Extension, v any) (map[string]any, error) {
	if v == nil {
		return map[string]any{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errBadRequest(scimerrors.ScimTypeInvalidValue, fmt.Sprintf("Extension %q must be an object.", e.Schema.ID))
	}
	out := make(map[string]any, len(m))
	for k, x := range m {
		var a *schemas.Attribute
		for _, c := range e.Attributes() {
			if strings.EqualFold(c.Name, k) {
				a = c
				break
			}
		}
		if a == nil {
			return nil, errBadRequest(scimerrors.ScimTypeInvalidSyntax, fmt.Sprintf("Unknown attribute %q in extension %q.", k, e.Schema.ID))
		}
		if a.Mutability == schemas.MutabilityReadOnly {
			continue
		}
		cv, err := canonicalValue(a, x, e.Schema.ID+":"+a.Name)
		if err != nil {
			return nil, err
		}
		out[a.Name] = cv
	}
	return out, nil
}

// canonicalValue renames sub-attribute keys to their canonical spelling,
// rejects unknown sub-attributes, drops readOnly sub-attributes, coerces the
// string booleans Entra sends ("True", "false") where the schema says
// boolean, and accepts a plain string for a single-valued complex attribute
// with a "value" sub-attribute (Entra sends manager that way).
func canonicalValue(a *schemas.Attribute, v any, name string) (any, error) {
	if v == nil {
		return nil, nil
	}
	if a.MultiValued {
		list, ok := v.([]any)
		if !ok {
			// A single value where an array is expected is wrapped.
			list = []any{v}
		}
		out := make([]any, 0, len(list))
		for _, e := range list {
			cv, err := canonicalSingle(a, e, name)
			if err != nil {
				return nil, err
			}
			if cv != nil {
				out = append(out, cv)
			}
		}
		return out, nil
	}
	return canonicalSingle(a, v, name)
}

func canonicalSingle(a *schemas.Attribute, v any, name string) (any, error) {
	switch a.Type {
	case schemas.TypeBoolean:
		if s, ok := v.(string); ok {
			switch strings.ToLower(s) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
		}
		return v, nil
	case schemas.TypeComplex:
		if s, ok := v.(string); ok && !a.MultiValued && a.Sub("value") != nil {
			if s == "" {
				return nil, nil
			}
			return map[string]any{"value": s}, nil
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, errBadRequest(scimerrors.ScimTypeInvalidValue, fmt.Sprintf("Attribute %q must be an object.", name))
		}
		out := make(map[string]any, len(m))
		for k, x := range m {
			sa := a.Sub(k)
			if sa == nil {
				return nil, errBadRequest(scimerrors.ScimTypeInvalidSyntax, fmt.Sprintf("Unknown sub-attribute %q of %q.", k, name))
			}
			if sa.Mutability == schemas.MutabilityReadOnly || x == nil {
				continue
			}
			cv, err := canonicalSingle(sa, x, name+"."+sa.Name)
			if err != nil {
				return nil, err
			}
			out[sa.Name] = cv
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	}
	return v, nil
}

// validationError turns elimity's generic validation error into one that
// names the offending attribute, by validating each attribute on its own.
// It runs only on the error path.
func validationError(s schema.Schema, m map[string]any, serr *scimerrors.ScimError) error {
	for _, a := range s.Attributes {
		single := schema.Schema{ID: s.ID, Attributes: schema.Attributes{a}}
		probe := map[string]any{"schemas": []any{s.ID}}
		for k, v := range m {
			if strings.EqualFold(k, a.Name()) {
				probe[k] = v
			}
		}
		if _, e := single.ValidateExtension(probe); e != nil {
			detail := fmt.Sprintf("Attribute %q has an invalid value.", a.Name())
			if probe[a.Name()] == nil && a.Required() {
				detail = fmt.Sprintf("Attribute %q is required.", a.Name())
			}
			return errBadRequest(e.ScimType, detail)
		}
	}
	t := serr.ScimType
	if t == "" {
		t = scimerrors.ScimTypeInvalidValue
	}
	return errBadRequest(t, serr.Detail)
}

// normalize turns the int64 and json.Number values elimity's validation
// leaves into float64, the form every stored document has after a JSON round
// trip (so writes compare equal to reads), and drops null, empty-string,
// empty-array and empty-object values: an absent attribute and an empty one are the same in
// SCIM (RFC 7643 §2.5), and Entra sends "roles": [] and nulls freely.
func normalize(m map[string]any) {
	for k, v := range m {
		if nv, keep := normalizeValue(v); keep {
			m[k] = nv
		} else {
			delete(m, k)
		}
	}
}

func normalizeValue(v any) (any, bool) {
	switch x := v.(type) {
	case nil:
		return nil, false
	case string:
		return x, x != ""
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case json.Number:
		f, _ := x.Float64()
		return f, true
	case map[string]any:
		normalize(x)
		return x, len(x) > 0
	case []any:
		out := x[:0]
		for _, e := range x {
			if ne, keep := normalizeValue(e); keep {
				out = append(out, ne)
			}
		}
		return out, len(out) > 0
	}
	return v, true
}
