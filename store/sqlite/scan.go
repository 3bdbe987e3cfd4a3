package sqlite

import (
	"context"
	"fmt"

	"github.com/scimbridge/scimbridge/store"
)

// Keyset listings. Both are one range scan of an index in key order that
// stops after limit rows, so a page costs the same wherever it starts.
const (
	// qScan reads resources_kind_id (migration 0008) from (kind, tenant,
	// afterID) on; each row then costs one lookup of its doc by rowid.
	qScan = `SELECT id, version, created, last_modified, doc FROM resources INDEXED BY resources_kind_id
		WHERE kind = ?2 AND tenant = ?1 AND id > ?3 ORDER BY id LIMIT ?4`
	// The state page reads the primary key (tenant, key) between a lower
	// bound (the prefix itself, or afterKey when that is past it) and
	// prefixEnd(prefix). The bounds alone select the keys that start with
	// prefix: no LIKE, whose % and _ in a key would be wildcards, and no
	// per-row test. ?3 is a BLOB when the prefix has no end (it is empty
	// or all 0xFF bytes): SQLite orders every TEXT value before every
	// BLOB, so the bound then admits every key.
	qStatePageFrom = `SELECT key, value, version FROM state
		WHERE tenant = ?1 AND key >= ?2 AND key < ?3 ORDER BY key LIMIT ?4`
	qStatePageAfter = `SELECT key, value, version FROM state
		WHERE tenant = ?1 AND key > ?2 AND key < ?3 ORDER BY key LIMIT ?4`
)

// Scan lists resources of one kind by id; see store.Store.
func (s *Store) Scan(ctx context.Context, tenant string, kind store.Kind, afterID string, limit int) ([]store.Resource, error) {
	if err := store.CheckKind(kind); err != nil {
		return nil, fmt.Errorf("sqlite scan: %w", err)
	}
	limit, err := store.PageLimit(limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite scan: %w", err)
	}
	rs, err := s.scan(ctx, tenant, kind, qScan, []any{tenant, string(kind), afterID, limit})
	if err != nil {
		return nil, fmt.Errorf("sqlite scan: %w", err)
	}
	return rs, nil
}

// ListStatePage lists state entries by key, a page at a time; see
// store.Store.
func (s *Store) ListStatePage(ctx context.Context, tenant, prefix, afterKey string, limit int) ([]store.StateEntry, error) {
	limit, err := store.PageLimit(limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite list state page: %w", err)
	}
	q, lo := qStatePageFrom, prefix
	if afterKey != "" && afterKey >= prefix {
		q, lo = qStatePageAfter, afterKey
	}
	var hi any = []byte{0}
	if end, ok := prefixEnd(prefix); ok {
		hi = end
	}
	rows, err := s.rQuery(ctx, q, tenant, lo, hi, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite list state page: %w", mapErr(err))
	}
	out, err := scanState(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite list state page: %w", err)
	}
	return out, nil
}

// prefixEnd returns the smallest string greater than every string that
// starts with prefix, bytewise: prefix up to its last byte below 0xFF, that
// byte plus one. ok is false when there is none (prefix is empty or all
// 0xFF). The result need not be valid UTF-8; SQLite compares TEXT with
// memcmp.
func prefixEnd(prefix string) (string, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xFF {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}
