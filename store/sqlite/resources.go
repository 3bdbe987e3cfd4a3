package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// Statements run on the writer; prepared once at Open.
const (
	qGet = `SELECT kind, version, created, last_modified, doc FROM resources WHERE tenant = ? AND id = ?`

	// The strict_* columns copy externalId and a group's displayName in
	// strict tenants only (see migrations/0002_uniqueness.sql): the
	// statements look the tenant up in strict_tenants themselves, so that
	// the partial unique indexes enforce the rules inside the write.
	qInsertResource = `INSERT INTO resources (tenant, id, kind, version, created, last_modified,
		external_id, user_name_lc, display_name_lc, display, active, doc,
		strict_external_id, strict_display_name)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,
		iif(EXISTS (SELECT 1 FROM strict_tenants WHERE tenant = ?1), ?7, NULL),
		iif(?3 = 'Group' AND EXISTS (SELECT 1 FROM strict_tenants WHERE tenant = ?1), ?9, NULL))`
	qUpdateResource = `UPDATE resources SET version = ?1, last_modified = ?2, external_id = ?3, user_name_lc = ?4,
		display_name_lc = ?5, display = ?6, active = ?7, doc = ?8,
		strict_external_id = iif(EXISTS (SELECT 1 FROM strict_tenants WHERE tenant = ?9), ?3, NULL),
		strict_display_name = iif(kind = 'Group' AND EXISTS (SELECT 1 FROM strict_tenants WHERE tenant = ?9), ?5, NULL)
		WHERE tenant = ?9 AND id = ?10`
	qUpdateDoc      = `UPDATE resources SET version = ?, last_modified = ?, doc = ? WHERE tenant = ? AND id = ?`
	qTouchResource  = `UPDATE resources SET version = ?, last_modified = ? WHERE tenant = ? AND id = ?`
	qDeleteResource = `DELETE FROM resources WHERE tenant = ? AND id = ?`

	// emails has no index by id: rows go by their exact keys.
	qDeleteEmail = `DELETE FROM emails WHERE tenant = ? AND id = ? AND value_lc = ?`
	qInsertEmail = `INSERT OR IGNORE INTO emails (tenant, id, value_lc) VALUES (?, ?, ?)`

	// Only ids of existing resources of the tenant, never the group itself.
	// The member's kind and display are copied into the row, so that
	// reading members needs no lookup per member (see Members); CROSS JOIN
	// keeps json_each the outer loop.
	qAddMembers = `INSERT OR IGNORE INTO members (tenant, group_id, member_id, kind, display)
		SELECT ?1, ?2, j.value, r.kind, coalesce(r.display, '')
		FROM json_each(?3) AS j CROSS JOIN resources AS r
		WHERE r.tenant = ?1 AND r.id = j.value AND j.value <> ?2
		RETURNING member_id`
	qRemoveMembers = `DELETE FROM members WHERE tenant = ?1 AND group_id = ?2
		AND member_id IN (SELECT value FROM json_each(?3)) RETURNING member_id`
	qKeepMembers = `DELETE FROM members WHERE tenant = ?1 AND group_id = ?2
		AND member_id NOT IN (SELECT value FROM json_each(?3)) RETURNING member_id`
	qDeleteGroupMembers = `DELETE FROM members WHERE tenant = ? AND group_id = ?`
	// Without INDEXED BY the planner scans the tenant's members by primary key.
	qDeleteMemberships = `DELETE FROM members INDEXED BY members_member WHERE tenant = ? AND member_id = ?`

	qInsertJournal = `INSERT INTO journal (tenant, kind, id, op, version, at, added, removed,
		source, actor, run_id, name, changed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

var writeQueries = []string{
	qGet, qInsertResource, qUpdateResource, qUpdateDoc, qTouchResource, qDeleteResource,
	qDeleteEmail, qInsertEmail, qAddMembers, qRemoveMembers, qKeepMembers,
	qDeleteGroupMembers, qDeleteMemberships, qInsertJournal,
	qPutStateAny, qPutStateNew, qPutStateIf, qDeleteState, qAcquireLease,
}

// Create stores a new resource; see store.Store. It returns a
// *store.ConflictError (errors.Is store.ErrConflict) on a uniqueness
// violation, in which case nothing is written.
func (s *Store) Create(ctx context.Context, r store.Resource, members []store.Member) (store.Resource, error) {
	origin, err := store.RequireOrigin(ctx)
	if err != nil {
		return store.Resource{}, fmt.Errorf("sqlite create: %w", err)
	}
	now := s.now().UTC()
	if err := store.PrepareCreate(&r, members, now); err != nil {
		return store.Resource{}, fmt.Errorf("sqlite create: %w", err)
	}
	doc, err := json.Marshal(r.Attrs)
	if err != nil {
		return store.Resource{}, fmt.Errorf("sqlite create: encode attributes: %w", err)
	}
	sh := shadows(r.Kind, r.Attrs)
	changed, err := store.ChangedAttrs(nil, doc)
	if err != nil {
		return store.Resource{}, fmt.Errorf("sqlite create: %w", err)
	}
	prov, err := newProvenance(origin, store.NameOf(r.Kind, r.Attrs), changed)
	if err != nil {
		return store.Resource{}, fmt.Errorf("sqlite create: %w", err)
	}
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.Value
	}
	err = s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := s.txExec(ctx, tx, qInsertResource, r.Tenant, r.ID, string(r.Kind), r.Version,
			r.Created.UnixNano(), r.LastModified.UnixNano(),
			sh.externalID, sh.userName, sh.displayName, sh.display, sh.active, doc); err != nil {
			return mapErr(err)
		}
		if err := s.insertEmails(ctx, tx, r.Ref, sh.emails); err != nil {
			return err
		}
		var added []string
		if len(ids) > 0 {
			var err error
			if added, err = s.memberRows(ctx, tx, qAddMembers, r.Tenant, r.ID, ids); err != nil {
				return err
			}
		}
		return s.journal(ctx, tx, r.Ref, store.OpCreate, r.Version, now, added, nil, prov)
	})
	if err != nil {
		return store.Resource{}, fmt.Errorf("sqlite create: %w", err)
	}
	return r, nil
}

// Get returns one resource, or store.ErrNotFound.
func (s *Store) Get(ctx context.Context, ref store.Ref) (store.Resource, error) {
	row, err := s.rQueryRow(ctx, qGet, ref.Tenant, ref.ID)
	if err != nil {
		return store.Resource{}, fmt.Errorf("sqlite get: %w", mapErr(err))
	}
	r, _, err := scanResource(row, ref)
	if err != nil {
		return store.Resource{}, fmt.Errorf("sqlite get: %w", err)
	}
	return r, nil
}

// applyDelta applies a membership delta (Replace, then Add, then Remove) and
// returns the member ids it actually added and removed, sorted.
func (s *Store) applyDelta(ctx context.Context, tx *sql.Tx, ref store.Ref, d store.MemberDelta) (added, removed []string, err error) {
	rm := make(map[string]bool, len(d.Remove))
	for _, id := range d.Remove {
		rm[id] = true
	}
	add := make([]string, 0, len(d.Add))
	for _, m := range d.Add {
		if !rm[m.Value] {
			add = append(add, m.Value)
		}
	}
	if d.Replace {
		// Keep only the members that are added again; then add the rest.
		if removed, err = s.memberRows(ctx, tx, qKeepMembers, ref.Tenant, ref.ID, add); err != nil {
			return nil, nil, err
		}
	} else if len(d.Remove) > 0 {
		if removed, err = s.memberRows(ctx, tx, qRemoveMembers, ref.Tenant, ref.ID, d.Remove); err != nil {
			return nil, nil, err
		}
	}
	if len(add) > 0 {
		if added, err = s.memberRows(ctx, tx, qAddMembers, ref.Tenant, ref.ID, add); err != nil {
			return nil, nil, err
		}
	}
	return added, removed, nil
}

// memberRows runs one of the member statements with ids as a JSON array and
// returns the member ids it reports, sorted.
func (s *Store) memberRows(ctx context.Context, tx *sql.Tx, q, tenant, group string, ids []string) ([]string, error) {
	if ids == nil {
		ids = []string{}
	}
	arg, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := s.txQuery(ctx, tx, q, tenant, group, string(arg))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.Sort(out)
	return out, nil
}

// Delete removes a resource and its memberships; see store.Store. It
// returns store.ErrNotFound or store.ErrPrecondition.
func (s *Store) Delete(ctx context.Context, ref store.Ref, ifVersion int64) error {
	origin, err := store.RequireOrigin(ctx)
	if err != nil {
		return fmt.Errorf("sqlite delete: %w", err)
	}
	err = s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		st, err := s.txStmt(ctx, tx, qGet)
		if err != nil {
			return err
		}
		var kind string
		var version, created, modified int64
		var doc []byte
		if err := st.QueryRowContext(ctx, ref.Tenant, ref.ID).Scan(&kind, &version, &created, &modified, &doc); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return store.ErrNotFound
			}
			return err
		}
		if store.Kind(kind) != ref.Kind {
			return store.ErrNotFound
		}
		if ifVersion > 0 && version != ifVersion {
			return store.ErrPrecondition
		}
		// The doc names the user's rows of emails (see shadows) and the
		// name the journal keeps: after the delete it can't be looked up.
		var attrs map[string]any
		if err := json.Unmarshal(doc, &attrs); err != nil {
			return fmt.Errorf("decode %s: %w", ref.ID, err)
		}
		if ref.Kind == store.User {
			if err := s.deleteEmails(ctx, tx, ref, shadows(ref.Kind, attrs).emails); err != nil {
				return err
			}
		}
		for _, q := range []string{qDeleteResource, qDeleteGroupMembers, qDeleteMemberships} {
			if _, err := s.txExec(ctx, tx, q, ref.Tenant, ref.ID); err != nil {
				return err
			}
		}
		prov, _ := newProvenance(origin, store.NameOf(ref.Kind, attrs), nil) // nothing to encode
		return s.journal(ctx, tx, ref, store.OpDelete, version+1, s.now().UTC(), nil, nil, prov)
	})
	if err != nil {
		return fmt.Errorf("sqlite delete: %w", err)
	}
	return nil
}

// Exists returns the kind of each id that exists in the tenant.
func (s *Store) Exists(ctx context.Context, tenant string, ids []string) (map[string]store.Kind, error) {
	out := make(map[string]store.Kind, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	arg, err := json.Marshal(ids)
	if err != nil {
		return nil, fmt.Errorf("sqlite exists: %w", err)
	}
	rows, err := s.rQuery(ctx, `SELECT id, kind FROM resources WHERE tenant = ?1 AND id IN (SELECT value FROM json_each(?2))`, tenant, string(arg))
	if err != nil {
		return nil, fmt.Errorf("sqlite exists: %w", mapErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		var id, kind string
		if err := rows.Scan(&id, &kind); err != nil {
			return nil, fmt.Errorf("sqlite exists: %w", err)
		}
		out[id] = store.Kind(kind)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite exists: %w", err)
	}
	return out, nil
}

// deleteEmails deletes the emails rows of ref's addresses emails.
func (s *Store) deleteEmails(ctx context.Context, tx *sql.Tx, ref store.Ref, emails []string) error {
	return s.execEmails(ctx, tx, qDeleteEmail, ref, emails)
}

// without returns the elements of a that are not in b.
func without(a, b []string) []string {
	var out []string
	for _, e := range a {
		if !slices.Contains(b, e) {
			out = append(out, e)
		}
	}
	return out
}

// insertEmails adds the emails rows of ref's addresses emails.
func (s *Store) insertEmails(ctx context.Context, tx *sql.Tx, ref store.Ref, emails []string) error {
	return s.execEmails(ctx, tx, qInsertEmail, ref, emails)
}

// execEmails runs the prepared emails statement q once per address: one
// prepared statement per address (usually one) is cheaper than handing
// SQLite a JSON array to take apart.
func (s *Store) execEmails(ctx context.Context, tx *sql.Tx, q string, ref store.Ref, emails []string) error {
	if len(emails) == 0 {
		return nil
	}
	st, err := s.txStmt(ctx, tx, q)
	if err != nil {
		return err
	}
	for _, e := range emails {
		if _, err := st.ExecContext(ctx, ref.Tenant, ref.ID, e); err != nil {
			return err
		}
	}
	return nil
}

// provenance is what a journal entry records about its write besides the
// operation (see store.Change), ready for qInsertJournal.
type provenance struct {
	origin  store.Origin
	name    string
	changed any // JSON text of the []store.AttrChange, or nil
}

// newProvenance encodes a write's provenance. Writes call it before they
// queue for the writer, which then has nothing left to encode.
func newProvenance(o store.Origin, name string, changed []store.AttrChange) (provenance, error) {
	p := provenance{origin: o, name: name}
	if len(changed) > 0 {
		b, err := json.Marshal(changed)
		if err != nil {
			return provenance{}, fmt.Errorf("encode changed attributes: %w", err)
		}
		p.changed = string(b)
	}
	return p, nil
}

func (s *Store) journal(ctx context.Context, tx *sql.Tx, ref store.Ref, op store.ChangeOp, version int64, at time.Time, added, removed []string, p provenance) error {
	enc := func(ids []string) (any, error) {
		if len(ids) == 0 {
			return nil, nil
		}
		b, err := json.Marshal(ids)
		return string(b), err
	}
	a, err := enc(added)
	if err != nil {
		return err
	}
	r, err := enc(removed)
	if err != nil {
		return err
	}
	_, err = s.txExec(ctx, tx, qInsertJournal, ref.Tenant, string(ref.Kind), ref.ID, string(op), version, at.UnixNano(), a, r,
		string(p.origin.Source), nullStr(p.origin.Actor), nullStr(p.origin.RunID), nullStr(p.name), p.changed)
	return err
}

// nullStr stores "" as NULL.
func nullStr(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// scanResource scans a qGet row. It returns store.ErrNotFound if there is no
// row or the kind differs from ref.Kind, and the raw doc.
func scanResource(row *sql.Row, ref store.Ref) (store.Resource, []byte, error) {
	var kind string
	var created, modified int64
	var doc []byte
	r := store.Resource{Ref: ref}
	if err := row.Scan(&kind, &r.Version, &created, &modified, &doc); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return store.Resource{}, nil, store.ErrNotFound
		}
		return store.Resource{}, nil, mapErr(err)
	}
	if store.Kind(kind) != ref.Kind {
		return store.Resource{}, nil, store.ErrNotFound
	}
	r.Created, r.LastModified = fromNanos(created), fromNanos(modified)
	if err := json.Unmarshal(doc, &r.Attrs); err != nil {
		return store.Resource{}, nil, fmt.Errorf("decode %s: %w", ref.ID, err)
	}
	return r, doc, nil
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// shadow holds the indexed copies of a resource's attributes; nil means SQL
// NULL.
type shadow struct {
	externalID, userName, displayName, display, active any
	emails                                             []string
}

// sameColumns reports whether sh and o hold the same resources columns.
func (sh shadow) sameColumns(o shadow) bool {
	return sh.externalID == o.externalID && sh.userName == o.userName &&
		sh.displayName == o.displayName && sh.display == o.display && sh.active == o.active
}

func shadows(kind store.Kind, attrs map[string]any) shadow {
	var sh shadow
	if v, ok := attrs["externalId"].(string); ok {
		sh.externalID = v
	}
	dn, hasDN := attrs["displayName"].(string)
	if hasDN {
		sh.displayName = strings.ToLower(dn)
		sh.display = dn
	}
	if kind == store.User {
		if un, ok := attrs["userName"].(string); ok {
			sh.userName = strings.ToLower(un)
			if !hasDN || dn == "" {
				sh.display = un
			}
		}
		if b, ok := attrs["active"].(bool); ok {
			sh.active = b
		}
		addEmail := func(m map[string]any) {
			if v, ok := m["value"].(string); ok {
				sh.emails = append(sh.emails, strings.ToLower(v))
			}
		}
		switch list := attrs["emails"].(type) {
		case []any:
			for _, e := range list {
				if m, ok := e.(map[string]any); ok {
					addEmail(m)
				}
			}
		case []map[string]any:
			for _, m := range list {
				addEmail(m)
			}
		}
	}
	return sh
}
