package transfer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/query"
)

// Defaults of ExportOptions.
const (
	DefaultPageSize    = 500
	DefaultMemberChunk = 1000
)

// ExportOptions configure Export.
type ExportOptions struct {
	// Tenants to export, in this order. Required.
	Tenants []string
	// PageSize is the number of resources read per store query
	// (default DefaultPageSize).
	PageSize int
	// MemberChunk is the number of member ids per members line
	// (default DefaultMemberChunk).
	MemberChunk int
	// Schemas, if set, lets Export tell whether resources were modified
	// while it ran (it queries meta.lastModified); without it that check
	// is skipped.
	Schemas *schemas.Registry
	// Progress, if set, is called after each resource with the number
	// of resources written so far and the number to write in all.
	Progress func(done, total int64)
	// Warnf, if set, receives warnings (the store changed during the
	// export).
	Warnf func(format string, args ...any)
	// Now returns the time (default time.Now).
	Now func() time.Time
}

// Summary is what Export wrote or Import read, per tenant (as named in the
// export).
type Summary struct {
	Tenants []string
	Counts  map[string]Counts
	Total   Counts
}

// ErrStoreChanged is returned by Export when a resource that was about to
// be exported disappeared while paging: the export would miss resources.
var ErrStoreChanged = errors.New("the store changed during the export")

// Export writes the tenants' state entries, resources and memberships to w
// as JSON Lines (see the package documentation). Resources are read in
// creation order, page by page; the pages overlap by one resource so that a
// deletion that would shift a later page (and make the export skip a
// resource) is noticed: Export then fails with ErrStoreChanged. Other
// changes made while Export runs are not an error but are reported through
// Warnf: for an exact copy, stop the servers (or at least the SCIM
// clients) first.
func Export(ctx context.Context, st store.Store, w io.Writer, opt ExportOptions) (Summary, error) {
	if len(opt.Tenants) == 0 {
		return Summary{}, errors.New("export: no tenant given")
	}
	if opt.PageSize <= 0 {
		opt.PageSize = DefaultPageSize
	}
	if opt.MemberChunk <= 0 {
		opt.MemberChunk = DefaultMemberChunk
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Warnf == nil {
		opt.Warnf = func(string, ...any) {}
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	e := &exporter{st: st, opt: opt, w: bw, enc: json.NewEncoder(bw)}
	e.enc.SetEscapeHTML(false)
	sum, err := e.run(ctx)
	if err != nil {
		return sum, fmt.Errorf("export: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return sum, fmt.Errorf("export: write: %w", err)
	}
	return sum, nil
}

type exporter struct {
	st    store.Store
	opt   ExportOptions
	w     *bufio.Writer
	enc   *json.Encoder
	lines int64
	done  int64
	total int64
}

func (e *exporter) write(v any) error {
	if err := e.enc.Encode(v); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	e.lines++
	return nil
}

func (e *exporter) run(ctx context.Context) (Summary, error) {
	sum := Summary{Counts: map[string]Counts{}}
	if e.opt.Progress != nil {
		for _, t := range e.opt.Tenants {
			for _, k := range []store.Kind{store.User, store.Group} {
				p, err := e.st.Query(ctx, t, k, store.Query{})
				if err != nil {
					return sum, fmt.Errorf("count %s resources of tenant %q: %w", k, t, err)
				}
				e.total += int64(p.Total)
			}
		}
		e.opt.Progress(0, e.total)
	}
	if err := e.write(headerLine{Type: typeHeader, Format: FormatName, Version: FormatVersion, ExportedAt: e.opt.Now().UTC()}); err != nil {
		return sum, err
	}
	for _, t := range e.opt.Tenants {
		if _, dup := sum.Counts[t]; dup {
			return sum, fmt.Errorf("tenant %q given twice", t)
		}
		c, err := e.tenant(ctx, t)
		if err != nil {
			return sum, fmt.Errorf("tenant %q: %w", t, err)
		}
		sum.Tenants = append(sum.Tenants, t)
		sum.Counts[t] = c
		sum.Total.add(c)
	}
	return sum, e.write(endLine{Type: typeEnd, Lines: e.lines, Counts: sum.Total, Tenants: sum.Counts})
}

func (e *exporter) tenant(ctx context.Context, tenant string) (Counts, error) {
	var c Counts
	since := e.opt.Now()
	if err := e.write(tenantLine{Type: typeTenant, Tenant: tenant}); err != nil {
		return c, err
	}
	entries, err := e.st.ListState(ctx, tenant, "")
	if err != nil {
		return c, fmt.Errorf("list state: %w", err)
	}
	for _, s := range entries {
		if skippedState(s.Key) {
			continue
		}
		if err := e.write(stateLine{Type: typeState, Tenant: tenant, Key: s.Key, Value: s.Value}); err != nil {
			return c, err
		}
		c.State++
	}
	if c.Users, err = e.resources(ctx, tenant, store.User, nil); err != nil {
		return c, err
	}
	if c.Groups, err = e.resources(ctx, tenant, store.Group, func(g store.Resource) error {
		n, err := e.members(ctx, g)
		c.Members += n
		return err
	}); err != nil {
		return c, err
	}
	e.checkUnchanged(ctx, tenant, since, c)
	return c, nil
}

// resources writes every resource of kind in creation order and calls after
// (if set) after each. Consecutive pages overlap by one resource: if it is
// not the last one of the previous page, resources before it were deleted
// and the page would skip some.
func (e *exporter) resources(ctx context.Context, tenant string, kind store.Kind, after func(store.Resource) error) (int64, error) {
	var n int64
	last := ""
	for {
		start, count := int(n)+1, e.opt.PageSize
		if last != "" {
			start, count = start-1, count+1
		}
		p, err := e.st.Query(ctx, tenant, kind, store.Query{StartIndex: start, Count: count})
		if err != nil {
			return n, fmt.Errorf("list %ss: %w", kind, err)
		}
		rs := p.Resources
		if last != "" {
			if len(rs) == 0 || rs[0].ID != last {
				return n, fmt.Errorf("%w: %s %q or an earlier one was deleted while paging; stop the server (or the SCIM clients) and export again", ErrStoreChanged, kind, last)
			}
			rs = rs[1:]
		}
		for _, r := range rs {
			if err := e.write(resourceLine{
				Type: typeResource, Tenant: tenant, Kind: kind, ID: r.ID, Version: r.Version,
				Created: r.Created.UTC(), LastModified: r.LastModified.UTC(), Attrs: nonNil(r.Attrs),
			}); err != nil {
				return n, err
			}
			n++
			if after != nil {
				if err := after(r); err != nil {
					return n, err
				}
			}
			e.done++
			if e.opt.Progress != nil {
				e.opt.Progress(e.done, max(e.total, e.done))
			}
		}
		if len(rs) < e.opt.PageSize {
			return n, nil
		}
		last = rs[len(rs)-1].ID
	}
}

// members writes the member ids of group g in chunks and returns how many.
func (e *exporter) members(ctx context.Context, g store.Resource) (int64, error) {
	var n int64
	after := ""
	for {
		ms, err := e.st.Members(ctx, g.Ref, after, e.opt.MemberChunk)
		if errors.Is(err, store.ErrNotFound) {
			// Deleted since its page was read; it is exported without
			// members. checkUnchanged warns about the changed count.
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("members of group %q: %w", g.ID, err)
		}
		if len(ms) == 0 {
			return n, nil
		}
		ids := make([]string, len(ms))
		for i, m := range ms {
			ids[i] = m.Value
		}
		if err := e.write(membersLine{Type: typeMembers, Tenant: g.Tenant, Group: g.ID, Members: ids}); err != nil {
			return n, err
		}
		n += int64(len(ids))
		if len(ms) < e.opt.MemberChunk {
			return n, nil
		}
		after = ids[len(ids)-1]
	}
}

// checkUnchanged warns if resources of tenant were created, deleted or
// modified since the tenant's export began.
func (e *exporter) checkUnchanged(ctx context.Context, tenant string, since time.Time, c Counts) {
	for _, k := range []store.Kind{store.User, store.Group} {
		want := c.Users
		if k == store.Group {
			want = c.Groups
		}
		p, err := e.st.Query(ctx, tenant, k, store.Query{})
		if err == nil && int64(p.Total) != want {
			e.opt.Warnf("tenant %q: the number of %ss changed during the export (%d exported, %d now); stop the server (or the SCIM clients) for an exact copy", tenant, k, want, p.Total)
			continue
		}
		if e.opt.Schemas == nil {
			continue
		}
		rt := e.opt.Schemas.ByName(string(k))
		if rt == nil {
			continue
		}
		f, err := query.Parse(rt, fmt.Sprintf("meta.lastModified ge %q", since.UTC().Format(time.RFC3339Nano)))
		if err != nil {
			continue
		}
		p, err = e.st.Query(ctx, tenant, k, store.Query{Filter: f})
		if err == nil && p.Total > 0 {
			e.opt.Warnf("tenant %q: %d %s(s) were modified during the export, which may hold an older or a mixed state of them; stop the server (or the SCIM clients) for an exact copy", tenant, p.Total, k)
		}
	}
}

func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
