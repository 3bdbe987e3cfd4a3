package auth_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/auth"
)

// TestTokenUsedHook: the hook hears of static and stored tokens, at most
// once a minute per token, and not of OAuth access tokens.
func TestTokenUsedHook(t *testing.T) {
	type call struct {
		tenant string
		hash   [32]byte
		at     time.Time
	}
	var (
		mu    sync.Mutex
		calls []call
	)
	h, clk := oauthHarness(t, func(o *auth.Options) {
		o.TokenUsed = func(_ context.Context, tenant string, hash [32]byte, at time.Time) {
			mu.Lock()
			calls = append(calls, call{tenant, hash, at})
			mu.Unlock()
		}
	})
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(calls) }
	for range 5 {
		if _, err := authWith(h, defaultUsersPa, testToken); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(); n != 1 || calls[0] != (call{auth.DefaultTenant, auth.HashToken(testToken), clk.Now()}) {
		t.Fatalf("calls %+v", calls)
	}
	clk.Add(59 * time.Second)
	_, _ = authWith(h, defaultUsersPa, testToken)
	if n := count(); n != 1 {
		t.Fatalf("%d calls within a minute", n)
	}
	clk.Add(time.Second)
	_, _ = authWith(h, defaultUsersPa, testToken)
	if n := count(); n != 2 {
		t.Fatalf("%d calls after a minute, want 2", n)
	}
	// A stored token, found by a reload, is reported too, with its tenant.
	stored, err := auth.NewToken(context.Background(), h.st, "acme", "ops")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := authWith(h, acmeUsersPath, stored); err != nil {
		t.Fatal(err)
	}
	if _, err := authWith(h, acmeUsersPath, stored); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 3 || calls[2].tenant != "acme" || calls[2].hash != auth.HashToken(stored) {
		t.Fatalf("calls %+v", calls)
	}
	// OAuth access tokens are not static tokens.
	tok := getToken(t, h, tokenPath, clientID, clientSecret)
	if _, err := authWith(h, defaultUsersPa, tok); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 3 {
		t.Fatalf("%d calls after an OAuth token, want 3", n)
	}
}
