package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/query"
)

// TestIndexedFilters checks that the indexed filters are index lookups, not
// scans of the tenant's resources.
func TestIndexedFilters(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		kind    store.Kind
		filter  string
		index   string
		inexact bool // Match checks what the index can't (the e-mail's type)
	}{
		{store.User, `userName eq "Alice"`, "resources_user_name", false},
		{store.User, `externalId eq "x"`, "resources_external_id", false},
		{store.User, `emails.value eq "a@b"`, "e USING PRIMARY KEY (tenant=? AND value_lc=?)", false},
		{store.User, `id eq "u1"`, "resources_id", false},
		{store.Group, `displayName eq "G"`, "resources_display_name", false},
		{store.Group, `members eq "u1"`, "members_member", false},
		{store.Group, `id eq "g1" and members eq "u1"`, "resources_id", false},
		{store.User, `meta.lastModified gt "2024-01-01T00:00:00Z"`, "resources_last_modified", false},
		{store.User, `emails[type eq "work"].value eq "a@b"`, "e USING PRIMARY KEY (tenant=? AND value_lc=?)", true},
		{store.User, `groups.value eq "g1"`, "m USING PRIMARY KEY (tenant=? AND group_id=?)", false},
	} {
		f, err := query.Parse(reg.ByName(string(c.kind)), c.filter)
		if err != nil {
			t.Fatal(err)
		}
		terms, exact := query.Plan(f)
		if exact == c.inexact {
			t.Errorf("%s: planned exactly = %v", c.filter, exact)
		}
		where, args, err := whereClause("t", c.kind, terms)
		if err != nil {
			t.Fatal(err)
		}
		p := strings.Join(queryPlan(t, s.r, `SELECT r.id FROM resources AS r WHERE `+where+` ORDER BY r.rid LIMIT 10`, args...), "; ")
		if !strings.Contains(p, c.index) || strings.Contains(p, "SCAN r") || strings.Contains(p, "resources_kind") {
			t.Errorf("%s: plan %q does not use %s", c.filter, p, c.index)
		}
	}
}

// TestListPlans checks the shapes that have no filter term or one without
// an index of its own: a kind is listed in creation order through
// resources_kind, without a sort and without scanning other kinds.
func TestListPlans(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		query string
		index string
	}{
		{`SELECT r.id FROM resources AS r WHERE r.tenant = 't' AND r.kind = 'User' ORDER BY r.rid LIMIT 10 OFFSET 5`, "resources_kind"},
		{`SELECT count(*) FROM resources AS r WHERE r.tenant = 't' AND r.kind = 'User'`, "(tenant=? AND kind=?)"},
		{`SELECT r.id FROM resources AS r WHERE r.tenant = 't' AND r.kind = 'User' AND r.created > 5 ORDER BY r.rid LIMIT 10`, "resources_kind"},
		{`SELECT r.id FROM resources AS r WHERE r.tenant = 't' AND r.kind = 'User' AND r.active = 1 ORDER BY r.rid LIMIT 10`, "resources_kind"},
		{`SELECT r.id FROM resources AS r WHERE r.tenant = 't' AND r.kind = 'User' AND r.id IN (SELECT e.id FROM emails AS e WHERE e.tenant = 't' AND (e.value_lc >= 'a' AND substr(e.value_lc, 1, 1) = 'a')) ORDER BY r.rid LIMIT 10`, "PRIMARY KEY (tenant=? AND value_lc>?)"},
	} {
		p := strings.Join(queryPlan(t, s.r, c.query), "; ")
		if !strings.Contains(p, c.index) || strings.Contains(p, "SCAN r") || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("%s: plan %q does not use %s", c.query, p, c.index)
		}
	}
}

// queryPlan returns the detail lines of SQLite's EXPLAIN QUERY PLAN for
// query, for the tests that check a statement uses its index.
func queryPlan(t *testing.T, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(`EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}
