package mongo

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/scimbridge/scimbridge/internal/testmongo"
	"github.com/scimbridge/scimbridge/internal/testscale"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// TestGroup200kMembers gives one group 200,000 members with Entra-shaped
// ids (GUIDs) in a single delta, then removes half, on the MongoDB backend.
// The users are inserted straight into the collection: it is the
// membership path under test, and creating 200,000 users one by one would
// take the in-process FerretDB half an hour.
//
// On FerretDB it runs with 20,000 members, which takes the same paths
// (chunked inserts and deletes, the whole-membership read, the scan for
// existing ids): FerretDB v1 matches an $in by testing every document
// against every key, so removing 100,000 of 200,000 members takes it many
// minutes (BENCHMARKS.md). Set SCIMBRIDGE_TEST_MONGO_URI for the full size
// on MongoDB, where those deletes use the _id index.
func TestGroup200kMembers(t *testing.T) {
	n := 200_000
	if os.Getenv(testmongo.EnvURI) == "" || raceDetector {
		n = 20_000
	}
	// 6,000 unless SCIMBRIDGE_TEST_FULL=1 (CI sets it): still more than
	// one 5,000-document chunk of inserts and deletes.
	n = testscale.Size(min(n, 6_000), n)
	ctx := storetest.Background()
	uri, db := testmongo.DB(t)
	s, err := Open(ctx, uri, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	ids := make([]string, n)
	now := time.Now().UnixNano()
	var docs []any
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
		h := &head{Key: rkey("t", ids[i]), T: "t", ID: ids[i], K: string(store.User), V: 1, Inc: newInc(),
			C: now, M: now, O: int64(i + 1), Doc: fmt.Sprintf(`{"userName":%q}`, ids[i])}
		h.setShadows(map[string]any{"userName": ids[i]}, false)
		docs = append(docs, h)
	}
	for chunk := range slices.Chunk(docs, 5000) {
		if _, err := s.res.InsertMany(ctx, chunk); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("inserted %d users in %v", n, time.Since(start))

	g, err := s.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "t", Kind: store.Group, ID: "big"}, Attrs: map[string]any{"displayName": "Big"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	add := make([]store.Member, n)
	for i, id := range ids {
		add[i] = store.Member{Value: id}
	}
	start = time.Now()
	g, err = s.Update(ctx, g.Ref, func(r *store.Resource) (store.MemberDelta, error) {
		return store.MemberDelta{Add: add}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("added %d members in one update in %v", n, time.Since(start))
	if c, err := s.mem.CountDocuments(ctx, bson.D{{Key: "t", Value: "t"}, {Key: "g", Value: "big"}}); err != nil || c != int64(n) {
		t.Fatalf("%d membership records (%v), want %d", c, err, n)
	}
	cs, err := s.Changes(ctx, "t", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if last := cs[len(cs)-1]; last.ID != "big" || last.Version != 2 || len(last.Added) != n {
		t.Fatalf("journal entry %s@%d with %d added, want big@2 with %d", last.ID, last.Version, len(last.Added), n)
	}
	ms, err := s.Members(ctx, g.Ref, ids[n-11], 5)
	if err != nil || len(ms) != 5 || ms[0].Value != ids[n-10] {
		t.Fatalf("paging the group: %v %v", ms, err)
	}
	if mo, err := s.MemberOf(ctx, store.Ref{Tenant: "t", Kind: store.User, ID: ids[n*6/10]}); err != nil || len(mo) != 1 {
		t.Fatalf("memberOf: %v %v", mo, err)
	}
	var h head
	if err := s.res.FindOne(ctx, bson.D{{Key: "_id", Value: rkey("t", "big")}}, options.FindOne()).Decode(&h); err != nil || len(h.Doc) > 100 || h.PJ {
		t.Fatalf("group head: %d bytes of attributes, pending %v (%v)", len(h.Doc), h.PJ, err)
	}

	start = time.Now()
	if _, err := s.Update(ctx, g.Ref, func(r *store.Resource) (store.MemberDelta, error) {
		return store.MemberDelta{Remove: ids[:n/2]}, nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("removed %d members in one update in %v", n/2, time.Since(start))
	if c, err := s.mem.CountDocuments(ctx, bson.D{{Key: "t", Value: "t"}, {Key: "g", Value: "big"}}); err != nil || c != int64(n-n/2) {
		t.Fatalf("%d membership records after removing half (%v), want %d", c, err, n-n/2)
	}
}
