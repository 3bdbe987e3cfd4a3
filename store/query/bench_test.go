package query

import (
	"strconv"
	"testing"
)

func BenchmarkParseCached(b *testing.B) {
	reg := loadRegistry(b)
	const s = `userName eq "bjensen@example.com"`
	if _, err := Parse(reg.User, s); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(reg.User, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseUncached(b *testing.B) {
	reg := loadRegistry(b)
	const s = `userName eq "bjensen@example.com" and emails[type eq "work" and value co "@example.com"]`
	c := converter{rt: reg.User, sentinel: ErrInvalidFilter}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.filter(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatchUserNameEq(b *testing.B) {
	reg := loadRegistry(b)
	f, err := Parse(reg.User, `userName eq "BJENSEN@example.com"`)
	if err != nil {
		b.Fatal(err)
	}
	s := Subject{Doc: userDoc()}
	b.ReportAllocs()
	for b.Loop() {
		if !Match(f, s) {
			b.Fatal("no match")
		}
	}
}

func BenchmarkMatchValuePath(b *testing.B) {
	reg := loadRegistry(b)
	f, err := Parse(reg.User, `emails[type eq "work" and value co "@EXAMPLE.com"] and meta.lastModified gt "2011-05-13T04:42:34Z"`)
	if err != nil {
		b.Fatal(err)
	}
	s := Subject{Doc: userDoc()}
	b.ReportAllocs()
	for b.Loop() {
		if !Match(f, s) {
			b.Fatal("no match")
		}
	}
}

// BenchmarkParseUncachedWorkEmail is Entra's matching query when the work
// e-mail is the matching attribute: a new address on every request.
func BenchmarkParseUncachedWorkEmail(b *testing.B) {
	reg := loadRegistry(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := Parse(reg.User, `emails[type eq "work"].value eq "user`+strconv.Itoa(i)+`@contoso.com"`); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseUncachedWorkEmailGeneral is the same filter through the
// general path alone (filter-parser, with the value path hoisted out).
func BenchmarkParseUncachedWorkEmailGeneral(b *testing.B) {
	reg := loadRegistry(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := generalParse(reg.User, `emails[type eq "work"].value eq "user`+strconv.Itoa(i)+`@contoso.com"`); err != nil {
			b.Fatal(err)
		}
	}
}
