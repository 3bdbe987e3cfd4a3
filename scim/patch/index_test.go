package patch

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"
)

// TestIndexedSequenceMatchesStepwise: many operations in one request (where
// the element indexes are kept up to date from one operation to the next)
// give exactly what applying them one request at a time gives (where every
// Apply starts without indexes). The operations are drawn at random from the
// shapes that use the indexes: adds that grow a list, value filters that
// find, create, change and remove elements, primary changes.
func TestIndexedSequenceMatchesStepwise(t *testing.T) {
	rnd := rand.New(rand.NewSource(13))
	types := []string{"work", "home", "other", "Work", "t1", "t2"}
	val := func() string { return fmt.Sprintf("v%d@x", rnd.Intn(60)) }
	op := func(name, path string, value any) string {
		m := map[string]any{"op": name, "path": path}
		if value != nil {
			m["value"] = value
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	type obj = map[string]any
	gen := func() string {
		typ := types[rnd.Intn(len(types))]
		switch rnd.Intn(11) {
		case 0:
			return op("add", "emails", []any{obj{"value": val(), "type": typ}})
		case 1:
			return op("add", "emails", []any{obj{"value": val(), "type": typ, "primary": true}, obj{"value": val()}})
		case 2:
			return op("replace", fmt.Sprintf("emails[type eq %q].value", typ), val())
		case 3:
			return op("add", fmt.Sprintf("emails[type eq %q].value", typ), val())
		case 4:
			return op("remove", fmt.Sprintf("emails[type eq %q]", typ), nil)
		case 5:
			return op("replace", fmt.Sprintf("emails[value eq %q].primary", val()), true)
		case 6:
			return op("replace", fmt.Sprintf("emails[type eq %q and value eq %q]", typ, val()), obj{"value": val(), "display": "d"})
		case 7:
			return op("add", fmt.Sprintf("emails[value eq %q]", val()), obj{"type": typ, "primary": true})
		case 8:
			return op("remove", fmt.Sprintf("emails[type eq %q].display", typ), nil)
		case 9:
			return op("remove", "emails", []any{obj{"value": val()}})
		default:
			return op("add", fmt.Sprintf("emails[type eq %q]", typ), obj{"display": val()})
		}
	}
	for round := range 200 {
		var ops []string
		for range 1 + rnd.Intn(150) { // lists grow past indexMin
			ops = append(ops, gen())
		}
		all, err := ParseRequest(body("[" + strings.Join(ops, ",") + "]"))
		if err != nil {
			t.Fatal(err)
		}
		got, _, gotErr := Apply(reg.User, decode(t, sampleUser), all, Options{})

		want, wantErr := decode(t, sampleUser), error(nil)
		for _, op := range all {
			op.Index = 0
			next, _, err := Apply(reg.User, want, []Operation{op}, Options{})
			if err != nil {
				wantErr = err
				break
			}
			want = next
		}
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("round %d: in one request: %v; one at a time: %v\nops %s", round, gotErr, wantErr, strings.Join(ops, "\n"))
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) {
			g, _ := json.Marshal(got["emails"])
			w, _ := json.Marshal(want["emails"])
			t.Fatalf("round %d:\n in one request %s\n one at a time %s\nops %s", round, g, w, strings.Join(ops, "\n"))
		}
	}
}

// TestMemberValueEqPath: the parse-free reading of Entra's member removal
// path agrees with the general one, and leaves every other shape to it.
func TestMemberValueEqPath(t *testing.T) {
	for _, c := range []struct {
		path string
		id   string
	}{
		{`members[value eq "u1"]`, "u1"},
		{`Members[Value EQ "u\"2"]`, `u"2`},
		{`members[value eq "a"] or value eq "b"]`, ""},
		{`members[value eq ""]`, ""},
		{`members[value  eq "u1"]`, ""},
		{`members[display eq "u1"]`, ""},
		{`members[value eq "u1"].display`, ""},
	} {
		id, ok := memberValueEq(c.path)
		if id != c.id || ok != (c.id != "") {
			t.Errorf("%s: %q %v, want %q", c.path, id, ok, c.id)
		}
	}
	ops, err := ParseRequest(body(`[{"op":"add","path":"members","value":[{"value":"u1"},{"value":"u\"2"},{"value":"u3"}]},
		{"op":"remove","path":"members[value eq \"u1\"]"},{"op":"remove","path":"Members[Value EQ \"u\\\"2\"]"}]`))
	if err != nil {
		t.Fatal(err)
	}
	_, d, err := Apply(reg.Group, decode(t, sampleGroup), ops, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The general path (a space before "]" keeps the paths from the
	// parse-free reading) gives the same delta.
	ops[1].Path, ops[2].Path = `members[value eq "u1" ]`, `members[value eq "u\"2" ]`
	if _, ok := memberValueEq(ops[1].Path); ok {
		t.Fatal("the general path's form was read parse-free")
	}
	_, want, err := Apply(reg.Group, decode(t, sampleGroup), ops, Options{})
	if err != nil || !reflect.DeepEqual(d, want) || len(d.Add) != 1 || d.Add[0].Value != "u3" {
		t.Fatalf("delta %+v, want %+v (%v)", d, want, err)
	}
}
