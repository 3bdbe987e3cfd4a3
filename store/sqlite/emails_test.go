package sqlite

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// TestEmailRows checks that the emails rows, deleted by their exact keys,
// follow a user's addresses through updates and its deletion.
func TestEmailRows(t *testing.T) {
	ctx := storetest.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows := func() []string {
		t.Helper()
		rs, err := s.r.QueryContext(ctx, `SELECT id || ' ' || value_lc FROM emails ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		var out []string
		for rs.Next() {
			var v string
			if err := rs.Scan(&v); err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		return out
	}
	emails := func(vs ...string) []any {
		var out []any
		for _, v := range vs {
			out = append(out, map[string]any{"value": v})
		}
		return out
	}
	u, err := s.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "t", Kind: store.User, ID: "u"},
		Attrs: map[string]any{"userName": "u", "emails": emails("A@x", "b@x", "a@X")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "t", Kind: store.User, ID: "v"},
		Attrs: map[string]any{"userName": "v", "emails": emails("a@x")}}, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := rows(), []string{"u a@x", "u b@x", "v a@x"}; !slices.Equal(got, want) {
		t.Fatalf("after create: %q, want %q", got, want)
	}
	set := func(vs ...string) {
		t.Helper()
		if _, err := s.Update(ctx, u.Ref, func(r *store.Resource) (store.MemberDelta, error) {
			r.Attrs["emails"] = emails(vs...)
			return store.MemberDelta{}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	set("b@x", "c@x")
	if got, want := rows(), []string{"u b@x", "u c@x", "v a@x"}; !slices.Equal(got, want) {
		t.Fatalf("after update: %q, want %q", got, want)
	}
	set("C@X", "c@x")
	if got, want := rows(), []string{"u c@x", "v a@x"}; !slices.Equal(got, want) {
		t.Fatalf("after update: %q, want %q", got, want)
	}
	if err := s.Delete(ctx, u.Ref, 0); err != nil {
		t.Fatal(err)
	}
	if got, want := rows(), []string{"v a@x"}; !slices.Equal(got, want) {
		t.Fatalf("after delete: %q, want %q", got, want)
	}
}
