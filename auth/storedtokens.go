package auth

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// tokenUsedPrefix is the state-key prefix of the last-use records of bearer
// tokens (stored, configured or from the environment), by token hash. They
// are kept apart from the stored tokens so that recording a use can never
// bring back a token revoked in the meantime.
const tokenUsedPrefix = "token-used/"

// TokenIDLen is the length of a token id: that many leading hex digits of
// the token's SHA-256.
const TokenIDLen = 8

// TokenID returns the short id under which a token is listed and revoked:
// the first TokenIDLen hex digits of its hash (never the token).
func TokenID(h [32]byte) string { return hex.EncodeToString(h[:])[:TokenIDLen] }

// StoredToken is a token created with NewToken, as the store holds it.
type StoredToken struct {
	Hash    [32]byte
	Name    string
	Created time.Time
}

// StoredTokens returns the tokens stored for tenant, by hash.
func StoredTokens(ctx context.Context, st store.Store, tenant string) ([]StoredToken, error) {
	entries, err := st.ListState(ctx, tenant, tokenPrefix)
	if err != nil {
		return nil, err
	}
	out := make([]StoredToken, 0, len(entries))
	for _, e := range entries {
		h, ok := hashOfKey(e.Key, tokenPrefix)
		if !ok {
			continue
		}
		var v storedToken
		_ = json.Unmarshal(e.Value, &v) // a damaged record still lists (and revokes) by id
		out = append(out, StoredToken{Hash: h, Name: v.Name, Created: v.Created})
	}
	return out, nil
}

// RevokeToken deletes tenant's stored token with hash h and its last-use
// record. It returns store.ErrNotFound if no such token is stored. Running
// servers refuse the token once they re-read the stored tokens (within
// StoredTokenMaxAge).
func RevokeToken(ctx context.Context, st store.Store, tenant string, h [32]byte) error {
	key := hex.EncodeToString(h[:])
	if _, err := st.GetState(ctx, tenant, tokenPrefix+key); err != nil {
		return err
	}
	if err := st.DeleteState(ctx, tenant, tokenPrefix+key); err != nil {
		return err
	}
	return st.DeleteState(ctx, tenant, tokenUsedPrefix+key)
}

type tokenUse struct {
	LastUsed time.Time `json:"lastUsed"`
}

// RecordTokenUse stores at as the last use of tenant's token with hash h.
// Options.TokenUsed calls it at most once a minute per token.
func RecordTokenUse(ctx context.Context, st store.Store, tenant string, h [32]byte, at time.Time) error {
	v, _ := json.Marshal(tokenUse{LastUsed: at.UTC().Truncate(time.Second)})
	if _, err := st.PutState(ctx, tenant, tokenUsedPrefix+hex.EncodeToString(h[:]), v, -1); err != nil {
		return fmt.Errorf("record token use: %w", err)
	}
	return nil
}

// TokenUseRecorder returns an Options.TokenUsed hook that records uses in
// st with RecordTokenUse, logging (never failing the request) when the
// store refuses.
func TokenUseRecorder(st store.Store, log *slog.Logger) func(ctx context.Context, tenant string, h [32]byte, at time.Time) {
	return func(ctx context.Context, tenant string, h [32]byte, at time.Time) {
		if err := RecordTokenUse(ctx, st, tenant, h, at); err != nil && log != nil {
			log.WarnContext(ctx, "cannot record the last use of a token", "tenant", tenant, "token", TokenID(h), "error", err)
		}
	}
}

// TokensLastUsed returns the recorded last use of tenant's tokens, by hash.
func TokensLastUsed(ctx context.Context, st store.Store, tenant string) (map[[32]byte]time.Time, error) {
	entries, err := st.ListState(ctx, tenant, tokenUsedPrefix)
	if err != nil {
		return nil, err
	}
	out := make(map[[32]byte]time.Time, len(entries))
	for _, e := range entries {
		h, ok := hashOfKey(e.Key, tokenUsedPrefix)
		if !ok {
			continue
		}
		var v tokenUse
		if json.Unmarshal(e.Value, &v) == nil && !v.LastUsed.IsZero() {
			out[h] = v.LastUsed
		}
	}
	return out, nil
}

// hashOfKey returns the token hash a state key names after prefix.
func hashOfKey(key, prefix string) ([32]byte, bool) {
	raw, err := hex.DecodeString(key[len(prefix):])
	if err != nil || len(raw) != 32 {
		return [32]byte{}, false
	}
	return [32]byte(raw), true
}
