package mongo_test

import (
	"context"
	"flag"
	"os"
	"testing"

	"github.com/scimbridge/scimbridge/internal/testmongo"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/mongo"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// TestMain shrinks storetest's LargeGroup (via -short) on the in-process
// FerretDB, whose SQLite backend takes ~8ms per write: 20,000 creates do not
// fit the suite's 2-minute limit there. Against a real MongoDB
// (SCIMBRIDGE_TEST_MONGO_URI) the full size runs.
func TestMain(m *testing.M) {
	flag.Parse()
	if os.Getenv(testmongo.EnvURI) == "" {
		_ = flag.Set("test.short", "true")
	}
	os.Exit(m.Run())
}

func newStore(t testing.TB) *mongo.Store {
	t.Helper()
	uri, db := testmongo.DB(t)
	s, err := mongo.Open(context.Background(), uri, db, mongo.WithStrictUniqueness(storetest.StrictTenant))
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

func TestReplicas(t *testing.T) {
	storetest.RunReplicaTests(t, func(t *testing.T) (store.Store, store.Store) {
		uri, db := testmongo.DB(t)
		open := func() store.Store {
			s, err := mongo.Open(context.Background(), uri, db, mongo.WithStrictUniqueness(storetest.StrictTenant))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		return open(), open()
	})
}

func TestStrictOpen(t *testing.T) {
	storetest.RunStrictOpenTests(t, func(t *testing.T) storetest.Opener {
		uri, db := testmongo.DB(t)
		return func(ctx context.Context, strict ...string) (store.Store, error) {
			return mongo.Open(ctx, uri, db, mongo.WithStrictUniqueness(strict...))
		}
	})
}
