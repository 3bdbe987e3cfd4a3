package targets

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// Target projects resources into one application. Apply must be
// idempotent: the runner delivers every change at least once, and after a
// crash between an apply and the cursor's advance it delivers the same
// change again.
type Target interface {
	// Apply makes the application's account or group match c and returns
	// its id in the application (a DN, a row key, a remote id), which the
	// runner keeps in its id map and hands back as c.TargetID next time.
	// After a delete it returns "" (the runner forgets the id).
	//
	// A *PermanentError (Permanent) dead-letters the change at once; a
	// *RetryAfterError asks for a retry no sooner than its delay; any other
	// error is retried with backoff.
	Apply(ctx context.Context, c Change) (targetID string, err error)
}

// Action is what a Change asks the target to do with the account.
type Action string

// The actions. The runner derives them from the resource's current state
// and the id map, not from the journal's ops, so that a replayed or
// collapsed change still says the right thing.
const (
	// ActionCreate: the resource exists and the target has no id for it yet.
	ActionCreate Action = "create"
	// ActionUpdate: the resource exists and the target has it.
	ActionUpdate Action = "update"
	// ActionDisable: a User whose active attribute is false (the target
	// may or may not have it yet: c.TargetID says).
	ActionDisable Action = "disable"
	// ActionDelete: the resource is gone from the store.
	ActionDelete Action = "delete"
)

// Change is one apply: every journal entry of one resource in a batch,
// collapsed, with the resource as it is in the store now.
type Change struct {
	Tenant string
	Target string // the target's configured name
	Kind   store.Kind
	ID     string // the resource id in the bridge
	Action Action
	// Resource is the current state read from the store; nil for
	// ActionDelete.
	Resource *store.Resource
	// Seqs are the journal entries this change collapses, ascending.
	Seqs []int64
	// Changed is the union of the attribute paths the entries changed (a
	// create lists every attribute set). Empty with members added or
	// removed: a membership-only change.
	Changed []string
	// MembersAdded and MembersRemoved are a group's net membership changes
	// over the entries (the last of an add and a remove of one member
	// wins), sorted. A full resync of members is not expressed here.
	MembersAdded, MembersRemoved []string
	// TargetID is the account's id in the target from the id map, "" if
	// the target has not (successfully) seen the resource. A delete with
	// no TargetID (created and deleted within one batch) may be a no-op
	// for a target that can only find accounts by their id.
	TargetID string
	// Origin, Name and At are the provenance of the newest entry: who wrote
	// it, the resource's name then (also for deletes) and when.
	Origin store.Origin
	Name   string
	At     time.Time
}

// LastSeq returns the newest journal entry c collapses (0 if none, e.g. a
// retried dead letter with no recorded entries).
func (c Change) LastSeq() int64 {
	if len(c.Seqs) == 0 {
		return 0
	}
	return c.Seqs[len(c.Seqs)-1]
}

// MembersOnly reports whether c changes only a group's membership.
func (c Change) MembersOnly() bool {
	return c.Action == ActionUpdate && len(c.Changed) == 0 && (len(c.MembersAdded) > 0 || len(c.MembersRemoved) > 0)
}

// Account is one account or group found in a target by a Lister.
type Account struct {
	Kind       store.Kind
	TargetID   string
	ResourceID string         // the bridge id when the target records it, else ""
	Key        string         // the matching key (userName, displayName) for adoption
	Attrs      map[string]any // what the target holds, for comparison; may be nil
}

// Lister is the optional capability reconcile needs: list the target's
// accounts or groups in a stable order, a page at a time. after is the
// previous page's next token ("" for the first page); next is "" on the
// last page.
type Lister interface {
	List(ctx context.Context, kind store.Kind, after string, limit int) (accounts []Account, next string, err error)
}

// HealthChecker is the optional capability of a target that can tell
// whether the application is reachable without changing anything.
type HealthChecker interface {
	Check(ctx context.Context) error
}

// PermanentError marks a failure that retrying cannot fix (a rejected
// value, a 400 from the application): the runner dead-letters the change
// at once. Find it with errors.As.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a *PermanentError (nil stays nil).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err is or wraps a *PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// RetryAfterError is a retryable failure with the application's own idea of
// when to try again (HTTP Retry-After). The runner waits at least After,
// bounded by its MaxRetryAfter.
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
}
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter wraps err as a *RetryAfterError.
func RetryAfter(d time.Duration, err error) error { return &RetryAfterError{After: d, Err: err} }
