package config

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"time"
)

// DefaultTLSReloadInterval is how often serve re-reads tls.certFile and
// tls.keyFile when tls.reloadInterval is not set; MinTLSReloadInterval is
// the shortest accepted.
const (
	DefaultTLSReloadInterval = time.Minute
	MinTLSReloadInterval     = time.Second
)

// TLS makes serve speak HTTPS (TLS 1.2 or later) with a certificate and key
// read from files. Both files are set, or neither (plain HTTP).
type TLS struct {
	// CertFile is the PEM certificate chain, leaf first. A relative path is
	// relative to the config file's directory; Load makes it relative to
	// the working directory.
	CertFile string `yaml:"certFile"`
	// KeyFile is the PEM private key of the leaf certificate.
	KeyFile string `yaml:"keyFile"`
	// ReloadInterval is how often serve re-reads both files; when their
	// content changed, the new pair is served from the next handshake on
	// (a pair that does not load is logged and the old one kept). Polling
	// the content, rather than watching for file events, also catches
	// cert-manager's and Kubernetes' swap of a symlinked directory.
	ReloadInterval time.Duration `yaml:"reloadInterval"`
}

// Enabled reports whether TLS is configured.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Metrics configures the /metrics endpoint.
type Metrics struct {
	// Token, if set, is the bearer token /metrics requires. Unset: /metrics
	// is open to anyone who reaches the port.
	Token *MetricsToken `yaml:"token"`
}

// MetricsToken is the /metrics bearer token, given by exactly one of
// SHA256, Env or File, as a tenant's Token is. The loader resolves it into
// Hash; the plain token is never kept.
type MetricsToken struct {
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

// Debug configures the opt-in profiling listener.
type Debug struct {
	// Listen, if set, is the host:port of a second HTTP listener serving
	// Go's pprof profiles under /debug/pprof/. It must be a loopback
	// address unless AllowNonLoopback is set. Empty: no listener.
	Listen string `yaml:"listen"`
	// AllowNonLoopback lets Listen be any address. Profiles expose the
	// process's command line, memory contents in heap samples and timing:
	// reachable from elsewhere, anyone on the network can read them.
	AllowNonLoopback bool `yaml:"allowNonLoopback"`
}

// MetricsTokenHash returns the hash of metrics.token, or nil when /metrics
// is open.
func (c *Config) MetricsTokenHash() *[32]byte {
	if c.Metrics.Token == nil {
		return nil
	}
	h := c.Metrics.Token.Hash
	return &h
}

// servingProblems checks the tls, metrics and debug sections.
func (c *Config) servingProblems() []string {
	var p []string
	if c.TLS.Enabled() {
		if c.TLS.CertFile == "" {
			p = append(p, "tls.certFile: must be set with tls.keyFile")
		}
		if c.TLS.KeyFile == "" {
			p = append(p, "tls.keyFile: must be set with tls.certFile")
		}
	}
	if c.TLS.ReloadInterval < MinTLSReloadInterval {
		p = append(p, fmt.Sprintf("tls.reloadInterval: %s must be at least %s", fmtDuration(c.TLS.ReloadInterval), fmtDuration(MinTLSReloadInterval)))
	}
	if t := c.Metrics.Token; t != nil {
		p = append(p, secretProblems("metrics.token", "token", t.SHA256, t.Env, t.File)...)
	}
	if c.Debug.Listen != "" {
		if err := checkHostPort(c.Debug.Listen); err != nil {
			p = append(p, fmt.Sprintf("debug.listen: %q is not host:port (%v)", c.Debug.Listen, err))
		} else if !c.Debug.AllowNonLoopback && !isLoopback(c.Debug.Listen) {
			p = append(p, fmt.Sprintf("debug.listen: %q is not a loopback address (127.0.0.1, ::1 or localhost); profiles reveal the process's memory, so set debug.allowNonLoopback: true to listen there anyway", c.Debug.Listen))
		}
	}
	return p
}

// isLoopback reports whether the host of the host:port addr is localhost
// or a loopback IP address. An empty host (every interface) is not.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// resolveServing makes the TLS file paths relative to the working
// directory and checks that they hold a usable pair, and reads the metrics
// token.
func (c *Config) resolveServing(dir string, env func(string) string) []string {
	var p []string
	if c.TLS.CertFile != "" && c.TLS.KeyFile != "" {
		c.TLS.CertFile, c.TLS.KeyFile = relTo(dir, c.TLS.CertFile), relTo(dir, c.TLS.KeyFile)
		if problem := checkKeyPair(c.TLS.CertFile, c.TLS.KeyFile); problem != "" {
			p = append(p, problem)
		}
	}
	if t := c.Metrics.Token; t != nil {
		h, problem, ok := resolveSecret(t.SHA256, t.Env, t.File, "metrics.token", dir, env)
		if problem != "" {
			p = append(p, problem)
		}
		if ok {
			t.Hash = h
		}
	}
	return p
}

// checkKeyPair returns a problem if the files cannot be read or do not
// hold a matching certificate and key. It never quotes the key.
func checkKeyPair(certFile, keyFile string) string {
	cert, err := os.ReadFile(certFile)
	if err != nil {
		return "tls.certFile: " + fileError(err)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return "tls.keyFile: " + fileError(err)
	}
	if _, err := tls.X509KeyPair(cert, key); err != nil {
		return fmt.Sprintf("tls: %s and %s are not a usable certificate and key: %v", certFile, keyFile, err)
	}
	return ""
}
