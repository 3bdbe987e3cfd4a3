package store

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// refChanged is ChangedAttrs done the slow, obvious way: decode both
// documents fully and compare the values.
func refChanged(old, new map[string]any) []AttrChange {
	flat := func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			if ext, ok := v.(map[string]any); ok && strings.HasPrefix(k, "urn:") {
				for a, av := range ext {
					out[k+":"+a] = av
				}
				continue
			}
			out[k] = v
		}
		return out
	}
	o, n := flat(old), flat(new)
	var paths []string
	for p := range o {
		paths = append(paths, p)
	}
	for p := range n {
		if _, ok := o[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	var out []AttrChange
	for _, p := range paths {
		if reflect.DeepEqual(o[p], n[p]) {
			continue
		}
		c := AttrChange{Path: p}
		if slices.Contains(AuditedAttrs, p) {
			c.Old, c.New = o[p], n[p]
		}
		out = append(out, c)
	}
	return out
}

func canonJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(x)
	return string(b)
}

const ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

func TestChangedAttrs(t *testing.T) {
	base := map[string]any{
		"userName": "alice", "active": true, "title": `a "quoted" } ] title\\`,
		"emails":      []any{map[string]any{"value": "a@x", "primary": true}},
		"name":        map[string]any{"givenName": "A{", "familyName": "[B"},
		ext:           map[string]any{"department": "R&D", "manager": map[string]any{"value": "m"}},
		"urn:x-other": "not an object", "x\u00e9\"key": 1.5,
	}
	cases := []func(m map[string]any){
		func(m map[string]any) {},
		func(m map[string]any) { m["active"] = false },
		func(m map[string]any) { delete(m, "emails"); m["nickName"] = nil },
		func(m map[string]any) {
			m[ext].(map[string]any)["department"] = "Sales"
			delete(m[ext].(map[string]any), "manager")
		},
		func(m map[string]any) { delete(m, ext); m["userName"] = "bob" },
		func(m map[string]any) { m["name"].(map[string]any)["givenName"] = "Z"; m["x\u00e9\"key"] = 2 },
		func(m map[string]any) { m["urn:x-other"] = map[string]any{"a": []any{}} },
	}
	for i, mut := range cases {
		oldDoc, _ := json.Marshal(base)
		var cur map[string]any
		_ = json.Unmarshal(oldDoc, &cur)
		mut(cur)
		newDoc, _ := json.Marshal(cur)
		var old, new map[string]any
		_ = json.Unmarshal(oldDoc, &old)
		_ = json.Unmarshal(newDoc, &new)
		got, err := ChangedAttrs(oldDoc, newDoc)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := canonJSON(t, got), canonJSON(t, refChanged(old, new)); g != w {
			t.Fatalf("case %d: got %s, want %s", i, g, w)
		}
		// A create: everything set, with the audited values.
		got, err = ChangedAttrs(nil, newDoc)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := canonJSON(t, got), canonJSON(t, refChanged(nil, new)); g != w {
			t.Fatalf("case %d create: got %s, want %s", i, g, w)
		}
	}
	for _, bad := range []string{`[1]`, `{"a":}`, `{"a":1`, `{"a" 1}`, `{"a":"x}`, `{a:1}`, `{"a":1,}`} {
		if _, err := ChangedAttrs(nil, []byte(bad)); err == nil {
			t.Errorf("ChangedAttrs(%s) accepted it", bad)
		}
	}
}

// TestChangedAttrsRandom compares ChangedAttrs with refChanged on random
// documents (nested values, strings with quotes, brackets and escapes).
func TestChangedAttrsRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	strs := []string{"", "a", `"`, `\`, "}", "]", "{[", "é", "\n", "urn:"}
	var value func(depth int) any
	value = func(depth int) any {
		switch k := rng.IntN(7); {
		case k == 0:
			return nil
		case k == 1:
			return rng.IntN(2) == 0
		case k == 2:
			return float64(rng.IntN(100)) / 4
		case k == 3 || depth > 2:
			return strs[rng.IntN(len(strs))] + strs[rng.IntN(len(strs))]
		case k == 4:
			a := []any{}
			for range rng.IntN(3) {
				a = append(a, value(depth+1))
			}
			return a
		}
		m := map[string]any{}
		for range rng.IntN(4) {
			m[strs[rng.IntN(len(strs))]+fmt.Sprint(rng.IntN(3))] = value(depth + 1)
		}
		return m
	}
	keys := append([]string{ext, "urn:x", "urn:x-y", "emails", "title"}, AuditedAttrs...)
	doc := func() map[string]any {
		m := map[string]any{}
		for _, k := range keys {
			if rng.IntN(3) > 0 {
				m[k] = value(0)
			}
		}
		return m
	}
	for i := range 2000 {
		old, new := doc(), doc()
		if i%2 == 0 { // mostly equal documents, a few changes
			b, _ := json.Marshal(old)
			new = nil
			_ = json.Unmarshal(b, &new)
			new[keys[rng.IntN(len(keys))]] = value(0)
		}
		ob, _ := json.Marshal(old)
		nb, _ := json.Marshal(new)
		var o, n map[string]any
		_ = json.Unmarshal(ob, &o)
		_ = json.Unmarshal(nb, &n)
		got, err := ChangedAttrs(ob, nb)
		if err != nil {
			t.Fatalf("%s -> %s: %v", ob, nb, err)
		}
		if g, w := canonJSON(t, got), canonJSON(t, refChanged(o, n)); g != w {
			t.Fatalf("%s -> %s:\ngot  %s\nwant %s", ob, nb, g, w)
		}
	}
}
