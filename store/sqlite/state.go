package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// State, lease and journal statements.
const (
	qPutStateAny = `INSERT INTO state (tenant, key, value, version) VALUES (?1, ?2, ?3, 1)
		ON CONFLICT (tenant, key) DO UPDATE SET value = excluded.value, version = state.version + 1
		RETURNING version`
	qPutStateNew = `INSERT INTO state (tenant, key, value, version) VALUES (?1, ?2, ?3, 1)
		ON CONFLICT (tenant, key) DO NOTHING RETURNING version`
	qPutStateIf = `UPDATE state SET value = ?3, version = version + 1
		WHERE tenant = ?1 AND key = ?2 AND version = ?4 RETURNING version`
	qDeleteState = `DELETE FROM state WHERE tenant = ? AND key = ?`
	// The lease is taken when absent, expired or already ours.
	qAcquireLease = `INSERT INTO leases (tenant, name, holder, expires) VALUES (?1, ?2, ?3, ?4)
		ON CONFLICT (tenant, name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
		WHERE leases.holder = excluded.holder OR leases.expires <= ?5
		RETURNING holder`
)

// qMembers reads a group's members: one range scan of the group's rows of
// members, which hold each member's kind and display, so its cost does not
// depend on the size of the store.
const qMembers = `SELECT member_id, kind, display FROM members
	WHERE tenant = ? AND group_id = ? AND member_id > ? ORDER BY member_id LIMIT ?`

// Members lists a group's members ordered by id; see store.Store. It
// returns store.ErrNotFound if the group does not exist.
//
// Members reads committed state through the read pool. An Update fn may call
// it (a PATCH with a members filter does). Outside the writer, the version
// check of Update covers it. In Update's last attempt, inside the writer, the
// writer notices the call and, if earlier requests of its batch are not
// committed yet, commits them first and calls fn again, so that fn never
// works from a membership that misses a write acknowledged before its own.
func (s *Store) Members(ctx context.Context, group store.Ref, after string, limit int) ([]store.Member, error) {
	s.memberReads.Add(1)
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.rQuery(ctx, qMembers,
		group.Tenant, group.ID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite members: %w", mapErr(err))
	}
	out, err := scanMembers(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite members: %w", err)
	}
	// Only a group has membership rows (they go with it when it is
	// deleted): the existence check is needed only when there are none.
	if len(out) == 0 || group.Kind != store.Group {
		if err := s.checkExists(ctx, group); err != nil {
			return nil, fmt.Errorf("sqlite members: %w", err)
		}
	}
	return out, nil
}

// MemberOf lists the groups member directly belongs to, by group id.
func (s *Store) MemberOf(ctx context.Context, member store.Ref) ([]store.Member, error) {
	rows, err := s.rQuery(ctx, `SELECT m.group_id, r.kind, coalesce(r.display, '')
		FROM members AS m JOIN resources AS r ON r.tenant = m.tenant AND r.id = m.group_id
		WHERE m.tenant = ? AND m.member_id = ? ORDER BY m.group_id`, member.Tenant, member.ID)
	if err != nil {
		return nil, fmt.Errorf("sqlite member of: %w", mapErr(err))
	}
	out, err := scanMembers(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite member of: %w", err)
	}
	return out, nil
}

func scanMembers(rows *sql.Rows) ([]store.Member, error) {
	defer rows.Close()
	out := []store.Member{}
	for rows.Next() {
		var m store.Member
		var kind string
		if err := rows.Scan(&m.Value, &kind, &m.Display); err != nil {
			return nil, err
		}
		m.Type = store.Kind(kind)
		out = append(out, m)
	}
	return out, rows.Err()
}

// checkExists returns store.ErrNotFound unless ref names a resource of its kind.
func (s *Store) checkExists(ctx context.Context, ref store.Ref) error {
	row, err := s.rQueryRow(ctx, `SELECT kind FROM resources WHERE tenant = ? AND id = ?`, ref.Tenant, ref.ID)
	if err != nil {
		return mapErr(err)
	}
	var kind string
	if err := row.Scan(&kind); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		return mapErr(err)
	}
	if store.Kind(kind) != ref.Kind {
		return store.ErrNotFound
	}
	return nil
}

// Changes returns up to limit journal entries after afterSeq (limit <= 0:
// all). It never skips an entry that commits later: see "Why a journal
// reader never skips an entry" in writer.go.
func (s *Store) Changes(ctx context.Context, tenant string, afterSeq int64, limit int) ([]store.Change, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.rQuery(ctx, `SELECT `+journalColumns+` FROM journal
		WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT ?`, tenant, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite changes: %w", mapErr(err))
	}
	out, err := scanJournal(rows, tenant)
	if err != nil {
		return nil, fmt.Errorf("sqlite changes: %w", err)
	}
	if err := s.checkFloor(ctx, tenant, afterSeq); err != nil {
		return nil, fmt.Errorf("sqlite changes: %w", err)
	}
	return out, nil
}

// journalColumns are the journal columns scanJournal reads, in its order.
const journalColumns = `seq, kind, id, op, version, at, added, removed, source, actor, run_id, name, changed`

// scanJournal reads the journal entries of one tenant that a query selecting
// journalColumns returns, and closes rows. Every reader of the journal
// decodes its entries here.
func scanJournal(rows *sql.Rows, tenant string) ([]store.Change, error) {
	defer rows.Close()
	out := []store.Change{}
	for rows.Next() {
		c := store.Change{Tenant: tenant}
		var kind, op string
		var at int64
		var added, removed, source, actor, runID, name, changed sql.NullString
		if err := rows.Scan(&c.Seq, &kind, &c.ID, &op, &c.Version, &at, &added, &removed,
			&source, &actor, &runID, &name, &changed); err != nil {
			return nil, err
		}
		c.Kind, c.Op, c.At = store.Kind(kind), store.ChangeOp(op), fromNanos(at)
		c.Origin = store.Origin{Source: store.Source(source.String), Actor: actor.String, RunID: runID.String}
		c.Name = name.String
		for _, f := range []struct {
			col sql.NullString
			dst any
		}{{added, &c.Added}, {removed, &c.Removed}, {changed, &c.Changed}} {
			if f.col.Valid {
				if err := json.Unmarshal([]byte(f.col.String), f.dst); err != nil {
					return nil, fmt.Errorf("journal entry %d: %w", c.Seq, err)
				}
			}
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// GetState returns a state entry, or store.ErrNotFound.
func (s *Store) GetState(ctx context.Context, tenant, key string) (store.StateEntry, error) {
	row, err := s.rQueryRow(ctx, `SELECT value, version FROM state WHERE tenant = ? AND key = ?`, tenant, key)
	if err != nil {
		return store.StateEntry{}, fmt.Errorf("sqlite get state: %w", mapErr(err))
	}
	e := store.StateEntry{Key: key}
	if err := row.Scan(&e.Value, &e.Version); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			err = store.ErrNotFound
		}
		return store.StateEntry{}, fmt.Errorf("sqlite get state: %w", mapErr(err))
	}
	if e.Value == nil {
		e.Value = []byte{}
	}
	return e, nil
}

// PutState writes a state entry with compare-and-swap; see store.Store. It
// returns store.ErrPrecondition on a version mismatch.
func (s *Store) PutState(ctx context.Context, tenant, key string, value []byte, ifVersion int64) (int64, error) {
	if value == nil {
		value = []byte{}
	}
	var version int64
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var st *sql.Stmt
		var err error
		args := []any{tenant, key, value}
		switch {
		case ifVersion == -1:
			st, err = s.txStmt(ctx, tx, qPutStateAny)
		case ifVersion == 0:
			st, err = s.txStmt(ctx, tx, qPutStateNew)
		case ifVersion > 0:
			st, err = s.txStmt(ctx, tx, qPutStateIf)
			args = append(args, ifVersion)
		default:
			return fmt.Errorf("invalid ifVersion %d", ifVersion)
		}
		if err != nil {
			return err
		}
		if err := st.QueryRowContext(ctx, args...).Scan(&version); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return store.ErrPrecondition
			}
			return err
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite put state: %w", err)
	}
	return version, nil
}

// DeleteState removes a state entry if present.
func (s *Store) DeleteState(ctx context.Context, tenant, key string) error {
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.txExec(ctx, tx, qDeleteState, tenant, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite delete state: %w", err)
	}
	return nil
}

// ListState returns the entries whose key starts with prefix, by key.
func (s *Store) ListState(ctx context.Context, tenant, prefix string) ([]store.StateEntry, error) {
	rows, err := s.rQuery(ctx, `SELECT key, value, version FROM state
		WHERE tenant = ?1 AND key >= ?2 AND substr(key, 1, length(?2)) = ?2 ORDER BY key`, tenant, prefix)
	if err != nil {
		return nil, fmt.Errorf("sqlite list state: %w", mapErr(err))
	}
	out, err := scanState(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite list state: %w", err)
	}
	return out, nil
}

// scanState reads the (key, value, version) rows of a state listing and
// closes rows.
func scanState(rows *sql.Rows) ([]store.StateEntry, error) {
	defer rows.Close()
	out := []store.StateEntry{}
	for rows.Next() {
		var e store.StateEntry
		if err := rows.Scan(&e.Key, &e.Value, &e.Version); err != nil {
			return nil, mapErr(err)
		}
		if e.Value == nil {
			e.Value = []byte{}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	return out, nil
}

// AcquireLease takes or renews a lease; see store.Store.
func (s *Store) AcquireLease(ctx context.Context, tenant, name, holder string, ttl time.Duration) (bool, error) {
	var ok bool
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		now := s.now()
		rows, err := s.txQuery(ctx, tx, qAcquireLease, tenant, name, holder, now.Add(ttl).UnixNano(), now.UnixNano())
		if err != nil {
			return err
		}
		defer rows.Close()
		ok = rows.Next()
		return rows.Err()
	})
	if err != nil {
		return false, fmt.Errorf("sqlite acquire lease: %w", err)
	}
	return ok, nil
}
