package mongo_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/scimbridge/scimbridge/internal/testmongo"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/mongo"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// TestStrictTwoReplicas races writers on two Stores (replicas) over one
// database on the strict keys of a strict tenant: for each key exactly one
// create or rename wins, the others get a conflict, and every acknowledged
// write has its journal entry.
func TestStrictTwoReplicas(t *testing.T) {
	const tenant, writers, rounds = "t", 6, 3
	ctx := storetest.Background()
	uri, db := testmongo.DB(t)
	var ss []*mongo.Store
	for range 2 {
		s, err := mongo.Open(ctx, uri, db, mongo.WithStrictUniqueness(tenant))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		ss = append(ss, s)
	}
	race := func(what string, write func(s *mongo.Store, w int) error) int {
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[w] = write(ss[w%2], w)
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for w, err := range errs {
			var ce *store.ConflictError
			switch {
			case err == nil:
				won++
			case !errors.As(err, &ce):
				t.Fatalf("%s, writer %d: %v, want success or a conflict", what, w, err)
			}
		}
		if won != 1 {
			t.Fatalf("%s: %d writers won, want 1", what, won)
		}
		return won
	}
	acked := 0
	for r := range rounds {
		acked += race(fmt.Sprintf("group create, round %d", r), func(s *mongo.Store, w int) error {
			_, err := s.Create(ctx, store.Resource{Ref: store.Ref{Tenant: tenant, Kind: store.Group},
				Attrs: map[string]any{"displayName": fmt.Sprintf("Name %d", r)}}, nil)
			return err
		})
		acked += race(fmt.Sprintf("user create, round %d", r), func(s *mongo.Store, w int) error {
			_, err := s.Create(ctx, store.Resource{Ref: store.Ref{Tenant: tenant, Kind: store.User},
				Attrs: map[string]any{"userName": fmt.Sprintf("user%d-%d", r, w), "externalId": fmt.Sprintf("ext%d", r)}}, nil)
			return err
		})
		for w := range writers {
			if _, err := ss[0].Create(ctx, store.Resource{Ref: store.Ref{Tenant: tenant, Kind: store.Group, ID: fmt.Sprintf("r%d-%d", r, w)},
				Attrs: map[string]any{"displayName": fmt.Sprintf("Rename me %d-%d", r, w)}}, nil); err != nil {
				t.Fatal(err)
			}
			acked++
		}
		acked += race(fmt.Sprintf("group rename, round %d", r), func(s *mongo.Store, w int) error {
			_, err := s.Update(ctx, store.Ref{Tenant: tenant, Kind: store.Group, ID: fmt.Sprintf("r%d-%d", r, w)},
				func(res *store.Resource) (store.MemberDelta, error) {
					res.Attrs["displayName"] = fmt.Sprintf("Target %d", r)
					return store.MemberDelta{}, nil
				})
			return err
		})
	}
	for i, s := range ss {
		cs, err := s.Changes(ctx, tenant, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != acked {
			t.Fatalf("replica %d: %d journal entries, want one per acknowledged write (%d)", i, len(cs), acked)
		}
	}
}

// TestOldKeysRelaxed opens a database written by an earlier version, which
// gave every tenant the real displayName and externalId keys (as a strict
// tenant's heads have them now): nothing needs rewriting, the data is kept
// and the RFC 7643 rules apply at once.
func TestOldKeysRelaxed(t *testing.T) {
	ctx := storetest.Background()
	uri, db := testmongo.DB(t)
	old, err := mongo.Open(ctx, uri, db, mongo.WithStrictUniqueness("default")) // writes heads as earlier versions did
	if err != nil {
		t.Fatal(err)
	}
	g1 := store.Ref{Tenant: "default", Kind: store.Group, ID: "g1"}
	u1 := store.Ref{Tenant: "default", Kind: store.User, ID: "u1"}
	if _, err := old.Create(ctx, store.Resource{Ref: u1, Attrs: map[string]any{"userName": "alice", "externalId": "x"}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := old.Create(ctx, store.Resource{Ref: g1, Attrs: map[string]any{"displayName": "Admins", "externalId": "gx"}}, []store.Member{{Value: "u1"}}); err != nil {
		t.Fatal(err)
	}
	old.Close()

	s, err := mongo.Open(ctx, uri, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if g, err := s.Get(ctx, g1); err != nil || g.Attrs["displayName"] != "Admins" || g.Version != 1 {
		t.Fatalf("g1: %+v %v", g, err)
	}
	if ms, err := s.Members(ctx, g1, "", 0); err != nil || len(ms) != 1 {
		t.Fatalf("members of g1: %v %v", ms, err)
	}
	for _, r := range []store.Resource{
		{Ref: store.Ref{Tenant: "default", Kind: store.Group, ID: "g2"}, Attrs: map[string]any{"displayName": "ADMINS", "externalId": "gx"}},
		{Ref: store.Ref{Tenant: "default", Kind: store.User, ID: "u2"}, Attrs: map[string]any{"userName": "bob", "externalId": "x"}},
	} {
		if _, err := s.Create(ctx, r, nil); err != nil {
			t.Fatalf("create %s sharing an old resource's displayName or externalId: %v", r.ID, err)
		}
	}
	// The old resources are written on as usual.
	if _, err := s.Update(ctx, g1, func(r *store.Resource) (store.MemberDelta, error) {
		r.Attrs["displayName"] = "admins"
		return store.MemberDelta{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "default", Kind: store.User, ID: "u3"}, Attrs: map[string]any{"userName": "ALICE"}}, nil)
	var ce *store.ConflictError
	if !errors.As(err, &ce) || ce.Attribute != "userName" {
		t.Fatalf("duplicate userName: %v", err)
	}
}
