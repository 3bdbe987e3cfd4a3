package fakegraph

import (
	"fmt"
	"strconv"
	"strings"
)

// Scale asks for a generated directory: Users users (each but the first
// with a manager, ten reports per manager), Groups groups and Memberships
// user memberships spread evenly over the groups. Objects are generated
// when a page needs them, never all at once, and are the same on every
// run. Edits made through the Server apply on top of them.
type Scale struct {
	Users, Groups, Memberships int
	// NonUserMembers adds to every tenth group (from the second on) a
	// device, a contact and a service principal, and nests the group before
	// it, beyond the Memberships user memberships.
	NonUserMembers bool
}

// Generated ids are GUID-shaped and sort in index order.
const (
	genUserPrefix  = "00000000-0000-4000-8000-"
	genGroupPrefix = "00000000-0000-4000-9000-"
)

// generator derives the scale directory from indices.
type generator struct {
	users, groups, memberships int
	nonUser                    bool
}

func newGenerator(s Scale) *generator {
	if s.Users <= 0 && s.Groups <= 0 {
		return nil
	}
	g := &generator{users: max(s.Users, 0), groups: max(s.Groups, 0), memberships: max(s.Memberships, 0), nonUser: s.NonUserMembers}
	if g.users == 0 || g.groups == 0 {
		g.memberships = 0
	}
	return g
}

// GeneratedUserID is the object id of the i-th generated user of scale mode.
func GeneratedUserID(i int) string { return fmt.Sprintf("%s%012d", genUserPrefix, i) }

// GeneratedGroupID is the object id of the i-th generated group of scale mode.
func GeneratedGroupID(i int) string { return fmt.Sprintf("%s%012d", genGroupPrefix, i) }

func (g *generator) userID(i int) string  { return GeneratedUserID(i) }
func (g *generator) groupID(i int) string { return GeneratedGroupID(i) }

func parseIndex(id, prefix string, n int) (int, bool) {
	rest, ok := strings.CutPrefix(id, prefix)
	if !ok || len(rest) != 12 {
		return 0, false
	}
	i, err := strconv.Atoi(rest)
	if err != nil || i < 0 || i >= n {
		return 0, false
	}
	return i, true
}

func (g *generator) userIndex(id string) (int, bool) { return parseIndex(id, genUserPrefix, g.users) }
func (g *generator) groupIndex(id string) (int, bool) {
	return parseIndex(id, genGroupPrefix, g.groups)
}

func (g *generator) user(i int) User {
	u := User{
		ID:                g.userID(i),
		UserPrincipalName: fmt.Sprintf("user%06d@contoso.example", i),
		DisplayName:       fmt.Sprintf("User %06d", i),
		GivenName:         "User",
		Surname:           fmt.Sprintf("N%06d", i),
		JobTitle:          []string{"Engineer", "Analyst", "Manager", "Designer"}[i%4],
		Mail:              fmt.Sprintf("user%06d@contoso.example", i),
		MailNickname:      fmt.Sprintf("user%06d", i),
		PreferredLanguage: "en-US",
		City:              []string{"Lisbon", "Oslo", "Seattle"}[i%3],
		Country:           "PT",
		OfficeLocation:    fmt.Sprintf("B%d", i%20),
		BusinessPhones:    []string{fmt.Sprintf("+1 555 %07d", i)},
		EmployeeID:        fmt.Sprintf("E%06d", i),
		Department:        []string{"Sales", "Engineering", "Finance", "Support", "Legal"}[i%5],
		Disabled:          i%97 == 96,
	}
	if i > 0 {
		u.Manager = g.userID((i - 1) / 10)
	}
	return u
}

// reports returns the generated users whose generated manager is id.
func (g *generator) reports(id string) []string {
	i, ok := g.userIndex(id)
	if !ok {
		return nil
	}
	var out []string
	for j := 10*i + 1; j <= 10*i+10 && j < g.users; j++ {
		out = append(out, g.userID(j))
	}
	return out
}

func (g *generator) userByID(id string) (User, bool) {
	i, ok := g.userIndex(id)
	if !ok {
		return User{}, false
	}
	return g.user(i), true
}

// memberCount and memberStart place group gi's members on a window of
// consecutive users, so that membership is a cheap test.
func (g *generator) memberCount(gi int) int {
	if g.memberships == 0 {
		return 0
	}
	n := g.memberships / g.groups
	if gi < g.memberships%g.groups {
		n++
	}
	return min(n, g.users)
}

func (g *generator) memberStart(gi int) int { return int((int64(gi) * 7919) % int64(g.users)) }

// extraMembers are group gi's members that are not users (NonUserMembers).
func (g *generator) extraMembers(gi int) []Member {
	if !g.nonUser || gi == 0 || gi%10 != 0 {
		return nil
	}
	return []Member{
		{ID: fmt.Sprintf("00000000-0000-4000-a000-%012d", gi), Type: TypeDevice},
		{ID: fmt.Sprintf("00000000-0000-4000-b000-%012d", gi), Type: TypeContact},
		{ID: fmt.Sprintf("00000000-0000-4000-c000-%012d", gi), Type: TypeServicePrincipal},
		{ID: g.groupID(gi - 1), Type: TypeGroup},
	}
}

func (g *generator) isMember(gi int, memberID string) bool {
	for _, m := range g.extraMembers(gi) {
		if m.ID == memberID {
			return true
		}
	}
	ui, ok := g.userIndex(memberID)
	if !ok {
		return false
	}
	off := (ui - g.memberStart(gi) + g.users) % g.users
	return off < g.memberCount(gi)
}

func (g *generator) groupByID(id string) (Group, bool) {
	gi, ok := g.groupIndex(id)
	if !ok {
		return Group{}, false
	}
	gr := Group{
		ID:           id,
		DisplayName:  fmt.Sprintf("Group %05d", gi),
		MailNickname: fmt.Sprintf("group%05d", gi),
	}
	n, start := g.memberCount(gi), g.memberStart(gi)
	gr.Members = make([]Member, n)
	for j := range n {
		gr.Members[j] = Member{ID: g.userID((start + j) % g.users), Type: TypeUser}
	}
	gr.Members = append(gr.Members, g.extraMembers(gi)...)
	return gr, true
}
