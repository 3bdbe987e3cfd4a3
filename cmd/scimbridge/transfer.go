package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/internal/transfer"
	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
)

const (
	exportSynopsis = "[--config FILE] [--data-dir DIR] [--tenant T ... | --all-tenants] [--out FILE|-] [--progress]"
	importSynopsis = "[--config FILE] [--data-dir DIR] [--in FILE|-] [--tenant-map OLD=NEW ...] [--skip-existing] [--progress]"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// export runs `scimbridge export`: the configured store's tenants as JSON
// Lines (see internal/transfer) to a file or stdout.
func (c *cli) export(ctx context.Context, args []string) error {
	fs := c.newFlagSet("export", exportSynopsis)
	var cf configFlags
	cf.register(fs, false)
	var tenants stringList
	fs.Var(&tenants, "tenant", "export this tenant (repeatable; default: every configured tenant)")
	all := fs.Bool("all-tenants", false, "export every configured tenant (the default)")
	out := fs.String("out", "-", "output file, - for stdout; a file is written under a temporary name and renamed when complete")
	progress := fs.Bool("progress", false, "show a progress bar on stderr even when stderr is not a terminal")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if len(tenants) > 0 && *all {
		return usageErrorf("export: --tenant and --all-tenants exclude each other")
	}
	if strings.TrimSpace(*out) == "" {
		return usageErrorf("export: --out must not be empty")
	}
	cfg, reg, st, err := c.openTransferStore(ctx, fs, &cf)
	if err != nil {
		return err
	}
	defer st.Close()
	names := []string(tenants)
	if len(names) == 0 {
		names = cfg.TenantNames()
	}
	for _, t := range names {
		if !cfg.HasTenant(t) {
			return fmt.Errorf("export: tenant %q is not configured (tenants: %s)", t, strings.Join(cfg.TenantNames(), ", "))
		}
	}

	var w io.Writer = c.stdout
	var f *os.File
	if *out != "-" {
		// Written under a temporary name in the same directory, so that a
		// failed export never leaves a file that looks complete.
		f, err = os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".*.tmp")
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer func() {
			if f != nil {
				f.Close()
				os.Remove(f.Name())
			}
		}()
		w = f
	}
	var warnings []string
	var bar *progressbar.ProgressBar
	opt := transfer.ExportOptions{
		Tenants: names,
		Schemas: reg,
		Warnf:   func(format string, a ...any) { warnings = append(warnings, fmt.Sprintf(format, a...)) },
	}
	if c.showProgress(*progress) {
		bar = c.newBar(-1, "exporting", progressbar.OptionShowCount(), progressbar.OptionSetItsString("resources"), progressbar.OptionShowIts())
		opt.Progress = func(done, total int64) {
			if bar.GetMax64() != total {
				bar.ChangeMax64(total)
			}
			bar.Set64(done)
		}
	}
	sum, err := transfer.Export(ctx, st, w, opt)
	c.endBar(bar, err)
	c.printWarnings(warnings)
	if err != nil {
		return err
	}
	if f != nil {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if err := os.Rename(f.Name(), *out); err != nil {
			os.Remove(f.Name())
			f = nil
			return fmt.Errorf("export: %w", err)
		}
		f = nil
	}
	for _, t := range sum.Tenants {
		fmt.Fprintf(c.stderr, "Exported tenant %q: %v.\n", t, sum.Counts[t])
	}
	if *out != "-" {
		fmt.Fprintf(c.stderr, "Wrote %s. It holds personal data and token hashes: keep it safe.\n", *out)
	}
	return nil
}

// importCmd runs `scimbridge import`: an export into the configured store.
func (c *cli) importCmd(ctx context.Context, args []string) error {
	fs := c.newFlagSet("import", importSynopsis)
	var cf configFlags
	cf.register(fs, false)
	in := fs.String("in", "-", "export file to read, - for stdin")
	var maps stringList
	fs.Var(&maps, "tenant-map", "import the export's tenant OLD into tenant NEW (repeatable)")
	skip := fs.Bool("skip-existing", false, "leave resources and state entries that already exist in the target as they are instead of failing")
	progress := fs.Bool("progress", false, "show a progress bar on stderr even when stderr is not a terminal or the input a pipe")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	tenantMap := map[string]string{}
	for _, m := range maps {
		old, renamed, ok := strings.Cut(m, "=")
		old, renamed = strings.TrimSpace(old), strings.TrimSpace(renamed)
		if !ok || old == "" || renamed == "" {
			return usageErrorf("import: --tenant-map %q: want OLD=NEW", m)
		}
		if _, dup := tenantMap[old]; dup {
			return usageErrorf("import: --tenant-map: tenant %q is mapped twice", old)
		}
		tenantMap[old] = renamed
	}
	if strings.TrimSpace(*in) == "" {
		return usageErrorf("import: --in must not be empty")
	}
	var r io.Reader
	size := int64(-1)
	if *in == "-" {
		r = c.stdin
		if r == nil {
			r = strings.NewReader("")
		}
		if f, ok := r.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
				size = fi.Size()
			}
		}
	} else {
		f, err := os.Open(*in)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		r = f
	}
	cfg, _, st, err := c.openTransferStore(ctx, fs, &cf)
	if err != nil {
		return err
	}
	defer st.Close()

	var warnings []string
	var bar *progressbar.ProgressBar
	// From a pipe (`export | import`) the exporting side draws the bar:
	// two bars on one terminal would garble each other.
	if *progress || size >= 0 && c.showProgress(false) {
		bar = c.newBar(size, "importing", progressbar.OptionShowBytes(true))
		pr := progressbar.NewReader(r, bar)
		r = &pr
	}
	res, err := transfer.Import(ctx, st, r, transfer.ImportOptions{
		TenantMap:    tenantMap,
		SkipExisting: *skip,
		StringLimits: stringLimits(cfg),
		Actor:        osUser(),
		Warnf:        func(format string, a ...any) { warnings = append(warnings, fmt.Sprintf(format, a...)) },
		BeginTenant: func(target string) error {
			if !cfg.HasTenant(target) {
				return fmt.Errorf("tenant %q is not configured (tenants: %s); configure it, or import it into another tenant with --tenant-map %s=OTHER",
					target, strings.Join(cfg.TenantNames(), ", "), target)
			}
			return nil
		},
	})
	c.endBar(bar, err)
	c.printWarnings(warnings)
	for _, t := range res.Read.Tenants {
		target := t
		if n, ok := tenantMap[t]; ok {
			target = n
		}
		from := ""
		if target != t {
			from = fmt.Sprintf(" (tenant %q of the export)", t)
		}
		fmt.Fprintf(c.stderr, "Imported into tenant %q%s: %v.\n", target, from, res.Created[target])
		if sk, ok := res.Skipped[target]; ok && sk != (transfer.Counts{}) {
			fmt.Fprintf(c.stderr, "  Left as they were (already existing): %v.\n", sk)
		}
	}
	if err != nil {
		var le *transfer.LineError
		if errors.As(err, &le) && len(res.Read.Tenants) > 0 {
			return fmt.Errorf("%w\n(the lines before it were imported: after fixing the cause, run the import again with --skip-existing, or start over with an empty store)", err)
		}
		return err
	}
	return nil
}

// openTransferStore loads the configuration and the schemas and opens the
// configured store, the same way as `token create` and `serve` do, so that
// every store type the configuration can name works.
func (c *cli) openTransferStore(ctx context.Context, fs *flag.FlagSet, cf *configFlags) (*config.Config, *schemas.Registry, store.Store, error) {
	cfg, err := c.load(fs, cf)
	if err != nil {
		return nil, nil, nil, err
	}
	reg, err := schemas.Load(cfg.CustomSchemas()...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("load schemas: %w", err)
	}
	st, err := openStore(ctx, cfg, reg)
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, reg, st, nil
}

// showProgress reports whether to draw a progress bar on stderr: when
// forced, or when stderr is a terminal.
func (c *cli) showProgress(force bool) bool {
	if force {
		return true
	}
	f, ok := c.stderr.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// newBar returns a progress bar on stderr; max -1 draws a spinner.
func (c *cli) newBar(max int64, desc string, opts ...progressbar.Option) *progressbar.ProgressBar {
	opts = append([]progressbar.Option{
		progressbar.OptionSetWriter(c.stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(c.stderr) }),
	}, opts...)
	return progressbar.NewOptions64(max, opts...)
}

// endBar completes the bar, or leaves it where it stopped on failure.
func (c *cli) endBar(bar *progressbar.ProgressBar, err error) {
	if bar == nil {
		return
	}
	if err == nil {
		bar.Finish()
		return
	}
	bar.Exit()
	fmt.Fprintln(c.stderr)
}

func (c *cli) printWarnings(ws []string) {
	for _, w := range ws {
		fmt.Fprintf(c.stderr, "Warning: %s\n", w)
	}
}

// osUser is the name of the user running the command ("" if unknown), the
// Actor an import's journal entries name.
func osUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}
