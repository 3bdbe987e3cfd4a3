package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// DefaultTenant is the tenant served without a tenant prefix.
const DefaultTenant = "default"

// storedReloadInterval bounds how often a request with an unknown token makes
// the server re-read the stored token hashes (so `scimbridge token create`
// takes effect without a restart, but a flood of bad tokens cannot hammer the
// store).
const storedReloadInterval = time.Second

// StoredTokenMaxAge bounds how long the stored token hashes are used
// before they are read again while requests come in, so that a token revoked
// with RevokeToken (`scimbridge token revoke`) stops working on every
// running server within that time.
const StoredTokenMaxAge = 10 * time.Second

// Failures of Authenticate. Each is returned wrapped or as is; test with
// errors.Is. None of them carries the credential.
var (
	// ErrNoTenant: the request names a tenant that is not served.
	ErrNoTenant = errors.New("no such tenant")
	// ErrMissing: the request carries no credential.
	ErrMissing = errors.New("credential missing")
	// ErrMalformed: the Authorization header is not "Bearer <token>", or a
	// JWT does not parse.
	ErrMalformed = errors.New("credential malformed")
	// ErrUnknown: the credential is not one of the tenant's (including a JWT
	// with a wrong issuer, audience or signature).
	ErrUnknown = errors.New("credential unknown")
	// ErrExpired: the credential was valid but has expired.
	ErrExpired = errors.New("credential expired")
	// ErrRateLimited: too many failed authentications from this client or
	// address; the error is a *RateLimitError saying when to retry.
	ErrRateLimited = errors.New("too many failed authentications")
)

// RateLimitError is the failure once a client or remote address has failed
// to authenticate too often. It is errors.Is ErrRateLimited.
type RateLimitError struct {
	// RetryAfter is how long until the next attempt may be made.
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%v; retry after %s", ErrRateLimited, e.RetryAfter)
}

// Is makes errors.Is(err, ErrRateLimited) hold.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// Reason names a failure in one word for logs and metrics: "missing",
// "malformed", "unknown", "expired", "replayed", "rate-limited", "no-tenant", or
// "error" for anything else.
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrMissing):
		return "missing"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	case errors.Is(err, ErrUnknown):
		return "unknown"
	case errors.Is(err, ErrExpired):
		return "expired"
	case errors.Is(err, ErrReplayed):
		return "replayed"
	case errors.Is(err, ErrRateLimited):
		return "rate-limited"
	case errors.Is(err, ErrNoTenant):
		return "no-tenant"
	}
	return "error"
}

// Method says how a principal authenticated.
type Method string

// The methods a tenant may accept.
const (
	// MethodToken is a static or stored bearer token.
	MethodToken Method = "token"
	// MethodOAuth is an access token from the tenant's token endpoint.
	MethodOAuth Method = "oauth"
	// MethodEntraJWT is a JWT issued by Microsoft Entra ID.
	MethodEntraJWT Method = "entra-jwt"
)

// Principal is who a request authenticated as.
type Principal struct {
	Tenant string
	Method Method
	// Subject is the OAuth client id for MethodOAuth and empty otherwise.
	Subject string
	// Name says who wrote, for the change journal's provenance (the
	// store.Origin Actor of SCIM writes): the token's name (a stored token's
	// from `scimbridge token create`, a configured token's name:), or
	// "token " and its id (TokenID) if it has none; the OAuth client id; the
	// Entra JWT's client application id (appid, azp), else its subject (sub).
	// Never a secret.
	Name string
}

// Tenant is one tenant's credentials.
type Tenant struct {
	Name string
	// TokenHashes are SHA-256 hashes (HashToken) of static bearer tokens
	// from configuration or the environment, accepted besides the tokens
	// created with NewToken (stored hashed in the store).
	TokenHashes [][32]byte
	// TokenNames names static tokens by hash (Principal.Name); optional.
	TokenNames map[[32]byte]string
	// OAuthClients may obtain access tokens at the tenant's OAuth 2.0
	// client-credentials endpoint (ServeToken).
	OAuthClients []OAuthClient
	// TokenLifetime of the access tokens issued to OAuthClients: between
	// 1 h and 6 h; 0 means 1 h.
	TokenLifetime time.Duration
	// EntraJWT, if set, also admits bearer JWTs issued by Microsoft Entra ID.
	EntraJWT *EntraJWT
}

// Options configure New.
type Options struct {
	// Store holds stored tokens and issued OAuth access tokens.
	Store store.Store
	// Tenants to serve. DefaultTenant is always served, even if absent; a
	// name given twice has the credentials of both entries.
	Tenants []Tenant
	Logger  *slog.Logger
	// Now returns the current time for token expiry; nil means time.Now.
	// Tests set it to move the clock.
	Now func() time.Time
	// TokenUsed, if set, is called after a request authenticated with a
	// static or stored bearer token, at most once per TokenUsedInterval per
	// token and process, with the token's hash. It runs on the request's
	// goroutine, so it should be quick; it is the place to record "last
	// used" without a write per request.
	TokenUsed func(ctx context.Context, tenant string, hash [32]byte, at time.Time)
	// RateLimit throttles failed authentications (ratelimit.go).
	RateLimit RateLimit
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client: failures are then counted and logged per client, not
	// per proxy (which would let one client throttle everyone's).
	TrustedProxies []netip.Prefix
}

// TokenUsedInterval is the least time between two Options.TokenUsed calls
// for one token.
const TokenUsedInterval = time.Minute

// Authenticator checks the credentials of every tenant. It is safe for
// concurrent use.
type Authenticator struct {
	st        store.Store
	log       *slog.Logger
	now       func() time.Time
	tenants   map[string]*tenant
	tokenUsed func(ctx context.Context, tenant string, hash [32]byte, at time.Time)
	proxies   []netip.Prefix
	failures  *failureLimiter

	umu  sync.Mutex
	used map[[32]byte]time.Time // last TokenUsed call per token hash
}

// tenant holds one tenant's credentials: static and stored token hashes,
// OAuth clients and the optional Entra JWT verifier.
type tenant struct {
	name   string
	static [][32]byte
	names  map[[32]byte]string // of static tokens

	mu     sync.RWMutex
	stored [][32]byte
	// storedNames are the stored tokens' names, by hash.
	storedNames map[[32]byte]string
	loadedAt    time.Time
	// refreshedAt is when (by Options.Now) the stored hashes were last read.
	refreshedAt time.Time

	// Set up by configure (oauth.go) and immutable afterwards.
	clients   []OAuthClient
	federated map[string]*jwtVerifier // by client id
	lifetime  time.Duration
	jwt       *jwtVerifier
	now       func() time.Time

	// cache holds recently validated OAuth access tokens and JWTs (by hash)
	// with the time until which they are trusted without a new check.
	cmu      sync.RWMutex
	cache    map[[32]byte]cacheEntry
	prunedAt time.Time
}

// New validates opts and returns an Authenticator. Configuration errors
// (a bad OAuth client, token lifetime or Entra JWT setting) name the tenant.
func New(opts Options) (*Authenticator, error) {
	if opts.Store == nil {
		return nil, errors.New("auth: Options.Store is required")
	}
	a := &Authenticator{
		st:        opts.Store,
		log:       opts.Logger,
		now:       opts.Now,
		tenants:   map[string]*tenant{},
		tokenUsed: opts.TokenUsed,
		proxies:   opts.TrustedProxies,
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.failures = newFailureLimiter(opts.RateLimit, a.now)
	for _, t := range append([]Tenant{{Name: DefaultTenant}}, opts.Tenants...) {
		ta := a.tenants[t.Name]
		if ta == nil {
			ta = &tenant{name: t.Name}
			a.tenants[t.Name] = ta
		}
		ta.static = append(ta.static, t.TokenHashes...)
		for h, n := range t.TokenNames {
			if ta.names == nil {
				ta.names = map[[32]byte]string{}
			}
			ta.names[h] = n
		}
		if err := ta.configure(t, a.now, a.log); err != nil {
			return nil, fmt.Errorf("auth: tenant %q: %w", t.Name, err)
		}
	}
	return a, nil
}

// Has reports whether tenant is served.
func (a *Authenticator) Has(tenant string) bool { return a.tenants[tenant] != nil }

// Tenants returns the names of the served tenants, in no particular order.
func (a *Authenticator) Tenants() []string {
	names := make([]string, 0, len(a.tenants))
	for name := range a.tenants {
		names = append(names, name)
	}
	return names
}

// Authenticate admits r for tenant only with one of that tenant's bearer
// tokens: a static or stored token (compared as SHA-256 hashes in constant
// time), an OAuth access token issued by the tenant's token endpoint, or, if
// configured, an Entra-issued JWT. It reads only r's headers, never its body.
//
// It returns ErrNoTenant, ErrMissing, ErrMalformed, ErrUnknown, ErrExpired
// or, once r's remote address has failed too often, a *RateLimitError; or a
// store error (an internal failure, not the client's). Failures are logged
// (tenant, reason, remote address; never the credential).
func (a *Authenticator) Authenticate(r *http.Request, tenant string) (Principal, error) {
	ctx := r.Context()
	t := a.tenants[tenant]
	if t == nil {
		return Principal{}, ErrNoTenant
	}
	token, err := bearerToken(r)
	if errors.Is(err, ErrMissing) {
		a.log.InfoContext(ctx, "authentication failed", "tenant", tenant, "reason", Reason(err), "remote", a.remoteIP(r))
		return Principal{}, err
	}
	var h [32]byte
	if err == nil {
		// Known credentials are admitted from memory, even from a
		// throttled address.
		h = HashToken(token)
		// A revoked stored token stops working within StoredTokenMaxAge.
		if err := a.refresh(ctx, t); err != nil {
			return Principal{}, err
		}
		if t.match(h) {
			a.noteTokenUse(ctx, t.name, h)
			return Principal{Tenant: t.name, Method: MethodToken, Name: t.tokenName(h)}, nil
		}
		if p, ok := t.cached(h); ok {
			return p, nil
		}
	}
	key := a.addrKey(r)
	if wait := a.failures.wait(key); wait > 0 {
		a.log.DebugContext(ctx, "authentication throttled", "tenant", tenant, "remote", a.remoteIP(r), "retry_after", wait)
		return Principal{}, &RateLimitError{RetryAfter: wait}
	}
	var p Principal
	if err == nil {
		p, err = a.admit(ctx, t, token, h)
	}
	if err != nil {
		if isFailure(err) {
			a.log.InfoContext(ctx, "authentication failed", "tenant", tenant, "reason", Reason(err), "remote", a.remoteIP(r))
			if a.failures.fail(key) {
				a.log.WarnContext(ctx, "too many failed authentications; throttling the address", "tenant", tenant, "remote", a.remoteIP(r))
			}
		}
		return Principal{}, err
	}
	return p, nil
}

// admit checks a token that is neither a known static or stored token nor
// cached: by its shape, as an OAuth access token, an Entra JWT, or a stored
// token created since the last reload.
func (a *Authenticator) admit(ctx context.Context, t *tenant, token string, h [32]byte) (Principal, error) {
	switch {
	case len(t.clients) > 0 && strings.HasPrefix(token, oauthTokenPrefix):
		client, err := a.checkOAuth(ctx, t, h)
		if err != nil {
			return Principal{}, err
		}
		return Principal{Tenant: t.name, Method: MethodOAuth, Subject: client, Name: client}, nil
	case t.jwt != nil && looksLikeJWT(token):
		claims, err := t.jwt.verify(ctx, token)
		if err != nil {
			a.log.DebugContext(ctx, "JWT rejected", "tenant", t.name, "error", err)
			return Principal{}, jwtFailure(err)
		}
		p := Principal{Tenant: t.name, Method: MethodEntraJWT, Name: claims.client()}
		t.remember(h, claims.ExpiresAt.Time, p)
		return p, nil
	}
	reloaded, err := a.reload(ctx, t)
	if err != nil {
		return Principal{}, err
	}
	if !reloaded || !t.match(h) {
		return Principal{}, ErrUnknown
	}
	a.noteTokenUse(ctx, t.name, h)
	return Principal{Tenant: t.name, Method: MethodToken, Name: t.tokenName(h)}, nil
}

// tokenName returns Principal.Name for the static or stored token h.
func (t *tenant) tokenName(h [32]byte) string {
	t.mu.RLock()
	n := t.storedNames[h]
	t.mu.RUnlock()
	if n == "" {
		n = t.names[h]
	}
	if n == "" {
		n = "token " + TokenID(h)
	}
	return n
}

// noteTokenUse calls the TokenUsed hook at most once per TokenUsedInterval
// per token.
func (a *Authenticator) noteTokenUse(ctx context.Context, tenant string, h [32]byte) {
	if a.tokenUsed == nil {
		return
	}
	now := a.now()
	a.umu.Lock()
	if a.used == nil {
		a.used = map[[32]byte]time.Time{}
	}
	last, ok := a.used[h]
	due := !ok || now.Sub(last) >= TokenUsedInterval
	if due {
		a.used[h] = now
	}
	a.umu.Unlock()
	if due {
		a.tokenUsed(ctx, tenant, h, now)
	}
}

func (t *tenant) match(h [32]byte) bool {
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
func (a *Authenticator) reload(ctx context.Context, t *tenant) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.loadedAt.IsZero() && time.Since(t.loadedAt) < storedReloadInterval {
		return false, nil
	}
	return true, a.load(ctx, t)
}

// refresh re-reads the stored hashes when they are older than
// StoredTokenMaxAge. If that fails after an earlier read worked, the hashes
// read then stay in use (a store that cannot be read fails the request
// anyway) and the read is retried after storedReloadInterval.
func (a *Authenticator) refresh(ctx context.Context, t *tenant) error {
	now := a.now()
	t.mu.RLock()
	loaded := !t.refreshedAt.IsZero()
	fresh := loaded && now.Sub(t.refreshedAt) < StoredTokenMaxAge
	t.mu.RUnlock()
	if fresh {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.refreshedAt.IsZero() && now.Sub(t.refreshedAt) < StoredTokenMaxAge {
		return nil // another request refreshed them meanwhile
	}
	err := a.load(ctx, t)
	if err != nil && loaded {
		a.log.WarnContext(ctx, "cannot re-read the stored tokens", "tenant", t.name, "error", err)
		t.refreshedAt = now.Add(storedReloadInterval - StoredTokenMaxAge)
		return nil
	}
	return err
}

// load reads the stored hashes; the caller holds t.mu.
func (a *Authenticator) load(ctx context.Context, t *tenant) error {
	toks, err := StoredTokens(ctx, a.st, t.name)
	if err != nil {
		return err
	}
	hashes := make([][32]byte, len(toks))
	names := make(map[[32]byte]string, len(toks))
	for i, tok := range toks {
		hashes[i], names[tok.Hash] = tok.Hash, tok.Name
	}
	t.stored, t.storedNames, t.loadedAt, t.refreshedAt = hashes, names, time.Now(), a.now()
	return nil
}

// bearerToken extracts a non-empty token from "Authorization: Bearer <token>"
// (scheme case-insensitive, RFC 6750). No header is ErrMissing; any other
// shape is ErrMalformed.
func bearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if strings.TrimSpace(h) == "" {
		return "", ErrMissing
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ErrMalformed
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", ErrMalformed
	}
	return tok, nil
}

// remoteIP is the address of r's client: the host part of r.RemoteAddr or,
// when that is one of the trusted proxies, the right-most address in
// X-Forwarded-For that is not (proxies append the address they saw, so the
// entries left of it could be made up by the client).
func (a *Authenticator) remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(a.proxies) == 0 || !a.trusted(host) {
		return host
	}
	fwd := r.Header.Values("X-Forwarded-For")
	for i := len(fwd) - 1; i >= 0; i-- {
		parts := strings.Split(fwd[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			ip := strings.TrimSpace(parts[j])
			if _, err := netip.ParseAddr(ip); err != nil {
				return host // malformed: count it against the proxy
			}
			if !a.trusted(ip) {
				return ip
			}
			host = ip
		}
	}
	return host
}

// trusted reports whether ip is within one of the trusted proxies.
func (a *Authenticator) trusted(ip string) bool {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range a.proxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
