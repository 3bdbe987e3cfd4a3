package query

import (
	"reflect"
	"testing"
)

// TestPlanMembershipAndSubPaths checks the terms of the shapes issue 13 added:
// a value path followed by a sub-attribute is looked up in the e-mail index
// (its type is left to Match), and a user's groups.value in the membership
// records, exactly.
func TestPlanMembershipAndSubPaths(t *testing.T) {
	reg := loadRegistry(t)
	cases := []struct {
		filter string
		terms  []Term
		exact  bool
	}{
		{`emails[type eq "work"].value eq "X@Contoso.Example"`, []Term{{Field: FieldEmailValue, Op: Eq, Value: "x@contoso.example"}}, false},
		{`emails[type eq "work"].value sw "X"`, []Term{{Field: FieldEmailValue, Op: Sw, Value: "x"}}, false},
		{`emails[type eq "work"].value pr`, nil, false},
		{`emails[type eq "work"].type eq "x"`, nil, false},
		// Two terms on one element: separate lookups can't say "the same
		// element", so Match decides.
		{`emails[value co "a"].value co "b"`, []Term{{Field: FieldEmailValue, Op: Co, Value: "a"}, {Field: FieldEmailValue, Op: Co, Value: "b"}}, false},
		{`groups.value eq "G1"`, []Term{{Field: FieldGroupValue, Op: Eq, Value: "G1"}}, true},
		{`groups eq "g1"`, []Term{{Field: FieldGroupValue, Op: Eq, Value: "g1"}}, true},
		{`groups[value eq "g1"]`, []Term{{Field: FieldGroupValue, Op: Eq, Value: "g1"}}, true},
		{`groups.value eq "g1" or groups.value eq "g2"`, []Term{{Or: []Term{
			{Field: FieldGroupValue, Op: Eq, Value: "g1"}, {Field: FieldGroupValue, Op: Eq, Value: "g2"}}}}, true},
		{`groups.value sw "g"`, nil, false},
		{`groups.value ne "g1"`, nil, false},
		{`groups.display eq "Admins"`, nil, false},
		{`groups pr`, nil, false},
	}
	for _, c := range cases {
		f, err := Parse(reg.User, c.filter)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.filter, err)
		}
		terms, exact := Plan(f)
		if !reflect.DeepEqual(terms, c.terms) || exact != c.exact {
			t.Errorf("Plan(%s) = %+v, %v; want %+v, %v", c.filter, terms, exact, c.terms, c.exact)
		}
	}
}
