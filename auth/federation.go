package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scimbridge/scimbridge/store"
)

// Workload identity federation (RFC 7523 §2.2): instead of a secret, an
// OAuth client presents a JWT that Microsoft Entra ID signed for it, as
// client_assertion with client_assertion_type ClientAssertionType. The
// assertion must come from the client's configured issuer and subject, name
// the configured audience, be unexpired (one minute of clock skew
// tolerated), be signed with one of the issuer's keys (RS256; fetched and
// rotated as for EntraJWT) and carry a jti that has not been used before.
//
// Used jti values are recorded in the store (state "jti/<sha256 of iss and
// jti>", holding the assertion's expiry) with a create-if-absent write, so a
// replayed assertion fails on every replica sharing the store; the records
// are pruned with the expired access tokens once their assertion has
// expired, so they take no memory and only as much storage as assertions
// live.

// ClientAssertionType is the client_assertion_type of a JWT client
// assertion (RFC 7523 §2.2).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// jtiStatePrefix is the state-key prefix of used assertion ids.
const jtiStatePrefix = "jti/"

// ErrReplayed: a client assertion whose jti was used before.
var ErrReplayed = errors.New("client assertion replayed")

// Federation lets an OAuth client authenticate with a JWT assertion issued
// by Microsoft Entra ID (workload identity federation) instead of a secret.
type Federation struct {
	// TenantID is the Entra directory (tenant) id of the issuer.
	TenantID string
	// Issuer overrides the expected iss. Default
	// https://login.microsoftonline.com/{TenantID}/v2.0.
	Issuer string
	// Subject is the expected sub (required): for Entra, the object id of
	// the identity the assertion is issued to.
	Subject string
	// Audience is the expected aud (required).
	Audience string
	// JWKSURL serves the issuer's signing keys. Default (with JWKSFile empty
	// too): https://login.microsoftonline.com/{TenantID}/discovery/v2.0/keys.
	JWKSURL string
	// JWKSFile is a local JSON Web Key Set used instead of JWKSURL (read at
	// start, re-read like the URL).
	JWKSFile string
	// HTTPClient fetches JWKSURL. Default: a client with a 10 s timeout.
	HTTPClient *http.Client
}

func newFederationVerifier(f *Federation, now func() time.Time, log *slog.Logger) (*jwtVerifier, error) {
	switch {
	case f.TenantID == "" && f.Issuer == "":
		return nil, errors.New("federation: TenantID is required")
	case f.Subject == "":
		return nil, errors.New("federation: Subject is required")
	case f.Audience == "":
		return nil, errors.New("federation: Audience is required")
	case f.JWKSURL != "" && f.JWKSFile != "":
		return nil, errors.New("federation: set JWKSURL or JWKSFile, not both")
	}
	vc := verifierConfig{
		issuer:     f.Issuer,
		audience:   f.Audience,
		subject:    f.Subject,
		jwksURL:    f.JWKSURL,
		jwksFile:   f.JWKSFile,
		httpClient: f.HTTPClient,
	}
	if vc.issuer == "" {
		vc.issuer = "https://login.microsoftonline.com/" + f.TenantID + "/v2.0"
	}
	if vc.jwksURL == "" && vc.jwksFile == "" {
		vc.jwksURL = "https://login.microsoftonline.com/" + f.TenantID + "/discovery/v2.0/keys"
	}
	v, err := newVerifier(vc, now, log)
	if err != nil {
		return nil, fmt.Errorf("federation: %w", err)
	}
	return v, nil
}

// MaxAssertionLifetime is the furthest in the future a client assertion's
// exp may lie. Entra issues hour-long tokens (a token lifetime policy can
// stretch them to a day); longer ones are refused, which also bounds how
// long a used jti must be kept.
const MaxAssertionLifetime = 24 * time.Hour

// authAssertion returns the client that the assertion authenticates: the
// client named by clientID (if not empty) or any federated client whose
// issuer and subject the assertion carries. It returns ErrMalformed,
// ErrUnknown, ErrExpired or ErrReplayed, or a store error.
func (a *Authenticator) authAssertion(ctx context.Context, t *tenant, clientID, assertion string) (string, error) {
	var unverified jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(assertion, &unverified); err != nil {
		return "", ErrMalformed
	}
	var last error = ErrUnknown
	for i := range t.clients {
		c := &t.clients[i]
		v := t.federated[c.ID]
		if v == nil || (clientID != "" && clientID != c.ID) || v.issuer != unverified.Issuer || v.subject != unverified.Subject {
			continue
		}
		claims, err := v.verify(ctx, assertion)
		if err != nil {
			a.log.DebugContext(ctx, "client assertion rejected", "tenant", t.name, "client", c.ID, "error", err)
			last = jwtFailure(err)
			continue
		}
		if claims.ID == "" {
			return "", fmt.Errorf("%w: the assertion has no jti", ErrMalformed)
		}
		if claims.ExpiresAt.After(t.now().Add(MaxAssertionLifetime)) {
			// Its jti would have to be kept until then; Entra's tokens
			// live about an hour.
			return "", fmt.Errorf("%w: the assertion expires more than %s from now", ErrMalformed, MaxAssertionLifetime)
		}
		if err := a.useJTI(ctx, t, claims); err != nil {
			return "", err
		}
		return c.ID, nil
	}
	return "", last
}

// useJTI records the assertion's jti until it expires; ErrReplayed if it
// is recorded already.
func (a *Authenticator) useJTI(ctx context.Context, t *tenant, claims *entraClaims) error {
	sum := sha256.Sum256([]byte(claims.Issuer + "\x00" + claims.ID))
	// Keep the record while the verifier would still accept the assertion.
	rec, _ := json.Marshal(oauthRecord{Issued: t.now().UTC(), Expires: claims.ExpiresAt.Add(jwtLeeway).UTC()})
	_, err := a.st.PutState(ctx, t.name, jtiStatePrefix+hex.EncodeToString(sum[:]), rec, 0)
	if errors.Is(err, store.ErrPrecondition) {
		return ErrReplayed
	}
	return err
}
