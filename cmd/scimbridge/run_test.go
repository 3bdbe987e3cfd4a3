package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// output is a goroutine-safe writer whose content tests can poll.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// server is one `scimbridge serve` started in-process by startServe.
type server struct {
	base   string // SCIM base URL of the default tenant
	stdout string // the banner
	token  string // the generated token, if one was printed
	stderr *output
	cancel context.CancelFunc
	done   chan struct{} // closed when run has returned
	err    error         // what run returned, once done is closed
}

// stop cancels the server and waits for run to return.
func (s *server) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	select {
	case <-s.done:
		if s.err != nil {
			t.Fatalf("serve returned %v\nstderr:\n%s", s.err, s.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// startServe runs `scimbridge serve --listen 127.0.0.1:0 args...` with env
// as the whole environment and waits until it prints its base URL.
func startServe(t *testing.T, env map[string]string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &output{}, &output{}
	c := &cli{getenv: func(k string) string { return env[k] }, stdout: stdout, stderr: stderr}
	s := &server{stderr: stderr, cancel: cancel, done: make(chan struct{})}
	go func() {
		s.err = c.run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...))
		close(s.done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		out := stdout.String()
		if _, rest, ok := strings.Cut(out, "SCIM base URL: "); ok {
			s.base, _, _ = strings.Cut(rest, "\n")
			s.stdout = out
			break
		}
		select {
		case <-s.done:
			t.Fatalf("serve exited early: %v\nstdout:\n%s\nstderr:\n%s", s.err, out, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no base URL printed\nstdout:\n%s\nstderr:\n%s", out, stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, line := range strings.Split(s.stdout, "\n") {
		if tok, ok := strings.CutPrefix(strings.TrimSpace(line), "TOKEN="); ok {
			s.token = tok
		}
	}
	return s
}

// do sends a SCIM request and decodes a JSON response body into out (if
// non-nil). It returns the status code.
func do(t *testing.T, method, url, token string, body any, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %q: %v", method, url, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// runCmd runs a non-serve command with env as the environment.
func runCmd(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runCmdStdin(t, env, "", args...)
}

// runCmdStdin runs a non-serve command with env as the environment and
// stdin as its standard input.
func runCmdStdin(t *testing.T, env map[string]string, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	c := &cli{getenv: func(k string) string { return env[k] }, stdin: strings.NewReader(stdin), stdout: &o, stderr: &e}
	err = c.run(context.Background(), args)
	return o.String(), e.String(), err
}

// waitAccepted polls until token is accepted (a running server re-reads the
// stored tokens at most once a second).
func waitAccepted(t *testing.T, url, token string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code := do(t, "GET", url, token, nil, nil)
		if code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s with the new token: %d", url, code)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestServeProvisionRestart(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, nil, "--data-dir", dir)
	token1 := s.token
	if token1 == "" {
		t.Fatalf("no token printed on first start:\n%s", s.stdout)
	}
	if !strings.Contains(s.stdout, "shown only once") || !strings.Contains(s.stdout, "scimbridge token create") {
		t.Errorf("banner lacks the once-only note:\n%s", s.stdout)
	}
	if !strings.HasPrefix(s.base, "http://127.0.0.1:") || !strings.HasSuffix(s.base, "/scim/v2") {
		t.Fatalf("base URL %q", s.base)
	}
	root := strings.TrimSuffix(s.base, "/scim/v2")
	if code := do(t, "GET", root+"/healthz", "", nil, nil); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	if code := do(t, "GET", root+"/readyz", "", nil, nil); code != http.StatusOK {
		t.Errorf("/readyz: %d", code)
	}
	if code := do(t, "GET", s.base+"/Users", "", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("GET /Users without a token: %d, want 401", code)
	}
	if code := do(t, "GET", s.base+"/Users", "scb_wrong", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("GET /Users with a wrong token: %d, want 401", code)
	}

	var user, group map[string]any
	code := do(t, "POST", s.base+"/Users", s.token, map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": "alice@example.com",
		"active":   true,
		"emails":   []map[string]any{{"type": "work", "value": "alice@example.com", "primary": true}},
	}, &user)
	if code != http.StatusCreated {
		t.Fatalf("POST /Users: %d %v", code, user)
	}
	uid, _ := user["id"].(string)
	code = do(t, "POST", s.base+"/Groups", s.token, map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": "Engineers",
		"members":     []map[string]any{{"value": uid}},
	}, &group)
	if code != http.StatusCreated {
		t.Fatalf("POST /Groups: %d %v", code, group)
	}
	gid, _ := group["id"].(string)

	// A token created while the server runs is accepted without a restart.
	created, _, err := runCmd(t, nil, "token", "create", "--data-dir", dir, "--name", "second")
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	token2 := strings.TrimSpace(created)
	if strings.Contains(token2, "\n") || token2 == "" {
		t.Fatalf("token create printed %q, want only the token", created)
	}
	waitAccepted(t, s.base+"/Users", token2)
	s.stop(t)

	s = startServe(t, nil, "--data-dir", dir)
	if s.token != "" || strings.Contains(s.stdout, "shown only once") {
		t.Errorf("a token was printed on restart:\n%s", s.stdout)
	}
	var got map[string]any
	if code := do(t, "GET", s.base+"/Users/"+uid, token1, nil, &got); code != http.StatusOK || got["userName"] != "alice@example.com" {
		t.Fatalf("GET user after restart: %d %v", code, got)
	}
	got = nil
	if code := do(t, "GET", s.base+"/Groups/"+gid, token2, nil, &got); code != http.StatusOK || got["displayName"] != "Engineers" {
		t.Fatalf("GET group after restart: %d %v", code, got)
	}
	members, _ := got["members"].([]any)
	if len(members) != 1 || members[0].(map[string]any)["value"] != uid {
		t.Errorf("group members after restart: %v", got["members"])
	}
	s.stop(t)
}
