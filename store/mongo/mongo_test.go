package mongo_test

import (
	"context"
	"testing"

	"github.com/scimbridge/scimbridge/internal/testmongo"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/mongo"
	"github.com/scimbridge/scimbridge/store/storetest"
)

func newStore(t testing.TB) *mongo.Store {
	t.Helper()
	uri, db := testmongo.DB(t)
	s, err := mongo.Open(context.Background(), uri, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.RunTests(t, func(t *testing.T) store.Store { return newStore(t) })
}

func TestConcurrency(t *testing.T) {
	storetest.RunConcurrencyTests(t, func(t *testing.T) store.Store { return newStore(t) })
}
