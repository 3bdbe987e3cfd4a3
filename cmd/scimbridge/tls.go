package main

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/scimbridge/scimbridge/internal/certreload"
	"github.com/scimbridge/scimbridge/internal/config"
)

// startTLS loads tls.certFile and tls.keyFile and starts re-reading them
// every tls.reloadInterval. It returns the server's TLS configuration (TLS
// 1.2 or later, the current pair) and a function that stops the reloading,
// or a nil configuration when TLS is off.
func startTLS(ctx context.Context, cfg *config.Config, log *slog.Logger) (*tls.Config, func(), error) {
	if !cfg.TLS.Enabled() {
		return nil, func() {}, nil
	}
	r, err := certreload.New(cfg.TLS.CertFile, cfg.TLS.KeyFile, log)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.Run(ctx, cfg.TLS.ReloadInterval)
	}()
	return r.TLSConfig(), func() { cancel(); wg.Wait() }, nil
}

// serveOn serves srv on ln, over TLS when srv.TLSConfig is set.
func serveOn(srv *http.Server, ln net.Listener) error {
	if srv.TLSConfig != nil {
		return srv.ServeTLS(ln, "", "")
	}
	return srv.Serve(ln)
}

// scheme is the URL scheme serve answers on.
func scheme(cfg *config.Config) string {
	if cfg.TLS.Enabled() {
		return "https"
	}
	return "http"
}
