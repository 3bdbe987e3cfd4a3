// Package transfer copies the contents of a store into another store, of the
// same backend or not: Export writes tenants' resources, group memberships and
// state entries to a stream of JSON Lines, Import reads such a stream into any
// store.Store. Both stream: Export holds one page of resources or one chunk of
// member ids at a time, Import one group's member ids (plus, until the end of
// the tenant, the member lists of the few groups whose nested group members
// come later in the stream).
//
// Ids, versions, created and lastModified timestamps (to the nanosecond) and
// memberships end up exactly as exported: Import creates each resource with
// store.Store.Create, which keeps a given version and timestamps, and each
// group together with its members, so that no later update bumps the
// version. Only a membership cycle between groups (A in B and B in A) cannot
// be created that way; such groups get their remaining members with an
// update and a warning.
//
// What is not exported: the change journal (the importing store starts a
// journal of its own with the creations; delta readers of the old store
// start over), leases (held by running servers), OAuth access tokens (state
// entries "oauth/…": they expire within hours; clients fetch new ones), the
// last use of bearer tokens ("token-used/…": the next use records it
// again). The
// versions of state entries (used only for compare-and-swap) start at 1
// again.
//
// # Format
//
// Every line is one JSON object; the first is the header, the last the
// trailer:
//
//	{"type":"header","format":"scimbridge-export","version":1,"exportedAt":"…"}
//	{"type":"tenant","tenant":"default"}
//	{"type":"state","tenant":"default","key":"token/…","value":"<base64>"}
//	{"type":"resource","tenant":"default","kind":"User","id":"…","version":3,"created":"…","lastModified":"…","attrs":{…}}
//	{"type":"resource","tenant":"default","kind":"Group","id":"…",…}
//	{"type":"members","tenant":"default","group":"<group id>","members":["<id>",…]}
//	{"type":"end","lines":6,"counts":{…},"tenants":{"default":{"users":1,"groups":1,"members":2,"state":1}}}
//
// Per tenant: its state entries, its users, then its groups, each group
// followed by its member ids (sorted, in chunks of at most 1,000). The
// trailer counts the lines before it and, per tenant, what was written; Import
// checks both, so a truncated or edited file is detected.
package transfer

import (
	"fmt"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// The header's format name and the format version this package writes and
// reads.
const (
	FormatName    = "scimbridge-export"
	FormatVersion = 1
)

// Line types.
const (
	typeHeader   = "header"
	typeTenant   = "tenant"
	typeState    = "state"
	typeResource = "resource"
	typeMembers  = "members"
	typeEnd      = "end"
)

// skippedStatePrefixes are the state keys Export leaves out: OAuth access
// tokens expire within hours and clients simply fetch new ones; a token's
// last use (auth.RecordTokenUse) is recorded again at its next use.
var skippedStatePrefixes = []string{"oauth/", "token-used/"}

func skippedState(key string) bool {
	for _, p := range skippedStatePrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// Counts is what an export holds for a tenant (or in all).
type Counts struct {
	Users   int64 `json:"users"`
	Groups  int64 `json:"groups"`
	Members int64 `json:"members"` // membership records (group, member)
	State   int64 `json:"state"`   // state entries
}

func (c *Counts) add(o Counts) {
	c.Users += o.Users
	c.Groups += o.Groups
	c.Members += o.Members
	c.State += o.State
}

// String reads "3 users, 2 groups, 5 memberships, 1 state entries".
func (c Counts) String() string {
	return fmt.Sprintf("%d users, %d groups, %d memberships, %d state entries", c.Users, c.Groups, c.Members, c.State)
}

// Lines as written. Fields are in the order a reader expects them.

type headerLine struct {
	Type       string    `json:"type"`
	Format     string    `json:"format"`
	Version    int       `json:"version"`
	ExportedAt time.Time `json:"exportedAt"`
}

type tenantLine struct {
	Type   string `json:"type"`
	Tenant string `json:"tenant"`
}

type stateLine struct {
	Type   string `json:"type"`
	Tenant string `json:"tenant"`
	Key    string `json:"key"`
	Value  []byte `json:"value"` // base64
}

type resourceLine struct {
	Type         string         `json:"type"`
	Tenant       string         `json:"tenant"`
	Kind         store.Kind     `json:"kind"`
	ID           string         `json:"id"`
	Version      int64          `json:"version"`
	Created      time.Time      `json:"created"`
	LastModified time.Time      `json:"lastModified"`
	Attrs        map[string]any `json:"attrs"`
}

type membersLine struct {
	Type    string   `json:"type"`
	Tenant  string   `json:"tenant"`
	Group   string   `json:"group"`
	Members []string `json:"members"`
}

type endLine struct {
	Type    string            `json:"type"`
	Lines   int64             `json:"lines"` // lines before the trailer, the header included
	Counts  Counts            `json:"counts"`
	Tenants map[string]Counts `json:"tenants"`
}

// record is any line as read: the union of the fields above.
type record struct {
	Type string `json:"type"`

	Format     string     `json:"format"`
	Version    int64      `json:"version"` // header: format version; resource: resource version
	ExportedAt *time.Time `json:"exportedAt"`

	Tenant       string         `json:"tenant"`
	Kind         store.Kind     `json:"kind"`
	ID           string         `json:"id"`
	Created      time.Time      `json:"created"`
	LastModified time.Time      `json:"lastModified"`
	Attrs        map[string]any `json:"attrs"`

	Group   string   `json:"group"`
	Members []string `json:"members"`

	Key   string  `json:"key"`
	Value *[]byte `json:"value"`

	Lines   *int64            `json:"lines"`
	Counts  *Counts           `json:"counts"`
	Tenants map[string]Counts `json:"tenants"`
}
