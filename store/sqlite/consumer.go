package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/scimbridge/scimbridge/store"
)

// Journal consumers (store.Journal).
//
// A cursor is a row of cursors; its lease is the row (tenant, "consumer/" +
// name) of leases. AdvanceCursor checks the lease and swaps the cursor in
// one write transaction, and write transactions are serialised (one writer
// connection, BEGIN IMMEDIATE across processes): no AcquireLease can commit
// between the check and the swap, so a holder whose lease expired or was
// taken over never moves the cursor.
const (
	qLeaseOf      = `SELECT holder, expires FROM leases WHERE tenant = ? AND name = ?`
	qInsertCursor = `INSERT INTO cursors (tenant, consumer, seq, version, updated) VALUES (?1, ?2, ?3, 1, ?4)
		ON CONFLICT (tenant, consumer) DO NOTHING RETURNING version`
	qAdvanceCursor = `UPDATE cursors SET seq = ?3, version = version + 1, updated = ?4
		WHERE tenant = ?1 AND consumer = ?2 AND version = ?5 RETURNING version`
	qDeleteCursor = `DELETE FROM cursors WHERE tenant = ? AND consumer = ?`
	qDeleteLease  = `DELETE FROM leases WHERE tenant = ? AND name = ?`
	qGetCursor    = `SELECT seq, version, updated FROM cursors WHERE tenant = ? AND consumer = ?`
	qConsumers    = `SELECT c.consumer, c.seq, c.version, c.updated,
		(SELECT count(*) FROM journal AS j WHERE j.tenant = c.tenant AND j.seq > c.seq),
		(SELECT j.at FROM journal AS j WHERE j.tenant = c.tenant AND j.seq > c.seq ORDER BY j.seq LIMIT 1),
		l.holder, l.expires
		FROM cursors AS c LEFT JOIN leases AS l ON l.tenant = c.tenant AND l.name = 'consumer/' || c.consumer
		WHERE c.tenant = ? ORDER BY c.consumer`
	qHistory = `SELECT ` + journalColumns + ` FROM journal INDEXED BY journal_resource
		WHERE tenant = ? AND id = ? AND seq < ? AND kind = ? ORDER BY seq DESC LIMIT ?`
)

// consumerQueries are the statements of this file the writer prepares at Open.
var consumerQueries = []string{qLeaseOf, qInsertCursor, qAdvanceCursor, qDeleteCursor, qDeleteLease}

// GetCursor returns a consumer's cursor, or store.ErrNotFound.
func (s *Store) GetCursor(ctx context.Context, tenant, consumer string) (store.Cursor, error) {
	row, err := s.rQueryRow(ctx, qGetCursor, tenant, consumer)
	if err != nil {
		return store.Cursor{}, fmt.Errorf("sqlite get cursor: %w", mapErr(err))
	}
	c := store.Cursor{Tenant: tenant, Consumer: consumer}
	var updated int64
	if err := row.Scan(&c.Seq, &c.Version, &updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			err = store.ErrNotFound
		}
		return store.Cursor{}, fmt.Errorf("sqlite get cursor: %w", mapErr(err))
	}
	c.UpdatedAt = fromNanos(updated)
	return c, nil
}

// AdvanceCursor moves a cursor with compare-and-swap; see store.Journal.
func (s *Store) AdvanceCursor(ctx context.Context, tenant, consumer, holder string, ifVersion, seq int64) (store.Cursor, error) {
	if err := store.CheckAdvance(consumer, ifVersion, seq); err != nil {
		return store.Cursor{}, fmt.Errorf("sqlite advance cursor: %w", err)
	}
	c := store.Cursor{Tenant: tenant, Consumer: consumer, Seq: seq}
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		now := s.now()
		if holder != "" {
			st, err := s.txStmt(ctx, tx, qLeaseOf)
			if err != nil {
				return err
			}
			var h string
			var exp int64
			err = st.QueryRowContext(ctx, tenant, store.ConsumerLease(consumer)).Scan(&h, &exp)
			if errors.Is(err, sql.ErrNoRows) || err == nil && (h != holder || exp <= now.UnixNano()) {
				return store.ErrLeaseLost
			}
			if err != nil {
				return err
			}
		}
		q, args := qInsertCursor, []any{tenant, consumer, seq, now.UnixNano()}
		if ifVersion > 0 {
			q, args = qAdvanceCursor, append(args, ifVersion)
		}
		st, err := s.txStmt(ctx, tx, q)
		if err != nil {
			return err
		}
		if err := st.QueryRowContext(ctx, args...).Scan(&c.Version); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return store.ErrPrecondition
			}
			return err
		}
		c.UpdatedAt = fromNanos(now.UnixNano())
		return nil
	})
	if err != nil {
		return store.Cursor{}, fmt.Errorf("sqlite advance cursor: %w", mapErr(err))
	}
	return c, nil
}

// DeleteCursor removes a cursor and its lease in one transaction.
func (s *Store) DeleteCursor(ctx context.Context, tenant, consumer string) error {
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := s.txExec(ctx, tx, qDeleteCursor, tenant, consumer); err != nil {
			return err
		}
		_, err := s.txExec(ctx, tx, qDeleteLease, tenant, store.ConsumerLease(consumer))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite delete cursor: %w", mapErr(err))
	}
	return nil
}

// Consumers lists a tenant's cursors with their lag; see store.Journal.
//
// Journal seqs are global across tenants, so the lag is a count: a range
// count of the covering index journal_tenant (tenant, seq) after the
// cursor's seq. It costs time in proportion to the lag (millions of index
// entries a second), never to the size of the journal; one statement reads
// all of it from one snapshot.
func (s *Store) Consumers(ctx context.Context, tenant string) ([]store.ConsumerInfo, error) {
	floor, err := s.TrimFloor(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("sqlite consumers: %w", err)
	}
	rows, err := s.rQuery(ctx, qConsumers, tenant)
	if err != nil {
		return nil, fmt.Errorf("sqlite consumers: %w", mapErr(err))
	}
	defer rows.Close()
	now := s.now().UnixNano()
	out := []store.ConsumerInfo{}
	for rows.Next() {
		ci := store.ConsumerInfo{Cursor: store.Cursor{Tenant: tenant}}
		var updated int64
		var oldest, expires sql.NullInt64
		var holder sql.NullString
		if err := rows.Scan(&ci.Consumer, &ci.Seq, &ci.Version, &updated, &ci.Lag, &oldest, &holder, &expires); err != nil {
			return nil, fmt.Errorf("sqlite consumers: %w", err)
		}
		ci.UpdatedAt = fromNanos(updated)
		ci.Expired = ci.Seq < floor
		if oldest.Valid {
			ci.OldestUnread = fromNanos(oldest.Int64)
		}
		if expires.Valid {
			ci.LeaseExpires = fromNanos(expires.Int64)
			if expires.Int64 > now {
				ci.Holder = holder.String
			}
		}
		out = append(out, ci)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite consumers: %w", err)
	}
	return out, nil
}

// History returns one resource's journal entries newest first; see
// store.Journal. It is a range scan of journal_resource (tenant, id, seq)
// read backwards: its cost is the entries returned.
func (s *Store) History(ctx context.Context, ref store.Ref, beforeSeq int64, limit int) ([]store.Change, error) {
	if beforeSeq <= 0 {
		beforeSeq = math.MaxInt64
	}
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.rQuery(ctx, qHistory, ref.Tenant, ref.ID, beforeSeq, string(ref.Kind), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite history: %w", mapErr(err))
	}
	out, err := scanJournal(rows, ref.Tenant)
	if err != nil {
		return nil, fmt.Errorf("sqlite history: %w", err)
	}
	return out, nil
}
