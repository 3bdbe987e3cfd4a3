// Package patch is the RFC 7644 §3.5.2 PATCH engine: ParseRequest decodes a
// PatchOp message and Apply applies its operations to a resource's Attrs (see
// store.Resource), returning the new Attrs and, for groups, the membership
// delta. It does no I/O and never mutates its input.
//
// Apply implements the RFC. The Microsoft Entra ID dialect (op names in any
// case, "True"/"False" strings, path-less values keyed by dotted or URN
// paths, the manager forms, member removal with a value list, "" as "clear",
// roles as JSON strings) is turned into RFC form beforehand by the scim/entra
// normaliser (entra.ParsePatch = ParseRequest + entra.NormalizePatch); call
// that, not ParseRequest alone, in front of Apply for client traffic.
//
// The few tolerances that need the current resource, and so cannot live in a
// request-only normaliser, are in Apply and named as such:
//
//   - createFromFilter: add/replace with a value filter that matches nothing
//     creates the element from the filter's eq terms
//     (`emails[type eq "work"].value` creates {"type":"work","value":…}, as
//     Entra and its validator expect; RFC replace would say noTarget); when
//     the filter has no usable eq terms (or, not, other operators) it fails
//     with noTarget. Replacing matched elements without a sub-attribute keeps
//     the filter's eq terms, so `replace emails[type eq "work"]` with
//     {"value":"x"} keeps type "work".
//   - filteredSingle: a value filter on a single-valued complex attribute
//     (`remove urn:…:manager[value eq "id"]`) applies only when the current
//     value matches; remove is then a no-op otherwise.
//   - remove with a filter that matches nothing is a no-op (idempotent for
//     Entra's retries) rather than noTarget.
//   - removeListed: remove of a multi-valued attribute WITH a non-null value
//     list removes only the listed elements (for complex attributes, those
//     matching every listed sub-attribute); an empty list is a no-op. The RFC
//     gives remove no value, and reading it as "remove all" would let a
//     malformed request wipe an attribute (or a group's members), so Apply
//     never does. Only remove without a value (or with null) removes all.
//
// Other decisions worth knowing:
//
//   - Group members never live in Attrs; member operations only build the
//     store.MemberDelta. `members[value eq "x"]` and or-chains of `value eq`
//     terms are turned into ids directly (exact id match, no member list
//     needed); any other member filter is evaluated with query.MatchElement
//     against Options.Members plus the members added earlier in the request.
//   - replace of a single-valued complex attribute (name, manager) replaces
//     the whole value, as the brief asks (RFC 7644 §3.5.2.3 would merge);
//     add merges.
//   - null clears the target (RFC 7643 §2.5); on a required attribute it is
//     invalidValue. Clearing (or removing) the "value" of a multi-valued
//     element removes the element, so `replace emails[type eq "work"].value
//     null` leaves no empty {"type":"work"} behind. An add of [] is a no-op.
//   - readOnly sub-attributes inside a complex value (manager.displayName,
//     members.display) are dropped silently; a path naming a readOnly
//     attribute or sub-attribute is a mutability error.
//   - Numbers are float64 (json.Unmarshal without UseNumber), as in Attrs;
//     json.Number values are accepted too.
package patch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// PatchOpURN is the schema URN of a PATCH request body.
const PatchOpURN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

// Operation names (RFC 7644 §3.5.2). Apply accepts exactly these.
const (
	OpAdd     = "add"
	OpRemove  = "remove"
	OpReplace = "replace"
)

// SCIM error types (RFC 7644 §3.12) that Error carries.
const (
	InvalidPath   = "invalidPath"
	NoTarget      = "noTarget"
	InvalidValue  = "invalidValue"
	Mutability    = "mutability"
	InvalidSyntax = "invalidSyntax"
)

// Operation is one decoded PATCH operation. Value is decoded JSON
// (map[string]any, []any, string, float64, bool or nil); HasValue tells an
// explicit null from an absent value. Path "" means no path. Index is the
// 1-based position of the operation in the request it came from (0: unknown),
// kept by normalisers that split one operation into several, for errors.
type Operation struct {
	Op       string
	Path     string
	Value    any
	HasValue bool
	Index    int
}

// Error is a PATCH error that becomes a 400 SCIM error with ScimType.
type Error struct {
	ScimType string
	Detail   string
}

func (e *Error) Error() string { return "patch: " + e.ScimType + ": " + e.Detail }

func errf(scimType, format string, args ...any) *Error {
	return &Error{ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

// ParseRequest decodes a PatchOp request body: schemas must contain PatchOpURN,
// Operations must be a non-empty array of objects, each with a string op that
// is add, remove or replace in any case (returned as sent, trimmed: folding
// the case is the normaliser's job) and an optional string path. JSON keys
// are matched case-insensitively. Errors are *Error with ScimType
// invalidSyntax.
func ParseRequest(body []byte) ([]Operation, error) {
	var req struct {
		Schemas    []string          `json:"schemas"`
		Operations []json.RawMessage `json:"Operations"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, errf(InvalidSyntax, "the body is not a valid PatchOp message: %s", jsonErr(err))
	}
	ok := false
	for _, s := range req.Schemas {
		if strings.EqualFold(s, PatchOpURN) {
			ok = true
			break
		}
	}
	if !ok {
		return nil, errf(InvalidSyntax, "schemas must contain %q", PatchOpURN)
	}
	if len(req.Operations) == 0 {
		return nil, errf(InvalidSyntax, "Operations must be a non-empty array")
	}
	ops := make([]Operation, 0, len(req.Operations))
	for i, raw := range req.Operations {
		op, err := parseOperation(raw)
		if err != nil {
			return nil, errf(InvalidSyntax, "operation %d: %s", i+1, err)
		}
		op.Index = i + 1
		ops = append(ops, op)
	}
	return ops, nil
}

func parseOperation(raw json.RawMessage) (Operation, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return Operation{}, fmt.Errorf("not an object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return Operation{}, fmt.Errorf("%s", jsonErr(err))
	}
	var op Operation
	var haveOp, havePath bool
	for k, v := range m {
		lk := strings.ToLower(k)
		switch lk {
		case "op", "path", "value":
			if (lk == "op" && haveOp) || (lk == "path" && havePath) || (lk == "value" && op.HasValue) {
				return Operation{}, fmt.Errorf("duplicate %q", lk)
			}
		}
		switch lk {
		case "op":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return Operation{}, fmt.Errorf("op must be a string")
			}
			op.Op, haveOp = strings.TrimSpace(s), true
		case "path":
			var s *string
			if err := json.Unmarshal(v, &s); err != nil {
				return Operation{}, fmt.Errorf("path must be a string")
			}
			if s != nil {
				op.Path = strings.TrimSpace(*s)
			}
			havePath = true
		case "value":
			if err := json.Unmarshal(v, &op.Value); err != nil {
				return Operation{}, fmt.Errorf("value: %s", jsonErr(err))
			}
			op.HasValue = true
		}
	}
	if !haveOp {
		return Operation{}, fmt.Errorf("op is missing")
	}
	switch strings.ToLower(op.Op) {
	case OpAdd, OpRemove, OpReplace:
	default:
		return Operation{}, fmt.Errorf("op %q is not add, remove or replace", op.Op)
	}
	return op, nil
}

// jsonErr turns an encoding/json error into text without Go type names.
func jsonErr(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("malformed JSON at offset %d", e.Offset)
	case *json.UnmarshalTypeError:
		if e.Field != "" {
			return fmt.Sprintf("%s has the wrong type (%s)", e.Field, e.Value)
		}
		return fmt.Sprintf("unexpected %s", e.Value)
	}
	return "malformed JSON"
}
