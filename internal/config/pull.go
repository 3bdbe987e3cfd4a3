package config

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// Pull defaults and bounds.
const (
	// MinPullInterval is the shortest tenants[].pull.interval: Graph
	// throttles an application that polls delta queries much faster, and a
	// round of a large directory takes longer than that anyway.
	MinPullInterval = time.Minute

	// The values of tenants[].pull.onDelete.
	OnDeleteDisable = "disable"
	OnDeleteDelete  = "delete"

	// The values of tenants[].pull.graph.cloud.
	CloudGlobal   = "global"
	CloudUSGov    = "usgov"
	CloudUSGovDoD = "usgovdod"
	CloudChina    = "china"
)

// dnsName is a tenant's verified domain (contoso.onmicrosoft.com), which
// Entra accepts in place of the directory id.
var dnsName = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$`)

// Admin configures the admin API (/admin/api/).
type Admin struct {
	// Tokens are the bearer tokens of the admin API, given like tenant
	// tokens (sha256, env or file). A tenant's SCIM credentials never open
	// the admin API, and an admin token never opens SCIM: the same token
	// configured for both is an error. No token: the admin API answers 401
	// to everyone.
	Tokens []Token `yaml:"tokens"`
}

// Pull configures a tenant's pull from a directory (for now Microsoft
// Graph): on a schedule in serve, and on demand with `scimbridge pull` or
// the admin API.
type Pull struct {
	// Interval between scheduled rounds in serve. 0 or absent: on demand
	// only. Otherwise at least MinPullInterval.
	Interval time.Duration `yaml:"interval"`
	// OnDelete is what a user hard-deleted in the directory becomes:
	// "disable" (the default) or "delete".
	OnDelete string `yaml:"onDelete"`
	// CreateDisabledUsers also creates users that are disabled in the
	// directory (Entra's provisioning does not).
	CreateDisabledUsers bool `yaml:"createDisabledUsers"`
	// Scope restricts the pull to groups and users. Absent: every user and
	// group of the directory.
	Scope *PullScope `yaml:"scope"`
	// Graph is the Microsoft Graph source. Required.
	Graph *Graph `yaml:"graph"`
}

// PullScope restricts a pull (pull.Scope).
type PullScope struct {
	// Groups, by display name or object id: these groups and their
	// members are pulled.
	Groups []string `yaml:"groups"`
	// Users, by userPrincipalName or object id, besides the groups'
	// members.
	Users []string `yaml:"users"`
	// Nested also pulls the members of groups nested in Groups.
	Nested bool `yaml:"nested"`
}

// Graph is the app registration a pull reads Microsoft Graph with.
type Graph struct {
	// TenantID is the Entra directory id (a GUID) or one of its verified
	// domains (contoso.onmicrosoft.com).
	TenantID string `yaml:"tenantId"`
	// ClientID is the application (client) id of the app registration.
	ClientID string `yaml:"clientId"`
	// ClientSecret is the app's client secret. Exactly one of ClientSecret
	// and Certificate.
	ClientSecret *SentSecret `yaml:"clientSecret"`
	// Certificate is the app's certificate with its private key.
	Certificate *Certificate `yaml:"certificate"`
	// Cloud is the national cloud: global (default), usgov, usgovdod or
	// china. It selects the authority host and Graph endpoint.
	Cloud string `yaml:"cloud"`
	// AuthorityHost overrides the cloud's login endpoint (https://…).
	AuthorityHost string `yaml:"authorityHost"`
	// GraphBaseURL overrides the cloud's Graph endpoint, with its version
	// (https://…/v1.0).
	GraphBaseURL string `yaml:"graphBaseURL"`
	// CAFile holds extra PEM CA certificates to trust besides the system's
	// (a TLS-inspecting proxy, a test server). A relative path is relative
	// to the config file's directory.
	CAFile string `yaml:"caFile"`

	// CAPEM is CAFile's content, filled in by Load.
	CAPEM []byte `yaml:"-"`
}

// SentSecret is a secret scimbridge sends to someone else (a client secret,
// a certificate password), so it is given by Env or File, never by hash:
// Load resolves it into Value. Compare Token and Secret, which scimbridge
// only checks and keeps hashed.
type SentSecret struct {
	// Env names an environment variable holding the secret.
	Env string `yaml:"env"`
	// File is a file holding the secret (surrounding whitespace trimmed).
	// A relative path is relative to the config file's directory.
	File string `yaml:"file"`
	// SHA256 is accepted by the decoder only to be refused with an error
	// that names the field: a hash cannot be sent.
	SHA256 string `yaml:"sha256"`

	// Value is the secret, filled in by Load. Never log it.
	Value string `yaml:"-"`
}

// Certificate is a client certificate with its private key: a PKCS#12
// file (.pfx, .p12) or a PEM file holding the certificate and the key.
type Certificate struct {
	// File is the certificate file. A relative path is relative to the
	// config file's directory.
	File string `yaml:"file"`
	// Password decrypts the file, if it is encrypted.
	Password *SentSecret `yaml:"password"`

	// Data is File's content, filled in by Load.
	Data []byte `yaml:"-"`
}

// PullTenants returns the names of the tenants with a pull section, in
// configuration order.
func (c *Config) PullTenants() []string {
	var out []string
	for _, t := range c.Tenants {
		if t.Pull != nil {
			out = append(out, t.Name)
		}
	}
	return out
}

// AdminTokenHashes returns the hashes of the admin API's tokens:
// SCIMBRIDGE_ADMIN_TOKEN's, then those of admin.tokens.
func (c *Config) AdminTokenHashes() [][32]byte {
	var out [][32]byte
	if c.envAdminTokenHash != nil {
		out = append(out, *c.envAdminTokenHash)
	}
	for _, t := range c.Admin.Tokens {
		out = append(out, t.Hash)
	}
	return out
}

// AdminTokenNames names the admin tokens by hash (those with a name).
func (c *Config) AdminTokenNames() map[[32]byte]string {
	out := map[[32]byte]string{}
	if c.envAdminTokenHash != nil {
		out[*c.envAdminTokenHash] = EnvAdminToken
	}
	for _, t := range c.Admin.Tokens {
		if t.Name != "" {
			out[t.Hash] = t.Name
		}
	}
	return out
}

// applyDefaults fills in the pull defaults.
func (p *Pull) applyDefaults() {
	if p.OnDelete == "" {
		p.OnDelete = OnDeleteDisable
	}
	if p.Graph != nil && p.Graph.Cloud == "" {
		p.Graph.Cloud = CloudGlobal
	}
}

// pullProblems checks a tenant's pull section. Secret values are never
// quoted.
func pullProblems(field string, p *Pull) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if p.Interval < 0 || (p.Interval > 0 && p.Interval < MinPullInterval) {
		add("%s.interval: %s must be 0 (on demand only) or at least %s", field, fmtDuration(p.Interval), fmtDuration(MinPullInterval))
	}
	switch p.OnDelete {
	case OnDeleteDisable, OnDeleteDelete:
	default:
		add("%s.onDelete: %q must be %s or %s", field, p.OnDelete, OnDeleteDisable, OnDeleteDelete)
	}
	if s := p.Scope; s != nil {
		if len(s.Groups) == 0 && len(s.Users) == 0 {
			add("%s.scope: must list groups or users (leave scope out to pull the whole directory)", field)
		}
		for i, g := range s.Groups {
			if strings.TrimSpace(g) == "" {
				add("%s.scope.groups[%d]: must not be empty", field, i)
			}
		}
		for i, u := range s.Users {
			if strings.TrimSpace(u) == "" {
				add("%s.scope.users[%d]: must not be empty", field, i)
			}
		}
	}
	if p.Graph == nil {
		add("%s.graph: must be set (the Microsoft Graph app registration to pull with)", field)
		return out
	}
	return append(out, graphProblems(field+".graph", p.Graph)...)
}

// graphProblems checks a pull's graph section.
func graphProblems(field string, g *Graph) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	switch {
	case g.TenantID == "":
		add("%s.tenantId: must not be empty (the Entra directory id)", field)
	case !guid.MatchString(g.TenantID) && !dnsName.MatchString(g.TenantID):
		add("%s.tenantId: %q is not a GUID or a domain name", field, g.TenantID)
	}
	switch {
	case g.ClientID == "":
		add("%s.clientId: must not be empty (the application (client) id of the app registration)", field)
	case !guid.MatchString(g.ClientID):
		add("%s.clientId: %q is not a GUID", field, g.ClientID)
	}
	switch {
	case g.ClientSecret == nil && g.Certificate == nil:
		add("%s: must have clientSecret or certificate", field)
	case g.ClientSecret != nil && g.Certificate != nil:
		add("%s: must have clientSecret or certificate, not both", field)
	}
	if g.ClientSecret != nil {
		out = append(out, sentSecretProblems(field+".clientSecret", g.ClientSecret)...)
	}
	if c := g.Certificate; c != nil {
		if c.File == "" {
			add("%s.certificate.file: must not be empty (a PKCS#12 file, or a PEM file with the certificate and its key)", field)
		}
		if c.Password != nil {
			out = append(out, sentSecretProblems(field+".certificate.password", c.Password)...)
		}
	}
	switch g.Cloud {
	case CloudGlobal, CloudUSGov, CloudUSGovDoD, CloudChina:
	default:
		add("%s.cloud: %q must be one of %s, %s, %s, %s", field, g.Cloud, CloudGlobal, CloudUSGov, CloudUSGovDoD, CloudChina)
	}
	if g.AuthorityHost != "" {
		if err := checkHTTPSURL(g.AuthorityHost); err != nil {
			add("%s.authorityHost: %q %v", field, redactURL(g.AuthorityHost), err)
		}
	}
	if g.GraphBaseURL != "" {
		if err := checkHTTPSURL(g.GraphBaseURL); err != nil {
			add("%s.graphBaseURL: %q %v", field, redactURL(g.GraphBaseURL), err)
		}
	}
	return out
}

// sentSecretProblems checks a secret that is sent: exactly one of env and
// file, and no sha256.
func sentSecretProblems(field string, s *SentSecret) []string {
	if s.SHA256 != "" {
		return []string{field + ".sha256: not allowed: this secret is sent to the identity provider, so scimbridge needs the secret itself (give env or file), not its hash"}
	}
	if (s.Env == "") == (s.File == "") {
		return []string{field + ": must have exactly one of env, file"}
	}
	return nil
}

// checkHTTPSURL checks an absolute https URL without user info, query or
// fragment: credentials and tokens go there.
func checkHTTPSURL(s string) error {
	if err := checkHTTPURL(s); err != nil {
		return err
	}
	u, _ := url.Parse(s)
	switch {
	case u.Scheme != "https":
		return fmt.Errorf("must start with https://")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return fmt.Errorf("must not have a query or fragment")
	}
	return nil
}

// resolvePull reads a tenant's pull secrets, certificate and CA file,
// relative to dir. Entries that failed validation are skipped.
func resolvePull(field string, p *Pull, dir string, env func(string) string) []string {
	g := p.Graph
	if g == nil {
		return nil
	}
	var out []string
	if s := g.ClientSecret; s != nil {
		out = append(out, resolveSentSecret(field+".graph.clientSecret", s, dir, env)...)
	}
	if c := g.Certificate; c != nil && c.File != "" {
		c.File = relTo(dir, c.File)
		b, err := os.ReadFile(c.File)
		switch {
		case err != nil:
			out = append(out, fmt.Sprintf("%s.graph.certificate.file: %s", field, fileError(err)))
		case len(bytes.TrimSpace(b)) == 0:
			out = append(out, fmt.Sprintf("%s.graph.certificate.file: %s is empty", field, c.File))
		default:
			c.Data = b
		}
		if c.Password != nil {
			out = append(out, resolveSentSecret(field+".graph.certificate.password", c.Password, dir, env)...)
		}
	}
	if g.CAFile != "" {
		g.CAFile = relTo(dir, g.CAFile)
		b, err := os.ReadFile(g.CAFile)
		if err != nil {
			return append(out, fmt.Sprintf("%s.graph.caFile: %s", field, fileError(err)))
		}
		if problem := checkCAPEM(b); problem != "" {
			return append(out, fmt.Sprintf("%s.graph.caFile: %s %s", field, g.CAFile, problem))
		}
		g.CAPEM = b
	}
	return out
}

// checkCAPEM returns a problem unless b holds PEM CA certificates, every
// one of which parses.
func checkCAPEM(b []byte) string {
	n := 0
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return fmt.Sprintf("holds a certificate that does not parse: %v", err)
		}
		n++
	}
	if n == 0 {
		return "holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
	}
	return ""
}

// resolveSentSecret reads a sent secret from the environment or its file.
func resolveSentSecret(field string, s *SentSecret, dir string, env func(string) string) []string {
	switch {
	case s.SHA256 != "":
		return nil // reported by validation
	case s.Env != "" && s.File == "":
		v := strings.TrimSpace(env(s.Env))
		if v == "" {
			return []string{fmt.Sprintf("%s.env: environment variable %s is not set or empty", field, s.Env)}
		}
		s.Value = v
	case s.File != "" && s.Env == "":
		path := relTo(dir, s.File)
		b, err := os.ReadFile(path)
		if err != nil {
			return []string{fmt.Sprintf("%s.file: %s", field, fileError(err))}
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return []string{fmt.Sprintf("%s.file: %s is empty", field, path)}
		}
		s.Value = v
	}
	return nil
}

// Format prints where the secret comes from, never its value, whatever
// the verb: a configuration printed in a log or an error stays safe.
func (s SentSecret) Format(f fmt.State, _ rune) {
	switch {
	case s.Env != "":
		fmt.Fprintf(f, "{env:%s}", s.Env)
	case s.File != "":
		fmt.Fprintf(f, "{file:%s}", s.File)
	default:
		fmt.Fprint(f, "{}")
	}
}

// Format prints the certificate's file, never its content (which holds
// the private key) or password.
func (c Certificate) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "{file:%s}", c.File)
}
