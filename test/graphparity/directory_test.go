package graphparity_test

import "github.com/scimbridge/scimbridge/test/fakegraph"

// The directory both sides see. Object ids are chosen so that some
// managers sort after their reports (the fake streams users by id), so a
// round meets a user before its manager.
var directory = struct {
	users  []fakegraph.User
	groups []fakegraph.Group
}{
	users: []fakegraph.User{
		// The top of the manager chain: every mapped property.
		{ID: "u-9-ceo", UserPrincipalName: "grace@contoso.example", DisplayName: "Grace Hopper",
			GivenName: "Grace", Surname: "Hopper", JobTitle: "Chief Executive", Mail: "grace@contoso.example",
			MailNickname: "grace", PreferredLanguage: "en-US", StreetAddress: "1 Harbour Way", City: "Arlington",
			State: "VA", PostalCode: "22201", Country: "US", OfficeLocation: "HQ 1/100",
			BusinessPhones: []string{"+1 555 0100", "+1 555 0199"}, MobilePhone: "+1 555 0101",
			FaxNumber: "+1 555 0102", EmployeeID: "E0001", Department: "Board"},
		// Reports to the CEO; her id sorts before her manager's.
		{ID: "u-5-cto", UserPrincipalName: "ada@contoso.example", DisplayName: "Ada Lovelace",
			GivenName: "Ada", Surname: "Lovelace", JobTitle: "CTO", Mail: "ada@contoso.example",
			MailNickname: "ada", PreferredLanguage: "en-GB", City: "London", Country: "GB",
			BusinessPhones: []string{"+44 20 7946 0000"}, EmployeeID: "E0002", Department: "Engineering",
			Manager: "u-9-ceo"},
		// Third level of the chain: the manager of a manager.
		{ID: "u-1-dev", UserPrincipalName: "linus@contoso.example", DisplayName: "Linus T",
			GivenName: "Linus", Surname: "Torvalds", JobTitle: "Engineer", Mail: "linus@contoso.example",
			MailNickname: "linus", MobilePhone: "+358 40 000 0000", OfficeLocation: "Remote",
			EmployeeID: "E0003", Department: "Engineering", Manager: "u-5-cto"},
		// A cloud-only user without a mailbox: no mail.
		{ID: "u-2-nomail", UserPrincipalName: "barbara@contoso.example", DisplayName: "Barbara Liskov",
			GivenName: "Barbara", Surname: "Liskov", MailNickname: "barbara", JobTitle: "Researcher",
			FaxNumber: "+1 555 0300", Manager: "u-5-cto"},
		// Only a given name.
		{ID: "u-3-given", UserPrincipalName: "cher@contoso.example", DisplayName: "Cher",
			GivenName: "Cher", Mail: "cher@contoso.example", MailNickname: "cher"},
		// Only a surname, and a postal address without a street.
		{ID: "u-4-surname", UserPrincipalName: "knuth@contoso.example", DisplayName: "Knuth",
			Surname: "Knuth", MailNickname: "knuth", PostalCode: "94305", State: "CA", Country: "US",
			Department: "Research", Manager: "u-9-ceo"},
		// Disabled: Entra does not create it, neither does the pull.
		{ID: "u-6-disabled", UserPrincipalName: "mallory@contoso.example", DisplayName: "Mallory",
			GivenName: "Mallory", Surname: "Moe", Mail: "mallory@contoso.example", MailNickname: "mallory",
			Disabled: true, Manager: "u-9-ceo"},
		// Reports to the disabled user: Entra cannot resolve that manager.
		{ID: "u-7-orphan", UserPrincipalName: "oscar@contoso.example", DisplayName: "Oscar",
			GivenName: "Oscar", Surname: "Orphan", MailNickname: "oscar", Manager: "u-6-disabled"},
		// The bare minimum: a userPrincipalName and a display name.
		{ID: "u-8-bare", UserPrincipalName: "bare@contoso.example", DisplayName: "Bare"},
		// Only an employee id and an empty business phone list.
		{ID: "u-0-emp", UserPrincipalName: "emp@contoso.example", DisplayName: "Emp Loyee",
			EmployeeID: "E0099", BusinessPhones: []string{}, MailNickname: "emp"},
	},
	groups: []fakegraph.Group{
		{ID: "g-2-eng", DisplayName: "Engineering", Members: []fakegraph.Member{
			{ID: "u-5-cto", Type: fakegraph.TypeUser}, {ID: "u-1-dev", Type: fakegraph.TypeUser},
			{ID: "u-2-nomail", Type: fakegraph.TypeUser}, {ID: "u-6-disabled", Type: fakegraph.TypeUser},
			{ID: "dev-1", Type: fakegraph.TypeDevice}, {ID: "c-1", Type: fakegraph.TypeContact},
			{ID: "g-1-lead", Type: fakegraph.TypeGroup},
		}},
		{ID: "g-1-lead", DisplayName: "Leadership", Members: []fakegraph.Member{
			{ID: "u-9-ceo", Type: fakegraph.TypeUser}, {ID: "u-5-cto", Type: fakegraph.TypeUser},
		}},
		{ID: "g-3-empty", DisplayName: "Print Users"},
	},
}

// loadGraph puts the directory into the fake Graph.
func loadGraph(s *fakegraph.Server) {
	for _, u := range directory.users {
		s.PutUser(u)
	}
	for _, g := range directory.groups {
		s.PutGroup(g)
	}
}

// changedDirectory is the directory after a round of edits in Entra: a
// rename, new and changed properties (a mobile phone added before a fax,
// which puts a push's phoneNumbers in another order than the mapping's),
// a manager change, a disabled user, a user enabled, a new user, a group renamed and
// members added and removed. No property is cleared (Entra does not
// provision nulls: the push would keep the old value).
func changedDirectory() ([]fakegraph.User, []fakegraph.Group) {
	users := make([]fakegraph.User, 0, len(directory.users)+1)
	for _, u := range directory.users {
		u.BusinessPhones = append([]string(nil), u.BusinessPhones...)
		switch u.ID {
		case "u-4-surname": // renamed
			u.UserPrincipalName = "don.knuth@contoso.example"
			u.DisplayName = "Donald Knuth"
			u.GivenName = "Donald"
		case "u-2-nomail": // phones added around the fax; a new title
			u.MobilePhone = "+1 555 0301"
			u.BusinessPhones = []string{"+1 555 0302"}
			u.JobTitle = "Professor"
			u.City = "Cambridge"
		case "u-1-dev": // new manager, new department
			u.Manager = "u-9-ceo"
			u.Department = "Office of the CEO"
		case "u-3-given": // disabled
			u.Disabled = true
		case "u-6-disabled": // enabled: created now, and joins the group she was in all along
			u.Disabled = false
		case "u-7-orphan": // his manager gone: he now reports to the CTO
			u.Manager = "u-5-cto"
		}
		users = append(users, u)
	}
	users = append(users, fakegraph.User{ID: "u-a-new", UserPrincipalName: "new@contoso.example",
		DisplayName: "New Hire", GivenName: "New", Surname: "Hire", Mail: "new@contoso.example",
		MailNickname: "new", Manager: "u-1-dev", EmployeeID: "E0100"})
	groups := make([]fakegraph.Group, 0, len(directory.groups))
	for _, g := range directory.groups {
		g.Members = append([]fakegraph.Member(nil), g.Members...)
		switch g.ID {
		case "g-2-eng": // linus leaves, the new hire joins
			g.Members = slicesDelete(g.Members, "u-1-dev")
			g.Members = append(g.Members, fakegraph.Member{ID: "u-a-new", Type: fakegraph.TypeUser})
		case "g-3-empty":
			g.DisplayName = "Printer Users"
			g.Members = append(g.Members, fakegraph.Member{ID: "u-7-orphan", Type: fakegraph.TypeUser},
				fakegraph.Member{ID: "u-4-surname", Type: fakegraph.TypeUser})
		}
		groups = append(groups, g)
	}
	return users, groups
}

func slicesDelete(ms []fakegraph.Member, id string) []fakegraph.Member {
	out := ms[:0]
	for _, m := range ms {
		if m.ID != id {
			out = append(out, m)
		}
	}
	return out
}

// loadChanges edits the fake Graph into the changed directory.
func loadChanges(s *fakegraph.Server, users []fakegraph.User, groups []fakegraph.Group) {
	for _, u := range users {
		s.PutUser(u)
	}
	for _, g := range groups {
		s.PutGroup(g)
	}
}
