package scim

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
)

// storedReloadInterval bounds how often a request with an unknown token makes
// the server re-read the stored token hashes (so `scimbridge token create`
// takes effect without a restart, but a flood of bad tokens cannot hammer the
// store).
const storedReloadInterval = time.Second

// tenantAuth holds one tenant's credentials: static and stored token hashes,
// OAuth clients and the optional Entra JWT verifier.
type tenantAuth struct {
	name   string
	static [][32]byte

	mu       sync.RWMutex
	stored   [][32]byte
	loadedAt time.Time

	// Set up by configure (oauth.go) and immutable afterwards.
	clients  []OAuthClient
	lifetime time.Duration
	jwt      *jwtVerifier
	now      func() time.Time

	// cache holds recently validated OAuth access tokens and JWTs (by hash)
	// with the time until which they are trusted without a new check.
	cmu      sync.RWMutex
	cache    map[[32]byte]time.Time
	prunedAt time.Time
}

func (t *tenantAuth) match(h [32]byte) bool {
	ok := 0
	for i := range t.static {
		ok |= subtle.ConstantTimeCompare(h[:], t.static[i][:])
	}
	t.mu.RLock()
	for i := range t.stored {
		ok |= subtle.ConstantTimeCompare(h[:], t.stored[i][:])
	}
	t.mu.RUnlock()
	return ok == 1
}

// reload re-reads the stored hashes unless that happened less than
// storedReloadInterval ago. It reports whether it reloaded.
func (s *server) reload(ctx context.Context, t *tenantAuth) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.loadedAt.IsZero() && time.Since(t.loadedAt) < storedReloadInterval {
		return false, nil
	}
	hashes, err := StoredTokenHashes(ctx, s.st, t.name)
	if err != nil {
		return false, err
	}
	t.stored, t.loadedAt = hashes, time.Now()
	return true, nil
}

type tenantKey struct{}

// tenantOf returns the tenant the authenticate middleware admitted the request for.
func tenantOf(r *http.Request) string {
	t, _ := r.Context().Value(tenantKey{}).(string)
	return t
}

// authenticate resolves the tenant from the path and admits the request only
// with one of that tenant's bearer tokens: a static or stored token (compared
// as SHA-256 hashes in constant time), an OAuth access token issued by the
// tenant's token endpoint, or, if configured, an Entra-issued JWT. A
// credential of one tenant never opens another.
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := mux.Vars(r)["tenant"]
		if !ok {
			name = DefaultTenant
		}
		t := s.tenants[name]
		if t == nil {
			writeAPIError(w, errStatus(http.StatusNotFound, "No such tenant."))
			return
		}
		if info, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok {
			info.tenant = name
		}
		token, ok := bearerToken(r)
		if !ok {
			writeAPIError(w, errStatus(http.StatusUnauthorized, "A bearer token is required."))
			return
		}
		h := HashToken(token)
		if !t.match(h) && !t.cached(h) {
			ok, err := s.admit(r.Context(), t, token, h)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			if !ok {
				writeAPIError(w, errStatus(http.StatusUnauthorized, "The bearer token is not valid for this tenant."))
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tenantKey{}, name)))
	})
}

// admit checks a token that is neither a known static or stored token nor
// cached: by its shape, as an OAuth access token, an Entra JWT, or a stored
// token created since the last reload.
func (s *server) admit(ctx context.Context, t *tenantAuth, token string, h [32]byte) (bool, error) {
	switch {
	case len(t.clients) > 0 && strings.HasPrefix(token, oauthTokenPrefix):
		return s.checkOAuth(ctx, t, h)
	case t.jwt != nil && looksLikeJWT(token):
		exp, err := t.jwt.verify(ctx, token)
		if err != nil {
			s.log.DebugContext(ctx, "JWT rejected", "tenant", t.name, "error", err)
			return false, nil
		}
		t.remember(h, exp)
		return true, nil
	}
	reloaded, err := s.reload(ctx, t)
	if err != nil {
		return false, err
	}
	return reloaded && t.match(h), nil
}

// bearerToken extracts a non-empty token from "Authorization: Bearer <token>"
// (scheme case-insensitive, RFC 6750).
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
