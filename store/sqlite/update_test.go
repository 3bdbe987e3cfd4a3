package sqlite

import (
	"fmt"
	"testing"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// TestUpdateFallsBackToWriter: after maxOptimistic lost races, Update runs
// fn inside the writer, where it cannot lose, and every write lands once.
func TestUpdateFallsBackToWriter(t *testing.T) {
	s := openT(t)
	ctx := storetest.Background()
	u, err := s.Create(ctx, user("u", "u"), nil)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	out, err := s.Update(ctx, u.Ref, func(r *store.Resource) (store.MemberDelta, error) {
		calls++
		if calls <= maxOptimistic {
			// Lose the race: another write commits while fn runs.
			if _, err := s.Update(ctx, u.Ref, func(r *store.Resource) (store.MemberDelta, error) {
				r.Attrs[fmt.Sprint("other", calls)] = true
				return store.MemberDelta{}, nil
			}); err != nil {
				t.Errorf("concurrent Update: %v", err)
			}
		}
		r.Attrs["mine"] = float64(calls)
		return store.MemberDelta{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != maxOptimistic+1 {
		t.Fatalf("fn called %d times, want %d", calls, maxOptimistic+1)
	}
	got, err := s.Get(ctx, u.Ref)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"userName": "u", "mine": float64(maxOptimistic + 1)}
	for i := 1; i <= maxOptimistic; i++ {
		want[fmt.Sprint("other", i)] = true
	}
	if fmt.Sprint(got.Attrs) != fmt.Sprint(want) || got.Version != int64(maxOptimistic+2) || out.Version != got.Version {
		t.Fatalf("v%d (returned v%d) %v, want v%d %v", got.Version, out.Version, got.Attrs, maxOptimistic+2, want)
	}
}

// TestUpdateNoopSkipsWriter: an Update that changes nothing never queues a
// write.
func TestUpdateNoopSkipsWriter(t *testing.T) {
	s := openT(t)
	ctx := storetest.Background()
	u, err := s.Create(ctx, user("u", "u"), nil)
	if err != nil {
		t.Fatal(err)
	}
	release := hold(t, s) // a queued write would wait for release
	defer release()
	out, err := s.Update(ctx, u.Ref, func(r *store.Resource) (store.MemberDelta, error) {
		r.Attrs["userName"] = "u"
		return store.MemberDelta{}, nil
	})
	if err != nil || out.Version != 1 {
		t.Fatalf("v%d %v", out.Version, err)
	}
}
