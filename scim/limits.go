package scim

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"
)

// Defaults of the per-tenant request limits (Options).
const (
	// DefaultMaxConcurrent is the number of requests one tenant may have in
	// progress at once in one process. Entra's provisioning service sends
	// far fewer at a time, so it never meets the limit in normal operation.
	DefaultMaxConcurrent = 64
	// DefaultQueueWait is how long a request waits for one of its tenant's
	// slots before it is answered 429.
	DefaultQueueWait = 5 * time.Second
	// DefaultMinBodyRate is the slowest a request body may arrive, in bytes
	// per second, once DefaultBodyGrace has passed.
	DefaultMinBodyRate = 4096
	// DefaultBodyGrace is the time a body may take before its rate counts.
	DefaultBodyGrace = 5 * time.Second

	// maxBodyDuration caps the time a body may take whatever its rate (as
	// serve's ReadTimeout does, which guardBody's read deadlines replace).
	maxBodyDuration = 2 * time.Minute
)

// errBodyTooSlow is what a guarded body's Read returns once the body has
// fallen behind the minimum rate; readLimited turns it into a 408.
var errBodyTooSlow = errors.New("scim: the request body arrived too slowly")

// limitTenant admits an authenticated request only when its tenant has fewer
// than maxConcurrent requests in progress: it waits up to queueWait for a
// slot, then answers 429 with Retry-After. One tenant's burst thus cannot
// take every connection and worker from the others. The limit is per
// process: replicas each have their own. It also guards the body (guardBody).
func (s *server) limitTenant(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slots := s.slots[tenantOf(r)]
		select {
		case slots <- struct{}{}:
		default:
			t := time.NewTimer(s.queueWait)
			select {
			case slots <- struct{}{}:
				t.Stop()
			case <-t.C:
				w.Header().Set("Retry-After", retryAfterSeconds(s.queueWait))
				writeAPIError(w, errStatus(http.StatusTooManyRequests,
					"Too many concurrent requests for this tenant; retry later."))
				return
			case <-r.Context().Done():
				t.Stop()
				return // the client is gone
			}
		}
		defer func() { <-slots }()
		next.ServeHTTP(w, s.guardBody(w, r))
	})
}

// guardBody makes the body of an authenticated request fail with
// errBodyTooSlow (a 408) once it has fallen behind minBodyRate bytes per
// second after bodyGrace, so a client trickling a body cannot hold a slot
// and a connection for long. It sets the connection's read deadline before
// each read, so a read that blocks is cut off too; where the connection has
// no deadlines (an internal request) the rate is checked after each read.
func (s *server) guardBody(w http.ResponseWriter, r *http.Request) *http.Request {
	if s.minBodyRate <= 0 || r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return r
	}
	r2 := new(http.Request)
	*r2 = *r
	r2.Body = &rateReader{ReadCloser: r.Body, rc: http.NewResponseController(w),
		start: time.Now(), grace: s.bodyGrace, rate: s.minBodyRate, deadlines: true}
	return r2
}

type rateReader struct {
	io.ReadCloser
	rc        *http.ResponseController
	start     time.Time
	grace     time.Duration
	rate      int64 // bytes per second
	n         int64 // bytes read so far
	deadlines bool  // the connection takes read deadlines
	done      bool
}

// due is when the body must have delivered more than n bytes.
func (b *rateReader) due() time.Time {
	d := b.start.Add(b.grace + time.Duration(float64(b.n)/float64(b.rate)*float64(time.Second)))
	if max := b.start.Add(maxBodyDuration); d.After(max) {
		return max
	}
	return d
}

func (b *rateReader) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	due := b.due()
	if b.deadlines && b.rc.SetReadDeadline(due) != nil {
		b.deadlines = false
	}
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	switch {
	case err == nil:
		if !b.deadlines && time.Now().After(due) {
			return n, errBodyTooSlow
		}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return n, errBodyTooSlow
	default: // io.EOF or a failure: the connection's deadline is no longer ours to set
		b.done = true
		if b.deadlines {
			_ = b.rc.SetReadDeadline(time.Time{})
		}
	}
	return n, err
}

// bodyState records whether the request body was read to its end.
type bodyState struct {
	io.ReadCloser
	eof bool
}

func (b *bodyState) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

// closeIfUnread prepares a response written before the request body was
// read to its end (a 401, a 404 for an unknown tenant, a 408 or 413): it
// closes the connection afterwards instead of letting net/http read the rest
// of the body, which would let an unauthenticated client hold a connection by
// trickling a body nobody wants.
func closeIfUnread(w http.ResponseWriter, body *bodyState) {
	if body == nil || body.eof {
		return
	}
	w.Header().Set("Connection", "close")
	// The body is not read any more: end a read net/http might still try.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now())
}
