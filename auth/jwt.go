package auth

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultEntraAudience is the audience of the tokens Entra ID's provisioning
// service sends to non-gallery (custom) applications when the Secret Token is
// left blank.
const DefaultEntraAudience = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"

const (
	// jwtLeeway tolerates clock skew on exp and nbf.
	jwtLeeway = time.Minute
	// jwksMaxAge is how long fetched signing keys are used before they are
	// fetched again.
	jwksMaxAge = time.Hour
	// jwksMinRefetch rate-limits refetching the key set, e.g. for tokens with
	// an unknown kid: at most one fetch per interval per tenant.
	jwksMinRefetch = time.Minute
	// jwksMaxBytes caps a JWKS document.
	jwksMaxBytes = 1 << 20
	// minRSABits is the smallest RSA signing key accepted.
	minRSABits = 2048
)

// EntraJWT makes a tenant accept bearer JWTs issued by Microsoft Entra ID,
// e.g. the token Entra's provisioning service sends when the enterprise app's
// Secret Token is left blank. Only RS256 is accepted; iss, aud, exp and nbf
// are checked (one minute of clock skew tolerated).
type EntraJWT struct {
	// TenantID is the Entra directory (tenant) id; it pins the issuer.
	TenantID string
	// Issuer overrides the expected iss. Default
	// https://sts.windows.net/{TenantID}/ (sovereign clouds differ).
	Issuer string
	// Audience is the expected aud. Default DefaultEntraAudience.
	Audience string
	// AppIDs, if set, restricts the tokens to these client application ids
	// (the appid claim of v1 tokens, azp of v2 tokens).
	AppIDs []string
	// JWKSURL serves the signing keys (JSON Web Key Set). Keys are cached
	// for an hour and refetched, at most once a minute, when a token names an
	// unknown kid. Default (with JWKSFile empty too):
	// https://login.microsoftonline.com/{TenantID}/discovery/keys.
	JWKSURL string
	// JWKSFile is a local JSON Web Key Set used instead of JWKSURL. It is
	// read at start (an unreadable or empty file is a configuration error)
	// and re-read like the URL, so keys can be rotated without a restart.
	JWKSFile string
	// HTTPClient fetches JWKSURL. Default: a client with a 10 s timeout.
	HTTPClient *http.Client
}

// jwtVerifier validates JWTs signed with keys from one key set: one
// tenant's Entra JWTs, or one OAuth client's assertions (federation.go).
type jwtVerifier struct {
	issuer   string
	audience string
	subject  string // required sub, if set
	appIDs   []string
	keys     *keySet
	now      func() time.Time
	parser   *jwt.Parser
}

// verifierConfig is what a jwtVerifier checks and where its keys come from.
type verifierConfig struct {
	issuer, audience, subject string
	appIDs                    []string
	jwksURL, jwksFile         string
	httpClient                *http.Client
}

func newJWTVerifier(c *EntraJWT, now func() time.Time, log *slog.Logger) (*jwtVerifier, error) {
	if c.TenantID == "" && c.Issuer == "" {
		return nil, errors.New("EntraJWT: TenantID is required")
	}
	if c.JWKSURL != "" && c.JWKSFile != "" {
		return nil, errors.New("EntraJWT: set JWKSURL or JWKSFile, not both")
	}
	vc := verifierConfig{
		issuer:     c.Issuer,
		audience:   c.Audience,
		appIDs:     c.AppIDs,
		jwksURL:    c.JWKSURL,
		jwksFile:   c.JWKSFile,
		httpClient: c.HTTPClient,
	}
	if vc.issuer == "" {
		vc.issuer = "https://sts.windows.net/" + c.TenantID + "/"
	}
	if vc.audience == "" {
		vc.audience = DefaultEntraAudience
	}
	if vc.jwksURL == "" && vc.jwksFile == "" {
		vc.jwksURL = "https://login.microsoftonline.com/" + c.TenantID + "/discovery/keys"
	}
	v, err := newVerifier(vc, now, log)
	if err != nil {
		return nil, fmt.Errorf("EntraJWT: %w", err)
	}
	return v, nil
}

// newVerifier builds a verifier; a key file is read at once, so a broken
// one fails here rather than on the first request.
func newVerifier(c verifierConfig, now func() time.Time, log *slog.Logger) (*jwtVerifier, error) {
	v := &jwtVerifier{
		issuer:   c.issuer,
		audience: c.audience,
		subject:  c.subject,
		appIDs:   c.appIDs,
		now:      now,
	}
	ks := &keySet{now: now, log: log}
	if c.jwksFile != "" {
		path := c.jwksFile
		ks.source = path
		ks.fetch = func(context.Context) ([]byte, error) { return os.ReadFile(path) }
		if err := ks.refresh(context.Background()); err != nil {
			return nil, err
		}
	} else {
		url, client := c.jwksURL, c.httpClient
		if client == nil {
			client = &http.Client{Timeout: 10 * time.Second}
		}
		ks.source = url
		ks.fetch = func(ctx context.Context) ([]byte, error) { return httpGetJWKS(ctx, client, url) }
	}
	v.keys = ks
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(v.issuer),
		jwt.WithAudience(v.audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(jwtLeeway),
		jwt.WithTimeFunc(now),
	}
	if v.subject != "" {
		opts = append(opts, jwt.WithSubject(v.subject))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// entraClaims are the claims checked besides the registered ones.
type entraClaims struct {
	jwt.RegisteredClaims
	AppID string `json:"appid,omitempty"`
	AZP   string `json:"azp,omitempty"`
}

// client names the application a JWT was issued to, for Principal.Name:
// like an OAuth client id, what an operator configured (AppIDs).
func (c *entraClaims) client() string {
	switch {
	case c.AppID != "":
		return c.AppID
	case c.AZP != "":
		return c.AZP
	}
	return c.Subject
}

// verify validates a JWT and returns its claims.
func (v *jwtVerifier) verify(ctx context.Context, raw string) (*entraClaims, error) {
	var claims entraClaims
	_, err := v.parser.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		return v.keys.key(ctx, kid)
	})
	if err != nil {
		return nil, err
	}
	if len(v.appIDs) > 0 {
		app := claims.AppID
		if app == "" {
			app = claims.AZP
		}
		ok := false
		for _, a := range v.appIDs {
			ok = ok || strings.EqualFold(a, app)
		}
		if !ok {
			return nil, errors.New("token issued to an application that is not allowed")
		}
	}
	return &claims, nil
}

// jwtFailure maps a verification error to ErrExpired, ErrMalformed or
// ErrUnknown (wrong issuer, audience, application, key or signature).
func jwtFailure(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return ErrExpired
	case errors.Is(err, jwt.ErrTokenMalformed):
		return ErrMalformed
	}
	return ErrUnknown
}

// looksLikeJWT is a cheap pre-check so opaque tokens skip JWT parsing.
func looksLikeJWT(tok string) bool {
	return strings.HasPrefix(tok, "eyJ") && strings.Count(tok, ".") == 2
}

// keySet caches RSA signing keys by kid.
type keySet struct {
	source string
	fetch  func(context.Context) ([]byte, error)
	now    func() time.Time
	log    *slog.Logger

	mu        sync.Mutex
	keys      map[string]*rsa.PublicKey
	fetchedAt time.Time // last successful fetch
	triedAt   time.Time // last attempt, successful or not
}

var errUnknownKID = errors.New("signing key not found")

// key returns the key for kid, (re)fetching the set when it is stale or kid
// is unknown, at most once per jwksMinRefetch. An empty kid matches the only
// key of a single-key set.
func (k *keySet) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	pk := k.lookup(kid)
	stale := k.fetchedAt.IsZero() || now.Sub(k.fetchedAt) >= jwksMaxAge
	if (pk == nil || stale) && (k.triedAt.IsZero() || now.Sub(k.triedAt) >= jwksMinRefetch) {
		if err := k.refreshLocked(ctx); err != nil {
			// Keep serving the keys we have; a known key stays usable.
			k.log.WarnContext(ctx, "fetching JWKS failed", "source", k.source, "error", err)
		}
		pk = k.lookup(kid)
	}
	if pk == nil {
		return nil, errUnknownKID
	}
	return pk, nil
}

func (k *keySet) lookup(kid string) *rsa.PublicKey {
	if kid == "" && len(k.keys) == 1 {
		for _, pk := range k.keys {
			return pk
		}
	}
	return k.keys[kid]
}

func (k *keySet) refresh(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.refreshLocked(ctx)
}

func (k *keySet) refreshLocked(ctx context.Context) error {
	k.triedAt = k.now()
	raw, err := k.fetch(ctx)
	if err != nil {
		return err
	}
	keys, err := parseJWKS(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", k.source, err)
	}
	k.keys, k.fetchedAt = keys, k.triedAt
	return nil
}

func httpGetJWKS(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", url, res.StatusCode)
	}
	return io.ReadAll(io.LimitReader(res.Body, jwksMaxBytes))
}

// jwk is the part of a JSON Web Key (RFC 7517/7518) used here.
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// parseJWKS returns the RSA signature keys of a JWKS document by kid. Keys of
// other types or uses are skipped; a set without a usable key is an error.
func parseJWKS(raw []byte) (map[string]*rsa.PublicKey, error) {
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	out := map[string]*rsa.PublicKey{}
	for _, k := range doc.Keys {
		if k.Kty != "RSA" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "RS256") {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.N, "="))
		e, err2 := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.E, "="))
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			continue
		}
		pk := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pk.N.BitLen() < minRSABits || pk.E < 3 || pk.E%2 == 0 {
			continue
		}
		out[k.Kid] = pk
	}
	if len(out) == 0 {
		return nil, errors.New("JWKS has no usable RSA signing key")
	}
	return out, nil
}
