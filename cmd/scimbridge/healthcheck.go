package main

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// healthcheck asks a running bridge whether it is ready. Container images
// without a shell or curl (the distroless image in docker/) use it as their
// HEALTHCHECK: exit status 0 when the URL answers 200, 1 otherwise.
func (c *cli) healthcheck(ctx context.Context, args []string) error {
	fs := c.newFlagSet("healthcheck", "[--url URL]")
	url := fs.String("url", "http://127.0.0.1:8080/readyz", "URL to probe (/readyz: the store is reachable; /healthz: the process is up)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return usageErrorf("healthcheck: --url: %v", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", *url, res.Status)
	}
	fmt.Fprintln(c.stdout, "ok")
	return nil
}
