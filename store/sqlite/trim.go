package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// Retention (store.Journal's Trim and TrimFloor).
//
// One Trim is one write transaction: it reads the tenant's consumers and
// floor, selects the oldest limit entries above the floor by the index
// journal_tenant (tenant, seq), keeps the run of them written before the
// cutoff and at or below the slowest live consumer, and deletes that run
// and raises the floor together. Trimming by age needs no index on at: it
// only ever walks the head of (tenant, seq) and stops at the first entry
// that is too young, so a batch costs its own entries (and their
// journal_resource index entries), never a scan. A cursor cannot move
// between the read of the consumers and the delete: the writer is one
// connection. serve calls it with small limits so that no batch holds
// writes up for long.
const (
	qTrimFloor     = `SELECT seq FROM journal_floor WHERE tenant = ?`
	qTrimConsumers = `SELECT c.seq, c.updated, l.expires
		FROM cursors AS c LEFT JOIN leases AS l ON l.tenant = c.tenant AND l.name = 'consumer/' || c.consumer
		WHERE c.tenant = ?`
	qTrimHead = `SELECT seq, at FROM journal INDEXED BY journal_tenant
		WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT ?`
	qTrimDelete   = `DELETE FROM journal WHERE tenant = ? AND seq > ? AND seq <= ?`
	qTrimSetFloor = `INSERT INTO journal_floor (tenant, seq) VALUES (?1, ?2)
		ON CONFLICT (tenant) DO UPDATE SET seq = max(seq, ?2)`
)

// TrimFloor returns the tenant's trim floor (0: nothing was trimmed).
func (s *Store) TrimFloor(ctx context.Context, tenant string) (int64, error) {
	row, err := s.rQueryRow(ctx, qTrimFloor, tenant)
	if err != nil {
		return 0, fmt.Errorf("sqlite trim floor: %w", mapErr(err))
	}
	var f int64
	if err := row.Scan(&f); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("sqlite trim floor: %w", mapErr(err))
	}
	return f, nil
}

// Trim deletes at most limit of the tenant's oldest entries written before
// before; see store.Journal.
func (s *Store) Trim(ctx context.Context, tenant string, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("sqlite trim: limit must be > 0")
	}
	var n int
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n = 0
		hold, err := s.trimHold(ctx, tx, tenant, before)
		if err != nil {
			return err
		}
		var floor int64
		st, err := s.txStmt(ctx, tx, qTrimFloor)
		if err != nil {
			return err
		}
		if err := st.QueryRowContext(ctx, tenant).Scan(&floor); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		st, err = s.txStmt(ctx, tx, qTrimHead)
		if err != nil {
			return err
		}
		rows, err := st.QueryContext(ctx, tenant, floor, limit)
		if err != nil {
			return err
		}
		last, cutoff := floor, before.UnixNano()
		for rows.Next() {
			var seq, at int64
			if err := rows.Scan(&seq, &at); err != nil {
				rows.Close()
				return err
			}
			if at >= cutoff || hold >= 0 && seq > hold {
				break
			}
			last = seq
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if _, err := s.txExec(ctx, tx, qTrimSetFloor, tenant, last); err != nil {
			return err
		}
		_, err = s.txExec(ctx, tx, qTrimDelete, tenant, floor, last)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite trim: %w", mapErr(err))
	}
	return n, nil
}

// trimHold returns the highest seq Trim may delete (-1: any); see
// store.TrimHold.
func (s *Store) trimHold(ctx context.Context, tx *sql.Tx, tenant string, before time.Time) (int64, error) {
	st, err := s.txStmt(ctx, tx, qTrimConsumers)
	if err != nil {
		return 0, err
	}
	rows, err := st.QueryContext(ctx, tenant)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var cs []store.ConsumerInfo
	for rows.Next() {
		var ci store.ConsumerInfo
		var updated int64
		var expires sql.NullInt64
		if err := rows.Scan(&ci.Seq, &updated, &expires); err != nil {
			return 0, err
		}
		ci.UpdatedAt = fromNanos(updated)
		if expires.Valid {
			ci.LeaseExpires = fromNanos(expires.Int64)
		}
		cs = append(cs, ci)
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	return store.TrimHold(cs, before), nil
}

// checkFloor returns store.ErrCursorExpired if entries after afterSeq were
// trimmed. Changes calls it after reading its entries: a Trim that
// committed before that read raised the floor in the same transaction, so
// entries missing from the read are always caught here.
func (s *Store) checkFloor(ctx context.Context, tenant string, afterSeq int64) error {
	f, err := s.TrimFloor(ctx, tenant)
	if err != nil {
		return err
	}
	if afterSeq < f {
		return store.ErrCursorExpired
	}
	return nil
}
