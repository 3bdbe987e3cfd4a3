package main

import (
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/store"
)

// Where a listed token comes from (tokenInfo.Source); the static sources
// are config.TokenSourceConfig and config.TokenSourceEnv.
const tokenSourceStore = "store"

// tokenInfo is one line of `token list`: never the token, nor its full hash.
type tokenInfo struct {
	Tenant   string     `json:"tenant"`
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Source   string     `json:"source"`
	Created  *time.Time `json:"created"`  // null: not known (config, environment)
	LastUsed *time.Time `json:"lastUsed"` // null: never recorded

	hash  [32]byte
	field string // config: where the token is set
}

// tenantTokens returns every bearer token of tenant: from the environment,
// the config file (in order) and the store (oldest first).
func tenantTokens(ctx context.Context, cfg *config.Config, st store.Store, tenant string) ([]tokenInfo, error) {
	used, err := auth.TokensLastUsed(ctx, st, tenant)
	if err != nil {
		return nil, fmt.Errorf("read the tokens' last use: %w", err)
	}
	stored, err := auth.StoredTokens(ctx, st, tenant)
	if err != nil {
		return nil, fmt.Errorf("read the stored tokens: %w", err)
	}
	lastUsed := func(h [32]byte) *time.Time {
		if t, ok := used[h]; ok {
			return &t
		}
		return nil
	}
	var out []tokenInfo
	for _, s := range cfg.StaticTokens(tenant) {
		out = append(out, tokenInfo{Tenant: tenant, ID: auth.TokenID(s.Hash), Name: s.Name, Source: s.Source,
			LastUsed: lastUsed(s.Hash), hash: s.Hash, field: s.Field})
	}
	slices.SortStableFunc(stored, func(a, b auth.StoredToken) int {
		return cmp.Or(a.Created.Compare(b.Created), strings.Compare(auth.TokenID(a.Hash), auth.TokenID(b.Hash)))
	})
	for _, s := range stored {
		ti := tokenInfo{Tenant: tenant, ID: auth.TokenID(s.Hash), Name: s.Name, Source: tokenSourceStore,
			LastUsed: lastUsed(s.Hash), hash: s.Hash}
		if !s.Created.IsZero() {
			created := s.Created
			ti.Created = &created
		}
		out = append(out, ti)
	}
	return out, nil
}

func (c *cli) tokenList(ctx context.Context, args []string) error {
	fs := c.newFlagSet("token list", "[--tenant T] [--output text|json] [--config FILE] [--data-dir DIR]")
	var cf configFlags
	cf.register(fs, false)
	tenant := fs.String("tenant", "", "list only this tenant's tokens (default: every tenant)")
	output := fs.String("output", "text", "output format: text or json")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *output != "text" && *output != "json" {
		return usageErrorf("token list: --output must be text or json, not %q", *output)
	}
	tenants := []string{*tenant}
	var (
		cfg *config.Config
		st  store.Store
		err error
	)
	if *tenant != "" {
		cfg, st, err = c.openTenantStore(ctx, fs, &cf, *tenant)
	} else {
		cfg, st, err = c.openAnyStore(ctx, fs, &cf)
		if cfg != nil {
			tenants = cfg.TenantNames()
		}
	}
	if err != nil {
		return err
	}
	defer st.Close()
	list := []tokenInfo{}
	for _, t := range tenants {
		ts, err := tenantTokens(ctx, cfg, st, t)
		if err != nil {
			return fmt.Errorf("token list: tenant %q: %w", t, err)
		}
		list = append(list, ts...)
	}
	if *output == "json" {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tID\tNAME\tSOURCE\tCREATED\tLAST USED")
	for _, t := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Tenant, t.ID, cmp.Or(t.Name, "-"), t.Source, fmtTime(t.Created, "-"), fmtTime(t.LastUsed, "never"))
	}
	return tw.Flush()
}

// fmtTime formats a listed time in UTC to the second, or none if unknown.
func fmtTime(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return t.UTC().Format(time.RFC3339)
}

// openAnyStore loads the configuration and opens the store, for commands
// about every tenant. The caller closes the store.
func (c *cli) openAnyStore(ctx context.Context, fs *flag.FlagSet, cf *configFlags) (*config.Config, store.Store, error) {
	cfg, err := c.load(fs, cf)
	if err != nil {
		return nil, nil, err
	}
	st, err := openConfiguredStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, st, nil
}

func (c *cli) tokenRevoke(ctx context.Context, args []string) error {
	fs := c.newFlagSet("token revoke", "--tenant T (--id ID | --name N) [--config FILE] [--data-dir DIR]")
	var cf configFlags
	cf.register(fs, false)
	tenant := fs.String("tenant", "", "tenant of the token (required)")
	id := fs.String("id", "", "id of the token, as `token list` shows it (or more hex digits of its hash)")
	name := fs.String("name", "", "name of the token")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	switch {
	case *tenant == "":
		return usageErrorf("token revoke: --tenant is required")
	case (*id == "") == (*name == ""):
		return usageErrorf("token revoke: give exactly one of --id and --name")
	}
	prefix := strings.ToLower(*id)
	if *id != "" {
		if _, err := hex.DecodeString(prefix + strings.Repeat("0", len(prefix)%2)); err != nil || len(prefix) < auth.TokenIDLen || len(prefix) > 64 {
			return usageErrorf("token revoke: --id must be %d to 64 hexadecimal digits, as `token list` shows", auth.TokenIDLen)
		}
	}
	cfg, st, err := c.openTenantStore(ctx, fs, &cf, *tenant)
	if err != nil {
		return err
	}
	defer st.Close()
	all, err := tenantTokens(ctx, cfg, st, *tenant)
	if err != nil {
		return fmt.Errorf("token revoke: %w", err)
	}
	var matches []tokenInfo
	for _, t := range all {
		if (*id != "" && strings.HasPrefix(hex.EncodeToString(t.hash[:]), prefix)) || (*name != "" && t.Name == *name) {
			matches = append(matches, t)
		}
	}
	what := fmt.Sprintf("id %s", *id)
	if *name != "" {
		what = fmt.Sprintf("name %q", *name)
	}
	switch len(matches) {
	case 0:
		return fmt.Errorf("token revoke: tenant %q has no token with %s (`scimbridge token list --tenant %s` lists them)", *tenant, what, *tenant)
	case 1:
	default:
		var b strings.Builder
		fmt.Fprintf(&b, "token revoke: %d tokens of tenant %q have %s; revoke one with --id:", len(matches), *tenant, what)
		for _, m := range matches {
			fmt.Fprintf(&b, "\n  %s  %s  %s  created %s", m.ID, cmp.Or(m.Name, "-"), m.Source, fmtTime(m.Created, "-"))
		}
		return errors.New(b.String())
	}
	m := matches[0]
	switch m.Source {
	case config.TokenSourceEnv:
		return fmt.Errorf("token revoke: token %s (%s) of tenant %q comes from the environment variable %s, not the store: "+
			"unset or change it where the server is started, then restart the server", m.ID, m.Name, *tenant, m.field)
	case config.TokenSourceConfig:
		return fmt.Errorf("token revoke: token %s (%q) of tenant %q comes from the config file (%s in %s), not the store: "+
			"remove it there, then restart the server", m.ID, m.Name, *tenant, m.field, c.configPath(&cf))
	}
	if err := auth.RevokeToken(ctx, st, *tenant, m.hash); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("token revoke: token %s of tenant %q was revoked meanwhile", m.ID, *tenant)
		}
		return fmt.Errorf("token revoke: %w", err)
	}
	fmt.Fprintf(c.stdout, "Revoked token %s (%q) of tenant %q. Running servers refuse it within %s.\n",
		m.ID, m.Name, *tenant, auth.StoredTokenMaxAge)
	return nil
}

// configPath is the config file the flags and environment name, for
// messages.
func (c *cli) configPath(cf *configFlags) string {
	if cf.config != "" {
		return cf.config
	}
	if p := c.getenv(envConfig); p != "" {
		return p
	}
	return "the config file"
}
