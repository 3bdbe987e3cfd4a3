package scim_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// BenchmarkPatchAdd10kMembers measures one PATCH request that adds 10,000
// members to one group, through the whole HTTP stack (target: < 0.5 s).
func BenchmarkPatchAdd10kMembers(b *testing.B) {
	h := newHarness(b)
	ctx := context.Background()
	ids := make([]any, 10000)
	for i := range ids {
		u, err := h.st.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "default", Kind: store.User},
			Attrs: map[string]any{"userName": fmt.Sprintf("bench%05d@x.com", i)}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = map[string]any{"value": u.ID}
	}
	body := patchOp(map[string]any{"op": "Add", "path": "members", "value": ids})
	var gid string
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		gid = h.createGroup(fmt.Sprintf("bench-group-%d", i)).str("id")
		b.StartTimer()
		if r := h.do("PATCH", "/Groups/"+gid, body); r.status != http.StatusNoContent {
			b.Fatalf("status %d: %s", r.status, r.raw)
		}
	}
	b.StopTimer()
	ms, err := h.st.Members(ctx, store.Ref{Tenant: "default", Kind: store.Group, ID: gid}, "", 0)
	if err != nil || len(ms) != len(ids) {
		b.Fatalf("members %d, %v", len(ms), err)
	}
}
