package sqlite_test

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/query"
	"github.com/scimbridge/scimbridge/store/storetest"
)

func BenchmarkCreate(b *testing.B) { storetest.BenchCreate(b, newStore(b)) }

func BenchmarkUpdate(b *testing.B) { storetest.BenchUpdate(b, newStore(b)) }

func BenchmarkGetByUserName(b *testing.B) { storetest.BenchGetByUserName(b, newStore(b), 10000) }

func BenchmarkHistory(b *testing.B) { storetest.BenchHistory(b, newStore(b), 10000) }

func BenchmarkAddMembers10k(b *testing.B) {
	s := newStore(b)
	ctx := storetest.Background()
	const n = 10000
	var ms []store.Member
	for i := range n {
		r, err := s.Create(ctx, storetest.BenchUser(i), nil)
		if err != nil {
			b.Fatal(err)
		}
		ms = append(ms, store.Member{Value: r.ID})
	}
	gi := 0
	for b.Loop() {
		gi++
		g, err := s.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "t", Kind: store.Group},
			Attrs: map[string]any{"displayName": fmt.Sprint("g", gi)}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		out, err := s.Update(ctx, g.Ref, func(r *store.Resource) (store.MemberDelta, error) {
			return store.MemberDelta{Add: ms}, nil
		})
		if err != nil || out.Version != 2 {
			b.Fatal(err)
		}
	}
}

// The parallel benchmarks run 16 writers (8 per GOMAXPROCS on the 2-core
// reference box), the shape of an Entra provisioning cycle. Besides ns/op
// they report cpu-ns/op, the process CPU time (user+system) per operation,
// which stays meaningful on a shared, loaded machine.

// cpuTime is the process's CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runParallel runs body in b.RunParallel with 16 writers and reports
// cpu-ns/op.
func runParallel(b *testing.B, body func(pb *testing.PB)) {
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	c0 := cpuTime()
	b.RunParallel(body)
	b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
}

func BenchmarkParallelCreate(b *testing.B) {
	s := newStore(b)
	ctx := storetest.Background()
	var next atomic.Int64
	runParallel(b, func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Create(ctx, storetest.BenchUser(int(next.Add(1))), nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkParallelUpdate(b *testing.B) {
	s := newStore(b)
	ctx := storetest.Background()
	const n = 1000
	for i := range n {
		if _, err := s.Create(ctx, storetest.BenchUser(i), nil); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	runParallel(b, func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			ref := store.Ref{Tenant: "t", Kind: store.User, ID: fmt.Sprintf("u%07d", (i*7919)%n)}
			if _, err := s.Update(ctx, ref, func(r *store.Resource) (store.MemberDelta, error) {
				r.Attrs["title"] = fmt.Sprint("t", i)
				return store.MemberDelta{}, nil
			}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkParallelGroupMembers adds one member per call to a few hot groups.
func BenchmarkParallelGroupMembers(b *testing.B) {
	s := newStore(b)
	ctx := storetest.Background()
	const users, groups = 5000, 4
	for i := range users {
		if _, err := s.Create(ctx, storetest.BenchUser(i), nil); err != nil {
			b.Fatal(err)
		}
	}
	var refs []store.Ref
	for g := range groups {
		r, err := s.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "t", Kind: store.Group},
			Attrs: map[string]any{"displayName": fmt.Sprint("g", g)}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		refs = append(refs, r.Ref)
	}
	var next atomic.Int64
	runParallel(b, func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			id := fmt.Sprintf("u%07d", i%users)
			if _, err := s.Update(ctx, refs[i%groups], func(r *store.Resource) (store.MemberDelta, error) {
				return store.MemberDelta{Add: []store.Member{{Value: id}}}, nil
			}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkGroup200kMembers builds a 200,000-member group (20 PATCH-sized
// deltas of 10,000), then reads the member list back and pages through it,
// and checks a membership filter. It shows such a group works: no document
// grows with its membership.
func BenchmarkGroup200kMembers(b *testing.B) {
	const n = 200000
	s := newStore(b)
	ctx := storetest.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				if _, err := s.Create(ctx, storetest.BenchUser(i), nil); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		g, err := s.Create(ctx, store.Resource{Ref: store.Ref{Tenant: "t", Kind: store.Group},
			Attrs: map[string]any{"displayName": fmt.Sprintf("big-%d", time.Now().UnixNano())}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for k := 0; k < n; k += 10000 {
			add := make([]store.Member, 0, 10000)
			for i := k; i < k+10000; i++ {
				add = append(add, store.Member{Value: fmt.Sprintf("u%07d", i)})
			}
			if _, err := s.Update(ctx, g.Ref, func(r *store.Resource) (store.MemberDelta, error) {
				return store.MemberDelta{Add: add}, nil
			}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/add200k")
		start = time.Now()
		all, err := s.Members(ctx, g.Ref, "", 0)
		if err != nil || len(all) != n {
			b.Fatalf("members: %d, %v", len(all), err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/read200k")
		page, err := s.Members(ctx, g.Ref, all[n/2].Value, 100)
		if err != nil || len(page) != 100 {
			b.Fatalf("page: %d, %v", len(page), err)
		}
		reg, err := schemas.Load()
		if err != nil {
			b.Fatal(err)
		}
		f, err := query.Parse(reg.Group, fmt.Sprintf(`members eq "u%07d"`, n-1))
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		res, err := s.Query(ctx, "t", store.Group, store.Query{Filter: f, Count: 10})
		if err != nil || res.Total < 1 {
			b.Fatalf("members eq: %+v, %v", res, err)
		}
		b.ReportMetric(time.Since(start).Seconds()*1000, "ms/membersEq")
	}
}

func BenchmarkTrim(b *testing.B) { storetest.BenchTrim(b, newStore(b), 10000, 1000) }
