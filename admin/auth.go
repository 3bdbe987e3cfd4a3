package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// authenticate returns the name of the admin token r carries ("" for an
// unnamed one) and whether it carries one at all. Tokens are compared as
// SHA-256 hashes, in constant time, against every configured hash.
func (h *handler) authenticate(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	sum := sha256.Sum256([]byte(tok))
	found := 0
	var name string
	for _, want := range h.tokens {
		if subtle.ConstantTimeCompare(sum[:], want[:]) == 1 {
			found = 1
			name = h.names[want]
		}
	}
	return name, found == 1
}
