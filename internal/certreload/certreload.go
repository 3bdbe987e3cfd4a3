// Package certreload serves a TLS certificate and key read from files and
// picks up their renewal without a restart.
//
// It polls the files' content rather than watching for file events:
// cert-manager and Kubernetes secret volumes renew by swapping a symlinked
// directory, which leaves the watched files' own inodes untouched, and a
// poll catches that as well as an editor's in-place write.
package certreload

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Reloader holds the pair currently served. It is safe for concurrent use.
type Reloader struct {
	certFile, keyFile string
	log               *slog.Logger
	cert              atomic.Pointer[tls.Certificate]

	mu sync.Mutex // serialises Reload
	// certPEM and keyPEM are the content last read, whether it loaded or
	// not, so that a bad pair is reported once, not at every poll.
	certPEM, keyPEM []byte
	// lastErr is the last read error reported, for the same reason.
	lastErr string
}

// New loads the pair. An unusable pair is an error: a server must not
// start without a certificate.
func New(certFile, keyFile string, log *slog.Logger) (*Reloader, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, log: log}
	certPEM, keyPEM, err := r.read()
	if err != nil {
		return nil, err
	}
	cert, err := parse(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tls: %s and %s: %w", certFile, keyFile, err)
	}
	r.cert.Store(cert)
	r.certPEM, r.keyPEM = certPEM, keyPEM
	log.Info("TLS certificate loaded", certAttrs(cert)...)
	return r, nil
}

// TLSConfig returns a server configuration that serves the current pair,
// with TLS 1.2 as the oldest protocol version.
func (r *Reloader) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.GetCertificate,
	}
}

// GetCertificate returns the current pair (tls.Config.GetCertificate).
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// Certificate returns the current pair.
func (r *Reloader) Certificate() *tls.Certificate { return r.cert.Load() }

// Reload reads both files and, if their content changed since the last
// read, serves the new pair from the next handshake on. It reports whether
// the served pair changed. When the files cannot be read, or the new
// content is not a matching certificate and key (a renewal caught halfway,
// a wrong file), the current pair stays, the reason is logged once, and the
// error is returned.
func (r *Reloader) Reload() (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	certPEM, keyPEM, err := r.read()
	if err != nil {
		if msg := err.Error(); msg != r.lastErr {
			r.lastErr = msg
			r.log.Warn("TLS files cannot be read; still serving the current certificate", "error", err)
		}
		return false, err
	}
	r.lastErr = ""
	if bytes.Equal(certPEM, r.certPEM) && bytes.Equal(keyPEM, r.keyPEM) {
		return false, nil
	}
	r.certPEM, r.keyPEM = certPEM, keyPEM
	cert, err := parse(certPEM, keyPEM)
	if err != nil {
		err = fmt.Errorf("tls: %s and %s: %w", r.certFile, r.keyFile, err)
		r.log.Warn("new TLS certificate rejected; still serving the current one",
			append([]any{"error", err}, certAttrs(r.cert.Load())...)...)
		return false, err
	}
	r.cert.Store(cert)
	r.log.Info("TLS certificate reloaded", certAttrs(cert)...)
	return true, nil
}

// Run calls Reload every interval until ctx is done.
func (r *Reloader) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = r.Reload() // logged by Reload
		}
	}
}

func (r *Reloader) read() (certPEM, keyPEM []byte, err error) {
	certPEM, err = os.ReadFile(r.certFile)
	if err != nil {
		return nil, nil, fmt.Errorf("tls certificate: %w", err)
	}
	keyPEM, err = os.ReadFile(r.keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("tls key: %w", err)
	}
	return certPEM, keyPEM, nil
}

// parse checks that the key matches the leaf and that the leaf is within
// its validity period, so an expired renewal never replaces a good pair.
func parse(certPEM, keyPEM []byte) (*tls.Certificate, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if now.After(cert.Leaf.NotAfter) {
		return nil, fmt.Errorf("the certificate expired at %s", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(cert.Leaf.NotBefore) {
		// A renewal issued with a clock ahead of ours: clients would refuse
		// it. The next poll takes it once it is valid.
		return nil, fmt.Errorf("the certificate is not valid before %s", cert.Leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return &cert, nil
}

// certAttrs are the log attributes naming a certificate.
func certAttrs(c *tls.Certificate) []any {
	if c == nil || c.Leaf == nil {
		return nil
	}
	return []any{
		"subject", c.Leaf.Subject.String(),
		"dnsNames", c.Leaf.DNSNames,
		"notAfter", c.Leaf.NotAfter.UTC().Format(time.RFC3339),
	}
}
