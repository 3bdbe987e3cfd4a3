package transfer_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/internal/testmongo"
	"github.com/scimbridge/scimbridge/internal/transfer"
	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/mongo"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// TestRoundTripMongo moves a tenant from SQLite to MongoDB (an in-process
// FerretDB unless SCIMBRIDGE_TEST_MONGO_URI is set) and back to a fresh
// SQLite store: nothing may be lost or changed on the way.
func TestRoundTripMongo(t *testing.T) {
	if testing.Short() {
		t.Skip("testing.Short: this test starts FerretDB")
	}
	ctx := storetest.Background()
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	uri, db := testmongo.DB(t)
	mdb, err := mongo.Open(ctx, uri, db, mongo.WithSchemas(reg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mdb.Close() })
	src := openStore(t)
	tok := seed(t, src, 200)
	if _, err := transfer.Import(ctx, mdb, bytes.NewReader(export(t, src, "default", "acme")), transfer.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	back := openStore(t)
	if _, err := transfer.Import(ctx, back, bytes.NewReader(export(t, mdb, "default", "acme")), transfer.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tenant := range []string{"default", "acme"} {
		want := snap(t, src, tenant)
		sameSnapshot(t, tenant, snap(t, mdb, tenant), want)
		sameSnapshot(t, tenant, snap(t, back, tenant), want)
	}
	for _, st := range []store.Store{mdb, back} {
		hashes, err := auth.StoredTokenHashes(ctx, st, "default")
		if err != nil || !slices.Contains(hashes, auth.HashToken(tok)) {
			t.Fatalf("token lost: %v", err)
		}
	}
}
