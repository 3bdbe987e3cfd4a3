package config

import (
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/scim"
)

// Defaults.
const (
	DefaultListen       = "127.0.0.1:8080"
	DefaultDataDir      = "./data"
	DefaultStoreType    = "sqlite"
	DefaultStoreFile    = "scimbridge.db"
	DefaultMongoDB      = "scimbridge"
	DefaultMaxBodyBytes = 10 << 20
	DefaultMaxResults   = 1000
	DefaultLogLevel     = "info"
	DefaultLogFormat    = "text"

	// DefaultTokenLifetime is the lifetime of OAuth access tokens when
	// tenants[].oauth.tokenLifetime is not set.
	DefaultTokenLifetime = time.Hour
	// DefaultBulkMaxOperations and DefaultBulkMaxPayloadBytes are the
	// bulk.* defaults.
	DefaultBulkMaxOperations   = 1000
	DefaultBulkMaxPayloadBytes = 1 << 20
	// DefaultPatchMaxOperations and DefaultPatchMaxMemberValues are the
	// patch.* defaults.
	DefaultPatchMaxOperations   = 1000
	DefaultPatchMaxMemberValues = 10000

	// DefaultTenant is the tenant served at /scim/v2. It always exists,
	// whether or not it is listed under tenants.
	DefaultTenant = "default"
)

// Config is scimbridge's configuration. The YAML keys are the camelCase
// field names; see config.example.yaml at the repository root.
type Config struct {
	// Listen is the host:port the HTTP server listens on.
	Listen string `yaml:"listen"`
	// DataDir holds the embedded store and other local state.
	DataDir string `yaml:"dataDir"`
	// BaseURL is the public URL of the server, scheme://host[:port] with an
	// optional path prefix (https://host/scim-bridge) under which every
	// route is served; used in Location, meta.location and discovery.
	// Empty: derived from each request's Host header (see TrustedProxies).
	BaseURL string `yaml:"baseURL"`
	// Store selects the storage backend.
	Store Store `yaml:"store"`
	// MaxBodyBytes caps request bodies; larger ones get 413.
	MaxBodyBytes int64 `yaml:"maxBodyBytes"`
	// MaxResults caps the count of list responses.
	MaxResults int `yaml:"maxResults"`
	// Log configures the structured logs written to stderr.
	Log Log `yaml:"log"`
	// Tenants are the tenants besides, or configuring, the default one.
	Tenants []Tenant `yaml:"tenants"`
	// Schemas are custom extension schemas added to User or Group.
	Schemas []Schema `yaml:"schemas"`
	// Bulk limits POST /Bulk requests.
	Bulk Bulk `yaml:"bulk"`
	// TLS, when set, makes serve speak HTTPS (serving.go).
	TLS TLS `yaml:"tls"`
	// Metrics configures /metrics.
	Metrics Metrics `yaml:"metrics"`
	// Debug configures the opt-in pprof listener.
	Debug Debug `yaml:"debug"`
	// TrustedProxies are the addresses (CIDR ranges or single IPs) of the
	// reverse proxies whose X-Forwarded-Host and X-Forwarded-Proto headers
	// make the URLs in responses when BaseURL is empty.
	TrustedProxies []string `yaml:"trustedProxies"`
	// Limits caps string lengths and each tenant's concurrent requests.
	Limits Limits `yaml:"limits"`
	// AuthFailures throttles failed authentications per remote address and
	// OAuth client.
	AuthFailures AuthFailures `yaml:"authFailures"`
	// Patch limits PATCH requests (and the PATCH operations of a bulk
	// request).
	Patch Patch `yaml:"patch"`
	// Journal configures the change journal's retention (journal.go).
	Journal Journal `yaml:"journal"`
	// Admin configures the admin API (pull.go).
	Admin Admin `yaml:"admin"`

	// envTokenHash is the hash of SCIMBRIDGE_TOKEN, when set.
	envTokenHash *[32]byte
	// envAdminTokenHash is the hash of SCIMBRIDGE_ADMIN_TOKEN, when set.
	envAdminTokenHash *[32]byte
}

// Store selects and configures the storage backend.
type Store struct {
	// Type is the backend: "sqlite" (embedded, the default) or "mongo".
	Type string `yaml:"type"`
	// Path is the SQLite database file. Default: <dataDir>/scimbridge.db.
	Path string `yaml:"path"`
	// URI is the MongoDB connection string (mongodb:// or mongodb+srv://).
	// It may hold credentials: prefer SCIMBRIDGE_MONGO_URI or URIFile.
	URI string `yaml:"uri"`
	// URIFile is a file holding the MongoDB connection string.
	URIFile string `yaml:"uriFile"`
	// Database is the MongoDB database. Default: scimbridge.
	Database string `yaml:"database"`
	// ConnectRetry keeps retrying an unreachable MongoDB at start, with
	// backoff, for this long before giving up (0: fail at once).
	ConnectRetry time.Duration `yaml:"connectRetry"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

// AuthFailures configures the throttling of failed authentications
// (auth.RateLimit): past Burst failures, a remote address or OAuth client
// gets 429 until its allowance refills at PerMinute failures a minute.
// 0 or absent means the default (10 and 10).
type AuthFailures struct {
	Burst     int `yaml:"burst"`
	PerMinute int `yaml:"perMinute"`
}

// Bulk limits the SCIM Bulk endpoint (advertised in ServiceProviderConfig
// as bulk.maxOperations and bulk.maxPayloadSize).
type Bulk struct {
	// MaxOperations caps the operations of one bulk request (more: 413).
	MaxOperations int `yaml:"maxOperations"`
	// MaxPayloadBytes caps the body of one bulk request (larger: 413).
	MaxPayloadBytes int64 `yaml:"maxPayloadBytes"`
}

// Limits caps the length of string values and what one tenant's requests
// may hold (see README "Limits").
type Limits struct {
	// MaxStringBytes caps any string attribute value, in bytes.
	MaxStringBytes int `yaml:"maxStringBytes"`
	// MaxIdentifierBytes caps userName, externalId and emails[].value.
	MaxIdentifierBytes int `yaml:"maxIdentifierBytes"`
	// MaxConcurrentRequests caps the requests one tenant has in progress
	// at once, per replica.
	MaxConcurrentRequests int `yaml:"maxConcurrentRequests"`
	// QueueWait is how long a request over that cap waits for a slot
	// before it is answered 429.
	QueueWait time.Duration `yaml:"queueWait"`
	// MinBodyBytesPerSecond is the slowest an authenticated request body
	// may arrive once BodyGracePeriod has passed (slower: 408). 0: no
	// minimum.
	MinBodyBytesPerSecond int64 `yaml:"minBodyBytesPerSecond"`
	// BodyGracePeriod is the time a body may take before its rate counts.
	BodyGracePeriod time.Duration `yaml:"bodyGracePeriod"`
}

// TrustedProxyPrefixes returns TrustedProxies parsed (a single IP is a /32
// or /128). Validate reports the entries that do not parse; they are left
// out here.
func (c *Config) TrustedProxyPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(c.TrustedProxies))
	for _, s := range c.TrustedProxies {
		if p, err := parseProxy(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func parseProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Patch limits one PATCH request (beyond either limit: 400 invalidValue).
type Patch struct {
	// MaxOperations caps the entries of Operations[].
	MaxOperations int `yaml:"maxOperations"`
	// MaxMemberValues caps the member values of one request's members
	// add, replace and remove operations together (Entra batches members,
	// so these do not count towards MaxOperations).
	MaxMemberValues int `yaml:"maxMemberValues"`
}

// Tenant is one tenant: its name and its credentials.
type Tenant struct {
	// Name is the tenant's path segment: /tenants/{name}/scim/v2, or
	// /scim/v2 for "default".
	Name string `yaml:"name"`
	// Tokens are static bearer tokens accepted for this tenant, besides the
	// ones created with `scimbridge token create`.
	Tokens []Token `yaml:"tokens"`
	// OAuth, if set, enables the tenant's OAuth 2.0 client-credentials
	// token endpoint, {tenant base URL}/oauth/token.
	OAuth *OAuth `yaml:"oauth"`
	// EntraJWT, if set, also admits bearer JWTs issued by Microsoft Entra
	// ID (meant for testing; prefer OAuth clients or tokens).
	EntraJWT *EntraJWT `yaml:"entraJWT"`
	// Uniqueness is the tenant's uniqueness rules: "rfc7643" (the default,
	// also when empty: only userName is unique) or "strict" (externalId per
	// resource type and group displayName are unique too).
	Uniqueness string `yaml:"uniqueness"`
	// Pull, if set, pulls the tenant's users and groups from Microsoft
	// Graph: every Interval in serve, and on demand (pull.go).
	Pull *Pull `yaml:"pull"`
}

// The values of tenants[].uniqueness.
const (
	UniquenessRFC7643 = "rfc7643"
	UniquenessStrict  = "strict"
)

// StrictTenants returns the names of the tenants with uniqueness: strict,
// in configuration order.
func (c *Config) StrictTenants() []string {
	var out []string
	for _, t := range c.Tenants {
		if t.Uniqueness == UniquenessStrict {
			out = append(out, t.Name)
		}
	}
	return out
}

// OAuth configures a tenant's OAuth 2.0 client-credentials grant.
type OAuth struct {
	// TokenLifetime of the issued access tokens: 1h to 6h. Load sets the
	// default, 1h, when it is absent.
	TokenLifetime time.Duration `yaml:"tokenLifetime"`
	// Clients may obtain access tokens.
	Clients []OAuthClient `yaml:"clients"`
}

// OAuthClient is one client of the client-credentials grant.
type OAuthClient struct {
	// ID is the client_id (not a secret).
	ID string `yaml:"id"`
	// Secrets are the client's accepted secrets; several allow rotation.
	Secrets []Secret `yaml:"secrets"`
	// Federation, if set, lets the client authenticate with a JWT assertion
	// issued by Microsoft Entra ID (workload identity federation, RFC 7523)
	// instead of, or besides, a secret.
	Federation *Federation `yaml:"federation"`
}

// Federation is what an OAuth client's JWT assertion must carry
// (auth.Federation).
type Federation struct {
	// TenantID is the Entra directory (tenant) id, a GUID. Required.
	TenantID string `yaml:"tenantId"`
	// Subject is the expected sub. Required.
	Subject string `yaml:"subject"`
	// Audience is the expected aud. Required.
	Audience string `yaml:"audience"`
	// Issuer overrides the expected iss. Empty:
	// https://login.microsoftonline.com/{tenantId}/v2.0.
	Issuer string `yaml:"issuer"`
	// JWKSURL serves the signing keys. Empty (and JWKSFile empty too):
	// https://login.microsoftonline.com/{tenantId}/discovery/v2.0/keys.
	JWKSURL string `yaml:"jwksURL"`
	// JWKSFile is a local JSON Web Key Set used instead of JWKSURL,
	// relative to the config file's directory like entraJWT.jwksFile.
	JWKSFile string `yaml:"jwksFile"`
}

// Secret is one client secret, given by exactly one of SHA256, Env or File
// (as a Token is). The loader resolves it into Hash; the plain secret is
// never kept.
type Secret struct {
	// SHA256 is the hex SHA-256 of the secret.
	SHA256 string `yaml:"sha256"`
	// Env names an environment variable holding the secret.
	Env string `yaml:"env"`
	// File is a file holding the secret (surrounding whitespace trimmed).
	// A relative path is relative to the config file's directory.
	File string `yaml:"file"`

	// Hash is the SHA-256 of the secret, filled in by Load.
	Hash [32]byte `yaml:"-"`
}

// EntraJWT makes a tenant accept bearer JWTs issued by Microsoft Entra ID
// (auth.EntraJWT).
type EntraJWT struct {
	// TenantID is the Entra directory (tenant) id, a GUID. Required.
	TenantID string `yaml:"tenantId"`
	// Audience is the expected aud. Empty: the audience Entra uses for
	// non-gallery applications (auth.DefaultEntraAudience).
	Audience string `yaml:"audience"`
	// Issuer overrides the expected iss. Empty:
	// https://sts.windows.net/{tenantId}/.
	Issuer string `yaml:"issuer"`
	// AppIDs, if set, restricts the tokens to these client application ids.
	AppIDs []string `yaml:"appIds"`
	// JWKSURL serves the signing keys. Empty (and JWKSFile empty too):
	// https://login.microsoftonline.com/{tenantId}/discovery/keys.
	JWKSURL string `yaml:"jwksURL"`
	// JWKSFile is a local JSON Web Key Set used instead of JWKSURL. A
	// relative path is relative to the config file's directory; Load makes
	// it relative to the working directory.
	JWKSFile string `yaml:"jwksFile"`
}

// Token is one static bearer token, given by exactly one of SHA256, Env or
// File. The loader resolves it into Hash; the plain token is never kept.
type Token struct {
	// Name labels the token (for operators; never a secret).
	Name string `yaml:"name"`
	// SHA256 is the hex SHA-256 of the token.
	SHA256 string `yaml:"sha256"`
	// Env names an environment variable holding the token.
	Env string `yaml:"env"`
	// File is a file holding the token (surrounding whitespace trimmed).
	// A relative path is relative to the config file's directory.
	File string `yaml:"file"`

	// Hash is the SHA-256 of the token, filled in by Load.
	Hash [32]byte `yaml:"-"`
}

// Schema is a custom extension schema file.
type Schema struct {
	// File is a SCIM schema resource in JSON (id, name, attributes). A
	// relative path is relative to the config file's directory.
	File string `yaml:"file"`
	// ResourceType is User or Group.
	ResourceType string `yaml:"resourceType"`
	// Required makes the extension required on that resource type.
	Required bool `yaml:"required"`

	// JSON is the file's content, filled in by Load.
	JSON []byte `yaml:"-"`
}

// Default returns the configuration used when there is no config file.
// Store.Path is left empty: it follows DataDir unless set.
func Default() *Config {
	return &Config{
		Listen:       DefaultListen,
		DataDir:      DefaultDataDir,
		Store:        Store{Type: DefaultStoreType},
		MaxBodyBytes: DefaultMaxBodyBytes,
		MaxResults:   DefaultMaxResults,
		Log:          Log{Level: DefaultLogLevel, Format: DefaultLogFormat},
		Bulk:         Bulk{MaxOperations: DefaultBulkMaxOperations, MaxPayloadBytes: DefaultBulkMaxPayloadBytes},
		TLS:          TLS{ReloadInterval: DefaultTLSReloadInterval},
		Limits: Limits{
			MaxStringBytes:        schemas.DefaultMaxStringBytes,
			MaxIdentifierBytes:    schemas.DefaultMaxIdentifierBytes,
			MaxConcurrentRequests: scim.DefaultMaxConcurrent,
			QueueWait:             scim.DefaultQueueWait,
			MinBodyBytesPerSecond: scim.DefaultMinBodyRate,
			BodyGracePeriod:       scim.DefaultBodyGrace,
		},
		Patch:   Patch{MaxOperations: DefaultPatchMaxOperations, MaxMemberValues: DefaultPatchMaxMemberValues},
		Journal: Journal{Retention: DefaultJournalRetention, TrimInterval: DefaultJournalTrimInterval},
	}
}

// applyDerivedDefaults fills in the defaults that depend on other fields.
func (c *Config) applyDerivedDefaults() {
	if c.Store.Path == "" && c.DataDir != "" {
		c.Store.Path = filepath.Join(c.DataDir, DefaultStoreFile)
	}
	if c.Store.Database == "" {
		c.Store.Database = DefaultMongoDB
	}
	for i := range c.Tenants {
		if o := c.Tenants[i].OAuth; o != nil && o.TokenLifetime == 0 {
			o.TokenLifetime = DefaultTokenLifetime
		}
		if p := c.Tenants[i].Pull; p != nil {
			p.applyDefaults()
		}
	}
}

// TenantNames returns the default tenant followed by every other configured
// tenant, in configuration order.
func (c *Config) TenantNames() []string {
	names := []string{DefaultTenant}
	for _, t := range c.Tenants {
		if t.Name != DefaultTenant {
			names = append(names, t.Name)
		}
	}
	return names
}

// HasTenant reports whether name is the default tenant or a configured one.
func (c *Config) HasTenant(name string) bool {
	for _, n := range c.TenantNames() {
		if n == name {
			return true
		}
	}
	return false
}

// Tenant returns the configuration entry of the tenant name, or nil if
// there is none (the default tenant need not be listed).
func (c *Config) Tenant(name string) *Tenant {
	for i := range c.Tenants {
		if c.Tenants[i].Name == name {
			return &c.Tenants[i]
		}
	}
	return nil
}

// OAuthClientIDs returns the ids of tenant's OAuth clients, in
// configuration order.
func (c *Config) OAuthClientIDs(tenant string) []string {
	t := c.Tenant(tenant)
	if t == nil || t.OAuth == nil {
		return nil
	}
	ids := make([]string, 0, len(t.OAuth.Clients))
	for _, cl := range t.OAuth.Clients {
		ids = append(ids, cl.ID)
	}
	return ids
}

// SecretHashes returns the hashes of the client's secrets.
func (cl *OAuthClient) SecretHashes() [][32]byte {
	out := make([][32]byte, 0, len(cl.Secrets))
	for _, s := range cl.Secrets {
		out = append(out, s.Hash)
	}
	return out
}

// TokenHashes returns the hashes of tenant's static tokens: those
// configured for it and, for the default tenant, SCIMBRIDGE_TOKEN's.
func (c *Config) TokenHashes(tenant string) [][32]byte {
	var out [][32]byte
	if tenant == DefaultTenant && c.envTokenHash != nil {
		out = append(out, *c.envTokenHash)
	}
	for _, t := range c.Tenants {
		if t.Name != tenant {
			continue
		}
		for _, tok := range t.Tokens {
			out = append(out, tok.Hash)
		}
	}
	return out
}

// CustomSchemas returns the custom extension schemas for schemas.Load.
func (c *Config) CustomSchemas() []schemas.CustomExtension {
	out := make([]schemas.CustomExtension, 0, len(c.Schemas))
	for _, s := range c.Schemas {
		out = append(out, schemas.CustomExtension{ResourceType: s.ResourceType, JSON: s.JSON, Required: s.Required})
	}
	return out
}
