package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"strings"

	"github.com/scimbridge/scimbridge/store"
)

// Strict uniqueness.
//
// userName and the id are unique in every tenant (unique indexes). The
// strict rules (externalId per kind, group displayName) hold in the tenants
// listed in strict_tenants only: their rows copy those values into
// strict_external_id and strict_display_name, which partial unique indexes
// cover, so the rules are enforced by the write itself (the insert and
// update statements look the tenant up; see qInsertResource), like
// userName's, and not by a lookup before it. The rows of other tenants
// leave the columns NULL and cost those indexes nothing.

// setStrict makes tenants the strict ones (see WithStrictUniqueness), in
// one transaction before any other write: it records them in
// strict_tenants, clears the strict_* columns of every other tenant, and
// fills them for the tenants that were not strict yet, after checking that
// they hold no duplicates. A tenant that was strict already needs neither:
// its rows have kept the columns filled and the indexes have kept them
// unique.
func (s *Store) setStrict(ctx context.Context, tenants []string) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	prev := map[string]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT tenant FROM strict_tenants`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		prev[t] = true
	}
	if err := rows.Close(); err != nil {
		return err
	}
	want := slices.Clone(tenants)
	slices.Sort(want)
	want = slices.Compact(want)
	var added []string
	var dups []store.Duplicate
	for _, t := range want {
		if prev[t] {
			continue
		}
		added = append(added, t)
		d, err := duplicates(ctx, tx, t)
		if err != nil {
			return err
		}
		dups = append(dups, d...)
	}
	if len(dups) > 0 {
		store.SortDuplicates(dups)
		return &store.UniquenessError{Duplicates: dups}
	}
	if len(added) == 0 && len(prev) == len(want) {
		return nil // the same set as before: nothing to write
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM strict_tenants`); err != nil {
		return err
	}
	for _, t := range want {
		if _, err := tx.ExecContext(ctx, `INSERT INTO strict_tenants (tenant) VALUES (?)`, t); err != nil {
			return err
		}
	}
	// Each statement's WHERE implies its partial index's condition, so
	// only the rows that hold a strict key are visited.
	for _, q := range []string{
		`UPDATE resources SET strict_external_id = NULL WHERE strict_external_id IS NOT NULL
			AND tenant NOT IN (SELECT tenant FROM strict_tenants)`,
		`UPDATE resources SET strict_display_name = NULL WHERE strict_display_name IS NOT NULL
			AND tenant NOT IN (SELECT tenant FROM strict_tenants)`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	for _, t := range added {
		for _, q := range []string{
			`UPDATE resources SET strict_external_id = external_id WHERE tenant = ? AND external_id IS NOT NULL`,
			`UPDATE resources SET strict_display_name = display_name_lc
				WHERE tenant = ? AND kind = 'Group' AND display_name_lc IS NOT NULL`,
		} {
			if _, err := tx.ExecContext(ctx, q, t); err != nil {
				return mapErr(err)
			}
		}
	}
	return tx.Commit()
}

// duplicates lists the group displayNames (case-insensitively) and the
// externalIds (per kind) that several resources of tenant share.
func duplicates(ctx context.Context, tx *sql.Tx, tenant string) ([]store.Duplicate, error) {
	const sep = "\x1f" // ids may hold commas
	rows, err := tx.QueryContext(ctx, `
		SELECT 'Group', 'displayName', min(display), group_concat(id, char(31)) FROM resources
			WHERE tenant = ?1 AND kind = 'Group' AND display_name_lc IS NOT NULL
			GROUP BY display_name_lc HAVING count(*) > 1
		UNION ALL
		SELECT kind, 'externalId', external_id, group_concat(id, char(31)) FROM resources
			WHERE tenant = ?1 AND external_id IS NOT NULL
			GROUP BY kind, external_id HAVING count(*) > 1`, tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Duplicate
	for rows.Next() {
		var kind, attr, value, ids string
		if err := rows.Scan(&kind, &attr, &value, &ids); err != nil {
			return nil, err
		}
		out = append(out, store.Duplicate{Tenant: tenant, Kind: store.Kind(kind), Attribute: attr,
			Value: value, IDs: strings.Split(ids, sep)})
	}
	return out, rows.Err()
}
