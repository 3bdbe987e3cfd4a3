package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
	"github.com/scimbridge/scimbridge/store/storetest"
)

func TestRetentionReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scim.db")
	storetest.RunRetentionReopenTest(t, func(ctx context.Context, strict ...string) (store.Store, error) {
		return sqlite.Open(ctx, path)
	})
}

// TestTrimReplicas: trimming while two handles of one database file write.
func TestTrimReplicas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scim.db")
	open := func() *sqlite.Store {
		s, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	storetest.RunTrimReplicaTest(t, open(), open())
}
