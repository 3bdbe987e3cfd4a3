// Command scimbridge is a SCIM 2.0 provisioning bridge: Microsoft Entra ID
// (or any SCIM client) pushes users and groups to it, and it keeps them in
// its store. Run `scimbridge help` for usage.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}
