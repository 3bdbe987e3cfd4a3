package query

import (
	"errors"
	"strings"
	"testing"
)

var fuzzFilters = []string{
	`userName eq "bjensen"`,
	`userName Eq "X" and active eq "True"`,
	`emails[type eq "work" and value co "@example.com"]`,
	`emails[not (primary eq true)] or emails pr`,
	`not (title pr) and (nickName sw "b" or displayName ew "n")`,
	`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "m-1"`,
	`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber ne "1"`,
	`meta.lastModified gt "2011-05-13T04:42:34Z"`,
	`meta.created le "2011-05-13T04:42:34.123+02:00"`,
	`id eq "g1" and members eq "u1"`,
	`members[value eq "u1" or display co "a"]`,
	`externalId gt "A" or externalId lt "z"`,
	`userName eq null or title ne null`,
	`name pr and name.givenName co "\u00C9\"\\"`,
	`urn:example:params:scim:schemas:extension:acme:2.0:User:level ge -1.5e3`,
	`urn:example:params:scim:schemas:extension:acme:2.0:User:tags eq "red"`,
	`((userName pr))`,
	`userName eq "x`,
	`emails[type eq "work"].value eq "x"`,
	`emails[type eq "work"].value eq "x@contoso.example" and active eq true`,
	`emails[type eq "work"].value pr`,
	`emails [type eq "work" or primary eq true].VALUE co "@"`,
	`not (emails[not (type eq "home")].value sw "a") or phoneNumbers[type eq "mobile"].value pr`,
	`emails[type eq "a].b"].value eq "]."`,
	`emails[type eq "work"].value[type eq "x"]`,
	`members[type eq "User"].value eq "u1"`,
	`groups.value eq "g1" or groups[display eq "x"].value pr`,
	`meta.location pr`,
	`members.$ref eq "x"`,
	`emails[type eq "a"].b[type eq "c"].value eq "x"`,
	`emails[type eq "a"].value[type eq "c"]`,
	`active gt true`,
	``,
}

func FuzzParse(f *testing.F) {
	reg := loadRegistry(f)
	for _, s := range fuzzFilters {
		f.Add(s)
	}
	user, group := userDoc(), map[string]any{"id": "g1", "displayName": "G"}
	members := func() []map[string]any { return []map[string]any{{"value": "u1", "display": "A"}} }
	f.Fuzz(func(t *testing.T, s string) {
		for _, rt := range reg.ResourceTypes() {
			flt, err := Parse(rt, s)
			if err != nil {
				if !errors.Is(err, ErrInvalidFilter) || flt != nil {
					t.Fatalf("Parse(%q) = %v, %v", s, flt, err)
				}
				// hoistSubPaths' placeholder names never show.
				if strings.Contains(err.Error(), "subpath") && !strings.Contains(strings.ToLower(s), "subpath") {
					t.Fatalf("Parse(%q): error %q names a placeholder", s, err)
				}
				continue
			}
			Match(flt, Subject{Doc: user})
			Match(flt, Subject{Doc: group, Members: members})
			Match(flt, Subject{})
			// The canonical form parses back to an equivalent tree.
			again, err := Parse(rt, str(flt))
			if err != nil {
				t.Fatalf("Parse(%q) ok but its form %q fails: %v", s, str(flt), err)
			}
			if str(again) != str(flt) {
				t.Fatalf("round trip of %q: %q != %q", s, str(again), str(flt))
			}
		}
	})
}

// FuzzPath fuzzes ParsePath. It is not called FuzzParsePath so that
// -fuzz=FuzzParse selects FuzzParse alone.
func FuzzPath(f *testing.F) {
	reg := loadRegistry(f)
	for _, s := range []string{
		`userName`, `name.givenName`, `emails`, `emails[type eq "work"]`, `emails[type eq "work"].value`,
		`members[value eq "2819c223"]`, `roles[primary eq "True"].value`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`,
		`urn:ietf:params:scim:schemas:core:2.0:User:name.familyName`,
		`emails[type eq "work"`, `a.b.c`, ``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, rt := range reg.ResourceTypes() {
			pe, err := ParsePath(rt, s)
			if err != nil {
				if !errors.Is(err, ErrInvalidPath) {
					t.Fatalf("ParsePath(%q): %v", s, err)
				}
				continue
			}
			if pe.Path.Attr == nil {
				t.Fatalf("ParsePath(%q): no attribute", s)
			}
			MatchElement(pe.Filter, map[string]any{"value": "x", "type": "work", "primary": true})
			if again, err := ParsePath(rt, pe.String()); err != nil || again.String() != pe.String() {
				t.Fatalf("round trip of %q via %q: %v", s, pe.String(), err)
			}
		}
	})
}
