package query

import (
	"testing"

	"github.com/scimbridge/scimbridge/schemas"
)

const (
	entURN  = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	acmeURN = "urn:example:params:scim:schemas:extension:acme:2.0:User"
)

// acmeExt is a custom extension with the attribute types the core schemas lack.
var acmeExt = []byte(`{"id":"` + acmeURN + `","name":"Acme","attributes":[
 {"name":"level","type":"integer","multiValued":false,"caseExact":false,"mutability":"readWrite","returned":"default","uniqueness":"none"},
 {"name":"score","type":"decimal","multiValued":false,"caseExact":false,"mutability":"readWrite","returned":"default","uniqueness":"none"},
 {"name":"hired","type":"dateTime","multiValued":false,"caseExact":false,"mutability":"readWrite","returned":"default","uniqueness":"none"},
 {"name":"blob","type":"binary","multiValued":false,"caseExact":true,"mutability":"readWrite","returned":"default","uniqueness":"none"},
 {"name":"tags","type":"string","multiValued":true,"caseExact":false,"mutability":"readWrite","returned":"default","uniqueness":"none"},
 {"name":"code","type":"string","multiValued":false,"caseExact":true,"mutability":"readWrite","returned":"default","uniqueness":"none"}
]}`)

func loadRegistry(t testing.TB) *schemas.Registry {
	t.Helper()
	reg, err := schemas.Load(schemas.CustomExtension{ResourceType: "User", JSON: acmeExt})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// userDoc is a User in the form Match receives, built fresh for each use.
func userDoc() map[string]any {
	return map[string]any{
		"id":          "2819c223-7f76-453a-919d-413861904646",
		"externalId":  "Ext-42",
		"userName":    "Bjensen@Example.com",
		"displayName": "Babs Jensen",
		"title":       "",
		"nickName":    "Ünïcode Babs",
		"active":      true,
		"name":        map[string]any{"givenName": "Barbara", "familyName": "Jensen"},
		"emails": []any{
			map[string]any{"value": "bjensen@example.com", "type": "work", "primary": true},
			map[string]any{"value": "babs@jensen.org", "type": "home"},
		},
		"phoneNumbers": []any{},
		"addresses":    []any{map[string]any{"type": "work", "locality": ""}},
		"roles":        []any{map[string]any{"value": "Admin", "primary": false}},
		entURN: map[string]any{
			"employeeNumber": "701984",
			"department":     "Tour Operations",
			"manager":        map[string]any{"value": "m-1", "displayName": "Boss"},
		},
		acmeURN: map[string]any{
			"level": float64(3),
			"score": 2.5,
			"hired": "2020-02-01T10:00:00+01:00",
			"blob":  "QUJD",
			"tags":  []any{"red", "Green"},
			"code":  "AbC",
		},
		"meta": map[string]any{
			"resourceType": "User",
			"created":      "2011-08-01T18:29:49.793Z",
			"lastModified": "2011-08-01T21:32:44.882Z",
			"version":      `W/"3"`,
		},
	}
}
