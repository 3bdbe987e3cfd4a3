package scim_test

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// BenchmarkPatch1000Ops is one PATCH of 1,000 operations (the default
// patch.maxOperations) on a user of one tenant, in-process, while 8 clients
// of another tenant POST users back to back. Besides the PATCH's ns/op it
// reports the latency of the other tenant's POSTs that overlapped a PATCH
// (p50, p99, max): a PATCH that held the store's writer while it ran would
// hold them all up for as long. Two request shapes: "mix" (Entra's
// incremental update, attributes replaced over and over, a list growing by
// an element every fifth operation) and "growing" (every operation adds an
// element through a value filter, `add emails[type eq "tN"].value`, the
// shape whose cost grew with the square of the operations).
//
//	go test -run '^$' -bench Patch1000Ops -benchtime 20x ./scim/
func BenchmarkPatch1000Ops(b *testing.B) {
	var mix, growing []string
	for i := 0; len(mix) < 1000; i++ {
		mix = append(mix,
			fmt.Sprintf(`{"op":"Replace","path":"emails[type eq \"work\"].value","value":"u%d@contoso.com"}`, i),
			`{"op":"Replace","path":"active","value":"False"}`,
			fmt.Sprintf(`{"op":"replace","path":"title","value":"Title %d"}`, i),
			fmt.Sprintf(`{"op":"add","path":"phoneNumbers","value":[{"type":"work","value":"+1 555 %04d"}]}`, i),
			fmt.Sprintf(`{"op":"replace","path":"name.givenName","value":"Given %d"}`, i))
		growing = append(growing, fmt.Sprintf(`{"op":"add","path":"emails[type eq \"t%d\"].value","value":"u%d@contoso.com"}`, i, i))
	}
	for _, c := range []struct {
		name string
		ops  []string
	}{{"mix", mix[:1000]}, {"growing", growing}} {
		b.Run(c.name, func(b *testing.B) {
			benchPatchWithPosts(b, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+strings.Join(c.ops, ",")+`]}`)
		})
	}
}

func benchPatchWithPosts(b *testing.B, body string) {
	h := newHarness(b)
	hd := h.srv.Config.Handler
	ctx := storetest.Background()
	var stop, patching atomic.Bool
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	var n atomic.Int64
	for range 8 { // the other tenant's clients
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				i := n.Add(1)
				req := httptest.NewRequest("POST", "/tenants/acme/scim/v2/Users", strings.NewReader(
					fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"other%d@fabrikam.com","active":true}`, i)))
				req.Header.Set("Authorization", "Bearer "+acmeToken)
				rec := httptest.NewRecorder()
				during := patching.Load()
				t0 := time.Now()
				hd.ServeHTTP(rec, req)
				d := time.Since(t0)
				during = during || patching.Load()
				if rec.Code != 201 {
					panic(fmt.Sprintf("POST in the other tenant: %d %s", rec.Code, rec.Body))
				}
				if during { // only POSTs that overlap a PATCH count
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			}
		}()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		u, err := h.st.Create(ctx, store.Resource{Ref: store.Ref{Tenant: scim.DefaultTenant, Kind: store.User},
			Attrs: map[string]any{"userName": fmt.Sprintf("patched%d@contoso.com", i), "active": true}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		patching.Store(true)
		serve(b, hd, "PATCH", "/scim/v2/Users/"+u.ID, body, 200)
		patching.Store(false)
	}
	b.StopTimer()
	stop.Store(true)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(lat) == 0 {
		b.Fatal("no POST of the other tenant overlapped a PATCH")
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "post-p50-ms")
	b.ReportMetric(q(0.99), "post-p99-ms")
	b.ReportMetric(q(1), "post-max-ms")
	b.ReportMetric(float64(len(lat)), "posts")
}

// BenchmarkPatchRemove10kMembers is Entra's member removal at the size of
// patch.maxMemberValues: one PATCH removing 10,000 members with
// {"op":"Remove","path":"members","value":[{"value":id},…]}, through the
// whole HTTP stack (each id becomes a members[value eq "id"] operation,
// which the engine reads without the filter parser).
//
//	go test -run '^$' -bench PatchRemove10kMembers -benchtime 3x ./scim/
func BenchmarkPatchRemove10kMembers(b *testing.B) {
	h := newHarness(b)
	ctx := storetest.Background()
	members := make([]store.Member, 10000)
	ids := make([]any, len(members))
	for i := range members {
		u, err := h.st.Create(ctx, store.Resource{Ref: store.Ref{Tenant: scim.DefaultTenant, Kind: store.User},
			Attrs: map[string]any{"userName": fmt.Sprintf("rm%05d@x.com", i)}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		members[i] = store.Member{Value: u.ID}
		ids[i] = map[string]any{"value": u.ID}
	}
	body := patchOp(map[string]any{"op": "Remove", "path": "members", "value": ids})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		g, err := h.st.Create(ctx, store.Resource{Ref: store.Ref{Tenant: scim.DefaultTenant, Kind: store.Group},
			Attrs: map[string]any{"displayName": fmt.Sprintf("rm-%d", i)}}, members)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if r := h.do("PATCH", "/Groups/"+g.ID, body); r.status != 204 {
			b.Fatalf("status %d: %s", r.status, r.raw)
		}
		b.StopTimer()
		if ms, err := h.st.Members(ctx, g.Ref, "", 0); err != nil || len(ms) != 0 {
			b.Fatalf("%d members left, %v", len(ms), err)
		}
		b.StartTimer()
	}
}
