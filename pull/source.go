// Package pull is the source-independent pull engine: a Source (Microsoft
// Graph in graphpull, LDAP in ldappull) streams what it observed in a
// directory; the engine maps object ids to the bridge's resources, matches,
// diffs and applies through the store API with provenance pull:<source>,
// plans dry runs, applies scope and delete policy, records runs, holds the
// per-tenant pull lease and runs the schedule. It never imports a
// directory's client library.
package pull

import (
	"context"

	"github.com/scimbridge/scimbridge/store"
)

// Source is one directory the engine pulls from. A Source is configured for
// one tenant; the engine calls Read at most once at a time per Source.
type Source interface {
	// Kind is the provenance of the writes a pull from this source makes
	// (store.SourcePullGraph, store.SourcePullLDAP). The engine also keys its
	// per-source identity map and checkpoint by it.
	Kind() store.Source

	// Read streams one round to obs and returns the checkpoint that the
	// next incremental round starts from. The engine stores the checkpoint
	// only after the whole round was applied ("better stale than partial").
	//
	// req.Checkpoint nil or req.Full set: a full round, every object in the
	// source's scope is observed (the engine then removes or disables, per
	// policy, what it knew from this source and did not observe).
	// Otherwise an incremental round from the checkpoint; a source that
	// finds the checkpoint unusable (Graph: 410 Gone, syncStateNotFound,
	// resyncRequired) restarts as a full round by itself and says so in
	// Result.Full.
	//
	// Order: a source emits every group of the round (Group, and Removed for
	// groups) before any user, so that the engine knows group scope before it
	// decides which users to provision. A group may be observed several
	// times in one round (Graph splits big groups' members over pages); the
	// engine merges the observations. Users may be observed more than once
	// too (replays); the last observation wins.
	//
	// An error from obs aborts the round: Read returns it (wrapped).
	// Malformed or unusable objects are not errors: the source reports them
	// with obs.Skip and goes on.
	Read(ctx context.Context, req ReadRequest, obs Observer) (Result, error)

	// Users fetches users by source object id, for users that came into
	// scope (added to a scoped group) without being in the round's user
	// stream. Ids that no longer exist are skipped (obs.Removed with
	// RemovedDeleted). Users are emitted with obs.User.
	Users(ctx context.Context, ids []string, obs Observer) error
}

// ReadRequest is what the engine asks of one round.
type ReadRequest struct {
	Checkpoint []byte // the previous complete round's Result.Checkpoint; nil: none
	Full       bool   // ignore Checkpoint and read everything
}

// Result is what a round returns once the source has emitted everything.
type Result struct {
	Checkpoint []byte // opaque; stored by the engine after the round applied
	Full       bool   // the round observed every object in scope (first round, --full, or a restart)
}

// Observer receives a round's observations. The engine implements it; its
// methods are called from the goroutine that called Read.
type Observer interface {
	User(ctx context.Context, u User) error
	Group(ctx context.Context, g Group) error
	Removed(ctx context.Context, r Removal) error
	// Skip reports an object that could not be used (malformed, missing a
	// required field, unknown type); it is counted and logged with its reason.
	Skip(ctx context.Context, s Skip)
	// Page reports progress: one more page of kind read from the source.
	Page(ctx context.Context, kind store.Kind)
}

// User is one user as the source saw it, already mapped to SCIM.
type User struct {
	ObjectID string // the source's immutable id (Graph object id, AD objectGUID)
	// Attrs are the user's SCIM attributes in canonical form (as
	// store.Resource.Attrs: core at the top level, the enterprise extension
	// under its URN), complete for the attributes the source maps
	// (Source-independent list: MappedUserAttrs); an attribute the source
	// maps but did not set is absent and is removed from the stored user.
	// Attributes outside MappedUserAttrs (roles written by a push, say)
	// are kept as stored. Attrs["userName"] is always set; "active" is
	// not set here (see Enabled) and the enterprise manager is not either
	// (see Manager).
	Attrs   map[string]any
	Enabled bool // the account is enabled in the source (Graph accountEnabled)
	// Manager: nil when this observation says nothing about the manager
	// (Graph sends manager@delta only when it changed); a pointer to "" when
	// the user has no manager; else the manager's source object id, which
	// the engine resolves to the bridge id of that user (also when the
	// manager is observed later in the round).
	Manager *string
}

// Group is one group observation. Members are direct user members by
// source object id; the source has already dropped members that are not
// users (devices, contacts, service principals) and, unless nested groups
// are wanted, nested groups.
type Group struct {
	ObjectID    string
	DisplayName string
	// Attrs besides displayName and externalId, if the source maps any.
	Attrs map[string]any
	// MembersComplete: Added is the group's whole member list as of this
	// round (a full round, or a member list read in full); the engine then
	// removes members not in it, after merging every observation of the
	// group in the round. Otherwise Added and Removed are changes.
	MembersComplete bool
	Added           []string // user object ids
	Removed         []string // user object ids
	// Nested are the object ids of direct member groups (only when the
	// source was asked for nested groups); the engine expands them for
	// scope only and never stores group-in-group memberships. Like Added,
	// the whole list when MembersComplete, else the groups added.
	Nested []string
	// NestedRemoved are member groups removed (incremental rounds only).
	NestedRemoved []string
}

// RemovedReason says how an object left the source.
type RemovedReason string

// Removal reasons (Graph @removed reasons; LDAP sources use Deleted).
const (
	RemovedChanged RemovedReason = "changed" // soft-deleted, restorable: disable
	RemovedDeleted RemovedReason = "deleted" // gone for good: the onDelete policy
)

// Removal is an object that left the source.
type Removal struct {
	Kind     store.Kind
	ObjectID string
	Reason   RemovedReason
}

// Skip is an object the source could not use.
type Skip struct {
	Kind     store.Kind // "" when not even the kind is known
	ObjectID string     // "" when unknown
	Reason   string     // human-readable, e.g. "no userPrincipalName"
}

// MappedUserAttrs are the top-level user attributes (and enterprise
// extension attributes, as "URN:attr") a pull owns: Entra's default
// provisioning mapping (entra-and-graph.md §1.7) without roles. The engine
// replaces exactly these from the source on every observation of a user
// and keeps every other attribute as stored.
var MappedUserAttrs = []string{
	"userName", "active", "displayName", "title", "emails", "preferredLanguage",
	"name", "addresses", "phoneNumbers", "externalId",
	EnterpriseURN + ":employeeNumber", EnterpriseURN + ":department", EnterpriseURN + ":manager",
}

// EnterpriseURN is the SCIM enterprise user extension's schema URN.
const EnterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
