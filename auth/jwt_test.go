package auth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scimbridge/scimbridge/auth"
)

const (
	entraTenant     = "11111111-2222-3333-4444-555555555555"
	entraTenantAcme = "99999999-8888-7777-6666-555555555555"
)

var (
	rsaKeysOnce sync.Once
	rsaKeys     [3]*rsa.PrivateKey
)

// testKeys returns three 2048-bit keys generated once per test binary.
func testKeys(t *testing.T) [3]*rsa.PrivateKey {
	t.Helper()
	rsaKeysOnce.Do(func() {
		for i := range rsaKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys[i] = k
		}
	})
	return rsaKeys
}

func jwkOf(kid string, k *rsa.PublicKey) map[string]any {
	return map[string]any{
		"kty": "RSA", "use": "sig", "kid": kid,
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
	}
}

func jwksDoc(keys map[string]*rsa.PrivateKey) []byte {
	list := []any{map[string]any{"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"}} // skipped
	for kid, k := range keys {
		list = append(list, jwkOf(kid, &k.PublicKey))
	}
	b, _ := json.Marshal(map[string]any{"keys": list})
	return b
}

// jwksServer serves a key set that tests can change, counting fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    map[string]*rsa.PrivateKey
	fail    bool
	fetches atomic.Int32
}

func newJWKSServer(t *testing.T, keys map[string]*rsa.PrivateKey) *jwksServer {
	s := &jwksServer{keys: keys}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.fail {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwksDoc(s.keys))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(keys map[string]*rsa.PrivateKey, fail bool) {
	s.mu.Lock()
	s.keys, s.fail = keys, fail
	s.mu.Unlock()
}

// entraClaims are valid claims for the Entra tenant tid at now.
func entraClaims(tid string, now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss":   "https://sts.windows.net/" + tid + "/",
		"aud":   auth.DefaultEntraAudience,
		"tid":   tid,
		"appid": "app-1",
		"iat":   now.Add(-time.Minute).Unix(),
		"nbf":   now.Add(-time.Minute).Unix(),
		"exp":   now.Add(time.Hour).Unix(),
	}
}

func signJWT(t *testing.T, key *rsa.PrivateKey, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// jwtHarness: the default tenant accepts JWTs of entraTenant, acme those of
// entraTenantAcme, both from one JWKS server serving key 0 as "k0".
func jwtHarness(t *testing.T, mutate ...func(*auth.Options)) (*harness, *fakeClock, *jwksServer) {
	keys := testKeys(t)
	js := newJWKSServer(t, map[string]*rsa.PrivateKey{"k0": keys[0]})
	clk := newFakeClock()
	h := newHarness(t, append([]func(*auth.Options){func(o *auth.Options) {
		o.Now = clk.Now
		o.Tenants[0].EntraJWT = &auth.EntraJWT{TenantID: entraTenant, JWKSURL: js.URL}
		o.Tenants[1].EntraJWT = &auth.EntraJWT{TenantID: entraTenantAcme, JWKSURL: js.URL}
	}}, mutate...)...)
	return h, clk, js
}

func TestEntraJWTValid(t *testing.T) {
	h, clk, js := jwtHarness(t)
	keys := testKeys(t)
	tok := signJWT(t, keys[0], "k0", entraClaims(entraTenant, clk.Now()))
	if got := usersWith(h, defaultUsersPa, tok); got != http.StatusOK {
		t.Fatalf("valid JWT: %d", got)
	}
	if p, err := authWith(h, defaultUsersPa, tok); err != nil || p != (auth.Principal{Tenant: auth.DefaultTenant, Method: auth.MethodEntraJWT, Name: "app-1"}) {
		t.Fatalf("principal %+v, %v", p, err)
	}
	// Validated JWTs are cached: no refetch, and a second token is verified
	// with the cached keys.
	c := entraClaims(entraTenant, clk.Now())
	c["aud"] = []string{"other", auth.DefaultEntraAudience}
	if got := usersWith(h, defaultUsersPa, signJWT(t, keys[0], "k0", c)); got != http.StatusOK {
		t.Fatalf("aud array: %d", got)
	}
	if n := js.fetches.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches, want 1", n)
	}
	// Within the leeway after exp, still accepted.
	c = entraClaims(entraTenant, clk.Now())
	c["exp"] = clk.Now().Add(-30 * time.Second).Unix()
	if got := usersWith(h, defaultUsersPa, signJWT(t, keys[0], "k0", c)); got != http.StatusOK {
		t.Fatalf("exp within leeway: %d", got)
	}
	// Static tokens keep working next to JWTs.
	if got := usersWith(h, defaultUsersPa, testToken); got != http.StatusOK {
		t.Fatalf("static: %d", got)
	}
}

func TestEntraJWTRejected(t *testing.T) {
	h, clk, _ := jwtHarness(t)
	keys := testKeys(t)
	now := clk.Now()
	mod := func(f func(jwt.MapClaims)) jwt.MapClaims {
		c := entraClaims(entraTenant, now)
		f(c)
		return c
	}
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, entraClaims(entraTenant, now))
	hs.Header["kid"] = "k0"
	hsTok, _ := hs.SignedString([]byte("secret"))
	none := jwt.NewWithClaims(jwt.SigningMethodNone, entraClaims(entraTenant, now))
	noneTok, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	valid := signJWT(t, keys[0], "k0", entraClaims(entraTenant, now))
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://sts.windows.net/`+entraTenant+`/","aud":"`+auth.DefaultEntraAudience+`","exp":9999999999}`)) + "." + parts[2]

	for name, tc := range map[string]struct {
		tok  string
		want error
	}{
		"expired":          {signJWT(t, keys[0], "k0", mod(func(c jwt.MapClaims) { c["exp"] = now.Add(-2 * time.Minute).Unix() })), auth.ErrExpired},
		"no exp":           {signJWT(t, keys[0], "k0", mod(func(c jwt.MapClaims) { delete(c, "exp") })), auth.ErrUnknown},
		"not yet valid":    {signJWT(t, keys[0], "k0", mod(func(c jwt.MapClaims) { c["nbf"] = now.Add(5 * time.Minute).Unix() })), auth.ErrUnknown},
		"wrong iss":        {signJWT(t, keys[0], "k0", mod(func(c jwt.MapClaims) { c["iss"] = "https://sts.windows.net/" + entraTenantAcme + "/" })), auth.ErrUnknown},
		"v2 iss":           {signJWT(t, keys[0], "k0", mod(func(c jwt.MapClaims) { c["iss"] = "https://login.microsoftonline.com/" + entraTenant + "/v2.0" })), auth.ErrUnknown},
		"no trailing /":    {signJWT(t, keys[0], "k0", mod(func(c jwt.MapClaims) { c["iss"] = "https://sts.windows.net/" + entraTenant })), auth.ErrUnknown},
		"wrong aud":        {signJWT(t, keys[0], "k0", mod(func(c jwt.MapClaims) { c["aud"] = "00000003-0000-0000-c000-000000000000" })), auth.ErrUnknown},
		"no aud":           {signJWT(t, keys[0], "k0", mod(func(c jwt.MapClaims) { delete(c, "aud") })), auth.ErrUnknown},
		"bad signature":    {signJWT(t, keys[1], "k0", entraClaims(entraTenant, now)), auth.ErrUnknown},
		"tampered payload": {tampered, auth.ErrUnknown},
		"HS256":            {hsTok, auth.ErrUnknown},
		"alg none":         {noneTok, auth.ErrUnknown},
		"no exp, no sig":   {"eyJhbGciOiJSUzI1NiJ9.e30.AAAA", auth.ErrUnknown},
		"garbage":          {"eyJhbGciOi!!.e30.AAAA", auth.ErrMalformed},
	} {
		if _, err := authWith(h, defaultUsersPa, tc.tok); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	// A cached valid JWT stops working at its expiry.
	c := entraClaims(entraTenant, now)
	c["exp"] = now.Add(10 * time.Second).Unix()
	short := signJWT(t, keys[0], "k0", c)
	if got := usersWith(h, defaultUsersPa, short); got != http.StatusOK {
		t.Fatalf("short-lived: %d", got)
	}
	clk.Add(2 * time.Minute)
	if got := usersWith(h, defaultUsersPa, short); got != http.StatusUnauthorized {
		t.Fatalf("short-lived after expiry: %d", got)
	}
}

func TestEntraJWTUnknownKidRefetchesRateLimited(t *testing.T) {
	h, clk, js := jwtHarness(t)
	keys := testKeys(t)
	if got := usersWith(h, defaultUsersPa, signJWT(t, keys[0], "k0", entraClaims(entraTenant, clk.Now()))); got != http.StatusOK {
		t.Fatalf("k0: %d", got)
	}
	if js.fetches.Load() != 1 {
		t.Fatalf("fetches %d", js.fetches.Load())
	}
	// Entra rolls over to k1. Right after the last fetch a refetch is
	// rate-limited, so the unknown kid fails…
	js.set(map[string]*rsa.PrivateKey{"k0": keys[0], "k1": keys[1]}, false)
	k1 := signJWT(t, keys[1], "k1", entraClaims(entraTenant, clk.Now()))
	for range 5 {
		if got := usersWith(h, defaultUsersPa, k1); got != http.StatusUnauthorized {
			t.Fatalf("k1 within rate limit: %d", got)
		}
	}
	if n := js.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches during rate limit, want 1", n)
	}
	// …and a minute later the unknown kid triggers one refetch.
	clk.Add(61 * time.Second)
	k1 = signJWT(t, keys[1], "k1", entraClaims(entraTenant, clk.Now()))
	if got := usersWith(h, defaultUsersPa, k1); got != http.StatusOK {
		t.Fatalf("k1 after refetch: %d", got)
	}
	if n := js.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	// A flood of unknown kids costs at most one fetch per minute.
	clk.Add(61 * time.Second)
	for range 10 {
		bogus := signJWT(t, keys[2], "k2", entraClaims(entraTenant, clk.Now()))
		if got := usersWith(h, defaultUsersPa, bogus); got != http.StatusUnauthorized {
			t.Fatalf("unknown kid: %d", got)
		}
	}
	if n := js.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}
	// When the JWKS endpoint fails on the periodic refresh, known keys keep
	// working.
	js.set(nil, true)
	clk.Add(2 * time.Hour)
	if got := usersWith(h, defaultUsersPa, signJWT(t, keys[0], "k0", entraClaims(entraTenant, clk.Now()))); got != http.StatusOK {
		t.Fatalf("known key with JWKS down: %d", got)
	}
}

func TestEntraJWTOfOneTenantRejectedOnAnother(t *testing.T) {
	h, clk, _ := jwtHarness(t, func(o *auth.Options) {
		o.Tenants = append(o.Tenants, auth.Tenant{Name: "plain", TokenHashes: [][32]byte{auth.HashToken("plain-token")}})
	})
	keys := testKeys(t)
	def := signJWT(t, keys[0], "k0", entraClaims(entraTenant, clk.Now()))
	acme := signJWT(t, keys[0], "k0", entraClaims(entraTenantAcme, clk.Now()))
	// Validate (and cache) both on their own tenants first.
	if got := usersWith(h, defaultUsersPa, def); got != http.StatusOK {
		t.Fatalf("default JWT on default: %d", got)
	}
	if got := usersWith(h, acmeUsersPath, acme); got != http.StatusOK {
		t.Fatalf("acme JWT on acme: %d", got)
	}
	if got := usersWith(h, acmeUsersPath, def); got != http.StatusUnauthorized {
		t.Fatalf("default JWT on acme: %d", got)
	}
	if got := usersWith(h, defaultUsersPa, acme); got != http.StatusUnauthorized {
		t.Fatalf("acme JWT on default: %d", got)
	}
	// A tenant without EntraJWT accepts no JWT.
	if got := usersWith(h, "/tenants/plain/scim/v2/Users", def); got != http.StatusUnauthorized {
		t.Fatalf("JWT on tenant without EntraJWT: %d", got)
	}
	if got := usersWith(h, "/tenants/plain/scim/v2/Users", "plain-token"); got != http.StatusOK {
		t.Fatalf("plain static token: %d", got)
	}
}

func TestEntraJWTAudienceAndAppIDs(t *testing.T) {
	h, clk, _ := jwtHarness(t, func(o *auth.Options) {
		o.Tenants[0].EntraJWT.Audience = "api://scimbridge"
		o.Tenants[0].EntraJWT.AppIDs = []string{"app-1"}
	})
	keys := testKeys(t)
	c := entraClaims(entraTenant, clk.Now())
	if got := usersWith(h, defaultUsersPa, signJWT(t, keys[0], "k0", c)); got != http.StatusUnauthorized {
		t.Fatalf("default audience where another is configured: %d", got)
	}
	c["aud"] = "api://scimbridge"
	if got := usersWith(h, defaultUsersPa, signJWT(t, keys[0], "k0", c)); got != http.StatusOK {
		t.Fatalf("configured audience: %d", got)
	}
	c["appid"] = "app-2"
	if got := usersWith(h, defaultUsersPa, signJWT(t, keys[0], "k0", c)); got != http.StatusUnauthorized {
		t.Fatalf("other app: %d", got)
	}
	delete(c, "appid")
	c["azp"] = "app-1"
	if got := usersWith(h, defaultUsersPa, signJWT(t, keys[0], "k0", c)); got != http.StatusOK {
		t.Fatalf("azp: %d", got)
	}
}

func TestEntraJWTKeysFromFile(t *testing.T) {
	keys := testKeys(t)
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, jwksDoc(map[string]*rsa.PrivateKey{"f0": keys[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	clk := newFakeClock()
	h := newHarness(t, func(o *auth.Options) {
		o.Now = clk.Now
		o.Tenants[0].EntraJWT = &auth.EntraJWT{TenantID: entraTenant, JWKSFile: path}
	})
	if got := usersWith(h, defaultUsersPa, signJWT(t, keys[0], "f0", entraClaims(entraTenant, clk.Now()))); got != http.StatusOK {
		t.Fatalf("file key: %d", got)
	}
	// A single-key set also matches a token without kid.
	if got := usersWith(h, defaultUsersPa, signJWT(t, keys[0], "", entraClaims(entraTenant, clk.Now()))); got != http.StatusOK {
		t.Fatalf("no kid: %d", got)
	}
	// Rotating the file is picked up on an unknown kid (rate-limited).
	if err := os.WriteFile(path, jwksDoc(map[string]*rsa.PrivateKey{"f1": keys[1]}), 0o600); err != nil {
		t.Fatal(err)
	}
	clk.Add(61 * time.Second)
	if got := usersWith(h, defaultUsersPa, signJWT(t, keys[1], "f1", entraClaims(entraTenant, clk.Now()))); got != http.StatusOK {
		t.Fatalf("rotated file key: %d", got)
	}

	// Configuration errors are reported by New.
	st := h.st
	bad := filepath.Join(t.TempDir(), "bad.json")
	_ = os.WriteFile(bad, []byte(`{"keys":[]}`), 0o600)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	weak := filepath.Join(t.TempDir(), "weak.json")
	wb, _ := json.Marshal(map[string]any{"keys": []any{jwkOf("w", &small.PublicKey)}})
	_ = os.WriteFile(weak, wb, 0o600)
	for name, cfg := range map[string]*auth.EntraJWT{
		"missing file": {TenantID: entraTenant, JWKSFile: filepath.Join(t.TempDir(), "nope.json")},
		"no keys":      {TenantID: entraTenant, JWKSFile: bad},
		"weak key":     {TenantID: entraTenant, JWKSFile: weak},
		"no tenant":    {JWKSFile: path},
		"url and file": {TenantID: entraTenant, JWKSFile: path, JWKSURL: "http://127.0.0.1:1/keys"},
	} {
		_, err := auth.New(auth.Options{Store: st, Tenants: []auth.Tenant{{Name: "x", EntraJWT: cfg}}})
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestEntraJWTAdvertised(t *testing.T) {
	h, _, _ := jwtHarness(t)
	m := h.a.Methods(auth.DefaultTenant)
	if m.OAuth || m.EntraJWT == nil || *m.EntraJWT != (auth.JWTInfo{Issuer: "https://sts.windows.net/" + entraTenant + "/", Audience: auth.DefaultEntraAudience}) {
		t.Fatalf("methods %+v", m)
	}
}
