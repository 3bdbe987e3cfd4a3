package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/testmongo"
	"github.com/scimbridge/scimbridge/store"
)

// mongoClosedPort returns a loopback address nothing listens on.
func mongoClosedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestServeMongoUnreachable: `serve --mongo-uri` naming a server that is
// down exits with status 1 and a one-line message saying MongoDB is
// unavailable, without the password of the URI and without a stack trace,
// instead of serving.
func TestServeMongoUnreachable(t *testing.T) {
	const password = "Pa55w0rdXYZzy"
	// serverSelectionTimeoutMS in the URI overrides the bridge's 10 s
	// default, which the exit time below shows.
	uri := "mongodb://scim:" + password + "@" + mongoClosedPort(t) + "/?serverSelectionTimeoutMS=1000"
	var stdout, stderr bytes.Buffer
	c := &cli{getenv: func(string) string { return "" }, stdout: &stdout, stderr: &stderr}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	err := c.run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--mongo-uri", uri})
	took := time.Since(start)
	if err == nil {
		t.Fatal("serve succeeded with MongoDB down")
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("error %q does not wrap store.ErrUnavailable", err)
	}
	code := exitCode(err, &stderr)
	t.Logf("exit %d after %v; stderr: %s", code, took.Round(time.Millisecond), stderr.String())
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if took > 8*time.Second {
		t.Errorf("serve took %v to give up; the URI's serverSelectionTimeoutMS=1000 was not used", took)
	}
	out := stdout.String() + stderr.String()
	if strings.Contains(out, password) || strings.Contains(err.Error(), password) {
		t.Errorf("the password is printed:\n%s", out)
	}
	if strings.Contains(stdout.String(), "SCIM base URL") {
		t.Errorf("serve announced itself although it cannot serve:\n%s", stdout.String())
	}
	msg := strings.TrimSpace(stderr.String())
	lines := strings.Split(msg, "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "scimbridge: cannot use the MongoDB store:") || !strings.Contains(last, "unavailable") {
		t.Errorf("last stderr line %q, want a one-line \"scimbridge: cannot use the MongoDB store: … unavailable …\" message", last)
	}
	if !strings.Contains(last, "connection refused") || strings.Contains(last, "topology") {
		t.Errorf("last stderr line %q should name the cause (connection refused), not the driver's topology dump", last)
	}
	for _, trace := range []string{"goroutine ", ".go:", "panic"} {
		if strings.Contains(msg, trace) {
			t.Errorf("stderr looks like a stack trace (%q):\n%s", trace, msg)
		}
	}
}

// TestServeMongo: `serve` with store.type mongo (database from the config
// file, URI from SCIMBRIDGE_MONGO_URI) serves from MongoDB: /readyz is
// ready, the initial token works, and a created user is stored there (a
// second serve on the same database sees it).
func TestServeMongo(t *testing.T) {
	uri, db := testmongo.DB(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "scimbridge.yaml")
	if err := os.WriteFile(cfgPath, []byte("store:\n  type: mongo\n  database: "+db+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SCIMBRIDGE_MONGO_URI": uri}
	s := startServe(t, env, "--config", cfgPath, "--data-dir", filepath.Join(dir, "data"))
	if s.token == "" {
		t.Fatalf("no token printed:\n%s", s.stdout)
	}
	root := strings.TrimSuffix(s.base, "/scim/v2")
	if code := do(t, "GET", root+"/readyz", "", nil, nil); code != http.StatusOK {
		t.Errorf("/readyz: %d", code)
	}
	var user map[string]any
	code := do(t, "POST", s.base+"/Users", s.token, map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": "mongo@example.com",
	}, &user)
	if code != http.StatusCreated {
		t.Fatalf("POST /Users: %d %v", code, user)
	}
	uid, _ := user["id"].(string)
	token := s.token
	s.stop(t)
	if _, err := os.Stat(filepath.Join(dir, "data", "scimbridge.db")); err == nil {
		t.Errorf("serve created the embedded store although MongoDB is configured")
	}

	// Another instance on the same database: same token, same user.
	s = startServe(t, env, "--config", cfgPath, "--data-dir", filepath.Join(dir, "data2"))
	if s.token != "" {
		t.Errorf("a second token was printed for the same database:\n%s", s.stdout)
	}
	var got map[string]any
	if code := do(t, "GET", s.base+"/Users/"+uid, token, nil, &got); code != http.StatusOK {
		t.Errorf("GET the user through the second instance: %d %v", code, got)
	}

	// token list and revoke work on MongoDB: the initial token, with its
	// last use recorded by the servers.
	out, _, err := runCmd(t, env, "token", "list", "--output", "json", "--config", cfgPath, "--data-dir", filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	var ts []tokenInfo
	if err := json.Unmarshal([]byte(out), &ts); err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].Name != "initial" || ts[0].Source != "store" || ts[0].ID != idOf(token) || ts[0].Created == nil || ts[0].LastUsed == nil {
		t.Fatalf("token list on MongoDB: %s", out)
	}
	if _, _, err := runCmd(t, env, "token", "revoke", "--tenant", "default", "--id", ts[0].ID, "--config", cfgPath, "--data-dir", filepath.Join(dir, "data")); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCmd(t, env, "token", "list", "--config", cfgPath, "--data-dir", filepath.Join(dir, "data"))
	if err != nil || strings.Count(out, "\n") != 1 {
		t.Errorf("token list after revoking the only token: %v\n%s", err, out)
	}
}
