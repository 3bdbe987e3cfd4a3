package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/query"
)

// walkBase stands in for the server's base URL in the rendered views below.
const walkBase = "https://scim.example.test/scim/v2"

// unfilterable are the readable attributes a filter may not name: the server
// builds them from its base URL when rendering, so no store holds them, and
// Parse answers 400 invalidFilter rather than a filter that never matches.
var unfilterable = map[string]bool{
	"User meta.location":  true,
	"User groups.$ref":    true,
	"Group meta.location": true,
	"Group members.$ref":  true,
}

// testQueryEveryAttribute walks every readable attribute of the User (core
// and enterprise) and Group schemas. For each, the value the resource shows
// when rendered (its stored attributes plus id, meta, a group's members and a
// user's groups, read through the Store as the SCIM handlers read them) must
// find the resource with eq and pr, a different value must not, and pr must
// not find a resource without the attribute; or the filter must be refused
// with query.ErrInvalidFilter, which only the unfilterable attributes are.
// This is how `groups.value eq "<id>"` answering nothing would be caught.
func testQueryEveryAttribute(t *testing.T, s store.Store) {
	reg, err := loadSchemas()
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	full := map[store.Kind]store.Resource{}
	bare := map[store.Kind]store.Resource{}
	full[store.User] = mustCreate(t, s, store.Resource{Ref: userRef(tenantA, "uf"), Attrs: walkAttrs(reg.User, "uf")})
	bare[store.User] = mustCreate(t, s, newUser(tenantA, "ub", "bare-user"))
	full[store.Group] = mustCreate(t, s, store.Resource{Ref: groupRef(tenantA, "gf"), Attrs: walkAttrs(reg.Group, "gf")}, "uf")
	bare[store.Group] = mustCreate(t, s, newGroup(tenantA, "gb", "bare-group"))
	// The other tenant's look-alike must never be found.
	mustCreate(t, s, store.Resource{Ref: userRef(tenantB, "uf"), Attrs: walkAttrs(reg.User, "uf")})

	refused := []string{}
	for _, rt := range reg.ResourceTypes() {
		kind := store.Kind(rt.Name)
		fullView := renderedView(t, s, rt, full[kind])
		bareView := renderedView(t, s, rt, bare[kind])
		for _, p := range rt.ReadablePaths() {
			name := rt.Name + " " + p.String()
			v := valueAt(fullView, p)
			if v == nil {
				t.Errorf("%s: the fixture has no value for it; extend walkAttrs", name)
				continue
			}
			type check struct {
				filter string
				want   []string // ids in creation order
			}
			checks := []check{{p.String() + " pr", holding(full[kind], bare[kind], bareView, p, nil)}}
			if !p.Leaf().IsComplex() { // `attr eq` means attr.value, walked on its own
				checks = append(checks,
					check{p.String() + " eq " + literal(v), holding(full[kind], bare[kind], bareView, p, v)},
					check{p.String() + " eq " + literal(other(v)), nil})
			}
			for _, c := range checks {
				f, err := query.Parse(rt, c.filter)
				if errors.Is(err, query.ErrInvalidFilter) {
					if !unfilterable[name] {
						t.Errorf("%s: Parse(%s) refused a readable attribute: %v", name, c.filter, err)
					}
					refused = append(refused, name)
					break
				}
				if err != nil {
					t.Fatalf("Parse(%s): %v", c.filter, err)
				}
				if unfilterable[name] {
					t.Errorf("%s: Parse(%s) accepted a filter no store can answer", name, c.filter)
					break
				}
				page, err := s.Query(ctx, tenantA, kind, store.Query{Filter: f, Count: 10})
				if err != nil {
					t.Fatalf("Query(%s): %v", c.filter, err)
				}
				got := []string{}
				for _, r := range page.Resources {
					got = append(got, r.ID)
				}
				if !slices.Equal(got, c.want) && (len(got) > 0 || len(c.want) > 0) || page.Total != len(c.want) {
					t.Errorf("%s: %s found %v (total %d), want %v", rt.Name, c.filter, got, page.Total, c.want)
				}
			}
		}
	}
	for name := range unfilterable {
		if !slices.Contains(refused, name) {
			t.Errorf("%s was not walked or not refused", name)
		}
	}
}

// walkAttrs returns stored attributes giving every writable attribute of rt
// (core and extensions) a value; id, meta, members and groups come from the
// store. Values are distinct per resource id so that look-alikes differ.
func walkAttrs(rt *schemas.ResourceType, id string) map[string]any {
	attrs := map[string]any{}
	put := func(m map[string]any, list []*schemas.Attribute) {
		for _, a := range list {
			switch a.Name {
			case "id", "meta", "members", "groups":
				continue
			}
			if a.Returned == schemas.ReturnedNever {
				continue
			}
			m[a.Name] = walkValue(a, id)
		}
	}
	put(attrs, rt.CommonAttributes())
	put(attrs, rt.CoreAttributes())
	for _, e := range rt.Extensions {
		m := map[string]any{}
		put(m, e.Attributes())
		attrs[e.Schema.ID] = m
	}
	return attrs
}

func walkValue(a *schemas.Attribute, id string) any {
	var v any
	switch a.Type {
	case schemas.TypeComplex:
		m := map[string]any{}
		for _, sub := range a.SubAttributes {
			if sub.Returned != schemas.ReturnedNever {
				m[sub.Name] = walkValue(sub, id)
			}
		}
		v = m
	case schemas.TypeBoolean:
		v = true
	case schemas.TypeInteger:
		v = float64(7)
	case schemas.TypeDecimal:
		v = 2.5
	case schemas.TypeDateTime:
		v = "2021-03-04T05:06:07Z"
	case schemas.TypeBinary:
		v = "QUJD"
	case schemas.TypeReference:
		v = "https://ref.example/" + id + "/" + a.Name
	default:
		switch {
		case len(a.CanonicalValues) > 0:
			v = a.CanonicalValues[0]
		default:
			v = id + "-" + a.Name
		}
	}
	if a.MultiValued {
		return []any{v}
	}
	return v
}

// renderedView is r as a SCIM response shows it: stored attributes, id,
// meta (with location), a group's members and a user's groups (with $ref),
// the related resources read through Members and MemberOf.
func renderedView(t *testing.T, s store.Store, rt *schemas.ResourceType, r store.Resource) map[string]any {
	t.Helper()
	r = mustGet(t, s, r.Ref)
	view := map[string]any{}
	for k, v := range r.Attrs {
		view[k] = v
	}
	view["id"] = r.ID
	view["meta"] = map[string]any{
		"resourceType": rt.Name,
		"created":      r.Created.UTC().Format(time.RFC3339Nano),
		"lastModified": r.LastModified.UTC().Format(time.RFC3339Nano),
		"location":     walkBase + rt.Endpoint + "/" + r.ID,
		"version":      `W/"` + strconv.FormatInt(r.Version, 10) + `"`,
	}
	related := func(ms []store.Member, err error, groups bool) []any {
		if err != nil {
			t.Fatal(err)
		}
		var out []any
		for _, m := range ms {
			el := map[string]any{"value": m.Value, "type": string(m.Type), "$ref": walkBase + "/" + string(m.Type) + "s/" + m.Value}
			if groups {
				el["type"] = "direct"
			}
			if m.Display != "" {
				el["display"] = m.Display
			}
			out = append(out, el)
		}
		return out
	}
	switch r.Kind {
	case store.Group:
		ms, err := s.Members(ctxT(t), r.Ref, "", 0)
		if list := related(ms, err, false); list != nil {
			view["members"] = list
		}
	case store.User:
		gs, err := s.MemberOf(ctxT(t), r.Ref)
		if list := related(gs, err, true); list != nil {
			view["groups"] = list
		}
	}
	return view
}

// valueAt returns the first value at p in a rendered view, or nil.
func valueAt(view map[string]any, p schemas.Path) any {
	root := view
	if p.URN != "" {
		root, _ = view[p.URN].(map[string]any)
	}
	v := root[p.Attr.Name]
	if list, ok := v.([]any); ok {
		if len(list) == 0 {
			return nil
		}
		v = list[0]
	}
	if p.Sub == nil {
		return v
	}
	m, _ := v.(map[string]any)
	return m[p.Sub.Name]
}

// holding is what `p pr` (v nil) or `p eq v` must find: the full resource,
// and the bare one if its view has a value there (id, meta, userName,
// displayName), equal to v if given (meta.version, meta.resourceType).
func holding(full, bare store.Resource, bareView map[string]any, p schemas.Path, v any) []string {
	bv := valueAt(bareView, p)
	if bv != nil && bv != "" && (v == nil || bv == v) {
		return []string{full.ID, bare.ID}
	}
	return []string{full.ID}
}

// literal writes v as a filter value.
func literal(v any) string {
	switch x := v.(type) {
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return `"` + strings.ReplaceAll(strings.ReplaceAll(x, `\`, `\\`), `"`, `\"`) + `"`
	}
	panic(fmt.Sprintf("no literal for %T", v))
}

// other returns a value of v's type that differs from it.
func other(v any) any {
	switch x := v.(type) {
	case bool:
		return !x
	case float64:
		return x + 1
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return t.Add(time.Hour).Format(time.RFC3339Nano)
		}
		return x + "-other"
	}
	return v
}
