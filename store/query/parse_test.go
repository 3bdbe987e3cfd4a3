package query

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/scimbridge/scimbridge/schemas"
)

func TestParseCanonical(t *testing.T) {
	reg := loadRegistry(t)
	cases := []struct {
		rt     *schemas.ResourceType
		filter string
		want   string // the parsed tree, printed
	}{
		{reg.User, `userName eq "x"`, `userName eq "x"`},
		{reg.User, `userName Eq "x"`, `userName eq "x"`},
		{reg.User, `USERNAME EQ "x"`, `userName eq "x"`},
		{reg.User, `  userName eq "x"  `, `userName eq "x"`},
		{reg.User, `userName ne "x"`, `userName ne "x"`},
		{reg.User, `userName co "x"`, `userName co "x"`},
		{reg.User, `userName sw "x"`, `userName sw "x"`},
		{reg.User, `userName ew "x"`, `userName ew "x"`},
		{reg.User, `userName gt "x"`, `userName gt "x"`},
		{reg.User, `userName ge "x"`, `userName ge "x"`},
		{reg.User, `userName lt "x"`, `userName lt "x"`},
		{reg.User, `userName le "x"`, `userName le "x"`},
		{reg.User, `userName pr`, `userName pr`},
		{reg.User, `userName PR`, `userName pr`},
		{reg.User, `userName eq null`, `userName eq null`},
		{reg.User, `userName ne null`, `userName ne null`},
		{reg.User, `userName eq "a\"b\\c\u00E9"`, `userName eq "a\"b\\cé"`},
		{reg.User, `name.GIVENNAME eq "B"`, `name.givenName eq "B"`},
		{reg.User, `name pr`, `name pr`},
		{reg.User, `emails eq "x"`, `emails.value eq "x"`},
		{reg.User, `emails co "@x"`, `emails.value co "@x"`},
		{reg.User, `emails pr`, `emails pr`},
		{reg.User, `emails.type eq "work"`, `emails.type eq "work"`},
		{reg.User, `active eq true`, `active eq true`},
		{reg.User, `active eq "True"`, `active eq true`},
		{reg.User, `active eq "FALSE"`, `active eq false`},
		{reg.User, `active ne False`, `active ne false`},
		{reg.User, `meta.lastModified gt "2011-05-13T04:42:34Z"`, `meta.lastModified gt "2011-05-13T04:42:34Z"`},
		{reg.User, `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`, `userName eq "x"`},
		{reg.User, entURN + `:employeeNumber eq "1"`, entURN + `:employeeNumber eq "1"`},
		{reg.User, strings.ToLower(entURN) + `:EmployeeNumber eq "1"`, entURN + `:employeeNumber eq "1"`},
		{reg.User, entURN + `:manager eq "m"`, entURN + `:manager.value eq "m"`},
		{reg.User, entURN + `:manager.value eq "m"`, entURN + `:manager.value eq "m"`},
		{reg.User, acmeURN + `:level ge 3`, acmeURN + `:level ge 3`},
		{reg.User, acmeURN + `:score lt 2.5e1`, acmeURN + `:score lt 25`},
		{reg.User, acmeURN + `:level eq -1`, acmeURN + `:level eq -1`},
		{reg.Group, `members eq "id"`, `members.value eq "id"`},
		{reg.Group, `displayName eq "g" and members eq "u1"`, `displayName eq "g" and members.value eq "u1"`},
		{reg.Group, `members[value eq "u1"]`, `members[value eq "u1"]`},
		// not > and > or
		{reg.User, `userName eq "a" or displayName eq "b" and title eq "c"`, `userName eq "a" or (displayName eq "b" and title eq "c")`},
		{reg.User, `userName eq "a" and displayName eq "b" or title eq "c"`, `(userName eq "a" and displayName eq "b") or title eq "c"`},
		{reg.User, `(userName eq "a" or displayName eq "b") and title eq "c"`, `(userName eq "a" or displayName eq "b") and title eq "c"`},
		{reg.User, `not (userName eq "a") and title pr`, `not (userName eq "a") and title pr`},
		{reg.User, `not (userName eq "a" or title pr)`, `not (userName eq "a" or title pr)`},
		{reg.User, `NOT(userName eq "a")`, `not (userName eq "a")`},
		{reg.User, `((userName eq "a"))`, `userName eq "a"`},
		{reg.User, `userName eq "a" and title pr and nickName pr`, `(userName eq "a" and title pr) and nickName pr`},
		// value paths
		{reg.User, `emails[type eq "work"]`, `emails[type eq "work"]`},
		{reg.User, `emails[type eq "work" and value co "@x"]`, `emails[type eq "work" and value co "@x"]`},
		{reg.User, `emails[type eq "work" or primary eq "True"]`, `emails[type eq "work" or primary eq true]`},
		{reg.User, `emails[not (type eq "work")]`, `emails[not (type eq "work")]`},
		{reg.User, `EMAILS[TYPE eq "work"] and userName eq "x"`, `emails[type eq "work"] and userName eq "x"`},
		// a value path followed by a sub-attribute: one element matches both
		{reg.User, `emails[type eq "work"].value eq "x@contoso.example"`, `emails[type eq "work" and value eq "x@contoso.example"]`},
		{reg.User, `emails[type eq "work"].value pr`, `emails[type eq "work" and value pr]`},
		{reg.User, `Emails [ type eq "work" ].VALUE Eq "x"`, `emails[type eq "work" and value eq "x"]`},
		{reg.User, `urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"].value eq "x"`, `emails[type eq "work" and value eq "x"]`},
		{reg.User, `emails[type eq "work" and primary eq true].value co "@x"`, `emails[type eq "work" and primary eq true].value co "@x"`},
		{reg.User, `emails[type eq "work" or type eq "home"].value ew ".example"`, `emails[type eq "work" or type eq "home"].value ew ".example"`},
		{reg.User, `emails[not (type eq "work")].value sw "a"`, `emails[not (type eq "work")].value sw "a"`},
		{reg.User, `emails[type eq "work"].primary eq "True"`, `emails[type eq "work" and primary eq true]`},
		{reg.User, `emails[type eq "a].b"].value eq "]."`, `emails[type eq "a].b" and value eq "]."]`},
		{reg.User, `userName eq "u" or (emails[type eq "work"].value eq "x" and active eq true)`, `userName eq "u" or (emails[type eq "work" and value eq "x"] and active eq true)`},
		{reg.User, `not(emails[type eq "work"].value pr) and phoneNumbers[type eq "mobile"].value sw "+1"`, `not (emails[type eq "work" and value pr]) and phoneNumbers[type eq "mobile" and value sw "+1"]`},
		{reg.Group, `members[type eq "User"].value eq "u1"`, `members[type eq "User" and value eq "u1"]`},
		{reg.User, `groups.value eq "g1"`, `groups.value eq "g1"`},
		{reg.User, `groups eq "g1"`, `groups.value eq "g1"`},
	}
	for _, tc := range cases {
		f, err := Parse(tc.rt, tc.filter)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.filter, err)
			continue
		}
		if got := str(f); got != tc.want {
			t.Errorf("Parse(%q) = %s, want %s", tc.filter, got, tc.want)
		}
		// The printed form parses back to the same tree.
		g, err := Parse(tc.rt, str(f))
		if err != nil || str(g) != str(f) {
			t.Errorf("round trip of %q: %v %v", str(f), g, err)
		}
	}
}

func TestParseTree(t *testing.T) {
	reg := loadRegistry(t)
	f, err := Parse(reg.User, `emails[type eq "work" and value co "@x"]`)
	if err != nil {
		t.Fatal(err)
	}
	vp, ok := f.(*ValuePath)
	if !ok || vp.Path.Attr.Name != "emails" || vp.Path.Sub != nil || vp.Path.URN != "" {
		t.Fatalf("got %#v", f)
	}
	and, ok := vp.Filter.(*And)
	if !ok {
		t.Fatalf("inner %#v", vp.Filter)
	}
	l, r := and.Left.(*Compare), and.Right.(*Compare)
	if l.Path.Attr.Name != "emails" || l.Path.Sub.Name != "type" || l.Op != Eq || l.Value != "work" {
		t.Errorf("left %#v", l)
	}
	if r.Path.Attr.Name != "emails" || r.Path.Sub.Name != "value" || r.Op != Co || r.Value != "@x" {
		t.Errorf("right %#v", r)
	}

	f, err = Parse(reg.User, entURN+`:manager eq "m"`)
	if err != nil {
		t.Fatal(err)
	}
	c := f.(*Compare)
	if c.Path.URN != entURN || c.Path.Attr.Name != "manager" || c.Path.Sub.Name != "value" {
		t.Errorf("manager path %#v", c.Path)
	}

	// Values are normalised: numbers to float64, "True" to bool, null to nil.
	for filter, want := range map[string]any{
		acmeURN + `:level eq 3`:    float64(3),
		acmeURN + `:score eq 1.25`: 1.25,
		`active eq "True"`:         true,
		`active eq false`:          false,
		`userName eq null`:         nil,
		`userName pr`:              nil,
	} {
		f, err := Parse(reg.User, filter)
		if err != nil {
			t.Fatalf("%s: %v", filter, err)
		}
		if v := f.(*Compare).Value; v != want {
			t.Errorf("%s: value %#v (%T), want %#v", filter, v, v, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	reg := loadRegistry(t)
	cases := []struct {
		rt       *schemas.ResourceType
		filter   string
		contains string // part of the message
	}{
		{reg.User, ``, "empty"},
		{reg.User, `   `, "empty"},
		{reg.User, `userName`, "syntax"},
		{reg.User, `userName eq`, "syntax"},
		{reg.User, `userName eq x`, "syntax"},
		{reg.User, `userName eq 'x'`, "syntax"},
		{reg.User, `userName equals "x"`, "syntax"},
		{reg.User, `userName eq "x" and`, "syntax"},
		{reg.User, `userName eq "x" xor title pr`, "syntax"},
		{reg.User, `and`, "syntax"},
		{reg.User, `not userName pr`, "syntax"},
		{reg.User, `userName eq "x`, "unterminated"},
		{reg.User, `(userName eq "x"`, "missing"},
		{reg.User, `userName eq "x")`, "unbalanced"},
		{reg.User, `emails[type eq "work"`, "missing"},
		{reg.User, `emails[type eq "work")`, "unbalanced"},
		{reg.User, strings.Repeat("(", 40) + `userName pr` + strings.Repeat(")", 40), "nested"},
		{reg.User, `userName eq "` + strings.Repeat("x", maxInputLen) + `"`, "longer"},
		{reg.User, `nope eq "x"`, "unknown attribute"},
		{reg.User, `name.nope eq "x"`, "unknown attribute"},
		{reg.User, `members eq "x"`, "unknown attribute"},
		{reg.Group, `userName eq "x"`, "unknown attribute"},
		{reg.User, `urn:example:nope:thing eq "x"`, "unknown attribute"},
		{reg.User, entURN + `:nope eq "x"`, "unknown attribute"},
		{reg.User, entURN + ` pr`, "unknown attribute"},
		{reg.User, `password eq "secret"`, "cannot be used"},
		{reg.User, `name eq "x"`, "complex"},
		{reg.User, `addresses eq "x"`, "complex"},
		{reg.User, `active gt true`, "boolean"},
		{reg.User, `active le false`, "boolean"},
		{reg.User, `active co "t"`, "boolean"},
		{reg.User, `active eq "yes"`, "boolean"},
		{reg.User, `active eq 1`, "boolean"},
		{reg.User, `emails.primary ge true`, "boolean"},
		{reg.User, acmeURN + `:blob gt "QUJD"`, "binary"},
		{reg.User, `userName eq 1`, "string"},
		{reg.User, `userName eq true`, "string"},
		{reg.User, acmeURN + `:level eq "3"`, "number"},
		{reg.User, acmeURN + `:level eq 1.5`, "integer"},
		{reg.User, acmeURN + `:level co 1`, "numeric"},
		{reg.User, acmeURN + `:score eq 1e999`, "range"},
		{reg.User, `meta.lastModified gt "yesterday"`, "RFC 3339"},
		{reg.User, `meta.lastModified gt "2011-05-13"`, "RFC 3339"},
		{reg.User, `meta.lastModified gt 5`, "dateTime"},
		{reg.User, `meta.lastModified sw "2011"`, "dateTime"},
		{reg.User, `userName gt null`, "null"},
		{reg.User, `userName co null`, "null"},
		{reg.User, `userName[value eq "x"]`, "multi-valued complex"},
		{reg.User, `name[givenName eq "x"]`, "multi-valued complex"},
		{reg.User, entURN + `:manager[value eq "x"]`, "multi-valued complex"},
		{reg.User, `emails.value[type eq "x"]`, "sub-attribute"},
		{reg.User, `emails[nope eq "x"]`, "unknown sub-attribute"},
		{reg.User, `emails[emails.type eq "x"]`, "sub-attribute name"},
		{reg.User, `emails[primary gt true]`, "boolean"},
		{reg.User, `emails[type eq "work"].nope eq "x"`, "unknown sub-attribute"},
		{reg.User, `emails[nope eq "work"].value eq "x"`, "unknown sub-attribute"},
		{reg.User, `emails[type eq "work"].value`, "syntax"},
		{reg.User, `emails[type eq "work"].value eq`, "syntax"},
		{reg.User, `emails[type eq "work"].value gt true`, "string"},
		{reg.User, `emails[type eq "work"].value[type eq "x"] eq "y"`, "syntax"},
		{reg.User, `emails[type eq "work"].value[type eq "x"]`, "must be followed by a comparison"},
		{reg.User, `emails[type eq "work"].value.x eq "y"`, "syntax"},
		{reg.User, `userName[type eq "work"].value eq "x"`, "multi-valued complex"},
		{reg.User, `name[givenName eq "a"].familyName eq "x"`, "multi-valued complex"},
		{reg.User, `emails[type eq "work" and value eq "x" and primary eq true].value eq "x"`, "syntax"},
		{reg.User, `emails[type eq "work"].password eq "x"`, "unknown sub-attribute"},
		{reg.User, `subpath0.value eq "x"`, "unknown attribute"},
		{reg.User, `emails[type eq "work"].value eq "x" and subpath0.value eq "y"`, "unknown attribute"},
		{reg.User, `[type eq "work"].value eq "x"`, "syntax"},
		{reg.User, `emails[type eq "a"].b[type eq "c"].value eq "x"`, "syntax"},
		// built by the server from its base URL: no store holds them
		{reg.User, `meta.location eq "https://x/Users/1"`, "base URL"},
		{reg.Group, `meta.location pr`, "base URL"},
		{reg.Group, `members.$ref eq "https://x/Users/1"`, "base URL"},
		{reg.Group, `members[$ref eq "https://x/Users/1"]`, "base URL"},
		{reg.Group, `members[type eq "User"].$ref pr`, "base URL"},
		{reg.User, `groups.$ref co "/Groups/"`, "base URL"},
		{nil, `userName pr`, "resource type"},
	}
	for _, tc := range cases {
		f, err := Parse(tc.rt, tc.filter)
		if !errors.Is(err, ErrInvalidFilter) {
			t.Errorf("Parse(%q) = %v, %v; want ErrInvalidFilter", excerpt(tc.filter), f, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.contains) {
			t.Errorf("Parse(%q): error %q does not mention %q", excerpt(tc.filter), err, tc.contains)
		}
		if f != nil {
			t.Errorf("Parse(%q) returned a filter with an error", tc.filter)
		}
	}
}

func TestParseCache(t *testing.T) {
	reg := loadRegistry(t)
	other := loadRegistry(t)
	a, err := Parse(reg.User, `userName eq "cached"`)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Parse(reg.User, `userName eq "cached"`)
	if a != b {
		t.Error("second parse was not served from the cache")
	}
	// Another registry's User resolves against its own schema.
	c, _ := Parse(other.User, `userName eq "cached"`)
	if c == a || c.(*Compare).Path.Attr != other.User.Attribute("userName") {
		t.Error("cache shared between resource types")
	}
	// Errors are not cached.
	if _, err := Parse(reg.User, `nope eq "x"`); err == nil {
		t.Fatal("want error")
	}
	if _, ok := filterCache.get(cacheKey{reg.User, `nope eq "x"`}); ok {
		t.Error("error was cached")
	}
	// The cache is bounded.
	for i := range cacheSize + 100 {
		if _, err := Parse(reg.User, fmt.Sprintf(`userName eq "u%d"`, i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := filterCache.len(); n > cacheSize {
		t.Errorf("cache holds %d entries, bound %d", n, cacheSize)
	}
}

func TestParseConcurrent(t *testing.T) {
	reg := loadRegistry(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				s := fmt.Sprintf(`userName eq "c%d" or emails[type eq "w%d"]`, i%50, g)
				f, err := Parse(reg.User, s)
				if err != nil {
					t.Error(err)
					return
				}
				Match(f, Subject{Doc: userDoc()})
				if _, err := ParsePath(reg.User, fmt.Sprintf(`emails[type eq "w%d"].value`, i%50)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestParseSubPathEquivalence checks that `attr[f].sub op v` parses to the
// tree of `attr[f and sub op v]` for every pairing of the comparisons below,
// or fails as that does.
func TestParseSubPathEquivalence(t *testing.T) {
	reg := loadRegistry(t)
	inner := []string{`type eq "work"`, `TYPE Eq "work"`, `primary eq true`, `primary eq "True"`, `value co "@x"`,
		`display pr`, `nope eq "x"`, `type gt 1`, `value eq null`, `type eq "a]."`}
	subs := []string{`value eq "x@contoso.example"`, `value pr`, `VALUE sw "A"`, `primary eq false`, `type ne "home"`,
		`value eq null`, `nope eq "x"`, `value gt true`, `$ref pr`}
	for _, rt := range reg.ResourceTypes() {
		for _, attr := range []string{"emails", "members", "groups", "phoneNumbers", "name"} {
			for _, f := range inner {
				for _, s := range subs {
					a, errA := Parse(rt, attr+"["+f+"]."+s)
					b, errB := Parse(rt, attr+"["+f+" and "+s+"]")
					if (errA == nil) != (errB == nil) {
						t.Errorf("%s %s[%s].%s: %v, but with and: %v", rt.Name, attr, f, s, errA, errB)
						continue
					}
					if errA == nil && !reflect.DeepEqual(a, b) {
						t.Errorf("%s %s[%s].%s = %s, with and %s", rt.Name, attr, f, s, str(a), str(b))
					}
				}
			}
		}
	}
}
