package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/scim"
)

const tokenUsage = `Usage: scimbridge token create [--tenant T] [--name N] [--config FILE] [--data-dir DIR]

Creates a bearer token, stores its hash and prints the token (only the token,
on stdout). It is shown only once. A running server accepts it within seconds.
`

// token runs `scimbridge token SUBCOMMAND`.
func (c *cli) token(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageErrorf("token: missing subcommand (create)")
	}
	switch args[0] {
	case "create":
		return c.tokenCreate(ctx, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(c.stdout, tokenUsage)
		return nil
	}
	return usageErrorf("token: unknown subcommand %q (want create)", args[0])
}

func (c *cli) tokenCreate(ctx context.Context, args []string) error {
	fs := c.newFlagSet("token create", "[--tenant T] [--name N] [--config FILE] [--data-dir DIR]")
	var cf configFlags
	cf.register(fs, false)
	tenant := fs.String("tenant", config.DefaultTenant, "tenant the token opens")
	name := fs.String("name", "cli", "label stored with the token")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	cfg, err := c.load(fs, &cf)
	if err != nil {
		return err
	}
	if !cfg.HasTenant(*tenant) {
		return fmt.Errorf("token create: tenant %q is not configured (tenants: %s)", *tenant, strings.Join(cfg.TenantNames(), ", "))
	}
	reg, err := schemas.Load(cfg.CustomSchemas()...)
	if err != nil {
		return fmt.Errorf("load schemas: %w", err)
	}
	st, err := openStore(ctx, cfg, reg)
	if err != nil {
		return err
	}
	defer st.Close()
	tok, err := scim.NewToken(ctx, st, *tenant, *name)
	if err != nil {
		return fmt.Errorf("token create: %w", err)
	}
	fmt.Fprintln(c.stdout, tok)
	fmt.Fprintf(c.stderr, "Created token %q for tenant %q. It is shown only once; only its hash is stored.\n", *name, *tenant)
	return nil
}
