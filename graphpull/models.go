package graphpull

import (
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// userObject turns the SDK's parsed user back into Graph's JSON shape, the
// form MapUser reads: modelled properties under their Graph names, and the
// annotations kiota keeps in GetAdditionalData (@removed, manager@delta)
// converted from kiota's pointer leaves by plain. Keeping MapUser on plain
// JSON makes the mapping testable and documentable without the SDK.
func userObject(u models.Userable) map[string]any {
	obj := map[string]any{}
	for k, v := range u.GetAdditionalData() {
		obj[k] = plain(v)
	}
	put := func(k string, v *string) {
		if v != nil {
			obj[k] = *v
		}
	}
	put("@odata.type", u.GetOdataType())
	put("id", u.GetId())
	put("userPrincipalName", u.GetUserPrincipalName())
	put("displayName", u.GetDisplayName())
	put("jobTitle", u.GetJobTitle())
	put("mail", u.GetMail())
	put("preferredLanguage", u.GetPreferredLanguage())
	put("givenName", u.GetGivenName())
	put("surname", u.GetSurname())
	put("streetAddress", u.GetStreetAddress())
	put("city", u.GetCity())
	put("state", u.GetState())
	put("postalCode", u.GetPostalCode())
	put("country", u.GetCountry())
	put("officeLocation", u.GetOfficeLocation())
	put("mobilePhone", u.GetMobilePhone())
	put("faxNumber", u.GetFaxNumber())
	put("mailNickname", u.GetMailNickname())
	put("employeeId", u.GetEmployeeId())
	put("department", u.GetDepartment())
	if p := u.GetBusinessPhones(); p != nil {
		obj["businessPhones"] = plain(p)
	}
	if b := u.GetAccountEnabled(); b != nil {
		obj["accountEnabled"] = *b
	}
	if m := u.GetManager(); m != nil {
		mo := map[string]any{}
		if id := m.GetId(); id != nil {
			mo["id"] = *id
		}
		obj["manager"] = mo
	}
	return obj
}

// groupObject is userObject for groups: id, displayName, @odata.type and
// the annotations (@removed, members@delta).
func groupObject(g models.Groupable) map[string]any {
	obj := map[string]any{}
	for k, v := range g.GetAdditionalData() {
		obj[k] = plain(v)
	}
	if v := g.GetOdataType(); v != nil {
		obj["@odata.type"] = *v
	}
	if v := g.GetId(); v != nil {
		obj["id"] = *v
	}
	if v := g.GetDisplayName(); v != nil {
		obj["displayName"] = *v
	}
	return obj
}
