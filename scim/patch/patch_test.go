package patch

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
)

const (
	ent    = schemas.EnterpriseUserURN
	custom = "urn:example:params:scim:schemas:extension:test:2.0:User"
)

// customSchema adds attributes of the types and characteristics the embedded
// schemas lack (immutable, dateTime, integer, decimal, required-less).
const customSchema = `{"id":"` + custom + `","name":"Test","attributes":[
 {"name":"badge","type":"string","multiValued":false,"required":false,"caseExact":true,"mutability":"immutable","returned":"default","uniqueness":"none"},
 {"name":"hired","type":"dateTime","multiValued":false,"required":false,"mutability":"readWrite","returned":"default","uniqueness":"none"},
 {"name":"level","type":"integer","multiValued":false,"required":false,"mutability":"readWrite","returned":"default","uniqueness":"none"},
 {"name":"ratio","type":"decimal","multiValued":false,"required":false,"mutability":"readWrite","returned":"default","uniqueness":"none"},
 {"name":"tags","type":"string","multiValued":true,"required":false,"mutability":"readWrite","returned":"default","uniqueness":"none"}
]}`

var reg = func() *schemas.Registry {
	r, err := schemas.Load(schemas.CustomExtension{ResourceType: "User", JSON: []byte(customSchema)})
	if err != nil {
		panic(err)
	}
	return r
}()

// sampleUser is the user most cases start from.
const sampleUser = `{
 "userName":"alice@contoso.com","displayName":"Alice","active":true,
 "name":{"givenName":"Alice","familyName":"Smith"},
 "emails":[{"type":"work","value":"alice@contoso.com","primary":true},{"type":"home","value":"alice@home.example"}],
 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales","manager":{"value":"m1"}}
}`

const sampleGroup = `{"displayName":"Engineers","externalId":"e1"}`

func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad test JSON %q: %v", s, err)
	}
	return m
}

func body(ops string) []byte {
	return []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":` + ops + `}`)
}

// currentMembers is what Options.Members returns in the group cases.
var currentMembers = []store.Member{
	{Value: "u1", Type: store.User, Display: "User One"},
	{Value: "u2", Type: store.User},
	{Value: "g1", Type: store.Group, Display: "Nested"},
}

type applyCase struct {
	name    string
	group   bool   // apply to sampleGroup (or attrs) as a Group
	attrs   string // "" = sampleUser / sampleGroup
	ops     string // JSON array of operations
	want    string // expected attrs as JSON; "" = don't check (delta-only cases)
	delta   store.MemberDelta
	errType string // expected scimType; want is ignored
}

func runCase(t *testing.T, c applyCase) {
	t.Helper()
	rt := reg.User
	src := c.attrs
	if c.group {
		rt = reg.Group
		if src == "" {
			src = sampleGroup
		}
	} else if src == "" {
		src = sampleUser
	}
	in := decode(t, src)
	snapshot := decode(t, src)
	ops, err := ParseRequest(body(c.ops))
	var got map[string]any
	var delta store.MemberDelta
	if err == nil {
		got, delta, err = Apply(rt, in, ops, Options{Members: func() ([]store.Member, error) { return currentMembers, nil }})
	}
	if !reflect.DeepEqual(in, snapshot) {
		t.Fatalf("input was modified:\n got %v\nwant %v", in, snapshot)
	}
	if c.errType != "" {
		var pe *Error
		if !errors.As(err, &pe) {
			t.Fatalf("want %s error, got %v", c.errType, err)
		}
		if pe.ScimType != c.errType {
			t.Fatalf("want %s error, got %s: %s", c.errType, pe.ScimType, pe.Detail)
		}
		if got != nil || !delta.Empty() {
			t.Fatalf("error with a result: %v %+v", got, delta)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if c.want != "" {
		if want := decode(t, c.want); !reflect.DeepEqual(got, want) {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			t.Fatalf("attrs:\n got %s\nwant %s", g, w)
		}
	}
	if !reflect.DeepEqual(normDelta(delta), normDelta(c.delta)) {
		t.Fatalf("delta:\n got %+v\nwant %+v", delta, c.delta)
	}
}

func normDelta(d store.MemberDelta) store.MemberDelta {
	if len(d.Add) == 0 {
		d.Add = nil
	}
	for i := range d.Add { // only Value is read by the store
		d.Add[i] = store.Member{Value: d.Add[i].Value}
	}
	if len(d.Remove) == 0 {
		d.Remove = nil
	}
	return d
}

func adds(ids ...string) []store.Member {
	var out []store.Member
	for _, id := range ids {
		out = append(out, store.Member{Value: id})
	}
	return out
}

// userWith returns sampleUser with the given top-level keys replaced (a nil
// value deletes the key), as JSON.
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
		if err := json.Unmarshal([]byte(kv[i+1].(string)), &v); err != nil {
			panic(fmt.Sprintf("%s: %v", kv[i+1], err))
		}
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

const (
	workEmail = `{"type":"work","value":"alice@contoso.com","primary":true}`
	homeEmail = `{"type":"home","value":"alice@home.example"}`
)

func TestApply(t *testing.T) {
	cases := []applyCase{
		// --- op names
		{name: "op names are the RFC's lower-case names",
			ops:  `[{"op":"replace","path":"displayName","value":"A"},{"op":"add","path":"nickName","value":"Al"},{"op":"remove","path":"active"}]`,
			want: userWith("displayName", `"A"`, "nickName", `"Al"`, "active", nil)},
		{name: "capitalised op names are Entra's (scim/entra folds them)",
			ops: `[{"op":"Replace","path":"displayName","value":"A"}]`, errType: InvalidSyntax},
		{name: "remove requires a path",
			ops: `[{"op":"remove"}]`, errType: NoTarget},
		{name: "add without path or value",
			ops: `[{"op":"add"}]`, errType: InvalidSyntax},

		// --- path-less
		{name: "pathless replace with case-insensitive names is canonicalised",
			ops:  `[{"op":"replace","value":{"DISPLAYNAME":"A","Active":false,"externalid":"x1"}}]`,
			want: userWith("displayName", `"A"`, "active", `false`, "externalId", `"x1"`)},
		{name: "pathless extension URN key with object value",
			ops:  `[{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","costCenter":"42"}}}]`,
			want: userWith(ent, `{"department":"R&D","costCenter":"42","manager":{"value":"m1"}}`)},
		{name: "pathless dotted key is Entra's (scim/entra splits it)",
			ops: `[{"op":"replace","value":{"name.givenName":"Alicia"}}]`, errType: InvalidValue},
		{name: "pathless full URN path key is Entra's (scim/entra splits it)",
			ops: `[{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"701984"}}]`, errType: InvalidValue},
		{name: "pathless add of core attributes and an extension object",
			ops:  `[{"op":"add","value":{"displayName":"A","name":{"familyName":"Jones"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Ops"},"active":true}}]`,
			want: userWith("displayName", `"A"`, "name", `{"givenName":"Alice","familyName":"Jones"}`, ent, `{"department":"Ops","manager":{"value":"m1"}}`)},
		{name: "pathless unknown key",
			ops: `[{"op":"replace","value":{"nope":"x"}}]`, errType: InvalidValue},
		{name: "pathless non-object value",
			ops: `[{"op":"replace","value":"x"}]`, errType: InvalidValue},
		{name: "pathless schemas key is ignored",
			ops:  `[{"op":"replace","value":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"title":"Boss"}}]`,
			want: userWith("title", `"Boss"`)},

		// --- add
		{name: "add single-valued sets",
			ops:  `[{"op":"add","path":"title","value":"Boss"},{"op":"add","path":"displayName","value":"Al"}]`,
			want: userWith("title", `"Boss"`, "displayName", `"Al"`)},
		{name: "add complex merges sub-attributes",
			ops:  `[{"op":"add","path":"name","value":{"middleName":"B","givenName":"Ali"}}]`,
			want: userWith("name", `{"givenName":"Ali","familyName":"Smith","middleName":"B"}`)},
		{name: "add multi-valued appends single element and arrays, skipping existing values",
			ops: `[{"op":"add","path":"emails","value":{"type":"other","value":"o@x"}},
			       {"op":"add","path":"emails","value":[` + homeEmail + `,{"type":"other","value":"p@x"}]}]`,
			want: userWith("emails", `[`+workEmail+`,`+homeEmail+`,{"type":"other","value":"o@x"},{"type":"other","value":"p@x"}]`)},
		{name: "add to absent multi-valued attribute creates it",
			ops:  `[{"op":"add","path":"phoneNumbers","value":[{"type":"mobile","value":"+1 555"}]}]`,
			want: userWith("phoneNumbers", `[{"type":"mobile","value":"+1 555"}]`)},
		{name: "add with value filter sets the sub-attribute on matches",
			ops:  `[{"op":"add","path":"emails[type eq \"home\"].display","value":"Home"}]`,
			want: userWith("emails", `[`+workEmail+`,{"type":"home","value":"alice@home.example","display":"Home"}]`)},
		{name: "add with value filter creates the element when nothing matches",
			ops:  `[{"op":"add","path":"phoneNumbers[type eq \"mobile\"].value","value":"+1 555"}]`,
			want: userWith("phoneNumbers", `[{"type":"mobile","value":"+1 555"}]`)},
		{name: "add with value filter and object value merges into matches",
			ops:  `[{"op":"add","path":"emails[type eq \"home\"]","value":{"display":"H"}}]`,
			want: userWith("emails", `[`+workEmail+`,{"type":"home","value":"alice@home.example","display":"H"}]`)},

		// --- replace
		{name: "replace multi-valued without filter replaces all values",
			ops:  `[{"op":"replace","path":"emails","value":[{"type":"work","value":"new@x"}]}]`,
			want: userWith("emails", `[{"type":"work","value":"new@x"}]`)},
		{name: "replace with value filter sets the sub-attribute of matches (Entra hot path, RFC form)",
			ops:  `[{"op":"replace","path":"emails[type eq \"work\"].value","value":"alice.new@contoso.com"},{"op":"replace","path":"active","value":false}]`,
			want: userWith("emails", `[{"type":"work","value":"alice.new@contoso.com","primary":true},`+homeEmail+`]`, "active", `false`)},
		{name: "replace with value filter creates the element when nothing matches",
			ops:  `[{"op":"replace","path":"addresses[type eq \"work\"].streetAddress","value":"1 Main St"}]`,
			want: userWith("addresses", `[{"type":"work","streetAddress":"1 Main St"}]`)},
		{name: "replace with value filter and no sub-attribute replaces the element keeping the eq terms",
			ops:  `[{"op":"replace","path":"emails[type eq \"work\"]","value":{"value":"w@x"}}]`,
			want: userWith("emails", `[{"type":"work","value":"w@x"},`+homeEmail+`]`)},
		{name: "replace with a non-eq filter that matches nothing is noTarget",
			ops: `[{"op":"replace","path":"emails[value co \"nothing\"].display","value":"x"}]`, errType: NoTarget},
		{name: "replace complex single-valued replaces the whole value",
			ops:  `[{"op":"replace","path":"name","value":{"givenName":"Bo"}}]`,
			want: userWith("name", `{"givenName":"Bo"}`)},
		{name: "replace sub-attribute path sets it",
			ops:  `[{"op":"replace","path":"name.familyName","value":"Jones"}]`,
			want: userWith("name", `{"givenName":"Alice","familyName":"Jones"}`)},
		{name: "replace of a missing attribute adds it",
			ops:  `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"7"},{"op":"replace","path":"nickName","value":"Al"}]`,
			want: userWith(ent, `{"department":"Sales","manager":{"value":"m1"},"employeeNumber":"7"}`, "nickName", `"Al"`)},
		{name: "replace sub-attribute of absent complex creates it",
			attrs: `{"userName":"a"}`,
			ops:   `[{"op":"replace","path":"name.givenName","value":"A"}]`,
			want:  `{"userName":"a","name":{"givenName":"A"}}`},

		// --- remove
		{name: "remove single-valued unsets",
			ops:  `[{"op":"remove","path":"displayName"}]`,
			want: userWith("displayName", nil)},
		{name: "remove of an absent attribute is a no-op",
			ops:  `[{"op":"remove","path":"title"}]`,
			want: sampleUser},
		{name: "remove multi-valued without filter removes all values",
			ops:  `[{"op":"remove","path":"emails"}]`,
			want: userWith("emails", nil)},
		{name: "remove with filter removes matching elements",
			ops:  `[{"op":"remove","path":"emails[type eq \"home\"]"}]`,
			want: userWith("emails", `[`+workEmail+`]`)},
		{name: "remove with filter removing the last element unsets the attribute",
			ops:  `[{"op":"remove","path":"emails[type eq \"home\"]"},{"op":"remove","path":"emails[type eq \"WORK\"]"}]`,
			want: userWith("emails", nil)},
		{name: "remove with filter that matches nothing is a no-op",
			ops:  `[{"op":"remove","path":"emails[type eq \"other\"]"}]`,
			want: sampleUser},
		{name: "remove sub-attribute of complex",
			ops:  `[{"op":"remove","path":"name.givenName"}]`,
			want: userWith("name", `{"familyName":"Smith"}`)},
		{name: "remove last sub-attribute of complex unsets it",
			ops:  `[{"op":"remove","path":"name.givenName"},{"op":"remove","path":"name.familyName"}]`,
			want: userWith("name", nil)},
		{name: "remove sub-attribute in filtered elements",
			attrs: `{"userName":"a","emails":[{"type":"work","value":"w@x","display":"W"},{"type":"home","value":"h@x","display":"H"}]}`,
			ops:   `[{"op":"remove","path":"emails[type eq \"work\"].display"}]`,
			want:  `{"userName":"a","emails":[{"type":"work","value":"w@x"},{"type":"home","value":"h@x","display":"H"}]}`},
		{name: "remove multi-valued with a value list removes only those",
			ops:  `[{"op":"remove","path":"emails","value":[{"value":"ALICE@home.example"}]}]`,
			want: userWith("emails", `[`+workEmail+`]`)},
		{name: "remove multi-valued with an empty value list is a no-op",
			ops:  `[{"op":"remove","path":"emails","value":[]}]`,
			want: sampleUser},
		{name: "remove simple multi-valued with a value list removes only those",
			attrs: `{"userName":"a","` + custom + `":{"tags":["a","B","c"]}}`,
			ops:   `[{"op":"remove","path":"` + custom + `:tags","value":["b","c"]}]`,
			want:  `{"userName":"a","` + custom + `":{"tags":["a"]}}`},
		{name: "add of an empty array is a no-op",
			ops:  `[{"op":"add","path":"emails","value":[]}]`,
			want: sampleUser},
		{name: "add of null to a multi-valued attribute clears it",
			ops:  `[{"op":"add","path":"emails","value":null}]`,
			want: userWith("emails", nil)},
		{name: "remove extension URN path removes the extension",
			ops:  `[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}]`,
			want: userWith(ent, nil)},
		{name: "remove required userName",
			ops: `[{"op":"remove","path":"userName"}]`, errType: Mutability},
		{name: "remove required group displayName",
			group: true, ops: `[{"op":"remove","path":"displayName"}]`, errType: Mutability},
		{name: "remove readOnly groups",
			ops: `[{"op":"remove","path":"groups"}]`, errType: Mutability},
		{name: "remove readOnly id",
			ops: `[{"op":"remove","path":"id"}]`, errType: Mutability},

		// --- clearing with "" and null
		{name: "empty string is a value (scim/entra turns Entra's \"\" into null)",
			ops:  `[{"op":"replace","path":"displayName","value":""}]`,
			want: userWith("displayName", `""`)},
		{name: "null clears an optional attribute",
			ops:  `[{"op":"replace","path":"displayName","value":null},{"op":"replace","path":"emails","value":null}]`,
			want: userWith("displayName", nil, "emails", nil)},
		{name: "null update through a pathless object",
			ops:  `[{"op":"replace","value":{"displayName":null,"title":null}}]`,
			want: userWith("displayName", nil)},
		{name: "null value of a filtered element removes the element",
			ops:  `[{"op":"replace","path":"emails[type eq \"home\"].value","value":null}]`,
			want: userWith("emails", `[`+workEmail+`]`)},
		{name: "null on required userName",
			ops: `[{"op":"replace","path":"userName","value":null}]`, errType: InvalidValue},
		{name: "null on required group displayName",
			group: true, ops: `[{"op":"replace","path":"displayName","value":null}]`, errType: InvalidValue},
		{name: "pathless null on required userName",
			ops: `[{"op":"replace","value":{"userName":null}}]`, errType: InvalidValue},

		// --- mutability
		{name: "replace readOnly id", ops: `[{"op":"replace","path":"id","value":"x"}]`, errType: Mutability},
		{name: "add readOnly meta", ops: `[{"op":"add","path":"meta.created","value":"2020-01-01T00:00:00Z"}]`, errType: Mutability},
		{name: "add readOnly groups", ops: `[{"op":"add","path":"groups","value":[{"value":"g"}]}]`, errType: Mutability},
		{name: "replace readOnly manager.displayName",
			ops: `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName","value":"Boss"}]`, errType: Mutability},
		{name: "pathless readOnly id", ops: `[{"op":"replace","value":{"id":"x"}}]`, errType: Mutability},
		{name: "readOnly sub-attribute inside a value is dropped",
			ops:  `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"m2","displayName":"Boss"}}]`,
			want: userWith(ent, `{"department":"Sales","manager":{"value":"m2"}}`)},
		{name: "immutable attribute can be set when absent",
			ops:  `[{"op":"add","path":"` + custom + `:badge","value":"B1"}]`,
			want: userWith(custom, `{"badge":"B1"}`)},
		{name: "immutable attribute cannot be changed",
			attrs: `{"userName":"a","` + custom + `":{"badge":"B1"}}`,
			ops:   `[{"op":"replace","path":"` + custom + `:badge","value":"B2"}]`, errType: Mutability},
		{name: "immutable attribute cannot be removed",
			attrs: `{"userName":"a","` + custom + `":{"badge":"B1"}}`,
			ops:   `[{"op":"remove","path":"` + custom + `:badge"}]`, errType: Mutability},
		{name: "immutable attribute replaced with the same value is fine",
			attrs: `{"userName":"a","` + custom + `":{"badge":"B1"}}`,
			ops:   `[{"op":"replace","path":"` + custom + `:badge","value":"B1"}]`,
			want:  `{"userName":"a","` + custom + `":{"badge":"B1"}}`},

		// --- types
		{name: "string attribute rejects a number",
			ops: `[{"op":"replace","path":"userName","value":5}]`, errType: InvalidValue},
		{name: "boolean takes JSON booleans",
			ops:  `[{"op":"replace","path":"active","value":false},{"op":"add","path":"emails[type eq \"home\"].primary","value":true}]`,
			want: userWith("active", `false`, "emails", `[{"type":"work","value":"alice@contoso.com","primary":false},{"type":"home","value":"alice@home.example","primary":true}]`)},
		{name: "boolean rejects string booleans (scim/entra coerces them)",
			ops: `[{"op":"replace","path":"active","value":"False"}]`, errType: InvalidValue},
		{name: "boolean rejects other strings",
			ops: `[{"op":"replace","path":"active","value":"yes"}]`, errType: InvalidValue},
		{name: "boolean rejects numbers",
			ops: `[{"op":"replace","path":"active","value":1}]`, errType: InvalidValue},
		{name: "integer, decimal and dateTime are checked",
			ops:  `[{"op":"add","path":"` + custom + `:level","value":3},{"op":"add","path":"` + custom + `:ratio","value":0.5},{"op":"add","path":"` + custom + `:hired","value":"2024-05-01T08:00:00.5+02:00"},{"op":"add","path":"` + custom + `:tags","value":["a","b"]},{"op":"add","path":"` + custom + `:tags","value":"a"}]`,
			want: userWith(custom, `{"level":3,"ratio":0.5,"hired":"2024-05-01T08:00:00.5+02:00","tags":["a","b"]}`)},
		{name: "integer rejects fractions",
			ops: `[{"op":"add","path":"` + custom + `:level","value":3.5}]`, errType: InvalidValue},
		{name: "decimal rejects strings",
			ops: `[{"op":"add","path":"` + custom + `:ratio","value":"0.5"}]`, errType: InvalidValue},
		{name: "dateTime must be RFC 3339",
			ops: `[{"op":"add","path":"` + custom + `:hired","value":"May 1st"}]`, errType: InvalidValue},
		{name: "complex value must be an object",
			ops: `[{"op":"replace","path":"name","value":"Alice"}]`, errType: InvalidValue},
		{name: "multi-valued complex elements must be objects",
			ops: `[{"op":"add","path":"emails","value":["a@x"]}]`, errType: InvalidValue},
		{name: "unknown sub-attribute in a value",
			ops: `[{"op":"add","path":"emails","value":[{"value":"a@x","kind":"work"}]}]`, errType: InvalidValue},
		{name: "unknown attribute in a path",
			ops: `[{"op":"replace","path":"nope","value":"x"}]`, errType: InvalidPath},
		{name: "unknown sub-attribute in a path",
			ops: `[{"op":"replace","path":"name.nope","value":"x"}]`, errType: InvalidPath},
		{name: "malformed path",
			ops: `[{"op":"replace","path":"emails[type eq","value":"x"}]`, errType: InvalidPath},
		{name: "sub-attribute of a simple attribute",
			ops: `[{"op":"replace","path":"userName.x","value":"x"}]`, errType: InvalidPath},
		{name: "attribute names in paths and values are canonicalised",
			ops:  `[{"op":"replace","path":"NAME.GIVENNAME","value":"A"},{"op":"add","path":"PhoneNumbers","value":[{"TYPE":"work","Value":"1"}]},{"op":"replace","path":"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:Department","value":"D"}]`,
			want: userWith("name", `{"givenName":"A","familyName":"Smith"}`, "phoneNumbers", `[{"type":"work","value":"1"}]`, ent, `{"department":"D","manager":{"value":"m1"}}`)},
		{name: "stored keys in odd case are canonicalised when touched",
			attrs: `{"userName":"a","DisplayName":"x"}`,
			ops:   `[{"op":"replace","path":"displayName","value":"y"}]`,
			want:  `{"userName":"a","displayName":"y"}`},

		// --- primary
		{name: "adding a primary element clears primary on the others",
			ops:  `[{"op":"add","path":"emails","value":[{"type":"other","value":"o@x","primary":true}]}]`,
			want: userWith("emails", `[{"type":"work","value":"alice@contoso.com","primary":false},`+homeEmail+`,{"type":"other","value":"o@x","primary":true}]`)},
		{name: "replace with two primaries keeps the last",
			ops:  `[{"op":"replace","path":"emails","value":[{"value":"a@x","primary":true},{"value":"b@x","primary":true}]}]`,
			want: userWith("emails", `[{"value":"a@x","primary":false},{"value":"b@x","primary":true}]`)},
		{name: "roles primary filter with a string boolean",
			attrs: `{"userName":"a","roles":[{"value":"r1","primary":true},{"value":"r2"}]}`,
			ops:   `[{"op":"replace","path":"roles[primary eq \"True\"].value","value":"r3"}]`,
			want:  `{"userName":"a","roles":[{"value":"r3","primary":true},{"value":"r2"}]}`},

		// --- manager
		{name: "manager as a plain string is Entra's (scim/entra wraps it)",
			ops: `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"123"}]`, errType: InvalidValue},
		{name: "manager as an object",
			ops:  `[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"123"}}]`,
			want: userWith(ent, `{"department":"Sales","manager":{"value":"123"}}`)},
		{name: "manager as a one-element array is Entra's (scim/entra unwraps it)",
			ops: `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":[{"$ref":"../Users/123","value":"123"}]}]`, errType: InvalidValue},
		{name: "manager as a two-element array",
			ops: `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":[{"value":"1"},{"value":"2"}]}]`, errType: InvalidValue},

		{name: "manager replaced with null is removed (and an empty extension disappears)",
			attrs: `{"userName":"a","` + ent + `":{"manager":{"value":"m1"}}}`,
			ops:   `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":null}]`,
			want:  `{"userName":"a"}`},
		{name: "manager removed with a matching value filter",
			ops:  `[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq \"m1\"]"}]`,
			want: userWith(ent, `{"department":"Sales"}`)},
		{name: "manager kept with a non-matching value filter",
			ops:  `[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq \"other\"]"}]`,
			want: sampleUser},

		// --- ordering and roles
		{name: "several ops on one attribute apply in order",
			ops: `[{"op":"add","path":"emails","value":[{"type":"other","value":"o@x"}]},
			       {"op":"remove","path":"emails[type eq \"home\"]"},
			       {"op":"replace","path":"emails[type eq \"other\"].value","value":"o2@x"},
			       {"op":"add","path":"emails[type eq \"other\"].display","value":"O"}]`,
			want: userWith("emails", `[`+workEmail+`,{"type":"other","value":"o2@x","display":"O"}]`)},
		{name: "roles with JSON-encoded string values are stored as given (scim/entra parses them)",
			ops:  `[{"op":"add","path":"roles","value":[{"value":"{\"id\":\"r1\",\"value\":\"Admin\",\"displayName\":\"Admin\"}"}]}]`,
			want: userWith("roles", `[{"value":"{\"id\":\"r1\",\"value\":\"Admin\",\"displayName\":\"Admin\"}"}]`)},
		{name: "extension URN as path with object value",
			ops:  `[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":{"division":"X"}}]`,
			want: userWith(ent, `{"department":"Sales","manager":{"value":"m1"},"division":"X"}`)},

		// --- group members
		{name: "add members",
			group: true, ops: `[{"op":"add","path":"members","value":[{"$ref":null,"value":"u1"},{"value":"u2","display":"Two"}]}]`,
			want: sampleGroup, delta: store.MemberDelta{Add: adds("u1", "u2")}},
		{name: "pathless add members with other attributes",
			group: true, ops: `[{"op":"add","value":{"members":[{"value":"u1"}],"displayName":"Eng"}}]`,
			want: `{"displayName":"Eng","externalId":"e1"}`, delta: store.MemberDelta{Add: adds("u1")}},
		{name: "replace members",
			group: true, ops: `[{"op":"replace","path":"members","value":[{"value":"u3"}]}]`,
			delta: store.MemberDelta{Replace: true, Add: adds("u3")}},
		{name: "pathless replace members",
			group: true, ops: `[{"op":"replace","value":{"members":[{"value":"u3"}]}}]`,
			delta: store.MemberDelta{Replace: true, Add: adds("u3")}},
		{name: "remove member by value filter",
			group: true, ops: `[{"op":"remove","path":"members[value eq \"u1\"]"}]`,
			delta: store.MemberDelta{Remove: []string{"u1"}}},
		{name: "removeListed: remove members with a value list removes only those",
			group: true, ops: `[{"op":"remove","path":"members","value":[{"value":"u1"},{"value":"u2"}]}]`,
			delta: store.MemberDelta{Remove: []string{"u1", "u2"}}},
		{name: "removeListed: remove members with an empty value list is a no-op",
			group: true, ops: `[{"op":"remove","path":"members","value":[]}]`,
			want: sampleGroup, delta: store.MemberDelta{}},
		{name: "remove members without value removes all",
			group: true, ops: `[{"op":"remove","path":"members"}]`,
			delta: store.MemberDelta{Replace: true}},
		{name: "remove members with a null value removes all",
			group: true, ops: `[{"op":"remove","path":"members","value":null}]`,
			delta: store.MemberDelta{Replace: true}},
		{name: "replace members with an empty list empties the group",
			group: true, ops: `[{"op":"replace","path":"members","value":[]}]`,
			delta: store.MemberDelta{Replace: true}},
		{name: "remove members by type filter uses the current members",
			group: true, ops: `[{"op":"remove","path":"members[type eq \"Group\"]"}]`,
			delta: store.MemberDelta{Remove: []string{"g1"}}},
		{name: "remove members by display filter sees members added earlier",
			group: true, ops: `[{"op":"add","path":"members","value":[{"value":"u9","display":"Temp"}]},{"op":"remove","path":"members[display sw \"temp\" or display eq \"User One\"]"}]`,
			delta: store.MemberDelta{Remove: []string{"u1", "u9"}}},
		{name: "remove members by or of value eq",
			group: true, ops: `[{"op":"remove","path":"members[value eq \"a\" or value eq \"b\"]"}]`,
			delta: store.MemberDelta{Remove: []string{"a", "b"}}},
		{name: "add then remove the same member adds nothing",
			group: true, ops: `[{"op":"add","path":"members","value":[{"value":"x"},{"value":"y"}]},{"op":"remove","path":"members[value eq \"x\"]"}]`,
			delta: store.MemberDelta{Add: adds("y"), Remove: []string{"x"}}},
		{name: "remove then add the same member keeps it",
			group: true, ops: `[{"op":"remove","path":"members","value":[{"value":"u1"}]},{"op":"add","path":"members","value":[{"value":"u1"}]}]`,
			delta: store.MemberDelta{Add: adds("u1")}},
		{name: "remove all then add",
			group: true, ops: `[{"op":"remove","path":"members"},{"op":"add","path":"members","value":[{"value":"y"}]}]`,
			delta: store.MemberDelta{Replace: true, Add: adds("y")}},
		{name: "replace then remove one of the new members",
			group: true, ops: `[{"op":"replace","path":"members","value":[{"value":"a"},{"value":"b"}]},{"op":"remove","path":"members[value eq \"a\"]"}]`,
			delta: store.MemberDelta{Replace: true, Add: adds("b")}},
		{name: "duplicate member adds are folded",
			group: true, ops: `[{"op":"add","path":"members","value":[{"value":"a"},{"value":"a"}]},{"op":"add","path":"members","value":{"value":"a"}}]`,
			delta: store.MemberDelta{Add: adds("a")}},
		{name: "member value must be a non-empty string",
			group: true, ops: `[{"op":"add","path":"members","value":[{"value":""}]}]`, errType: InvalidValue},
		{name: "member value must be a string",
			group: true, ops: `[{"op":"add","path":"members","value":[{"value":5}]}]`, errType: InvalidValue},
		{name: "member must be an object",
			group: true, ops: `[{"op":"add","path":"members","value":["u1"]}]`, errType: InvalidValue},
		{name: "member without value",
			group: true, ops: `[{"op":"remove","path":"members","value":[{"display":"x"}]}]`, errType: InvalidValue},
		{name: "member sub-attributes are immutable",
			group: true, ops: `[{"op":"replace","path":"members[value eq \"u1\"].display","value":"x"}]`, errType: Mutability},
		{name: "group non-member attributes",
			group: true, ops: `[{"op":"replace","path":"displayName","value":"Eng2"},{"op":"replace","value":{"externalId":"e2"}}]`,
			want: `{"displayName":"Eng2","externalId":"e2"}`},

		// --- atomicity
		{name: "a failing op fails the whole request",
			ops: `[{"op":"replace","path":"displayName","value":"changed"},{"op":"remove","path":"emails"},{"op":"replace","path":"userName","value":5}]`, errType: InvalidValue},
		{name: "a failing member op fails the whole request",
			group: true, ops: `[{"op":"add","path":"members","value":[{"value":"a"}]},{"op":"replace","path":"displayName","value":null}]`, errType: InvalidValue},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runCase(t, c) })
	}
}

func TestParseRequest(t *testing.T) {
	ops, err := ParseRequest([]byte(`{"schemas":["URN:IETF:PARAMS:SCIM:API:MESSAGES:2.0:PATCHOP"],"operations":[
		{"Op":"Replace","Path":"active","Value":"False"},{"op":"remove","path":"title"},{"op":"add","value":null},{"op":"add","path":null,"value":1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Operation{
		{Op: "Replace", Path: "active", Value: "False", HasValue: true, Index: 1},
		{Op: "remove", Path: "title", Index: 2},
		{Op: "add", Value: nil, HasValue: true, Index: 3},
		{Op: "add", Value: float64(1), HasValue: true, Index: 4},
	}
	if !reflect.DeepEqual(ops, want) {
		t.Fatalf("got %#v", ops)
	}
	bad := map[string]string{
		"not JSON":         `{`,
		"trailing data":    `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","value":{}}]} x`,
		"no schemas":       `{"Operations":[{"op":"add","value":{}}]}`,
		"wrong schema":     `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"Operations":[{"op":"add","value":{}}]}`,
		"no operations":    `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`,
		"empty operations": `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`,
		"op not object":    `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":["add"]}`,
		"operations obj":   `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":{"op":"add"}}`,
		"missing op":       `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"path":"x"}]}`,
		"unknown op":       `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"move","path":"x"}]}`,
		"op not string":    `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":1}]}`,
		"path not string":  `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":1}]}`,
		"duplicate op":     `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","OP":"remove","path":"x","value":1}]}`,
	}
	for name, b := range bad {
		_, err := ParseRequest([]byte(b))
		var pe *Error
		if !errors.As(err, &pe) || pe.ScimType != InvalidSyntax {
			t.Errorf("%s: want invalidSyntax, got %v", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "json.RawMessage") {
			t.Errorf("%s: error leaks Go types: %v", name, err)
		}
	}
}

func TestApplyUnknownOp(t *testing.T) {
	_, _, err := Apply(reg.User, decode(t, sampleUser), []Operation{{Op: "copy", Path: "title", Value: "x", HasValue: true}}, Options{})
	var pe *Error
	if !errors.As(err, &pe) || pe.ScimType != InvalidSyntax {
		t.Fatalf("got %v", err)
	}
}

// TestApplyCopyOnWrite checks that untouched attributes are shared with the
// input (no deep copy of the whole document) while touched ones are not.
func TestApplyCopyOnWrite(t *testing.T) {
	in := decode(t, sampleUser)
	ops := []Operation{{Op: "replace", Path: `emails[type eq "work"].value`, Value: "n@x", HasValue: true}}
	out, _, err := Apply(reg.User, in, ops, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if reflect.ValueOf(out["name"]).Pointer() != reflect.ValueOf(in["name"]).Pointer() {
		t.Error("untouched name was copied")
	}
	if reflect.ValueOf(out["emails"]).Pointer() == reflect.ValueOf(in["emails"]).Pointer() {
		t.Error("touched emails shares the input's slice")
	}
	if in["emails"].([]any)[0].(map[string]any)["value"] != "alice@contoso.com" {
		t.Error("input modified")
	}
}

func TestMembersFilterNeedsMembers(t *testing.T) {
	ops := []Operation{{Op: "remove", Path: `members[type eq "User"]`}}
	if _, _, err := Apply(reg.Group, decode(t, sampleGroup), ops, Options{}); err == nil {
		t.Fatal("no error without Options.Members")
	}
	boom := errors.New("boom")
	_, _, err := Apply(reg.Group, decode(t, sampleGroup), ops, Options{Members: func() ([]store.Member, error) { return nil, boom }})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	calls := 0
	ops = append(ops, Operation{Op: "remove", Path: `members[display eq "x"]`})
	_, d, err := Apply(reg.Group, decode(t, sampleGroup), ops, Options{Members: func() ([]store.Member, error) {
		calls++
		return currentMembers, nil
	}})
	if err != nil || calls != 1 || len(d.Remove) != 2 {
		t.Fatalf("calls=%d delta=%+v err=%v", calls, d, err)
	}
}

func TestAdd10kMembers(t *testing.T) {
	ops, err := ParseRequest(membersBody(10000))
	if err != nil {
		t.Fatal(err)
	}
	_, d, err := Apply(reg.Group, decode(t, sampleGroup), ops, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Add) != 10000 || d.Replace || len(d.Remove) != 0 || d.Add[9999].Value != "user-9999" {
		t.Fatalf("delta: %d adds", len(d.Add))
	}
}

func membersBody(n int) []byte {
	var b strings.Builder
	b.WriteString(`[{"op":"add","path":"members","value":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"$ref":null,"value":"user-%d"}`, i)
	}
	b.WriteString(`]}]`)
	return body(b.String())
}

func BenchmarkApplyEntraUpdate(b *testing.B) {
	ops, err := ParseRequest(body(`[{"op":"replace","path":"emails[type eq \"work\"].value","value":"alice.new@contoso.com"},{"op":"replace","path":"active","value":false}]`))
	if err != nil {
		b.Fatal(err)
	}
	in := decode(b, sampleUser)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Apply(reg.User, in, ops, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkApplyAdd10kMembers(b *testing.B) {
	ops, err := ParseRequest(membersBody(10000))
	if err != nil {
		b.Fatal(err)
	}
	in := decode(b, sampleGroup)
	b.ReportAllocs()
	for b.Loop() {
		if _, d, err := Apply(reg.Group, in, ops, Options{}); err != nil || len(d.Add) != 10000 {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyOps applies one request of n operations of one shape to a
// user, for n = 250, 1,000 and 4,000: with an engine linear in the number
// of operations, ns/operation stays flat as n grows. (Paths are parsed once
// and cached, so this measures the engine; ParsePath of a new value filter
// costs ~250 µs more each, see BENCHMARKS.md.)
//
//	go test -run '^$' -bench ApplyOps ./scim/patch/
func BenchmarkApplyOps(b *testing.B) {
	shapes := []struct {
		name string
		op   func(i int) string
	}{
		// The list grows by one element per operation: each add checks for
		// a duplicate, each filter looks for its element.
		{"addEmail", func(i int) string {
			return fmt.Sprintf(`{"op":"add","path":"emails","value":[{"value":"a%d@x","type":"work","primary":true}]}`, i)
		}},
		{"filterCreate", func(i int) string {
			return fmt.Sprintf(`{"op":"add","path":"emails[type eq \"t%d\"].value","value":"a%d@x"}`, i, i)
		}},
		// Entra's incremental update, repeated.
		{"entraReplace", func(i int) string {
			return fmt.Sprintf(`{"op":"replace","path":"emails[type eq \"work\"].value","value":"a%d@x"},{"op":"replace","path":"active","value":false}`, i)
		}},
	}
	for _, s := range shapes {
		for _, n := range []int{250, 1000, 4000} {
			b.Run(fmt.Sprintf("%s/ops=%d", s.name, n), func(b *testing.B) {
				parts := make([]string, n)
				for i := range parts {
					parts[i] = s.op(i)
				}
				ops, err := ParseRequest(body("[" + strings.Join(parts, ",") + "]"))
				if err != nil {
					b.Fatal(err)
				}
				in := decode(b, sampleUser)
				if _, _, err := Apply(reg.User, in, ops, Options{}); err != nil { // warm the path cache
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, _, err := Apply(reg.User, in, ops, Options{}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(ops)), "ns/operation")
			})
		}
	}
}
