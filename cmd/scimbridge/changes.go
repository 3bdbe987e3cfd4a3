package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/store"
)

const changesSynopsis = "[--tenant T] [--since SEQ|DURATION] [--id RESOURCE_ID] [--source S] [--follow] [--output text|json] [--config FILE] [--data-dir DIR]"

// changesPage is how many journal entries `changes` reads per call.
const changesPage = 500

// defaultChangesPoll is how often `changes --follow` asks the store for new
// entries.
const defaultChangesPoll = time.Second

// changeLine is one journal entry as `changes` prints it. The JSON field
// names are part of the command's interface (scripts pipe them into jq):
// every field is always present, empty when unknown.
type changeLine struct {
	Seq     int64          `json:"seq"`
	At      time.Time      `json:"at"`
	Op      store.ChangeOp `json:"op"`
	Kind    store.Kind     `json:"kind"`
	ID      string         `json:"id"`
	Version int64          `json:"version"`
	Name    string         `json:"name"`   // userName or displayName at the time of the write
	Source  string         `json:"source"` // push, pull:graph, pull:ldap, import, admin
	Actor   string         `json:"actor"`
	RunID   string         `json:"runId"`
	Added   []string       `json:"added"`
	Removed []string       `json:"removed"`
	// The attributes the write changed: paths, and old and new values of
	// the audited ones (store.AuditedAttrs).
	Changed []store.AttrChange `json:"changed"`
}

// lineOf converts a journal entry for printing.
func lineOf(c store.Change) changeLine {
	l := changeLine{Seq: c.Seq, At: c.At.UTC(), Op: c.Op, Kind: c.Kind, ID: c.ID, Version: c.Version,
		Name: c.Name, Source: string(c.Origin.Source), Actor: c.Origin.Actor, RunID: c.Origin.RunID,
		Added: c.Added, Removed: c.Removed, Changed: c.Changed}
	if l.Changed == nil {
		l.Changed = []store.AttrChange{}
	}
	if l.Added == nil {
		l.Added = []string{}
	}
	if l.Removed == nil {
		l.Removed = []string{}
	}
	return l
}

// changesFilter selects the entries `changes` prints.
type changesFilter struct {
	id     string
	source string    // "pull" also matches "pull:graph" and "pull:ldap"
	notBef time.Time // zero: any time
}

func (f changesFilter) match(l changeLine) bool {
	if f.id != "" && l.ID != f.id {
		return false
	}
	if f.source != "" && l.Source != f.source && !strings.HasPrefix(l.Source, f.source+":") {
		return false
	}
	return f.notBef.IsZero() || !l.At.Before(f.notBef)
}

// changes runs `scimbridge changes`: the tenant's change journal, oldest
// first, optionally followed.
func (c *cli) changes(ctx context.Context, args []string) error {
	fs := c.newFlagSet("changes", changesSynopsis)
	var cf configFlags
	cf.register(fs, false)
	tenant := fs.String("tenant", config.DefaultTenant, "tenant whose journal is shown")
	since := fs.String("since", "", "show only entries after this sequence number, or written within this duration (e.g. 90m, 24h, 7d)")
	id := fs.String("id", "", "show only the entries of the resource with this id")
	source := fs.String("source", "", "show only entries written by this source (push, pull:graph, pull:ldap, import, admin; pull matches every pull)")
	follow := fs.Bool("follow", false, "after the existing entries, print new ones as they are written, until interrupted")
	output := fs.String("output", "text", "output format: text, or json (one object per line)")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *output != "text" && *output != "json" {
		return usageErrorf("changes: --output must be text or json, not %q", *output)
	}
	after, window, err := parseSince(*since)
	if err != nil {
		return usageErrorf("changes: --since %q: %v", *since, err)
	}
	if *source != "" && !slices.Contains(changeSources, *source) {
		return usageErrorf("changes: --source must be one of %s, not %q", strings.Join(changeSources, ", "), *source)
	}
	_, st, err := c.openTenantStore(ctx, fs, &cf, *tenant)
	if err != nil {
		return err
	}
	defer st.Close()
	err = c.printChanges(ctx, st, *tenant, after, window, changesFilter{id: *id, source: *source}, *follow, *output == "json")
	if *follow && ctx.Err() != nil {
		return nil // interrupted: the normal end of --follow
	}
	if err != nil {
		return fmt.Errorf("changes: %w", err)
	}
	return nil
}

// changeSources are the values --source accepts: the sources of
// store/origin.go, and "pull" for any pull.
var changeSources = []string{
	string(store.SourcePush), "pull", string(store.SourcePullGraph), string(store.SourcePullLDAP),
	string(store.SourceImport), string(store.SourceAdmin),
}

// printChanges prints the tenant's journal entries after the sequence
// number after (or written within window) that f selects, and with follow
// goes on polling for new ones until ctx ends.
func (c *cli) printChanges(ctx context.Context, st store.Store, tenant string, after int64, window time.Duration,
	f changesFilter, follow, asJSON bool) error {
	// Entries up to the trim floor were removed by retention: an earlier
	// --since starts at the floor instead of failing.
	floor, err := st.TrimFloor(ctx, tenant)
	if err != nil {
		return err
	}
	after = max(after, floor)
	if window > 0 {
		f.notBef = time.Now().Add(-window)
		if after, err = seqBefore(ctx, st, tenant, f.notBef); err != nil {
			return err
		}
	}
	p := changePrinter{w: c.stdout, json: asJSON}
	if f.id != "" {
		// One resource: its entries written so far come from the per-resource
		// history instead of a scan of the whole journal, up to the journal's
		// current end; --follow goes on from there.
		end, err := lastSeq(ctx, st, tenant)
		if err != nil {
			return err
		}
		hist, err := history(ctx, st, tenant, f.id, after, end, changesPage)
		if err != nil {
			return err
		}
		for _, ch := range hist {
			if l := lineOf(ch); f.match(l) {
				if err := p.print(l); err != nil {
					return err
				}
			}
		}
		if !follow {
			return nil
		}
		after = max(after, end)
	}
	poll := c.changesPoll
	if poll <= 0 {
		poll = defaultChangesPoll
	}
	for {
		cs, err := st.Changes(ctx, tenant, after, changesPage)
		if err != nil {
			return err
		}
		for _, ch := range cs {
			after = ch.Seq
			if l := lineOf(ch); f.match(l) {
				if err := p.print(l); err != nil {
					return err
				}
			}
		}
		if len(cs) == changesPage {
			continue
		}
		if !follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// parseSince reads --since: a sequence number (entries after it) or a
// duration (entries written within it; Go syntax plus a "d" suffix for
// days).
func parseSince(s string) (after int64, window time.Duration, err error) {
	if s == "" {
		return 0, 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return 0, 0, fmt.Errorf("a sequence number must not be negative")
		}
		return n, 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || n <= 0 || n > 36500 {
			return 0, 0, fmt.Errorf("want a sequence number or a positive duration such as 90m, 24h or 7d")
		}
		return 0, time.Duration(n * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, 0, fmt.Errorf("want a sequence number or a positive duration such as 90m, 24h or 7d")
	}
	return 0, d, nil
}

// seqBefore returns a position from which Changes yields the tenant's
// entries written at or after t: the sequence number of the last entry
// written before t, or 0. It bisects the sequence numbers (see bisect),
// which relies on entry times rising with sequence numbers; the caller
// still filters by time, so a clock that stepped back can only hide entries
// written, by that clock, before t.
func seqBefore(ctx context.Context, st store.Store, tenant string, t time.Time) (int64, error) {
	return bisect(ctx, st, tenant, func(c store.Change) bool { return !c.At.Before(t) })
}

// lastSeq returns the sequence number of the tenant's last journal entry
// that Changes yields now (0 if none).
func lastSeq(ctx context.Context, st store.Store, tenant string) (int64, error) {
	return bisect(ctx, st, tenant, func(store.Change) bool { return false })
}

// bisect returns the sequence number of the last entry of the tenant's
// journal for which stop is false and after which stop holds for every
// entry (the trim floor, 0 if nothing was trimmed, if stop holds for the
// first one), given that stop, once true, stays
// true for the later entries. It reads one entry at a time, about 2·log2
// of the journal's last sequence number times, with Changes, so it works the
// same on every backend and with the gaps SQLite's global sequence numbers
// leave in a tenant's journal.
func bisect(ctx context.Context, st store.Store, tenant string, stop func(store.Change) bool) (int64, error) {
	// atOrAfter reports whether stop holds for the first entry after seq
	// (or there is none).
	atOrAfter := func(seq int64) (bool, error) {
		cs, err := st.Changes(ctx, tenant, seq, 1)
		if err != nil {
			return false, err
		}
		return len(cs) == 0 || stop(cs[0]), nil
	}
	// Entries up to the trim floor are gone (retention): start there.
	floor, err := st.TrimFloor(ctx, tenant)
	if err != nil {
		return 0, err
	}
	ok, err := atOrAfter(floor)
	if err != nil || ok {
		return floor, err
	}
	// Invariant: !atOrAfter(lo) && atOrAfter(hi).
	lo, step := floor, int64(1)
	hi := lo + step
	for {
		ok, err := atOrAfter(hi)
		if err != nil {
			return 0, err
		}
		if ok {
			break
		}
		lo, step = hi, 2*step
		hi = lo + step
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		ok, err := atOrAfter(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			hi = mid
		} else {
			lo = mid
		}
	}
	// The first entry after lo is at hi, and stop is false for it.
	return hi, nil
}

// history returns the journal entries of the resource id (of either kind:
// ids are unique across kinds while a resource exists) with after < Seq <=
// end, oldest first, from the per-resource history (store.Journal.History),
// read page entries at a time.
func history(ctx context.Context, st store.Store, tenant, id string, after, end int64, page int) ([]store.Change, error) {
	var out []store.Change
	for _, kind := range []store.Kind{store.User, store.Group} {
		before := end + 1
		for before > after+1 {
			cs, err := st.History(ctx, store.Ref{Tenant: tenant, Kind: kind, ID: id}, before, page)
			if err != nil {
				return nil, err
			}
			for _, c := range cs {
				if c.Seq > after && c.Seq <= end {
					out = append(out, c)
				}
			}
			if len(cs) < page {
				break
			}
			before = cs[len(cs)-1].Seq
		}
	}
	slices.SortFunc(out, func(a, b store.Change) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}

// changePrinter writes journal entries as text lines or JSON Lines.
type changePrinter struct {
	w    io.Writer
	json bool
}

func (p changePrinter) print(l changeLine) error {
	if p.json {
		b, err := json.Marshal(l)
		if err != nil {
			return err
		}
		_, err = p.w.Write(append(b, '\n'))
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%8d  %s  %-6s  %-5s  %s  v%d", l.Seq, l.At.Format("2006-01-02T15:04:05.000Z07:00"), l.Op, l.Kind, l.ID, l.Version)
	if l.Name != "" {
		fmt.Fprintf(&b, "  %s", quoteIfNeeded(l.Name))
	}
	for _, kv := range [][2]string{{"source", l.Source}, {"actor", l.Actor}, {"run", l.RunID}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, "  %s=%s", kv[0], quoteIfNeeded(kv[1]))
		}
	}
	if len(l.Added) > 0 {
		fmt.Fprintf(&b, "  added=%s", strings.Join(l.Added, ","))
	}
	if len(l.Removed) > 0 {
		fmt.Fprintf(&b, "  removed=%s", strings.Join(l.Removed, ","))
	}
	if len(l.Changed) > 0 {
		paths := make([]string, len(l.Changed))
		for i, a := range l.Changed {
			paths[i] = a.Path
			// An update's old and new values of the audited scalar
			// attributes (active, userName, ...); lists (emails) and
			// creations' values only in JSON, to keep the line short.
			if o, n, ok := scalars(a); ok && l.Op == store.OpUpdate {
				paths[i] += "(" + o + "->" + n + ")"
			}
		}
		fmt.Fprintf(&b, "  changed=%s", strings.Join(paths, ","))
	}
	b.WriteByte('\n')
	_, err := io.WriteString(p.w, b.String())
	return err
}

// scalars formats an attribute change's old and new values for a text
// line, if it has them and they are strings, booleans or numbers (an
// absent value is "unset").
func scalars(a store.AttrChange) (o, n string, ok bool) {
	if a.Old == nil && a.New == nil {
		return "", "", false
	}
	format := func(v any) (string, bool) {
		switch v := v.(type) {
		case nil:
			return "unset", true
		case string:
			return quoteIfNeeded(v), true
		case bool, float64, int64, int:
			return fmt.Sprint(v), true
		}
		return "", false
	}
	o, ok1 := format(a.Old)
	n, ok2 := format(a.New)
	return o, n, ok1 && ok2
}

// quoteIfNeeded quotes s if it holds spaces, quotes or control characters,
// so that a text line splits into its fields unambiguously.
func quoteIfNeeded(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == '"' || r == 0x7f }) {
		return strconv.Quote(s)
	}
	return s
}
