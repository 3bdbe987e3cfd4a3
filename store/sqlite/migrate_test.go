package sqlite_test

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/query"
	"github.com/scimbridge/scimbridge/store/sqlite"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// oldDatabase builds a database as scimbridge left it before migration 2
// (schema version 1, unique indexes on externalId and group displayName),
// holding two users, a group with both as members and their journal.
func oldDatabase(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "old.db")
	init, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		string(init),
		`CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1)`,
		`INSERT INTO resources (tenant, id, kind, version, created, last_modified, external_id, user_name_lc, display_name_lc, display, active, doc) VALUES
			('default', 'u1', 'User', 3, 1000, 2000, 'ext-1', 'alice', NULL, 'alice', 1, '{"userName":"alice","externalId":"ext-1","active":true}'),
			('default', 'u2', 'User', 1, 1100, 1100, 'ext-2', 'bob', 'bob b', 'Bob B', NULL, '{"userName":"bob","externalId":"ext-2","displayName":"Bob B"}'),
			('default', 'g1', 'Group', 2, 1200, 1300, 'gext', NULL, 'admins', 'Admins', NULL, '{"displayName":"Admins","externalId":"gext"}')`,
		`INSERT INTO members (tenant, group_id, member_id) VALUES ('default', 'g1', 'u1'), ('default', 'g1', 'u2')`,
		`INSERT INTO emails (tenant, value_lc, id) VALUES ('default', 'alice@example.com', 'u1')`,
		`INSERT INTO journal (tenant, kind, id, op, version, at) VALUES ('default', 'User', 'u1', 'create', 1, 1000)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// The old rules hold in the old schema.
	if _, err := db.Exec(`INSERT INTO resources (tenant, id, kind, version, created, last_modified, external_id, display_name_lc, doc)
		VALUES ('default', 'g2', 'Group', 1, 1, 1, NULL, 'admins', '{}')`); err == nil {
		t.Fatal("old schema accepted a duplicate group displayName")
	}
	return path
}

func TestMigrateRelaxesUniqueness(t *testing.T) {
	ctx := storetest.Background()
	path := oldDatabase(t)
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("open old database: %v", err)
	}
	defer s.Close()
	// Data kept.
	u1, err := s.Get(ctx, store.Ref{Tenant: "default", Kind: store.User, ID: "u1"})
	if err != nil || u1.Version != 3 || u1.Attrs["externalId"] != "ext-1" || u1.Created.UnixNano() != 1000 {
		t.Fatalf("u1 after migration: %+v %v", u1, err)
	}
	g1 := store.Ref{Tenant: "default", Kind: store.Group, ID: "g1"}
	if g, err := s.Get(ctx, g1); err != nil || g.Attrs["displayName"] != "Admins" || g.Version != 2 {
		t.Fatalf("g1 after migration: %+v %v", g, err)
	}
	if ms, err := s.Members(ctx, g1, "", 0); err != nil || len(ms) != 2 {
		t.Fatalf("members after migration: %v %v", ms, err)
	}
	// An entry from before provenance (migration 5) reads without one.
	if cs, err := s.Changes(ctx, "default", 0, 0); err != nil || len(cs) != 1 ||
		cs[0].Origin != (store.Origin{}) || cs[0].Name != "" || cs[0].Changed != nil {
		t.Fatalf("journal after migration: %+v %v", cs, err)
	}
	// The rules are RFC 7643's now.
	if _, err := s.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "default", Kind: store.Group, ID: "g2"},
		Attrs: map[string]any{"displayName": "ADMINS", "externalId": "gext"}}, nil); err != nil {
		t.Fatalf("duplicate group displayName and externalId after migration: %v", err)
	}
	if cs, err := s.Changes(ctx, "default", 1, 0); err != nil || len(cs) != 1 ||
		cs[0].Origin != storetest.TestOrigin || cs[0].Name != "ADMINS" || len(cs[0].Changed) != 2 {
		t.Fatalf("journal entry of a write after migration: %+v %v", cs, err)
	}
	if _, err := s.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "default", Kind: store.User, ID: "u3"},
		Attrs: map[string]any{"userName": "carol", "externalId": "ext-1"}}, nil); err != nil {
		t.Fatalf("duplicate externalId after migration: %v", err)
	}
	_, err = s.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "default", Kind: store.User, ID: "u4"},
		Attrs: map[string]any{"userName": "ALICE"}}, nil)
	var ce *store.ConflictError
	if !errors.As(err, &ce) || ce.Attribute != "userName" {
		t.Fatalf("duplicate userName after migration: %v", err)
	}
	// externalId filters still have their index.
	p, err := s.Query(ctx, "default", store.User, store.Query{Filter: parseFilter(t, store.User, `externalId eq "ext-1"`), Count: 10})
	if err != nil || p.Total != 2 {
		t.Fatalf("externalId filter after migration: %d %v", p.Total, err)
	}
}

func TestMigrateThenStrict(t *testing.T) {
	ctx := storetest.Background()
	s, err := sqlite.Open(ctx, oldDatabase(t), sqlite.WithStrictUniqueness("default"))
	if err != nil {
		t.Fatalf("open old database with the default tenant strict: %v", err)
	}
	defer s.Close()
	_, err = s.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "default", Kind: store.Group, ID: "g2"},
		Attrs: map[string]any{"displayName": "ADMINS"}}, nil)
	var ce *store.ConflictError
	if !errors.As(err, &ce) || ce.Attribute != "displayName" {
		t.Fatalf("duplicate group displayName in a strict tenant after migration: %v", err)
	}
	_, err = s.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "default", Kind: store.User, ID: "u3"},
		Attrs: map[string]any{"userName": "carol", "externalId": "ext-2"}}, nil)
	if !errors.As(err, &ce) || ce.Attribute != "externalId" {
		t.Fatalf("duplicate externalId in a strict tenant after migration: %v", err)
	}
}

func parseFilter(t *testing.T, kind store.Kind, filter string) query.Filter {
	t.Helper()
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	f, err := query.Parse(reg.ByName(string(kind)), filter)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestMigrateAddsScanIndex opens a database from before migration 8: Scan
// works on the resources it held, by the index that migration adds.
func TestMigrateAddsScanIndex(t *testing.T) {
	ctx := storetest.Background()
	path := oldDatabase(t)
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("open old database: %v", err)
	}
	rs, err := s.Scan(ctx, "default", store.User, "", 0)
	if err != nil || len(rs) != 2 || rs[0].ID != "u1" || rs[1].ID != "u2" || rs[0].Version != 3 || rs[1].Attrs["displayName"] != "Bob B" {
		t.Fatalf("Scan users after migration: %+v %v", rs, err)
	}
	if rs, err := s.Scan(ctx, "default", store.Group, "", 0); err != nil || len(rs) != 1 || rs[0].ID != "g1" {
		t.Fatalf("Scan groups after migration: %+v %v", rs, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var version int
	var index string
	if err := db.QueryRow(`SELECT version FROM schema_version`).Scan(&version); err != nil || version < 8 {
		t.Fatalf("schema version %d: %v", version, err)
	}
	if err := db.QueryRow(`SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'resources_kind_id'`).Scan(&index); err != nil ||
		!strings.Contains(index, "(kind, tenant, id)") {
		t.Fatalf("index resources_kind_id after migration: %q %v", index, err)
	}
}
