package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/store"
)

func TestStoredTokensListAndRevoke(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	a, err := auth.NewToken(ctx, h.st, "acme", "first")
	if err != nil {
		t.Fatal(err)
	}
	b, err := auth.NewToken(ctx, h.st, "acme", "second")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.NewToken(ctx, h.st, auth.DefaultTenant, "other tenant"); err != nil {
		t.Fatal(err)
	}
	ts, err := auth.StoredTokens(ctx, h.st, "acme")
	if err != nil {
		t.Fatal(err)
	}
	names := map[[32]byte]string{}
	for _, st := range ts {
		if st.Created.IsZero() || time.Since(st.Created) > time.Minute {
			t.Errorf("token %q created %v", st.Name, st.Created)
		}
		names[st.Hash] = st.Name
	}
	if len(ts) != 2 || names[auth.HashToken(a)] != "first" || names[auth.HashToken(b)] != "second" {
		t.Fatalf("StoredTokens(acme) = %+v", ts)
	}
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	for _, tok := range []string{a, b, acmeToken} {
		if err := auth.RecordTokenUse(ctx, h.st, "acme", auth.HashToken(tok), at); err != nil {
			t.Fatal(err)
		}
	}
	used, err := auth.TokensLastUsed(ctx, h.st, "acme")
	if err != nil || len(used) != 3 || !used[auth.HashToken(a)].Equal(at) {
		t.Fatalf("TokensLastUsed = %v, %v", used, err)
	}
	// Revoking removes the token and its last use, and only those.
	if err := auth.RevokeToken(ctx, h.st, "acme", auth.HashToken(a)); err != nil {
		t.Fatal(err)
	}
	if err := auth.RevokeToken(ctx, h.st, "acme", auth.HashToken(a)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second revoke: %v, want ErrNotFound", err)
	}
	if err := auth.RevokeToken(ctx, h.st, "acme", auth.HashToken(acmeToken)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoking a static token: %v, want ErrNotFound", err)
	}
	ts, _ = auth.StoredTokens(ctx, h.st, "acme")
	used, _ = auth.TokensLastUsed(ctx, h.st, "acme")
	if len(ts) != 1 || ts[0].Name != "second" || len(used) != 2 || !used[auth.HashToken(b)].Equal(at) {
		t.Errorf("after revoke: tokens %+v, last used %v", ts, used)
	}
	if id := auth.TokenID(auth.HashToken("x")); len(id) != 8 || id != "2d711642" {
		t.Errorf("TokenID = %q", id)
	}
}

// TestRevokedTokenRefused checks that a running Authenticator refuses a
// revoked stored token once StoredTokenMaxAge has passed, although no
// unknown token made it re-read the store.
func TestRevokedTokenRefused(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock()
	h := newHarness(t, func(o *auth.Options) { o.Now = clk.Now })
	tok, err := auth.NewToken(ctx, h.st, auth.DefaultTenant, "entra")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := authWith(h, "/scim/v2/Users", tok); err != nil {
		t.Fatalf("the stored token: %v", err)
	}
	if err := auth.RevokeToken(ctx, h.st, auth.DefaultTenant, auth.HashToken(tok)); err != nil {
		t.Fatal(err)
	}
	clk.Add(auth.StoredTokenMaxAge)
	if _, err := authWith(h, "/scim/v2/Users", tok); !errors.Is(err, auth.ErrUnknown) {
		t.Fatalf("the revoked token after %s: %v, want ErrUnknown", auth.StoredTokenMaxAge, err)
	}
	if _, err := authWith(h, "/scim/v2/Users", testToken); err != nil {
		t.Errorf("the static token: %v", err)
	}
}
