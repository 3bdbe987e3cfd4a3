package transfer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
)

// maxLineBytes caps one line of an export (a resource with very large
// attributes; a members line holds at most 1,000 ids).
const maxLineBytes = 64 << 20

// existsChunk is the number of ids per store.Store.Exists call.
const existsChunk = 1000

// ImportOptions configure Import.
type ImportOptions struct {
	// TenantMap renames tenants: the data of tenant old in the export
	// goes to tenant TenantMap[old]. Tenants not in the map keep their
	// name.
	TenantMap map[string]string
	// SkipExisting skips resources whose id and state entries whose key
	// already exist in the target tenant (they are left as they are,
	// memberships included) instead of failing.
	SkipExisting bool
	// BeginTenant, if set, is called with the target tenant before its
	// first write; an error stops the import.
	BeginTenant func(target string) error
	// Warnf, if set, receives warnings.
	Warnf func(format string, args ...any)
	// StringLimits are the server's string length limits (limits.* in the
	// configuration; zero fields: the defaults). A resource with a value
	// over a limit is imported as it is, never cut or dropped, with a
	// warning: the server keeps serving it, and refuses only requests that
	// set a new value over the limit.
	StringLimits schemas.StringLimits
	// RunID identifies this import in the change journal (the RunID of
	// the store.Origin its writes carry, with Source store.SourceImport);
	// "" generates one (ImportResult.RunID). Actor, if set, is who ran it.
	RunID, Actor string
}

// maxLimitWarnings caps the warnings about values over a limit; the rest are
// counted in one last warning.
const maxLimitWarnings = 20

// ImportResult is what Import did.
type ImportResult struct {
	// Read is what the input held, per tenant as named in the export.
	Read Summary
	// Created and Skipped (existing, with SkipExisting) per target tenant.
	Created map[string]Counts
	Skipped map[string]Counts
	// RunID is the import's run id in the change journal.
	RunID string
}

// LineError is an error about one line of the input; Line counts from 1.
type LineError struct {
	Line int64
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

// Import reads an export from r into st (see the package documentation):
// every resource keeps its id, version and timestamps, every group its
// members, every state entry its value. The target may hold data already:
// an id or state key that exists in it is an error naming the line (nothing
// more is imported; what came before stays), unless SkipExisting. So is a
// malformed line, a header of another format or version, and a trailer whose
// counts disagree with what was read. The import is not atomic: after a
// failure, fix the cause and run it again with SkipExisting, or start over
// with an empty store.
func Import(ctx context.Context, st store.Store, r io.Reader, opt ImportOptions) (ImportResult, error) {
	if opt.Warnf == nil {
		opt.Warnf = func(string, ...any) {}
	}
	if opt.RunID == "" {
		opt.RunID = newRunID(time.Now())
	}
	ctx = store.WithOrigin(ctx, store.Origin{Source: store.SourceImport, Actor: opt.Actor, RunID: opt.RunID})
	im := &importer{
		st: st, opt: opt, r: bufio.NewReaderSize(r, 256<<10),
		res: ImportResult{
			Read:    Summary{Counts: map[string]Counts{}},
			Created: map[string]Counts{},
			Skipped: map[string]Counts{},
			RunID:   opt.RunID,
		},
	}
	err := im.run(ctx)
	if n := im.overLimit - maxLimitWarnings; n > 0 {
		opt.Warnf("%d more resource(s) have values over a length limit (imported as they are)", n)
	}
	for old := range opt.TenantMap {
		if _, ok := im.res.Read.Counts[old]; !ok && err == nil {
			opt.Warnf("--tenant-map %s=%s: the input has no tenant %q", old, opt.TenantMap[old], old)
		}
	}
	if err != nil {
		return im.res, fmt.Errorf("import: %w", err)
	}
	return im.res, nil
}

type importer struct {
	st  store.Store
	opt ImportOptions
	r   *bufio.Reader
	buf []byte
	res ImportResult

	line    int64 // physical line number of the current line
	records int64 // non-blank lines read before the current one

	header  bool
	tenant  string // current tenant as named in the export; "" before the first
	target  string // its name in the target store
	counts  Counts // read so far for the current tenant
	pending *group // the group whose members lines are being read
	// deferred are groups of the current tenant that have members not
	// created yet (a nested group later in the stream); waiters lists
	// them by missing member id. A deferred group is created as soon as
	// its last missing member is.
	deferred []*group
	waiters  map[string][]*group
	// overLimit counts the resources with a value over a length limit.
	overLimit int
}

// group is a group resource with its member ids.
type group struct {
	r       store.Resource
	members []string
	line    int64
	missing map[string]bool // deferred: the members that do not exist yet
	done    bool            // deferred: created since
}

func (im *importer) errorf(line int64, format string, args ...any) error {
	return &LineError{Line: line, Err: fmt.Errorf(format, args...)}
}

// readLine returns the next line without its end; io.EOF at the end.
func (im *importer) readLine() ([]byte, error) {
	im.buf = im.buf[:0]
	for {
		chunk, err := im.r.ReadSlice('\n')
		im.buf = append(im.buf, chunk...)
		if len(im.buf) > maxLineBytes {
			return nil, im.errorf(im.line+1, "line is longer than %d bytes", maxLineBytes)
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(im.buf) > 0:
			err = nil
		case err != nil && !errors.Is(err, io.EOF):
			return nil, fmt.Errorf("read line %d: %w", im.line+1, err)
		}
		if err != nil {
			return nil, err
		}
		im.line++
		return bytes.TrimRight(im.buf, "\r\n"), nil
	}
}

func (im *importer) run(ctx context.Context) error {
	for {
		b, err := im.readLine()
		if errors.Is(err, io.EOF) {
			if !im.header {
				return im.errorf(im.line+1, "the input is empty: not a scimbridge export")
			}
			return im.errorf(im.line+1, "the input ends without the trailer line: it is truncated (what came before was imported; the last group, if any, was not)")
		}
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var rec record
		if err := json.Unmarshal(b, &rec); err != nil {
			if !im.header {
				return im.errorf(im.line, "not a scimbridge export (the first line is not a JSON header: %v)", err)
			}
			return im.errorf(im.line, "bad JSON: %v", err)
		}
		done, err := im.record(ctx, &rec)
		if err != nil {
			return err
		}
		im.records++
		if done {
			break
		}
	}
	// Nothing may follow the trailer.
	for {
		b, err := im.readLine()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(b)) > 0 {
			return im.errorf(im.line, "data after the trailer line")
		}
	}
}

// record handles one line; done is true after the trailer.
func (im *importer) record(ctx context.Context, rec *record) (done bool, err error) {
	if !im.header {
		if rec.Type != typeHeader || rec.Format != FormatName {
			return false, im.errorf(im.line, "not a scimbridge export (the first line must be the header with format %q)", FormatName)
		}
		if rec.Version != FormatVersion {
			return false, im.errorf(im.line, "export format version %d is not supported (this scimbridge reads version %d)", rec.Version, FormatVersion)
		}
		im.header = true
		return false, nil
	}
	if rec.Type != typeMembers {
		if err := im.flushGroup(ctx); err != nil {
			return false, err
		}
	}
	if rec.Type != typeTenant && rec.Type != typeEnd && rec.Type != typeHeader {
		if im.tenant == "" {
			return false, im.errorf(im.line, "a %q line before the first tenant line", rec.Type)
		}
		if rec.Tenant != im.tenant {
			return false, im.errorf(im.line, "tenant %q inside the data of tenant %q", rec.Tenant, im.tenant)
		}
	}
	switch rec.Type {
	case typeHeader:
		return false, im.errorf(im.line, "a second header line")
	case typeTenant:
		return false, im.beginTenant(ctx, rec.Tenant)
	case typeState:
		return false, im.state(ctx, rec)
	case typeResource:
		return false, im.resource(ctx, rec)
	case typeMembers:
		return false, im.members(rec)
	case typeEnd:
		if err := im.endTenant(ctx); err != nil {
			return false, err
		}
		return true, im.trailer(rec)
	case "":
		return false, im.errorf(im.line, "the line has no type")
	}
	return false, im.errorf(im.line, "unknown line type %q", rec.Type)
}

func (im *importer) beginTenant(ctx context.Context, tenant string) error {
	if err := im.endTenant(ctx); err != nil {
		return err
	}
	if tenant == "" {
		return im.errorf(im.line, "tenant line without a tenant name")
	}
	if _, dup := im.res.Read.Counts[tenant]; dup {
		return im.errorf(im.line, "tenant %q appears twice", tenant)
	}
	target := tenant
	if t, ok := im.opt.TenantMap[tenant]; ok {
		target = t
	}
	if im.opt.BeginTenant != nil {
		if err := im.opt.BeginTenant(target); err != nil {
			return im.errorf(im.line, "%w", err)
		}
	}
	im.tenant, im.target, im.counts = tenant, target, Counts{}
	im.deferred, im.waiters = nil, map[string][]*group{}
	im.res.Read.Tenants = append(im.res.Read.Tenants, tenant)
	im.res.Read.Counts[tenant] = Counts{}
	return nil
}

// endTenant creates the deferred groups of the current tenant and records
// its counts.
func (im *importer) endTenant(ctx context.Context) error {
	if im.tenant == "" {
		return nil
	}
	if err := im.resolveDeferred(ctx); err != nil {
		return err
	}
	im.res.Read.Counts[im.tenant] = im.counts
	im.res.Read.Total.add(im.counts)
	im.tenant = ""
	return nil
}

func (im *importer) created(f func(*Counts)) {
	c := im.res.Created[im.target]
	f(&c)
	im.res.Created[im.target] = c
}

func (im *importer) skipped(f func(*Counts)) {
	c := im.res.Skipped[im.target]
	f(&c)
	im.res.Skipped[im.target] = c
}

func (im *importer) state(ctx context.Context, rec *record) error {
	if rec.Key == "" || rec.Value == nil {
		return im.errorf(im.line, "state line without key or value")
	}
	im.counts.State++
	_, err := im.st.PutState(ctx, im.target, rec.Key, *rec.Value, 0)
	switch {
	case err == nil:
		im.created(func(c *Counts) { c.State++ })
		return nil
	case errors.Is(err, store.ErrPrecondition) && im.opt.SkipExisting:
		im.skipped(func(c *Counts) { c.State++ })
		return nil
	case errors.Is(err, store.ErrPrecondition):
		return im.errorf(im.line, "state entry %q already exists in tenant %q of the target store (--skip-existing keeps the existing one)", rec.Key, im.target)
	}
	return im.errorf(im.line, "state entry %q: %w", rec.Key, err)
}

func (im *importer) resource(ctx context.Context, rec *record) error {
	switch {
	case rec.Kind != store.User && rec.Kind != store.Group:
		return im.errorf(im.line, "resource kind %q is neither User nor Group", rec.Kind)
	case rec.ID == "":
		return im.errorf(im.line, "resource without id")
	case rec.Version < 1:
		return im.errorf(im.line, "%s %q: version %d, want 1 or more", rec.Kind, rec.ID, rec.Version)
	case rec.Created.IsZero() || rec.LastModified.IsZero():
		return im.errorf(im.line, "%s %q: created or lastModified missing", rec.Kind, rec.ID)
	}
	r := store.Resource{
		Ref:     store.Ref{Tenant: im.target, Kind: rec.Kind, ID: rec.ID},
		Version: rec.Version, Created: rec.Created, LastModified: rec.LastModified,
		Attrs: nonNil(rec.Attrs),
	}
	im.checkLimits(r)
	if rec.Kind == store.Group {
		im.counts.Groups++
		im.pending = &group{r: r, line: im.line}
		return nil
	}
	im.counts.Users++
	return im.create(ctx, r, nil, im.line)
}

// checkLimits warns about the string values of r over the server's limits.
// They are imported unchanged: an import never loses data.
func (im *importer) checkLimits(r store.Resource) {
	over := im.opt.StringLimits.Check(r.Attrs, nil)
	if len(over) == 0 {
		return
	}
	im.overLimit++
	if im.overLimit > maxLimitWarnings {
		return
	}
	parts := make([]string, len(over))
	for i, o := range over {
		parts[i] = fmt.Sprintf("%q is %d bytes (limit %d)", o.Attribute, o.Bytes, o.Limit)
	}
	im.opt.Warnf("line %d: %s %q of tenant %q has values over the length limits (limits.maxStringBytes, limits.maxIdentifierBytes): %s; imported as they are (the server keeps them, and refuses only a request that sets a new value over a limit)",
		im.line, r.Kind, r.ID, im.target, strings.Join(parts, ", "))
}

func (im *importer) members(rec *record) error {
	g := im.pending
	if g == nil || rec.Group != g.r.ID {
		return im.errorf(im.line, "members of group %q do not follow its resource line", rec.Group)
	}
	im.counts.Members += int64(len(rec.Members))
	g.members = append(g.members, rec.Members...)
	return nil
}

// flushGroup creates the pending group with its members, or defers it to
// the end of the tenant if some members do not exist yet.
func (im *importer) flushGroup(ctx context.Context) error {
	g := im.pending
	if g == nil {
		return nil
	}
	im.pending = nil
	missing, err := im.missing(ctx, g.members)
	if err != nil {
		return im.errorf(g.line, "group %q: %w", g.r.ID, err)
	}
	if len(missing) > 0 {
		g.missing = map[string]bool{}
		for _, id := range missing {
			g.missing[id] = true
			im.waiters[id] = append(im.waiters[id], g)
		}
		im.deferred = append(im.deferred, g)
		return nil
	}
	return im.createGroup(ctx, g)
}

// missing returns the ids that are not resources of the target tenant.
func (im *importer) missing(ctx context.Context, ids []string) ([]string, error) {
	var out []string
	for chunk := range slices.Chunk(ids, existsChunk) {
		found, err := im.st.Exists(ctx, im.target, chunk)
		if err != nil {
			return nil, err
		}
		for _, id := range chunk {
			if _, ok := found[id]; !ok {
				out = append(out, id)
			}
		}
	}
	return out, nil
}

func (im *importer) createGroup(ctx context.Context, g *group) error {
	ms := make([]store.Member, len(g.members))
	for i, id := range g.members {
		ms[i] = store.Member{Value: id}
	}
	return im.create(ctx, g.r, ms, g.line)
}

// create creates r, or skips it if its id exists and SkipExisting.
func (im *importer) create(ctx context.Context, r store.Resource, members []store.Member, line int64) error {
	_, err := im.st.Create(ctx, r, members)
	count := func(c *Counts) {
		if r.Kind == store.User {
			c.Users++
		} else {
			c.Groups++
			c.Members += int64(len(members))
		}
	}
	var ce *store.ConflictError
	if errors.As(err, &ce) && ce.Attribute != "id" {
		// A backend may report another unique attribute first when the
		// id exists too (it is the same resource, imported before).
		if found, xerr := im.st.Exists(ctx, im.target, []string{r.ID}); xerr == nil && found[r.ID] != "" {
			ce = &store.ConflictError{Attribute: "id"}
		}
	}
	switch {
	case err == nil:
		im.created(count)
	case ce != nil && ce.Attribute == "id" && im.opt.SkipExisting:
		im.skipped(count)
	case ce != nil && ce.Attribute == "id":
		return im.errorf(line, "%s %q: a resource with this id already exists in tenant %q of the target store (--skip-existing leaves it as it is)", r.Kind, r.ID, im.target)
	case ce != nil:
		return im.errorf(line, "%s %q: another resource of tenant %q in the target store has the same %s", r.Kind, r.ID, im.target, ce.Attribute)
	default:
		return im.errorf(line, "%s %q: %w", r.Kind, r.ID, err)
	}
	return im.unblock(ctx, r.ID)
}

// unblock creates the deferred groups that waited only for id.
func (im *importer) unblock(ctx context.Context, id string) error {
	gs := im.waiters[id]
	if len(gs) == 0 {
		return nil
	}
	delete(im.waiters, id)
	for _, g := range gs {
		delete(g.missing, id)
		if len(g.missing) > 0 || g.done {
			continue
		}
		g.done = true
		if err := im.createGroup(ctx, g); err != nil {
			return err
		}
	}
	return nil
}

// resolveDeferred handles the deferred groups left at the end of a tenant:
// they are in a membership cycle (A in B, B in A), or name members that are
// in neither the export nor the target store. They are created with the
// members that exist, and the cycle's members are added afterwards with an
// update, which changes their version and lastModified (with a warning).
func (im *importer) resolveDeferred(ctx context.Context) error {
	var left []*group
	waiting := map[string]bool{}
	for _, g := range im.deferred {
		if !g.done {
			left = append(left, g)
			waiting[g.r.ID] = true
		}
	}
	im.deferred, im.waiters = nil, map[string][]*group{}
	type later struct {
		g   *group
		add []store.Member
	}
	var updates []later
	for _, g := range left {
		// Earlier groups of the cycle exist by now.
		missing, err := im.missing(ctx, g.members)
		if err != nil {
			return im.errorf(g.line, "group %q: %w", g.r.ID, err)
		}
		var add []store.Member
		var dangling []string
		for _, id := range missing {
			switch {
			case waiting[id]:
				add = append(add, store.Member{Value: id})
			default:
				dangling = append(dangling, id)
			}
		}
		if len(dangling) > 0 {
			im.opt.Warnf("line %d: group %q of tenant %q: %d member(s) are neither in the export nor in the target store and were left out: %s",
				g.line, g.r.ID, im.target, len(dangling), abbreviate(dangling))
		}
		if err := im.createGroup(ctx, g); err != nil {
			return err
		}
		if len(add) > 0 {
			updates = append(updates, later{g, add})
		}
	}
	for _, u := range updates {
		r, err := im.st.Update(ctx, u.g.r.Ref, func(*store.Resource) (store.MemberDelta, error) {
			return store.MemberDelta{Add: u.add}, nil
		})
		if err != nil {
			return im.errorf(u.g.line, "group %q: add members: %w", u.g.r.ID, err)
		}
		im.opt.Warnf("line %d: group %q of tenant %q is in a membership cycle: its members are complete, but its version is %d (exported: %d) and its lastModified the time of the import",
			u.g.line, u.g.r.ID, im.target, r.Version, u.g.r.Version)
	}
	return nil
}

func abbreviate(ids []string) string {
	const n = 5
	if len(ids) <= n {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:n], ", ") + fmt.Sprintf(" and %d more", len(ids)-n)
}

// trailer checks the trailer's counts against what was read.
func (im *importer) trailer(rec *record) error {
	if rec.Lines == nil || rec.Counts == nil || rec.Tenants == nil {
		return im.errorf(im.line, "the trailer line lacks lines, counts or tenants")
	}
	if *rec.Lines != im.records {
		return im.errorf(im.line, "the trailer says %d lines come before it, but %d were read: the file is incomplete or was edited", *rec.Lines, im.records)
	}
	for _, t := range im.res.Read.Tenants {
		want, ok := rec.Tenants[t]
		if !ok {
			return im.errorf(im.line, "tenant %q is not in the trailer's counts: the file was edited", t)
		}
		if got := im.res.Read.Counts[t]; got != want {
			return im.errorf(im.line, "the trailer says tenant %q has %v, but %v were read: the file is incomplete or was edited", t, want, got)
		}
	}
	for t := range rec.Tenants {
		if _, ok := im.res.Read.Counts[t]; !ok {
			return im.errorf(im.line, "the trailer counts tenant %q, which is not in the file: the file is incomplete or was edited", t)
		}
	}
	if *rec.Counts != im.res.Read.Total {
		return im.errorf(im.line, "the trailer says %v in all, but %v were read: the file is incomplete or was edited", *rec.Counts, im.res.Read.Total)
	}
	return nil
}

// newRunID returns an import's run id: when it started, and random bits
// that tell apart imports started in the same second.
func newRunID(now time.Time) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "import-" + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}
