package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
)

const tokenUsage = `Usage:
  scimbridge token create [--tenant T] [--name N] [--config FILE] [--data-dir DIR]
  scimbridge token list [--tenant T] [--output text|json] [--config FILE] [--data-dir DIR]
  scimbridge token revoke --tenant T (--id ID | --name N) [--config FILE] [--data-dir DIR]
  scimbridge token revoke-oauth [--tenant T] [--client ID] [--config FILE] [--data-dir DIR]
  scimbridge token hash < SECRET

create creates a bearer token, stores its hash and prints the token (only the
token, on stdout). It is shown only once. A running server accepts it within
seconds.

list shows every bearer token of every tenant (or of T): its id (the first 8
hex digits of its SHA-256), name, source (store, config or environment),
creation time (stored tokens) and last use (recorded at most once a minute
per token and server). Never the token.

revoke deletes a stored token, chosen by id or by name (a name that several
tokens share is an error listing them). Running servers refuse it within 10
seconds. Tokens from the config file or SCIMBRIDGE_TOKEN are revoked by
removing them there and restarting.

revoke-oauth deletes the OAuth access tokens issued to the tenant's client ID
(default: every client) at the tenant's token endpoint. Servers that validated
one of them in the last 30 seconds may accept it for up to 30 seconds more.

hash reads a secret (a bearer token or an OAuth client secret) from stdin and
prints its hex SHA-256, the value of a sha256: entry in the config file.
Surrounding whitespace is trimmed, as for env: and file: entries.
`

// maxSecretBytes caps what `token hash` reads.
const maxSecretBytes = 64 << 10

// token runs `scimbridge token SUBCOMMAND`.
func (c *cli) token(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageErrorf("token: missing subcommand (create, list, revoke, revoke-oauth, hash)")
	}
	switch args[0] {
	case "create":
		return c.tokenCreate(ctx, args[1:])
	case "list":
		return c.tokenList(ctx, args[1:])
	case "revoke":
		return c.tokenRevoke(ctx, args[1:])
	case "revoke-oauth":
		return c.tokenRevokeOAuth(ctx, args[1:])
	case "hash":
		return c.tokenHash(args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(c.stdout, tokenUsage)
		return nil
	}
	return usageErrorf("token: unknown subcommand %q (want create, list, revoke, revoke-oauth or hash)", args[0])
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
	_, st, err := c.openTenantStore(ctx, fs, &cf, *tenant)
	if err != nil {
		return err
	}
	defer st.Close()
	tok, err := auth.NewToken(ctx, st, *tenant, *name)
	if err != nil {
		return fmt.Errorf("token create: %w", err)
	}
	fmt.Fprintln(c.stdout, tok)
	fmt.Fprintf(c.stderr, "Created token %q for tenant %q. It is shown only once; only its hash is stored.\n", *name, *tenant)
	return nil
}

func (c *cli) tokenRevokeOAuth(ctx context.Context, args []string) error {
	fs := c.newFlagSet("token revoke-oauth", "[--tenant T] [--client ID] [--config FILE] [--data-dir DIR]")
	var cf configFlags
	cf.register(fs, false)
	tenant := fs.String("tenant", config.DefaultTenant, "tenant whose OAuth access tokens are revoked")
	client := fs.String("client", "", "revoke only the tokens of this OAuth client id (default: every client)")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	cfg, st, err := c.openTenantStore(ctx, fs, &cf, *tenant)
	if err != nil {
		return err
	}
	defer st.Close()
	if *client != "" && !slices.Contains(cfg.OAuthClientIDs(*tenant), *client) {
		// Its tokens are rejected anyway; deleting them only tidies up.
		fmt.Fprintf(c.stderr, "Note: OAuth client %q is not configured for tenant %q.\n", *client, *tenant)
	}
	n, err := auth.RevokeOAuthTokens(ctx, st, *tenant, *client)
	if err != nil {
		return fmt.Errorf("token revoke-oauth: %w", err)
	}
	who := "every client"
	if *client != "" {
		who = fmt.Sprintf("client %q", *client)
	}
	fmt.Fprintf(c.stdout, "Revoked %d OAuth access token(s) of %s for tenant %q.\n", n, who, *tenant)
	return nil
}

// openTenantStore loads the configuration, checks that tenant is served and
// opens the store. The caller closes the store.
func (c *cli) openTenantStore(ctx context.Context, fs *flag.FlagSet, cf *configFlags, tenant string) (*config.Config, store.Store, error) {
	cfg, err := c.load(fs, cf)
	if err != nil {
		return nil, nil, err
	}
	if !cfg.HasTenant(tenant) {
		return nil, nil, fmt.Errorf("%s: tenant %q is not configured (tenants: %s)", fs.Name(), tenant, strings.Join(cfg.TenantNames(), ", "))
	}
	st, err := openConfiguredStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, st, nil
}

// openConfiguredStore opens the store cfg describes, with its schemas.
func openConfiguredStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	reg, err := schemas.Load(cfg.CustomSchemas()...)
	if err != nil {
		return nil, fmt.Errorf("load schemas: %w", err)
	}
	return openStore(ctx, cfg, reg)
}

func (c *cli) tokenHash(args []string) error {
	fs := c.newFlagSet("token hash", "< SECRET")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	in := c.stdin
	if in == nil {
		in = strings.NewReader("")
	}
	if f, ok := in.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprintln(c.stderr, "Type or paste the secret, then press Enter and Ctrl-D:")
		}
	}
	b, err := io.ReadAll(io.LimitReader(in, maxSecretBytes+1))
	if err != nil {
		return fmt.Errorf("token hash: read stdin: %w", err)
	}
	if len(b) > maxSecretBytes {
		return fmt.Errorf("token hash: the secret is longer than %d bytes", maxSecretBytes)
	}
	secret := bytes.TrimSpace(b)
	if len(secret) == 0 {
		return errors.New("token hash: no secret on stdin")
	}
	h := auth.HashToken(string(secret))
	fmt.Fprintln(c.stdout, hex.EncodeToString(h[:]))
	return nil
}
