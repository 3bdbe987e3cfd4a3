package storetest

import (
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// testUpdateFnHoldsNoWrite: while one tenant's Update fn runs (a large PATCH
// is a slow fn), another tenant's writes proceed. The fn here blocks until
// the other tenant's Create has returned; a backend that ran fn while holding
// its only writer would never get there.
func testUpdateFnHoldsNoWrite(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	u := mustCreate(t, s, newUser(tenantA, "slow", "slow@a"))
	entered := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	calls := 0
	go func() {
		_, err := s.Update(ctx, u.Ref, func(r *store.Resource) (store.MemberDelta, error) {
			calls++
			if calls == 1 {
				close(entered)
				<-release
			}
			r.Attrs["title"] = "patched"
			return store.MemberDelta{}, nil
		})
		done <- err
	}()
	<-entered
	created := make(chan error, 1)
	go func() {
		_, err := s.Create(ctx, newUser(tenantB, "quick", "quick@b"), nil)
		created <- err
	}()
	select {
	case err := <-created:
		if err != nil {
			t.Fatalf("Create in the other tenant: %v", err)
		}
	case <-time.After(20 * time.Second):
		close(release)
		t.Fatal("a Create in another tenant waited for a running Update fn")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got := mustGet(t, s, u.Ref); got.Attrs["title"] != "patched" || got.Version != 2 {
		t.Fatalf("after Update: v%d %v", got.Version, got.Attrs)
	}
}

// testUpdateLostRace: a write that commits while fn runs makes the Update
// call fn again on the new state; neither write is lost, and what fn
// computed from the stale state is not written.
func testUpdateLostRace(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	for _, id := range []string{"m1", "m2"} {
		mustCreate(t, s, newUser(tenantA, id, id+"@a"))
	}
	g := mustCreate(t, s, newGroup(tenantA, "g", "G"))
	var seen []int64
	out, err := s.Update(ctx, g.Ref, func(r *store.Resource) (store.MemberDelta, error) {
		seen = append(seen, r.Version)
		if len(seen) == 1 {
			// Another client's write lands between our read and our write.
			if _, err := s.Update(ctx, g.Ref, func(r *store.Resource) (store.MemberDelta, error) {
				r.Attrs["other"] = "theirs"
				return store.MemberDelta{Add: memberList("m1")}, nil
			}); err != nil {
				t.Errorf("concurrent Update: %v", err)
			}
		}
		r.Attrs["mine"] = len(seen) // what a stale call computed must not land
		if r.Attrs["other"] == "theirs" {
			r.Attrs["sawOther"] = true
		}
		return store.MemberDelta{Add: memberList("m2")}, nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if len(seen) != 2 || seen[0] != 1 || seen[1] != 2 {
		t.Fatalf("fn saw versions %v, want [1 2] (called again after the lost race)", seen)
	}
	got := mustGet(t, s, g.Ref)
	if got.Version != 3 || out.Version != 3 {
		t.Fatalf("version %d (returned %d), want 3", got.Version, out.Version)
	}
	wantEqual(t, "attributes", canon(t, got.Attrs), canon(t, map[string]any{
		"displayName": "G", "other": "theirs", "mine": 2, "sawOther": true}))
	wantIDs(t, "members", memberIDs(t, s, g.Ref), []string{"m1", "m2"})
	cs := changes(t, s, tenantA, 0)
	last := cs[len(cs)-2:]
	if last[0].Version != 2 || len(last[0].Added) != 1 || last[0].Added[0] != "m1" ||
		last[1].Version != 3 || len(last[1].Added) != 1 || last[1].Added[0] != "m2" {
		t.Fatalf("journal %+v", last)
	}
}
