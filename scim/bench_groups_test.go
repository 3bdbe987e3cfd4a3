package scim_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// BenchmarkGetGroup100Members is GET /Groups/{id} of a group with 100
// members (loadgen's reads phase), in-process, many concurrent readers, on a
// store of 10,000 or 100,000 users whose WAL is checkpointed before timing:
// the cost of a read must not depend on the store's size.
//
//	go test -run '^$' -bench 'GetGroup100Members/users=10000$' ./scim/
func BenchmarkGetGroup100Members(b *testing.B) {
	for _, users := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			hd, groups := groupReadStore(b, users, 20, 100)
			var mu sync.Mutex
			next := 0
			b.SetParallelism(8) // 16 readers on 2 cores, as loadgen's reads phase
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					mu.Lock()
					g := groups[next%len(groups)]
					next++
					mu.Unlock()
					req := httptest.NewRequest("GET", "/scim/v2/Groups/"+g, nil)
					req.Header.Set("Authorization", "Bearer "+testToken)
					rec := httptest.NewRecorder()
					hd.ServeHTTP(rec, req)
					if rec.Code != 200 || rec.Body.Len() < 100*40 {
						b.Fatalf("GET group: %d %.200s", rec.Code, rec.Body.String())
					}
				}
			})
		})
	}
}

// groupReadStore builds a handler on a fresh SQLite store holding users
// users and groups groups of perGroup members each (the first users), with
// the WAL checkpointed into the database file.
func groupReadStore(b *testing.B, users, groups, perGroup int) (http.Handler, []string) {
	b.Helper()
	ctx := storetest.Background()
	path := filepath.Join(b.TempDir(), "scim.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	ids := make([]string, users)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < users; i += 16 {
				u, err := st.Create(ctx, store.Resource{Ref: store.Ref{Tenant: scim.DefaultTenant, Kind: store.User},
					Attrs: map[string]any{
						"userName": fmt.Sprintf("user%d@contoso.com", i), "displayName": fmt.Sprintf("User %d", i), "active": true,
						"emails": []any{map[string]any{"type": "work", "value": fmt.Sprintf("user%d@contoso.com", i), "primary": true}},
					}}, nil)
				if err != nil {
					errs <- err
					return
				}
				ids[i] = u.ID
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	gids := make([]string, groups)
	for g := range gids {
		members := make([]store.Member, perGroup)
		for k := range members {
			members[k] = store.Member{Value: ids[(g*perGroup+k)%users]}
		}
		gr, err := st.Create(ctx, store.Resource{Ref: store.Ref{Tenant: scim.DefaultTenant, Kind: store.Group},
			Attrs: map[string]any{"displayName": fmt.Sprintf("Group %d", g)}}, members)
		if err != nil {
			b.Fatal(err)
		}
		gids[g] = gr.ID
	}
	// Checkpoint the WAL so that reads measure the database file, not the
	// pages of the setup still in the WAL.
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	// The store's own background checkpointer may hold the checkpoint lock
	// for a moment: retry until a TRUNCATE gets through.
	for try := 0; ; try++ {
		var busy, logFrames, ckpt int
		err := db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &ckpt)
		if err == nil && busy == 0 {
			break
		}
		if try == 100 {
			b.Fatalf("checkpoint: busy=%d %v", busy, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	reg, err := schemas.Load()
	if err != nil {
		b.Fatal(err)
	}
	h, err := scim.NewHandler(scim.Options{Store: st, Schemas: reg, Tenants: []auth.Tenant{
		{Name: scim.DefaultTenant, TokenHashes: [][32]byte{auth.HashToken(testToken)}},
	}})
	if err != nil {
		b.Fatal(err)
	}
	var probe map[string]any
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/scim/v2/Groups/"+gids[0], nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	h.ServeHTTP(rec, req)
	if err := json.Unmarshal(rec.Body.Bytes(), &probe); err != nil || len(probe["members"].([]any)) != perGroup {
		b.Fatalf("probe: %d %v", rec.Code, err)
	}
	return h, gids
}
