package query

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/schemas"
)

// fastPathInputs are compared between the fast and the general path, against
// every resource type, and seed FuzzFastPathDifferential.
var fastPathInputs = []string{
	// Entra and common client shapes.
	`userName eq "user123@contoso.com"`,
	`externalId eq "abc"`,
	`displayName eq "Group"`,
	`id eq "g1" and members eq "u1"`,
	`displayName eq "g" and members eq "u1"`,
	entURN + `:employeeNumber eq "1"`,
	entURN + `:manager eq "m-1"`,
	strings.ToLower(entURN) + `:EmployeeNumber eq "1"`,
	`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`,
	`urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "x"`,
	`meta.lastModified gt "2024-01-01T00:00:00Z"`,
	`meta.lastModified gt "2024-01-01"`,
	`meta.created le "2011-05-13T04:42:34.123+02:00"`,
	`active eq true`,
	`active eq "True"`,
	`active eq "FALSE"`,
	`active ne False`,
	`active eq 1`,
	`active gt true`,
	`emails.value co "@x"`,
	`emails co "@x"`,
	`emails.type eq "work"`,
	`title pr`,
	`title PR`,
	`title pr and userName pr`,
	`emails pr`,
	`name eq "x"`,
	`name.givenName sw "B"`,
	`password eq "secret"`,
	`nope eq "x"`,
	`userName eq null`,
	`userName gt null`,
	`userName eq 1`,
	`userName eq true`,
	// Case, spacing and chains.
	`USERNAME EQ "x"`,
	`userName Eq "x" AND displayName eq "y"`,
	`userName eq "x" aNd title pr anD nickName ew "z"`,
	`userName  eq  "x"`,
	`userName eq "x"   and   title pr`,
	`  userName eq "x"  `,
	"\tuserName eq \"x\"\n",
	"userName\teq \"x\"",
	`userName eq "x" and`,
	`userName eq "x" and `,
	`userName eq "x" andtitle pr`,
	`userName eq "x"and title pr`,
	`userName eq"x"`,
	`userName eq "x" or title pr`,
	`userName eq "x" and (title pr)`,
	`userName eq "x" and not (title pr)`,
	`emails[type eq "work"] and userName eq "x"`,
	`userName eq "x" xor title pr`,
	`userName equals "x"`,
	`userName eq x`,
	`userName eq 'x'`,
	`userName eq`,
	`userName`,
	`and`,
	``,
	// Strings.
	`userName eq "a\"b"`,
	`userName eq "a\\b"`,
	`userName eq "a\\"`,
	`userName eq "\u00e9"`,
	`userName eq "\u00E9"`,
	`userName eq "\uD83D\uDE00"`,
	`userName eq "\uD800"`,
	`userName eq "\/\b\f\n\r\t"`,
	`userName eq "\x41"`,
	`userName eq "\'"`,
	`userName eq "é ü 日本 😀"`,
	`userName eq "a b and c"`,
	`userName eq "and" and displayName eq "or"`,
	`userName eq ""`,
	`userName eq "x`,
	`userName eq "x\"`,
	"userName eq \"a\tb\"",
	"userName eq \"a\x7fb\"",
	"userName eq \"a\xffb\"",
	"userName eq \"a\xffb\\n\"",
	`userName eq "(" and displayName eq "["`,
	`userName eq "x""y"`,
	`userName eq "` + strings.Repeat("x", maxInputLen) + `"`,
	// Numbers.
	acmeURN + `:level eq 3`,
	acmeURN + `:level ge -1`,
	acmeURN + `:level eq -0`,
	acmeURN + `:level eq 1e3`,
	acmeURN + `:level eq 1E+3`,
	acmeURN + `:level eq 1.5`,
	acmeURN + `:level eq 01`,
	acmeURN + `:level eq 1.`,
	acmeURN + `:level eq .5`,
	acmeURN + `:level eq +1`,
	acmeURN + `:level eq 1e`,
	acmeURN + `:level eq "3"`,
	acmeURN + `:score lt 2.5e1`,
	acmeURN + `:score lt 2.5E-1`,
	acmeURN + `:score eq 1e999`,
	acmeURN + `:score eq -0.0e-0`,
	acmeURN + `:blob gt "QUJD"`,
	acmeURN + `:blob eq "QUJD"`,
	acmeURN + `:hired ge "2020-02-01T10:00:00+01:00"`,
	acmeURN + `:tags eq "red"`,
	// Attribute paths.
	`urn:x:a-b:c eq "x"`,
	`urn: eq "x"`,
	`:userName eq "x"`,
	`urn::userName eq "x"`,
	`name.givenName.x eq "x"`,
	`name. eq "x"`,
	`$ref eq "x"`,
	`members.$ref eq "x"`,
	`user_Name eq "x"`,
	`1userName eq "x"`,
	`userName eq "x" and 1 eq 1`,
	`userNåme eq "x"`,
	`not eq "x"`,
	`not pr`,
	// Value paths followed by a sub-attribute.
	`emails[type eq "work"].value eq "x@contoso.example"`,
	`emails[type eq "work"].value pr`,
	`emails[type pr].value eq "x"`,
	`emails[type eq "work"].value eq "x" and active eq true`,
	`active eq true and emails[type eq "work"].value eq "x"`,
	`emails[type eq "work"].value eq "x" and phoneNumbers[type eq "fax"].value pr`,
	`urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"].value eq "x"`,
	`EMAILS[TYPE EQ "work"].VALUE EQ "x"`,
	`emails[primary eq true].value eq "x"`,
	`emails[primary eq "True"].value eq "x"`,
	`emails[type eq "a]."].value eq "]."`,
	`emails[type eq "work"].value eq "x"]`,
	`emails[type eq "work"] .value eq "x"`,
	`emails[type eq "work"]. value eq "x"`,
	`emails [type eq "work"].value eq "x"`,
	`emails[ type eq "work"].value eq "x"`,
	`emails[type eq "work" ].value eq "x"`,
	`emails[type eq "work"].value`,
	`emails[type eq "work"].value eq`,
	`emails[type eq "work"].value prx`,
	`emails[type eq "work"].value.x eq "y"`,
	`emails[type eq "work"].urn:x:value eq "y"`,
	`emails[type eq "work"].nope eq "y"`,
	`emails[type eq "work"].$ref eq "y"`,
	`emails[type eq "work" and primary eq true].value eq "x"`,
	`emails[type eq "work"or primary eq true].value eq "x"`,
	`emails[type eq "work"][value eq "x"]`,
	`emails[emails.type eq "work"].value eq "x"`,
	`emails[urn:x:type eq "work"].value eq "x"`,
	`emails[type eq "work"].value eq "x" or userName pr`,
	`emails[type eq "work"].value gt 1`,
	`name[givenName eq "a"].familyName eq "b"`,
	`userName[value eq "a"].value eq "b"`,
	`members[value eq "u1"].display pr`,
	`members[type eq "User"].$ref pr`,
	`groups[value eq "g1"].display eq "x"`,
	`[type eq "work"].value eq "x"`,
	`emails[].value eq "x"`,
	`emails[type eq "work"].`,
}

// entraShapes are filters the fast path must handle itself, by resource type.
var entraShapes = map[string][]string{
	"User": {
		`userName eq "user123@contoso.com"`,
		`USERNAME EQ "user123@contoso.com"`,
		`externalId eq "abc"`,
		`id eq "2819c223"`,
		`displayName eq "Babs"`,
		entURN + `:employeeNumber eq "1"`,
		entURN + `:manager eq "m-1"`,
		`meta.lastModified gt "2024-01-01T00:00:00Z"`,
		`active eq true`,
		`active eq "True"`,
		`emails.value co "@x"`,
		`emails co "@x"`,
		`title pr`,
		`userName eq "a\"b\u00E9" and active eq false`,
		`userName eq "é 😀"`,
		acmeURN + `:level ge -1.5e3`,
		acmeURN + `:score eq -0`,
		`userName eq null`,
		`groups.value eq "g1"`,
		`groups eq "g1"`,
		`emails[type eq "work"].value eq "user123@contoso.com"`,
		`emails[type eq "work"].value eq "user123@contoso.com" and active eq true`,
	},
	"Group": {
		`members[type eq "User"].value eq "u1"`,
		`displayName eq "Group"`,
		`externalId eq "abc"`,
		`id eq "g1" and members eq "u1"`,
		`id eq "g1" AND members.value eq "u1" and displayName pr`,
	},
}

func generalParse(rt *schemas.ResourceType, s string) (Filter, error) {
	c := converter{rt: rt, sentinel: ErrInvalidFilter}
	return c.filter(s)
}

func fastParse(rt *schemas.ResourceType, s string) (Filter, bool) {
	c := converter{rt: rt, sentinel: ErrInvalidFilter}
	return c.fastFilter(s)
}

// checkFastPath fails t if the fast path handles s but disagrees with the
// general path, and reports whether it handled s.
func checkFastPath(t *testing.T, rt *schemas.ResourceType, s string) bool {
	t.Helper()
	fast, ok := fastParse(rt, s)
	if !ok {
		if fast != nil {
			t.Errorf("%s: fastFilter(%s) returned %v without ok", rt.Name, excerpt(s), str(fast))
		}
		return false
	}
	general, err := generalParse(rt, s)
	if err != nil {
		if !errors.Is(err, ErrInvalidFilter) {
			t.Errorf("%s: general path error %v does not wrap ErrInvalidFilter", rt.Name, err)
		}
		t.Errorf("%s: fastFilter(%s) = %s, but the general path fails: %v", rt.Name, excerpt(s), str(fast), err)
		return true
	}
	if !reflect.DeepEqual(fast, general) {
		t.Errorf("%s: fastFilter(%s) = %s (%#v), general path %s (%#v)", rt.Name, excerpt(s), str(fast), fast, str(general), general)
	}
	return true
}

func TestFastPathDifferential(t *testing.T) {
	reg := loadRegistry(t)
	handled := 0
	for _, s := range fastPathInputs {
		for _, rt := range reg.ResourceTypes() {
			if checkFastPath(t, rt, s) {
				handled++
			}
		}
	}
	t.Logf("fast path handled %d of %d cases", handled, 2*len(fastPathInputs))
	if handled < 40 {
		t.Errorf("fast path handled only %d of %d cases", handled, 2*len(fastPathInputs))
	}
}

// TestFastPathGenerated compares the two paths on filters assembled from
// pieces near the edge of what the fast path accepts, which random fuzzing
// rarely reaches.
func TestFastPathGenerated(t *testing.T) {
	reg := loadRegistry(t)
	// Each piece is picked from its first list 7 times in 8, from the odd
	// one otherwise.
	attrs := [2][]string{{
		"userName", "USERNAME", "name.givenName", "emails", "emails.value", "emails.type", "active",
		"meta.lastModified", "members", "id", "externalId", "displayName", "title",
		entURN + ":manager", entURN + ":employeeNumber", acmeURN + ":level", acmeURN + ":score",
		acmeURN + ":hired", acmeURN + ":blob", acmeURN + ":tags",
	}, {"name", "password", "urn:x:y", "$ref", "a-b_c", "emails.", "emails.primary", "members.value", "é"}}
	ops := [2][]string{{"eq", "EQ", "Ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr", "PR"}, {"xx", "e", "eqq", "ſw"}}
	chars := [2][]string{
		{"a", "Z", " ", "0", "-", ":", `\"`, `\\`, `\/`, `\u00E9`, `\n`, "é", "😀", "(", "]", "and", "\x7f"},
		{`\u00e9`, `\uD83D`, `\x`, "\t", "\xff", `"`, `\`},
	}
	values := [2][]string{{
		"true", "TRUE", "False", "null", "Null", "0", "-0", "1", "3", "-1.5e3", "2.5E+1", "1e3",
		`"2024-01-01T00:00:00Z"`, `"2024-01-01T00:00:00.5+01:00"`, `"True"`, `"false"`, `"QUJD"`,
	}, {"nul", "1e999", "01", "1.", "-", "+1", ".5", "truex", `'x'`, `"2024-01-01"`}}
	seps := [2][]string{{" ", "  "}, {"\t", "", "\u00a0"}}
	joins := [2][]string{{" and ", " AND ", "  aNd  "}, {" or ", "and", " and", " anD(", " xor "}}
	rnd := rand.New(rand.NewPCG(1, 2))
	pick := func(xs [2][]string) string {
		l := xs[0]
		if rnd.IntN(8) == 0 {
			l = xs[1]
		}
		return l[rnd.IntN(len(l))]
	}
	handled, declined := 0, 0 // declined: valid filters left to the general path
	for range 600 {
		var b strings.Builder
		for n := 1 + rnd.IntN(3); n > 0; n-- {
			b.WriteString(pick(attrs) + pick(seps) + pick(ops))
			if rnd.IntN(8) > 0 {
				b.WriteString(pick(seps))
				if rnd.IntN(2) == 0 {
					b.WriteString(pick(values))
				} else {
					b.WriteByte('"')
					for m := rnd.IntN(6); m > 0; m-- {
						b.WriteString(pick(chars))
					}
					b.WriteByte('"')
				}
			}
			if n > 1 {
				b.WriteString(pick(joins))
			}
		}
		s := b.String()
		for _, rt := range reg.ResourceTypes() {
			if checkFastPath(t, rt, s) {
				handled++
			} else if _, err := generalParse(rt, s); err == nil {
				declined++ // " or ", invalid UTF-8
			}
		}
	}
	t.Logf("fast path handled %d of %d generated cases, declined %d valid ones", handled, 2*600, declined)
	if handled < 40 || declined > handled/10 {
		t.Errorf("fast path handled only %d generated cases, declined %d valid ones", handled, declined)
	}
}

// TestFastPathGeneratedSubPaths does the same for value paths followed by a
// sub-attribute: `attr[sub op value].sub op value`, with the pieces around
// the brackets varied.
func TestFastPathGeneratedSubPaths(t *testing.T) {
	reg := loadRegistry(t)
	attrs := [2][]string{{"emails", "EMAILS", "phoneNumbers", "members", "groups", "roles", "addresses",
		"urn:ietf:params:scim:schemas:core:2.0:User:emails"}, {"name", "userName", entURN + ":manager", "emails.value", "nope", ""}}
	subs := [2][]string{{"type", "value", "primary", "display", "VALUE", "locality"}, {"nope", "$ref", "value.x", "emails.type", "urn:x:type", ""}}
	ops := [2][]string{{"eq", "EQ", "ne", "co", "sw", "ew", "gt", "pr"}, {"e", "prx", "eqq"}}
	values := [2][]string{{`"work"`, `"x@contoso.example"`, `"a]."`, `""`, "true", `"True"`, "null"}, {"1", `"x`, "[", "]", "truex"}}
	opens := [2][]string{{"["}, {" [", "[ ", "[[", ""}}
	closes := [2][]string{{"]."}, {"] .", ". ", "]. ", " ].", "]", "]]."}}
	joins := [2][]string{{" and ", " AND "}, {" or ", " and(", "and"}}
	rnd := rand.New(rand.NewPCG(3, 4))
	pick := func(xs [2][]string) string {
		l := xs[0]
		if rnd.IntN(8) == 0 {
			l = xs[1]
		}
		return l[rnd.IntN(len(l))]
	}
	cmp := func() string {
		s := pick(subs) + " " + pick(ops)
		if !strings.HasPrefix(strings.ToLower(s[strings.LastIndexByte(s, ' ')+1:]), "pr") {
			s += " " + pick(values)
		}
		return s
	}
	handled, declined := 0, 0
	for range 600 {
		var b strings.Builder
		for n := 1 + rnd.IntN(2); n > 0; n-- {
			if rnd.IntN(4) == 0 {
				b.WriteString(`userName eq "u"`)
			} else {
				b.WriteString(pick(attrs) + pick(opens) + cmp() + pick(closes) + cmp())
			}
			if n > 1 {
				b.WriteString(pick(joins))
			}
		}
		s := b.String()
		for _, rt := range reg.ResourceTypes() {
			if checkFastPath(t, rt, s) {
				handled++
			} else if _, err := generalParse(rt, s); err == nil {
				declined++
			}
		}
	}
	t.Logf("fast path handled %d of %d generated value paths, declined %d valid ones", handled, 2*600, declined)
	if handled < 40 || declined > handled/4 {
		t.Errorf("fast path handled only %d generated value paths, declined %d valid ones", handled, declined)
	}
}

// TestFastPathHandlesEntra guards against a fast path that silently always
// falls back.
func TestFastPathHandlesEntra(t *testing.T) {
	reg := loadRegistry(t)
	for _, rt := range reg.ResourceTypes() {
		for _, s := range entraShapes[rt.Name] {
			if !checkFastPath(t, rt, s) {
				t.Errorf("%s: fast path does not handle %s", rt.Name, excerpt(s))
			}
		}
	}
}

// TestFastPathChain checks the nesting of and-chains: left-nested, as
// filter-parser builds them.
func TestFastPathChain(t *testing.T) {
	reg := loadRegistry(t)
	f, ok := fastParse(reg.User, `userName eq "a" and title pr and nickName pr`)
	if !ok {
		t.Fatal("not handled")
	}
	if got, want := str(f), `(userName eq "a" and title pr) and nickName pr`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if and, ok := f.(*And); !ok || reflect.TypeOf(and.Left) != reflect.TypeOf(&And{}) {
		t.Errorf("not left-nested: %#v", f)
	}
}

// TestFastPathParse checks that Parse uses the fast path's result and caches
// it, and still reports errors for inputs the fast path declines.
func TestFastPathParse(t *testing.T) {
	reg := loadRegistry(t)
	const s = `userName eq "fast-path-parse"`
	f, err := Parse(reg.User, s)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := generalParse(reg.User, s)
	if !reflect.DeepEqual(f, want) {
		t.Errorf("Parse = %s, want %s", str(f), str(want))
	}
	if g, _ := Parse(reg.User, s); g != f {
		t.Error("fast path result not cached")
	}
	for _, bad := range []string{`userName eq "x" and`, `userName gt null`, `nope eq "x"`, `userName eq "\u00e9"`} {
		if _, err := Parse(reg.User, bad); !errors.Is(err, ErrInvalidFilter) {
			t.Errorf("Parse(%q) = %v, want ErrInvalidFilter", bad, err)
		}
	}
}

// FuzzFastPathDifferential checks that whenever the fast path handles an
// input, the general path parses it to the same tree. It is not called
// FuzzParse... so that -fuzz=FuzzParse selects FuzzParse alone;
// -fuzz=FuzzFastPath selects this target.
func FuzzFastPathDifferential(f *testing.F) {
	reg := loadRegistry(f)
	for _, s := range fastPathInputs {
		f.Add(s)
	}
	for _, shapes := range entraShapes {
		for _, s := range shapes {
			f.Add(s)
		}
	}
	for _, s := range fuzzFilters {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, rt := range reg.ResourceTypes() {
			checkFastPath(t, rt, s)
		}
	})
}

// BenchmarkParseUncachedUserNameEq is Entra's hottest request: Parse of
// `userName eq "..."` with a value never seen before.
func BenchmarkParseUncachedUserNameEq(b *testing.B) {
	reg := loadRegistry(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := Parse(reg.User, `userName eq "user`+strconv.Itoa(i)+`@contoso.com"`); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseUncachedUserNameEqGeneral is the same filter through the
// general path alone (Parse before the fast path).
func BenchmarkParseUncachedUserNameEqGeneral(b *testing.B) {
	reg := loadRegistry(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := generalParse(reg.User, `userName eq "user`+strconv.Itoa(i)+`@contoso.com"`); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFastPathGroupMembers is Entra's membership check, fast path only.
func BenchmarkFastPathGroupMembers(b *testing.B) {
	reg := loadRegistry(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := fastParse(reg.Group, `id eq "2819c223-7f76-453a-919d-413861904646" and members eq "902c246b-6245-4190-8e05-00816be7344a"`); !ok {
			b.Fatal("not handled")
		}
	}
}
