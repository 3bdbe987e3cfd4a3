package store

import (
	"cmp"
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
)

// Source says what kind of writer made a change. The set is closed: a new
// kind of writer adds a constant here, so that consumers (the audit CLI, a
// target runner telling a pull from a push) can switch on it.
type Source string

// The sources of writes.
const (
	SourcePush      Source = "push"       // SCIM requests (Entra or any SCIM client)
	SourcePullGraph Source = "pull:graph" // a pull from Microsoft Graph
	SourcePullLDAP  Source = "pull:ldap"  // a pull from an LDAP directory
	SourceImport    Source = "import"     // scimbridge import
	SourceAdmin     Source = "admin"      // the admin console / CLI edits
)

// Origin is the provenance of a write, carried to the store on its context
// (WithOrigin) and recorded in the write's journal entry. It is set by the
// writer when the write happens; it is never guessed afterwards.
type Origin struct {
	Source Source `json:"source"`
	Actor  string `json:"actor,omitempty"` // token name or OAuth client id (push); user (admin)
	RunID  string `json:"runId,omitempty"` // the pull or import run
}

// ErrNoOrigin is returned by every write (Create, Update, Delete) whose
// context carries no Origin; nothing is written then. Requiring it at the
// store, the one place every writer passes, means no writer can forget it.
var ErrNoOrigin = errors.New("store: a write without an origin (store.WithOrigin)")

type originKey struct{}

// WithOrigin returns ctx carrying o as the provenance of the writes made with it.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// OriginFrom returns the Origin WithOrigin put on ctx. An Origin with an
// empty Source counts as none.
func OriginFrom(ctx context.Context) (Origin, bool) {
	o, ok := ctx.Value(originKey{}).(Origin)
	return o, ok && o.Source != ""
}

// RequireOrigin returns the Origin of a write's context, or ErrNoOrigin.
// Backends call it before they touch anything.
func RequireOrigin(ctx context.Context) (Origin, error) {
	o, ok := OriginFrom(ctx)
	if !ok {
		return Origin{}, ErrNoOrigin
	}
	return o, nil
}

// AuditedAttrs are the attributes whose old and new values a journal entry
// keeps (AttrChange.Old/New): what an audit of account changes asks about.
// Other attributes are recorded by path only, so that the journal does not
// copy whole resources.
var AuditedAttrs = []string{"active", "userName", "emails", "displayName", "externalId"}

// ChangedAttrs compares a resource's attributes before and after a write
// (old nil for a create) and returns what changed, by path, sorted. Paths
// are the top-level attribute names as stored; an extension's attributes
// (a map under a "urn:" key) are compared one by one as "URN:attr".
func ChangedAttrs(old, new map[string]any) []AttrChange {
	flat := func(attrs map[string]any) map[string]any {
		out := make(map[string]any, len(attrs))
		for k, v := range attrs {
			if ext, ok := v.(map[string]any); ok && strings.HasPrefix(k, "urn:") {
				for a, av := range ext {
					out[k+":"+a] = av
				}
				continue
			}
			out[k] = v
		}
		return out
	}
	o, n := flat(old), flat(new)
	var out []AttrChange
	add := func(path string) {
		ov, nv := o[path], n[path]
		if reflect.DeepEqual(ov, nv) {
			return
		}
		c := AttrChange{Path: path}
		if slices.Contains(AuditedAttrs, path) {
			c.Old, c.New = ov, nv
		}
		out = append(out, c)
	}
	for p := range n {
		add(p)
	}
	for p := range o {
		if _, ok := n[p]; !ok {
			add(p)
		}
	}
	slices.SortFunc(out, func(a, b AttrChange) int { return cmp.Compare(a.Path, b.Path) })
	return out
}

// NameOf returns the name a journal entry records for a resource: a user's
// userName, a group's displayName ("" if it has none).
func NameOf(kind Kind, attrs map[string]any) string {
	key := "displayName"
	if kind == User {
		key = "userName"
	}
	s, _ := attrs[key].(string)
	return s
}
