package scim

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/store"
)

type principalKey struct{}

// tenantOf returns the tenant the authenticate middleware admitted the request for.
func tenantOf(r *http.Request) string {
	p, _ := r.Context().Value(principalKey{}).(auth.Principal)
	return p.Tenant
}

// tenantName is the tenant a request's path addresses.
func tenantName(r *http.Request) string {
	if name, ok := mux.Vars(r)["tenant"]; ok {
		return name
	}
	return DefaultTenant
}

// authenticate admits a request only with one of its tenant's credentials
// (auth.Authenticator.Authenticate, from the headers alone) and puts the
// principal into the request context. This is the one place the SCIM API
// authenticates.
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := tenantName(r)
		if info, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok && s.auth.Has(name) {
			info.tenant = name
		}
		p, err := s.auth.Authenticate(r, name)
		if err != nil {
			writeAPIError(w, s.authError(r.Context(), err))
			return
		}
		ctx := context.WithValue(r.Context(), principalKey{}, p)
		// Every write of the request (Bulk's included) is a push by the
		// authenticated principal; the store refuses writes without an origin.
		ctx = store.WithOrigin(ctx, store.Origin{Source: store.SourcePush, Actor: p.Name})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// authError maps an authentication failure to its response; the auth
// package has logged why (never the credential).
func (s *server) authError(ctx context.Context, err error) *apiError {
	var rl *auth.RateLimitError
	switch {
	case errors.Is(err, auth.ErrNoTenant):
		return errStatus(http.StatusNotFound, "No such tenant.")
	case errors.Is(err, auth.ErrMissing):
		return errStatus(http.StatusUnauthorized, "A bearer token is required.")
	case errors.Is(err, auth.ErrMalformed), errors.Is(err, auth.ErrUnknown), errors.Is(err, auth.ErrExpired):
		return errStatus(http.StatusUnauthorized, "The bearer token is not valid for this tenant.")
	case errors.As(err, &rl):
		e := errStatus(http.StatusTooManyRequests, "Too many failed authentications; retry later.")
		e.retryAfter = rl.RetryAfter
		return e
	}
	return s.toAPIError(ctx, err)
}

// oauthToken serves a tenant's OAuth 2.0 token endpoint (404 where the
// tenant has no OAuth clients).
func (s *server) oauthToken(w http.ResponseWriter, r *http.Request) {
	name := tenantName(r)
	if !s.auth.HasTokenEndpoint(name) {
		writeAPIError(w, errStatus(http.StatusNotFound, "No such endpoint."))
		return
	}
	if info, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok {
		info.tenant = name
	}
	s.auth.ServeToken(w, r, name)
}

// withOAuthScheme adds the client-credentials and Entra JWT schemes to the
// ServiceProviderConfig's authenticationSchemes where the request's tenant
// accepts them.
func (s *server) withOAuthScheme(r *http.Request, schemes []any) []any {
	m := s.auth.Methods(tenantOf(r))
	if m.OAuth {
		how := "client_secret_basic or client_secret_post"
		if m.Assertions {
			how += ", or a JWT client assertion (RFC 7523)"
		}
		schemes = append(schemes, map[string]any{
			"type":        "oauth2",
			"name":        "OAuth 2.0 Client Credentials",
			"description": "Bearer access tokens from the client-credentials grant at " + s.base(r) + "/oauth/token (" + how + ").",
			"specUri":     "https://www.rfc-editor.org/rfc/rfc6749#section-4.4",
			"primary":     false,
		})
	}
	if j := m.EntraJWT; j != nil {
		schemes = append(schemes, map[string]any{
			"type":        "oauthbearertoken",
			"name":        "Microsoft Entra ID JWT",
			"description": "Bearer JWTs issued by Microsoft Entra ID (RS256, issuer " + j.Issuer + ", audience " + j.Audience + ").",
			"specUri":     "https://www.rfc-editor.org/rfc/rfc7519",
			"primary":     false,
		})
	}
	return schemes
}

// retryAfterSeconds renders d for a Retry-After header: whole seconds,
// rounded up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}
