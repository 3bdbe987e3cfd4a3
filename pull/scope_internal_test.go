package pull

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

// A scoped group's members are stored in records of memberChunk ids, and
// a group that shrinks or goes leaves no stale record behind.
func TestScopeMemberChunks(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "chunks.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e := NewEngine(st, Options{})
	r := newRound(e, RunRequest{Tenant: "t", Source: nopSource{}, Policy: Policy{Scope: &Scope{Groups: []string{"g"}}}}, &RunRecord{ID: "x"})
	if _, err := r.loadScope(ctx); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 2*memberChunk+1)
	for i := range ids {
		ids[i] = fmt.Sprintf("u%06d", i)
	}
	count := func() int {
		ents, err := st.ListState(ctx, "t", r.keys.scopeMemberPrefix())
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	if err := r.putScopeMembers(ctx, "g", ids); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 3 {
		t.Fatalf("%d member records, want 3", n)
	}
	if err := r.putScopeMembers(ctx, "g", ids[:10]); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d member records after shrinking, want 1", n)
	}
	// A new round reads them back.
	if _, err := st.PutState(ctx, "t", r.keys.scopeGroup("g"), []byte(`{"name":"G","chunks":1}`), -1); err != nil {
		t.Fatal(err)
	}
	r2 := newRound(e, r.req, &RunRecord{ID: "y"})
	if _, err := r2.loadScope(ctx); err != nil {
		t.Fatal(err)
	}
	if g := r2.scope.groups["g"]; g == nil || len(g.members) != 10 || !g.members["u000009"] {
		t.Fatalf("loaded %+v", g)
	}
	if err := r2.putScopeMembers(ctx, "g", nil); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d member records after removal", n)
	}
}

type nopSource struct{}

func (nopSource) Kind() store.Source { return store.SourcePullGraph }
func (nopSource) Read(context.Context, ReadRequest, Observer) (Result, error) {
	return Result{}, nil
}
func (nopSource) Users(context.Context, []string, Observer) error { return nil }
