package storetest

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/query"
)

// BenchUser is the i-th user of the store benchmarks, in tenant "t" with id
// u%07d and userName user%07d@example.com.
func BenchUser(i int) store.Resource {
	name := fmt.Sprintf("user%07d@example.com", i)
	return store.Resource{
		Ref: store.Ref{Tenant: "t", Kind: store.User, ID: fmt.Sprintf("u%07d", i)},
		Attrs: map[string]any{
			"userName":    name,
			"displayName": fmt.Sprintf("User %d", i),
			"externalId":  fmt.Sprintf("ext-%d", i),
			"active":      true,
			"name":        map[string]any{"givenName": "User", "familyName": fmt.Sprint(i)},
			"emails":      []any{map[string]any{"value": name, "type": "work", "primary": true}},
		},
	}
}

// BenchCreate measures creating users one at a time, the same way on every
// backend.
func BenchCreate(b *testing.B, s store.Store) {
	ctx := Background()
	i := 0
	for b.Loop() {
		if _, err := s.Create(ctx, BenchUser(i), nil); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchGetByUserName measures Entra's lookup, a case-insensitive
// `userName eq` filter with a new value each time, over n users, in parallel.
func BenchGetByUserName(b *testing.B, s store.Store, n int) {
	ctx := Background()
	for i := range n {
		if _, err := s.Create(ctx, BenchUser(i), nil); err != nil {
			b.Fatal(err)
		}
	}
	reg, err := schemas.Load()
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			f, err := query.Parse(reg.User, fmt.Sprintf(`userName eq "USER%07d@example.com"`, (i*7919)%n))
			if err != nil {
				b.Error(err)
				return
			}
			p, err := s.Query(ctx, "t", store.User, store.Query{Filter: f, Count: 10})
			if err != nil || p.Total != 1 {
				b.Errorf("Query: %+v %v", p.Total, err)
				return
			}
		}
	})
}

// BenchUpdate measures updating users one at a time: each update flips
// active (an audited attribute, whose old and new values the journal keeps)
// and sets title, on 1,000 users in turn.
func BenchUpdate(b *testing.B, s store.Store) {
	ctx := Background()
	const n = 1000
	for i := range n {
		if _, err := s.Create(ctx, BenchUser(i), nil); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	for b.Loop() {
		ref := BenchUser(i % n).Ref
		if _, err := s.Update(ctx, ref, func(r *store.Resource) (store.MemberDelta, error) {
			r.Attrs["active"] = r.Attrs["active"] != true
			r.Attrs["title"] = fmt.Sprint(i)
			return store.MemberDelta{}, nil
		}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
