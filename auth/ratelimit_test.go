package auth_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/auth"
)

// limitHarness is the OAuth harness with the default rate limit, a fake
// clock and captured logs.
func limitHarness(t *testing.T) (*harness, *fakeClock, *bytes.Buffer) {
	var logs bytes.Buffer
	h, clk := oauthHarness(t, func(o *auth.Options) {
		o.RateLimit = auth.RateLimit{}
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	return h, clk, &logs
}

func TestBearerFailuresThrottledPerAddress(t *testing.T) {
	h, clk, logs := limitHarness(t)
	const attacker = "198.51.100.7:40000"
	bearer := func(tok, remote string) error {
		_, err := authHeader(h, defaultUsersPa, "Bearer "+tok, remote)
		return err
	}
	for i := range auth.DefaultFailureBurst {
		if err := bearer(fmt.Sprintf("guess-%d", i), attacker); !errors.Is(err, auth.ErrUnknown) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	err := bearer("guess-x", attacker)
	var rl *auth.RateLimitError
	if !errors.As(err, &rl) || !errors.Is(err, auth.ErrRateLimited) || rl.RetryAfter < time.Second || rl.RetryAfter > 6*time.Second {
		t.Fatalf("after the burst: %v", err)
	}
	// OAuth- and JWT-shaped guesses are throttled alike, before any store
	// read or signature check.
	if err := bearer("scbo_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", attacker); !errors.Is(err, auth.ErrRateLimited) {
		t.Fatalf("OAuth-shaped guess: %v", err)
	}
	// A known token is admitted from the throttled address: successes are
	// never throttled.
	if err := bearer(testToken, attacker); err != nil {
		t.Fatalf("valid token from the throttled address: %v", err)
	}
	// Other addresses are unaffected; an IPv6 address counts by its /64.
	if err := bearer("guess-y", "203.0.113.9:1"); !errors.Is(err, auth.ErrUnknown) {
		t.Fatalf("other address: %v", err)
	}
	for i := range auth.DefaultFailureBurst {
		_ = bearer(fmt.Sprintf("v6-%d", i), fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1))
	}
	if err := bearer("v6-x", "[2001:db8:1:2:ffff::1]:443"); !errors.Is(err, auth.ErrRateLimited) {
		t.Fatalf("same /64: %v", err)
	}
	if err := bearer("v6-y", "[2001:db8:1:3::1]:443"); !errors.Is(err, auth.ErrUnknown) {
		t.Fatalf("other /64: %v", err)
	}
	// The allowance refills: one failure per 6 s.
	clk.Add(6 * time.Second)
	if err := bearer("guess-z", attacker); !errors.Is(err, auth.ErrUnknown) {
		t.Fatalf("after refill: %v", err)
	}
	if err := bearer("guess-zz", attacker); !errors.Is(err, auth.ErrRateLimited) {
		t.Fatalf("after one refilled failure: %v", err)
	}
	// Missing credentials cost nothing and are never throttled.
	if _, err := authHeader(h, defaultUsersPa, "", attacker); !errors.Is(err, auth.ErrMissing) {
		t.Fatalf("missing: %v", err)
	}
	out := logs.String()
	if !strings.Contains(out, "too many failed authentications") || !strings.Contains(out, "remote=198.51.100.7") {
		t.Errorf("no throttling warning in the log:\n%s", out)
	}
	if strings.Contains(out, "guess-") || strings.Contains(out, testToken) {
		t.Errorf("a token was logged:\n%s", out)
	}
}

func TestSuccessesDoNotCount(t *testing.T) {
	h, _, _ := limitHarness(t)
	const remote = "198.51.100.8:1"
	tok := getToken(t, h, tokenPath, clientID, clientSecret)
	for range 100 {
		if _, err := authHeader(h, defaultUsersPa, "Bearer "+testToken, remote); err != nil {
			t.Fatal(err)
		}
		if _, err := authHeader(h, defaultUsersPa, "Bearer "+tok, remote); err != nil {
			t.Fatal(err)
		}
	}
	for i := range auth.DefaultFailureBurst {
		if _, err := authHeader(h, defaultUsersPa, "Bearer wrong", remote); !errors.Is(err, auth.ErrUnknown) {
			t.Fatalf("failure %d after 200 successes: %v", i, err)
		}
	}
	for range 50 {
		tokenFrom(t, h, bodyCreds(clientID, clientSecret), nil, "198.51.100.9:1", http.StatusOK)
	}
	for range auth.DefaultFailureBurst {
		tokenFrom(t, h, bodyCreds(clientID, "wrong"), nil, "198.51.100.9:1", http.StatusUnauthorized)
	}
}

// tokenFrom serves one token request from remote and checks its status.
func tokenFrom(t *testing.T, h *harness, form url.Values, basic []string, remote string, want int) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("POST", tokenPath, strings.NewReader(form.Encode()))
	r.RemoteAddr = remote
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic != nil {
		r.SetBasicAuth(basic[0], basic[1])
	}
	w := httptest.NewRecorder()
	h.a.ServeToken(w, r, auth.DefaultTenant)
	if w.Code != want {
		t.Fatalf("token request from %s: %d, want %d: %s", remote, w.Code, want, w.Body)
	}
	return w
}

func TestTokenEndpointThrottledPerClientAndAddress(t *testing.T) {
	h, clk, logs := limitHarness(t)
	// One client's secret guessed from many addresses: the client is
	// throttled, even for its right secret, until its allowance refills.
	for i := range auth.DefaultFailureBurst {
		tokenFrom(t, h, bodyCreds(clientID, fmt.Sprintf("guess-%d", i)), nil, fmt.Sprintf("192.0.2.%d:1", i+1), http.StatusUnauthorized)
	}
	w := tokenFrom(t, h, bodyCreds(clientID, "guess-x"), nil, "192.0.2.100:1", http.StatusTooManyRequests)
	if ra := w.Header().Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After %q", ra)
	}
	if !strings.Contains(w.Body.String(), `"error":"temporarily_unavailable"`) || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("429 body %s", w.Body)
	}
	tokenFrom(t, h, bodyCreds(clientID, clientSecret), nil, "192.0.2.101:1", http.StatusTooManyRequests)
	tokenFrom(t, h, grantOnly(), []string{clientID, "guess-b"}, "192.0.2.102:1", http.StatusTooManyRequests) // Basic counts as the same client
	// Other clients are not affected.
	tokenFrom(t, h, bodyCreds(specialID, specialSecret), nil, "192.0.2.103:1", http.StatusOK)
	clk.Add(6 * time.Second)
	tokenFrom(t, h, bodyCreds(clientID, clientSecret), nil, "192.0.2.104:1", http.StatusOK)

	// Many clients guessed from one address: the address is throttled.
	const attacker = "198.51.100.50:9"
	for i := range auth.DefaultFailureBurst {
		tokenFrom(t, h, bodyCreds(fmt.Sprintf("client-%d", i), "x"), nil, attacker, http.StatusUnauthorized)
	}
	tokenFrom(t, h, bodyCreds("client-x", "x"), nil, attacker, http.StatusTooManyRequests)
	tokenFrom(t, h, bodyCreds(specialID, specialSecret), nil, attacker, http.StatusTooManyRequests)
	tokenFrom(t, h, bodyCreds(specialID, specialSecret), nil, "198.51.100.51:9", http.StatusOK)
	// Malformed requests are answered 400 and do not count.
	bad := bodyCreds(clientID, clientSecret)
	bad.Set("grant_type", "password")
	for range 20 {
		tokenFrom(t, h, bad, nil, "198.51.100.52:9", http.StatusBadRequest)
	}
	tokenFrom(t, h, bodyCreds(specialID, specialSecret), nil, "198.51.100.52:9", http.StatusOK)

	out := logs.String()
	if !strings.Contains(out, "too many failed client authentications") || strings.Contains(out, "guess-") {
		t.Errorf("log:\n%s", out)
	}
}

func TestRateLimitConfigured(t *testing.T) {
	h, _ := oauthHarness(t, func(o *auth.Options) { o.RateLimit = auth.RateLimit{Burst: 2, PerMinute: 1} })
	const remote = "198.51.100.60:1"
	for range 2 {
		if _, err := authHeader(h, defaultUsersPa, "Bearer wrong", remote); !errors.Is(err, auth.ErrUnknown) {
			t.Fatal(err)
		}
	}
	_, err := authHeader(h, defaultUsersPa, "Bearer wrong", remote)
	var rl *auth.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter < 59*time.Second || rl.RetryAfter > 60*time.Second {
		t.Fatalf("burst 2, 1/min: %v", err)
	}
}

// TestFailureLogSaysWhy: every 401 is logged with its reason (missing,
// malformed, unknown, expired), never with the credential.
func TestFailureLogSaysWhy(t *testing.T) {
	var logs bytes.Buffer
	h, clk := oauthHarness(t, func(o *auth.Options) {
		o.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	expiring := getToken(t, h, tokenPath, clientID, clientSecret)
	clk.Add(2 * time.Hour)
	for _, c := range []struct{ hdr, reason, secret string }{
		{"", "missing", ""},
		{"Basic " + testToken, "malformed", testToken},
		{"Bearer ", "malformed", ""},
		{"Bearer not-a-known-token-123", "unknown", "not-a-known-token-123"},
		{"Bearer " + expiring, "expired", expiring},
	} {
		logs.Reset()
		_, err := authHeader(h, defaultUsersPa, c.hdr, "192.0.2.77:1")
		if statusOf(err) != http.StatusUnauthorized || auth.Reason(err) != c.reason {
			t.Errorf("%q: %v, want %s", c.hdr, err, c.reason)
		}
		out := logs.String()
		if !strings.Contains(out, `"msg":"authentication failed"`) || !strings.Contains(out, `"reason":"`+c.reason+`"`) ||
			!strings.Contains(out, `"tenant":"default"`) || !strings.Contains(out, `"remote":"192.0.2.77"`) {
			t.Errorf("%q: log %s", c.hdr, out)
		}
		if c.secret != "" && strings.Contains(out, c.secret) {
			t.Errorf("%q: the credential is in the log: %s", c.hdr, out)
		}
	}
}

// TestFailuresCountedPerClientBehindTrustedProxy checks that behind a
// trusted reverse proxy failures count against the client named in
// X-Forwarded-For, so one client cannot throttle everyone behind the proxy,
// and that X-Forwarded-For from an untrusted peer is ignored.
func TestFailuresCountedPerClientBehindTrustedProxy(t *testing.T) {
	var logs bytes.Buffer
	h, _ := oauthHarness(t, func(o *auth.Options) {
		o.RateLimit = auth.RateLimit{}
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	const proxy = "10.1.2.3:5000"
	try := func(tok, remote, xff string) error {
		r := httptest.NewRequest("GET", defaultUsersPa, nil)
		r.RemoteAddr = remote
		r.Header.Set("Authorization", "Bearer "+tok)
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		_, err := h.a.Authenticate(r, auth.DefaultTenant)
		return err
	}
	// The attacker's address is the right-most untrusted entry; what it
	// put left of it (a spoofed address) does not matter.
	for i := range auth.DefaultFailureBurst {
		if err := try(fmt.Sprintf("guess-%d", i), proxy, fmt.Sprintf("192.0.2.%d, 198.51.100.7", i)); !errors.Is(err, auth.ErrUnknown) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if err := try("guess-x", proxy, "198.51.100.7, 10.9.9.9"); !errors.Is(err, auth.ErrRateLimited) {
		t.Fatalf("the attacker behind the proxy is not throttled: %v", err)
	}
	if err := try("guess-y", proxy, "203.0.113.9"); !errors.Is(err, auth.ErrUnknown) {
		t.Fatalf("another client behind the same proxy is throttled: %v", err)
	}
	if !strings.Contains(logs.String(), "remote=198.51.100.7") {
		t.Errorf("the log does not name the client behind the proxy:\n%s", logs.String())
	}
	// An untrusted peer's X-Forwarded-For is ignored: its failures count
	// against its own address.
	for i := range auth.DefaultFailureBurst {
		_ = try(fmt.Sprintf("u-%d", i), "192.0.2.50:1", fmt.Sprintf("203.0.113.%d", i+100))
	}
	if err := try("u-x", "192.0.2.50:1", "203.0.113.250"); !errors.Is(err, auth.ErrRateLimited) {
		t.Fatalf("an untrusted peer escaped the limit through X-Forwarded-For: %v", err)
	}
}
