package scim_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/schemas"
)

// TestFilterEveryRenderedAttribute walks every readable attribute of the
// User (core and enterprise) and Group schemas over HTTP: for each value a
// GET shows, `attr eq <value>` and `attr pr` list the resource, or the filter
// is 400 invalidFilter, which only the attributes built from the base URL
// (meta.location, members.$ref, groups.$ref) may be. The rendered response is
// the oracle, so an attribute the store does not hold (a user's groups) is
// caught. storetest's QueryEveryAttribute does the same on both backends.
func TestFilterEveryRenderedAttribute(t *testing.T) {
	h := newHarness(t)
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	user := h.must(http.StatusCreated, h.do("POST", "/Users", writableBody(reg.User, "uf")))
	uid := user.str("id")
	group := h.must(http.StatusCreated, h.do("POST", "/Groups", func() map[string]any {
		b := writableBody(reg.Group, "gf")
		b["members"] = []any{map[string]any{"value": uid}}
		return b
	}()))
	gid := group.str("id")
	refusable := map[string]bool{"User meta.location": true, "User groups.$ref": true,
		"Group meta.location": true, "Group members.$ref": true}
	walked, refused, skipped := 0, []string{}, []string{}
	for _, c := range []struct {
		rt *schemas.ResourceType
		id string
	}{{reg.User, uid}, {reg.Group, gid}} {
		view := h.must(http.StatusOK, h.do("GET", c.rt.Endpoint+"/"+c.id, nil)).body
		for _, p := range c.rt.ReadablePaths() {
			name := c.rt.Name + " " + p.String()
			v := renderedValue(view, p)
			if v == nil {
				skipped = append(skipped, name)
				continue // not shown (e.g. readOnly input ignored); the storetest walk sets it in the store
			}
			filters := []string{p.String() + " pr"}
			if !p.Leaf().IsComplex() {
				filters = append(filters, p.String()+" eq "+filterLiteral(v))
			}
			for _, f := range filters {
				r := h.do("GET", c.rt.Endpoint+"?attributes=id&filter="+url.QueryEscape(f), nil)
				if r.status == http.StatusBadRequest && r.str("scimType") == "invalidFilter" {
					if !refusable[name] {
						t.Errorf("%s: %s refused: %s", name, f, r.raw)
					}
					refused = append(refused, name)
					break
				}
				if refusable[name] {
					t.Errorf("%s: %s accepted (%d), but no store holds it", name, f, r.status)
					break
				}
				if r.status != http.StatusOK {
					t.Fatalf("%s: status %d: %s", f, r.status, r.raw)
				}
				var ids []string
				res, _ := r.body["Resources"].([]any)
				for _, x := range res {
					ids = append(ids, x.(map[string]any)["id"].(string))
				}
				if !slices.Contains(ids, c.id) {
					t.Errorf("%s: %s does not find the resource that shows %v (got %v)", name, f, v, ids)
				}
				walked++
			}
		}
	}
	for name := range refusable {
		if !slices.Contains(refused, name) {
			t.Errorf("%s not walked or not refused", name)
		}
	}
	if walked < 60 {
		t.Errorf("walked only %d filters", walked)
	}
	// What a response does not show cannot be walked here: readOnly input
	// the server ignores. Anything else missing means writableBody lost it.
	if want := []string{"User " + schemas.EnterpriseUserURN + ":manager.displayName"}; !slices.Equal(skipped, want) {
		t.Errorf("not shown, so not walked: %v, want %v", skipped, want)
	}
}

// writableBody is a POST body giving every writable attribute of rt a value.
func writableBody(rt *schemas.ResourceType, id string) map[string]any {
	body := map[string]any{"schemas": rt.SchemaURNs()}
	var val func(a *schemas.Attribute) any
	val = func(a *schemas.Attribute) any {
		var v any
		switch a.Type {
		case schemas.TypeComplex:
			m := map[string]any{}
			for _, s := range a.SubAttributes {
				if s.Mutability != schemas.MutabilityReadOnly && s.Returned != schemas.ReturnedNever {
					m[s.Name] = val(s)
				}
			}
			v = m
		case schemas.TypeBoolean:
			v = true
		case schemas.TypeInteger:
			v = 7
		case schemas.TypeDecimal:
			v = 2.5
		case schemas.TypeDateTime:
			v = "2021-03-04T05:06:07Z"
		case schemas.TypeBinary:
			v = "QUJD"
		case schemas.TypeReference:
			v = "https://ref.example/" + id + "/" + a.Name
		default:
			if len(a.CanonicalValues) > 0 {
				v = a.CanonicalValues[0]
			} else {
				v = id + "-" + strings.ToLower(a.Name) + "@example.com"
			}
		}
		if a.MultiValued {
			return []any{v}
		}
		return v
	}
	put := func(m map[string]any, attrs []*schemas.Attribute) {
		for _, a := range attrs {
			if a.Mutability == schemas.MutabilityReadOnly || a.Returned == schemas.ReturnedNever || a.Name == "members" {
				continue
			}
			m[a.Name] = val(a)
		}
	}
	put(body, rt.CommonAttributes())
	put(body, rt.CoreAttributes())
	for _, e := range rt.Extensions {
		m := map[string]any{}
		put(m, e.Attributes())
		body[e.Schema.ID] = m
	}
	return body
}

// renderedValue returns the first value at p in a response body, or nil.
func renderedValue(body map[string]any, p schemas.Path) any {
	root := body
	if p.URN != "" {
		root, _ = body[p.URN].(map[string]any)
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

func filterLiteral(v any) string {
	switch x := v.(type) {
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return `"` + strings.ReplaceAll(strings.ReplaceAll(x, `\`, `\\`), `"`, `\"`) + `"`
	}
	return `"?"`
}
