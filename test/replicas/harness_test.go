// Package replicas_test runs several scimbridge instances ("replicas") on
// one MongoDB database, the way a production deployment behind a load
// balancer does, and checks that together they behave exactly like one
// bridge. It also covers the MongoDB faults of issue 4: the server down at
// start and lost while serving.
//
// The MongoDB is the one named by SCIMBRIDGE_TEST_MONGO_URI, else an
// in-process FerretDB (see internal/testmongo); the fault tests that must
// stop the server always start their own FerretDB.
package replicas_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
)

const token = "replicas-test-token"

// SCIM schema URNs used by the workloads.
const (
	urnUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	urnGroup      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	urnEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	urnPatchOp    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	urnError      = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// bridge is one scimbridge instance: the real handler stack on its own
// store, behind its own HTTP server.
type bridge struct {
	name string
	srv  *httptest.Server
	st   store.Store
}

var client = &http.Client{
	Timeout:   2 * time.Minute,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64},
}

func loadSchemas(t testing.TB) *schemas.Registry {
	t.Helper()
	reg, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// newBridge serves st with the default tenant accepting token.
func newBridge(t testing.TB, name string, st store.Store, reg *schemas.Registry) *bridge {
	t.Helper()
	h, err := scim.NewHandler(scim.Options{
		Store:   st,
		Schemas: reg,
		// The causes of 500s go to the test log.
		Logger:  slog.New(slog.NewTextHandler(testLog{t, name}, &slog.HandlerOptions{Level: slog.LevelError})),
		Tenants: []auth.Tenant{{Name: scim.DefaultTenant, TokenHashes: [][32]byte{auth.HashToken(token)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &bridge{name: name, srv: srv, st: st}
}

// testLog writes the handler's "internal error" log lines to the test log
// (a store outage is logged too, as expected noise).
type testLog struct {
	t    testing.TB
	name string
}

func (l testLog) Write(p []byte) (int, error) {
	if !bytes.Contains(p, []byte(`msg="internal error"`)) {
		return len(p), nil
	}
	l.t.Logf("bridge %s: %s", l.name, bytes.TrimSpace(p))
	return len(p), nil
}

// resp is a decoded response.
type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
	err    error // transport error
}

func (r resp) str(key string) string { s, _ := r.body[key].(string); return s }

func (r resp) String() string {
	if r.err != nil {
		return "transport error: " + r.err.Error()
	}
	return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.raw))
}

// do sends a request to the bridge's default tenant. path is relative to
// /scim/v2 unless it starts with "/readyz" or "/healthz". hdr are header
// name/value pairs. It is safe to call from any goroutine: failures are
// reported in resp.err, never with t.Fatal.
func (b *bridge) do(method, path string, body any, hdr ...string) resp {
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			return resp{err: err}
		}
		rd = bytes.NewReader(j)
	}
	url := b.srv.URL + "/scim/v2" + path
	if strings.HasPrefix(path, "/readyz") || strings.HasPrefix(path, "/healthz") {
		url = b.srv.URL + path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return resp{err: err}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		return resp{err: err}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, header: res.Header, raw: raw, err: err}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.body); err != nil && out.err == nil {
			out.err = fmt.Errorf("response is not JSON: %v: %s", err, raw)
		}
	}
	return out
}

// isSCIMError reports whether r is a SCIM error response for status, and
// if scimType is not empty, with that scimType.
func isSCIMError(r resp, status int, scimType string) error {
	if r.err != nil {
		return r.err
	}
	if r.status != status {
		return fmt.Errorf("status %d, want %d: %s", r.status, status, r.raw)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/scim+json" {
		return fmt.Errorf("error Content-Type %q, want application/scim+json", ct)
	}
	if got, _ := r.body["status"].(string); got != fmt.Sprint(status) {
		return fmt.Errorf("error body status %v, want the string %q: %s", r.body["status"], fmt.Sprint(status), r.raw)
	}
	if s, _ := r.body["schemas"].([]any); len(s) != 1 || s[0] != urnError {
		return fmt.Errorf("error body schemas %v: %s", r.body["schemas"], r.raw)
	}
	if scimType != "" && r.str("scimType") != scimType {
		return fmt.Errorf("scimType %q, want %q: %s", r.str("scimType"), scimType, r.raw)
	}
	return nil
}

// parallel runs jobs with at most width of them at a time and waits.
func parallel(width int, jobs []func()) {
	sem := make(chan struct{}, width)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			j()
		}()
	}
	wg.Wait()
}

// together runs fns at the same moment (as far as goroutines allow) and
// waits for all of them.
func together(fns ...func()) {
	var start, done sync.WaitGroup
	start.Add(1)
	for _, f := range fns {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			f()
		}()
	}
	start.Done()
	done.Wait()
}

// allChanges reads a tenant's whole journal through st.
func allChanges(ctx context.Context, st store.Store, tenant string) ([]store.Change, error) {
	var out []store.Change
	after := int64(0)
	for {
		cs, err := st.Changes(ctx, tenant, after, 500)
		if err != nil {
			return nil, err
		}
		if len(cs) == 0 {
			return out, nil
		}
		out = append(out, cs...)
		after = cs[len(cs)-1].Seq
	}
}
