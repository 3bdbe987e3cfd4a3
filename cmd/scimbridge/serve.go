package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/admin"
	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/internal/logging"
	"github.com/scimbridge/scimbridge/pull"
	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
)

// shutdownTimeout bounds how long serve waits for in-flight requests after
// it is told to stop.
const shutdownTimeout = 15 * time.Second

// serve runs `scimbridge serve`: the SCIM server until ctx is cancelled.
func (c *cli) serve(ctx context.Context, args []string) error {
	fs := c.newFlagSet("serve", "[--config FILE] [--listen ADDR] [--data-dir DIR]")
	var cf configFlags
	cf.register(fs, true)
	if err := c.parse(fs, args); err != nil {
		return err
	}
	cfg, err := c.load(fs, &cf)
	if err != nil {
		return err
	}
	log, err := logging.New(c.stderr, cfg.Log)
	if err != nil {
		return err
	}
	reg, err := schemas.Load(cfg.CustomSchemas()...)
	if err != nil {
		return fmt.Errorf("load schemas: %w", err)
	}
	st, err := openStore(ctx, cfg, reg)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("close store", "err", err)
		}
	}()
	tenants := scimTenants(cfg)
	authn, err := auth.New(auth.Options{Store: st, Tenants: tenants, Logger: log,
		RateLimit:      auth.RateLimit{Burst: cfg.AuthFailures.Burst, PerMinute: cfg.AuthFailures.PerMinute},
		TokenUsed:      auth.TokenUseRecorder(st, log),
		TrustedProxies: cfg.TrustedProxyPrefixes()})
	if err != nil {
		return fmt.Errorf("build authentication: %w", err)
	}
	h, err := scim.NewHandler(scim.Options{
		Store:             st,
		Schemas:           reg,
		Logger:            log,
		BaseURL:           cfg.BaseURL,
		Auth:              authn,
		MaxBodyBytes:      cfg.MaxBodyBytes,
		MaxResults:        cfg.MaxResults,
		MaxBulkOperations: cfg.Bulk.MaxOperations,
		MaxBulkPayload:    cfg.Bulk.MaxPayloadBytes,
		MetricsTokenHash:  cfg.MetricsTokenHash(),
		TrustedProxies:    cfg.TrustedProxyPrefixes(),
		StringLimits:      stringLimits(cfg),
		// Per-tenant limits: see limits.go in this package.
		MaxConcurrentRequests: cfg.Limits.MaxConcurrentRequests,
		QueueWait:             cfg.Limits.QueueWait,
		MinBodyRate:           minBodyRate(cfg),
		BodyGracePeriod:       cfg.Limits.BodyGracePeriod,
		MaxPatchOps:           cfg.Patch.MaxOperations,
		MaxPatchMembers:       cfg.Patch.MaxMemberValues,
	})
	if err != nil {
		return fmt.Errorf("build handler: %w", err)
	}
	// Pulls: the sources are built now, so that a bad certificate or
	// secret stops serve at start rather than failing every round.
	pulls, err := pullRequests(cfg, log)
	if err != nil {
		return err
	}
	holder := holderID()
	eng := pull.NewEngine(st, pull.Options{Holder: holder, Logger: log})
	adminH, err := admin.NewHandler(admin.Options{
		Engine: eng,
		Pull: func(tenant string) (pull.RunRequest, bool) {
			req, ok := pulls[tenant]
			return req, ok
		},
		TokenHashes: cfg.AdminTokenHashes(),
		TokenNames:  cfg.AdminTokenNames(),
		Throttle:    authn,
		Logger:      log,
	})
	if err != nil {
		return fmt.Errorf("build admin API: %w", err)
	}
	h = withAdminAPI(h, adminH, cfg.BaseURL)

	tlsConfig, stopTLS, err := startTLS(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer stopTLS()
	stopDebug, err := startDebug(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer stopDebug()
	stopTrim := startTrimmer(ctx, cfg, st, log) // trim.go
	defer stopTrim()
	stopSchedule := startPullSchedule(ctx, cfg, eng, pulls, log) // pullserve.go
	defer stopSchedule()

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// The token is generated only once listening worked, so that a token
	// is never stored without being shown.
	token, err := initialToken(ctx, st, cfg)
	if err != nil {
		ln.Close()
		return err
	}
	fmt.Fprint(c.stdout, banner(cfg, ln.Addr(), token))

	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          serverErrorLog(log),
		TLSConfig:         tlsConfig,
	}
	log.Info("serving", "addr", ln.Addr().String(), "scheme", scheme(cfg), "store", cfg.Store.Type, "tenants", len(tenants))
	warnPublicURL(log, cfg, ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- serveOn(srv, ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	waitPullRuns(sctx, eng, cfg.PullTenants(), holder, log) // pullserve.go
	log.Info("stopped")
	return nil
}

// scimTenants returns the tenants to serve, with their credentials, from
// the configuration: the default tenant first, then the others.
func scimTenants(cfg *config.Config) []auth.Tenant {
	names := cfg.TenantNames()
	tenants := make([]auth.Tenant, 0, len(names))
	for _, name := range names {
		t := auth.Tenant{Name: name, TokenHashes: cfg.TokenHashes(name)}
		if tc := cfg.Tenant(name); tc != nil {
			for _, tok := range tc.Tokens {
				if tok.Name != "" {
					if t.TokenNames == nil {
						t.TokenNames = map[[32]byte]string{}
					}
					t.TokenNames[tok.Hash] = tok.Name
				}
			}
			if tc.OAuth != nil {
				t.TokenLifetime = tc.OAuth.TokenLifetime
				for i := range tc.OAuth.Clients {
					cl := &tc.OAuth.Clients[i]
					oc := auth.OAuthClient{ID: cl.ID, SecretHashes: cl.SecretHashes()}
					if f := cl.Federation; f != nil {
						oc.Federation = &auth.Federation{TenantID: f.TenantID, Subject: f.Subject, Audience: f.Audience,
							Issuer: f.Issuer, JWKSURL: f.JWKSURL, JWKSFile: f.JWKSFile}
					}
					t.OAuthClients = append(t.OAuthClients, oc)
				}
			}
			if e := tc.EntraJWT; e != nil {
				t.EntraJWT = &auth.EntraJWT{
					TenantID: e.TenantID,
					Audience: e.Audience,
					Issuer:   e.Issuer,
					AppIDs:   e.AppIDs,
					JWKSURL:  e.JWKSURL,
					JWKSFile: e.JWKSFile,
				}
			}
		}
		tenants = append(tenants, t)
	}
	return tenants
}

// hasOtherCredentials reports whether tenant is configured with OAuth
// clients or Entra JWTs.
func hasOtherCredentials(cfg *config.Config, tenant string) bool {
	t := cfg.Tenant(tenant)
	return t != nil && ((t.OAuth != nil && len(t.OAuth.Clients) > 0) || t.EntraJWT != nil)
}

// initialToken returns a newly created token for the default tenant if it
// has no credentials at all (no token from the environment, the config or
// the store, no OAuth client, no Entra JWT), and "" otherwise.
func initialToken(ctx context.Context, st store.Store, cfg *config.Config) (string, error) {
	if len(cfg.TokenHashes(config.DefaultTenant)) > 0 || hasOtherCredentials(cfg, config.DefaultTenant) {
		return "", nil
	}
	stored, err := auth.StoredTokenHashes(ctx, st, config.DefaultTenant)
	if err != nil {
		return "", fmt.Errorf("read stored tokens: %w", err)
	}
	if len(stored) > 0 {
		return "", nil
	}
	tok, err := auth.NewToken(ctx, st, config.DefaultTenant, "initial")
	if err != nil {
		return "", fmt.Errorf("create initial token: %w", err)
	}
	return tok, nil
}

// banner is what serve prints on stdout once it listens: the SCIM base URLs
// and, the first time, the generated token. It is written in one piece.
func banner(cfg *config.Config, addr net.Addr, token string) string {
	base := cfg.BaseURL
	if base == "" {
		base = scheme(cfg) + "://" + dialAddr(addr)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "scimbridge is listening on %s\n", addr)
	for _, name := range cfg.TenantNames() {
		url := base + "/scim/v2"
		if name == config.DefaultTenant {
			fmt.Fprintf(&b, "SCIM base URL: %s\n", url)
		} else {
			url = base + "/tenants/" + name + "/scim/v2"
			fmt.Fprintf(&b, "SCIM base URL of tenant %s: %s\n", name, url)
		}
		if len(cfg.OAuthClientIDs(name)) > 0 {
			fmt.Fprintf(&b, "  OAuth token URL: %s/oauth/token\n", url)
		}
	}
	if len(cfg.AdminTokenHashes()) > 0 {
		fmt.Fprintf(&b, "Admin API: %s/admin/api/\n", base)
	}
	if token != "" {
		b.WriteString("\nA bearer token for the default tenant was generated. It is shown only once\n")
		b.WriteString("(only its hash is stored); `scimbridge token create` makes more.\n\n")
		fmt.Fprintf(&b, "    TOKEN=%s\n\n", token)
	}
	return b.String()
}

// dialAddr returns addr as a client would dial it: an unspecified listen
// address (0.0.0.0, ::; Go listens dual-stack there) becomes 127.0.0.1.
func dialAddr(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	ip := tcp.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(tcp.Port))
}
