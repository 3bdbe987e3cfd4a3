package graphpull

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Config is one tenant's Graph connection. Secrets arrive resolved (the
// config loader reads env and files); this package never reads either.
//
// YAML (internal/config maps it to this struct):
//
//	graph:
//	  tenantId: 00000000-0000-0000-0000-000000000000
//	  clientId: 00000000-0000-0000-0000-000000000000
//	  clientSecret: {env: GRAPH_SECRET}
//	  # certificate: {file: app.pfx, password: {env: PFX_PASSWORD}}
//	  cloud: global
//	  authorityHost: ""
//	  graphBaseURL: ""
//	  caFile: ""
type Config struct {
	TenantID, ClientID  string
	ClientSecret        string // resolved secret; exactly one of ClientSecret / Certificate
	Certificate         []byte // PKCS#12 (.pfx; legacy or OpenSSL 3 AES/PBES2) or PEM cert+key
	CertificatePassword string
	Cloud               string         // "global" (default) | "usgov" | "usgovdod" | "china"
	AuthorityHost       string         // override, https://…
	GraphBaseURL        string         // override, https://…/v1.0
	RootCAs             *x509.CertPool // nil: system; else system + these (caFile)
	Nested              bool           // emit nested member groups (Group.Nested)
	HTTPClient          *http.Client   // tests only; nil: built from RootCAs
	Logger              *slog.Logger
}

// cloudEndpoints are a national cloud's well-known hosts (entra-and-graph.md
// §2.6). Tokens are not interchangeable across clouds.
type cloudEndpoints struct {
	Authority string // Entra authority host, with a trailing slash (azcore's form)
	Graph     string // Graph root, no trailing slash
}

// clouds maps the config's cloud names to their endpoints. GCC (moderate)
// tenants use the global endpoints; usgov is GCC High (L4), usgovdod is
// DoD (L5), which shares the authority with usgov but not the Graph host.
var clouds = map[string]cloudEndpoints{
	"global":   {Authority: "https://login.microsoftonline.com/", Graph: "https://graph.microsoft.com"},
	"usgov":    {Authority: "https://login.microsoftonline.us/", Graph: "https://graph.microsoft.us"},
	"usgovdod": {Authority: "https://login.microsoftonline.us/", Graph: "https://dod-graph.microsoft.us"},
	"china":    {Authority: "https://login.chinacloudapi.cn/", Graph: "https://microsoftgraph.chinacloudapi.cn"},
}

// tenantIDPattern is the tenant id syntax azidentity accepts; checking it
// here gives the error a field name.
var tenantIDPattern = regexp.MustCompile(`^[0-9a-zA-Z-.]+$`)

// Validate reports every problem of c at once, each naming its field as the
// config file spells it ("graph.tenantId: …"). It also decodes the
// certificate, so a wrong password or a file without a private key is a
// start-up error, not a failed round.
func (c Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("graph.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch {
	case strings.TrimSpace(c.TenantID) == "":
		add("tenantId", "required (the directory (tenant) id, or a verified domain)")
	case !tenantIDPattern.MatchString(c.TenantID):
		add("tenantId", "%q is not a tenant id or domain (letters, digits, '-' and '.' only)", c.TenantID)
	}
	if strings.TrimSpace(c.ClientID) == "" {
		add("clientId", "required (the app registration's application (client) id)")
	}
	switch {
	case c.ClientSecret == "" && len(c.Certificate) == 0:
		add("clientSecret", "one of clientSecret or certificate is required")
	case c.ClientSecret != "" && len(c.Certificate) > 0:
		add("clientSecret", "give clientSecret or certificate, not both")
	case len(c.Certificate) > 0:
		if _, _, err := parseCertificate(c.Certificate, c.CertificatePassword); err != nil {
			add("certificate", "%v", err)
		}
	}
	if _, ok := clouds[c.cloudName()]; !ok {
		add("cloud", "%q is not one of global, usgov, usgovdod, china", c.Cloud)
	}
	if c.AuthorityHost != "" {
		if err := checkHTTPSURL(c.AuthorityHost); err != nil {
			add("authorityHost", "%v", err)
		}
	}
	if c.GraphBaseURL != "" {
		if err := checkHTTPSURL(c.GraphBaseURL); err != nil {
			add("graphBaseURL", "%v", err)
		} else if u, _ := url.Parse(c.GraphBaseURL); strings.Trim(u.Path, "/") == "" {
			add("graphBaseURL", "%q has no API version path (e.g. https://graph.microsoft.com/v1.0)", c.GraphBaseURL)
		}
	}
	return errors.Join(errs...)
}

func checkHTTPSURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %v", s, err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q must be an https:// URL with a host", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must not have a query or fragment", s)
	}
	return nil
}

func (c Config) cloudName() string {
	if c.Cloud == "" {
		return "global"
	}
	return strings.ToLower(c.Cloud)
}

// endpoints resolves the authority host, the Graph base URL (with its API
// version, no trailing slash) and the token scope. The scope stays the
// cloud's Graph audience even when GraphBaseURL is overridden: an override
// is a proxy or a test server in front of the same Graph.
func (c Config) endpoints() (authority, baseURL, scope string) {
	cl := clouds[c.cloudName()]
	authority = cl.Authority
	if c.AuthorityHost != "" {
		authority = strings.TrimSuffix(c.AuthorityHost, "/") + "/"
	}
	baseURL = cl.Graph + "/v1.0"
	if c.GraphBaseURL != "" {
		baseURL = strings.TrimSuffix(c.GraphBaseURL, "/")
	}
	return authority, baseURL, cl.Graph + "/.default"
}
