package patch

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// FuzzApply runs arbitrary request bodies through ParseRequest and Apply on a
// sample user and a sample group: it must never panic, never modify its input,
// return *Error for request faults, and produce attrs that marshal to JSON and
// a delta without empty ids.
func FuzzApply(f *testing.F) {
	seeds := []string{
		`[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"x@y"},{"op":"Replace","path":"active","value":"False"}]`,
		`[{"op":"add","value":{"name.givenName":"A","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"D"}}}]`,
		`[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq \"m1\"]"}]`,
		`[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":[{"value":"1"}]}]`,
		`[{"op":"Add","path":"members","value":[{"$ref":null,"value":"u1"}]},{"op":"Remove","path":"members","value":[{"value":"u1"}]}]`,
		`[{"op":"remove","path":"members[type eq \"Group\" or not (value eq \"u1\")]"}]`,
		`[{"op":"remove","path":"emails[type eq \"work\"].display"},{"op":"add","path":"emails","value":[{"value":"a","primary":"True"}]}]`,
		`[{"op":"replace","path":"roles[primary eq true]","value":{"value":"r"}}]`,
		`[{"op":"replace","value":{"displayName":null,"members":[]}}]`,
		`[{"op":"remove","path":"name.givenName"},{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}]`,
	}
	for _, s := range seeds {
		f.Add(string(body(s)))
	}
	f.Add(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"emails[value co \"\"]","value":1e309}]}`)
	f.Fuzz(func(t *testing.T, b string) {
		ops, err := ParseRequest([]byte(b))
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("ParseRequest error is not *Error: %v", err)
			}
			return
		}
		for _, c := range []struct {
			group bool
			src   string
		}{{false, sampleUser}, {true, sampleGroup}} {
			rt := reg.User
			if c.group {
				rt = reg.Group
			}
			in := decode(t, c.src)
			snap := decode(t, c.src)
			out, d, err := Apply(rt, in, ops, Options{Members: func() ([]store.Member, error) { return currentMembers, nil }})
			if !reflect.DeepEqual(in, snap) {
				t.Fatalf("input modified")
			}
			if err != nil {
				var pe *Error
				if !errors.As(err, &pe) {
					t.Fatalf("Apply error is not *Error: %v", err)
				}
				if out != nil || !d.Empty() {
					t.Fatalf("error with a result")
				}
				continue
			}
			if _, err := json.Marshal(out); err != nil {
				t.Fatalf("result does not marshal: %v", err)
			}
			if _, ok := out["members"]; ok {
				t.Fatalf("members in attrs")
			}
			for _, m := range d.Add {
				if m.Value == "" {
					t.Fatalf("empty member id added")
				}
			}
			for _, id := range d.Remove {
				if id == "" {
					t.Fatalf("empty member id removed")
				}
			}
			if !c.group && !d.Empty() {
				t.Fatalf("user with a member delta")
			}
		}
	})
}
