package mongo_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/query"
)

// FerretDB figures are not MongoDB figures: run with
// SCIMBRIDGE_TEST_MONGO_URI set for those.

func benchUser(i int) store.Resource {
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

func BenchmarkCreate(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, err := s.Create(ctx, benchUser(i), nil); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkGetByUserName(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	const n = 1000
	for i := range n {
		if _, err := s.Create(ctx, benchUser(i), nil); err != nil {
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
