package scim

import (
	"log/slog"
	"time"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
)

// DefaultTenant is the tenant served at /scim/v2.
const DefaultTenant = "default"

// Tenant is one tenant the server serves. The default tenant is served at
// /scim/v2, every other at /tenants/{Name}/scim/v2. Each has its own data and
// credentials; a credential of one tenant never opens another.
type Tenant struct {
	Name string
	// TokenHashes are SHA-256 hashes of static bearer tokens from
	// configuration or the environment, accepted besides the tokens created
	// with `scimbridge token create` (stored hashed in the store).
	TokenHashes [][32]byte
	// OAuthClients may obtain access tokens at the tenant's OAuth 2.0
	// client-credentials endpoint, {tenant base}/oauth/token (404 when
	// none is configured). See oauth.go.
	OAuthClients []OAuthClient
	// TokenLifetime of the access tokens issued to OAuthClients: between
	// 1 h and 6 h; 0 means 1 h.
	TokenLifetime time.Duration
	// EntraJWT, if set, also admits bearer JWTs issued by Microsoft Entra ID.
	EntraJWT *EntraJWT
}

// Options configure NewHandler.
type Options struct {
	Store   store.Store
	Schemas *schemas.Registry
	Logger  *slog.Logger
	// BaseURL is the public URL of the server (scheme://host[:port], no
	// path) used in meta.location and Location headers. Empty: derived from
	// each request's Host header.
	BaseURL string
	// Tenants to serve. The default tenant is always served even if absent.
	Tenants []Tenant
	// MaxBodyBytes caps request bodies (413 beyond). Default 10 MiB.
	MaxBodyBytes int64
	// MaxResults caps count on list requests (filter.maxResults). Default 1000.
	MaxResults int
	// Now returns the current time for token expiry; nil means time.Now.
	// Tests set it to move the clock.
	Now func() time.Time
	// MaxBulkOperations caps the operations of one POST /Bulk request
	// (bulk.maxOperations; 413 beyond). Default 1000.
	MaxBulkOperations int
	// MaxBulkPayload caps the body of one POST /Bulk request in bytes
	// (bulk.maxPayloadSize; 413 beyond). Default 1 MiB.
	MaxBulkPayload int64
	// MaxPatchOps caps the Operations[] entries of one PATCH
	// request, also inside a bulk request (patch.maxOperations; 400
	// beyond). Default 1000.
	MaxPatchOps int
	// MaxPatchMembers caps the member values of one PATCH request's
	// members operations (patch.maxMemberValues; 400 beyond). Default 10,000.
	MaxPatchMembers int
}
