package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/pull"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

// fakeSource is an in-memory directory: every round observes its users
// and groups (a full round each time). With gate set, Read waits for it to
// be closed, so that a test can hold a run open.
type fakeSource struct {
	mu     sync.Mutex
	users  []pull.User
	groups []pull.Group
	gate   chan struct{}
}

func (s *fakeSource) Kind() store.Source { return store.SourcePullGraph }

func (s *fakeSource) Read(ctx context.Context, req pull.ReadRequest, obs pull.Observer) (pull.Result, error) {
	s.mu.Lock()
	users, groups, gate := s.users, s.groups, s.gate
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return pull.Result{}, ctx.Err()
		}
	}
	obs.Page(ctx, store.Group)
	for _, g := range groups {
		if err := obs.Group(ctx, g); err != nil {
			return pull.Result{}, err
		}
	}
	obs.Page(ctx, store.User)
	for _, u := range users {
		if err := obs.User(ctx, u); err != nil {
			return pull.Result{}, err
		}
	}
	return pull.Result{Checkpoint: []byte("cp"), Full: true}, nil
}

func (s *fakeSource) Users(ctx context.Context, ids []string, obs pull.Observer) error {
	s.mu.Lock()
	users := s.users
	s.mu.Unlock()
	for _, id := range ids {
		for _, u := range users {
			if u.ObjectID == id {
				if err := obs.User(ctx, u); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func fakeUser(i int) pull.User {
	none := ""
	return pull.User{
		ObjectID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
		Attrs:    map[string]any{"userName": fmt.Sprintf("user%d@contoso.example", i), "displayName": fmt.Sprintf("User %d", i)},
		Enabled:  true,
		Manager:  &none,
	}
}

const adminToken = "admin-token-for-tests"

type fixture struct {
	srv *httptest.Server
	src *fakeSource
	st  store.Store
	eng *pull.Engine
}

// newFixture serves the admin API over the real engine and a SQLite store,
// with the tenant "acme" pulling from a fake source of n users, and the
// tenant "plain" without pull.
func newFixture(t *testing.T, n int, mod ...func(*Options)) *fixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	src := &fakeSource{}
	for i := range n {
		src.users = append(src.users, fakeUser(i))
	}
	eng := pull.NewEngine(st, pull.Options{Holder: "test-server"})
	opts := Options{
		Engine: eng,
		Pull: func(tenant string) (pull.RunRequest, bool) {
			if tenant != "acme" {
				return pull.RunRequest{}, false
			}
			return pull.RunRequest{Tenant: "acme", Source: src, Policy: pull.Policy{OnDelete: pull.OnDeleteDisable}}, true
		},
		TokenHashes: [][32]byte{auth.HashToken(adminToken)},
		TokenNames:  map[[32]byte]string{auth.HashToken(adminToken): "ops"},
	}
	for _, m := range mod {
		m(&opts)
	}
	h, err := NewHandler(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, src: src, st: st, eng: eng}
}

// do sends a request with token (none if empty) and decodes a JSON answer
// into out (if not nil).
func (f *fixture) do(t *testing.T, method, path, token string, out any) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp
}

// wait polls run id until it has finished.
func (f *fixture) wait(t *testing.T, id string) Run {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var run Run
		resp := f.do(t, "GET", "/admin/api/tenants/acme/pull/runs/"+id, adminToken, &run)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET run %s: %d", id, resp.StatusCode)
		}
		if run.Outcome != pull.OutcomeRunning {
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s still running", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t, 1)
	// A SCIM token of the tenant, stored as `scimbridge token create`
	// makes it: the admin API does not know it.
	scimToken, err := auth.NewToken(context.Background(), f.st, "acme", "entra")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, header string }{
		{"none", ""},
		{"scim token", "Bearer " + scimToken},
		{"unknown", "Bearer nope"},
		{"basic", "Basic " + adminToken},
		{"empty bearer", "Bearer "},
	} {
		for _, path := range []string{"/admin/api/tenants/acme/pull/runs", "/admin/api/tenants/nosuch/pull", "/admin/api/nowhere"} {
			req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var e apiError
			json.NewDecoder(resp.Body).Decode(&e)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || e.Status != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s: %d %+v %q", tc.name, path, resp.StatusCode, e, resp.Header.Get("WWW-Authenticate"))
			}
		}
	}
	// A POST without a token starts nothing.
	if resp := f.do(t, "POST", "/admin/api/tenants/acme/pull", scimToken, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST with a SCIM token: %d", resp.StatusCode)
	}
	if runs, _ := f.eng.Runs(context.Background(), "acme", 0); len(runs) != 0 {
		t.Errorf("an unauthenticated POST started %d runs", len(runs))
	}
	var rs runs
	if resp := f.do(t, "GET", "/admin/api/tenants/acme/pull/runs", adminToken, &rs); resp.StatusCode != http.StatusOK || len(rs.Runs) != 0 {
		t.Errorf("admin token: %d %+v", resp.StatusCode, rs)
	}
}

func TestStartAndRecords(t *testing.T) {
	f := newFixture(t, 5)
	var started map[string]string
	resp := f.do(t, "POST", "/admin/api/tenants/acme/pull", adminToken, &started)
	if resp.StatusCode != http.StatusAccepted || started["id"] == "" {
		t.Fatalf("POST: %d %v", resp.StatusCode, started)
	}
	if loc := resp.Header.Get("Location"); loc != "/admin/api/tenants/acme/pull/runs/"+started["id"] {
		t.Errorf("Location %q", loc)
	}
	run := f.wait(t, started["id"])
	if run.Outcome != pull.OutcomeSucceeded || run.Trigger != "admin" || run.DryRun || run.Tenant != "acme" ||
		run.Source != string(store.SourcePullGraph) || run.Counts.Created != 5 || run.Finished == nil || run.Plan != nil {
		t.Errorf("run = %+v", run)
	}
	// The users landed in the store.
	page, err := f.st.Query(context.Background(), "acme", store.User, store.Query{Count: 100})
	if err != nil || page.Total != 5 {
		t.Fatalf("store holds %d users (%v)", page.Total, err)
	}

	// A second round changes nothing.
	f.do(t, "POST", "/admin/api/tenants/acme/pull?full=true", adminToken, &started)
	run2 := f.wait(t, started["id"])
	if run2.Outcome != pull.OutcomeSucceeded || run2.Counts.Created != 0 || run2.Counts.Unchanged != 5 || !run2.Full {
		t.Errorf("second run = %+v", run2)
	}

	// The list is newest first and pages with after=.
	var rs runs
	f.do(t, "GET", "/admin/api/tenants/acme/pull/runs?limit=1", adminToken, &rs)
	if len(rs.Runs) != 1 || rs.Runs[0].ID != run2.ID || rs.Next != run2.ID {
		t.Fatalf("page 1 = %+v", rs)
	}
	after := rs.Next
	rs = runs{}
	f.do(t, "GET", "/admin/api/tenants/acme/pull/runs?limit=1&after="+after, adminToken, &rs)
	if len(rs.Runs) != 1 || rs.Runs[0].ID != run.ID || rs.Next != "" {
		t.Fatalf("page 2 = %+v", rs)
	}

	var st status
	f.do(t, "GET", "/admin/api/tenants/acme/pull", adminToken, &st)
	if st.Tenant != "acme" || st.LastRun == nil || st.LastRun.ID != run2.ID || st.NextRun != nil {
		t.Errorf("status = %+v", st)
	}
}

func TestConflictWhileRunning(t *testing.T) {
	f := newFixture(t, 2)
	gate := make(chan struct{})
	f.src.mu.Lock()
	f.src.gate = gate
	f.src.mu.Unlock()
	var started map[string]string
	if resp := f.do(t, "POST", "/admin/api/tenants/acme/pull", adminToken, &started); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	var e apiError
	resp := f.do(t, "POST", "/admin/api/tenants/acme/pull?dryRun=true", adminToken, &e)
	if resp.StatusCode != http.StatusConflict || e.Status != 409 || e.Holder != "test-server" || e.Since == nil {
		t.Errorf("second POST: %d %+v", resp.StatusCode, e)
	}
	// Another process (another holder on the same store) is refused too.
	other := pull.NewEngine(f.st, pull.Options{Holder: "other-process"})
	if _, err := other.Run(context.Background(), pull.RunRequest{Tenant: "acme", Source: f.src, Trigger: pull.TriggerCLI}); err == nil {
		t.Error("another engine ran while the lease was held")
	}
	var running Run
	f.do(t, "GET", "/admin/api/tenants/acme/pull/runs/"+started["id"], adminToken, &running)
	if running.Outcome != pull.OutcomeRunning || running.Finished != nil {
		t.Errorf("running = %+v", running)
	}
	close(gate)
	if run := f.wait(t, started["id"]); run.Outcome != pull.OutcomeSucceeded {
		t.Errorf("run = %+v", run)
	}
	// Free again.
	if resp := f.do(t, "POST", "/admin/api/tenants/acme/pull", adminToken, &started); resp.StatusCode != http.StatusAccepted {
		t.Errorf("POST after the run: %d", resp.StatusCode)
	}
	f.wait(t, started["id"])
}

func TestDryRunPlan(t *testing.T) {
	f := newFixture(t, 5)
	var started map[string]string
	if resp := f.do(t, "POST", "/admin/api/tenants/acme/pull?dryRun=true", adminToken, &started); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	run := f.wait(t, started["id"])
	if run.Outcome != pull.OutcomeSucceeded || !run.DryRun || run.Plan == nil || len(run.Plan.Items) != 5 || run.Plan.Next != "" {
		t.Fatalf("dry run = %+v", run)
	}
	for _, it := range run.Plan.Items {
		if it.Action != "create" || it.Kind != string(store.User) || !strings.HasSuffix(it.Name, "@contoso.example") || it.ObjectID == "" {
			t.Errorf("plan item %+v", it)
		}
	}
	// Nothing was written.
	if page, _ := f.st.Query(context.Background(), "acme", store.User, store.Query{Count: 100}); page.Total != 0 {
		t.Errorf("a dry run wrote %d users", page.Total)
	}
	// Paged: 2, 2, 1.
	var seen []int
	after := ""
	for range 5 {
		var r Run
		path := "/admin/api/tenants/acme/pull/runs/" + run.ID + "?limit=2"
		if after != "" {
			path += "&after=" + after
		}
		f.do(t, "GET", path, adminToken, &r)
		for _, it := range r.Plan.Items {
			seen = append(seen, it.Seq)
		}
		if after = r.Plan.Next; after == "" {
			break
		}
	}
	if len(seen) != 5 {
		t.Errorf("paged plan sequence numbers %v", seen)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Errorf("plan not in order: %v", seen)
		}
	}
}

func TestErrors(t *testing.T) {
	f := newFixture(t, 1)
	for _, tc := range []struct {
		method, path string
		status       int
		msg          string
	}{
		{"POST", "/admin/api/tenants/nosuch/pull", 404, `tenant "nosuch" does not exist or has no pull configured`},
		{"POST", "/admin/api/tenants/plain/pull", 404, `tenant "plain" does not exist or has no pull configured`},
		{"GET", "/admin/api/tenants/plain/pull/runs", 404, "has no pull configured"},
		{"GET", "/admin/api/tenants/acme/pull/runs/20260101T000000.000000000Z-abcdef", 404, "no run"},
		{"GET", "/admin/api/tenants/acme/nothing", 404, "no such endpoint"},
		{"DELETE", "/admin/api/tenants/acme/pull", 405, "method not allowed"},
		{"POST", "/admin/api/tenants/acme/pull/runs", 405, "method not allowed"},
		{"POST", "/admin/api/tenants/acme/pull?dryRun=maybe", 400, `dryRun: "maybe" is not true or false`},
		{"GET", "/admin/api/tenants/acme/pull/runs?limit=0", 400, "limit"},
		{"GET", "/admin/api/tenants/acme/pull/runs?after=nosuch", 400, "after"},
	} {
		var e apiError
		resp := f.do(t, tc.method, tc.path, adminToken, &e)
		if resp.StatusCode != tc.status || e.Status != tc.status || !strings.Contains(e.Error, tc.msg) {
			t.Errorf("%s %s: %d %+v, want %d %q", tc.method, tc.path, resp.StatusCode, e, tc.status, tc.msg)
		}
	}
	if runs, _ := f.eng.Runs(context.Background(), "acme", 0); len(runs) != 0 {
		t.Errorf("bad requests started %d runs", len(runs))
	}
}

// Wrong admin tokens are throttled per address like SCIM credentials (one
// budget, the authenticator's): after the burst, 429 with Retry-After
// without the token being compared, even for the right one; a request with
// no credential costs nothing.
func TestWrongTokensThrottled(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	authn, err := auth.New(auth.Options{Store: st, Tenants: []auth.Tenant{{Name: "acme"}}, RateLimit: auth.RateLimit{Burst: 3, PerMinute: 1}})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, 1, func(o *Options) { o.Throttle = authn })
	for range 5 {
		if resp := f.do(t, "GET", "/admin/api/tenants/acme/pull/runs", "", nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("no credential: %d", resp.StatusCode)
		}
	}
	for i := range 3 {
		if resp := f.do(t, "GET", "/admin/api/tenants/acme/pull/runs", "guess", nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d", i, resp.StatusCode)
		}
	}
	for _, tok := range []string{"guess", adminToken} {
		var e apiError
		resp := f.do(t, "GET", "/admin/api/tenants/acme/pull/runs", tok, &e)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || e.Status != 429 {
			t.Fatalf("throttled %q: %d %q %+v", tok, resp.StatusCode, resp.Header.Get("Retry-After"), e)
		}
	}
}
