package entra

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/scim/patch"
	"github.com/scimbridge/scimbridge/store"
)

const ent = schemas.EnterpriseUserURN

var reg = func() *schemas.Registry {
	r, err := schemas.Load()
	if err != nil {
		panic(err)
	}
	return r
}()

func decode(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad test JSON %q: %v", s, err)
	}
	return v
}

func body(ops string) []byte {
	return []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":` + ops + `}`)
}

// opsJSON renders operations as comparable JSON values.
func opsJSON(ops []patch.Operation) []any {
	out := make([]any, 0, len(ops))
	for _, o := range ops {
		m := map[string]any{"op": o.Op}
		if o.Path != "" {
			m["path"] = o.Path
		}
		if o.HasValue {
			m["value"] = o.Value
		}
		out = append(out, m)
	}
	return out
}

// TestNormalizePatch checks the rewrite of every Entra shape on its own: each
// case fails when its handling is disabled.
func TestNormalizePatch(t *testing.T) {
	cases := []struct {
		name    string
		group   bool
		in      string // Operations
		want    string // normalised Operations
		errType string
	}{
		// op names
		{name: "capitalised op names are lower-cased",
			in:   `[{"op":"Replace","path":"title","value":"x"},{"op":"ADD","path":"nickName","value":"y"},{"op":"Remove","path":"title"}]`,
			want: `[{"op":"replace","path":"title","value":"x"},{"op":"add","path":"nickName","value":"y"},{"op":"remove","path":"title"}]`},

		// string booleans, by schema type only
		{name: "string boolean on a boolean attribute becomes a bool",
			in:   `[{"op":"Replace","path":"active","value":"False"},{"op":"replace","path":"active","value":"true"},{"op":"replace","path":"active","value":"TRUE"}]`,
			want: `[{"op":"replace","path":"active","value":false},{"op":"replace","path":"active","value":true},{"op":"replace","path":"active","value":true}]`},
		{name: "string boolean on a boolean sub-attribute path",
			in:   `[{"op":"replace","path":"emails[type eq \"work\"].primary","value":"True"},{"op":"replace","path":"roles[primary eq \"True\"].primary","value":"False"}]`,
			want: `[{"op":"replace","path":"emails[type eq \"work\"].primary","value":true},{"op":"replace","path":"roles[primary eq \"True\"].primary","value":false}]`},
		{name: "string boolean inside element objects",
			in:   `[{"op":"add","path":"roles","value":[{"value":"r1","primary":"True"}]},{"op":"add","path":"emails[type eq \"work\"]","value":{"value":"a@x","primary":"false"}}]`,
			want: `[{"op":"add","path":"roles","value":[{"value":"r1","primary":true}]},{"op":"add","path":"emails[type eq \"work\"]","value":{"value":"a@x","primary":false}}]`},
		{name: "string attribute keeps \"True\" as a string",
			in:   `[{"op":"replace","path":"title","value":"True"},{"op":"replace","path":"name.givenName","value":"False"},{"op":"replace","value":{"nickName":"true"}}]`,
			want: `[{"op":"replace","path":"title","value":"True"},{"op":"replace","path":"name.givenName","value":"False"},{"op":"replace","path":"nickName","value":"true"}]`},
		{name: "a non-boolean string on a boolean attribute is left for validation",
			in:   `[{"op":"replace","path":"active","value":"yes"}]`,
			want: `[{"op":"replace","path":"active","value":"yes"}]`},

		{name: "schemas inside an extension value is dropped",
			in:   `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":{"schemas":["x"],"department":"D"}}]`,
			want: `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":{"department":"D"}}]`},

		// path-less values keyed by attribute paths
		{name: "pathless dotted and URN keys become ops with paths, in sorted order",
			in: `[{"op":"replace","value":{"displayName":"A","name.givenName":"G","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"701984","active":"False","schemas":["x"]}}]`,
			want: `[{"op":"replace","path":"active","value":false},{"op":"replace","path":"displayName","value":"A"},{"op":"replace","path":"name.givenName","value":"G"},
			        {"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"701984"}]`},
		{name: "pathless URN manager key with a plain string",
			in:   `[{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":"m9"}}]`,
			want: `[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"m9"}}]`},
		{name: "pathless extension object key",
			in:   `[{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"","manager":"m1"}}}]`,
			want: `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":{"department":null,"manager":{"value":"m1"}}}]`},
		{name: "pathless unknown key fails the request",
			in: `[{"op":"replace","value":{"displayName":"A","nope.x":"y"}}]`, errType: patch.InvalidValue},
		{name: "pathless remove and non-object values are left for Apply",
			in:   `[{"op":"Remove"},{"op":"replace","value":"x"}]`,
			want: `[{"op":"remove"},{"op":"replace","value":"x"}]`},

		// members
		{name: "member removal with a value list becomes one filtered remove per member",
			group: true,
			in:    `[{"op":"Remove","path":"members","value":[{"value":"u1"},{"Value":"u\"2"}]}]`,
			want:  `[{"op":"remove","path":"members[value eq \"u1\"]"},{"op":"remove","path":"members[value eq \"u\\\"2\"]"}]`},
		{name: "member removal with an empty list is no operation (never a wipe)",
			group: true,
			in:    `[{"op":"Remove","path":"members","value":[]}]`,
			want:  `[]`},
		{name: "member removal with a single object",
			group: true,
			in:    `[{"op":"Remove","path":"members","value":{"value":"u1"}}]`,
			want:  `[{"op":"remove","path":"members[value eq \"u1\"]"}]`},
		{name: "member removal with an element without value fails",
			group: true,
			in:    `[{"op":"Remove","path":"members","value":[{"value":"u1"},{"display":"x"}]}]`, errType: patch.InvalidValue},
		{name: "member removal without value stays RFC remove-all",
			group: true,
			in:    `[{"op":"remove","path":"members"},{"op":"remove","path":"members","value":null}]`,
			want:  `[{"op":"remove","path":"members"},{"op":"remove","path":"members","value":null}]`},
		{name: "multi-member add drops $ref null",
			group: true,
			in:    `[{"op":"Add","path":"members","value":[{"$ref":null,"value":"u1"},{"$ref":null,"value":"u2"}]}]`,
			want:  `[{"op":"add","path":"members","value":[{"value":"u1"},{"value":"u2"}]}]`},
		{name: "flag-mode member removal is passed through",
			group: true,
			in:    `[{"op":"remove","path":"members[value eq \"u1\"]"}]`,
			want:  `[{"op":"remove","path":"members[value eq \"u1\"]"}]`},

		// manager
		{name: "manager as a plain string",
			in:   `[{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"123"}]`,
			want: `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"123"}}]`},
		{name: "manager as a one-element array",
			in:   `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":[{"$ref":"../Users/123","value":"123"}]}]`,
			want: `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"$ref":"../Users/123","value":"123"}}]`},
		{name: "manager as a one-element array of a string",
			in:   `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":["123"]}]`,
			want: `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"123"}}]`},
		{name: "manager object is unchanged",
			in:   `[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"123"}}]`,
			want: `[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"123"}}]`},
		{name: "manager \"\" and [] become null",
			in:   `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":""},{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":[]}]`,
			want: `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":null},{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":null}]`},
		{name: "two-element manager array is left for Apply to reject",
			in:   `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":[{"value":"1"},{"value":"2"}]}]`,
			want: `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":[{"value":"1"},{"value":"2"}]}]`},

		// roles
		{name: "roles with JSON-encoded values are parsed",
			in:   `[{"op":"Add","path":"roles","value":[{"primary":"True","value":"{\"id\":\"8c4d\",\"value\":\"Admin\",\"displayName\":\"Administrator\"}"}]}]`,
			want: `[{"op":"add","path":"roles","value":[{"primary":true,"value":"Admin","display":"Administrator"}]}]`},
		{name: "role JSON without value uses its id; explicit display wins",
			in:   `[{"op":"replace","path":"roles","value":[{"display":"Mine","value":"{\"id\":\"8c4d\",\"displayName\":\"X\"}"}]}]`,
			want: `[{"op":"replace","path":"roles","value":[{"display":"Mine","value":"8c4d"}]}]`},
		{name: "role values that are not JSON objects stay as given",
			in:   `[{"op":"add","path":"roles","value":[{"value":"Admin"},{"value":"{not json"}]}]`,
			want: `[{"op":"add","path":"roles","value":[{"value":"Admin"},{"value":"{not json"}]}]`},

		// "" and null
		{name: "empty string becomes null",
			in:   `[{"op":"replace","path":"displayName","value":""},{"op":"replace","path":"emails[type eq \"work\"].value","value":""},{"op":"replace","path":"name","value":{"givenName":""}},{"op":"replace","value":{"title":""}}]`,
			want: `[{"op":"replace","path":"displayName","value":null},{"op":"replace","path":"emails[type eq \"work\"].value","value":null},{"op":"replace","path":"name","value":{"givenName":null}},{"op":"replace","path":"title","value":null}]`},

		// pass-through
		{name: "unknown paths are left for Apply",
			in:   `[{"op":"Replace","path":"nope","value":"x"},{"op":"replace","path":"emails[type eq","value":"x"}]`,
			want: `[{"op":"replace","path":"nope","value":"x"},{"op":"replace","path":"emails[type eq","value":"x"}]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rt := reg.User
			if c.group {
				rt = reg.Group
			}
			in, err := patch.ParseRequest(body(c.in))
			if err != nil {
				t.Fatal(err)
			}
			snap, _ := patch.ParseRequest(body(c.in))
			got, err := NormalizePatch(rt, in)
			if !reflect.DeepEqual(in, snap) {
				t.Fatal("input modified")
			}
			if c.errType != "" {
				var pe *patch.Error
				if !errors.As(err, &pe) || pe.ScimType != c.errType {
					t.Fatalf("want %s, got %v", c.errType, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g, w := opsJSON(got), decode(t, c.want); !reflect.DeepEqual(any(g), w) {
				gj, _ := json.Marshal(g)
				wj, _ := json.Marshal(w)
				t.Fatalf("\n got %s\nwant %s", gj, wj)
			}
			for _, o := range got {
				if o.Index < 1 || o.Index > len(in) {
					t.Fatalf("index %d", o.Index)
				}
			}
		})
	}
}

// The user and group most pipeline cases start from.
const (
	sampleUser = `{
 "userName":"alice@contoso.com","displayName":"Alice","active":true,
 "name":{"givenName":"Alice","familyName":"Smith"},
 "emails":[{"type":"work","value":"alice@contoso.com","primary":true},{"type":"home","value":"alice@home.example"}],
 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales","manager":{"value":"m1"}}
}`
	sampleGroup = `{"displayName":"Engineers","externalId":"e1"}`
	workEmail   = `{"type":"work","value":"alice@contoso.com","primary":true}`
	homeEmail   = `{"type":"home","value":"alice@home.example"}`
)

func userWith(kv ...any) string {
	var m map[string]any
	_ = json.Unmarshal([]byte(sampleUser), &m)
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(m, k)
			continue
		}
		var v any
		_ = json.Unmarshal([]byte(kv[i+1].(string)), &v)
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func adds(ids ...string) []store.Member {
	var out []store.Member
	for _, id := range ids {
		out = append(out, store.Member{Value: id})
	}
	return out
}

var currentMembers = []store.Member{{Value: "u1", Type: store.User}, {Value: "u2", Type: store.User}}

// TestPipeline runs Entra requests through ParsePatch and patch.Apply, as the
// handler does, and checks the resulting resource (the end-to-end meaning of
// each normalisation).
func TestPipeline(t *testing.T) {
	cases := []struct {
		name    string
		group   bool
		attrs   string
		ops     string
		want    string
		delta   store.MemberDelta
		errType string
	}{
		{name: "Entra default-dialect update",
			ops: `[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"alice.new@contoso.com"},
			       {"op":"Replace","path":"name.familyName","value":"Jones"},
			       {"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"701984"},
			       {"op":"Add","path":"nickName","value":"Al"},{"op":"Replace","path":"active","value":"False"}]`,
			want: userWith("emails", `[{"type":"work","value":"alice.new@contoso.com","primary":true},`+homeEmail+`]`,
				"name", `{"givenName":"Alice","familyName":"Jones"}`, "nickName", `"Al"`, "active", `false`,
				ent, `{"department":"Sales","manager":{"value":"m1"},"employeeNumber":"701984"}`)},
		{name: "aadOptscim062020 path-less replace with dotted and URN keys",
			ops: `[{"op":"replace","value":{"displayName":"A","name.givenName":"Alicia","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"Ops","active":true}}]`,
			want: userWith("displayName", `"A"`, "name", `{"givenName":"Alicia","familyName":"Smith"}`,
				ent, `{"department":"Ops","manager":{"value":"m1"}}`)},
		{name: "path-less keys apply in sorted order (name before name.givenName)",
			ops:  `[{"op":"replace","value":{"name.givenName":"Z","name":{"familyName":"F"}}}]`,
			want: userWith("name", `{"familyName":"F","givenName":"Z"}`)},
		{name: "value paths create the typed element when missing",
			ops: `[{"op":"Replace","path":"phoneNumbers[type eq \"mobile\"].value","value":"+1 555"},
			       {"op":"Add","path":"addresses[type eq \"work\"].locality","value":"Redmond"},
			       {"op":"Replace","path":"addresses[type eq \"work\"].postalCode","value":"98052"}]`,
			want: userWith("phoneNumbers", `[{"type":"mobile","value":"+1 555"}]`,
				"addresses", `[{"type":"work","locality":"Redmond","postalCode":"98052"}]`)},
		{name: "manager as a plain string",
			ops:  `[{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"123"}]`,
			want: userWith(ent, `{"department":"Sales","manager":{"value":"123"}}`)},
		{name: "manager as a one-element array",
			ops:  `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":[{"$ref":"../Users/123","value":"123"}]}]`,
			want: userWith(ent, `{"department":"Sales","manager":{"value":"123","$ref":"../Users/123"}}`)},
		{name: "manager removed by \"\"",
			ops:  `[{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":""}]`,
			want: userWith(ent, `{"department":"Sales"}`)},
		{name: "manager removed by null",
			ops:  `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":null}]`,
			want: userWith(ent, `{"department":"Sales"}`)},
		{name: "manager removed by remove on the URN path",
			ops:  `[{"op":"Remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]`,
			want: userWith(ent, `{"department":"Sales"}`)},
		{name: "manager removed by manager[value eq]",
			ops:  `[{"op":"Remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq \"m1\"]"}]`,
			want: userWith(ent, `{"department":"Sales"}`)},
		{name: "manager[value eq] of another manager keeps it",
			ops:  `[{"op":"Remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq \"m2\"]"}]`,
			want: sampleUser},
		{name: "manager via path-less URN key",
			ops:  `[{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":"m9"}}]`,
			want: userWith(ent, `{"department":"Sales","manager":{"value":"m9"}}`)},
		{name: "roles with JSON-encoded values",
			ops:  `[{"op":"Add","path":"roles","value":[{"primary":"True","value":"{\"id\":\"8c4d\",\"value\":\"Admin\",\"displayName\":\"Admin\"}"}]}]`,
			want: userWith("roles", `[{"primary":true,"value":"Admin","display":"Admin"}]`)},
		{name: "several ops on the same attribute apply in order",
			ops: `[{"op":"Replace","path":"displayName","value":"One"},{"op":"Replace","path":"displayName","value":"Two"},
			       {"op":"Add","path":"emails[type eq \"other\"].value","value":"o@x"},{"op":"Replace","path":"emails[type eq \"other\"].value","value":"o2@x"},
			       {"op":"Remove","path":"emails[type eq \"home\"]"}]`,
			want: userWith("displayName", `"Two"`, "emails", `[`+workEmail+`,{"type":"other","value":"o2@x"}]`)},
		{name: "null update test: \"\" then null clear optional attributes",
			ops: `[{"op":"Replace","path":"displayName","value":""},{"op":"Replace","path":"name.givenName","value":""},
			       {"op":"Replace","path":"emails[type eq \"home\"].value","value":""},
			       {"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":null,"title":""}}]`,
			want: userWith("displayName", nil, "name", `{"familyName":"Smith"}`, "emails", `[`+workEmail+`]`,
				ent, `{"manager":{"value":"m1"}}`)},
		{name: "\"\" on required userName fails",
			ops: `[{"op":"Replace","path":"displayName","value":"x"},{"op":"Replace","path":"userName","value":""}]`, errType: patch.InvalidValue},
		{name: "string attribute keeps a \"False\" string",
			ops:  `[{"op":"Replace","path":"title","value":"False"}]`,
			want: userWith("title", `"False"`)},
		{name: "invalid after normalisation fails as a whole",
			ops: `[{"op":"Replace","path":"displayName","value":"changed"},{"op":"Replace","path":"active","value":"maybe"}]`, errType: patch.InvalidValue},

		// groups
		{name: "multi-member add with $ref null",
			group: true, ops: `[{"op":"Add","path":"members","value":[{"$ref":null,"value":"u1"},{"$ref":null,"value":"u2"},{"$ref":null,"value":"u3"}]}]`,
			want: sampleGroup, delta: store.MemberDelta{Add: adds("u1", "u2", "u3")}},
		{name: "default-dialect member removal removes only the listed members",
			group: true, ops: `[{"op":"Remove","path":"members","value":[{"value":"u1"},{"value":"u2"}]}]`,
			want: sampleGroup, delta: store.MemberDelta{Remove: []string{"u1", "u2"}}},
		{name: "default-dialect member removal with an empty list is a no-op",
			group: true, ops: `[{"op":"Remove","path":"members","value":[]}]`,
			want: sampleGroup, delta: store.MemberDelta{}},
		{name: "flag-mode member removal",
			group: true, ops: `[{"op":"remove","path":"members[value eq \"u1\"]"}]`,
			want: sampleGroup, delta: store.MemberDelta{Remove: []string{"u1"}}},
		{name: "group rename and path-less externalId",
			group: true, ops: `[{"op":"Replace","path":"displayName","value":"Eng2"},{"op":"replace","value":{"externalId":"e2"}}]`,
			want: `{"displayName":"Eng2","externalId":"e2"}`},
		{name: "a failing member op fails the whole request",
			group: true, ops: `[{"op":"Add","path":"members","value":[{"value":"a"}]},{"op":"Replace","path":"displayName","value":""}]`, errType: patch.InvalidValue},
		{name: "bad member element in a removal list fails the whole request",
			group: true, ops: `[{"op":"Replace","path":"displayName","value":"X"},{"op":"Remove","path":"members","value":[{"value":"u1"},{"value":""}]}]`, errType: patch.InvalidValue},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rt, src := reg.User, sampleUser
			if c.group {
				rt, src = reg.Group, sampleGroup
			}
			if c.attrs != "" {
				src = c.attrs
			}
			in := decode(t, src).(map[string]any)
			var got map[string]any
			var delta store.MemberDelta
			ops, err := ParsePatch(rt, body(c.ops))
			if err == nil {
				got, delta, err = patch.Apply(rt, in, ops, patch.Options{Members: func() ([]store.Member, error) { return currentMembers, nil }})
			}
			if c.errType != "" {
				var pe *patch.Error
				if !errors.As(err, &pe) || pe.ScimType != c.errType {
					t.Fatalf("want %s, got %v", c.errType, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.want != "" {
				if w := decode(t, c.want); !reflect.DeepEqual(any(got), w) {
					g, _ := json.Marshal(got)
					wj, _ := json.Marshal(w)
					t.Fatalf("\n got %s\nwant %s", g, wj)
				}
			}
			if !reflect.DeepEqual(normDelta(delta), normDelta(c.delta)) {
				t.Fatalf("delta %+v, want %+v", delta, c.delta)
			}
		})
	}
}

func normDelta(d store.MemberDelta) store.MemberDelta {
	if len(d.Add) == 0 {
		d.Add = nil
	}
	for i := range d.Add {
		d.Add[i] = store.Member{Value: d.Add[i].Value}
	}
	if len(d.Remove) == 0 {
		d.Remove = nil
	}
	return d
}

func TestErrorNamesTheOriginalOperation(t *testing.T) {
	ops, err := ParsePatch(reg.User, body(`[{"op":"replace","value":{"displayName":"A","title":"B"}},{"op":"Replace","path":"active","value":"nope"}]`))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = patch.Apply(reg.User, map[string]any{"userName": "a"}, ops, patch.Options{})
	var pe *patch.Error
	if !errors.As(err, &pe) || pe.Detail != "operation 2: active must be a boolean" {
		t.Fatalf("got %v", err)
	}
}

func TestNormalizeResource(t *testing.T) {
	cases := []struct {
		name  string
		group bool
		in    string
		want  string
	}{
		{name: "string booleans by schema type",
			in:   `{"userName":"a","active":"False","title":"True","emails":[{"value":"a@x","primary":"True"}]}`,
			want: `{"userName":"a","active":false,"title":"True","emails":[{"value":"a@x","primary":true}]}`},
		{name: "manager forms",
			in:   `{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"m1","department":"True"}}`,
			want: `{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m1"},"department":"True"}}`},
		{name: "manager as one-element array",
			in:   `{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":[{"value":"m1"}]}}`,
			want: `{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m1"}}}`},
		{name: "roles JSON strings",
			in:   `{"userName":"a","roles":[{"primary":"True","value":"{\"id\":\"1\",\"value\":\"Admin\",\"displayName\":\"Admin\"}"}]}`,
			want: `{"userName":"a","roles":[{"primary":true,"value":"Admin","display":"Admin"}]}`},
		{name: "nulls and unknown keys are left for the decoder",
			in:   `{"userName":"a","addresses":null,"nope":"x","manager":null,"roles":[]}`,
			want: `{"userName":"a","addresses":null,"nope":"x","manager":null,"roles":[]}`},
		{name: "schemas inside an extension object dropped",
			in:   `{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"Schemas":["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"department":"D"}}`,
			want: `{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"D"}}`},
		{name: "group members with $ref null",
			group: true,
			in:    `{"displayName":"G","members":[{"$ref":null,"value":"u1"}]}`,
			want:  `{"displayName":"G","members":[{"value":"u1"}]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rt := reg.User
			if c.group {
				rt = reg.Group
			}
			in := decode(t, c.in).(map[string]any)
			snap := decode(t, c.in)
			got := NormalizeResource(rt, in)
			if !reflect.DeepEqual(any(in), snap) {
				t.Fatal("input modified")
			}
			if w := decode(t, c.want); !reflect.DeepEqual(any(got), w) {
				g, _ := json.Marshal(got)
				wj, _ := json.Marshal(w)
				t.Fatalf("\n got %s\nwant %s", g, wj)
			}
		})
	}
}

func BenchmarkEntraUpdate(b *testing.B) {
	raw := body(`[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"alice.new@contoso.com"},{"op":"Replace","path":"active","value":"False"}]`)
	in := decode(b, sampleUser).(map[string]any)
	b.ReportAllocs()
	for b.Loop() {
		ops, err := ParsePatch(reg.User, raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := patch.Apply(reg.User, in, ops, patch.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
