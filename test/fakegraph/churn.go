package fakegraph

import (
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
)

// Churn changes the displayName and jobTitle of n live users (fewer when the directory is
// smaller), moving on through the directory on each call, so that the next
// incremental round has n changed users. Benchmarks drive it in another
// process through POST /_fakegraph/churn?n=N.
func (s *Server) Churn(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := 0
	wrapped := false
	seen := map[string]bool{}
	for changed < n {
		ids := s.dir.nextUserIDs(s.churnAfter, n-changed)
		if len(ids) == 0 {
			if wrapped || s.churnAfter == "" {
				break
			}
			s.churnAfter, wrapped = "", true
			continue
		}
		for _, id := range ids {
			if seen[id] {
				return changed
			}
			seen[id] = true
			s.churnAfter = id
			r := s.dir.lookupUser(id, false)
			if r == nil || !r.live {
				continue
			}
			u := r.u
			u.JobTitle = fmt.Sprintf("Churn %d", s.dir.version+1)
			u.DisplayName = fmt.Sprintf("%s (churn %d)", strings.TrimRight(strings.SplitN(u.DisplayName, " (churn", 2)[0], " "), s.dir.version+1)
			s.dir.putUser(u)
			changed++
		}
	}
	return changed
}

// serveControl answers the fake's own endpoints under /_fakegraph/, which
// let another process script it: POST churn?n=N, GET stats. They take the
// client secret as a bearer token.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request, path string) {
	if r.Header.Get("Authorization") != "Bearer "+s.opts.ClientSecret {
		writeGraphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "the control endpoints take the client secret as a bearer token")
		return
	}
	switch {
	case path == "/_fakegraph/churn" && r.Method == http.MethodPost:
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 0 {
			writeGraphError(w, http.StatusBadRequest, "BadRequest", "n must be a count")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"changed": s.Churn(n)})
	case path == "/_fakegraph/stats" && r.Method == http.MethodGet:
		s.logMu.Lock()
		counts := maps.Clone(s.counts)
		s.logMu.Unlock()
		s.mu.Lock()
		body := map[string]any{"requests": counts, "tokensIssued": s.tokensIssued, "version": s.dir.version}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, body)
	case path == "/_fakegraph/expire-tokens" && r.Method == http.MethodPost:
		s.ExpireTokens()
		writeJSON(w, http.StatusOK, map[string]any{})
	default:
		writeGraphError(w, http.StatusNotFound, "NotFound", "no such control endpoint")
	}
}
