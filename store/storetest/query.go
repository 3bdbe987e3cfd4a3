package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/query"
)

const entURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

var loadSchemas = sync.OnceValues(func() (*schemas.Registry, error) { return schemas.Load() })

// parse parses a filter against the default schemas.
func parse(t *testing.T, kind store.Kind, filter string) query.Filter {
	t.Helper()
	reg, err := loadSchemas()
	if err != nil {
		t.Fatal(err)
	}
	f, err := query.Parse(reg.ByName(string(kind)), filter)
	if err != nil {
		t.Fatalf("Parse %q: %v", filter, err)
	}
	return f
}

// fixture creates the query data set in tenantA (and look-alikes in tenantB)
// and returns a time between the creation of u2 and u3.
func fixture(t *testing.T, s store.Store) string {
	t.Helper()
	pause := func() { time.Sleep(3 * time.Millisecond) }
	u1 := newUser(tenantA, "u1", "Alice@Example.com",
		"displayName", "Alice Smith",
		"externalId", "ext-A",
		"active", true,
		"title", "Engineer",
		"name", map[string]any{"givenName": "Alice", "familyName": "Smith"},
		"emails", []any{
			map[string]any{"value": "alice@home.example", "type": "home"},
			map[string]any{"value": "zed-alice@work.example", "type": "work", "primary": true},
		},
		entURN, map[string]any{"employeeNumber": "1001", "manager": map[string]any{"value": "u3"}},
	)
	u1.Created = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	mustCreate(t, s, u1)
	pause()
	mustCreate(t, s, newUser(tenantA, "u2", "bob",
		"displayName", "Bob Jones",
		"externalId", "EXT-A",
		"active", false,
		"title", "Engineer",
		"name", map[string]any{"familyName": "jones"},
		"emails", []any{map[string]any{"value": "Bob@Work.Example", "type": "work"}},
		entURN, map[string]any{"employeeNumber": "1002", "manager": map[string]any{"value": "u1"}},
	))
	pause()
	mid := time.Now().UTC()
	pause()
	mustCreate(t, s, newUser(tenantA, "u3", "carol",
		"active", true,
		"name", map[string]any{"familyName": "Adams"},
		"emails", []any{map[string]any{"value": "carol@home.example", "type": "home"}},
		entURN, map[string]any{"employeeNumber": "1003"},
	))
	pause()
	mustCreate(t, s, newUser(tenantA, "u4", "dave", "displayName", "dave"))
	mustCreate(t, s, newGroup(tenantA, "g1", "Admins", "externalId", "gx1"), "u1", "u2")
	mustCreate(t, s, newGroup(tenantA, "g2", "Users"), "u1", "u3", "g1")
	mustCreate(t, s, newGroup(tenantA, "g3", "Empty"))
	// Look-alikes in another tenant that must never show up.
	mustCreate(t, s, newUser(tenantB, "b1", "alice@example.com", "externalId", "ext-A", "active", false,
		"emails", []any{map[string]any{"value": "bob@work.example", "type": "work"}}))
	mustCreate(t, s, newGroup(tenantB, "bg1", "Admins"), "b1")
	mustCreate(t, s, newGroup(tenantB, "u1", "Users"), "b1")
	return mid.Format(time.RFC3339Nano)
}

func queryIDs(t *testing.T, s store.Store, kind store.Kind, q store.Query) ([]string, int) {
	t.Helper()
	p, err := s.Query(ctxT(t), tenantA, kind, q)
	if err != nil {
		t.Fatalf("Query %+v: %v", q, err)
	}
	ids := []string{}
	for _, r := range p.Resources {
		if r.Tenant != tenantA || r.Kind != kind {
			t.Fatalf("Query returned %+v", r.Ref)
		}
		ids = append(ids, r.ID)
	}
	return ids, p.Total
}

func testQueryFilters(t *testing.T, s store.Store) {
	mid := fixture(t, s)
	cases := []struct {
		kind   store.Kind
		filter string
		want   []string // in creation order
	}{
		{store.User, `userName eq "alice@example.com"`, []string{"u1"}},
		{store.User, `userName eq "ALICE@EXAMPLE.COM"`, []string{"u1"}},
		{store.User, `USERNAME Eq "Bob"`, []string{"u2"}},
		{store.User, `userName eq "nobody"`, nil},
		{store.User, `externalId eq "ext-A"`, []string{"u1"}},
		{store.User, `externalId eq "EXT-A"`, []string{"u2"}},
		{store.User, `externalId eq "ext-a"`, nil},
		{store.User, `id eq "u2"`, []string{"u2"}},
		{store.User, `displayName eq "DAVE"`, []string{"u4"}},
		{store.User, `emails.value eq "bob@work.example"`, []string{"u2"}},
		{store.User, `emails eq "ALICE@home.example"`, []string{"u1"}},
		{store.User, `emails.value sw "CAROL@"`, []string{"u3"}},
		{store.User, `emails[type eq "work" and value co "alice"]`, []string{"u1"}},
		{store.User, `emails[type eq "home" and value co "bob"]`, nil},
		{store.User, `emails[type eq "work" and value co "home"]`, nil},
		{store.User, `emails[value sw "alice" and value ew "work.example"]`, nil},
		{store.User, `emails[value sw "zed" and value ew "work.example"]`, []string{"u1"}},
		{store.User, `emails[type eq "work" and value ew "example"] and userName sw "b"`, []string{"u2"}},
		{store.User, `emails[type eq "work"]`, []string{"u1", "u2"}},
		{store.User, `emails[value eq "carol@home.example" or value eq "bob@work.example"]`, []string{"u2", "u3"}},
		{store.User, `active eq false`, []string{"u2"}},
		{store.User, `active eq true`, []string{"u1", "u3"}},
		{store.User, `not (active eq true)`, []string{"u2", "u4"}},
		{store.User, `meta.lastModified gt "` + mid + `"`, []string{"u3", "u4"}},
		{store.User, `meta.lastModified lt "` + mid + `"`, []string{"u1", "u2"}},
		{store.User, `meta.created lt "2021-01-01T00:00:00Z"`, []string{"u1"}},
		{store.User, `meta.created ge "2021-01-01T00:00:00Z" and meta.created le "` + mid + `"`, []string{"u2"}},
		{store.User, entURN + `:employeeNumber eq "1002"`, []string{"u2"}},
		{store.User, entURN + `:manager eq "u1"`, []string{"u2"}},
		{store.User, entURN + `:manager.value eq "u3"`, []string{"u1"}},
		{store.User, `userName eq "bob" or userName eq "carol"`, []string{"u2", "u3"}},
		{store.User, `userName eq "bob" or emails.value eq "carol@home.example"`, []string{"u2", "u3"}},
		{store.User, `(userName eq "bob" or title eq "Engineer") and active eq true`, []string{"u1"}},
		{store.User, `not (userName eq "bob")`, []string{"u1", "u3", "u4"}},
		{store.User, `displayName pr`, []string{"u1", "u2", "u4"}},
		{store.User, `not (displayName pr)`, []string{"u3"}},
		{store.User, `userName co "A"`, []string{"u1", "u3", "u4"}},
		{store.User, `userName sw "CA"`, []string{"u3"}},
		{store.User, `userName ew ".COM"`, []string{"u1"}},
		{store.User, `externalId sw "EXT"`, []string{"u2"}},
		{store.User, `name.familyName eq "JONES"`, []string{"u2"}},
		{store.User, `title eq "Engineer" and active eq true`, []string{"u1"}},
		{store.User, `emails.value ew ".example" and not (active eq false)`, []string{"u1", "u3"}},
		// A value path followed by a sub-attribute (Entra's work e-mail
		// matching): one element satisfies both.
		{store.User, `emails[type eq "work"].value eq "zed-alice@work.example"`, []string{"u1"}},
		{store.User, `emails[type eq "work"].value eq "BOB@work.example"`, []string{"u2"}},
		{store.User, `emails[type eq "work"].value eq "alice@home.example"`, nil},
		{store.User, `emails[type eq "home"].value eq "ALICE@home.example"`, []string{"u1"}},
		{store.User, `emails[type eq "work"].value pr`, []string{"u1", "u2"}},
		{store.User, `emails[type eq "home"].value ew "HOME.example"`, []string{"u1", "u3"}},
		{store.User, `emails[type eq "work"].primary eq true`, []string{"u1"}},
		{store.User, `emails[type eq "work"].value eq "bob@work.example" or userName eq "carol"`, []string{"u2", "u3"}},
		{store.User, `emails[type eq "work"].value co "alice" and active eq true`, []string{"u1"}},
		// A user's groups come from the memberships (not stored with the user).
		{store.User, `groups.value eq "g1"`, []string{"u1", "u2"}},
		{store.User, `groups eq "g2"`, []string{"u1", "u3"}},
		{store.User, `groups[value eq "g2"]`, []string{"u1", "u3"}},
		{store.User, `groups.value eq "g3"`, nil},
		{store.User, `groups.value eq "G1"`, nil},
		{store.User, `groups.value eq "u1"`, nil}, // a group of that id in tenantB only
		{store.User, `groups.value eq "g1" and groups.value eq "g2"`, []string{"u1"}},
		{store.User, `groups.value eq "g1" or groups.value eq "g2"`, []string{"u1", "u2", "u3"}},
		{store.User, `groups.value eq "g1" and active eq true`, []string{"u1"}},
		{store.User, `groups.value eq "g2" or userName eq "bob"`, []string{"u1", "u2", "u3"}},
		{store.User, `id eq "u2" and groups eq "g1"`, []string{"u2"}},
		{store.User, `id eq "u2" and groups eq "g2"`, nil},
		{store.User, `not (groups.value eq "g1")`, []string{"u3", "u4"}},
		{store.User, `groups pr`, []string{"u1", "u2", "u3"}},
		{store.User, `groups.display eq "ADMINS"`, []string{"u1", "u2"}},
		{store.User, `groups[display eq "users"].value pr`, []string{"u1", "u3"}},
		{store.User, `groups.type eq "direct" and userName sw "c"`, []string{"u3"}},
		{store.Group, `displayName eq "admins"`, []string{"g1"}},
		{store.Group, `displayName sw "u"`, []string{"g2"}},
		{store.Group, `externalId eq "gx1"`, []string{"g1"}},
		{store.Group, `members eq "u1"`, []string{"g1", "g2"}},
		{store.Group, `members.value eq "u3"`, []string{"g2"}},
		{store.Group, `members[value eq "g1"]`, []string{"g2"}},
		{store.Group, `members eq "b1"`, nil},
		{store.Group, `id eq "g1" and members eq "u2"`, []string{"g1"}},
		{store.Group, `id eq "g2" and members eq "u2"`, nil},
		{store.Group, `members eq "u1" and displayName sw "U"`, []string{"g2"}},
		{store.Group, `members eq "u2" or members eq "u3"`, []string{"g1", "g2"}},
		{store.Group, `not (members eq "u1")`, []string{"g3"}},
		{store.Group, `members pr`, []string{"g1", "g2"}},
		{store.Group, `id eq "u1"`, nil},
		{store.Group, `members[type eq "User"].value eq "u1"`, []string{"g1", "g2"}},
		{store.Group, `members[type eq "Group"].value pr`, []string{"g2"}},
		{store.Group, `members[display eq "bob jones"].value eq "u2"`, []string{"g1"}},
	}
	for _, c := range cases {
		t.Run(string(c.kind)+" "+c.filter, func(t *testing.T) {
			q := store.Query{Filter: parse(t, c.kind, c.filter), Count: 100}
			ids, total := queryIDs(t, s, c.kind, q)
			wantIDs(t, c.filter, ids, c.want)
			if total != len(c.want) {
				t.Fatalf("%s: Total = %d, want %d", c.filter, total, len(c.want))
			}
			// Count 0 returns only the total.
			q.Count = 0
			ids, total = queryIDs(t, s, c.kind, q)
			if len(ids) != 0 || total != len(c.want) {
				t.Fatalf("%s count=0: %v total %d, want none and %d", c.filter, ids, total, len(c.want))
			}
		})
	}
}

func testQuerySort(t *testing.T, s store.Store) {
	fixture(t, s)
	cases := []struct {
		sortBy string
		desc   bool
		filter string
		want   []string
	}{
		{"", false, "", []string{"u1", "u2", "u3", "u4"}},
		{"userName", false, "", []string{"u1", "u2", "u3", "u4"}},
		{"userName", true, "", []string{"u4", "u3", "u2", "u1"}},
		{"displayName", false, "", []string{"u1", "u2", "u4", "u3"}},
		{"displayName", true, "", []string{"u3", "u4", "u2", "u1"}},
		{"externalId", false, "", []string{"u2", "u1", "u3", "u4"}},
		{"name.familyName", false, "", []string{"u3", "u2", "u1", "u4"}},
		{"name.familyName", true, "", []string{"u4", "u1", "u2", "u3"}},
		{"emails.value", false, "", []string{"u2", "u3", "u1", "u4"}},
		{"emails", false, "", []string{"u2", "u3", "u1", "u4"}},
		{"meta.created", false, "", []string{"u1", "u2", "u3", "u4"}},
		{"meta.created", true, "", []string{"u4", "u3", "u2", "u1"}},
		{"meta.lastModified", true, "", []string{"u4", "u3", "u2", "u1"}},
		{entURN + ":employeeNumber", true, "", []string{"u4", "u3", "u2", "u1"}},
		{"active", false, "", []string{"u2", "u1", "u3", "u4"}},
		{"displayName", true, `displayName pr`, []string{"u4", "u2", "u1"}},
		{"userName", true, `active eq true`, []string{"u3", "u1"}},
		{"name.familyName", false, `title eq "Engineer"`, []string{"u2", "u1"}},
	}
	for _, c := range cases {
		t.Run(c.sortBy+" "+c.filter, func(t *testing.T) {
			q := store.Query{SortBy: c.sortBy, Descending: c.desc, Count: 100}
			if c.filter != "" {
				q.Filter = parse(t, store.User, c.filter)
			}
			ids, total := queryIDs(t, s, store.User, q)
			wantIDs(t, "sorted ids", ids, c.want)
			if total != len(c.want) {
				t.Fatalf("Total = %d, want %d", total, len(c.want))
			}
		})
	}
	ids, _ := queryIDs(t, s, store.Group, store.Query{SortBy: "displayName", Count: 100})
	wantIDs(t, "groups by displayName", ids, []string{"g1", "g3", "g2"})
}

func testQueryPaging(t *testing.T, s store.Store) {
	fixture(t, s)
	cases := []struct {
		filter       string
		sortBy       string
		start, count int
		want         []string
		total        int
	}{
		{"", "userName", 1, 2, []string{"u1", "u2"}, 4},
		{"", "userName", 2, 2, []string{"u2", "u3"}, 4},
		{"", "userName", 4, 10, []string{"u4"}, 4},
		{"", "userName", 5, 10, nil, 4},
		{"", "userName", 10, 10, nil, 4},
		{"", "userName", 0, 1, []string{"u1"}, 4},
		{"", "", 3, 1, []string{"u3"}, 4},
		{"", "", 1, 0, nil, 4},
		{"", "name.familyName", 2, 2, []string{"u2", "u1"}, 4},
		{`active eq true`, "", 1, 1, []string{"u1"}, 2},
		{`active eq true`, "", 2, 1, []string{"u3"}, 2},
		{`active eq true`, "", 3, 1, nil, 2},
		{`userName eq "bob"`, "", 1, 1, []string{"u2"}, 1},
		{`displayName pr`, "", 2, 1, []string{"u2"}, 3},
		{`displayName pr`, "displayName", 3, 5, []string{"u4"}, 3},
		{`displayName pr`, "", 1, 0, nil, 3},
	}
	for _, c := range cases {
		q := store.Query{SortBy: c.sortBy, StartIndex: c.start, Count: c.count}
		if c.filter != "" {
			q.Filter = parse(t, store.User, c.filter)
		}
		ids, total := queryIDs(t, s, store.User, q)
		wantIDs(t, "paged ids", ids, c.want)
		if total != c.total {
			t.Fatalf("%+v: Total = %d, want %d", c, total, c.total)
		}
	}
}
