package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/admin"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/pull"
)

// startPullSchedule runs the pull of every tenant with a pull.interval on
// its schedule until ctx ends or the returned function is called, which
// waits for the schedule (and a round it is running) to stop.
func startPullSchedule(ctx context.Context, cfg *config.Config, eng *pull.Engine, pulls map[string]pull.RunRequest, log *slog.Logger) func() {
	var entries []pull.Scheduled
	for _, name := range cfg.PullTenants() {
		iv := cfg.Tenant(name).Pull.Interval
		if iv <= 0 {
			continue
		}
		req := pulls[name]
		entries = append(entries, pull.Scheduled{Tenant: name, Interval: iv, Request: func() pull.RunRequest {
			r := req
			r.Trigger = pull.TriggerSchedule
			return r
		}})
		log.Info("pull scheduled", "tenant", name, "interval", iv.String())
	}
	if len(entries) == 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		eng.Schedule(ctx, entries)
	}()
	return func() {
		cancel()
		<-done
	}
}

// waitPullRuns waits, until ctx ends, for the runs this process (holder)
// started in the background through the admin API to finish, so that they
// can record their outcome before the store closes. They outlive the
// request that started them and cannot be cancelled; one still going when
// ctx ends is logged, and fails when the store closes under it.
func waitPullRuns(ctx context.Context, eng *pull.Engine, tenants []string, holder string, log *slog.Logger) {
	for {
		var running []string
		for _, t := range tenants {
			runs, err := eng.Runs(ctx, t, 5)
			if err != nil {
				return // ctx ended, or the store fails: nothing to wait for
			}
			for _, r := range runs {
				if r.Outcome == pull.OutcomeRunning && r.Holder == holder {
					running = append(running, t+"/"+r.ID)
				}
			}
		}
		if len(running) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			log.Warn("stopping with pull runs still going: they are cut off when the store closes, and the next round converges", "runs", strings.Join(running, ", "))
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// withAdminAPI serves the admin API (admin.Prefix, under baseURL's path
// prefix if it has one) with adminH and everything else with scimH. The
// two authenticate apart: SCIM credentials never reach adminH, and adminH
// takes only admin tokens.
func withAdminAPI(scimH, adminH http.Handler, baseURL string) http.Handler {
	prefix := ""
	if u, err := url.Parse(baseURL); err == nil && baseURL != "" {
		prefix = strings.TrimRight(u.Path, "/")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if prefix != "" {
			rest, ok := strings.CutPrefix(p, prefix)
			if !ok || !strings.HasPrefix(rest, "/") {
				scimH.ServeHTTP(w, r)
				return
			}
			p = rest
		}
		if !strings.HasPrefix(p, admin.Prefix) && p != strings.TrimSuffix(admin.Prefix, "/") {
			scimH.ServeHTTP(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath = p, ""
		adminH.ServeHTTP(w, r2)
	})
}
