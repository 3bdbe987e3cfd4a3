package scim

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// sameAsEncodingJSON checks that appendJSON's output decodes to exactly what
// encoding/json's output decodes to.
func sameAsEncodingJSON(t *testing.T, v any) {
	t.Helper()
	want, werr := json.Marshal(v)
	got, gerr := appendJSON(nil, v)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("%#v: error mismatch: encoding/json %v, appendJSON %v", v, werr, gerr)
	}
	if werr != nil {
		return
	}
	var a, b any
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatalf("%#v: appendJSON produced invalid JSON %q: %v", v, got, err)
	}
	if err := json.Unmarshal(want, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("%#v:\n got %s\nwant %s", v, got, want)
	}
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	cases := []any{
		nil, true, false, "", "plain", `q"uote\back`, "\n\r\t\x00\x1f\x7f", "<&>", "é日本", "\u2028\u2029",
		"bad\xffutf8", "\xed\xa0\x80", 0.0, -0.0, 1.0, -17.5, 1e20, 1e21, 1e-6, 1e-7, 123456789012345680000.0,
		math.MaxFloat64, math.SmallestNonzeroFloat64, 3, int64(-9), []string{"a", "b"}, []string(nil), []any(nil),
		[]any{}, map[string]any{}, map[string]any{"b": 1.0, "a": []any{map[string]any{"x": nil}}, "\x01k": "v"},
		map[string]bool{"supported": true}, math.NaN(), math.Inf(1),
	}
	for _, c := range cases {
		sameAsEncodingJSON(t, c)
	}
	// Key order matches encoding/json exactly.
	v := map[string]any{"z": 1.0, "a": "x", "m": []any{true}}
	got, _ := appendJSON(nil, v)
	want, _ := json.Marshal(v)
	if string(got) != string(want) {
		t.Fatalf("got %s want %s", got, want)
	}
}

func FuzzAppendJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[1,"x",null,true,{"b":[]}]`, `"\u2028"`, `1e-7`, `{"userName":"a\"b","emails":[{"value":"x@y"}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if json.Unmarshal(data, &v) != nil {
			// Arbitrary strings still go through the string encoder.
			sameAsEncodingJSON(t, string(data))
			return
		}
		sameAsEncodingJSON(t, v)
	})
}

func benchDoc() map[string]any {
	return map[string]any{
		"schemas": []any{"urn:ietf:params:scim:api:messages:2.0:ListResponse"}, "totalResults": 1, "itemsPerPage": 1, "startIndex": 1,
		"Resources": []any{map[string]any{
			"schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
			"id":      "2819c223-7f76-453a-919d-413861904646", "externalId": "bjensen", "userName": "user123@contoso.com", "active": true,
			"displayName": "Given123 Family123", "title": "Engineer",
			"name":   map[string]any{"formatted": "Given123 Family123", "familyName": "Family123", "givenName": "Given123"},
			"emails": []any{map[string]any{"primary": true, "type": "work", "value": "user123@contoso.com"}},
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"department": "Sales", "employeeNumber": "100123"},
			"meta": map[string]any{"resourceType": "User", "created": "2026-11-22T01:02:03.123456789Z", "lastModified": "2026-11-22T01:02:03.123456789Z",
				"location": "http://127.0.0.1:8080/scim/v2/Users/2819c223-7f76-453a-919d-413861904646", "version": `W/"1"`},
		}},
	}
}

func BenchmarkEncodeEncodingJSON(b *testing.B) {
	d := benchDoc()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := json.Marshal(d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeAppendJSON(b *testing.B) {
	d := benchDoc()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := appendJSON(make([]byte, 0, 1024), d); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMemberListJSON: a group's members written by memberList decode to
// what the map per member they replace encoded to.
func TestMemberListJSON(t *testing.T) {
	members := []store.Member{
		{Value: "u1", Type: store.User, Display: "Alice \"A\" <x>\u2028"},
		{Value: "g\\1", Type: store.Group},
		{Value: "u\xff2", Type: store.User, Display: "\n"},
	}
	base := "https://h.example/tenants/t\"/scim/v2"
	var want []any
	for _, m := range members {
		el := map[string]any{"value": m.Value, "type": string(m.Type)}
		if m.Type == store.User {
			el["$ref"] = base + "/Users/" + m.Value
		} else {
			el["$ref"] = base + "/Groups/" + m.Value
		}
		if m.Display != "" {
			el["display"] = m.Display
		}
		want = append(want, el)
	}
	wantJSON, err := json.Marshal(map[string]any{"members": want})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []memberList{{base: base, members: members}, {base: base, members: []store.Member{}}} {
		got, err := appendJSON(nil, map[string]any{"members": l})
		if err != nil {
			t.Fatal(err)
		}
		// encoding/json (through MarshalJSON) writes the same, HTML-escaped.
		viaStd, err := json.Marshal(map[string]any{"members": l})
		var x, y any
		if err != nil || json.Unmarshal(viaStd, &x) != nil || json.Unmarshal(got, &y) != nil || !reflect.DeepEqual(x, y) {
			t.Errorf("encoding/json wrote %s (%v), appendJSON %s", viaStd, err, got)
		}
		if len(l.members) == 0 {
			if string(got) != `{"members":[]}` {
				t.Errorf("no members: %s", got)
			}
			continue
		}
		var a, b any
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("invalid JSON %s: %v", got, err)
		}
		if err := json.Unmarshal(wantJSON, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("got  %s\nwant %s", got, wantJSON)
		}
	}
}
