package pull_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/pull"
	"github.com/scimbridge/scimbridge/store"
)

// scaleSource generates a directory lazily: users users (each with a
// manager, half of them observed later in the round), groups groups and
// perUser memberships per user, emitted as Graph would, groups first with
// their members split over observations of 100.
type scaleSource struct {
	users, groups, perUser int
}

func (s *scaleSource) Kind() store.Source { return store.SourcePullGraph }

func (s *scaleSource) obj(i int) string { return fmt.Sprintf("u%07d", i) }

func (s *scaleSource) user(i int) pull.User {
	u := pull.User{ObjectID: s.obj(i), Enabled: true, Attrs: map[string]any{
		"userName":    fmt.Sprintf("user%07d@bench.example", i),
		"displayName": fmt.Sprintf("User %d", i),
		"name":        map[string]any{"givenName": "User", "familyName": strconv.Itoa(i)},
		"emails":      []any{map[string]any{"value": fmt.Sprintf("user%07d@bench.example", i), "type": "work", "primary": true}},
		"title":       "Engineer",
		"externalId":  s.obj(i),
		pull.EnterpriseURN: map[string]any{
			"department":     fmt.Sprintf("Dept %d", i%50),
			"employeeNumber": strconv.Itoa(100000 + i),
		},
	}}
	if i > 0 {
		m := s.obj((i + s.users/2) % s.users) // every other manager comes later
		u.Manager = &m
	}
	return u
}

func (s *scaleSource) Read(ctx context.Context, req pull.ReadRequest, obs pull.Observer) (pull.Result, error) {
	for g := range s.groups {
		var batch []string
		flush := func() error {
			err := obs.Group(ctx, pull.Group{ObjectID: fmt.Sprintf("g%05d", g), DisplayName: fmt.Sprintf("Group %d", g),
				MembersComplete: true, Added: batch})
			batch = nil
			obs.Page(ctx, store.Group)
			return err
		}
		// User i is in groups i%G ... (i+perUser-1)%G.
		for k := range s.perUser {
			for i := ((g-k)%s.groups + s.groups) % s.groups; i < s.users; i += s.groups {
				batch = append(batch, s.obj(i))
				if len(batch) == 100 {
					if err := flush(); err != nil {
						return pull.Result{}, err
					}
				}
			}
		}
		if err := flush(); err != nil {
			return pull.Result{}, err
		}
	}
	for i := range s.users {
		if err := obs.User(ctx, s.user(i)); err != nil {
			return pull.Result{}, err
		}
		if i%100 == 99 {
			obs.Page(ctx, store.User)
		}
	}
	return pull.Result{Checkpoint: []byte("bench"), Full: true}, nil
}

func (s *scaleSource) Users(ctx context.Context, ids []string, obs pull.Observer) error {
	return fmt.Errorf("scaleSource: Users not expected")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkFullPull is a dry run of a first full pull into an empty SQLite
// store, the pull itself, then a replayed one (nothing changes). The goal (issue 15) is 100,000 users,
// 2,000 groups and 300,000 memberships in under 60 s:
//
//	SCIMBRIDGE_PULL_BENCH_USERS=100000 SCIMBRIDGE_PULL_BENCH_GROUPS=2000 \
//	  go test ./pull/ -run '^$' -bench FullPull -benchtime 1x
//
// The default size is a tenth of that.
func BenchmarkFullPull(b *testing.B) {
	src := &scaleSource{
		users:   envInt("SCIMBRIDGE_PULL_BENCH_USERS", 10000),
		groups:  envInt("SCIMBRIDGE_PULL_BENCH_GROUPS", 200),
		perUser: 3,
	}
	for b.Loop() {
		b.StopTimer()
		st := openStore(b)
		opts := pull.Options{Holder: "bench"}
		if os.Getenv("SCIMBRIDGE_PULL_BENCH_DEBUG") != "" {
			opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
		eng := pull.NewEngine(st, opts)
		ctx := context.Background()
		b.StartTimer()
		start := time.Now()
		rec, err := eng.Run(ctx, pull.RunRequest{Tenant: tenant, Source: src, Trigger: pull.TriggerCLI, DryRun: true})
		if err != nil {
			b.Fatal(err)
		}
		dryRun := time.Since(start)
		if rec.Counts.Created != src.users+src.groups {
			b.Fatalf("dry-run counts %+v", rec.Counts)
		}
		start = time.Now()
		rec, err = eng.Run(ctx, pull.RunRequest{Tenant: tenant, Source: src, Trigger: pull.TriggerCLI})
		if err != nil {
			b.Fatal(err)
		}
		first := time.Since(start)
		if rec.Counts.Created != src.users+src.groups {
			b.Fatalf("counts %+v", rec.Counts)
		}
		start = time.Now()
		rec, err = eng.Run(ctx, pull.RunRequest{Tenant: tenant, Source: src, Trigger: pull.TriggerCLI})
		if err != nil {
			b.Fatal(err)
		}
		if rec.Counts.Unchanged != src.users+src.groups {
			b.Fatalf("replay counts %+v", rec.Counts)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(dryRun.Seconds(), "dry-s")
		b.ReportMetric(first.Seconds(), "first-s")
		b.ReportMetric(time.Since(start).Seconds(), "replay-s")
		b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heap-MB")
	}
}
