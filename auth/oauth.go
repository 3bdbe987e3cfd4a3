package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// OAuth 2.0 client credentials (RFC 6749 §4.4) for Entra ID provisioning.
//
// Each tenant with OAuthClients configured serves a token endpoint at
// {tenant base}/oauth/token, i.e. POST /scim/v2/oauth/token for the default
// tenant and POST /tenants/{name}/scim/v2/oauth/token for the others. It
// needs no bearer token. The request is application/x-www-form-urlencoded
// with grant_type=client_credentials and the client's credentials either in
// the body (client_id, client_secret) or in an HTTP Basic header whose user
// and password are form-URL-encoded (client_secret_basic, RFC 6749 §2.3.1),
// or, for a client with a Federation, a JWT assertion (federation.go).
// Failed client authentications are throttled (ratelimit.go).
//
// Access tokens are opaque random strings ("scbo_…"). Only their SHA-256 is
// stored, as the state entry "oauth/<hex sha256>" of the tenant holding the
// client id and expiry, so every replica sharing the store accepts them and
// they survive restarts. A replica caches a validated token in memory for at
// most oauthCacheTTL (never past its expiry); RevokeOAuthTokens therefore
// takes effect everywhere within that time. Removing a client from the
// configuration invalidates its tokens at once.

// OAuthClient is a client allowed to obtain access tokens for a tenant, with
// a secret, a JWT assertion (Federation), or either.
type OAuthClient struct {
	ID string
	// SecretHashes are SHA-256 hashes (HashToken) of the client's secrets;
	// each is accepted, so a secret can be rotated without downtime.
	SecretHashes [][32]byte
	// Federation, if set, lets the client authenticate with an Entra-issued
	// JWT assertion instead (federation.go).
	Federation *Federation
}

const (
	// DefaultTokenLifetime, MinTokenLifetime and MaxTokenLifetime bound the
	// lifetime of OAuth access tokens (Entra requires 60 minutes to 6 hours).
	DefaultTokenLifetime = time.Hour
	MinTokenLifetime     = time.Hour
	MaxTokenLifetime     = 6 * time.Hour

	oauthTokenPrefix = "scbo_"
	oauthStatePrefix = "oauth/"
	// oauthCacheTTL bounds how long a replica trusts a validated token (or
	// JWT) without looking again; revocation takes at most this long.
	oauthCacheTTL = 30 * time.Second
	// maxAuthCache bounds the per-tenant cache of validated tokens.
	maxAuthCache = 10000
	// oauthPruneInterval: expired token records are deleted from the store
	// at most this often per tenant, when a token is issued.
	oauthPruneInterval = 10 * time.Minute
	// maxTokenRequest caps the token request body.
	maxTokenRequest = 64 << 10
)

// oauthRecord is the stored value of an issued access token.
type oauthRecord struct {
	Client  string    `json:"client"`
	Issued  time.Time `json:"issued"`
	Expires time.Time `json:"expires"`
}

// ValidateTokenLifetime reports whether d is an acceptable access-token
// lifetime; 0 means DefaultTokenLifetime.
func ValidateTokenLifetime(d time.Duration) error {
	if d != 0 && (d < MinTokenLifetime || d > MaxTokenLifetime) {
		return fmt.Errorf("token lifetime %s is outside %s..%s", d, MinTokenLifetime, MaxTokenLifetime)
	}
	return nil
}

// configure adds one Tenant entry's OAuth and JWT settings to t.
func (t *tenant) configure(c Tenant, now func() time.Time, log *slog.Logger) error {
	t.now = now
	if err := ValidateTokenLifetime(c.TokenLifetime); err != nil {
		return err
	}
	if c.TokenLifetime != 0 {
		t.lifetime = c.TokenLifetime
	}
	for _, cl := range c.OAuthClients {
		if cl.ID == "" || (len(cl.SecretHashes) == 0 && cl.Federation == nil) {
			return errors.New("an OAuth client needs an id and at least one secret or a federation")
		}
		if t.client(cl.ID) != nil {
			return fmt.Errorf("duplicate OAuth client %q", cl.ID)
		}
		if cl.Federation != nil {
			v, err := newFederationVerifier(cl.Federation, now, log)
			if err != nil {
				return fmt.Errorf("OAuth client %q: %w", cl.ID, err)
			}
			if t.federated == nil {
				t.federated = map[string]*jwtVerifier{}
			}
			t.federated[cl.ID] = v
		}
		t.clients = append(t.clients, cl)
	}
	if c.EntraJWT != nil {
		v, err := newJWTVerifier(c.EntraJWT, now, log)
		if err != nil {
			return err
		}
		t.jwt = v
	}
	return nil
}

func (t *tenant) client(id string) *OAuthClient {
	for i := range t.clients {
		if t.clients[i].ID == id {
			return &t.clients[i]
		}
	}
	return nil
}

func (t *tenant) tokenLifetime() time.Duration {
	if t.lifetime == 0 {
		return DefaultTokenLifetime
	}
	return t.lifetime
}

// authClient returns the id of the client that ids and secrets (candidate
// spellings of one credential) authenticate, comparing secret hashes in
// constant time.
func (t *tenant) authClient(ids, secrets []string) (string, bool) {
	hs := make([][32]byte, len(secrets))
	for i, s := range secrets {
		hs[i] = sha256.Sum256([]byte(s))
	}
	found := ""
	for _, c := range t.clients {
		idOK := 0
		for _, id := range ids {
			idOK |= subtle.ConstantTimeCompare([]byte(id), []byte(c.ID))
		}
		secOK := 0
		for _, want := range c.SecretHashes {
			for _, h := range hs {
				secOK |= subtle.ConstantTimeCompare(h[:], want[:])
			}
		}
		if idOK&secOK == 1 && found == "" {
			found = c.ID
		}
	}
	return found, found != ""
}

// cacheEntry is a validated token's principal and the time until which it is
// trusted without a new check.
type cacheEntry struct {
	until time.Time
	p     Principal
}

// cached returns the principal of h if it was validated recently and is
// still unexpired.
func (t *tenant) cached(h [32]byte) (Principal, bool) {
	t.cmu.RLock()
	e, ok := t.cache[h]
	t.cmu.RUnlock()
	if !ok || !t.now().Before(e.until) {
		return Principal{}, false
	}
	return e.p, true
}

// remember caches a validated token until min(exp, now+oauthCacheTTL).
func (t *tenant) remember(h [32]byte, exp time.Time, p Principal) {
	now := t.now()
	until := now.Add(oauthCacheTTL)
	if exp.Before(until) {
		until = exp
	}
	if !now.Before(until) {
		return
	}
	t.cmu.Lock()
	defer t.cmu.Unlock()
	if t.cache == nil {
		t.cache = map[[32]byte]cacheEntry{}
	}
	if len(t.cache) >= maxAuthCache {
		for k, e := range t.cache {
			if !now.Before(e.until) {
				delete(t.cache, k)
			}
		}
		if len(t.cache) >= maxAuthCache {
			clear(t.cache)
		}
	}
	t.cache[h] = cacheEntry{until: until, p: p}
}

// checkOAuth looks an access token up in the store and returns its client.
// An expired token is ErrExpired; a token that is not stored (never issued,
// revoked or pruned) or whose client is no longer configured is ErrUnknown.
func (a *Authenticator) checkOAuth(ctx context.Context, t *tenant, h [32]byte) (string, error) {
	e, err := a.st.GetState(ctx, t.name, oauthStatePrefix+hex.EncodeToString(h[:]))
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrUnknown
	}
	if err != nil {
		return "", err
	}
	var rec oauthRecord
	if err := json.Unmarshal(e.Value, &rec); err != nil || t.client(rec.Client) == nil {
		return "", ErrUnknown
	}
	if !t.now().Before(rec.Expires) {
		return "", ErrExpired
	}
	t.remember(h, rec.Expires, Principal{Tenant: t.name, Method: MethodOAuth, Subject: rec.Client, Name: rec.Client})
	return rec.Client, nil
}

// oauthError is an RFC 6749 §5.2 error response.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Basic realm="scimbridge"`)
	}
	b, _ := json.Marshal(map[string]string{"error": code, "error_description": desc})
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// HasTokenEndpoint reports whether tenant has OAuth clients and so a token
// endpoint; callers answer 404 there otherwise.
func (a *Authenticator) HasTokenEndpoint(tenant string) bool {
	t := a.tenants[tenant]
	return t != nil && len(t.clients) > 0
}

// ServeToken serves tenant's client-credentials token endpoint, answering
// every outcome (including errors) in RFC 6749 form. It needs no bearer
// token. Callers check HasTokenEndpoint first.
func (a *Authenticator) ServeToken(w http.ResponseWriter, r *http.Request, tenant string) {
	t := a.tenants[tenant]
	if t == nil || len(t.clients) == 0 {
		oauthError(w, http.StatusNotFound, "invalid_request", "No token endpoint here.")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "Use POST.")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "The request must be application/x-www-form-urlencoded.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenRequest)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "The request body is not a valid form.")
		return
	}
	form := r.PostForm // parameters in the URI are not honoured (RFC 6749 §3.2)
	for k, v := range form {
		if len(v) > 1 {
			oauthError(w, http.StatusBadRequest, "invalid_request", "Parameter "+strconv.Quote(k)+" is repeated.")
			return
		}
	}
	switch gt := form.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required.")
		return
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Only client_credentials is supported.")
		return
	}
	keys := []string{a.addrKey(r)}
	claimed := claimedClient(r, form)
	if claimed != "" {
		keys = append(keys, clientKey(tenant, claimed))
	}
	if wait := a.failures.wait(keys...); wait > 0 {
		a.log.DebugContext(r.Context(), "token request throttled", "tenant", tenant, "client", claimed, "remote", a.remoteIP(r), "retry_after", wait)
		w.Header().Set("Retry-After", strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10))
		oauthError(w, http.StatusTooManyRequests, "temporarily_unavailable", "Too many failed client authentications; retry later.")
		return
	}
	clientID, f := a.authenticateClient(r, t, form)
	if f != nil {
		if f.reason != nil {
			a.log.InfoContext(r.Context(), "client authentication failed", "tenant", tenant,
				"client", f.client, "reason", Reason(f.reason), "remote", a.remoteIP(r))
			if a.failures.fail(keys...) {
				a.log.WarnContext(r.Context(), "too many failed client authentications; throttling", "tenant", tenant,
					"client", claimed, "remote", a.remoteIP(r))
			}
		}
		oauthError(w, f.status, f.code, f.desc)
		return
	}

	tok, exp, err := a.issueOAuthToken(r.Context(), t, clientID)
	if err != nil {
		a.log.ErrorContext(r.Context(), "issuing access token failed", "tenant", tenant, "error", err)
		oauthError(w, http.StatusInternalServerError, "server_error", "The token could not be issued; try again later.")
		return
	}
	a.pruneOAuth(r.Context(), t)
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	b, _ := json.Marshal(map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int64(exp / time.Second),
	})
	_, _ = w.Write(b)
}

// oauthFailure is a token request that failed client authentication (or
// was malformed), as the RFC 6749 error response it gets.
type oauthFailure struct {
	status     int
	code, desc string
	// client is the client id the request named (possibly unknown; never a
	// secret), for logs and rate limits.
	client string
	// reason, for an authentication failure, is ErrMissing, ErrUnknown,
	// ErrExpired, ErrMalformed or ErrReplayed; nil for a malformed request.
	reason error
}

func badRequest(desc string) *oauthFailure {
	return &oauthFailure{status: http.StatusBadRequest, code: "invalid_request", desc: desc}
}

func invalidClient(client, desc string, reason error) *oauthFailure {
	return &oauthFailure{status: http.StatusUnauthorized, code: "invalid_client", desc: desc, client: client, reason: reason}
}

// authenticateClient authenticates a token request's client with a secret
// (client_secret_basic or client_secret_post) or a JWT assertion
// (private_key_jwt-style, RFC 7523), exactly one of them (RFC 6749 §2.3).
func (a *Authenticator) authenticateClient(r *http.Request, t *tenant, form url.Values) (string, *oauthFailure) {
	bodyID, bodySecret := form.Get("client_id"), form.Get("client_secret")
	if form.Has("client_assertion") || form.Has("client_assertion_type") {
		switch {
		case form.Get("client_assertion_type") != ClientAssertionType:
			return "", invalidClient(bodyID, "client_assertion_type must be "+ClientAssertionType+".", ErrMalformed)
		case form.Get("client_assertion") == "":
			return "", badRequest("client_assertion is required with client_assertion_type.")
		case bodySecret != "" || r.Header.Get("Authorization") != "":
			return "", badRequest("Use one client authentication method: a client assertion or a secret.")
		}
		id, err := a.authAssertion(r.Context(), t, bodyID, form.Get("client_assertion"))
		if err != nil {
			if !isFailure(err) {
				a.log.ErrorContext(r.Context(), "checking client assertion failed", "tenant", t.name, "error", err)
				return "", &oauthFailure{status: http.StatusInternalServerError, code: "server_error", desc: "The assertion could not be checked; try again later."}
			}
			return "", invalidClient(bodyID, "Client authentication failed.", err)
		}
		return id, nil
	}

	var ids, secrets []string
	if r.Header.Get("Authorization") != "" {
		user, pass, ok := r.BasicAuth()
		if !ok {
			return "", invalidClient(bodyID, "Unsupported client authentication.", ErrMalformed)
		}
		// RFC 6749 §2.3.1 form-encodes both before Basic; accept the raw
		// spelling too for clients that skip that step.
		ids, secrets = formDecoded(user), formDecoded(pass)
		if (bodyID != "" && !contains(ids, bodyID)) || (bodySecret != "" && !contains(secrets, bodySecret)) {
			return "", badRequest("Client credentials in the header and the body differ.")
		}
	} else {
		if bodyID == "" || bodySecret == "" {
			return "", invalidClient(bodyID, "Client authentication is required.", ErrMissing)
		}
		ids, secrets = []string{bodyID}, []string{bodySecret}
	}
	clientID, ok := t.authClient(ids, secrets)
	if !ok {
		return "", invalidClient(ids[0], "Client authentication failed.", ErrUnknown)
	}
	return clientID, nil
}

// claimedClient is the client id a token request names (in the body or the
// Basic header), verified or not: "" if none.
func claimedClient(r *http.Request, form url.Values) string {
	if id := form.Get("client_id"); id != "" {
		return id
	}
	if user, _, ok := r.BasicAuth(); ok {
		return formDecoded(user)[0]
	}
	return ""
}

// isFailure reports whether err is an authentication failure (the client's
// fault) rather than an internal error.
func isFailure(err error) bool {
	return errors.Is(err, ErrMissing) || errors.Is(err, ErrMalformed) || errors.Is(err, ErrUnknown) ||
		errors.Is(err, ErrExpired) || errors.Is(err, ErrReplayed) || errors.Is(err, ErrRateLimited)
}

func formDecoded(s string) []string {
	d, err := url.QueryUnescape(s)
	if err != nil || d == s {
		return []string{s}
	}
	return []string{d, s}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// issueOAuthToken stores a new access token's hash for the client.
func (a *Authenticator) issueOAuthToken(ctx context.Context, t *tenant, clientID string) (string, time.Duration, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", 0, err
	}
	tok := oauthTokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	h := HashToken(tok)
	now := t.now().UTC()
	life := t.tokenLifetime()
	v, _ := json.Marshal(oauthRecord{Client: clientID, Issued: now, Expires: now.Add(life)})
	if _, err := a.st.PutState(ctx, t.name, oauthStatePrefix+hex.EncodeToString(h[:]), v, 0); err != nil {
		return "", 0, err
	}
	return tok, life, nil
}

// pruneOAuth deletes expired token records, at most every
// oauthPruneInterval per tenant and replica; failures are only logged.
func (a *Authenticator) pruneOAuth(ctx context.Context, t *tenant) {
	now := t.now()
	t.cmu.Lock()
	due := t.prunedAt.IsZero() || now.Sub(t.prunedAt) >= oauthPruneInterval
	if due {
		t.prunedAt = now
	}
	t.cmu.Unlock()
	if !due {
		return
	}
	expired := func(rec oauthRecord) bool { return !now.Before(rec.Expires) }
	if _, err := pruneState(ctx, a.st, t.name, jtiStatePrefix, expired); err != nil {
		a.log.WarnContext(ctx, "pruning used assertion ids failed", "tenant", t.name, "error", err)
	}
	if _, err := pruneState(ctx, a.st, t.name, oauthStatePrefix, expired); err != nil {
		a.log.WarnContext(ctx, "pruning expired access tokens failed", "tenant", t.name, "error", err)
	}
}

// RevokeOAuthTokens deletes the stored OAuth access tokens of tenant issued
// to clientID ("" = every client) and returns how many it deleted. Replicas
// that validated one of them in the last 30 seconds may accept it until
// their cache entry expires.
func RevokeOAuthTokens(ctx context.Context, st store.Store, tenant, clientID string) (int, error) {
	return pruneState(ctx, st, tenant, oauthStatePrefix, func(rec oauthRecord) bool {
		return clientID == "" || rec.Client == clientID
	})
}

// pruneState deletes tenant's state entries under prefix (records shaped as
// oauthRecord) that drop selects, and unreadable ones.
func pruneState(ctx context.Context, st store.Store, tenant, prefix string, drop func(oauthRecord) bool) (int, error) {
	entries, err := st.ListState(ctx, tenant, prefix)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		var rec oauthRecord
		if json.Unmarshal(e.Value, &rec) == nil && !drop(rec) {
			continue
		}
		if err := st.DeleteState(ctx, tenant, e.Key); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Methods describes the credentials a tenant accepts besides bearer
// tokens, for discovery (ServiceProviderConfig).
type Methods struct {
	// OAuth: the tenant has a client-credentials token endpoint.
	OAuth bool
	// Assertions: some of its clients authenticate with JWT assertions.
	Assertions bool
	// EntraJWT is set when the tenant accepts Entra JWTs.
	EntraJWT *JWTInfo
}

// JWTInfo is what a tenant expects of an Entra JWT.
type JWTInfo struct {
	Issuer, Audience string
}

// Methods returns what tenant accepts besides bearer tokens (nothing for a
// tenant that is not served).
func (a *Authenticator) Methods(tenant string) Methods {
	t := a.tenants[tenant]
	if t == nil {
		return Methods{}
	}
	m := Methods{OAuth: len(t.clients) > 0, Assertions: len(t.federated) > 0}
	if t.jwt != nil {
		m.EntraJWT = &JWTInfo{Issuer: t.jwt.issuer, Audience: t.jwt.audience}
	}
	return m
}
