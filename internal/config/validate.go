package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/auth"
)

// Limits of the validated fields.
const (
	MaxMaxResults = 10000
)

var (
	tenantName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	// oauthClientID: printable ASCII without space or ':' (which would
	// split an unencoded HTTP Basic user-id), as in `curl -u id:secret`.
	oauthClientID = regexp.MustCompile(`^[\x21-\x39\x3b-\x7e]{1,255}$`)
	// basePath is baseURL's optional path prefix: plain segments.
	basePath = regexp.MustCompile(`^(/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*/?$`)
	guid     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// Validate checks every field and returns an *Error listing all problems,
// or nil. It does not read files or the environment: Load does that.
func (c *Config) Validate() error {
	if p := c.problems(); len(p) > 0 {
		return &Error{Problems: p}
	}
	return nil
}

func (c *Config) problems() []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }

	if err := checkHostPort(c.Listen); err != nil {
		add("listen: %q is not host:port (%v)", c.Listen, err)
	}
	if c.DataDir == "" {
		add("dataDir: must not be empty")
	}
	if c.BaseURL != "" {
		if err := checkBaseURL(c.BaseURL); err != nil {
			add("baseURL: %q %v", redactURL(c.BaseURL), err)
		}
	}
	switch c.Store.Type {
	case "sqlite":
		if c.Store.Path == "" {
			add("store.path: must not be empty")
		}
	case "mongo":
		switch {
		case c.Store.URI == "":
			add("store.uri: must be set for store.type mongo (or set %s, or store.uriFile)", EnvMongoURI)
		case !strings.HasPrefix(c.Store.URI, "mongodb://") && !strings.HasPrefix(c.Store.URI, "mongodb+srv://"):
			add("store.uri: %q must start with mongodb:// or mongodb+srv://", redactURL(c.Store.URI))
		}
		if c.Store.Database == "" || strings.ContainsAny(c.Store.Database, `/\. "$`) {
			add("store.database: %q is not a valid MongoDB database name", c.Store.Database)
		}
		if c.Store.ConnectRetry < 0 {
			add("store.connectRetry: must not be negative")
		}
	default:
		add("store.type: %q is not supported (want sqlite or mongo)", c.Store.Type)
	}
	if c.MaxBodyBytes <= 0 {
		add("maxBodyBytes: %d must be greater than 0", c.MaxBodyBytes)
	}
	if c.MaxResults < 1 || c.MaxResults > MaxMaxResults {
		add("maxResults: %d must be between 1 and %d", c.MaxResults, MaxMaxResults)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level: %q must be one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		add("log.format: %q must be text or json", c.Log.Format)
	}
	seen := map[string]int{}
	for i, t := range c.Tenants {
		field := fmt.Sprintf("tenants[%d]", i)
		switch {
		case t.Name == "":
			add("%s.name: must not be empty", field)
		case !tenantName.MatchString(t.Name):
			add("%s.name: %q must be lowercase letters, digits and '-', starting with a letter or digit, at most 63 characters", field, t.Name)
		default:
			if j, dup := seen[t.Name]; dup {
				add("%s.name: %q is already used by tenants[%d]", field, t.Name, j)
			} else {
				seen[t.Name] = i
			}
		}
		p = append(p, tokenProblems(field, t.Tokens)...)
		if t.OAuth != nil {
			p = append(p, oauthProblems(field+".oauth", t.OAuth)...)
		}
		if t.EntraJWT != nil {
			p = append(p, entraJWTProblems(field+".entraJWT", t.EntraJWT)...)
		}
		switch t.Uniqueness {
		case "", UniquenessRFC7643, UniquenessStrict:
		default:
			add("%s.uniqueness: %q must be %s or %s", field, t.Uniqueness, UniquenessRFC7643, UniquenessStrict)
		}
		if t.Pull != nil {
			p = append(p, pullProblems(field+".pull", t.Pull)...)
		}
	}
	for i, s := range c.Schemas {
		field := fmt.Sprintf("schemas[%d]", i)
		if s.File == "" {
			add("%s.file: must not be empty", field)
		}
		if s.ResourceType != "User" && s.ResourceType != "Group" {
			add("%s.resourceType: %q must be User or Group", field, s.ResourceType)
		}
	}
	if c.Bulk.MaxOperations <= 0 {
		add("bulk.maxOperations: %d must be greater than 0", c.Bulk.MaxOperations)
	}
	if c.Bulk.MaxPayloadBytes <= 0 {
		add("bulk.maxPayloadBytes: %d must be greater than 0", c.Bulk.MaxPayloadBytes)
	}
	p = append(p, c.servingProblems()...)
	for i, tp := range c.TrustedProxies {
		if _, err := parseProxy(tp); err != nil {
			add("trustedProxies[%d]: %q is not an IP address or CIDR range (e.g. 10.0.0.0/8)", i, tp)
		}
	}
	if c.AuthFailures.Burst < 0 {
		add("authFailures.burst: %d must not be negative (0: the default, %d)", c.AuthFailures.Burst, auth.DefaultFailureBurst)
	}
	if c.AuthFailures.PerMinute < 0 {
		add("authFailures.perMinute: %d must not be negative (0: the default, %d)", c.AuthFailures.PerMinute, auth.DefaultFailuresPerMinute)
	}
	if c.Patch.MaxOperations <= 0 {
		add("patch.maxOperations: %d must be greater than 0", c.Patch.MaxOperations)
	}
	if c.Patch.MaxMemberValues <= 0 {
		add("patch.maxMemberValues: %d must be greater than 0", c.Patch.MaxMemberValues)
	}
	p = append(p, c.Limits.problems()...)
	p = append(p, c.Journal.problems()...)
	p = append(p, tokenProblems("admin", c.Admin.Tokens)...)
	return p
}

func (l *Limits) problems() []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if l.MaxStringBytes < 1 {
		add("limits.maxStringBytes: %d must be greater than 0", l.MaxStringBytes)
	}
	if l.MaxIdentifierBytes < 1 {
		add("limits.maxIdentifierBytes: %d must be greater than 0", l.MaxIdentifierBytes)
	}
	if l.MaxConcurrentRequests < 1 {
		add("limits.maxConcurrentRequests: %d must be greater than 0", l.MaxConcurrentRequests)
	}
	if l.QueueWait <= 0 {
		add("limits.queueWait: %v must be greater than 0", l.QueueWait)
	}
	if l.MinBodyBytesPerSecond < 0 {
		add("limits.minBodyBytesPerSecond: %d must not be negative (0: no minimum)", l.MinBodyBytesPerSecond)
	}
	if l.BodyGracePeriod <= 0 {
		add("limits.bodyGracePeriod: %v must be greater than 0", l.BodyGracePeriod)
	}
	return p
}

// tokenProblems checks a tenant's tokens. It never quotes a token field's
// value: a secret may have been put in the wrong field.
func tokenProblems(tenantField string, tokens []Token) []string {
	var p []string
	names := map[string]int{}
	for i, tok := range tokens {
		field := fmt.Sprintf("%s.tokens[%d]", tenantField, i)
		if tok.Name == "" {
			p = append(p, field+".name: must not be empty")
		} else if j, dup := names[tok.Name]; dup {
			p = append(p, fmt.Sprintf("%s.name: %q is already used by tokens[%d]", field, tok.Name, j))
		} else {
			names[tok.Name] = i
		}
		p = append(p, secretProblems(field, "token", tok.SHA256, tok.Env, tok.File)...)
	}
	return p
}

// secretProblems checks one secret reference (of a token or a client
// secret, named by what): exactly one of sha256, env, file, and a well-formed
// hash. It never quotes a value.
func secretProblems(field, what, sha, env, file string) []string {
	n := 0
	for _, v := range []string{sha, env, file} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return []string{field + ": must have exactly one of sha256, env, file"}
	}
	if sha != "" {
		if b, err := hex.DecodeString(sha); err != nil || len(b) != 32 {
			return []string{fmt.Sprintf("%s.sha256: must be 64 hexadecimal digits (the SHA-256 of the %s, not the %s)", field, what, what)}
		}
	}
	return nil
}

// oauthProblems checks a tenant's oauth section. Client ids are quoted only
// when they are well-formed.
func oauthProblems(field string, o *OAuth) []string {
	var p []string
	if err := auth.ValidateTokenLifetime(o.TokenLifetime); err != nil {
		p = append(p, fmt.Sprintf("%s.tokenLifetime: %s must be between %s and %s", field,
			fmtDuration(o.TokenLifetime), fmtDuration(auth.MinTokenLifetime), fmtDuration(auth.MaxTokenLifetime)))
	}
	if len(o.Clients) == 0 {
		p = append(p, field+".clients: must list at least one client")
	}
	ids := map[string]int{}
	for i, cl := range o.Clients {
		cf := fmt.Sprintf("%s.clients[%d]", field, i)
		switch {
		case cl.ID == "":
			p = append(p, cf+".id: must not be empty")
		case !oauthClientID.MatchString(cl.ID):
			p = append(p, cf+".id: must be 1 to 255 printable ASCII characters without spaces or ':'")
		default:
			if j, dup := ids[cl.ID]; dup {
				p = append(p, fmt.Sprintf("%s.id: %q is already used by clients[%d]", cf, cl.ID, j))
			} else {
				ids[cl.ID] = i
			}
		}
		if len(cl.Secrets) == 0 && cl.Federation == nil {
			p = append(p, cf+".secrets: must list at least one secret (or configure federation)")
		}
		if cl.Federation != nil {
			p = append(p, federationProblems(cf+".federation", cl.Federation)...)
		}
		for j, sec := range cl.Secrets {
			p = append(p, secretProblems(fmt.Sprintf("%s.secrets[%d]", cf, j), "secret", sec.SHA256, sec.Env, sec.File)...)
		}
	}
	return p
}

// federationProblems checks an OAuth client's federation section.
func federationProblems(field string, f *Federation) []string {
	var p []string
	switch {
	case f.TenantID == "":
		p = append(p, field+".tenantId: must not be empty (the Entra directory id)")
	case !guid.MatchString(f.TenantID):
		p = append(p, fmt.Sprintf("%s.tenantId: %q is not a GUID", field, f.TenantID))
	}
	if strings.TrimSpace(f.Subject) == "" {
		p = append(p, field+".subject: must not be empty (the sub the assertions carry)")
	}
	if strings.TrimSpace(f.Audience) == "" {
		p = append(p, field+".audience: must not be empty (the aud the assertions carry)")
	}
	if f.Issuer != "" {
		if err := checkHTTPURL(f.Issuer); err != nil {
			p = append(p, fmt.Sprintf("%s.issuer: %q %v", field, redactURL(f.Issuer), err))
		}
	}
	if f.JWKSURL != "" {
		if err := checkKeysURL(f.JWKSURL); err != nil {
			p = append(p, fmt.Sprintf("%s.jwksURL: %q %v", field, redactURL(f.JWKSURL), err))
		}
		if f.JWKSFile != "" {
			p = append(p, field+": must have jwksURL or jwksFile, not both")
		}
	}
	return p
}

// entraJWTProblems checks a tenant's entraJWT section.
func entraJWTProblems(field string, e *EntraJWT) []string {
	var p []string
	switch {
	case e.TenantID == "":
		p = append(p, field+".tenantId: must not be empty (the Entra directory id)")
	case !guid.MatchString(e.TenantID):
		p = append(p, fmt.Sprintf("%s.tenantId: %q is not a GUID", field, e.TenantID))
	}
	if e.Issuer != "" {
		if err := checkHTTPURL(e.Issuer); err != nil {
			p = append(p, fmt.Sprintf("%s.issuer: %q %v", field, redactURL(e.Issuer), err))
		}
	}
	for i, id := range e.AppIDs {
		if strings.TrimSpace(id) == "" {
			p = append(p, fmt.Sprintf("%s.appIds[%d]: must not be empty", field, i))
		}
	}
	if e.JWKSURL != "" {
		if err := checkKeysURL(e.JWKSURL); err != nil {
			p = append(p, fmt.Sprintf("%s.jwksURL: %q %v", field, redactURL(e.JWKSURL), err))
		}
		if e.JWKSFile != "" {
			p = append(p, field+": must have jwksURL or jwksFile, not both")
		}
	}
	return p
}

// checkKeysURL checks the URL signing keys are fetched from: https, as
// keys fetched over plain http could be swapped on the way (and forged
// tokens accepted), except from a loopback host (a local key server).
func checkKeysURL(s string) error {
	if err := checkHTTPURL(s); err != nil {
		return err
	}
	if u, _ := url.Parse(s); u.Scheme == "http" && !isLoopback(net.JoinHostPort(u.Hostname(), "0")) {
		return errors.New("must start with https:// (http:// only for a loopback host): signing keys fetched over plain HTTP could be replaced on the way")
	}
	return nil
}

// checkHTTPURL checks an absolute http(s) URL without user info.
func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return errors.New("is not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("must start with http:// or https://")
	case u.Host == "":
		return errors.New("has no host")
	case u.User != nil:
		return errors.New("must not contain user info")
	}
	return nil
}

// fmtDuration formats d without zero minutes and seconds: 1h, 90m → 1h30m.
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func checkHostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return errors.New(ae.Err)
		}
		return err
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return errors.New("port must be a number from 0 to 65535")
	}
	return nil
}

func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("is not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("must start with http:// or https://")
	case u.Host == "":
		return errors.New("has no host")
	case u.User != nil:
		return errors.New("must not contain user info")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return errors.New("must not have a query or fragment")
	case strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/scim/v2"):
		return errors.New("must not end with /scim/v2: give the server's URL (the SCIM paths are added)")
	case u.RawPath != "" || !basePath.MatchString(u.Path):
		return errors.New("has a path prefix with characters other than letters, digits and -._~/ or with empty or dot segments")
	}
	return nil
}

// redactURL drops user info (which may hold a password) from a URL for
// error messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}
