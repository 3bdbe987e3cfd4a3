package sqlite

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// TestMemberPlans: reading a group's members is one range scan of members
// (no lookup in resources per member, so its cost does not grow with the
// store), adding members probes resources by id, and a rename updates the
// renamed resource's membership rows through members_member.
func TestMemberPlans(t *testing.T) {
	s := openT(t)
	for _, c := range []struct {
		query string
		args  []any
		want  string
		not   []string
	}{
		{qMembers, []any{"t", "g", "", -1},
			"SEARCH members USING PRIMARY KEY (tenant=? AND group_id=? AND member_id>?)", []string{"resources", "TEMP B-TREE"}},
		{qAddMembers, []any{"t", "g", `["a","b"]`},
			"SEARCH r USING INDEX resources_id (tenant=? AND id=?)", []string{"SCAN r"}},
		// The statement of the members_display trigger (migration 0004).
		{`UPDATE members SET display = ? WHERE tenant = ?2 AND member_id = ?3 AND group_id IN (
			SELECT group_id FROM members INDEXED BY members_member WHERE tenant = ?2 AND member_id = ?3)`,
			[]any{"x", "t", "u"}, "SEARCH members USING COVERING INDEX members_member (tenant=? AND member_id=?)", []string{"SCAN", "PRIMARY KEY (tenant=?)"}},
	} {
		p := strings.Join(queryPlan(t, s.w, c.query, c.args...), "; ")
		bad := !strings.Contains(p, c.want)
		for _, n := range c.not {
			bad = bad || strings.Contains(p, n)
		}
		if bad {
			t.Errorf("%.60s…: plan %q, want %q and none of %q", c.query, p, c.want, c.not)
		}
	}
}

// TestMigrateMemberDisplay: a database written before membership rows held
// the member's kind and display gets them filled in when it is opened.
func TestMigrateMemberDisplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	init, err := migrations.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		string(init),
		`CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1)`,
		`INSERT INTO resources (tenant, id, kind, version, created, last_modified, user_name_lc, display, doc)
			VALUES ('t', 'u1', 'User', 1, 1, 1, 'alice', 'Alice', '{"userName":"alice","displayName":"Alice"}'),
			       ('t', 'g2', 'Group', 1, 1, 1, NULL, 'Nested', '{"displayName":"Nested"}'),
			       ('t', 'g', 'Group', 1, 1, 1, NULL, 'G', '{"displayName":"G"}')`,
		`INSERT INTO members (tenant, group_id, member_id) VALUES ('t', 'g', 'u1'), ('t', 'g', 'g2')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err := Open(storetest.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ms, err := s.Members(storetest.Background(), store.Ref{Tenant: "t", Kind: store.Group, ID: "g"}, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Member{{Value: "g2", Type: store.Group, Display: "Nested"}, {Value: "u1", Type: store.User, Display: "Alice"}}
	if len(ms) != 2 || ms[0] != want[0] || ms[1] != want[1] {
		t.Fatalf("members %+v, want %+v", ms, want)
	}
}

// TestMemberDisplayFollowsRenames: the display copied into membership rows
// follows every change of the member's display: a nested group's
// displayName, a user's displayName, and the userName a user without a
// displayName shows.
func TestMemberDisplayFollowsRenames(t *testing.T) {
	s := openT(t)
	ctx := storetest.Background()
	u, err := s.Create(ctx, user("u", "alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	g2, err := s.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "t", Kind: store.Group, ID: "g2"}, Attrs: map[string]any{"displayName": "Nested"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var groups []store.Ref
	for _, id := range []string{"ga", "gb"} {
		g, err := s.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "t", Kind: store.Group, ID: id}, Attrs: map[string]any{"displayName": id}},
			[]store.Member{{Value: "u"}, {Value: "g2"}})
		if err != nil {
			t.Fatal(err)
		}
		groups = append(groups, g.Ref)
	}
	set := func(ref store.Ref, k string, v any) {
		t.Helper()
		if _, err := s.Update(ctx, ref, func(r *store.Resource) (store.MemberDelta, error) {
			if v == nil {
				delete(r.Attrs, k)
			} else {
				r.Attrs[k] = v
			}
			return store.MemberDelta{}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what, gDisplay, uDisplay string) {
		t.Helper()
		for _, g := range groups {
			ms, err := s.Members(ctx, g, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			want := []store.Member{{Value: "g2", Type: store.Group, Display: gDisplay}, {Value: "u", Type: store.User, Display: uDisplay}}
			if len(ms) != 2 || ms[0] != want[0] || ms[1] != want[1] {
				t.Fatalf("%s: members of %s %+v, want %+v", what, g.ID, ms, want)
			}
		}
	}
	check("created", "Nested", "alice")
	set(g2.Ref, "displayName", "Renamed")
	set(u.Ref, "displayName", "Alice A")
	check("renamed", "Renamed", "Alice A")
	set(u.Ref, "displayName", nil)
	set(u.Ref, "userName", "alice2")
	check("displayName removed, userName changed", "Renamed", "alice2")
}

// TestMemberCopiesAfterDowngrade: a binary from before migration 0003, run
// on an upgraded database, adds membership rows without the member's kind
// and display and renames members without touching those rows. The
// triggers of migration 0004 fill and update them, so the current binary,
// back again, serves what the older one wrote.
func TestMemberCopiesAfterDowngrade(t *testing.T) {
	s := openT(t)
	ctx := storetest.Background()
	if _, err := s.Create(ctx, user("u", "alice"), nil); err != nil {
		t.Fatal(err)
	}
	g, err := s.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "t", Kind: store.Group, ID: "g"}, Attrs: map[string]any{"displayName": "G"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// What the older binary's statements do.
	if _, err := s.w.ExecContext(ctx, `INSERT INTO members (tenant, group_id, member_id) VALUES ('t', 'g', 'u')`); err != nil {
		t.Fatal(err)
	}
	check := func(what, display string) {
		t.Helper()
		ms, err := s.Members(ctx, g.Ref, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		want := store.Member{Value: "u", Type: store.User, Display: display}
		if len(ms) != 1 || ms[0] != want {
			t.Fatalf("%s: members %+v, want %+v", what, ms, want)
		}
	}
	check("added by an older binary", "alice")
	if _, err := s.w.ExecContext(ctx, `UPDATE resources SET display = 'Alice A' WHERE tenant = 't' AND id = 'u'`); err != nil {
		t.Fatal(err)
	}
	check("renamed by an older binary", "Alice A")
}
