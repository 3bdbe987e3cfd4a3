package scim_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// BenchmarkPatchAdd10kMembers measures one PATCH request that adds 10,000
// members to one group, through the whole HTTP stack (target: < 0.5 s).
func BenchmarkPatchAdd10kMembers(b *testing.B) {
	h := newHarness(b)
	ctx := storetest.Background()
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

// benchHandler returns the real handler on a fresh SQLite store with n users.
func benchHandler(b *testing.B, n int) (http.Handler, []string) {
	h := newHarness(b)
	ctx := storetest.Background()
	ids := make([]string, n)
	for i := range ids {
		u, err := h.st.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "default", Kind: store.User},
			Attrs: map[string]any{
				"userName": fmt.Sprintf("user%d@contoso.com", i), "active": true,
				"emails": []any{map[string]any{"type": "work", "value": fmt.Sprintf("user%d@contoso.com", i), "primary": true}},
			}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = u.ID
	}
	return h.srv.Config.Handler, ids
}

func serve(b *testing.B, hd http.Handler, method, target, body string, want int) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	hd.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("%s %s: %d %s", method, target, rec.Code, rec.Body.String())
	}
}

// BenchmarkLookupUserNameEq is Entra's lookup: a userName eq filter with a
// different value each time, in-process (no network).
func BenchmarkLookupUserNameEq(b *testing.B) {
	hd, _ := benchHandler(b, 2000)
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1) % 2000
			serve(b, hd, "GET", "/scim/v2/Users?filter="+url.QueryEscape(fmt.Sprintf(`userName eq "user%d@contoso.com"`, i)), "", 200)
		}
	})
}

// BenchmarkCreateUser is Entra's POST /Users body, in-process.
func BenchmarkCreateUser(b *testing.B) {
	hd, _ := benchHandler(b, 0)
	var n atomic.Int64
	b.SetParallelism(8) // Entra-like concurrency: 16 clients on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"ext%d","userName":"new%d@contoso.com","active":true,"displayName":"Given Family","name":{"formatted":"Given Family","familyName":"Family","givenName":"Given"},"emails":[{"primary":true,"type":"work","value":"new%d@contoso.com"}],"title":"Engineer","meta":{"resourceType":"User"},"roles":[],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales","employeeNumber":"%d"}}`, i, i, i, i)
			serve(b, hd, "POST", "/scim/v2/Users", body, 201)
		}
	})
}

// BenchmarkPatchUserEntra is Entra's incremental update, in-process.
func BenchmarkPatchUserEntra(b *testing.B) {
	hd, ids := benchHandler(b, 2000)
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"u%d@contoso.com"},{"op":"Replace","path":"active","value":"False"}]}`, i)
			serve(b, hd, "PATCH", "/scim/v2/Users/"+ids[i%int64(len(ids))], body, 200)
		}
	})
}

// BenchmarkPatchMembers50 is Entra's member batch: one PATCH adding 50
// members to one of 20 groups, in-process, 16-way concurrent.
func BenchmarkPatchMembers50(b *testing.B) {
	hd, ids := benchHandler(b, 5000)
	var groups []string
	for g := 0; g < 20; g++ {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/scim/v2/Groups", strings.NewReader(fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G%d"}`, g)))
		req.Header.Set("Authorization", "Bearer "+testToken)
		hd.ServeHTTP(rec, req)
		var out struct{ ID string }
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.ID == "" {
			b.Fatalf("create group: %d %s", rec.Code, rec.Body.String())
		}
		groups = append(groups, out.ID)
	}
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(n.Add(1))
			var vals []string
			for k := 0; k < 50; k++ {
				vals = append(vals, fmt.Sprintf(`{"value":%q}`, ids[(i*50+k)%len(ids)]))
			}
			body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[` + strings.Join(vals, ",") + `]}]}`
			serve(b, hd, "PATCH", "/scim/v2/Groups/"+groups[i%len(groups)], body, 204)
		}
	})
}
