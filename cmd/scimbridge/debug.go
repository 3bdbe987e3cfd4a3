package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/scimbridge/scimbridge/internal/config"
)

// startDebug starts the opt-in profiling listener on debug.listen (none
// when it is empty) and returns a function that stops it. It serves Go's
// pprof handlers under /debug/pprof/ from a mux of its own: importing
// net/http/pprof for its side effect would put them on
// http.DefaultServeMux, a global the API never uses but another import
// could.
func startDebug(ctx context.Context, cfg *config.Config, log *slog.Logger) (func(), error) {
	if cfg.Debug.Listen == "" {
		return func() {}, nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Debug.Listen)
	if err != nil {
		return nil, fmt.Errorf("debug.listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		// No WriteTimeout: a CPU profile or trace takes as long as its
		// ?seconds= asks.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // returns when stopped
	}()
	log.Warn("pprof debug listener started: profiles show the process's memory and command line", "addr", ln.Addr().String())
	return func() {
		srv.Close()
		<-done
	}, nil
}
