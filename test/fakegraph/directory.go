package fakegraph

import (
	"reflect"
	"slices"
	"sort"
)

// User is a Microsoft Graph user as the fake holds it. Empty strings and a
// nil BusinessPhones are properties that were never set: Graph leaves them
// out of delta responses.
type User struct {
	ID                string
	UserPrincipalName string
	DisplayName       string
	GivenName         string
	Surname           string
	JobTitle          string
	Mail              string
	MailNickname      string
	PreferredLanguage string
	StreetAddress     string
	City              string
	State             string
	PostalCode        string
	Country           string
	OfficeLocation    string
	BusinessPhones    []string
	MobilePhone       string
	FaxNumber         string
	EmployeeID        string
	Department        string
	// Disabled is Graph's accountEnabled=false. It is inverted so that a
	// User written without it is an enabled account, as most tests want.
	Disabled bool
	// Manager is the manager's object id ("" none).
	Manager string
}

// Member types, the part of a member's @odata.type after
// "#microsoft.graph.".
const (
	TypeUser             = "user"
	TypeGroup            = "group"
	TypeDevice           = "device"
	TypeContact          = "orgContact"
	TypeServicePrincipal = "servicePrincipal"
)

// Member is one direct member of a group.
type Member struct {
	ID   string
	Type string // TypeUser, TypeGroup, TypeDevice, TypeContact, TypeServicePrincipal; "" resolves like AddMembers
}

// Group is a Microsoft Graph group. Members are its direct members: users,
// nested groups, devices, contacts, service principals.
type Group struct {
	ID           string
	DisplayName  string
	Description  string
	MailNickname string
	Members      []Member
}

// propExists is the version key recording when an object (re)appeared: an
// object created after a delta token appears with every selected property.
const propExists = "@exists"

// Removal reasons of @removed.
const (
	reasonChanged = "changed" // soft-deleted, restorable
	reasonDeleted = "deleted" // hard-deleted
)

// userRec is a user of the overlay: every user that was put or edited
// (in scale mode the generated users that were never touched stay out of it).
type userRec struct {
	u           User
	live        bool
	removed     string            // when !live: reasonChanged | reasonDeleted
	removedAt   uint64            // version of the removal
	ver         map[string]uint64 // Graph property name -> version of its last change
	prevManager string            // the manager before the last manager change (for a removal entry)
}

type memberRec struct {
	typ string
	ver uint64
}

type groupRec struct {
	g         Group // Members unused: see members
	live      bool
	removed   string
	removedAt uint64
	ver       map[string]uint64
	members   map[string]memberRec // current direct members
	gone      map[string]memberRec // removed members, with the version of the removal
}

// directory is the versioned store behind the fake: a generated base
// (scale mode; nil otherwise) under an overlay of edited objects. Every edit
// takes a new version; a delta token remembers the version it was issued at.
// The Server's mutex guards it.
type directory struct {
	version  uint64
	gen      *generator // nil: no generated base
	users    map[string]*userRec
	groups   map[string]*groupRec
	userIDs  []string          // sorted keys of users
	groupIDs []string          // sorted keys of groups
	others   map[string]string // id -> member type of devices, contacts, service principals
}

func newDirectory(gen *generator) *directory {
	return &directory{
		gen:    gen,
		users:  map[string]*userRec{},
		groups: map[string]*groupRec{},
		others: map[string]string{},
	}
}

func insertSorted(ids []string, id string) []string {
	i, found := slices.BinarySearch(ids, id)
	if found {
		return ids
	}
	return slices.Insert(ids, i, id)
}

// userProps renders the Graph properties of u that are set, manager aside.
func userProps(u User) map[string]any {
	m := map[string]any{"id": u.ID, "accountEnabled": !u.Disabled}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("userPrincipalName", u.UserPrincipalName)
	set("displayName", u.DisplayName)
	set("givenName", u.GivenName)
	set("surname", u.Surname)
	set("jobTitle", u.JobTitle)
	set("mail", u.Mail)
	set("mailNickname", u.MailNickname)
	set("preferredLanguage", u.PreferredLanguage)
	set("streetAddress", u.StreetAddress)
	set("city", u.City)
	set("state", u.State)
	set("postalCode", u.PostalCode)
	set("country", u.Country)
	set("officeLocation", u.OfficeLocation)
	set("mobilePhone", u.MobilePhone)
	set("faxNumber", u.FaxNumber)
	set("employeeId", u.EmployeeID)
	set("department", u.Department)
	if u.BusinessPhones != nil {
		m["businessPhones"] = slices.Clone(u.BusinessPhones)
	}
	return m
}

// userPropNames are the user properties the fake tracks ($select names).
var userPropNames = []string{
	"userPrincipalName", "displayName", "givenName", "surname", "jobTitle", "mail",
	"mailNickname", "preferredLanguage", "streetAddress", "city", "state", "postalCode",
	"country", "officeLocation", "businessPhones", "mobilePhone", "faxNumber", "employeeId",
	"department", "accountEnabled", "manager",
}

func groupProps(g Group) map[string]any {
	m := map[string]any{"id": g.ID}
	if g.DisplayName != "" {
		m["displayName"] = g.DisplayName
	}
	if g.Description != "" {
		m["description"] = g.Description
	}
	if g.MailNickname != "" {
		m["mailNickname"] = g.MailNickname
	}
	return m
}

var groupPropNames = []string{"displayName", "description", "mailNickname", "members"}

// diffVersions records version v for every property that differs between
// old and new renderings.
func diffVersions(ver map[string]uint64, old, new map[string]any, v uint64) {
	for k, nv := range new {
		if ov, ok := old[k]; !ok || !reflect.DeepEqual(ov, nv) {
			ver[k] = v
		}
	}
	for k := range old {
		if _, ok := new[k]; !ok {
			ver[k] = v
		}
	}
}

func allVersions(names []string, v uint64) map[string]uint64 {
	m := map[string]uint64{propExists: v}
	for _, n := range names {
		m[n] = v
	}
	return m
}

// lookupUser returns the user rec of id, materialising a generated user
// (versions 0) when materialise is set; nil when the id is unknown. A
// generated user that is not materialised is returned as a fresh rec that
// is not stored.
func (d *directory) lookupUser(id string, materialise bool) *userRec {
	if r, ok := d.users[id]; ok {
		return r
	}
	if d.gen == nil {
		return nil
	}
	u, ok := d.gen.userByID(id)
	if !ok {
		return nil
	}
	r := &userRec{u: u, live: true, ver: map[string]uint64{}}
	if materialise {
		d.users[id] = r
		d.userIDs = insertSorted(d.userIDs, id)
	}
	return r
}

func (d *directory) lookupGroup(id string, materialise bool) *groupRec {
	if r, ok := d.groups[id]; ok {
		return r
	}
	if d.gen == nil {
		return nil
	}
	g, ok := d.gen.groupByID(id)
	if !ok {
		return nil
	}
	r := &groupRec{g: g, live: true, ver: map[string]uint64{}, members: map[string]memberRec{}, gone: map[string]memberRec{}}
	for _, m := range g.Members {
		r.members[m.ID] = memberRec{typ: m.Type}
	}
	r.g.Members = nil
	if materialise {
		d.groups[id] = r
		d.groupIDs = insertSorted(d.groupIDs, id)
	}
	return r
}

// memberType resolves the type of a member id: a known user or group, a
// device, contact or service principal seen before, else a user.
func (d *directory) memberType(id string) string {
	if t, ok := d.others[id]; ok {
		return t
	}
	if r := d.lookupGroup(id, false); r != nil {
		return TypeGroup
	}
	if d.gen != nil {
		for gi := 10; gi < d.gen.groups; gi += 10 {
			for _, m := range d.gen.extraMembers(gi) {
				if m.ID == id {
					return m.Type
				}
			}
		}
	}
	return TypeUser
}

func (d *directory) putUser(u User) {
	if u.ID == "" {
		panic("fakegraph: PutUser: a user needs an ID")
	}
	d.version++
	v := d.version
	r := d.lookupUser(u.ID, true)
	u.BusinessPhones = slices.Clone(u.BusinessPhones)
	if r == nil {
		d.users[u.ID] = &userRec{u: u, live: true, ver: allVersions(userPropNames, v)}
		d.userIDs = insertSorted(d.userIDs, u.ID)
		return
	}
	if !r.live {
		// A restore (or a re-creation after a hard delete): it reappears whole.
		r.prevManager = ""
		r.u, r.live, r.removed = u, true, ""
		r.ver = allVersions(userPropNames, v)
		return
	}
	diffVersions(r.ver, userProps(r.u), userProps(u), v)
	if r.u.Manager != u.Manager {
		r.prevManager = r.u.Manager
		r.ver["manager"] = v
	}
	r.u = u
}

func (d *directory) deleteUser(id string, hard bool) {
	r := d.lookupUser(id, true)
	if r == nil || (!r.live && (!hard || r.removed == reasonDeleted)) {
		return
	}
	d.version++
	v := d.version
	r.live, r.removedAt = false, v
	r.removed = reasonChanged
	if hard {
		r.removed = reasonDeleted
	}
	d.dropMember(id, v)
	// Its reports lose their manager.
	for _, rid := range d.reportsOf(id) {
		ur := d.lookupUser(rid, true)
		ur.prevManager, ur.u.Manager = id, ""
		ur.ver["manager"] = v
	}
}

// reportsOf returns the live users whose manager is id: edited users by a
// scan of the overlay, untouched generated ones by the generator's rule
// (never a walk of the whole generated directory).
func (d *directory) reportsOf(id string) []string {
	var out []string
	for rid, r := range d.users {
		if r.live && r.u.Manager == id {
			out = append(out, rid)
		}
	}
	if d.gen != nil {
		for _, rid := range d.gen.reports(id) {
			if _, edited := d.users[rid]; !edited {
				out = append(out, rid)
			}
		}
	}
	slices.Sort(out)
	return out
}

// dropMember removes id from every group it is a direct member of.
func (d *directory) dropMember(id string, v uint64) {
	d.eachGroup(func(gid string, has func(string) bool) {
		if !has(id) {
			return
		}
		gr := d.lookupGroup(gid, true)
		if m, ok := gr.members[id]; ok {
			delete(gr.members, id)
			gr.gone[id] = memberRec{typ: m.typ, ver: v}
		}
	})
}

func (d *directory) putGroup(g Group) {
	if g.ID == "" {
		panic("fakegraph: PutGroup: a group needs an ID")
	}
	d.version++
	v := d.version
	for _, m := range g.Members {
		if m.Type != "" && m.Type != TypeUser && m.Type != TypeGroup {
			d.others[m.ID] = m.Type
		}
	}
	members := map[string]memberRec{}
	for _, m := range g.Members {
		t := m.Type
		if t == "" {
			t = d.memberType(m.ID)
		}
		members[m.ID] = memberRec{typ: t, ver: v}
	}
	g.Members = nil
	r := d.lookupGroup(g.ID, true)
	if r == nil || !r.live {
		if r == nil {
			d.groupIDs = insertSorted(d.groupIDs, g.ID)
		}
		d.groups[g.ID] = &groupRec{g: g, live: true, ver: allVersions(groupPropNames, v), members: members, gone: map[string]memberRec{}}
		return
	}
	diffVersions(r.ver, groupProps(r.g), groupProps(g), v)
	r.g = g
	for id, m := range r.members {
		if _, ok := members[id]; !ok {
			delete(r.members, id)
			r.gone[id] = memberRec{typ: m.typ, ver: v}
		}
	}
	for id, m := range members {
		if _, ok := r.members[id]; !ok {
			r.members[id] = m
			delete(r.gone, id)
		}
	}
}

func (d *directory) deleteGroup(id string, hard bool) {
	r := d.lookupGroup(id, true)
	if r == nil || (!r.live && (!hard || r.removed == reasonDeleted)) {
		return
	}
	d.version++
	v := d.version
	r.live, r.removedAt = false, v
	r.removed = reasonChanged
	if hard {
		r.removed = reasonDeleted
	}
	r.members, r.gone = map[string]memberRec{}, map[string]memberRec{}
	d.dropMember(id, v)
}

func (d *directory) addMembers(groupID string, ms []Member) bool {
	r := d.lookupGroup(groupID, true)
	if r == nil || !r.live {
		return false
	}
	d.version++
	v := d.version
	for _, m := range ms {
		if m.Type != "" && m.Type != TypeUser && m.Type != TypeGroup {
			d.others[m.ID] = m.Type
		}
		t := m.Type
		if t == "" {
			t = d.memberType(m.ID)
		}
		if _, ok := r.members[m.ID]; ok {
			continue
		}
		r.members[m.ID] = memberRec{typ: t, ver: v}
		delete(r.gone, m.ID)
	}
	return true
}

func (d *directory) removeMembers(groupID string, ids []string) bool {
	r := d.lookupGroup(groupID, true)
	if r == nil || !r.live {
		return false
	}
	d.version++
	v := d.version
	for _, id := range ids {
		if m, ok := r.members[id]; ok {
			delete(r.members, id)
			r.gone[id] = memberRec{typ: m.typ, ver: v}
		}
	}
	return true
}

// nextIDs returns up to n ids greater than after, in order, from the
// generated base merged with the overlay's sorted ids.
func nextIDs(genCount int, genID func(int) string, overlay []string, after string, n int) []string {
	out := make([]string, 0, n)
	gi := sort.Search(genCount, func(i int) bool { return genID(i) > after })
	oi := sort.SearchStrings(overlay, after)
	if oi < len(overlay) && overlay[oi] == after {
		oi++
	}
	for len(out) < n && (gi < genCount || oi < len(overlay)) {
		switch {
		case oi >= len(overlay):
			out = append(out, genID(gi))
			gi++
		case gi >= genCount:
			out = append(out, overlay[oi])
			oi++
		default:
			g, o := genID(gi), overlay[oi]
			switch {
			case g < o:
				out = append(out, g)
				gi++
			case o < g:
				out = append(out, o)
				oi++
			default:
				out = append(out, g)
				gi++
				oi++
			}
		}
	}
	return out
}

func (d *directory) nextUserIDs(after string, n int) []string {
	if d.gen == nil {
		return nextIDs(0, nil, d.userIDs, after, n)
	}
	return nextIDs(d.gen.users, d.gen.userID, d.userIDs, after, n)
}

func (d *directory) nextGroupIDs(after string, n int) []string {
	if d.gen == nil {
		return nextIDs(0, nil, d.groupIDs, after, n)
	}
	return nextIDs(d.gen.groups, d.gen.groupID, d.groupIDs, after, n)
}

// eachGroup calls fn for every live group with a membership test.
func (d *directory) eachGroup(fn func(id string, has func(string) bool)) {
	after := ""
	for {
		ids := d.nextGroupIDs(after, 512)
		if len(ids) == 0 {
			return
		}
		for _, id := range ids {
			if r, ok := d.groups[id]; ok {
				if r.live {
					fn(id, func(m string) bool { _, ok := r.members[m]; return ok })
				}
				continue
			}
			gi, _ := d.gen.groupIndex(id)
			fn(id, func(m string) bool { return d.gen.isMember(gi, m) })
		}
		after = ids[len(ids)-1]
	}
}

// sortedMembers returns a group's current members ordered by id.
func (r *groupRec) sortedMembers() []memberEntry {
	out := make([]memberEntry, 0, len(r.members))
	for id, m := range r.members {
		out = append(out, memberEntry{id: id, typ: m.typ})
	}
	slices.SortFunc(out, func(a, b memberEntry) int { return compareStrings(a.id, b.id) })
	return out
}

// changedMembers returns the members added and removed after since, ordered
// by id.
func (r *groupRec) changedMembers(since uint64) []memberEntry {
	var out []memberEntry
	for id, m := range r.members {
		if m.ver > since {
			out = append(out, memberEntry{id: id, typ: m.typ})
		}
	}
	for id, m := range r.gone {
		if m.ver > since {
			out = append(out, memberEntry{id: id, typ: m.typ, removed: true})
		}
	}
	slices.SortFunc(out, func(a, b memberEntry) int { return compareStrings(a.id, b.id) })
	return out
}

type memberEntry struct {
	id, typ string
	removed bool
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
