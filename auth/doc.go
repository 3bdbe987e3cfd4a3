// Package auth authenticates requests for the SCIM API (and, later, the
// admin API): a request and the tenant it is addressed to go in; a
// Principal, or an error saying why not, comes out.
//
// A tenant accepts static bearer tokens (from configuration or the
// environment), tokens created with `scimbridge token create` (only their
// SHA-256 is stored), OAuth 2.0 access tokens issued by the tenant's
// client-credentials endpoint (ServeToken), and, if configured, JWTs issued
// by Microsoft Entra ID. A credential of one tenant never opens another.
//
// Failures are the sentinel errors ErrNoTenant, ErrMissing, ErrMalformed,
// ErrUnknown and ErrExpired, and *RateLimitError (errors.Is ErrRateLimited)
// once a client or remote address has failed too often. Callers map them to
// responses at their one error edge; anything else is an internal error.
package auth
