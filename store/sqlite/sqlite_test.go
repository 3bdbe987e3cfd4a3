package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
	"github.com/scimbridge/scimbridge/store/storetest"
)

func newStore(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "scim.db"),
		sqlite.WithStrictUniqueness(storetest.StrictTenant))
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
		path := filepath.Join(t.TempDir(), "scim.db")
		open := func() store.Store {
			s, err := sqlite.Open(context.Background(), path, sqlite.WithStrictUniqueness(storetest.StrictTenant))
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
		path := filepath.Join(t.TempDir(), "scim.db")
		return func(ctx context.Context, strict ...string) (store.Store, error) {
			return sqlite.Open(ctx, path, sqlite.WithStrictUniqueness(strict...))
		}
	})
}
