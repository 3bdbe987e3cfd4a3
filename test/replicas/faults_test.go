package replicas_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/mongo"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestMongoDownAtStart: Open on a loopback port nothing listens on fails
// within its timeout with a one-line error that wraps store.ErrUnavailable
// and does not leak the URI's credentials.
func TestMongoDownAtStart(t *testing.T) {
	const user, password = "scimuser", "Sup3rS3cretPw"
	uri := "mongodb://" + user + ":" + password + "@" + closedPort(t) + "/?authSource=admin"
	start := time.Now()
	st, err := mongo.Open(context.Background(), uri, "scimbridge", mongo.WithTimeout(time.Second))
	took := time.Since(start)
	if err == nil {
		st.Close()
		t.Fatal("Open succeeded on a closed port")
	}
	t.Logf("Open failed after %v: %v", took.Round(time.Millisecond), err)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("error %q does not wrap store.ErrUnavailable", err)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	for _, leak := range []string{password, url.QueryEscape(password), user + ":"} {
		if strings.Contains(msg, leak) {
			t.Errorf("error leaks the credentials (%q): %q", leak, msg)
		}
	}
	for _, trace := range []string{"goroutine ", ".go:", "panic"} {
		if strings.Contains(msg, trace) {
			t.Errorf("error looks like a stack trace (%q): %q", trace, msg)
		}
	}
	if took > 15*time.Second {
		t.Errorf("Open took %v with a 1s timeout", took)
	}
}

// ferret is an in-process FerretDB this test can stop and restart on the
// same address and data directory.
type ferret struct {
	t      *testing.T
	addr   string
	dir    string
	cancel context.CancelFunc
	done   chan struct{}
}

func startFerret(t *testing.T) *ferret {
	f := &ferret{t: t, addr: closedPort(t), dir: t.TempDir()}
	f.start()
	t.Cleanup(f.stop)
	return f
}

func (f *ferret) uri() string { return "mongodb://" + f.addr + "/" }

func (f *ferret) start() {
	f.t.Helper()
	db, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: f.addr},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Handler:   "sqlite",
		SQLiteURL: "file:" + f.dir + "/",
	})
	if err != nil {
		f.t.Fatalf("start FerretDB: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan struct{})
	go func() {
		defer close(f.done)
		_ = db.Run(ctx)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", f.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("FerretDB did not listen on %s: %v", f.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop shuts FerretDB down: its listener and every connection close.
func (f *ferret) stop() {
	if f.cancel == nil {
		return
	}
	f.cancel()
	f.cancel = nil
	select {
	case <-f.done:
	case <-time.After(30 * time.Second):
		f.t.Fatal("FerretDB did not stop")
	}
}

// proxy is a TCP proxy in front of FerretDB whose connections can be cut
// at once (a network loss), unlike FerretDB's own graceful shutdown, which
// lets open connections finish their work for up to 3 s.
type proxy struct {
	t       *testing.T
	addr    string
	backend string
	mu      sync.Mutex
	l       net.Listener
	conns   map[net.Conn]bool
}

func startProxy(t *testing.T, backend string) *proxy {
	p := &proxy{t: t, addr: closedPort(t), backend: backend, conns: map[net.Conn]bool{}}
	p.up()
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) uri() string { return "mongodb://" + p.addr + "/" }

// up listens again on the proxy's address.
func (p *proxy) up() {
	p.t.Helper()
	var l net.Listener
	var err error
	for range 100 { // the port may linger briefly after a cut
		if l, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy: %v", err)
	}
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
}

func (p *proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l == nil {
		return false
	}
	for _, c := range cs {
		p.conns[c] = true
	}
	return true
}

func (p *proxy) serve(c net.Conn) {
	b, err := net.DialTimeout("tcp", p.backend, 2*time.Second)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, b) {
		c.Close()
		b.Close()
		return
	}
	go func() { _, _ = io.Copy(b, c); b.Close(); c.Close() }()
	_, _ = io.Copy(c, b)
	c.Close()
	b.Close()
}

// cut closes the listener and every proxied connection.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != nil {
		p.l.Close()
		p.l = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// TestMongoLostWhileServing stops MongoDB (FerretDB) under a serving
// bridge: every request gets a SCIM 503, /readyz says unavailable, and
// nothing is half-written. Then the server comes back on the same address
// and data: the same handler recovers without a restart and writes work.
// Finally the network to the server is cut (a TCP proxy drops every
// connection) in the middle of concurrent writes for longer than the
// store's timeout, then restored: afterwards every acknowledged write is there, every write is either
// complete (with its journal entry) or absent, and the journal is gapless.
func TestMongoLostWhileServing(t *testing.T) {
	ctx := context.Background()
	reg := loadSchemas(t)
	f := startFerret(t)
	p := startProxy(t, f.addr)
	st, err := mongo.Open(ctx, p.uri(), "scimbridge", mongo.WithSchemas(reg),
		mongo.WithTimeout(2*time.Second), mongo.WithLease(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	br := newBridge(t, "A", st, reg)
	w := &workload{t: t, a: br, b: br, ids: map[string]string{}}

	for i := range 4 {
		w.createUser(br, userKey(i))
	}
	r := br.do("POST", "/Groups", groupBody(0))
	if w.expect(br, "create group", r, 201) {
		w.writes.Add(1)
		w.setID(groupKey(0), r.str("id"))
	}
	addMembers := func(keys ...string) map[string]any {
		var vals []any
		for _, k := range keys {
			vals = append(vals, map[string]any{"value": w.id(k)})
		}
		return patchOp(op("Add", "members", vals))
	}
	if w.expect(br, "add members", br.do("PATCH", "/Groups/"+w.id(groupKey(0)), addMembers(userKey(0), userKey(1))), 204) {
		w.writes.Add(1)
	}
	if t.Failed() {
		t.FailNow()
	}
	before := journal(t, st)
	if len(before) != int(w.writes.Load()) {
		t.Fatalf("%d journal entries for %d writes", len(before), w.writes.Load())
	}

	// The server goes away.
	f.stop()
	start := time.Now()
	u0, u3, g0 := w.id(userKey(0)), w.id(userKey(3)), w.id(groupKey(0))
	type call struct {
		name, method, path string
		body               any
	}
	calls := []call{
		{"list", "GET", "/Users", nil},
		{"filter", "GET", filterPath("Users", "userName", userName(userKey(1))), nil},
		{"get", "GET", "/Users/" + u0, nil},
		{"create", "POST", "/Users", userBody("lost")},
		{"patch user", "PATCH", "/Users/" + u0, patchOp(op("Replace", "displayName", "lost update"))},
		{"put user", "PUT", "/Users/" + u3, userBody(userKey(3))},
		{"patch group", "PATCH", "/Groups/" + g0, addMembers(userKey(2))},
		{"delete", "DELETE", "/Users/" + u3, nil},
	}
	var jobs []func()
	for _, c := range calls {
		jobs = append(jobs, func() {
			if err := isSCIMError(br.do(c.method, c.path, c.body), 503, ""); err != nil {
				t.Errorf("%s while MongoDB is down: %v", c.name, err)
			}
		})
	}
	jobs = append(jobs, func() {
		if r := br.do("GET", "/readyz", nil); r.status != 503 {
			t.Errorf("readyz while MongoDB is down: %v", r)
		}
	})
	parallel(len(jobs), jobs)
	t.Logf("outage: %d requests answered 503 in %v", len(jobs), time.Since(start).Round(time.Millisecond))

	// It comes back: the same handler recovers by itself.
	f.start()
	start = time.Now()
	for {
		r := br.do("GET", "/readyz", nil)
		if r.status == 200 {
			break
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("readyz after MongoDB came back: %v", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("ready again %v after the restart", time.Since(start).Round(time.Millisecond))
	// Nothing of the failed requests was written.
	w.total(br, "filter lost", br.do("GET", filterPath("Users", "userName", userName("lost")), nil), 0)
	if g := br.do("GET", "/Users/"+u0, nil); w.expect(br, "get user00", g, 200) && (g.str("displayName") != "Display user00" || g.header.Get("ETag") != `W/"1"`) {
		t.Errorf("user00 changed by a failed PATCH: %s", g.raw)
	}
	if g := br.do("GET", "/Users/"+u3, nil); w.expect(br, "get user03", g, 200) && g.header.Get("ETag") != `W/"1"` {
		t.Errorf("user03 changed by a failed PUT: %s", g.raw)
	}
	if g := br.do("GET", "/Groups/"+g0, nil); w.expect(br, "get group0", g, 200) {
		if ms, _ := g.body["members"].([]any); len(ms) != 2 || g.header.Get("ETag") != `W/"2"` {
			t.Errorf("group0 changed by a failed PATCH: %s", g.raw)
		}
	}
	if after := journal(t, st); len(after) != len(before) {
		t.Errorf("the failed requests left %d journal entries", len(after)-len(before))
	}
	// Writes work again, through the same handler and store.
	w.createUser(br, "lost")
	if w.expect(br, "patch user00", br.do("PATCH", "/Users/"+u0, patchOp(op("Replace", "displayName", "back"))), 200) {
		w.writes.Add(1)
	}
	if w.expect(br, "patch group0", br.do("PATCH", "/Groups/"+g0, addMembers(userKey(2))), 204) {
		w.writes.Add(1)
	}
	if w.expect(br, "delete user03", br.do("DELETE", "/Users/"+u3, nil), 204) {
		w.writes.Add(1)
	}
	if after := journal(t, st); len(after) != int(w.writes.Load()) {
		t.Errorf("%d journal entries for %d writes after recovery", len(after), w.writes.Load())
	}
	if t.Failed() {
		t.FailNow()
	}

	// Lost in the middle of concurrent writes.
	cutMidTraffic(t, p, br, st, w)
}

// journal reads the default tenant's journal and checks it is gapless and
// that every entry is a push by the test token, whichever replica wrote it.
func journal(t *testing.T, st store.Store) []store.Change {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := allChanges(ctx, st, "default")
	if err != nil {
		t.Fatalf("read the journal: %v", err)
	}
	for i, c := range cs {
		if c.Seq != int64(i+1) {
			t.Fatalf("journal entry %d has seq %d: not gapless", i, c.Seq)
		}
		if want := (store.Origin{Source: store.SourcePush, Actor: "token " + auth.TokenID(auth.HashToken(token))}); c.Origin != want {
			t.Fatalf("journal entry %d has origin %+v, want %+v", c.Seq, c.Origin, want)
		}
	}
	return cs
}

// cutMidTraffic stops the server while writers are busy, restarts it, and
// checks that nothing is half-done.
func cutMidTraffic(t *testing.T, p *proxy, br *bridge, st store.Store, w *workload) {
	const writers, perWriter = 4, 8
	g0 := w.id(groupKey(0))
	var (
		mu     sync.Mutex
		acked  = map[string]bool{} // created (201)
		tried  = map[string]bool{} // create sent, outcome unknown (503)
		others []string
	)
	stopAfter := make(chan struct{})
	var wg sync.WaitGroup
	for n := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range perWriter {
				if n == 0 && k == 2 {
					close(stopAfter)
				}
				key := fmt.Sprintf("cut%d-%d", n, k)
				r := br.do("POST", "/Users", userBody(key))
				mu.Lock()
				switch {
				case r.err == nil && r.status == 201:
					acked[key] = true
					w.setID(key, r.str("id"))
				case isSCIMError(r, 503, "") == nil:
					tried[key] = true
				default:
					others = append(others, fmt.Sprintf("create %s: %v", key, r))
				}
				mu.Unlock()
				if r.status != 201 {
					continue
				}
				// And add it to group0 (a write with a membership delta).
				r = br.do("PATCH", "/Groups/"+g0, patchOp(op("Add", "members", []any{map[string]any{"value": r.str("id")}})))
				if r.err != nil || (r.status != 204 && isSCIMError(r, 503, "") != nil) {
					mu.Lock()
					others = append(others, fmt.Sprintf("add %s to group0: %v", key, r))
					mu.Unlock()
				}
			}
		}()
	}
	<-stopAfter
	time.Sleep(30 * time.Millisecond)
	p.cut()
	// Longer than twice the store's 2s timeout (a retryable write may wait
	// twice): requests in flight and new ones fail rather than wait for the
	// network to come back.
	time.Sleep(5 * time.Second)
	p.up()
	wg.Wait()
	for _, o := range others {
		t.Errorf("during the cut, not 2xx and not a SCIM 503: %s", o)
	}
	t.Logf("cut mid-traffic: %d creates acknowledged, %d answered 503", len(acked), len(tried))
	if len(tried) == 0 || len(acked) == 0 {
		t.Errorf("the cut did not fall in the middle of the traffic (%d acknowledged, %d failed)", len(acked), len(tried))
	}

	// Let recovery finish what was cut between its steps (lease 2s), then
	// check: acknowledged creates exist, every resource is journaled up to
	// its version exactly once, group0's journaled members are its members.
	time.Sleep(3 * time.Second)
	deadline := time.Now().Add(60 * time.Second)
	for {
		problems := consistency(t, br, st, acked, tried)
		if len(problems) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, p := range problems {
				t.Error(p)
			}
			return
		}
		time.Sleep(time.Second)
	}
}

// consistency compares the resources served with the journal.
func consistency(t *testing.T, br *bridge, st store.Store, acked, tried map[string]bool) []string {
	var problems []string
	s := takeSnapshot(t, br)
	cs := journal(t, st)
	last := map[string]store.Change{}
	versions := map[string][]int64{}
	members := map[string]map[string]bool{}
	for _, c := range cs {
		versions[c.ID] = append(versions[c.ID], c.Version)
		last[c.ID] = c
		if members[c.ID] == nil {
			members[c.ID] = map[string]bool{}
		}
		for _, m := range c.Added {
			members[c.ID][m] = true
		}
		for _, m := range c.Removed {
			delete(members[c.ID], m)
		}
	}
	byKey := map[string]string{}
	for id, k := range s.key {
		byKey[k] = id
	}
	for k := range acked {
		if byKey[k] == "" {
			problems = append(problems, fmt.Sprintf("acknowledged create of %s is lost", k))
		}
	}
	for id, raw := range s.raw {
		r := raw.(map[string]any)
		vs := versions[id]
		v := etagVersion(r)
		for i, jv := range vs {
			if jv != int64(i+1) {
				problems = append(problems, fmt.Sprintf("%s: journal versions %v", s.key[id], vs))
				break
			}
		}
		if len(vs) != v {
			problems = append(problems, fmt.Sprintf("%s has version %d and %d journal entries", s.key[id], v, len(vs)))
		}
		if k := s.key[id]; strings.HasPrefix(k, "cut") && !acked[k] && !tried[k] {
			problems = append(problems, fmt.Sprintf("%s exists but was never created", k))
		}
		if ms, ok := r["members"].([]any); ok {
			got := map[string]bool{}
			for _, m := range ms {
				got[m.(map[string]any)["value"].(string)] = true
			}
			for m := range members[id] {
				if _, alive := s.raw[m]; alive && !got[m] {
					problems = append(problems, fmt.Sprintf("%s: journaled member %s is not a member", s.key[id], s.key[m]))
				}
			}
			for m := range got {
				if !members[id][m] {
					problems = append(problems, fmt.Sprintf("%s: member %s was never journaled", s.key[id], s.key[m]))
				}
			}
		}
	}
	for id, c := range last {
		if _, ok := s.raw[id]; !ok && c.Op != store.OpDelete {
			problems = append(problems, fmt.Sprintf("%s %s is journaled (%s v%d) but absent", c.Kind, id, c.Op, c.Version))
		}
	}
	return problems
}
