package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// tokenPrefix is the state-key prefix of stored token hashes.
const tokenPrefix = "token/"

type storedToken struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

// HashToken returns the SHA-256 of a bearer token, the only form in which
// tokens are stored.
func HashToken(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// NewToken generates a random bearer token for tenant, stores its hash and
// returns the token. The plain token is never stored: show it once.
func NewToken(ctx context.Context, st store.Store, tenant, name string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	tok := "scb_" + base64.RawURLEncoding.EncodeToString(b[:])
	h := HashToken(tok)
	v, _ := json.Marshal(storedToken{Name: name, Created: time.Now().UTC()})
	if _, err := st.PutState(ctx, tenant, tokenPrefix+hex.EncodeToString(h[:]), v, 0); err != nil {
		return "", fmt.Errorf("store token: %w", err)
	}
	return tok, nil
}

// StoredTokenHashes returns the hashes of the tokens stored for tenant.
func StoredTokenHashes(ctx context.Context, st store.Store, tenant string) ([][32]byte, error) {
	entries, err := st.ListState(ctx, tenant, tokenPrefix)
	if err != nil {
		return nil, err
	}
	out := make([][32]byte, 0, len(entries))
	for _, e := range entries {
		raw, err := hex.DecodeString(e.Key[len(tokenPrefix):])
		if err != nil || len(raw) != 32 {
			continue
		}
		out = append(out, [32]byte(raw))
	}
	return out, nil
}
