package query

import (
	"testing"
)

func TestMatchUser(t *testing.T) {
	reg := loadRegistry(t)
	cases := []struct {
		filter string
		want   bool
	}{
		// eq and case rules: userName is case-insensitive, id and externalId caseExact.
		{`userName eq "bjensen@example.com"`, true},
		{`userName eq "BJENSEN@EXAMPLE.COM"`, true},
		{`USERNAME Eq "Bjensen@Example.com"`, true},
		{`userName eq "bjensen@example.co"`, false},
		{`userName eq "bjensen@example.comm"`, false},
		{`externalId eq "Ext-42"`, true},
		{`externalId eq "ext-42"`, false},
		{`id eq "2819c223-7f76-453a-919d-413861904646"`, true},
		{`id eq "2819C223-7F76-453A-919D-413861904646"`, false},
		{`displayName eq "babs jensen"`, true},
		{`nickName eq "üNÏCODE BABS"`, true}, // non-ASCII folding
		{`nickName co "ïcode"`, true},
		{`nickName sw "ÜN"`, true},
		{acmeURN + `:code eq "AbC"`, true},
		{acmeURN + `:code eq "abc"`, false},
		// ne
		{`userName ne "bjensen@example.com"`, false},
		{`userName ne "BJENSEN@example.com"`, false},
		{`userName ne "other"`, true},
		{`externalId ne "ext-42"`, true},
		{`nickName ne "x"`, true},
		{`profileUrl ne "x"`, true},                  // missing attribute: not equal
		{`profileUrl eq "x"`, false},                 // missing attribute
		{`emails.value ne "babs@jensen.org"`, false}, // ne = not eq on multi-valued
		{`emails.value ne "nobody@x"`, true},
		// co sw ew
		{`userName co "JENSEN@"`, true},
		{`userName co "jensen@x"`, false},
		{`userName co ""`, true},
		{`userName sw "bjen"`, true},
		{`userName sw "jen"`, false},
		{`userName ew ".COM"`, true},
		{`userName ew "example"`, false},
		{`externalId co "xt-"`, true},
		{`externalId co "XT-"`, false},
		{`externalId sw "ext"`, false},
		{`externalId ew "-42"`, true},
		{`id sw "2819c223"`, true},
		// gt ge lt le on strings, honouring caseExact
		{`userName gt "BJENSEN"`, true},
		{`userName gt "bk"`, false},
		{`userName ge "BJENSEN@EXAMPLE.COM"`, true},
		{`userName lt "C"`, true},
		{`userName le "bjensen@example.com"`, true},
		{`userName lt "bjensen@example.com"`, false},
		{`externalId gt "E"`, true},
		{`externalId gt "e"`, false}, // "E" < "e" byte-wise
		{`externalId lt "e"`, true},
		// numbers
		{acmeURN + `:level eq 3`, true},
		{acmeURN + `:level eq 3.0`, true},
		{acmeURN + `:level ne 3`, false},
		{acmeURN + `:level gt 2`, true},
		{acmeURN + `:level gt 3`, false},
		{acmeURN + `:level ge 3`, true},
		{acmeURN + `:level lt 4`, true},
		{acmeURN + `:level le 2`, false},
		{acmeURN + `:score gt 2.4`, true},
		{acmeURN + `:score lt -1`, false},
		// dateTime, chronologically (not lexically)
		{`meta.lastModified gt "2011-05-13T04:42:34Z"`, true},
		{`meta.lastModified gt "2011-08-01T21:32:44.882Z"`, false},
		{`meta.lastModified ge "2011-08-01T21:32:44.882Z"`, true},
		{`meta.lastModified eq "2011-08-01T23:32:44.882+02:00"`, true},
		{`meta.lastModified lt "2011-08-01T21:32:45Z"`, true},
		{`meta.lastModified le "2011-08-01T21:32:44Z"`, false},
		{`meta.created lt "2011-08-01T21:00:00Z"`, true},
		{acmeURN + `:hired eq "2020-02-01T09:00:00Z"`, true},
		{acmeURN + `:hired gt "2020-02-01T09:30:00Z"`, false}, // lexically greater, chronologically earlier
		{acmeURN + `:hired lt "2020-02-01T09:30:00Z"`, true},
		// booleans
		{`active eq true`, true},
		{`active eq false`, false},
		{`active ne false`, true},
		{`active eq "True"`, true},
		{`active eq "false"`, false},
		{`emails[primary eq "True"]`, true},
		{`roles[primary eq true]`, false},
		{`roles[primary eq false]`, true},
		// pr
		{`userName pr`, true},
		{`profileUrl pr`, false}, // missing
		{`title pr`, false},      // empty string
		{`active pr`, true},
		{`emails pr`, true},
		{`phoneNumbers pr`, false}, // empty array
		{`addresses pr`, true},     // element with a non-empty sub-attribute
		{`addresses.locality pr`, false},
		{`name pr`, true},
		{`name.givenName pr`, true},
		{`name.middleName pr`, false},
		{entURN + `:manager pr`, true},
		{entURN + `:costCenter pr`, false},
		{acmeURN + `:level pr`, true},
		// null
		{`title eq null`, true},
		{`profileUrl eq null`, true},
		{`userName eq null`, false},
		{`userName ne null`, true},
		{`profileUrl ne null`, false},
		// multi-valued: any value matches
		{`emails.value co "@jensen.org"`, true},
		{`emails co "@jensen.org"`, true},
		{`emails eq "BJENSEN@example.com"`, true},
		{`emails.value co "@nowhere"`, false},
		{`emails.type eq "home"`, true},
		{`emails.type eq "other"`, false},
		{acmeURN + `:tags eq "green"`, true},
		{acmeURN + `:tags eq "blue"`, false},
		{acmeURN + `:tags sw "r"`, true},
		// value paths: one element must satisfy the whole filter
		{`emails[type eq "work" and value co "@example.com"]`, true},
		{`emails[type eq "work" and value co "@jensen.org"]`, false},
		{`emails.type eq "work" and emails.value co "@jensen.org"`, true}, // different elements
		{`emails[type eq "home" or value eq "x"]`, true},
		{`emails[not (type eq "work")]`, true},
		{`emails[type pr]`, true},
		{`emails[display pr]`, false},
		{`emails[type ne "work"]`, true},
		{`phoneNumbers[type eq "work"]`, false},
		{`not (emails[type eq "work"])`, false},
		// a value path followed by a sub-attribute: the same element
		{`emails[type eq "work"].value eq "BJENSEN@example.com"`, true},
		{`emails[type eq "work"].value eq "babs@jensen.org"`, false}, // the home address
		{`emails[type eq "home"].value eq "babs@jensen.org"`, true},
		{`emails[type eq "work"].value pr`, true},
		{`emails[type eq "home"].primary pr`, false},
		{`emails[type eq "home"].primary eq true`, false},
		{`emails[type eq "work" or type eq "home"].value co "@jensen"`, true},
		{`emails[not (type eq "work")].value co "@example"`, false},
		{`emails[type eq "work"].value ne "bjensen@example.com"`, false},
		{`emails[type eq "work"].value ne "x"`, true},
		{`phoneNumbers[type eq "work"].value pr`, false},
		// extensions
		{entURN + `:employeeNumber eq "701984"`, true},
		{entURN + `:employeeNumber eq "1"`, false},
		{entURN + `:department eq "tour operations"`, true},
		{entURN + `:manager eq "m-1"`, true},
		{entURN + `:manager.value eq "m-2"`, false},
		{entURN + `:manager.displayName sw "bo"`, true},
		{`urn:ietf:params:scim:schemas:core:2.0:User:name.familyName eq "jensen"`, true},
		// and / or / not, precedence and grouping
		{`userName eq "x" or displayName eq "babs jensen" and active eq true`, true},
		{`userName eq "x" or displayName eq "babs jensen" and active eq false`, false},
		{`userName eq "bjensen@example.com" or displayName eq "x" and active eq false`, true}, // or(a, and(b,c))
		{`(userName eq "bjensen@example.com" or displayName eq "x") and active eq false`, false},
		{`userName pr and not (active eq false)`, true},
		{`not (userName pr) or title pr`, false},
		{`not (not (userName pr))`, true},
		{`userName pr and title pr`, false},
		{`userName pr or title pr`, true},
		{`title pr or profileUrl pr`, false},
		{`id eq "2819c223-7f76-453a-919d-413861904646" and ` + entURN + `:manager eq "m-1"`, true},
	}
	for _, tc := range cases {
		f, err := Parse(reg.User, tc.filter)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.filter, err)
			continue
		}
		if got := Match(f, Subject{Doc: userDoc()}); got != tc.want {
			t.Errorf("Match(%s) = %v, want %v", tc.filter, got, tc.want)
		}
	}
}

func TestMatchTolerantDoc(t *testing.T) {
	reg := loadRegistry(t)
	doc := map[string]any{
		"username": "Alice",                                                 // key not in canonical case
		"Emails":   []map[string]any{{"value": "a@x", "type": "work"}},      // typed slice
		"active":   "True",                                                  // string boolean
		entURN:     map[string]any{"Manager": map[string]any{"value": "m"}}, // nested key case
		"meta":     map[string]any{"lastModified": "not a time"},            // unparsable value
		acmeURN:    map[string]any{"level": 7, "tags": []string{"a", "b"}},  // int, []string
		"name":     map[string]any{"givenName": 5},                          // wrong type
		"groups":   []any{"not-a-map", map[string]any{"value": "g1"}},       // mixed elements
	}
	cases := []struct {
		filter string
		want   bool
	}{
		{`userName eq "alice"`, true},
		{`emails[type eq "work"]`, true},
		{`emails.value eq "A@X"`, true},
		{`active eq true`, true},
		{entURN + `:manager eq "m"`, true},
		{`meta.lastModified gt "2000-01-01T00:00:00Z"`, false},
		{`meta.lastModified pr`, true},
		{acmeURN + `:level eq 7`, true},
		{acmeURN + `:tags eq "B"`, true},
		{`name.givenName eq "5"`, false},
		{`name.givenName ne "5"`, true},
		{`groups.value eq "g1"`, true},
		{`groups[value eq "g1"]`, true},
	}
	for _, tc := range cases {
		f, err := Parse(reg.User, tc.filter)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.filter, err)
		}
		if got := Match(f, Subject{Doc: doc}); got != tc.want {
			t.Errorf("Match(%s) = %v, want %v", tc.filter, got, tc.want)
		}
	}
	if !Match(nil, Subject{}) {
		t.Error("nil filter must match")
	}
	f, _ := Parse(reg.User, `userName pr`)
	if Match(f, Subject{}) {
		t.Error("nil doc must not have userName")
	}
}

func TestMatchGroupMembers(t *testing.T) {
	reg := loadRegistry(t)
	calls := 0
	s := Subject{
		Doc: map[string]any{"id": "g1", "displayName": "Admins",
			"members": []any{map[string]any{"value": "stale"}}}, // ignored when Members is set
		Members: func() []map[string]any {
			calls++
			return []map[string]any{
				{"value": "u1", "type": "User", "display": "Alice"},
				{"value": "u2", "type": "User", "display": "Bob"},
				{"value": "g2", "type": "Group", "display": "Nested"},
			}
		},
	}
	cases := []struct {
		filter string
		want   bool
		calls  int
	}{
		{`displayName eq "admins"`, true, 0},
		{`id eq "g1" and members eq "u1"`, true, 1},
		{`id eq "g1" and members eq "U1"`, false, 1}, // member ids compare exactly (as the planner does)
		{`members.display eq "ALICE"`, true, 1},
		{`members.value eq "u2" and members.display eq "alice"`, true, 1},
		{`members[value eq "u2" and display eq "alice"]`, false, 1},
		{`members[value eq "u2" and display eq "bob"]`, true, 1},
		{`members[type eq "Group"] or members eq "nobody"`, true, 1},
		{`members eq "stale"`, false, 1},
		{`members pr`, true, 1},
		{`not (members eq "u9")`, true, 1},
		{`members eq "u1" and members eq "u2" and members eq "g2"`, true, 1},
	}
	for _, tc := range cases {
		f, err := Parse(reg.Group, tc.filter)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.filter, err)
		}
		calls = 0
		if got := Match(f, s); got != tc.want {
			t.Errorf("Match(%s) = %v, want %v", tc.filter, got, tc.want)
		}
		if calls != tc.calls {
			t.Errorf("Match(%s) called Members %d times, want %d", tc.filter, calls, tc.calls)
		}
	}
	// Without Members, Doc["members"] is read.
	f, _ := Parse(reg.Group, `members eq "stale"`)
	if !Match(f, Subject{Doc: s.Doc}) {
		t.Error("Doc members not used when Members is nil")
	}
}

// TestMatchUserGroups checks that a user's groups come from Subject.Groups
// (they are not stored with the user) and that group ids compare exactly.
func TestMatchUserGroups(t *testing.T) {
	reg := loadRegistry(t)
	calls := 0
	s := Subject{
		Doc: userDoc(),
		Groups: func() []map[string]any {
			calls++
			return []map[string]any{
				{"value": "g1", "type": "direct", "display": "Admins"},
				{"value": "g2", "type": "direct", "display": "Sales"},
			}
		},
	}
	cases := []struct {
		filter string
		want   bool
		calls  int
	}{
		{`userName pr`, true, 0},
		{`groups.value eq "g1"`, true, 1},
		{`groups eq "g2"`, true, 1},
		{`groups.value eq "G1"`, false, 1}, // ids compare exactly, as the planner does
		{`groups.value eq "g3"`, false, 1},
		{`groups.display eq "admins"`, true, 1},
		{`groups[value eq "g2" and display eq "sales"]`, true, 1},
		{`groups[value eq "g2" and display eq "admins"]`, false, 1},
		{`groups[display sw "ad"].value eq "g1"`, true, 1},
		{`groups.type eq "direct"`, true, 1},
		{`groups pr and groups.value eq "g1"`, true, 1},
		{`not (groups.value eq "g1")`, false, 1},
	}
	for _, tc := range cases {
		f, err := Parse(reg.User, tc.filter)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.filter, err)
		}
		calls = 0
		if got := Match(f, s); got != tc.want {
			t.Errorf("Match(%s) = %v, want %v", tc.filter, got, tc.want)
		}
		if calls != tc.calls {
			t.Errorf("Match(%s) called Groups %d times, want %d", tc.filter, calls, tc.calls)
		}
	}
	// A user in no group: groups is absent.
	f, _ := Parse(reg.User, `groups pr`)
	if Match(f, Subject{Doc: userDoc(), Groups: func() []map[string]any { return nil }}) {
		t.Error("groups pr matched a user in no group")
	}
}

func TestMatchElement(t *testing.T) {
	reg := loadRegistry(t)
	pe, err := ParsePath(reg.User, `emails[type eq "work" and primary eq "True"]`)
	if err != nil {
		t.Fatal(err)
	}
	if !MatchElement(pe.Filter, map[string]any{"type": "Work", "primary": true, "value": "x"}) {
		t.Error("work primary element should match")
	}
	if MatchElement(pe.Filter, map[string]any{"type": "work"}) {
		t.Error("non-primary element should not match")
	}
	if !MatchElement(nil, nil) {
		t.Error("nil filter matches")
	}
	pe, err = ParsePath(reg.User, entURN+`:manager[value eq "m-1"]`)
	if err != nil {
		t.Fatal(err)
	}
	if !MatchElement(pe.Filter, map[string]any{"value": "m-1"}) || MatchElement(pe.Filter, map[string]any{"value": "m-2"}) {
		t.Error("manager value filter")
	}
}

// TestMatchHandBuilt covers trees built without Parse, as other packages may.
func TestMatchHandBuilt(t *testing.T) {
	reg := loadRegistry(t)
	p, _ := reg.User.ResolvePath("userName")
	f := &Or{
		Left:  &Compare{Path: p, Op: Eq, Value: "nobody"},
		Right: &Not{X: &Compare{Path: p, Op: Sw, Value: "BJ"}},
	}
	if Match(f, Subject{Doc: userDoc()}) {
		t.Error("hand-built tree")
	}
	if Match(&Compare{Op: Eq, Value: "x"}, Subject{Doc: userDoc()}) {
		t.Error("compare without a path must not match")
	}
	if Match(&Compare{Path: p, Op: Eq, Value: 3}, Subject{Doc: userDoc()}) {
		t.Error("wrong value type must not match")
	}
}

func TestMatchNoAllocs(t *testing.T) {
	reg := loadRegistry(t)
	f, err := Parse(reg.User, `userName eq "BJENSEN@example.com"`)
	if err != nil {
		t.Fatal(err)
	}
	s := Subject{Doc: userDoc()}
	if n := testing.AllocsPerRun(100, func() {
		if !Match(f, s) {
			t.Fatal("no match")
		}
	}); n != 0 {
		t.Errorf("Match allocates %v times per run", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, err := Parse(reg.User, `userName eq "BJENSEN@example.com"`); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("cached Parse allocates %v times per run", n)
	}
}
