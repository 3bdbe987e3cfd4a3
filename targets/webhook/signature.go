package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the request header carrying the signature.
const SignatureHeader = "Scimbridge-Signature"

// DefaultWindow is the replay window we recommend to receivers: a
// signature whose timestamp is further than this from the receiver's clock
// is refused. Retries are signed afresh, so a window of minutes suffices.
const DefaultWindow = 5 * time.Minute

// Verification errors.
var (
	ErrMalformedSignature = errors.New("webhook: malformed " + SignatureHeader + " header")
	ErrSignatureMismatch  = errors.New("webhook: no v1 signature matches the secret")
	ErrTimestampOutside   = errors.New("webhook: the signature's timestamp is outside the replay window")
)

// Sign returns the header value for body signed at t with each non-empty
// secret (the current one first, then the previous one while rotating).
func Sign(t time.Time, body []byte, secrets ...string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=" + ts)
	for _, s := range secrets {
		if s == "" {
			continue
		}
		b.WriteString(",v1=" + hex.EncodeToString(mac(s, ts, body)))
	}
	return b.String()
}

func mac(secret, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts))
	h.Write([]byte("."))
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a Scimbridge-Signature header against the raw request body
// for a receiver holding secret: one of its v1 values must be the
// HMAC-SHA256 of "<t>.<body>" under secret, and t must be within window of
// now (window <= 0: DefaultWindow). It returns ErrMalformedSignature,
// ErrTimestampOutside or ErrSignatureMismatch.
//
// A receiver rotating its own secret calls Verify with each secret it
// accepts; a sender rotating sends both v1 values, so either secret
// verifies.
func Verify(secret, header string, body []byte, now time.Time, window time.Duration) error {
	if window <= 0 {
		window = DefaultWindow
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrMalformedSignature
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			s, err := hex.DecodeString(v)
			if err != nil {
				return ErrMalformedSignature
			}
			sigs = append(sigs, s)
		}
		// Unknown schemes (a future v2) are ignored.
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrMalformedSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > window || d < -window {
		return ErrTimestampOutside
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrSignatureMismatch
}
