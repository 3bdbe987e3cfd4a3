package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/scimbridge/scimbridge/admin"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/internal/logging"
	"github.com/scimbridge/scimbridge/pull"
	"github.com/scimbridge/scimbridge/schemas"
)

const (
	pullSynopsis       = "[--config FILE] [--data-dir DIR] [--tenant T] [--dry-run] [--full] [--wait] [--progress]"
	pullStatusSynopsis = "[--config FILE] [--data-dir DIR] [--tenant T] [--limit N] [--output text|json]"
)

// Exit statuses of `pull` besides 0, 1 (the run failed) and 2 (usage).
const exitBusy = 3 // another process holds the tenant's pull lease

// pullPlanPage is how many plan items `pull --dry-run` reads at a time.
const pullPlanPage = 500

// pullLogEvery is how often `pull` prints its progress when stderr is not
// a terminal.
const pullLogEvery = 2 * time.Second

// pullCmd runs `scimbridge pull`: one round of a tenant's pull now, in this
// process, straight into the store. A `serve` running on the same store
// is no obstacle (see docs/graph-pull.md, "Pulling beside a running
// server"): the tenant's pull lease keeps the two from pulling at once,
// and the stores are safe for several processes.
func (c *cli) pullCmd(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "status" {
		return c.pullStatus(ctx, args[1:])
	}
	fs := c.newFlagSet("pull", pullSynopsis+"\n       scimbridge pull status "+pullStatusSynopsis)
	var cf configFlags
	cf.register(fs, false)
	tenant := fs.String("tenant", "", "tenant to pull (default: the only tenant with a pull section)")
	dryRun := fs.Bool("dry-run", false, "print what would change and change nothing, not even the checkpoint")
	full := fs.Bool("full", false, "ignore the stored delta link: read everything, and disable or delete (per onDelete) what no longer exists")
	wait := fs.Bool("wait", false, "when another process is pulling the tenant, wait for it to finish instead of exiting with status 3")
	progress := fs.Bool("progress", false, "show a progress bar on stderr even when stderr is not a terminal")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	cfg, err := c.load(fs, &cf)
	if err != nil {
		return err
	}
	name, err := pullTenant(cfg, *tenant)
	if err != nil {
		return err
	}
	bar := c.showProgress(*progress)
	logCfg := cfg.Log
	if logCfg.Level != "debug" {
		// The engine's info lines (one per skipped object) would bury the
		// progress and tear a bar apart; the summary counts them, and
		// log.level: debug shows them.
		logCfg.Level = "warn"
	}
	log, err := logging.New(c.stderr, logCfg)
	if err != nil {
		return err
	}
	reqs, err := pullRequests(cfg, log, name)
	if err != nil {
		return err
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

	eng := pull.NewEngine(st, pull.Options{Holder: holderID(), Logger: log})
	req := reqs[name]
	req.DryRun, req.Full, req.Wait, req.Trigger = *dryRun, *full, *wait, pull.TriggerCLI
	pr := c.newPullProgress(bar)
	req.Progress = pr.update
	if *wait {
		fmt.Fprintf(c.stderr, "Pulling tenant %q (waiting for another pull of it to finish, if one is running)...\n", name)
	}
	rec, err := eng.Run(ctx, req)
	pr.end(err)
	var busy *pull.BusyError
	switch {
	case errors.As(err, &busy):
		return &exitError{code: exitBusy, err: fmt.Errorf("pull: tenant %q is being pulled by %s; run again with --wait to wait for it", name, busyHolder(busy, time.Now()))}
	case errors.Is(err, pull.ErrBusy):
		return &exitError{code: exitBusy, err: fmt.Errorf("pull: tenant %q is being pulled by another process; run again with --wait to wait for it", name)}
	case err != nil && rec.ID == "":
		return fmt.Errorf("pull: %w", err)
	}
	printRunSummary(c.stdout, rec)
	if rec.DryRun && rec.ID != "" {
		if perr := c.printPlan(ctx, eng, rec); perr != nil && err == nil {
			err = perr
		}
	}
	if err != nil {
		return fmt.Errorf("pull: run %s failed: %w", rec.ID, err)
	}
	if rec.Outcome == pull.OutcomeFailed {
		return fmt.Errorf("pull: run %s failed", rec.ID)
	}
	return nil
}

// busyHolder says who holds a busy tenant's lease and since when.
func busyHolder(b *pull.BusyError, now time.Time) string {
	who := b.Holder
	if who == "" {
		who = "another process"
	}
	if b.Since.IsZero() {
		return who
	}
	return fmt.Sprintf("%s since %s (%s)", who, b.Since.UTC().Format(time.RFC3339), ago(now, b.Since))
}

// pullTenant picks the tenant to pull: the one named, or the only one with
// a pull section.
func pullTenant(cfg *config.Config, name string) (string, error) {
	with := cfg.PullTenants()
	if name != "" {
		if !cfg.HasTenant(name) {
			return "", usageErrorf("pull: tenant %q is not configured (tenants: %s)", name, strings.Join(cfg.TenantNames(), ", "))
		}
		if !slices.Contains(with, name) {
			return "", fmt.Errorf("pull: tenant %q has no pull section in the configuration (tenants[].pull; see docs/graph-pull.md)", name)
		}
		return name, nil
	}
	switch len(with) {
	case 0:
		return "", errors.New("pull: no tenant has a pull section in the configuration (tenants[].pull; see docs/graph-pull.md)")
	case 1:
		return with[0], nil
	}
	return "", usageErrorf("pull: several tenants pull (%s): choose one with --tenant", strings.Join(with, ", "))
}

// pullProgress shows a run's progress: a spinner with the counts on a
// terminal, a plain line every pullLogEvery otherwise.
type pullProgress struct {
	bar *progressbar.ProgressBar
	w   io.Writer

	mu     sync.Mutex
	last   pull.Progress
	logged time.Time
}

func (c *cli) newPullProgress(bar bool) *pullProgress {
	p := &pullProgress{w: c.stderr, logged: time.Now()}
	if bar {
		p.bar = c.newBar(-1, "pulling", progressbar.OptionSpinnerType(14), progressbar.OptionSetElapsedTime(true))
	}
	return p
}

func (p *pullProgress) update(pr pull.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = pr
	desc := fmt.Sprintf("pages %d, users %d, groups %d, memberships %d", pr.Pages, pr.Users, pr.Groups, pr.Memberships)
	if p.bar != nil {
		p.bar.Describe(desc)
		_ = p.bar.Set(pr.Users + pr.Groups) // drawing errors are not the run's
		return
	}
	if time.Since(p.logged) >= pullLogEvery {
		p.logged = time.Now()
		fmt.Fprintf(p.w, "pulling: %s\n", desc)
	}
}

func (p *pullProgress) end(err error) {
	if p.bar == nil {
		return
	}
	if err == nil {
		_ = p.bar.Finish()
		return
	}
	_ = p.bar.Exit()
}

// printRunSummary prints what a run did.
func printRunSummary(w io.Writer, rec pull.RunRecord) {
	kind := "Pull"
	if rec.DryRun {
		kind = "Dry run"
	}
	mode := "incremental"
	if rec.Full {
		mode = "full"
	}
	fmt.Fprintf(w, "%s of tenant %q (run %s, %s): %s in %s\n", kind, rec.Tenant, rec.ID, mode, rec.Outcome,
		fmtDur(rec.Finished.Sub(rec.Started)))
	n := rec.Counts
	fmt.Fprintf(w, "  read:      %d pages, %d users, %d groups, %d memberships\n", n.Pages, n.Users, n.Groups, n.Memberships)
	verb := ""
	if rec.DryRun {
		verb = " (would be; nothing was changed)"
	}
	fmt.Fprintf(w, "  created %d, updated %d, disabled %d, deleted %d, unchanged %d, skipped %d, errors %d%s\n",
		n.Created, n.Updated, n.Disabled, n.Deleted, n.Unchanged, n.Skipped, n.Errors, verb)
	if n.Unmatched > 0 {
		fmt.Fprintf(w, "  unmatched: %d resources of the tenant did not come from this source and were left alone\n", n.Unmatched)
	}
	if len(rec.Skips) > 0 {
		fmt.Fprintln(w, "  skipped:")
		reasons := make([]string, 0, len(rec.Skips))
		for r := range rec.Skips {
			reasons = append(reasons, r)
		}
		slices.Sort(reasons)
		for _, r := range reasons {
			fmt.Fprintf(w, "    %6d  %s\n", rec.Skips[r], r)
		}
	}
	if len(rec.Errors) > 0 {
		fmt.Fprintf(w, "  errors (first %d):\n", len(rec.Errors))
		for _, e := range rec.Errors {
			fmt.Fprintf(w, "    - %s\n", e)
		}
	}
}

// printPlan prints a dry run's plan, page by page: one line per object.
func (c *cli) printPlan(ctx context.Context, eng *pull.Engine, rec pull.RunRecord) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	n := 0
	for after := 0; ; {
		items, err := eng.Plan(ctx, rec.Tenant, rec.ID, after, pullPlanPage)
		if err != nil {
			return fmt.Errorf("read the plan: %w", err)
		}
		if n == 0 && len(items) > 0 {
			fmt.Fprintln(c.stdout, "Plan:")
		}
		for _, it := range items {
			n++
			line := fmt.Sprintf("  %s\t%s\t%s", it.Action, it.Kind, planName(it))
			if len(it.Changed) > 0 {
				line += "\t" + strings.Join(it.Changed, ", ")
			}
			fmt.Fprintln(tw, line)
			after = it.Seq
		}
		if len(items) < pullPlanPage {
			break
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintln(c.stdout, "Plan: nothing to change.")
	}
	return nil
}

// planName names a plan item's object: its name, and the bridge id of an
// existing resource.
func planName(it pull.PlanItem) string {
	name := it.Name
	if name == "" {
		name = "(object " + it.ObjectID + ")"
	}
	if it.ID != "" {
		name += " [" + it.ID + "]"
	}
	return name
}

// pullStatus runs `scimbridge pull status`: each pulling tenant's last
// runs and next scheduled run.
func (c *cli) pullStatus(ctx context.Context, args []string) error {
	fs := c.newFlagSet("pull status", pullStatusSynopsis)
	var cf configFlags
	cf.register(fs, false)
	tenant := fs.String("tenant", "", "tenant to show (default: every tenant with a pull section)")
	limit := fs.Int("limit", 10, "runs to show per tenant")
	output := fs.String("output", "text", "output format: text or json")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *output != "text" && *output != "json" {
		return usageErrorf("pull status: --output must be text or json, not %q", *output)
	}
	if *limit < 1 {
		return usageErrorf("pull status: --limit must be at least 1")
	}
	cfg, err := c.load(fs, &cf)
	if err != nil {
		return err
	}
	names := cfg.PullTenants()
	if *tenant != "" {
		name, err := pullTenant(cfg, *tenant)
		if err != nil {
			return err
		}
		names = []string{name}
	}
	if len(names) == 0 {
		return errors.New("pull status: no tenant has a pull section in the configuration (tenants[].pull; see docs/graph-pull.md)")
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
	eng := pull.NewEngine(st, pull.Options{Holder: holderID()})

	type tenantStatus struct {
		Tenant   string      `json:"tenant"`
		Interval string      `json:"interval"` // "" (on demand only) or a duration
		NextRun  *time.Time  `json:"nextRun"`
		Runs     []admin.Run `json:"runs"`
	}
	var all []tenantStatus
	for _, name := range names {
		runs, err := eng.Runs(ctx, name, *limit)
		if err != nil {
			return fmt.Errorf("pull status: tenant %q: %w", name, err)
		}
		next, err := eng.NextRun(ctx, name)
		if err != nil {
			return fmt.Errorf("pull status: tenant %q: %w", name, err)
		}
		ts := tenantStatus{Tenant: name, Runs: make([]admin.Run, 0, len(runs))}
		if iv := cfg.Tenant(name).Pull.Interval; iv > 0 {
			ts.Interval = fmtDur(iv)
		}
		if !next.IsZero() {
			ts.NextRun = &next
		}
		for _, r := range runs {
			ts.Runs = append(ts.Runs, admin.RunOf(r))
		}
		all = append(all, ts)
	}
	if *output == "json" {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(all)
	}
	now := time.Now()
	for i, ts := range all {
		if i > 0 {
			fmt.Fprintln(c.stdout)
		}
		sched := "on demand only (no pull.interval)"
		if ts.Interval != "" {
			sched = "every " + ts.Interval + "; next run "
			if ts.NextRun != nil {
				sched += ts.NextRun.UTC().Format(time.RFC3339) + " (" + ago(now, *ts.NextRun) + ")"
				if ts.NextRun.Before(now.Add(-time.Minute)) {
					sched += ", overdue: is a serve running?"
				}
			} else {
				sched += "not scheduled (no serve is running the schedule)"
			}
		}
		fmt.Fprintf(c.stdout, "Tenant %s: %s\n", ts.Tenant, sched)
		if len(ts.Runs) == 0 {
			fmt.Fprintln(c.stdout, "  no runs yet")
			continue
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  STARTED\tDURATION\tTRIGGER\tOUTCOME\tCREATED\tUPDATED\tDISABLED\tDELETED\tUNCHANGED\tSKIPPED\tERRORS")
		for _, r := range ts.Runs {
			outcome := r.Outcome
			if r.DryRun {
				outcome += " (dry run)"
			}
			if r.Full {
				outcome += " (full)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", r.Started.UTC().Format(time.RFC3339),
				fmtDur(time.Duration(r.DurationSeconds*float64(time.Second))), r.Trigger, outcome,
				r.Counts.Created, r.Counts.Updated, r.Counts.Disabled, r.Counts.Deleted, r.Counts.Unchanged, r.Counts.Skipped, r.Counts.Errors)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, r := range ts.Runs {
			if len(r.Errors) == 0 {
				continue
			}
			fmt.Fprintf(c.stdout, "  errors of the run started %s (%s):\n", r.Started.UTC().Format(time.RFC3339), r.ID)
			for j, e := range r.Errors {
				if j == 3 {
					fmt.Fprintf(c.stdout, "    … %d more (pull status --output json lists them)\n", len(r.Errors)-3)
					break
				}
				fmt.Fprintf(c.stdout, "    - %s\n", e)
			}
		}
	}
	return nil
}

// exitError is a failure with its own exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }
