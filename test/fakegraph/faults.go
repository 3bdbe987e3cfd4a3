package fakegraph

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

type faultKind int

const (
	faultThrottle faultKind = iota
	faultGone
	faultSyncStateNotFound
	faultResyncRequired
	faultStatus
	faultMalformed
)

// fault is one scripted failure; the queue is consumed one fault per Graph
// request (after the token check), in the order the faults were scripted.
type fault struct {
	kind       faultKind
	status     int
	retryAfter time.Duration
}

func (s *Server) push(f ...fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f...)
}

// ThrottleNext answers the next n Graph requests with 429 Too Many
// Requests and Retry-After (whole seconds, rounded up).
func (s *Server) ThrottleNext(n int, retryAfter time.Duration) {
	for range n {
		s.push(fault{kind: faultThrottle, status: http.StatusTooManyRequests, retryAfter: retryAfter})
	}
}

// GoneNext answers the next Graph request with 410 Gone and a Location
// header holding a delta URL that starts a fresh initial round of the same
// query (its $select kept).
func (s *Server) GoneNext() { s.push(fault{kind: faultGone, status: http.StatusGone}) }

// SyncStateNotFoundNext answers the next Graph request with 400 and error
// code syncStateNotFound (an expired delta token).
func (s *Server) SyncStateNotFoundNext() {
	s.push(fault{kind: faultSyncStateNotFound, status: http.StatusBadRequest})
}

// ResyncRequiredNext answers the next Graph request with 400 and error code
// resyncRequired.
func (s *Server) ResyncRequiredNext() {
	s.push(fault{kind: faultResyncRequired, status: http.StatusBadRequest})
}

// FailNext answers the next Graph request with status and a Graph error
// body (503 and 504 carry Retry-After: 1, as Graph's gateways do).
func (s *Server) FailNext(status int) { s.push(fault{kind: faultStatus, status: status}) }

// ReplayNext makes the deltaLink that ends the next incremental round
// start where that round started, so that the round after it returns the
// same changes again (Graph may replay changes; clients apply idempotently).
func (s *Server) ReplayNext() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replay = true
}

// MalformedNext answers the next Graph request with 200 and a body that
// is not JSON (a truncated page).
func (s *Server) MalformedNext() { s.push(fault{kind: faultMalformed, status: http.StatusOK}) }

// PendingFaults is the number of scripted faults not yet served.
func (s *Server) PendingFaults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.faults)
}

// fault serves the next scripted fault, if any.
func (s *Server) fault(w http.ResponseWriter, kind string, sel []string) bool {
	s.mu.Lock()
	if len(s.faults) == 0 {
		s.mu.Unlock()
		return false
	}
	f := s.faults[0]
	s.faults = s.faults[1:]
	var location string
	if f.kind == faultGone {
		location = s.deltaLink(cursor{Kind: kind, Select: sel, Initial: true})
	}
	s.mu.Unlock()
	switch f.kind {
	case faultThrottle:
		secs := int((f.retryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		w.Header().Set("x-ms-throttle-scope", "Tenant_Application/ReadWrite/"+s.opts.TenantID+"/"+s.opts.ClientID)
		w.Header().Set("x-ms-throttle-information", "ResourceUnitLimitExceeded")
		writeGraphError(w, f.status, "TooManyRequests", "Too many requests.")
	case faultGone:
		w.Header().Set("Location", location)
		writeGraphError(w, f.status, "resyncRequired", "Resync required. The delta token is no longer valid: restart with the URL in the Location header.")
	case faultSyncStateNotFound:
		writeGraphError(w, f.status, "syncStateNotFound", "The sync state generation is not found.")
	case faultResyncRequired:
		writeGraphError(w, f.status, "resyncRequired", "Resync required. Replace any local cached copy with a full resync.")
	case faultMalformed:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(f.status)
		_, _ = w.Write([]byte(`{"@odata.context":"` + s.GraphBaseURL() + `/$metadata#` + kind + `","value":[{"id":"`))
	default:
		if f.status == http.StatusServiceUnavailable || f.status == http.StatusGatewayTimeout {
			w.Header().Set("Retry-After", "1")
		}
		writeGraphError(w, f.status, codeFor(f.status), fmt.Sprintf("fakegraph: scripted failure %d.", f.status))
	}
	return true
}

func codeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "BadRequest"
	case http.StatusUnauthorized:
		return "InvalidAuthenticationToken"
	case http.StatusForbidden:
		return "Authorization_RequestDenied"
	case http.StatusNotFound:
		return "Request_ResourceNotFound"
	case http.StatusServiceUnavailable:
		return "serviceNotAvailable"
	case http.StatusGatewayTimeout:
		return "UnknownError"
	}
	return "generalException"
}
