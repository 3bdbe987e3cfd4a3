package graphpull

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/scimbridge/scimbridge/pull"
	"github.com/scimbridge/scimbridge/store"
)

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

const fullUser = `{
	"@odata.type": "#microsoft.graph.user",
	"id": "11111111-aaaa",
	"userPrincipalName": "ada@contoso.example",
	"accountEnabled": true,
	"displayName": "Ada Lovelace",
	"jobTitle": "Analyst",
	"mail": "ada.lovelace@contoso.example",
	"preferredLanguage": "en-GB",
	"givenName": "Ada",
	"surname": "Lovelace",
	"streetAddress": "12 St James's Square",
	"city": "London",
	"state": "Greater London",
	"postalCode": "SW1Y 4JH",
	"country": "United Kingdom",
	"officeLocation": "Building 1",
	"businessPhones": ["+44 20 7946 0000", "+44 20 7946 0001"],
	"mobilePhone": "+44 7700 900000",
	"faxNumber": "+44 20 7946 0999",
	"mailNickname": "ada",
	"employeeId": "1815",
	"department": "Engines",
	"manager@delta": [{"@odata.type": "#microsoft.graph.user", "id": "22222222-bbbb"}]
}`

func fullUserAttrs() map[string]any {
	return map[string]any{
		"userName":          "ada@contoso.example",
		"displayName":       "Ada Lovelace",
		"title":             "Analyst",
		"preferredLanguage": "en-GB",
		"externalId":        "ada",
		"emails":            []any{map[string]any{"primary": true, "type": "work", "value": "ada.lovelace@contoso.example"}},
		"name":              map[string]any{"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"},
		"addresses": []any{map[string]any{
			"type": "work", "streetAddress": "12 St James's Square", "locality": "London", "region": "Greater London",
			"postalCode": "SW1Y 4JH", "country": "United Kingdom", "formatted": "Building 1",
		}},
		"phoneNumbers": []any{
			map[string]any{"type": "work", "value": "+44 20 7946 0000"},
			map[string]any{"type": "mobile", "value": "+44 7700 900000"},
			map[string]any{"type": "fax", "value": "+44 20 7946 0999"},
		},
		pull.EnterpriseURN: map[string]any{"employeeNumber": "1815", "department": "Engines"},
	}
}

func TestMapUserEveryProperty(t *testing.T) {
	u, err := MapUser(decode(t, fullUser))
	if err != nil {
		t.Fatal(err)
	}
	if u.ObjectID != "11111111-aaaa" || !u.Enabled || u.Manager == nil || *u.Manager != "22222222-bbbb" {
		t.Fatalf("id/enabled/manager: %+v", u)
	}
	if want := fullUserAttrs(); !reflect.DeepEqual(u.Attrs, want) {
		t.Fatalf("attrs\n got %#v\nwant %#v", u.Attrs, want)
	}
	// Every attribute MapUser sets is one the engine replaces on each
	// observation (pull.MappedUserAttrs), so nothing it writes is left
	// stale when Graph clears it.
	for k, v := range u.Attrs {
		if k == pull.EnterpriseURN {
			for sub := range v.(map[string]any) {
				if !contains(pull.MappedUserAttrs, pull.EnterpriseURN+":"+sub) {
					t.Errorf("%s:%s is not in pull.MappedUserAttrs", k, sub)
				}
			}
			continue
		}
		if !contains(pull.MappedUserAttrs, k) {
			t.Errorf("%s is not in pull.MappedUserAttrs", k)
		}
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func TestMapUserSparse(t *testing.T) {
	// Absent, null and empty properties leave their attributes out, and an
	// empty complex attribute or extension is absent as a whole.
	u, err := MapUser(decode(t, `{"id":"u1","userPrincipalName":"bo@x.example","accountEnabled":false,
		"mail":null,"givenName":"","surname":"Bo","businessPhones":[],"city":null,"employeeId":"","department":null}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"userName": "bo@x.example",
		"name":     map[string]any{"familyName": "Bo", "formatted": "Bo"},
	}
	if !reflect.DeepEqual(u.Attrs, want) {
		t.Fatalf("attrs %#v, want %#v", u.Attrs, want)
	}
	if u.Enabled {
		t.Fatal("accountEnabled false mapped to enabled")
	}
	if u.Manager != nil {
		t.Fatalf("no manager annotation: Manager must be nil (no news), got %q", *u.Manager)
	}
	// accountEnabled absent (not selected) counts as enabled.
	u, err = MapUser(decode(t, `{"id":"u1","userPrincipalName":"bo@x.example","givenName":"Bo"}`))
	if err != nil || !u.Enabled || !reflect.DeepEqual(u.Attrs["name"], map[string]any{"givenName": "Bo", "formatted": "Bo"}) {
		t.Fatalf("%+v %v", u, err)
	}
}

func TestMapUserManagerForms(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		want       *string
	}{
		{"absent", `{}`, nil},
		{"array", `{"manager@delta":[{"@odata.type":"#microsoft.graph.user","id":"m1"}]}`, strp("m1")},
		{"object", `{"manager@delta":{"@odata.type":"#microsoft.graph.user","id":"m1"}}`, strp("m1")},
		{"removed", `{"manager@delta":[{"@odata.type":"#microsoft.graph.user","id":"m1","@removed":{"reason":"deleted"}}]}`, strp("")},
		{"removed then new", `{"manager@delta":[{"id":"m1","@removed":{"reason":"deleted"}},{"id":"m2"}]}`, strp("m2")},
		{"empty array", `{"manager@delta":[]}`, strp("")},
		{"null", `{"manager@delta":null}`, strp("")},
		{"expanded", `{"manager":{"@odata.type":"#microsoft.graph.user","id":"m3"}}`, strp("m3")},
		{"expanded null", `{"manager":null}`, strp("")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := decode(t, tc.json)
			obj["id"], obj["userPrincipalName"] = "u", "u@x.example"
			u, err := MapUser(obj)
			if err != nil {
				t.Fatal(err)
			}
			if (u.Manager == nil) != (tc.want == nil) || (u.Manager != nil && *u.Manager != *tc.want) {
				t.Fatalf("manager %v, want %v", show(u.Manager), show(tc.want))
			}
		})
	}
}

func strp(s string) *string { return &s }

func show(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%q", *p)
}

func TestMapUserSkipReasons(t *testing.T) {
	for _, tc := range []struct{ json, reason, id string }{
		{`{"id":"u1"}`, "no userPrincipalName", "u1"},
		{`{"id":"u1","userPrincipalName":""}`, "no userPrincipalName", "u1"},
		{`{"userPrincipalName":"a@x"}`, "no id", ""},
		{`{"@odata.type":"#microsoft.graph.device","id":"d1","userPrincipalName":"a@x"}`, `unknown @odata.type "#microsoft.graph.device"`, "d1"},
		{`{"id":"u1","userPrincipalName":"a@x","displayName":42}`, "displayName is float64, not a string", "u1"},
		{`{"id":"u1","userPrincipalName":"a@x","accountEnabled":"yes"}`, "accountEnabled is string, not a boolean", "u1"},
		{`{"id":"u1","userPrincipalName":"a@x","businessPhones":"+1"}`, "businessPhones is string, not an array of strings", "u1"},
		{`{"id":"u1","userPrincipalName":"a@x","manager@delta":"m1"}`, "manager@delta is string, not an array", "u1"},
		{`{"id":"u1","userPrincipalName":"a@x","manager@delta":[{"@odata.type":"#microsoft.graph.user"}]}`, "manager entry without an id", "u1"},
		{`{"id":"u1","userPrincipalName":"a@x","manager@delta":[7]}`, "manager@delta entry is float64, not an object", "u1"},
	} {
		u, err := MapUser(decode(t, tc.json))
		if err == nil || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: error %v, want %q", tc.json, err, tc.reason)
		}
		if u.ObjectID != tc.id {
			t.Errorf("%s: object id %q, want %q (reported with the skip)", tc.json, u.ObjectID, tc.id)
		}
	}
}

func TestMapGroup(t *testing.T) {
	entry := decode(t, `{"@odata.type":"#microsoft.graph.group","id":"g1","displayName":"Eng","members@delta":[
		{"@odata.type":"#microsoft.graph.user","id":"u1"},
		{"@odata.type":"#microsoft.graph.user","id":"u2","@removed":{"reason":"deleted"}},
		{"@odata.type":"#microsoft.graph.group","id":"g2"},
		{"@odata.type":"#microsoft.graph.group","id":"g3","@removed":{"reason":"deleted"}},
		{"@odata.type":"#microsoft.graph.device","id":"d1"},
		{"@odata.type":"#microsoft.graph.servicePrincipal","id":"sp1"},
		{"@odata.type":"#microsoft.graph.orgContact","id":"c1"},
		{"id":"x1"},
		"junk"]}`)
	g, rem, skip, ms := mapGroup(entry, false, false)
	if rem != nil || skip != nil {
		t.Fatalf("rem %v skip %v", rem, skip)
	}
	want := &pull.Group{ObjectID: "g1", DisplayName: "Eng", Added: []string{"u1"}, Removed: []string{"u2"}}
	if !reflect.DeepEqual(g, want) {
		t.Fatalf("group %+v, want %+v", g, want)
	}
	if len(ms) != 2 || ms[0].ObjectID != "g1" || ms[0].Kind != store.Group {
		t.Fatalf("member skips %+v", ms)
	}
	g, _, _, _ = mapGroup(entry, true, true)
	if !g.MembersComplete || !reflect.DeepEqual(g.Nested, []string{"g2"}) {
		t.Fatalf("full+nested: %+v", g)
	}

	// A group without members@delta: no change in an incremental round,
	// no members in a full one.
	g, _, _, _ = mapGroup(decode(t, `{"id":"g9","displayName":"Empty"}`), true, false)
	if !g.MembersComplete || len(g.Added) != 0 {
		t.Fatalf("%+v", g)
	}

	for _, tc := range []struct {
		json   string
		reason pull.RemovedReason
	}{
		{`{"id":"g1","@removed":{"reason":"changed"}}`, pull.RemovedChanged},
		{`{"id":"g1","@removed":{"reason":"deleted"}}`, pull.RemovedDeleted},
		{`{"id":"g1","@removed":{}}`, pull.RemovedChanged},
	} {
		_, rem, _, _ := mapGroup(decode(t, tc.json), false, false)
		if rem == nil || rem.Kind != store.Group || rem.ObjectID != "g1" || rem.Reason != tc.reason {
			t.Errorf("%s: %+v", tc.json, rem)
		}
	}
	for _, tc := range []struct{ json, reason string }{
		{`{"displayName":"x"}`, "without an id"},
		{`{"@odata.type":"#microsoft.graph.user","id":"u1"}`, "unknown @odata.type"},
		{`{"id":"g1","displayName":["x"]}`, "displayName is []interface {}"},
		{`{"id":"g1","members@delta":{"id":"u1"}}`, "members@delta is map"},
	} {
		_, _, skip, _ := mapGroup(decode(t, tc.json), false, false)
		if skip == nil || !strings.Contains(skip.Reason, tc.reason) {
			t.Errorf("%s: skip %+v, want %q", tc.json, skip, tc.reason)
		}
	}
}

// TestKiotaAnnotations parses delta pages with kiota's own JSON parse node
// and the SDK's response types, as a round does, and checks that the
// annotations kiota leaves in GetAdditionalData (pointer leaves) come out
// of userObject/groupObject as MapUser and mapGroup expect.
func TestKiotaAnnotations(t *testing.T) {
	userPage := `{"@odata.context":"x","@odata.nextLink":"https://graph.example/v1.0/users/delta?$skiptoken=a","value":[` +
		fullUser + `,
		{"@odata.type":"#microsoft.graph.user","id":"gone1","@removed":{"reason":"deleted"}},
		{"id":"manager-removed","userPrincipalName":"c@x","manager@delta":[{"@odata.type":"#microsoft.graph.user","id":"m","@removed":{"reason":"deleted"}}]}]}`
	node, err := jsonserialization.NewJsonParseNode([]byte(userPage))
	if err != nil {
		t.Fatal(err)
	}
	v, err := node.GetObjectValue(users.CreateDeltaGetResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatal(err)
	}
	resp := v.(users.DeltaGetResponseable)
	vals := resp.GetValue()
	if len(vals) != 3 || deref(resp.GetOdataNextLink()) == "" {
		t.Fatalf("parsed %d users, next %v", len(vals), resp.GetOdataNextLink())
	}
	// The representation this package copes with: raw annotations with
	// pointer leaves.
	md, ok := vals[0].GetAdditionalData()["manager@delta"].([]any)
	if !ok || len(md) != 1 {
		t.Fatalf("manager@delta is %T", vals[0].GetAdditionalData()["manager@delta"])
	}
	if _, ok := md[0].(map[string]any)["id"].(*string); !ok {
		t.Fatalf("manager@delta id leaf is %T, not *string (kiota changed: revisit plain)", md[0].(map[string]any)["id"])
	}

	u, err := MapUser(userObject(vals[0]))
	if err != nil {
		t.Fatal(err)
	}
	direct, _ := MapUser(decode(t, fullUser))
	if !reflect.DeepEqual(u, direct) {
		t.Fatalf("through kiota\n %#v\ndirect\n %#v", u, direct)
	}
	rem := removalOf(store.User, "gone1", userObject(vals[1]))
	if rem == nil || rem.Reason != pull.RemovedDeleted {
		t.Fatalf("removal %+v", rem)
	}
	u, err = MapUser(userObject(vals[2]))
	if err != nil || u.Manager == nil || *u.Manager != "" {
		t.Fatalf("removed manager: %+v %v", u, err)
	}

	groupPage := `{"@odata.deltaLink":"https://graph.example/v1.0/groups/delta?$deltatoken=z","value":[
		{"id":"g1","displayName":"Eng","members@delta":[
			{"@odata.type":"#microsoft.graph.user","id":"u1"},
			{"@odata.type":"#microsoft.graph.user","id":"u2","@removed":{"reason":"deleted"}},
			{"@odata.type":"#microsoft.graph.group","id":"g2"},
			{"@odata.type":"#microsoft.graph.device","id":"d1"}]},
		{"id":"g3","@removed":{"reason":"changed"}}]}`
	node, err = jsonserialization.NewJsonParseNode([]byte(groupPage))
	if err != nil {
		t.Fatal(err)
	}
	v, err = node.GetObjectValue(groups.CreateDeltaGetResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatal(err)
	}
	gresp := v.(groups.DeltaGetResponseable)
	gv := gresp.GetValue()
	if len(gv) != 2 || deref(gresp.GetOdataDeltaLink()) == "" {
		t.Fatalf("parsed %d groups", len(gv))
	}
	g, _, skip, ms := mapGroup(groupObject(gv[0]), false, true)
	want := &pull.Group{ObjectID: "g1", DisplayName: "Eng", Added: []string{"u1"}, Removed: []string{"u2"}, Nested: []string{"g2"}}
	if skip != nil || len(ms) != 0 || !reflect.DeepEqual(g, want) {
		t.Fatalf("group %+v skip %v %v", g, skip, ms)
	}
	_, grem, _, _ := mapGroup(groupObject(gv[1]), false, true)
	if grem == nil || grem.ObjectID != "g3" || grem.Reason != pull.RemovedChanged {
		t.Fatalf("group removal %+v", grem)
	}
}

func TestPlain(t *testing.T) {
	s, b, f, i := "x", true, 1.5, int64(3)
	in := map[string]any{"s": &s, "b": &b, "f": &f, "i": &i, "l": []any{&s, nil, (*string)(nil)}, "ss": []string{"a"},
		"m": map[string]any{"n": map[string]any{"s": &s}}}
	want := map[string]any{"s": "x", "b": true, "f": 1.5, "i": float64(3), "l": []any{"x", nil, nil}, "ss": []any{"a"},
		"m": map[string]any{"n": map[string]any{"s": "x"}}}
	if got := plain(in); !reflect.DeepEqual(got, want) {
		t.Fatalf("%#v", got)
	}
}
