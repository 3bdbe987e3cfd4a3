package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/scimbridge/scimbridge/store/sqlite"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// TestConsumerReplicas: two handles of one database file, as two processes
// would open it.
func TestConsumerReplicas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scim.db")
	open := func() *sqlite.Store {
		s, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	storetest.RunConsumerReplicaTest(t, open(), open())
}
