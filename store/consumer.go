package store

import (
	"context"
	"errors"
	"time"
)

// Journal is what a journal consumer needs beyond Store.Changes. Both backends
// implement it; store.Store embeds it.
//
// A consumer (a target runner, a webhook, an operator's script) keeps a
// durable, named cursor per tenant: the Seq of the last entry it has
// consumed. The usual loop is: AcquireLease(ctx, tenant, "consumer/"+name,
// holder, ttl) and renew it well within ttl; GetCursor (ErrNotFound: start
// at 0 with ifVersion 0); Changes after Seq; apply them; AdvanceCursor with
// holder and the cursor's Version. ErrLeaseLost means another replica is the
// consumer now: stop without applying anything more. ErrPrecondition means
// the cursor moved under this replica: read it again. Delivery is
// therefore at least once: a consumer that stops between applying entries
// and advancing applies them again after a restart.
type Journal interface {
	// GetCursor returns a consumer's position: ErrNotFound if it has none.
	GetCursor(ctx context.Context, tenant, consumer string) (Cursor, error)
	// AdvanceCursor sets the consumer's position to seq if its cursor's
	// Version is ifVersion (0: the cursor must not exist yet) and returns the
	// new cursor; ErrPrecondition otherwise (another replica moved it). With
	// holder != "", the consumer's lease must be held by holder (else
	// ErrLeaseLost) — a consumer that lost its lease never advances.
	AdvanceCursor(ctx context.Context, tenant, consumer, holder string, ifVersion, seq int64) (Cursor, error)
	// DeleteCursor removes a consumer (and its lease); absent is not an error.
	// A cursor created again later starts again at Version 1.
	DeleteCursor(ctx context.Context, tenant, consumer string) error
	// Consumers lists the tenant's consumers by name with position and lag.
	Consumers(ctx context.Context, tenant string) ([]ConsumerInfo, error)
	// History returns one resource's journal entries, newest first, with
	// Seq < beforeSeq (0: from the newest), at most limit (limit <= 0:
	// all). The entries of an earlier resource of the same id that was
	// deleted are included; those of another kind are not.
	History(ctx context.Context, ref Ref, beforeSeq int64, limit int) ([]Change, error)
	// Trim deletes, oldest first, at most limit of the tenant's journal
	// entries written before before, and returns how many it deleted (fewer
	// than limit: nothing more to trim now). It trims only the run of
	// oldest entries (by Seq) written before before, and never an entry
	// after the position of a live consumer (see Retention). It records the
	// highest trimmed Seq as the tenant's trim floor before it deletes
	// anything; Changes after a Seq below the floor answers
	// ErrCursorExpired.
	Trim(ctx context.Context, tenant string, before time.Time, limit int) (int, error)
	// TrimFloor returns the tenant's trim floor: the highest Seq trimmed
	// from its journal, 0 if none was. Changes(afterSeq >= floor) is always
	// valid; a new consumer with no cursor starts at the floor.
	TrimFloor(ctx context.Context, tenant string) (int64, error)
}

// Retention: which consumers hold trimming back.
//
// A consumer is live while it has shown a sign of life since the trim's
// cutoff (Trim's before, which serve sets to now minus journal.retention):
// its cursor moved (Cursor.UpdatedAt) or its lease was held
// (ConsumerInfo.LeaseExpires, which every renewal moves forward) at or
// after before. Trim never deletes an entry with a Seq above a live
// consumer's Seq, so a live consumer never loses an entry it has not
// consumed. A consumer that has done neither for longer than the
// retention is stale and holds nothing back: once its position is trimmed
// it gets ErrCursorExpired and must reconcile in full. A removed consumer
// (DeleteCursor) holds nothing back either.
func Live(ci ConsumerInfo, before time.Time) bool {
	return !ci.UpdatedAt.Before(before) || !ci.LeaseExpires.IsZero() && !ci.LeaseExpires.Before(before)
}

// TrimHold returns the highest Seq Trim may delete given the tenant's
// consumers: the smallest Seq of a live consumer, or -1 if no consumer is
// live (no limit).
func TrimHold(cs []ConsumerInfo, before time.Time) int64 {
	hold := int64(-1)
	for _, c := range cs {
		if Live(c, before) && (hold < 0 || c.Seq < hold) {
			hold = c.Seq
		}
	}
	return hold
}

// Cursor is a consumer's durable position in a tenant's journal.
type Cursor struct {
	Tenant, Consumer string
	Seq              int64 // last entry consumed
	Version          int64 // for AdvanceCursor's compare-and-swap, starts at 1
	UpdatedAt        time.Time
}

// ConsumerInfo is a cursor with what an operator watches: how far behind
// it is and who consumes it now.
type ConsumerInfo struct {
	Cursor
	Lag          int64     // journal ENTRIES of the tenant after Seq (a count, not a seq difference)
	OldestUnread time.Time // At of the first entry after Seq; zero if none
	Holder       string    // current lease holder, "" if none or expired
	// LeaseExpires is when the consumer's lease expires or expired (also
	// when Holder is "" because it has); zero if it has no lease.
	LeaseExpires time.Time
	// Expired: Seq is below the tenant's trim floor, so Changes after it
	// answers ErrCursorExpired (the consumer must reconcile in full).
	Expired bool
}

// ConsumerLease is the name of a consumer's lease for AcquireLease
// ("consumer/" + consumer).
func ConsumerLease(consumer string) string { return "consumer/" + consumer }

var (
	// ErrLeaseLost: AdvanceCursor's holder does not hold the consumer's lease.
	ErrLeaseLost = errors.New("store: the consumer's lease is held by another holder or expired")
	// ErrCursorExpired: the entries after a cursor were trimmed (retention).
	ErrCursorExpired = errors.New("store: the cursor's position was trimmed from the journal; run a full reconcile")
)

// CheckAdvance validates AdvanceCursor's arguments, for the backends.
func CheckAdvance(consumer string, ifVersion, seq int64) error {
	switch {
	case consumer == "":
		return errors.New("empty consumer name")
	case ifVersion < 0:
		return errors.New("ifVersion must be >= 0")
	case seq < 0:
		return errors.New("seq must be >= 0")
	}
	return nil
}
