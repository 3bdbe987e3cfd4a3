package mongo_test

import (
	"context"
	"testing"

	"github.com/scimbridge/scimbridge/internal/testmongo"
	"github.com/scimbridge/scimbridge/store/mongo"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// TestConsumerReplicas: two handles of one database, as two replicas.
func TestConsumerReplicas(t *testing.T) {
	uri, db := testmongo.DB(t)
	open := func() *mongo.Store {
		s, err := mongo.Open(context.Background(), uri, db)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	storetest.RunConsumerReplicaTest(t, open(), open())
}
