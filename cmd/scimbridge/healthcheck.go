package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/scimbridge/scimbridge/internal/config"
)

// healthcheck asks a running bridge whether it is ready. Container images
// without a shell or curl (the distroless image in docker/) use it as their
// HEALTHCHECK: exit status 0 when the URL answers 200, 1 otherwise.
//
// Without --url it probes the bridge the configuration describes: the
// config file (--config, else $SCIMBRIDGE_CONFIG, else none) with the
// SCIMBRIDGE_* environment, as serve reads them, gives the port, and
// tls.certFile the scheme. A wildcard listen address is probed on
// 127.0.0.1. Nothing else in the configuration is checked: a bad
// certificate renewal on disk, which serve survives by keeping the old
// pair, must not mark the bridge unhealthy (and get it restarted into a
// start that fails).
//
// The probe sends no credentials and reads only the status code, so it
// does not verify the certificate of the bridge it found in the
// configuration, nor of any loopback address: a publicly trusted
// certificate names the public host, never 127.0.0.1. An explicit --url to
// another host is verified as usual.
func (c *cli) healthcheck(ctx context.Context, args []string) error {
	fs := c.newFlagSet("healthcheck", "[--config FILE | --url URL]")
	rawURL := fs.String("url", "", "URL to probe (/readyz: the store is reachable; /healthz: the process is up); default: /readyz at the configuration's listen address")
	cfgPath := fs.String("config", "", "YAML config file giving the port and scheme to probe (default $"+envConfig+"; none: defaults)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	target, verify := *rawURL, true
	if target == "" {
		path := *cfgPath
		if path == "" {
			path = c.getenv(envConfig)
		}
		cfg, err := config.LoadForProbe(path, c.getenv)
		if err != nil {
			return fmt.Errorf("healthcheck: %w", err)
		}
		if target, err = readyURL(cfg); err != nil {
			return fmt.Errorf("healthcheck: %w", err)
		}
		verify = false
	} else if *cfgPath != "" {
		return usageErrorf("healthcheck: give --config or --url, not both")
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageErrorf("healthcheck: --url %q: want http(s)://host:port/path", target)
	}
	if isLoopbackHost(u.Hostname()) {
		verify = false
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return usageErrorf("healthcheck: --url: %v", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: !verify} // see the doc comment
	client := &http.Client{Transport: tr}
	defer client.CloseIdleConnections()
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", target, res.Status)
	}
	fmt.Fprintln(c.stdout, "ok")
	return nil
}

// readyURL returns the /readyz URL of the bridge cfg describes.
func readyURL(cfg *config.Config) (string, error) {
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return "", fmt.Errorf("listen %q: %w", cfg.Listen, err)
	}
	if port == "0" {
		return "", fmt.Errorf("listen %q picks a free port at start: give --url", cfg.Listen)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return scheme(cfg) + "://" + net.JoinHostPort(host, port) + "/readyz", nil
}

// isLoopbackHost reports whether host is localhost or a loopback IP.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
