package mongo

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/query"
)

// termFields are the shadow fields of the indexed query fields.
var termFields = map[string]string{
	query.FieldID:           "id",
	query.FieldExternalID:   "ext",
	query.FieldUserName:     "un",
	query.FieldDisplayName:  "dn",
	query.FieldEmailValue:   "em",
	query.FieldActive:       "act",
	query.FieldCreated:      "c",
	query.FieldLastModified: "m",
}

var mongoOps = map[query.Op]string{query.Gt: "$gt", query.Ge: "$gte", query.Lt: "$lt", query.Le: "$lte"}

// Query lists the resources of one kind in a tenant matching q.Filter,
// sorted and paged.
//
// The filter is planned with query.Plan: its indexed terms become the
// MongoDB filter (members.value and groups.value through the membership
// records). When the
// terms express the whole filter and the order is creation order, MongoDB
// counts and pages; otherwise the candidates are matched with query.Match
// and sorted in memory.
func (s *Store) Query(ctx context.Context, tenant string, kind store.Kind, q store.Query) (store.Page, error) {
	if err := store.CheckKind(kind); err != nil {
		return store.Page{}, fmt.Errorf("mongo query: %w", err)
	}
	terms, exact := query.Plan(q.Filter)
	f := bson.D{{Key: "t", Value: tenant}, {Key: "k", Value: string(kind)}, {Key: "del", Value: false}}
	for _, t := range terms {
		c, err := s.termFilter(ctx, tenant, kind, t)
		if err != nil {
			return store.Page{}, fmt.Errorf("mongo query: %w", err)
		}
		f = append(f, c...)
	}
	offset := max(q.StartIndex, 1) - 1
	count := max(q.Count, 0)
	_, sorted := store.ResolveSort(s.reg.ByName(string(kind)), q.SortBy)
	order := bson.D{{Key: "t", Value: 1}, {Key: "k", Value: 1}, {Key: "o", Value: 1}, {Key: "c", Value: 1}, {Key: "id", Value: 1}}
	page := store.Page{Resources: []store.Resource{}}
	if exact && !sorted {
		if count > 0 {
			rs, err := s.find(ctx, f, options.Find().SetSort(order).SetSkip(int64(offset)).SetLimit(int64(count)))
			if err != nil {
				return store.Page{}, fmt.Errorf("mongo query: %w", err)
			}
			page.Resources = rs
			if len(rs) < count && (len(rs) > 0 || offset == 0) {
				page.Total = offset + len(rs)
				return page, nil
			}
		}
		n, err := s.res.CountDocuments(ctx, f)
		if err != nil {
			return store.Page{}, fmt.Errorf("mongo query: %w", mapErr(err))
		}
		page.Total = int(n)
		return page, nil
	}
	cands, err := s.find(ctx, f, options.Find().SetSort(order))
	if err != nil {
		return store.Page{}, fmt.Errorf("mongo query: %w", err)
	}
	// A member list that fails to load must fail the query, not match
	// as if the group (or the user's group list) were empty.
	var loadErr error
	page = store.PageInMemory(cands, q, exact, s.reg.ByName(string(kind)), func(r store.Resource) query.Subject {
		return store.StoreSubject(ctx, s, r, &loadErr)
	})
	if loadErr != nil {
		return store.Page{}, fmt.Errorf("mongo query: %w", loadErr)
	}
	return page, nil
}

func (s *Store) find(ctx context.Context, f bson.D, o *options.FindOptionsBuilder) ([]store.Resource, error) {
	hs, err := findAll[head](ctx, s.res, f, o)
	if err != nil {
		return nil, err
	}
	out := make([]store.Resource, 0, len(hs))
	for i := range hs {
		r, err := hs[i].resource()
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// termFilter returns the filter conditions of one planned term.
func (s *Store) termFilter(ctx context.Context, tenant string, kind store.Kind, t query.Term) (bson.D, error) {
	if t.Or != nil {
		var alts bson.A
		for _, alt := range t.Or {
			c, err := s.termFilter(ctx, tenant, kind, alt)
			if err != nil {
				return nil, err
			}
			alts = append(alts, c)
		}
		return bson.D{{Key: "$or", Value: alts}}, nil
	}
	switch t.Field {
	case query.FieldMemberValue:
		ms, err := findAll[memberDoc](ctx, s.mem, bson.D{{Key: "t", Value: tenant}, {Key: "m", Value: t.Value}},
			options.Find().SetProjection(bson.D{{Key: "g", Value: 1}}))
		if err != nil {
			return nil, err
		}
		gids := bson.A{}
		for _, m := range ms {
			gids = append(gids, m.G)
		}
		return bson.D{{Key: "id", Value: bson.D{{Key: "$in", Value: gids}}}}, nil
	case query.FieldGroupValue:
		ms, err := findAll[memberDoc](ctx, s.mem, bson.D{{Key: "t", Value: tenant}, {Key: "g", Value: t.Value}},
			options.Find().SetProjection(bson.D{{Key: "m", Value: 1}}))
		if err != nil {
			return nil, err
		}
		uids := bson.A{}
		for _, m := range ms {
			uids = append(uids, m.M)
		}
		return bson.D{{Key: "id", Value: bson.D{{Key: "$in", Value: uids}}}}, nil
	case query.FieldActive:
		return bson.D{{Key: "act", Value: t.Value.(bool)}}, nil
	case query.FieldCreated, query.FieldLastModified:
		n := t.Value.(time.Time).UnixNano()
		if t.Op == query.Eq {
			return bson.D{{Key: termFields[t.Field], Value: n}}, nil
		}
		op, ok := mongoOps[t.Op]
		if !ok {
			return nil, fmt.Errorf("unsupported term %s %s", t.Field, t.Op)
		}
		return bson.D{{Key: termFields[t.Field], Value: bson.D{{Key: op, Value: n}}}}, nil
	}
	field, ok := termFields[t.Field]
	if !ok {
		return nil, fmt.Errorf("unsupported term field %q", t.Field)
	}
	v := t.Value.(string)
	switch {
	case t.Op == query.Eq && t.Field == query.FieldUserName && kind == store.User:
		// The unique index (t, xu): an index lookup.
		return bson.D{{Key: "xu", Value: v}}, nil
	case t.Op == query.Eq:
		return bson.D{{Key: field, Value: v}}, nil
	case v == "":
		return bson.D{{Key: field, Value: bson.D{{Key: "$type", Value: "string"}}}}, nil
	case t.Op == query.Sw:
		return bson.D{{Key: field, Value: bson.D{{Key: "$regex", Value: "^" + regexp.QuoteMeta(v)}}}}, nil
	case t.Op == query.Ew:
		return bson.D{{Key: field, Value: bson.D{{Key: "$regex", Value: regexp.QuoteMeta(v) + "$"}}}}, nil
	default: // co
		return bson.D{{Key: field, Value: bson.D{{Key: "$regex", Value: regexp.QuoteMeta(v)}}}}, nil
	}
}

// Members lists a group's members ordered by id; see store.Store. It
// returns store.ErrNotFound if the group does not exist.
func (s *Store) Members(ctx context.Context, group store.Ref, after string, limit int) ([]store.Member, error) {
	if _, err := s.live(ctx, group); err != nil {
		return nil, fmt.Errorf("mongo members: %w", err)
	}
	out := []store.Member{}
	for {
		o := options.Find().SetSort(bson.D{{Key: "t", Value: 1}, {Key: "g", Value: 1}, {Key: "m", Value: 1}})
		want := 0
		if limit > 0 {
			want = limit - len(out)
			o.SetLimit(int64(want))
		}
		ms, err := findAll[memberDoc](ctx, s.mem, bson.D{{Key: "t", Value: group.Tenant}, {Key: "g", Value: group.ID},
			{Key: "m", Value: bson.D{{Key: "$gt", Value: after}}}}, o)
		if err != nil {
			return nil, fmt.Errorf("mongo members: %w", err)
		}
		if len(ms) == 0 {
			return out, nil
		}
		got, err := s.describeMembers(ctx, group.Tenant, ms, func(m memberDoc) string { return m.M }, true)
		if err != nil {
			return nil, fmt.Errorf("mongo members: %w", err)
		}
		out = append(out, got...)
		// Records of members deleted meanwhile are skipped; fetch more
		// if that left the page short.
		if limit <= 0 || len(ms) < want || len(out) >= limit {
			return out, nil
		}
		after = ms[len(ms)-1].M
	}
}

// MemberOf lists the groups member directly belongs to, by group id.
func (s *Store) MemberOf(ctx context.Context, member store.Ref) ([]store.Member, error) {
	ms, err := findAll[memberDoc](ctx, s.mem, bson.D{{Key: "t", Value: member.Tenant}, {Key: "m", Value: member.ID}})
	if err != nil {
		return nil, fmt.Errorf("mongo member of: %w", err)
	}
	if len(ms) == 0 {
		return []store.Member{}, nil
	}
	// Only records of the member's current incarnation count (doc.go).
	h, err := s.loadHead(ctx, member.Tenant, member.ID)
	if errors.Is(err, store.ErrNotFound) {
		return []store.Member{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mongo member of: %w", err)
	}
	ms = slices.DeleteFunc(ms, func(m memberDoc) bool { return h.Del || m.MI != "" && m.MI != h.Inc })
	slices.SortFunc(ms, func(a, b memberDoc) int { return strings.Compare(a.G, b.G) })
	out, err := s.describeMembers(ctx, member.Tenant, ms, func(m memberDoc) string { return m.G }, false)
	if err != nil {
		return nil, fmt.Errorf("mongo member of: %w", err)
	}
	return out, nil
}

// describeMembers turns membership records into Members for the ids pick
// selects, in order, with type and display from the live resources. With
// byInc (pick names the members), a record of another incarnation of its
// member than the live one is skipped (doc.go).
func (s *Store) describeMembers(ctx context.Context, tenant string, ms []memberDoc, pick func(memberDoc) string, byInc bool) ([]store.Member, error) {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = pick(m)
	}
	hs, err := s.heads(ctx, tenant, ids, bson.D{{Key: "id", Value: 1}, {Key: "k", Value: 1}, {Key: "disp", Value: 1}, {Key: "del", Value: 1}, {Key: "inc", Value: 1}})
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*head, len(hs))
	for i := range hs {
		byID[hs[i].ID] = &hs[i]
	}
	out := make([]store.Member, 0, len(ids))
	for i, id := range ids {
		if h := byID[id]; h != nil && (!byInc || ms[i].MI == "" || ms[i].MI == h.Inc) {
			out = append(out, store.Member{Value: id, Type: store.Kind(h.K), Display: h.Disp})
		}
	}
	return out, nil
}

// The in-memory sort below is the SQLite backend's, so that both backends
// order alike.
