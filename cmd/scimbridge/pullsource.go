package main

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/graphpull"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/pull"
)

// pullRequests builds the pull request (source and policy) of each of the
// named tenants (every tenant with a pull section when names is empty). The
// sources are built once and reused for every run: the engine never runs
// one source twice at a time. An error names the tenant's config field.
func pullRequests(cfg *config.Config, log *slog.Logger, names ...string) (map[string]pull.RunRequest, error) {
	if len(names) == 0 {
		names = cfg.PullTenants()
	}
	out := make(map[string]pull.RunRequest, len(names))
	for _, name := range names {
		i := tenantIndex(cfg, name)
		if i < 0 || cfg.Tenants[i].Pull == nil {
			return nil, fmt.Errorf("tenant %q has no pull configured", name)
		}
		p := cfg.Tenants[i].Pull
		gc, err := graphConfig(p, log.With("tenant", name))
		if err != nil {
			return nil, fmt.Errorf("tenants[%d].pull.%w", i, err)
		}
		src, err := graphpull.New(gc)
		if err != nil {
			return nil, fmt.Errorf("tenants[%d].pull.%w", i, err)
		}
		out[name] = pull.RunRequest{Tenant: name, Source: src, Policy: pullPolicy(p)}
	}
	return out, nil
}

func tenantIndex(cfg *config.Config, name string) int {
	for i, t := range cfg.Tenants {
		if t.Name == name {
			return i
		}
	}
	return -1
}

// pullPolicy is the engine's view of a tenant's pull section.
func pullPolicy(p *config.Pull) pull.Policy {
	pol := pull.Policy{OnDelete: pull.OnDelete(p.OnDelete), CreateDisabledUsers: p.CreateDisabledUsers}
	if s := p.Scope; s != nil {
		pol.Scope = &pull.Scope{Groups: s.Groups, Users: s.Users, Nested: s.Nested}
	}
	return pol
}

// graphConfig is graphpull's view of a tenant's pull section: secrets
// resolved (Load did), the certificate file's content, and caFile's
// certificates (trusted besides the system's).
func graphConfig(p *config.Pull, log *slog.Logger) (graphpull.Config, error) {
	g := p.Graph
	gc := graphpull.Config{
		TenantID:      g.TenantID,
		ClientID:      g.ClientID,
		Cloud:         g.Cloud,
		AuthorityHost: g.AuthorityHost,
		GraphBaseURL:  g.GraphBaseURL,
		Nested:        p.Scope != nil && p.Scope.Nested,
		Logger:        log,
	}
	if g.ClientSecret != nil {
		gc.ClientSecret = g.ClientSecret.Value
	}
	if c := g.Certificate; c != nil {
		gc.Certificate = c.Data
		if c.Password != nil {
			gc.CertificatePassword = c.Password.Value
		}
	}
	if len(g.CAPEM) > 0 {
		// graphpull trusts the system's roots besides these.
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(g.CAPEM) {
			return graphpull.Config{}, fmt.Errorf("graph.caFile: %s holds no usable PEM certificate", g.CAFile)
		}
		gc.RootCAs = pool
	}
	return gc, nil
}

// holderID names this process as a pull lease holder: host, process id
// and a random part (a restarted process with the same pid is another
// holder).
func holderID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b))
}

// ago says how long ago t was, rounded for people.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "in " + fmtDur(-d)
	case d < time.Second:
		return "just now"
	}
	return fmtDur(d) + " ago"
}

// fmtDur formats d rounded for people, without zero minutes or seconds:
// 1.2s, 3m4s, 2h, 1h30m.
func fmtDur(d time.Duration) string {
	s := roundDuration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// roundDuration rounds d to a precision that reads well: 85ms, 1.2s, 3m4s,
// 2h5m.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond)
	case d < time.Minute:
		return d.Round(100 * time.Millisecond)
	case d < time.Hour:
		return d.Round(time.Second)
	}
	return d.Round(time.Minute)
}
