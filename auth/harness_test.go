package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

const (
	testToken = "test-token-default"
	acmeToken = "test-token-acme"
)

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// harness is an Authenticator on a fresh SQLite store serving a default
// tenant and "acme", each with a static token, plus an HTTP server whose
// token endpoints are routed the way the SCIM API routes them.
type harness struct {
	t   testing.TB
	st  store.Store
	a   *auth.Authenticator
	srv *httptest.Server
}

func newHarness(t testing.TB, mutate ...func(*auth.Options)) *harness {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	opts := auth.Options{
		Store: st,
		Tenants: []auth.Tenant{
			{Name: auth.DefaultTenant, TokenHashes: [][32]byte{auth.HashToken(testToken)}},
			{Name: "acme", TokenHashes: [][32]byte{auth.HashToken(acmeToken)}},
		},
		// Tests of other things fail often from one address; the rate
		// limit's own tests set it back to the defaults.
		RateLimit: auth.RateLimit{Burst: 1000},
	}
	for _, m := range mutate {
		m(&opts)
	}
	return serve(t, st, opts)
}

// serve builds an Authenticator from opts and serves its token endpoints.
func serve(t testing.TB, st store.Store, opts auth.Options) *harness {
	t.Helper()
	opts.Store = st
	a, err := auth.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, st: st, a: a}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := tenantOfPath(r.URL.Path, "/oauth/token")
		if !ok || !a.HasTokenEndpoint(name) {
			http.NotFound(w, r)
			return
		}
		a.ServeToken(w, r, name)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// tenantOfPath returns the tenant a SCIM path addresses: /scim/v2{rest} is
// the default tenant, /tenants/{name}/scim/v2{rest} is name.
func tenantOfPath(path, rest string) (string, bool) {
	if p, ok := strings.CutPrefix(path, "/scim/v2"); ok {
		return auth.DefaultTenant, rest == "" || p == rest
	}
	p, ok := strings.CutPrefix(path, "/tenants/")
	if !ok {
		return "", false
	}
	name, p, ok := strings.Cut(p, "/scim/v2")
	return name, ok && (rest == "" || p == rest)
}

// authWith authenticates a request to path with "Authorization: Bearer
// token" ("" sends no header).
func authWith(h *harness, path, token string) (auth.Principal, error) {
	h.t.Helper()
	hdr := ""
	if token != "" {
		hdr = "Bearer " + token
	}
	return authHeader(h, path, hdr, "192.0.2.1:5555")
}

// authHeader authenticates a GET of path with the Authorization header hdr
// from remote.
func authHeader(h *harness, path, hdr, remote string) (auth.Principal, error) {
	h.t.Helper()
	name, ok := tenantOfPath(path, "")
	if !ok {
		h.t.Fatalf("not a SCIM path: %s", path)
	}
	r := httptest.NewRequest("GET", path, nil)
	r.RemoteAddr = remote
	if hdr != "" {
		r.Header.Set("Authorization", hdr)
	}
	return h.a.Authenticate(r, name)
}

// usersWith authenticates a request to path with the bearer token and
// returns the status the SCIM API answers it with.
func usersWith(h *harness, path, token string) int {
	h.t.Helper()
	_, err := authWith(h, path, token)
	return statusOf(err)
}

func statusOf(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, auth.ErrNoTenant):
		return http.StatusNotFound
	case errors.Is(err, auth.ErrRateLimited):
		return http.StatusTooManyRequests
	case errors.Is(err, auth.ErrMissing), errors.Is(err, auth.ErrMalformed), errors.Is(err, auth.ErrUnknown), errors.Is(err, auth.ErrExpired):
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}
