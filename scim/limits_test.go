package scim_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/scim"
)

// blockingBody records whether it was read, and blocks a read until the
// test ends.
type blockingBody struct {
	reads   atomic.Int32
	release chan struct{}
}

func (b *blockingBody) Read(p []byte) (int, error) {
	b.reads.Add(1)
	<-b.release
	return 0, io.EOF
}

func (b *blockingBody) Close() error { return nil }

// A request refused by authentication (or for an unknown tenant) never has
// its body read.
func TestRefusedRequestBodyNeverRead(t *testing.T) {
	h := newHarness(t)
	handler := h.srv.Config.Handler
	for _, c := range []struct{ method, path, token string }{
		{"POST", "/scim/v2/Users", ""},
		{"POST", "/scim/v2/Users", "wrong"},
		{"POST", "/scim/v2/Users", acmeToken},
		{"PUT", "/scim/v2/Users/x", "wrong"},
		{"PATCH", "/scim/v2/Groups/x", "wrong"},
		{"POST", "/scim/v2/Bulk", "wrong"},
		{"POST", "/scim/v2/Users/.search", "wrong"},
		{"POST", "/tenants/acme/scim/v2/Users", testToken},
		{"POST", "/tenants/nope/scim/v2/Users", testToken},
	} {
		body := &blockingBody{release: make(chan struct{})}
		req := httptest.NewRequest(c.method, c.path, body)
		req.ContentLength = 100
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() { handler.ServeHTTP(rec, req); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s %s: the handler is blocked reading the body", c.method, c.path)
		}
		close(body.release)
		if n := body.reads.Load(); n != 0 {
			t.Errorf("%s %s (token %q): body read %d times", c.method, c.path, c.token, n)
		}
		if rec.Code != http.StatusUnauthorized && rec.Code != http.StatusNotFound {
			t.Errorf("%s %s: status %d", c.method, c.path, rec.Code)
		}
	}
}

// rawRequest writes head on a new connection to srv and returns the
// connection and a reader of its responses.
func rawRequest(t *testing.T, srv *httptest.Server, head string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	return conn, bufio.NewReader(conn)
}

func postHead(path, token string, length int) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: example.test\r\nAuthorization: Bearer %s\r\nContent-Type: application/scim+json\r\nContent-Length: %d\r\n\r\n", path, token, length)
}

// On a real connection, a 401 is answered at once although the body never
// comes, and the connection is closed instead of read to the body's end.
func TestRefusedRequestAnsweredWithoutBody(t *testing.T) {
	h := newHarness(t)
	conn, br := rawRequest(t, h.srv, postHead("/scim/v2/Users", "wrong", 100000))
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no response while the body is outstanding: %v", err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || !res.Close {
		t.Fatalf("status %d, close %v", res.StatusCode, res.Close)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("connection not closed: %v", err)
	}
}

// Each tenant has its own slots: beyond them a request waits, then gets
// 429 with Retry-After; another tenant is not affected; a freed slot is
// taken by a waiting request.
func TestTenantConcurrencyLimit(t *testing.T) {
	const wait = 1500 * time.Millisecond
	h := newHarness(t, func(o *scim.Options) {
		o.MaxConcurrentRequests = 1
		o.QueueWait = wait
		o.MinBodyRate = -1
	})
	// Request A holds the default tenant's only slot while its body is
	// outstanding.
	body := `{"schemas":["` + schemas.UserURN + `"],"userName":"slow"}`
	conn, br := rawRequest(t, h.srv, postHead("/scim/v2/Users", testToken, len(body)))
	// B is refused once A has its slot (until then B gets one itself).
	var r resp
	var waited time.Duration
	for deadline := time.Now().Add(20 * time.Second); ; {
		start := time.Now()
		r = h.do("GET", "/Users", nil)
		waited = time.Since(start)
		if r.status != http.StatusOK || time.Now().After(deadline) {
			break
		}
	}
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "2" {
		t.Fatalf("status %d, Retry-After %q: %s", r.status, r.header.Get("Retry-After"), r.raw)
	}
	h.scimError(r, http.StatusTooManyRequests, "")
	if waited < wait {
		t.Errorf("answered after %v, before the queue wait", waited)
	}
	// Another tenant is served.
	h.token = acmeToken
	h.must(http.StatusOK, h.do("GET", "/tenants/acme/scim/v2/Users", nil))
	h.token = testToken

	// C waits for the slot, which A frees.
	got := make(chan resp, 1)
	go func() { got <- h.do("GET", "/Users", nil) }()
	time.Sleep(100 * time.Millisecond) // C waits (it has up to 1.5 s)
	io.WriteString(conn, body)
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("A: %v %v", res, err)
	}
	if c := <-got; c.status != http.StatusOK {
		t.Fatalf("C: %d %s", c.status, c.raw)
	}
}

// An authenticated body that arrives slower than the minimum rate after the
// grace period is cut off with 408, on a real connection; one that keeps the
// rate is served.
func TestSlowBodyCutOff(t *testing.T) {
	h := newHarness(t, func(o *scim.Options) {
		o.MinBodyRate = 1000
		o.BodyGracePeriod = time.Second
		o.MaxConcurrentRequests = 1
	})
	conn, br := rawRequest(t, h.srv, postHead("/scim/v2/Users", testToken, 5000))
	stop := make(chan struct{})
	defer close(stop)
	go func() { // 100 bytes per second
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				if _, err := io.WriteString(conn, "          "); err != nil {
					return
				}
			}
		}
	}()
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusRequestTimeout || !res.Close || !strings.Contains(string(raw), `"408"`) {
		t.Fatalf("status %d close %v: %s", res.StatusCode, res.Close, raw)
	}
	// Cut off once the grace period and the bytes sent no longer cover
	// the time: well before the body could have been sent.
	if took := time.Since(start); took > 6*time.Second {
		t.Errorf("cut off after %v", took)
	}
	// The slot is free again.
	h.must(http.StatusOK, h.do("GET", "/Users", nil))

	// A body that pauses within the grace period (1 s) and then arrives
	// fast is fine.
	body := `{"schemas":["` + schemas.UserURN + `"],"userName":"paused"}`
	conn2, br2 := rawRequest(t, h.srv, postHead("/scim/v2/Users", testToken, len(body)))
	io.WriteString(conn2, body[:10])
	time.Sleep(200 * time.Millisecond)
	io.WriteString(conn2, body[10:])
	conn2.SetReadDeadline(time.Now().Add(5 * time.Second))
	res2, err := http.ReadResponse(br2, nil)
	if err != nil || res2.StatusCode != http.StatusCreated {
		t.Fatalf("paused body: %v %v", res2, err)
	}
}
