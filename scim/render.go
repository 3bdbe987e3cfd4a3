package scim

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
)

// projection is a parsed attributes / excludedAttributes pair (RFC 7644
// §3.4.2.5 and §3.9). Paths are lower-cased canonical paths: "username",
// "name.givenname", "urn:…:user:manager", "urn:…:user" for a whole extension.
type projection struct {
	include map[string]bool // nil: no attributes parameter
	exclude map[string]bool
}

// parseProjection validates both parameters against rt; unknown attributes
// are a 400 invalidValue naming them.
func parseProjection(rt *schemas.ResourceType, attributes, excluded string) (*projection, error) {
	if attributes == "" && excluded == "" {
		return nil, nil
	}
	p := &projection{}
	parse := func(param, list string) (map[string]bool, error) {
		out := map[string]bool{}
		for _, raw := range strings.Split(list, ",") {
			raw = strings.TrimSpace(raw)
			if raw == "" {
				continue
			}
			if urn, rest := rt.SplitURN(raw); urn != "" && rest == "" {
				out[strings.ToLower(urn)] = true
				continue
			}
			path, err := rt.ResolvePath(raw)
			if err != nil {
				return nil, errBadRequest(scimerrors.ScimTypeInvalidValue, fmt.Sprintf("%s: unknown attribute %q.", param, raw))
			}
			out[strings.ToLower(path.String())] = true
			if path.Sub != nil {
				// Naming a sub-attribute selects its parent too.
				out[strings.ToLower(Path{path.URN, path.Attr}.String())+"."] = true
			}
		}
		return out, nil
	}
	var err error
	if attributes != "" {
		if p.include, err = parse("attributes", attributes); err != nil {
			return nil, err
		}
	}
	if excluded != "" {
		if p.exclude, err = parse("excludedAttributes", excluded); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Path is a shorthand used to name a top-level attribute path.
type Path struct {
	URN  string
	Attr *schemas.Attribute
}

func (p Path) String() string {
	if p.URN != "" {
		return p.URN + ":" + p.Attr.Name
	}
	return p.Attr.Name
}

// wants decides whether an attribute at key (lower-cased canonical path) is
// returned. partial reports that only some sub-attributes were asked for.
func (p *projection) wants(a *schemas.Attribute, key string) (want, partial bool) {
	switch a.Returned {
	case schemas.ReturnedNever:
		return false, false
	case schemas.ReturnedAlways:
		return true, false
	}
	if p == nil {
		return a.Returned != schemas.ReturnedRequest, false
	}
	if p.include != nil {
		if p.include[key] {
			return true, false
		}
		if i := strings.LastIndex(key, ":"); i > 0 && p.include[key[:i]] {
			return a.Returned != schemas.ReturnedRequest, false
		}
		return p.include[key+"."], p.include[key+"."]
	}
	if p.exclude[key] {
		return false, false
	}
	if i := strings.LastIndex(key, ":"); i > 0 && p.exclude[key[:i]] {
		return false, false
	}
	return a.Returned != schemas.ReturnedRequest, p.exclude[key+"."]
}

// wantsSub decides for a sub-attribute when its parent was partially selected.
func (p *projection) wantsSub(sa *schemas.Attribute, key string) bool {
	switch sa.Returned {
	case schemas.ReturnedNever:
		return false
	case schemas.ReturnedAlways:
		return true
	}
	if p.include != nil {
		return p.include[key]
	}
	return !p.exclude[key] && sa.Returned != schemas.ReturnedRequest
}

// wantsAttr reports whether the top-level core attribute name is returned.
func (p *projection) wantsAttr(rt *schemas.ResourceType, name string) bool {
	a := rt.Attribute(name)
	if a == nil {
		return false
	}
	want, _ := p.wants(a, strings.ToLower(name))
	return want
}

func etag(v int64) string { return `W/"` + strconv.FormatInt(v, 10) + `"` }

// related holds what a resource's representation shows from the membership
// records: a group's members, a user's groups. nil: not wanted.
type related struct {
	members []store.Member
	groups  []store.Member
}

// render turns a stored resource into its SCIM representation, honouring the
// projection and each attribute's "returned" characteristic. rel is loaded by
// the caller (loadRelated) only when the projection wants it.
func (s *server) render(base string, rt *schemas.ResourceType, res store.Resource, p *projection, rel related) map[string]any {
	out := make(map[string]any, len(res.Attrs)+4)
	urns := make([]any, 1, 1+len(rt.Extensions))
	urns[0] = rt.Schema.ID
	out["schemas"] = urns
	out["id"] = res.ID
	if x, ok := res.Attrs["externalId"]; ok {
		if want, _ := p.wants(rt.Attribute("externalId"), "externalid"); want {
			out["externalId"] = x
		}
	}
	for _, a := range rt.CoreAttributes() {
		v, ok := res.Attrs[a.Name]
		if !ok {
			continue
		}
		if rv := project(p, a, strings.ToLower(a.Name), v); rv != nil {
			out[a.Name] = rv
		}
	}
	for _, e := range rt.Extensions {
		em, ok := res.Attrs[e.Schema.ID].(map[string]any)
		if !ok {
			continue
		}
		prefix := strings.ToLower(e.Schema.ID) + ":"
		pe := make(map[string]any, len(em))
		for _, a := range e.Attributes() {
			v, ok := em[a.Name]
			if !ok {
				continue
			}
			if rv := project(p, a, prefix+strings.ToLower(a.Name), v); rv != nil {
				pe[a.Name] = rv
			}
		}
		urns = append(urns, e.Schema.ID)
		out["schemas"] = urns
		if len(pe) > 0 {
			out[e.Schema.ID] = pe
		}
	}
	if rel.members != nil {
		out["members"] = memberList{base: base, members: rel.members}
	}
	if len(rel.groups) > 0 {
		list := make([]any, len(rel.groups))
		for i, g := range rel.groups {
			el := map[string]any{"value": g.Value, "$ref": base + "/Groups/" + g.Value, "type": "direct"}
			if g.Display != "" {
				el["display"] = g.Display
			}
			list[i] = el
		}
		out["groups"] = list
	}
	if want, _ := p.wants(rt.Attribute("meta"), "meta"); want {
		out["meta"] = map[string]any{
			"resourceType": rt.Name,
			"created":      res.Created.UTC().Format(time.RFC3339Nano),
			"lastModified": res.LastModified.UTC().Format(time.RFC3339Nano),
			"location":     base + rt.Endpoint + "/" + res.ID,
			"version":      etag(res.Version),
		}
	}
	return out
}

// memberList is a group's members as a response shows them: for each,
// {"$ref": base/Users/id or base/Groups/id, "display" (when known), "type",
// "value"}. appendJSON writes it directly, without a map per member: a
// group's GET spent more time building and sorting those maps than reading
// the members.
type memberList struct {
	base    string
	members []store.Member
}

// appendJSON appends the members as a JSON array, keys in sorted order as
// for a map.
func (l memberList) appendJSON(b []byte) []byte {
	base := appendJSONStringContent(nil, l.base)
	// One allocation for the whole list rather than a doubling per few
	// members: ids, types and displays take about 100 bytes besides base.
	b = slices.Grow(b, len(l.members)*(len(base)+100))
	b = append(b, '[')
	for i, m := range l.members {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"$ref":"`...)
		b = append(b, base...)
		if m.Type == store.User {
			b = append(b, "/Users/"...)
		} else {
			b = append(b, "/Groups/"...)
		}
		b = appendJSONStringContent(b, m.Value)
		b = append(b, '"')
		if m.Display != "" {
			b = append(b, `,"display":`...)
			b = appendJSONString(b, m.Display)
		}
		b = append(b, `,"type":`...)
		b = appendJSONString(b, string(m.Type))
		b = append(b, `,"value":`...)
		b = appendJSONString(b, m.Value)
		b = append(b, '}')
	}
	return append(b, ']')
}

// MarshalJSON makes encoding/json write the same as appendJSON.
func (l memberList) MarshalJSON() ([]byte, error) { return l.appendJSON(nil), nil }

// project applies the projection to one top-level attribute value; nil means
// leave it out.
func project(p *projection, a *schemas.Attribute, key string, v any) any {
	want, partial := p.wants(a, key)
	if !want {
		return nil
	}
	if !a.IsComplex() || (!partial && !hasNeverSub(a)) {
		return v
	}
	filter := func(m map[string]any) map[string]any {
		o := make(map[string]any, len(m))
		for k, x := range m {
			sa := a.Sub(k)
			if sa == nil {
				continue
			}
			if partial && p != nil {
				if !p.wantsSub(sa, key+"."+strings.ToLower(sa.Name)) {
					continue
				}
			} else if sa.Returned == schemas.ReturnedNever {
				continue
			}
			o[k] = x
		}
		return o
	}
	switch x := v.(type) {
	case map[string]any:
		if o := filter(x); len(o) > 0 {
			return o
		}
		return nil
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				if o := filter(m); len(o) > 0 {
					out = append(out, o)
				}
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return v
}

func hasNeverSub(a *schemas.Attribute) bool {
	for _, sa := range a.SubAttributes {
		if sa.Returned == schemas.ReturnedNever {
			return true
		}
	}
	return false
}

// loadRelated loads a group's members or a user's groups when the
// projection wants them.
func (s *server) loadRelated(ctx context.Context, rt *schemas.ResourceType, res store.Resource, p *projection) (related, error) {
	var rel related
	var err error
	switch res.Kind {
	case store.Group:
		if p.wantsAttr(rt, "members") {
			rel.members, err = s.st.Members(ctx, res.Ref, "", 0)
			if rel.members == nil {
				rel.members = []store.Member{}
			}
		}
	case store.User:
		if p.wantsAttr(rt, "groups") {
			rel.groups, err = s.st.MemberOf(ctx, res.Ref)
		}
	}
	return rel, err
}
