package main

import (
	"log/slog"
	"net"

	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/schemas"
)

// stringLimits are the configured limits.maxStringBytes and
// limits.maxIdentifierBytes, for the handler and import.
func stringLimits(cfg *config.Config) schemas.StringLimits {
	return schemas.StringLimits{MaxBytes: cfg.Limits.MaxStringBytes, MaxIdentifierBytes: cfg.Limits.MaxIdentifierBytes}
}

// minBodyRate maps limits.minBodyBytesPerSecond to scim.Options.MinBodyRate,
// where 0 means the default and a negative value no minimum.
func minBodyRate(cfg *config.Config) int64 {
	if cfg.Limits.MinBodyBytesPerSecond == 0 {
		return -1
	}
	return cfg.Limits.MinBodyBytesPerSecond
}

// warnPublicURL warns when the server listens beyond loopback without
// baseURL or trustedProxies: the URLs in its responses then follow the Host
// header any client chooses.
func warnPublicURL(log *slog.Logger, cfg *config.Config, addr net.Addr) {
	if cfg.BaseURL != "" || len(cfg.TrustedProxies) > 0 {
		return
	}
	if ta, ok := addr.(*net.TCPAddr); ok && ta.IP.IsLoopback() {
		return
	}
	log.Warn("baseURL is not set: Location and meta.location copy each request's Host header, which any client can choose; set baseURL to the public URL (or trustedProxies to the reverse proxies that set X-Forwarded-Host)",
		"addr", addr.String())
}
