package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/test/fakegraph"
)

// envPullChild, set, makes TestPullBesideServe the child process: it runs
// `scimbridge pull --config $envPullChild` and exits with its status.
const envPullChild = "SCIMBRIDGE_TEST_PULL_CHILD"

// TestPullBesideServe runs `scimbridge pull` in a second process on the
// SQLite file a running `serve` uses, while SCIM clients write to that
// serve: both processes write at once. No write may fail ("database is
// locked") or be lost: every SCIM write lands, and a dry run afterwards
// finds nothing left to pull.
func TestPullBesideServe(t *testing.T) {
	if cfg := os.Getenv(envPullChild); cfg != "" {
		err := run(context.Background(), []string{"pull", "--config", cfg}, os.Stdout, os.Stderr)
		os.Exit(exitCode(err, os.Stderr))
	}
	fg := fakegraph.New(fakegraph.Options{PageSize: 100, Scale: fakegraph.Scale{Users: 1500, Groups: 15, Memberships: 1500}})
	defer fg.Close()
	dir := t.TempDir()
	cfg, env := fakeGraphConfig(t, dir, fg, "")
	s := startServe(t, env, "--config", cfg)
	defer s.stop(t)
	root := strings.TrimSuffix(s.base, "/scim/v2")
	users := root + "/tenants/acme/scim/v2/Users"
	token := env["ACME_TOKEN"]

	child := exec.Command(os.Args[0], "-test.run=^TestPullBesideServe$", "-test.count=1")
	child.Env = []string{envPullChild + "=" + cfg, "GRAPH_SECRET=" + env["GRAPH_SECRET"], "ADMIN_TOKEN=" + env["ADMIN_TOKEN"],
		"ACME_TOKEN=" + token, "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	var childOut output
	child.Stdout, child.Stderr = &childOut, &childOut
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	childDone := make(chan struct{})
	var childErr error
	go func() { childErr = child.Wait(); close(childDone) }()
	finished := func() bool {
		select {
		case <-childDone:
			return true
		default:
			return false
		}
	}

	// SCIM writes to serve while the child pulls: creates, then a PATCH
	// of each, from four clients, at least minPerClient each and on until
	// the pull is done.
	const clients, minPerClient, maxPerClient = 4, 20, 240 // at most 960: one list page
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	written := make([]int, clients)
	var during atomic.Int64 // writes answered while the pull process ran
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < maxPerClient && (i < minPerClient || !finished()); i++ {
				written[c]++
				name := fmt.Sprintf("push-%d-%d@example.org", c, i)
				var created struct {
					ID string `json:"id"`
				}
				code := do(t, "POST", users, token, map[string]any{
					"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
					"userName": name, "active": true,
				}, &created)
				if code == http.StatusCreated {
					code = do(t, "PATCH", users+"/"+created.ID, token, map[string]any{
						"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
						"Operations": []map[string]any{{"op": "replace", "path": "title", "value": "pushed"}},
					}, nil)
				}
				if code != http.StatusCreated && code != http.StatusOK {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s: %d", name, code))
					mu.Unlock()
				}
				if !finished() {
					during.Add(1)
				}
			}
		}()
	}
	select {
	case <-childDone:
		if childErr != nil {
			t.Fatalf("pull process: %v\n%s", childErr, childOut.String())
		}
	case <-time.After(3 * time.Minute):
		child.Process.Kill()
		t.Fatalf("pull process did not finish\n%s", childOut.String())
	}
	wg.Wait()
	total := 0
	for _, n := range written {
		total += n
	}
	if during.Load() < 10 {
		t.Errorf("only %d SCIM writes overlapped the pull: the test proves nothing", during.Load())
	}
	t.Logf("%d SCIM users created and patched, %d of them while the pull process ran", total, during.Load())
	out := childOut.String()
	if len(failures) > 0 {
		t.Errorf("%d SCIM writes failed beside the pull: %v", len(failures), failures)
	}
	if !strings.Contains(out, `Pull of tenant "acme"`) || !strings.Contains(out, ": succeeded in ") || !strings.Contains(out, "errors 0") {
		t.Errorf("pull process output:\n%s", out)
	}
	for _, o := range []string{out, s.stderr.String()} {
		if strings.Contains(strings.ToLower(o), "locked") || strings.Contains(o, "SQLITE_BUSY") {
			t.Errorf("a process met a locked database:\n%s", o)
		}
	}

	// Nothing the pull wrote was lost: another round plans nothing.
	dry, _, err := runCmd(t, env, "pull", "--config", cfg, "--dry-run")
	if err != nil || !strings.Contains(dry, "Plan: nothing to change.") {
		t.Errorf("dry run after the pull (%v):\n%s", err, dry)
	}
	// Nothing the SCIM clients wrote was lost either.
	var list struct {
		TotalResults int `json:"totalResults"`
		Resources    []struct {
			Title string `json:"title"`
		} `json:"Resources"`
	}
	code := do(t, "GET", users+`?filter=userName+sw+"push-"&count=10000`, token, nil, &list)
	if code != http.StatusOK || list.TotalResults != total || len(list.Resources) != total {
		t.Fatalf("pushed users: %d, total %d (%d listed), want %d", code, list.TotalResults, len(list.Resources), total)
	}
	for _, r := range list.Resources {
		if r.Title != "pushed" {
			t.Errorf("a pushed user lost its PATCH: %+v", r)
			break
		}
	}
}
