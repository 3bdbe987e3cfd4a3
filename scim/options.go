package scim

import (
	"log/slog"
	"net/netip"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
)

// DefaultTenant is the tenant served at /scim/v2. Every other tenant is
// served at /tenants/{name}/scim/v2, each with its own data and credentials.
const DefaultTenant = auth.DefaultTenant

// Options configure NewHandler.
type Options struct {
	Store   store.Store
	Schemas *schemas.Registry
	Logger  *slog.Logger
	// BaseURL is the public URL of the server, scheme://host[:port] with
	// an optional path prefix (https://host/scim-bridge): every route is
	// served under the prefix, and Location, meta.location, $ref, Bulk
	// locations and discovery use it. Empty: the URLs are derived from each
	// request's Host header (or X-Forwarded-Host/Proto from TrustedProxies).
	BaseURL string
	// Auth authenticates every request; its tenants are the ones served.
	// Nil: one is built from Tenants and Now (convenient in tests).
	Auth *auth.Authenticator
	// Tenants to serve with their credentials, when Auth is nil. The
	// default tenant is always served even if absent.
	Tenants []auth.Tenant
	// TrustedProxies are the peer address ranges whose X-Forwarded-Host and
	// X-Forwarded-Proto headers are honoured when BaseURL is empty.
	TrustedProxies []netip.Prefix
	// MaxBodyBytes caps request bodies (413 beyond). Default 10 MiB.
	MaxBodyBytes int64
	// MaxResults caps count on list requests (filter.maxResults). Default 1000.
	MaxResults int
	// Now returns the current time for token expiry when Auth is nil; nil
	// means time.Now. Tests set it to move the clock.
	Now func() time.Time
	// MaxBulkOperations caps the operations of one POST /Bulk request
	// (bulk.maxOperations; 413 beyond). Default 1000.
	MaxBulkOperations int
	// MaxBulkPayload caps the body of one POST /Bulk request in bytes
	// (bulk.maxPayloadSize; 413 beyond). Default 1 MiB.
	MaxBulkPayload int64
	// MetricsTokenHash, if set, is the SHA-256 of the bearer token that
	// /metrics requires (metrics.token). Nil: /metrics is open.
	MetricsTokenHash *[32]byte
	// StringLimits cap the length in bytes of string attribute values
	// (limits.maxStringBytes, limits.maxIdentifierBytes; 400 invalidValue
	// beyond). Zero fields: the schemas defaults (4,096; 256 for userName,
	// externalId and emails[].value).
	StringLimits schemas.StringLimits
	// MaxConcurrentRequests caps the requests one tenant has in progress
	// at once in this process (limits.maxConcurrentRequests); a request
	// waits up to QueueWait for a slot, then gets 429 with Retry-After.
	// Defaults: DefaultMaxConcurrent, DefaultQueueWait.
	MaxConcurrentRequests int
	QueueWait             time.Duration
	// MinBodyRate is the slowest, in bytes per second, an authenticated
	// request body may arrive once BodyGracePeriod has passed; a slower
	// one is cut off with 408 (limits.minBodyRate, limits.bodyGracePeriod).
	// 0: DefaultMinBodyRate; negative: no minimum. BodyGracePeriod 0:
	// DefaultBodyGrace.
	MinBodyRate     int64
	BodyGracePeriod time.Duration
	// MaxPatchOps caps the Operations[] entries of one PATCH
	// request, also inside a bulk request (patch.maxOperations; 400
	// beyond). Default 1000.
	MaxPatchOps int
	// MaxPatchMembers caps the member values of one PATCH request's
	// members operations (patch.maxMemberValues; 400 beyond). Default 10,000.
	MaxPatchMembers int
}
