package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/query"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// TestQueryFailsWhenMembershipsFail checks that a filter on a user's groups
// or a group's members fails when the memberships cannot be read, instead of
// matching as if they were empty (`not (groups.value eq "x")` would then
// list every user).
func TestQueryFailsWhenMembershipsFail(t *testing.T) {
	ctx := storetest.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "t", Kind: store.User}, Attrs: map[string]any{"userName": "a"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "t", Kind: store.Group}, Attrs: map[string]any{"displayName": "g"}},
		[]store.Member{{Value: u.ID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(`ALTER TABLE members RENAME TO members_gone`); err != nil {
		t.Fatal(err)
	}
	for kind, filter := range map[store.Kind]string{
		store.User:  `not (groups.display eq "x")`,
		store.Group: `not (members.display eq "x")`,
	} {
		f, err := query.Parse(reg.ByName(string(kind)), filter)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := s.Query(ctx, "t", kind, store.Query{Filter: f, Count: 10}); err == nil {
			t.Errorf("%s: %d results without memberships, want an error", filter, p.Total)
		}
	}
}
