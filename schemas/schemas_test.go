package schemas

import "testing"

func TestLoadAndResolve(t *testing.T) {
	reg, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"userName":          "userName",
		"NAME.GIVENNAME":    "name.givenName",
		"emails.value":      "emails.value",
		"meta.lastModified": "meta.lastModified",
		"id":                "id",
		"externalId":        "externalId",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
		"urn:ietf:params:scim:schemas:core:2.0:User:userName":                      "userName",
		"manager":        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
		"Manager.value":  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
		"employeeNumber": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
	}
	for in, want := range cases {
		p, err := reg.User.ResolvePath(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if p.String() != want {
			t.Errorf("%s: got %s want %s", in, p.String(), want)
		}
	}
	for _, bad := range []string{"nope", "name.nope", "urn:x:y:nope", ""} {
		if _, err := reg.User.ResolvePath(bad); err == nil {
			t.Errorf("%q: expected error", bad)
		}
	}
	if a := reg.User.Attribute("active"); a == nil || a.Type != TypeBoolean {
		t.Fatalf("active: %+v", a)
	}
	if a := reg.User.Attribute("id"); a == nil || !a.CaseExact || a.Returned != ReturnedAlways || a.Mutability != MutabilityReadOnly {
		t.Fatalf("id: %+v", a)
	}
	// RFC 7643 section 8.7.1: group names may repeat (a tenant's
	// uniqueness: strict is the store's business, not the schema's).
	if a := reg.Group.Attribute("displayName"); a.Uniqueness != "none" {
		t.Fatalf("group displayName uniqueness: %q", a.Uniqueness)
	}
	if reg.User.Attribute("password").Returned != ReturnedNever {
		t.Fatal("password returned")
	}
}

func TestCustomExtension(t *testing.T) {
	ext := []byte(`{"id":"urn:example:params:scim:schemas:extension:acme:2.0:User","name":"Acme","attributes":[{"name":"badge","type":"string","multiValued":false,"required":false,"caseExact":false,"mutability":"readWrite","returned":"default","uniqueness":"none"}]}`)
	reg, err := Load(CustomExtension{ResourceType: "User", JSON: ext})
	if err != nil {
		t.Fatal(err)
	}
	p, err := reg.User.ResolvePath("urn:example:params:scim:schemas:extension:acme:2.0:User:badge")
	if err != nil || p.Attr.Name != "badge" {
		t.Fatalf("%v %+v", err, p)
	}
	if _, err := Load(CustomExtension{ResourceType: "Device", JSON: ext}); err == nil {
		t.Fatal("expected error for unknown resource type")
	}
	if _, err := Load(CustomExtension{ResourceType: "User", JSON: []byte(`{"id":"notaurn","attributes":[]}`)}); err == nil {
		t.Fatal("expected error for non-URN id")
	}
}
