// Package store defines where SCIM resources live: the Store interface every
// backend implements (store/sqlite, later store/mongo), the resource,
// membership and change-journal types, and the sentinel errors callers check with
// errors.Is. Every method is scoped by tenant; no call can read or write across
// tenants.
package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/store/query"
)

// Sentinel errors. Backends wrap them with context; callers use errors.Is.
var (
	// ErrNotFound: no such resource (or state key) in this tenant.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a uniqueness rule was violated (userName, an id that
	// already exists, and in strict tenants group displayName or externalId
	// within a kind).
	ErrConflict = errors.New("conflict")
	// ErrPrecondition: an expected version did not match (If-Match, state CAS).
	ErrPrecondition = errors.New("precondition failed")
	// ErrUnavailable: the backend cannot be reached; the caller may retry.
	ErrUnavailable = errors.New("store unavailable")
)

// ConflictError says which attribute a uniqueness violation is about. It
// matches ErrConflict with errors.Is.
type ConflictError struct {
	Attribute string // "userName", "displayName", "externalId" or "id"
}

func (e *ConflictError) Error() string { return "conflict: " + e.Attribute + " is not unique" }

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Uniqueness rules. Every tenant keeps userName unique (case-insensitively)
// and ids unique across kinds. RFC 7643 makes no other attribute unique:
// externalId and a group's displayName may repeat. A tenant configured with
// `uniqueness: strict` also keeps externalId unique per kind (case-exact) and
// group displayName unique (case-insensitively); backends take the strict
// tenants as an Open option and enforce them as atomically as userName.

// Duplicate is a value that several resources of a tenant share although a
// strict uniqueness rule forbids it.
type Duplicate struct {
	Tenant    string
	Kind      Kind
	Attribute string   // "displayName" or "externalId"
	Value     string   // as stored by one of them (displayName is compared case-insensitively)
	IDs       []string // sorted
}

// UniquenessError is returned by a backend's Open when a tenant to be
// opened with strict uniqueness already holds duplicates. It lists every
// one of them, so that an operator can fix them (or keep the tenant at the
// RFC 7643 rules).
type UniquenessError struct {
	Duplicates []Duplicate // ordered by tenant, kind, attribute, value
}

// maxListedDuplicates bounds the duplicates Error spells out.
const maxListedDuplicates = 100

func (e *UniquenessError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "uniqueness: strict cannot be enforced: %d value(s) are each held by several resources "+
		"(rename or remove them, or remove uniqueness: strict from the tenant's configuration):", len(e.Duplicates))
	for i, d := range e.Duplicates {
		if i == maxListedDuplicates {
			fmt.Fprintf(&b, "\n  ... and %d more", len(e.Duplicates)-i)
			break
		}
		fmt.Fprintf(&b, "\n  tenant %q: %s %s %q is shared by ids %s", d.Tenant, d.Kind, d.Attribute, d.Value, strings.Join(d.IDs, ", "))
	}
	return b.String()
}

// SortDuplicates orders ds (and each one's IDs) as UniquenessError lists them.
func SortDuplicates(ds []Duplicate) {
	for i := range ds {
		slices.Sort(ds[i].IDs)
	}
	slices.SortFunc(ds, func(a, b Duplicate) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.Attribute, b.Attribute), cmp.Compare(a.Value, b.Value))
	})
}

// Kind is a resource type name.
type Kind string

// The resource kinds.
const (
	User  Kind = "User"
	Group Kind = "Group"
)

// Ref names one resource.
type Ref struct {
	Tenant string
	Kind   Kind
	ID     string
}

// Resource is a stored SCIM resource.
//
// Attrs holds every client-settable attribute in canonical SCIM JSON form
// (map[string]any, []any, string, bool, float64): core attributes at the top
// level under their canonical names (including "externalId"), extension
// attributes in a nested map under the extension URN. It never holds "id",
// "meta", "schemas" or a group's "members": those are the fields below or live
// in the membership records.
type Resource struct {
	Ref
	Version      int64 // starts at 1 (or the imported version), bumped by every change; the ETag is W/"<Version>"
	Created      time.Time
	LastModified time.Time
	Attrs        map[string]any
}

// Member is one membership record of a group.
type Member struct {
	Value   string // the member's id
	Type    Kind   // User or Group, filled in by the store from the member itself
	Display string // the member's displayName (users: displayName, else userName) when known
}

// MemberDelta is the membership change of one group write. Members whose
// Value is not the id of an existing User or Group of the same tenant (or is
// the group itself) are skipped, never stored: callers that must report them
// check with Exists first. Adding an existing member and removing a
// non-member are no-ops.
type MemberDelta struct {
	Replace bool     // remove every current member before applying Add
	Add     []Member // only Value is read
	Remove  []string // member ids
}

// Empty reports whether the delta changes nothing.
func (d MemberDelta) Empty() bool { return !d.Replace && len(d.Add) == 0 && len(d.Remove) == 0 }

// Query is a planned list request.
type Query struct {
	Filter     query.Filter // nil matches everything
	SortBy     string       // canonical attribute path ("userName", "name.familyName", "meta.lastModified"); "" = creation order
	Descending bool
	StartIndex int // 1-based; values < 1 mean 1
	Count      int // resources to return; 0 returns only Total
}

// Page sizes of the keyset listings (Scan, ListStatePage).
const (
	DefaultPageLimit = 1000
	MaxPageLimit     = 10000
)

// PageLimit resolves the limit of a keyset listing: <= 0 means
// DefaultPageLimit; above MaxPageLimit is an error rather than a silent
// cut, because a caller that takes a page shorter than it asked for as
// the end would then stop early.
func PageLimit(limit int) (int, error) {
	switch {
	case limit <= 0:
		return DefaultPageLimit, nil
	case limit > MaxPageLimit:
		return 0, fmt.Errorf("page limit %d is above %d", limit, MaxPageLimit)
	}
	return limit, nil
}

// Page is the answer to a Query.
type Page struct {
	Total     int
	Resources []Resource
}

// ChangeOp says what a journal entry records.
type ChangeOp string

// Journal operations.
const (
	OpCreate ChangeOp = "create"
	OpUpdate ChangeOp = "update"
	OpDelete ChangeOp = "delete"
)

// Change is one entry of a tenant's change journal. Seq increases
// monotonically per tenant; a reader that has seen Seq n and asks for entries
// after n never misses one that commits later with a smaller Seq (backends
// guarantee it by ordering or by holding back uncommitted sequence numbers).
type Change struct {
	Seq     int64
	Tenant  string
	Kind    Kind
	ID      string
	Op      ChangeOp
	Version int64
	At      time.Time
	// Membership changes made by this write (groups only). A deleted member
	// leaves every group it belonged to without a separate entry per group.
	Added   []string
	Removed []string
	// Provenance (see store/origin.go).
	Origin  Origin       // who wrote it
	Name    string       // userName (users) or displayName (groups) at the time of the write (before it, for a delete)
	Changed []AttrChange // the attributes this write changed (create: all set; delete: none)
}

// AttrChange is one attribute a write changed. Old and New are filled in
// only for the attributes an audit needs (AuditedAttrs); for the others the
// path alone says that they changed, without copying their values into the
// journal.
type AttrChange struct {
	Path string `json:"path"`          // top-level attribute name or extension URN:attr, as stored
	Old  any    `json:"old,omitempty"` // only for audited attributes: active, userName,
	New  any    `json:"new,omitempty"` //   emails, displayName, externalId
}

// StateEntry is a small key/value record with a version for compare-and-swap:
// delta links, target cursors, hashed tokens.
type StateEntry struct {
	Key     string
	Value   []byte
	Version int64 // starts at 1
}

// Store is the storage every backend implements. All methods take ctx first
// and are safe for concurrent use. The writes (Create, Update, Delete) need
// the writer's Origin on ctx (WithOrigin) and return ErrNoOrigin, writing
// nothing, without one; their journal entries record it.
type Store interface {
	// Journal: durable consumer cursors and per-resource history
	// (consumer.go).
	Journal

	// Create stores a new resource and its initial members (groups only).
	// An empty r.ID gets a new random id. The version is 1 and Created =
	// LastModified = now, except that a positive r.Version, a non-zero
	// r.Created and a non-zero r.LastModified are kept as given, to the
	// nanosecond (for `scimbridge import`, which recreates resources with
	// the id, version and timestamps they had in another store; the
	// storetest case CreateKeepsImportedMeta checks it). The journal entry
	// of the creation carries the resource's version. Returns ErrConflict
	// (a *ConflictError) on a uniqueness violation; nothing is written then.
	Create(ctx context.Context, r Resource, members []Member) (Resource, error)

	// Get returns one resource: ErrNotFound if absent.
	Get(ctx context.Context, ref Ref) (Resource, error)

	// Update reads the resource, calls fn with a deep copy, and writes the
	// result and the returned membership delta atomically, only if nobody
	// wrote in between (fn may be called again after a lost race, so it must
	// be free of side effects). fn may change Attrs only. If fn's result
	// leaves Attrs and memberships unchanged, nothing is written and the
	// version stays. Returns ErrNotFound, ErrConflict, or fn's error unwrapped
	// (e.g. ErrPrecondition for a failed If-Match).
	Update(ctx context.Context, ref Ref, fn func(r *Resource) (MemberDelta, error)) (Resource, error)

	// Delete removes a resource, its memberships (as group and as member)
	// and journals the deletion. ifVersion > 0 makes it conditional
	// (ErrPrecondition on mismatch). ErrNotFound if absent.
	Delete(ctx context.Context, ref Ref, ifVersion int64) error

	// Query lists resources of one kind in one tenant.
	Query(ctx context.Context, tenant string, kind Kind, q Query) (Page, error)

	// Scan lists resources of one kind in one tenant ordered by id (bytewise),
	// starting after the id afterID ("" = from the start), at most limit
	// (1..10000; <= 0 means 1000). Keyset paging: the cost of a page does not
	// grow with how far into the tenant it is, and a resource created or
	// deleted during a scan neither shifts nor repeats the others. A limit
	// above MaxPageLimit is an error (see PageLimit). A page shorter than
	// limit is the last one.
	Scan(ctx context.Context, tenant string, kind Kind, afterID string, limit int) ([]Resource, error)

	// Members lists a group's members ordered by member id, starting after
	// the id `after` ("" = from the start); limit <= 0 means all.
	Members(ctx context.Context, group Ref, after string, limit int) ([]Member, error)

	// MemberOf lists the groups a resource is a direct member of, as Members
	// whose Value is the group id and Display its displayName.
	MemberOf(ctx context.Context, member Ref) ([]Member, error)

	// Exists returns the kind of each id in ids that exists in the tenant
	// (users and groups); absent ids are missing from the map.
	Exists(ctx context.Context, tenant string, ids []string) (map[string]Kind, error)

	// Changes returns up to limit journal entries with Seq > afterSeq in
	// ascending Seq order. ErrCursorExpired if afterSeq is below the
	// tenant's trim floor (Journal.TrimFloor): entries after it were
	// trimmed.
	Changes(ctx context.Context, tenant string, afterSeq int64, limit int) ([]Change, error)

	// GetState returns a state entry: ErrNotFound if absent.
	GetState(ctx context.Context, tenant, key string) (StateEntry, error)
	// PutState writes a state entry if its current version is ifVersion
	// (0: it must not exist; -1: unconditionally) and returns the new
	// version. ErrPrecondition on mismatch.
	PutState(ctx context.Context, tenant, key string, value []byte, ifVersion int64) (int64, error)
	// DeleteState removes a state entry; removing an absent key is not an error.
	DeleteState(ctx context.Context, tenant, key string) error
	// ListState returns the entries whose key starts with prefix, by key.
	ListState(ctx context.Context, tenant, prefix string) ([]StateEntry, error)
	// ListStatePage is ListState paged: the entries whose key starts with
	// prefix and is greater than afterKey ("" = from the start, which
	// includes a key ""), by key (bytewise), at most limit
	// (<= 0: 1000; above MaxPageLimit an error, see PageLimit). Keys are
	// compared as bytes: no character of prefix is a wildcard.
	ListStatePage(ctx context.Context, tenant, prefix, afterKey string, limit int) ([]StateEntry, error)
	// AcquireLease takes or renews the lease name for holder for ttl. It
	// returns false if another holder has an unexpired lease.
	AcquireLease(ctx context.Context, tenant, name, holder string, ttl time.Duration) (bool, error)

	// Ping reports whether the backend is reachable (for /readyz).
	Ping(ctx context.Context) error
	// Close releases the backend's resources.
	Close() error
}
