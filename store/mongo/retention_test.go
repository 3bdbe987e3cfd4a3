package mongo_test

import (
	"context"
	"testing"

	"github.com/scimbridge/scimbridge/internal/testmongo"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/mongo"
	"github.com/scimbridge/scimbridge/store/storetest"
)

func TestRetentionReopen(t *testing.T) {
	uri, db := testmongo.DB(t)
	storetest.RunRetentionReopenTest(t, func(ctx context.Context, strict ...string) (store.Store, error) {
		return mongo.Open(ctx, uri, db)
	})
}

// TestTrimReplicas: trimming while two handles of one database write.
func TestTrimReplicas(t *testing.T) {
	uri, db := testmongo.DB(t)
	open := func() *mongo.Store {
		s, err := mongo.Open(context.Background(), uri, db)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	storetest.RunTrimReplicaTest(t, open(), open())
}
