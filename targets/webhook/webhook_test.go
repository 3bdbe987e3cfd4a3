package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
	"github.com/scimbridge/scimbridge/store/storetest"
	"github.com/scimbridge/scimbridge/targets"
	"github.com/scimbridge/scimbridge/targets/webhook"
)

const tenant = "t1"

// receiver is a webhook endpoint that verifies every request with its
// secret and records the events; respond, when set, decides the answer.
type receiver struct {
	t       *testing.T
	secrets []string // any of them verifies
	mu      sync.Mutex
	events  []webhook.Event
	headers []http.Header
	bad     int // requests that failed verification
	respond func(n int, w http.ResponseWriter, r *http.Request, body []byte) bool
	n       int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.n++
	n := rc.n
	respond := rc.respond
	rc.mu.Unlock()
	if respond != nil && respond(n, w, r, body) {
		return
	}
	ok := false
	for _, s := range rc.secrets {
		if webhook.Verify(s, r.Header.Get(webhook.SignatureHeader), body, time.Now(), time.Minute) == nil {
			ok = true
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if !ok {
		rc.bad++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var e webhook.Event
	if err := json.Unmarshal(body, &e); err != nil {
		rc.t.Errorf("body: %v", err)
	}
	rc.events = append(rc.events, e)
	rc.headers = append(rc.headers, r.Header.Clone())
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) got() ([]webhook.Event, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.events), rc.bad
}

type fixture struct {
	t     *testing.T
	ctx   context.Context // carries an origin, for the writes that make journal entries
	plain context.Context // no origin: what the runner gets
	st    store.Store
	rc    *receiver
	srv   *httptest.Server
}

func newFixture(t *testing.T, secrets ...string) *fixture {
	ctx, cancel := context.WithTimeout(storetest.Background(), 60*time.Second)
	t.Cleanup(cancel)
	// The runner writes only state records: it runs without an origin.
	plain, cancelPlain := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancelPlain)
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hook.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rc := &receiver{t: t, secrets: secrets}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return &fixture{t: t, ctx: ctx, plain: plain, st: st, rc: rc, srv: srv}
}

func (f *fixture) open(c webhook.Config) targets.Target {
	f.t.Helper()
	if c.URL == "" {
		c.URL = f.srv.URL + "/events"
	}
	reg := targets.NewRegistry()
	webhook.Register(reg)
	tg, err := reg.Open("webhook", "hooks", func(cfg targets.Config) error {
		*cfg.(*webhook.Config) = c
		return nil
	}, targets.Deps{})
	if err != nil {
		f.t.Fatal(err)
	}
	return tg
}

func (f *fixture) runner(tg targets.Target, mod ...func(*targets.Options)) *targets.Runner {
	f.t.Helper()
	o := targets.Options{Tenant: tenant, Name: "hooks", Target: tg, Store: f.st, Holder: "h1",
		BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond, MaxAttempts: 3}
	for _, m := range mod {
		m(&o)
	}
	r, err := targets.NewRunner(o)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *fixture) drain(r *targets.Runner) {
	f.t.Helper()
	for range 100 {
		n, err := r.Step(f.plain)
		if err != nil {
			f.t.Fatalf("step: %v", err)
		}
		if n == 0 {
			return
		}
	}
	f.t.Fatal("the runner never caught up")
}

func (f *fixture) createUser(id, userName string) {
	f.t.Helper()
	if _, err := f.st.Create(f.ctx, store.Resource{Ref: store.Ref{Tenant: tenant, Kind: store.User, ID: id},
		Attrs: map[string]any{"userName": userName, "active": true}}, nil); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) update(kind store.Kind, id string, fn func(r *store.Resource) store.MemberDelta) {
	f.t.Helper()
	if _, err := f.st.Update(f.ctx, store.Ref{Tenant: tenant, Kind: kind, ID: id}, func(r *store.Resource) (store.MemberDelta, error) {
		return fn(r), nil
	}); err != nil {
		f.t.Fatal(err)
	}
}

func types(es []webhook.Event) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Type+" "+e.ResourceID)
	}
	return out
}

// TestSignedEventsInOrder: the receiver verifies every request and sees
// the lifecycle of a user and a group in order, with stable ids.
func TestSignedEventsInOrder(t *testing.T) {
	f := newFixture(t, "s3cret")
	r := f.runner(f.open(webhook.Config{Secret: "s3cret", Headers: map[string]string{"X-Tenant": "acme"}}))
	f.createUser("u1", "alice")
	f.drain(r)
	f.update(store.User, "u1", func(r *store.Resource) store.MemberDelta { r.Attrs["title"] = "Eng"; return store.MemberDelta{} })
	f.drain(r)
	if _, err := f.st.Create(f.ctx, store.Resource{Ref: store.Ref{Tenant: tenant, Kind: store.Group, ID: "g1"},
		Attrs: map[string]any{"displayName": "staff"}}, []store.Member{{Value: "u1"}}); err != nil {
		t.Fatal(err)
	}
	f.drain(r)
	f.createUser("u2", "bob")
	f.update(store.Group, "g1", func(*store.Resource) store.MemberDelta {
		return store.MemberDelta{Add: []store.Member{{Value: "u2"}}, Remove: []string{"u1"}}
	})
	f.drain(r)
	f.update(store.User, "u1", func(r *store.Resource) store.MemberDelta { r.Attrs["active"] = false; return store.MemberDelta{} })
	f.drain(r)
	if err := f.st.Delete(f.ctx, store.Ref{Tenant: tenant, Kind: store.User, ID: "u1"}, 0); err != nil {
		t.Fatal(err)
	}
	f.drain(r)

	es, bad := f.rc.got()
	if bad != 0 {
		t.Errorf("%d requests failed verification", bad)
	}
	want := []string{"user.created u1", "user.updated u1", "group.created g1", "user.created u2",
		"group.members.added g1", "group.members.removed g1", "user.disabled u1", "user.deleted u1"}
	if got := types(es); !slices.Equal(got, want) {
		t.Fatalf("events = %q\nwant     %q", got, want)
	}
	if es[0].Resource["userName"] != "alice" || es[0].Resource["id"] != "u1" ||
		!slices.Contains(es[0].Resource["schemas"].([]any), any(targets.UserSchema)) || es[0].Origin.Source == "" {
		t.Errorf("user.created body = %+v", es[0])
	}
	if !slices.Equal(es[1].Changed, []string{"title"}) || es[1].Resource["title"] != "Eng" {
		t.Errorf("user.updated body = %+v", es[1])
	}
	if es[2].Members == nil || !slices.Equal(es[2].Members.Added, []string{"u1"}) {
		t.Errorf("group.created members = %+v", es[2].Members)
	}
	if !slices.Equal(es[4].Members.Added, []string{"u2"}) || !slices.Equal(es[5].Members.Removed, []string{"u1"}) {
		t.Errorf("membership events = %+v, %+v", es[4].Members, es[5].Members)
	}
	if es[7].Resource != nil || es[7].Name != "alice" {
		t.Errorf("user.deleted = %+v", es[7])
	}
	ids := map[string]bool{}
	for i, e := range es {
		if e.ID == "" || ids[e.ID] {
			t.Errorf("event %d id %q empty or repeated", i, e.ID)
		}
		ids[e.ID] = true
		h := f.rc.headers[i]
		if h.Get("Scimbridge-Event-Id") != e.ID || h.Get("Scimbridge-Event-Type") != e.Type || h.Get("X-Tenant") != "acme" {
			t.Errorf("event %d headers = %v", i, h)
		}
	}
}

// TestRedeliverySameID: the same change delivered twice (a retry, a replay
// after a crash) carries the same event id.
func TestRedeliverySameID(t *testing.T) {
	f := newFixture(t, "k")
	tg := f.open(webhook.Config{Secret: "k"})
	res := store.Resource{Ref: store.Ref{Tenant: tenant, Kind: store.User, ID: "u1"}, Attrs: map[string]any{"userName": "a"}}
	c := targets.Change{Tenant: tenant, Target: "hooks", Kind: store.User, ID: "u1", Action: targets.ActionUpdate,
		Resource: &res, Seqs: []int64{4, 7}, TargetID: "u1", At: time.Now()}
	for range 2 {
		if id, err := tg.Apply(f.ctx, c); err != nil || id != "u1" {
			t.Fatalf("apply = %q, %v", id, err)
		}
	}
	es, _ := f.rc.got()
	if len(es) != 2 || es[0].ID != es[1].ID || !slices.Equal(es[0].Seqs, []int64{4, 7}) {
		t.Errorf("events = %+v", es)
	}
}

// TestRotation: while rotating, a receiver holding either the new or the
// previous secret verifies every request.
func TestRotation(t *testing.T) {
	for _, secret := range []string{"new", "old"} {
		f := newFixture(t, secret)
		f.createUser("u1", "alice")
		f.drain(f.runner(f.open(webhook.Config{Secret: "new", PreviousSecret: "old"})))
		if es, bad := f.rc.got(); len(es) != 1 || bad != 0 {
			t.Errorf("receiver with %q: %d events, %d refused", secret, len(es), bad)
		}
		if h := f.rc.headers[0].Get(webhook.SignatureHeader); strings.Count(h, "v1=") != 2 {
			t.Errorf("signature while rotating = %q, want two v1", h)
		}
	}
	// After the rotation, the old secret no longer verifies.
	f := newFixture(t, "old")
	f.createUser("u1", "alice")
	r := f.runner(f.open(webhook.Config{Secret: "new"}))
	f.drain(r)
	if es, bad := f.rc.got(); len(es) != 0 || bad != 1 {
		t.Errorf("receiver with the retired secret: %d events, %d refused", len(es), bad)
	}
	ds, _ := r.DeadLetters(f.ctx)
	if len(ds) != 1 || !ds[0].Permanent || !strings.Contains(ds[0].Error, "401: bad signature") {
		t.Errorf("dead letters = %+v", ds)
	}
}

// TestVerify covers the helper receivers use.
func TestVerify(t *testing.T) {
	body := []byte(`{"id":"x"}`)
	now := time.Unix(1_800_000_000, 0)
	h := webhook.Sign(now, body, "a", "b")
	for _, tc := range []struct {
		name, secret, header string
		body                 []byte
		now                  time.Time
		want                 error
	}{
		{"current", "a", h, body, now, nil},
		{"previous", "b", h, body, now.Add(4 * time.Minute), nil},
		{"wrong secret", "c", h, body, now, webhook.ErrSignatureMismatch},
		{"tampered body", "a", h, []byte(`{"id":"y"}`), now, webhook.ErrSignatureMismatch},
		{"replayed late", "a", h, body, now.Add(6 * time.Minute), webhook.ErrTimestampOutside},
		{"from the future", "a", h, body, now.Add(-6 * time.Minute), webhook.ErrTimestampOutside},
		{"no v1", "a", "t=1800000000", body, now, webhook.ErrMalformedSignature},
		{"no t", "a", strings.Split(h, ",")[1], body, now, webhook.ErrMalformedSignature},
		{"bad hex", "a", "t=1800000000,v1=zz", body, now, webhook.ErrMalformedSignature},
		{"empty", "a", "", body, now, webhook.ErrMalformedSignature},
	} {
		if err := webhook.Verify(tc.secret, tc.header, tc.body, tc.now, 0); !errors.Is(err, tc.want) {
			t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
		}
	}
	// The documented construction, spelled out.
	if !strings.HasPrefix(h, "t=1800000000,v1=") {
		t.Errorf("header = %q", h)
	}
}

// TestRetryAfter: 429 with Retry-After and 503 are retried (the runner
// waits at least the Retry-After, bounded by MaxRetryAfter) until the
// receiver accepts.
func TestRetryAfter(t *testing.T) {
	f := newFixture(t, "k")
	f.rc.respond = func(n int, w http.ResponseWriter, r *http.Request, body []byte) bool {
		switch n {
		case 1, 2:
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return true
		case 3:
			http.Error(w, "down", http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	tg := f.open(webhook.Config{Secret: "k"})
	f.createUser("u1", "alice")

	// The adapter reports the Retry-After to the runner.
	res, _ := f.st.Get(f.ctx, store.Ref{Tenant: tenant, Kind: store.User, ID: "u1"})
	_, err := tg.Apply(f.ctx, targets.Change{Tenant: tenant, Kind: store.User, ID: "u1", Action: targets.ActionCreate, Resource: &res})
	var ra *targets.RetryAfterError
	if !errors.As(err, &ra) || ra.After != time.Second || targets.IsPermanent(err) {
		t.Fatalf("429 = %v, want a retryable RetryAfterError of 1s", err)
	}

	start := time.Now()
	f.drain(f.runner(tg, func(o *targets.Options) { o.MaxRetryAfter = 300 * time.Millisecond }))
	es, _ := f.rc.got()
	if len(es) != 1 || es[0].Type != "user.created" {
		t.Errorf("events = %q", types(es))
	}
	if f.rc.n != 4 {
		t.Errorf("requests = %d, want 4 (429 to Apply; 429, 503, 204 to the runner)", f.rc.n)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Errorf("the runner retried after %s, before the (capped) Retry-After", el)
	}
}

// TestBadRequestDeadLetters: a 400 is permanent: the change is
// dead-lettered with the receiver's message at once, the others flow.
func TestBadRequestDeadLetters(t *testing.T) {
	f := newFixture(t, "k")
	f.rc.respond = func(n int, w http.ResponseWriter, r *http.Request, body []byte) bool {
		var e webhook.Event
		_ = json.Unmarshal(body, &e)
		if e.ResourceID == "bad" {
			http.Error(w, "userName: must be an email address", http.StatusBadRequest)
			return true
		}
		return false
	}
	f.createUser("bad", "bad")
	f.createUser("ok", "ok@example.com")
	r := f.runner(f.open(webhook.Config{Secret: "k"}))
	f.drain(r)
	if es, _ := f.rc.got(); !slices.Equal(types(es), []string{"user.created ok"}) {
		t.Errorf("events = %q", types(es))
	}
	ds, _ := r.DeadLetters(f.ctx)
	if len(ds) != 1 || ds[0].ID != "bad" || ds[0].Attempts != 1 || !ds[0].Permanent ||
		!strings.Contains(ds[0].Error, "receiver answered 400: userName: must be an email address") {
		t.Errorf("dead letters = %+v", ds)
	}
	if st, _ := r.Status(f.ctx); st.DeadLetters != 1 || !strings.Contains(st.LastError, "must be an email address") {
		t.Errorf("status = %+v", st)
	}
}

// TestTimeout: a receiver that does not answer in time is a retryable
// failure; after MaxAttempts it is a dead letter (not a permanent one).
func TestTimeout(t *testing.T) {
	f := newFixture(t, "k")
	f.rc.respond = func(n int, w http.ResponseWriter, r *http.Request, body []byte) bool {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		return true
	}
	f.createUser("u1", "alice")
	r := f.runner(f.open(webhook.Config{Secret: "k", Timeout: 50 * time.Millisecond}), func(o *targets.Options) { o.MaxAttempts = 2 })
	f.drain(r)
	ds, _ := r.DeadLetters(f.ctx)
	if len(ds) != 1 || ds[0].Permanent || ds[0].Attempts != 2 || !strings.Contains(ds[0].Error, "no answer within 50ms") {
		t.Errorf("dead letters = %+v", ds)
	}
}

// TestValidate: bad config fails naming the fields.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		c    webhook.Config
		want []string
	}{
		{webhook.Config{}, []string{"webhook.url: required", "webhook.secret: required"}},
		{webhook.Config{URL: "ftp://x/y", Secret: "s"}, []string{`webhook.url: "ftp://x/y" is not an http or https URL`}},
		{webhook.Config{URL: "https://", Secret: "s"}, []string{"webhook.url"}},
		{webhook.Config{URL: "https://h/", Secret: "s", Timeout: -time.Second}, []string{"webhook.timeout"}},
		{webhook.Config{URL: "https://h/", Secret: "s", Headers: map[string]string{"scimbridge-signature": "x"}}, []string{"webhook.headers: scimbridge-signature is set by the bridge"}},
	} {
		err := tc.c.Validate()
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("Validate(%+v) = %v, want %q", tc.c, err, w)
			}
		}
	}
	c := webhook.Config{URL: "http://127.0.0.1:1/x", Secret: "s"}
	if err := c.Validate(); err != nil || c.Timeout != webhook.DefaultTimeout {
		t.Errorf("valid config: %v, timeout %s", err, c.Timeout)
	}
}

// TestCreatedAndDeletedInOneBatch: a user the receiver never heard of is
// not announced as deleted.
func TestCreatedAndDeletedInOneBatch(t *testing.T) {
	f := newFixture(t, "k")
	f.createUser("u1", "alice")
	f.createUser("u2", "bob")
	if err := f.st.Delete(f.ctx, store.Ref{Tenant: tenant, Kind: store.User, ID: "u1"}, 0); err != nil {
		t.Fatal(err)
	}
	f.drain(f.runner(f.open(webhook.Config{Secret: "k"})))
	if es, _ := f.rc.got(); !slices.Equal(types(es), []string{"user.created u2"}) {
		t.Errorf("events = %q", types(es))
	}
}
