package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/admin"
	"github.com/scimbridge/scimbridge/pull"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

// memSource is an in-memory directory for the tests that drive the engine
// beside the CLI: every round observes its users. With gate set, Read
// waits for it to be closed; with fail set, Read fails.
type memSource struct {
	mu    sync.Mutex
	users []pull.User
	gate  chan struct{}
	fail  error
}

func (s *memSource) Kind() store.Source { return store.SourcePullGraph }

func (s *memSource) Read(ctx context.Context, req pull.ReadRequest, obs pull.Observer) (pull.Result, error) {
	s.mu.Lock()
	users, gate, fail := s.users, s.gate, s.fail
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return pull.Result{}, ctx.Err()
		}
	}
	if fail != nil {
		return pull.Result{}, fail
	}
	obs.Page(ctx, store.User)
	for _, u := range users {
		if err := obs.User(ctx, u); err != nil {
			return pull.Result{}, err
		}
	}
	return pull.Result{Checkpoint: []byte("cp"), Full: true}, nil
}

func (s *memSource) Users(ctx context.Context, ids []string, obs pull.Observer) error { return nil }

// memUsers returns n enabled users named prefix<i>@contoso.example.
func memUsers(prefix string, n int) []pull.User {
	out := make([]pull.User, 0, n)
	none := ""
	for i := range n {
		out = append(out, pull.User{
			ObjectID: fmt.Sprintf("%s-%08d", prefix, i),
			Attrs:    map[string]any{"userName": fmt.Sprintf("%s%d@contoso.example", prefix, i), "displayName": fmt.Sprintf("%s %d", prefix, i)},
			Enabled:  true,
			Manager:  &none,
		})
	}
	return out
}

const (
	testTenantID = "0b9b90c2-0b63-4f6a-9d36-8d1b6c6b4a11"
	testClientID = "cb5b4b43-1d3b-4e2a-9f27-3c7a1b8d2e55"
)

// pullConfig writes a config file with tenant acme pulling from Graph
// (at an address where nothing listens: these tests never reach Graph)
// every interval (0: on demand), and returns its path.
func pullConfig(t *testing.T, dir string, interval time.Duration, extra string) string {
	t.Helper()
	yml := fmt.Sprintf(`dataDir: %s
admin:
  tokens:
    - {name: ops, env: ADMIN_TOKEN}
tenants:
  - name: acme
    tokens:
      - {name: entra, env: ACME_TOKEN}
    pull:
      interval: %s
      graph:
        tenantId: %s
        clientId: %s
        clientSecret: {env: GRAPH_SECRET}
        authorityHost: https://127.0.0.1:1/
        graphBaseURL: https://127.0.0.1:1/v1.0
%s`, filepath.Join(dir, "data"), interval, testTenantID, testClientID, extra)
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var pullEnv = map[string]string{
	"ADMIN_TOKEN":  "admin-token-0123456789",
	"ACME_TOKEN":   "acme-scim-token-0123456789",
	"GRAPH_SECRET": "graph-secret",
}

// openTestStore opens the store a config of pullConfig names, beside the
// command under test (as another process would).
func openTestStore(t *testing.T, dir string) store.Store {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "data", "scimbridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestPullUsage(t *testing.T) {
	dir := t.TempDir()
	cfg := pullConfig(t, dir, 0, "  - name: globex\n    pull:\n      graph: {tenantId: "+testTenantID+", clientId: "+testClientID+", clientSecret: {env: GRAPH_SECRET}}\n")
	out, _, err := runCmd(t, pullEnv, "pull", "-h")
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(out, "-dry-run") || !strings.Contains(out, "-wait") || !strings.Contains(out, "pull status") {
		t.Errorf("pull -h: %v\n%s", err, out)
	}
	out, _, _ = runCmd(t, nil, "help")
	if !strings.Contains(out, "scimbridge pull [--config FILE]") || !strings.Contains(out, "scimbridge pull status") {
		t.Errorf("help lacks pull:\n%s", out)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"pull", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"pull", "--config", cfg}, 2, "several tenants pull (acme, globex): choose one with --tenant"},
		{[]string{"pull", "--config", cfg, "--tenant", "nosuch"}, 2, `tenant "nosuch" is not configured`},
		{[]string{"pull", "--config", cfg, "--tenant", "default"}, 1, `tenant "default" has no pull section`},
		{[]string{"pull", "--data-dir", dir}, 1, "no tenant has a pull section"},
		{[]string{"pull", "status", "--config", cfg, "--output", "xml"}, 2, "--output must be text or json"},
		{[]string{"pull", "status", "--data-dir", dir}, 1, "no tenant has a pull section"},
	} {
		_, _, err := runCmd(t, pullEnv, tc.args...)
		var stderr bytes.Buffer
		if code := exitCode(err, &stderr); code != tc.code || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("%q: exit %d %q, want %d %q", tc.args, code, stderr.String(), tc.code, tc.msg)
		}
	}
	// A missing secret is a configuration error naming the field.
	_, _, err = runCmd(t, map[string]string{"ADMIN_TOKEN": "x", "ACME_TOKEN": "y"}, "pull", "--config", cfg, "--tenant", "acme")
	if err == nil || !strings.Contains(err.Error(), "tenants[0].pull.graph.clientSecret.env: environment variable GRAPH_SECRET is not set") {
		t.Errorf("missing secret: %v", err)
	}
}

// TestPullBusy holds acme's pull lease in another engine on the same
// database file (another process, as far as the store is concerned): pull
// exits 3 and says who holds it and since when; --wait waits for it.
func TestPullBusy(t *testing.T) {
	dir := t.TempDir()
	cfg := pullConfig(t, dir, 0, "")
	st := openTestStore(t, dir)
	gate := make(chan struct{})
	other := pull.NewEngine(st, pull.Options{Holder: "other-host:4242:cafe"})
	id, err := other.Start(context.Background(), pull.RunRequest{Tenant: "acme", Source: &memSource{users: memUsers("held", 3), gate: gate}, Trigger: pull.TriggerAdmin})
	if err != nil {
		t.Fatal(err)
	}

	_, _, err = runCmd(t, pullEnv, "pull", "--config", cfg)
	var stderr bytes.Buffer
	if code := exitCode(err, &stderr); code != exitBusy {
		t.Fatalf("exit %d (%v), want %d", code, err, exitBusy)
	}
	msg := stderr.String()
	if !strings.Contains(msg, `tenant "acme" is being pulled by other-host:4242:cafe since 20`) || !strings.Contains(msg, "--wait") {
		t.Errorf("busy message: %q", msg)
	}

	// --wait: blocks until the other run is done, then runs (and fails:
	// nothing listens at the configured Graph address).
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, _, err := runCmd(t, pullEnv, "pull", "--config", cfg, "--wait")
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("pull --wait returned while the lease was held: %v\n%s", r.err, r.out)
	case <-time.After(1500 * time.Millisecond):
	}
	close(gate)
	var r result
	select {
	case r = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("pull --wait did not return")
	}
	if code := exitCode(r.err, &bytes.Buffer{}); code != 1 {
		t.Errorf("pull --wait: exit %d (%v), want 1 (the Graph address is unreachable)", code, r.err)
	}
	if !strings.Contains(r.out, `Pull of tenant "acme"`) || !strings.Contains(r.out, ": failed in ") || !strings.Contains(r.out, "errors (first") {
		t.Errorf("pull --wait summary:\n%s", r.out)
	}
	runs, err := other.Runs(context.Background(), "acme", 0)
	if err != nil || len(runs) != 2 || runs[0].Trigger != pull.TriggerCLI || runs[0].Outcome != pull.OutcomeFailed || runs[1].ID != id || runs[1].Outcome != pull.OutcomeSucceeded {
		t.Errorf("runs = %+v (%v)", runs, err)
	}
}

func TestPullStatus(t *testing.T) {
	dir := t.TempDir()
	cfg := pullConfig(t, dir, time.Hour, "")
	st := openTestStore(t, dir)
	eng := pull.NewEngine(st, pull.Options{Holder: "seeder"})
	ctx := context.Background()
	src := &memSource{users: memUsers("u", 4)}
	if _, err := eng.Run(ctx, pull.RunRequest{Tenant: "acme", Source: src, Trigger: pull.TriggerCLI}); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Run(ctx, pull.RunRequest{Tenant: "acme", Source: src, Trigger: pull.TriggerAdmin, DryRun: true}); err != nil {
		t.Fatal(err)
	}
	failing := &memSource{fail: errors.New("graph: 403 Forbidden: the app lacks User.Read.All")}
	if _, err := eng.Run(ctx, pull.RunRequest{Tenant: "acme", Source: failing, Trigger: pull.TriggerSchedule}); err == nil {
		t.Fatal("the failing run succeeded")
	}
	// A schedule records the next run; the last run started just now, so
	// the next is an hour away.
	sctx, cancel := context.WithCancel(ctx)
	sdone := make(chan struct{})
	go func() {
		defer close(sdone)
		eng.Schedule(sctx, []pull.Scheduled{{Tenant: "acme", Interval: time.Hour, Request: func() pull.RunRequest {
			return pull.RunRequest{Tenant: "acme", Source: src}
		}}})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if next, _ := eng.NextRun(ctx, "acme"); !next.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no next run recorded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-sdone

	out, _, err := runCmd(t, pullEnv, "pull", "status", "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"Tenant acme: every 1h; next run 20",
		"(in ",
		"STARTED", "TRIGGER", "OUTCOME", "CREATED",
		"schedule", "failed",
		"admin", "succeeded (dry run)",
		"cli",
		"graph: 403 Forbidden: the app lacks User.Read.All",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("status lacks %q:\n%s", w, out)
		}
	}
	// Newest first: the failed run's line precedes the first run's.
	if i, j := strings.Index(out, "schedule"), strings.Index(out, "  cli"); i < 0 || j < 0 || i > j {
		t.Errorf("runs not newest first:\n%s", out)
	}

	out, _, err = runCmd(t, pullEnv, "pull", "status", "--config", cfg, "--tenant", "acme", "--limit", "2", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got []struct {
		Tenant   string      `json:"tenant"`
		Interval string      `json:"interval"`
		NextRun  *time.Time  `json:"nextRun"`
		Runs     []admin.Run `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(got) != 1 || got[0].Tenant != "acme" || got[0].NextRun == nil || len(got[0].Runs) != 2 ||
		got[0].Runs[0].Outcome != "failed" || len(got[0].Runs[0].Errors) == 0 || !got[0].Runs[1].DryRun || got[0].Runs[1].Counts.Unchanged != 4 || got[0].Interval != "1h" {
		t.Errorf("json status = %+v", got)
	}
}

// TestServeAdminAPI checks serve's wiring: the admin API authenticates
// with admin tokens only and SCIM with SCIM tokens only, a scheduled pull
// runs (and fails: Graph is unreachable here), and its record is served.
func TestServeAdminAPI(t *testing.T) {
	dir := t.TempDir()
	cfg := pullConfig(t, dir, time.Minute, "")
	s := startServe(t, pullEnv, "--config", cfg)
	defer s.stop(t)
	root := strings.TrimSuffix(s.base, "/scim/v2")
	if !strings.Contains(s.stdout, "Admin API: "+root+"/admin/api/") {
		t.Errorf("banner:\n%s", s.stdout)
	}
	adminTok, scimTok := pullEnv["ADMIN_TOKEN"], pullEnv["ACME_TOKEN"]
	acmeSCIM := root + "/tenants/acme/scim/v2/Users"
	runsURL := root + "/admin/api/tenants/acme/pull/runs"
	for _, tc := range []struct {
		name, method, url, token string
		want                     int
	}{
		{"scim token on SCIM", "GET", acmeSCIM, scimTok, 200},
		{"admin token on SCIM", "GET", acmeSCIM, adminTok, 401},
		{"admin token on the default tenant", "GET", s.base + "/Users", adminTok, 401},
		{"scim token on the admin API", "GET", runsURL, scimTok, 401},
		{"scim token starts no pull", "POST", root + "/admin/api/tenants/acme/pull", scimTok, 401},
		{"no token on the admin API", "GET", runsURL, "", 401},
		{"admin token on the admin API", "GET", runsURL, adminTok, 200},
		{"tenant without pull", "GET", root + "/admin/api/tenants/default/pull/runs", adminTok, 404},
		{"unknown tenant", "POST", root + "/admin/api/tenants/nosuch/pull", adminTok, 404},
	} {
		if got := do(t, tc.method, tc.url, tc.token, nil, nil); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}

	// The schedule ran acme's first pull at once.
	deadline := time.Now().Add(30 * time.Second)
	var rs struct {
		Runs []admin.Run `json:"runs"`
	}
	for {
		if code := do(t, "GET", runsURL, adminTok, nil, &rs); code != 200 {
			t.Fatalf("runs: %d", code)
		}
		if len(rs.Runs) > 0 && rs.Runs[0].Outcome != pull.OutcomeRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scheduled run finished: %+v", rs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := rs.Runs[0]; r.Trigger != "schedule" || r.Outcome != pull.OutcomeFailed || len(r.Errors) == 0 {
		t.Errorf("scheduled run = %+v", r)
	}
	var st struct {
		NextRun *time.Time `json:"nextRun"`
	}
	do(t, "GET", root+"/admin/api/tenants/acme/pull", adminTok, nil, &st)
	if st.NextRun == nil || st.NextRun.Before(time.Now().Add(30*time.Second)) {
		t.Errorf("next run = %v, want about a minute from now", st.NextRun)
	}
}

func TestAdminAPIUnderPathPrefix(t *testing.T) {
	scimH := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Header().Set("X-Handler", "scim") })
	adminH := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Handler", "admin")
		w.Header().Set("X-Path", r.URL.Path)
	})
	for _, tc := range []struct{ base, path, want, wantPath string }{
		{"", "/admin/api/tenants/a/pull", "admin", "/admin/api/tenants/a/pull"},
		{"", "/scim/v2/Users", "scim", ""},
		{"", "/adminx/api/", "scim", ""},
		{"https://h.example/bridge", "/bridge/admin/api/tenants/a/pull/runs", "admin", "/admin/api/tenants/a/pull/runs"},
		{"https://h.example/bridge/", "/bridge/admin/api", "admin", "/admin/api"},
		{"https://h.example/bridge", "/admin/api/tenants/a/pull", "scim", ""}, // outside the prefix: SCIM answers 404
		{"https://h.example/bridge", "/bridgeadmin/api/", "scim", ""},
	} {
		rec := httptest.NewRecorder()
		withAdminAPI(scimH, adminH, tc.base).ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if rec.Header().Get("X-Handler") != tc.want || rec.Header().Get("X-Path") != tc.wantPath {
			t.Errorf("%q %q: %s %q", tc.base, tc.path, rec.Header().Get("X-Handler"), rec.Header().Get("X-Path"))
		}
	}
}
