package query

import (
	"errors"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/schemas"
)

func TestParsePath(t *testing.T) {
	reg := loadRegistry(t)
	cases := []struct {
		rt     *schemas.ResourceType
		path   string
		attr   string // canonical Path
		filter string // printed value filter, "" for none
		sub    string // name of the sub-attribute after "]"
	}{
		{reg.User, `userName`, `userName`, ``, ``},
		{reg.User, `USERNAME`, `userName`, ``, ``},
		{reg.User, ` displayName `, `displayName`, ``, ``},
		{reg.User, `name.givenName`, `name.givenName`, ``, ``},
		{reg.User, `Name.GivenName`, `name.givenName`, ``, ``},
		{reg.User, `name`, `name`, ``, ``},
		{reg.User, `emails`, `emails`, ``, ``}, // not redirected to emails.value
		{reg.User, `emails.value`, `emails.value`, ``, ``},
		{reg.User, `active`, `active`, ``, ``},
		{reg.User, `password`, `password`, ``, ``},
		{reg.User, `emails[type eq "work"]`, `emails`, `type eq "work"`, ``},
		{reg.User, `emails[type eq "work"].value`, `emails`, `type eq "work"`, `value`},
		{reg.User, `emails[Type eq "work"].Value`, `emails`, `type eq "work"`, `value`},
		{reg.User, `phoneNumbers[type eq "mobile"].value`, `phoneNumbers`, `type eq "mobile"`, `value`},
		{reg.User, `addresses[type eq "work"].streetAddress`, `addresses`, `type eq "work"`, `streetAddress`},
		{reg.User, `roles[primary eq "True"].value`, `roles`, `primary eq true`, `value`},
		{reg.User, `emails[type eq "work" and primary eq true]`, `emails`, `type eq "work" and primary eq true`, ``},
		{reg.Group, `members`, `members`, ``, ``},
		{reg.Group, `members[value eq "2819c223"]`, `members`, `value eq "2819c223"`, ``},
		{reg.Group, `members[value eq "2819c223"].display`, `members`, `value eq "2819c223"`, `display`},
		{reg.User, entURN + `:manager`, entURN + `:manager`, ``, ``},
		{reg.User, entURN + `:manager.value`, entURN + `:manager.value`, ``, ``},
		{reg.User, entURN + `:employeeNumber`, entURN + `:employeeNumber`, ``, ``},
		{reg.User, strings.ToUpper(entURN) + `:DEPARTMENT`, entURN + `:department`, ``, ``},
		{reg.User, entURN + `:manager[value eq "m-1"]`, entURN + `:manager`, `value eq "m-1"`, ``},
		{reg.User, `urn:ietf:params:scim:schemas:core:2.0:User:name.familyName`, `name.familyName`, ``, ``},
		{reg.User, `urn:ietf:params:scim:schemas:core:2.0:User:userName`, `userName`, ``, ``},
		{reg.User, acmeURN + `:level`, acmeURN + `:level`, ``, ``},
	}
	for _, tc := range cases {
		pe, err := ParsePath(tc.rt, tc.path)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", tc.path, err)
			continue
		}
		if got := pe.Path.String(); got != tc.attr {
			t.Errorf("ParsePath(%q).Path = %s, want %s", tc.path, got, tc.attr)
		}
		got := ""
		if pe.Filter != nil {
			got = elemString(pe.Filter)
		}
		if got != tc.filter {
			t.Errorf("ParsePath(%q).Filter = %s, want %s", tc.path, got, tc.filter)
		}
		got = ""
		if pe.Sub != nil {
			got = pe.Sub.Name
		}
		if got != tc.sub {
			t.Errorf("ParsePath(%q).Sub = %s, want %s", tc.path, got, tc.sub)
		}
		// The printed path parses back to the same thing.
		if again, err := ParsePath(tc.rt, pe.String()); err != nil || again.String() != pe.String() {
			t.Errorf("round trip of %q: %v %v", pe.String(), again, err)
		}
	}
}

func TestParsePathFilterTree(t *testing.T) {
	reg := loadRegistry(t)
	pe, err := ParsePath(reg.Group, `members[value eq "2819c223"]`)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := pe.Filter.(*Compare)
	if !ok || c.Path.Attr != reg.Group.Attribute("members") || c.Path.Sub.Name != "value" || c.Value != "2819c223" {
		t.Fatalf("filter %#v", pe.Filter)
	}
	if pe.Path.Sub != nil {
		t.Error("value path attribute has a Sub")
	}
	a, _ := ParsePath(reg.Group, `members[value eq "2819c223"]`)
	if a.Filter != pe.Filter {
		t.Error("second ParsePath not served from the cache")
	}
}

func TestParsePathErrors(t *testing.T) {
	reg := loadRegistry(t)
	cases := []struct {
		rt       *schemas.ResourceType
		path     string
		contains string
	}{
		{reg.User, ``, "empty"},
		{reg.User, `nope`, "unknown attribute"},
		{reg.User, `name.nope`, "unknown attribute"},
		{reg.User, `name.givenName.x`, "syntax"},
		{reg.User, `emails[type eq "work"].nope`, "unknown sub-attribute"},
		{reg.User, `emails[type eq "work"].value.x`, "syntax"},
		{reg.User, `emails[nope eq "work"]`, "unknown sub-attribute"},
		{reg.User, `emails[type eq "work"`, "missing"},
		{reg.User, `emails[type eq "work"]]`, "unbalanced"},
		{reg.User, `emails[]`, "syntax"},
		{reg.User, `emails[type]`, "syntax"},
		{reg.User, `emails[primary gt true]`, "boolean"},
		{reg.User, `emails[emails.type eq "work"]`, "sub-attribute name"},
		{reg.User, `userName[value eq "x"]`, "complex"},
		{reg.User, `emails.value[type eq "x"]`, "sub-attribute"},
		{reg.User, `members`, "unknown attribute"},
		{reg.Group, `userName`, "unknown attribute"},
		{reg.User, entURN, "unknown attribute"},
		{reg.User, entURN + `:nope`, "unknown attribute"},
		{reg.User, `urn:example:unknown:2.0:User:userName`, "unknown attribute"},
		{reg.User, `userName eq "x"`, "syntax"},
		{reg.User, `"userName"`, "syntax"},
		{reg.User, `emails[type eq "work"][value eq "x"]`, "syntax"},
		{nil, `userName`, ""},
	}
	for _, tc := range cases {
		pe, err := ParsePath(tc.rt, tc.path)
		if !errors.Is(err, ErrInvalidPath) {
			t.Errorf("ParsePath(%q) = %v, %v; want ErrInvalidPath", tc.path, pe, err)
			continue
		}
		if errors.Is(err, ErrInvalidFilter) {
			t.Errorf("ParsePath(%q): error also wraps ErrInvalidFilter", tc.path)
		}
		if !strings.Contains(err.Error(), tc.contains) {
			t.Errorf("ParsePath(%q): error %q does not mention %q", tc.path, err, tc.contains)
		}
	}
}
