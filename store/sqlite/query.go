package sqlite

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/query"
)

// sortColumns are the sort paths SQL can order by (shadow columns hold the
// lower-cased values of the case-insensitive ones).
var sortColumns = map[string]string{
	"id":                "r.id",
	"externalId":        "r.external_id",
	"userName":          "r.user_name_lc",
	"displayName":       "r.display_name_lc",
	"meta.created":      "r.created",
	"meta.lastModified": "r.last_modified",
}

// termColumns are the indexed fields held in a resources column.
var termColumns = map[string]string{
	query.FieldID:           "r.id",
	query.FieldExternalID:   "r.external_id",
	query.FieldUserName:     "r.user_name_lc",
	query.FieldDisplayName:  "r.display_name_lc",
	query.FieldActive:       "r.active",
	query.FieldCreated:      "r.created",
	query.FieldLastModified: "r.last_modified",
}

var sqlOps = map[query.Op]string{query.Eq: "=", query.Gt: ">", query.Ge: ">=", query.Lt: "<", query.Le: "<="}

// Query lists the resources of one kind in a tenant matching q.Filter,
// sorted and paged.
//
// The filter is planned with query.Plan: its indexed terms become the SQL
// WHERE clause. When the terms express the whole filter and the sort is on
// an indexed column, SQL sorts, counts and pages; otherwise the candidates
// are matched with query.Match and sorted in memory.
func (s *Store) Query(ctx context.Context, tenant string, kind store.Kind, q store.Query) (store.Page, error) {
	if err := checkKind(kind); err != nil {
		return store.Page{}, fmt.Errorf("sqlite query: %w", err)
	}
	terms, exact := query.Plan(q.Filter)
	where, args, err := whereClause(tenant, kind, terms)
	if err != nil {
		return store.Page{}, fmt.Errorf("sqlite query: %w", err)
	}
	offset := max(q.StartIndex, 1) - 1
	count := max(q.Count, 0)

	var sp sortPath
	if q.SortBy != "" {
		sp = s.sortPath(kind, q.SortBy)
	}
	col, sqlSort := sortColumns[sp.name]
	if q.SortBy == "" || sp.path.Attr == nil {
		col, sqlSort = "", true
	}
	if exact && sqlSort {
		p, err := s.querySQL(ctx, tenant, kind, where, args, col, q.Descending, offset, count)
		if err != nil {
			return store.Page{}, fmt.Errorf("sqlite query: %w", err)
		}
		return p, nil
	}

	cands, err := s.scan(ctx, tenant, kind, `SELECT r.id, r.version, r.created, r.last_modified, r.doc FROM resources AS r WHERE `+where+` ORDER BY r.rid`, args)
	if err != nil {
		return store.Page{}, fmt.Errorf("sqlite query: %w", err)
	}
	matched := cands
	if !exact {
		matched = cands[:0]
		for _, r := range cands {
			if query.Match(q.Filter, s.subject(ctx, r)) {
				matched = append(matched, r)
			}
		}
	}
	if sp.path.Attr != nil {
		sortResources(matched, sp, q.Descending)
	}
	page := store.Page{Total: len(matched), Resources: []store.Resource{}}
	if count > 0 && offset < len(matched) {
		page.Resources = matched[offset:min(len(matched), offset+count)]
	}
	return page, nil
}

// querySQL answers an exactly planned query in SQL.
func (s *Store) querySQL(ctx context.Context, tenant string, kind store.Kind, where string, args []any, col string, desc bool, offset, count int) (store.Page, error) {
	page := store.Page{Resources: []store.Resource{}}
	if count > 0 {
		order := "r.rid"
		if col != "" {
			if desc {
				order = "(" + col + " IS NULL) DESC, " + col + " DESC, r.rid"
			} else {
				order = "(" + col + " IS NULL), " + col + ", r.rid"
			}
		}
		rs, err := s.scan(ctx, tenant, kind, `SELECT r.id, r.version, r.created, r.last_modified, r.doc
			FROM resources AS r WHERE `+where+` ORDER BY `+order+` LIMIT ? OFFSET ?`,
			append(slices.Clip(args), count, offset))
		if err != nil {
			return page, err
		}
		page.Resources = rs
		// A short page that starts inside the result tells the total.
		if len(rs) < count && (len(rs) > 0 || offset == 0) {
			page.Total = offset + len(rs)
			return page, nil
		}
	}
	row, err := s.rQueryRow(ctx, `SELECT count(*) FROM resources AS r WHERE `+where, args...)
	if err != nil {
		return page, mapErr(err)
	}
	if err := row.Scan(&page.Total); err != nil {
		return page, mapErr(err)
	}
	return page, nil
}

// scan runs a resource query. Rows are read completely before returning so
// that no read connection is held while candidates are matched.
func (s *Store) scan(ctx context.Context, tenant string, kind store.Kind, q string, args []any) ([]store.Resource, error) {
	rows, err := s.rQuery(ctx, q, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []store.Resource{}
	for rows.Next() {
		r := store.Resource{Ref: store.Ref{Tenant: tenant, Kind: kind}}
		var created, modified int64
		var doc []byte
		if err := rows.Scan(&r.ID, &r.Version, &created, &modified, &doc); err != nil {
			return nil, mapErr(err)
		}
		r.Created, r.LastModified = fromNanos(created), fromNanos(modified)
		if err := json.Unmarshal(doc, &r.Attrs); err != nil {
			return nil, fmt.Errorf("decode %s: %w", r.ID, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	return out, nil
}

// whereClause turns the planned terms into SQL over resources AS r.
func whereClause(tenant string, kind store.Kind, terms []query.Term) (string, []any, error) {
	var b strings.Builder
	// With an id lookup (id, emails.value, members.value), "+" keeps the
	// planner from preferring the (tenant, kind) index over (tenant, id).
	kindCol := "r.kind"
	idLookup := func(t query.Term) bool {
		switch t.Field {
		case query.FieldID, query.FieldEmailValue, query.FieldMemberValue:
			return t.Op == query.Eq
		}
		return false
	}
	for _, t := range terms {
		if idLookup(t) || len(t.Or) > 0 && slices.ContainsFunc(t.Or, idLookup) {
			kindCol = "+r.kind"
		}
	}
	b.WriteString("r.tenant = ? AND " + kindCol + " = ?")
	args := []any{tenant, string(kind)}
	for _, t := range terms {
		b.WriteString(" AND ")
		var err error
		if t.Or != nil {
			b.WriteString("(")
			for i, alt := range t.Or {
				if i > 0 {
					b.WriteString(" OR ")
				}
				if args, err = termSQL(&b, args, tenant, alt); err != nil {
					return "", nil, err
				}
			}
			b.WriteString(")")
			continue
		}
		if args, err = termSQL(&b, args, tenant, t); err != nil {
			return "", nil, err
		}
	}
	return b.String(), args, nil
}

func termSQL(b *strings.Builder, args []any, tenant string, t query.Term) ([]any, error) {
	switch t.Field {
	case query.FieldEmailValue:
		b.WriteString("r.id IN (SELECT e.id FROM emails AS e WHERE e.tenant = ? AND ")
		args = append(args, tenant)
		args = stringCond(b, args, "e.value_lc", t.Op, t.Value.(string))
		b.WriteString(")")
		return args, nil
	case query.FieldMemberValue:
		b.WriteString("r.id IN (SELECT m.group_id FROM members AS m WHERE m.tenant = ? AND m.member_id = ?)")
		return append(args, tenant, t.Value), nil
	case query.FieldActive:
		v := 0
		if t.Value.(bool) {
			v = 1
		}
		b.WriteString("r.active = ?")
		return append(args, v), nil
	case query.FieldCreated, query.FieldLastModified:
		op, ok := sqlOps[t.Op]
		if !ok {
			return nil, fmt.Errorf("unsupported term %s %s", t.Field, t.Op)
		}
		b.WriteString(termColumns[t.Field] + " " + op + " ?")
		return append(args, t.Value.(time.Time).UnixNano()), nil
	}
	col, ok := termColumns[t.Field]
	if !ok {
		return nil, fmt.Errorf("unsupported term field %q", t.Field)
	}
	return stringCond(b, args, col, t.Op, t.Value.(string)), nil
}

// stringCond writes `col op v` for the string operators.
func stringCond(b *strings.Builder, args []any, col string, op query.Op, v string) []any {
	n := utf8.RuneCountInString(v)
	switch {
	case op == query.Eq:
		b.WriteString(col + " = ?")
		return append(args, v)
	case v == "":
		b.WriteString(col + " IS NOT NULL")
		return args
	case op == query.Sw:
		b.WriteString("(" + col + " >= ? AND substr(" + col + ", 1, " + strconv.Itoa(n) + ") = ?)")
		return append(args, v, v)
	case op == query.Ew:
		b.WriteString("substr(" + col + ", -" + strconv.Itoa(n) + ") = ?")
		return append(args, v)
	default: // query.Co
		b.WriteString("instr(" + col + ", ?) > 0")
		return append(args, v)
	}
}

// subject builds the Match subject of r: Attrs plus id and meta, with
// members loaded on demand.
func (s *Store) subject(ctx context.Context, r store.Resource) query.Subject {
	doc := make(map[string]any, len(r.Attrs)+2)
	for k, v := range r.Attrs {
		doc[k] = v
	}
	doc["id"] = r.ID
	doc["meta"] = map[string]any{
		"resourceType": string(r.Kind),
		"created":      r.Created.Format(time.RFC3339Nano),
		"lastModified": r.LastModified.Format(time.RFC3339Nano),
		"version":      `W/"` + strconv.FormatInt(r.Version, 10) + `"`,
	}
	sub := query.Subject{Doc: doc}
	if r.Kind == store.Group {
		sub.Members = func() []map[string]any {
			ms, err := s.Members(ctx, r.Ref, "", 0)
			if err != nil {
				return nil
			}
			out := make([]map[string]any, len(ms))
			for i, m := range ms {
				out[i] = map[string]any{"value": m.Value, "type": string(m.Type), "display": m.Display}
			}
			return out
		}
	}
	return sub
}

// sortPath is a resolved Query.SortBy.
type sortPath struct {
	path schemas.Path
	name string // canonical path without URN for core attributes
}

func (s *Store) sortPath(kind store.Kind, by string) sortPath {
	rt := s.reg.ByName(string(kind))
	if rt == nil {
		return sortPath{}
	}
	p, err := rt.ResolvePath(by)
	if err != nil {
		return sortPath{} // unknown attribute: no resource has a value
	}
	sp := sortPath{path: p}
	if p.URN == "" {
		sp.name = p.String()
	}
	return sp
}

// sortResources sorts rs stably by the value at sp: resources without a
// value come last ascending and first descending; ties keep creation order.
func sortResources(rs []store.Resource, sp sortPath, desc bool) {
	type keyed struct {
		r   store.Resource
		key any
	}
	ks := make([]keyed, len(rs))
	for i, r := range rs {
		ks[i] = keyed{r, sortKey(r, sp.path)}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		switch {
		case a.key == nil && b.key == nil:
			return 0
		case a.key == nil:
			return boolInt(!desc)
		case b.key == nil:
			return -boolInt(!desc)
		}
		c := compareKeys(a.key, b.key)
		if desc {
			c = -c
		}
		return c
	})
	for i := range ks {
		rs[i] = ks[i].r
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return -1
}

// compareKeys orders sort keys of possibly different types (by type first).
func compareKeys(a, b any) int {
	rank := func(v any) int {
		switch v.(type) {
		case bool:
			return 0
		case float64:
			return 1
		case time.Time:
			return 2
		default:
			return 3
		}
	}
	if ra, rb := rank(a), rank(b); ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch x := a.(type) {
	case bool:
		return cmp.Compare(boolInt(x), boolInt(b.(bool)))
	case float64:
		return cmp.Compare(x, b.(float64))
	case time.Time:
		return x.Compare(b.(time.Time))
	case string:
		return strings.Compare(x, b.(string))
	}
	return 0
}

// sortKey returns r's value at p as bool, float64, time.Time or string
// (lower-cased unless caseExact), or nil when absent.
func sortKey(r store.Resource, p schemas.Path) any {
	leaf := p.Leaf()
	if p.URN == "" {
		switch p.Attr.Name {
		case "id":
			return r.ID
		case "meta":
			if p.Sub == nil {
				return nil
			}
			switch p.Sub.Name {
			case "created":
				return r.Created
			case "lastModified":
				return r.LastModified
			case "version":
				return float64(r.Version)
			case "resourceType":
				return string(r.Kind)
			}
			return nil
		}
	}
	container := r.Attrs
	if p.URN != "" {
		m, _ := lookup(r.Attrs, p.URN).(map[string]any)
		container = m
	}
	v := lookup(container, p.Attr.Name)
	if list, ok := v.([]any); ok { // multi-valued: the primary value, else the first
		v = nil
		if len(list) > 0 {
			v = list[0]
		}
		for _, e := range list {
			if m, ok := e.(map[string]any); ok && m["primary"] == true {
				v = e
				break
			}
		}
	}
	if m, ok := v.(map[string]any); ok {
		sub := "value"
		if p.Sub != nil {
			sub = p.Sub.Name
		}
		if leaf == p.Attr {
			leaf = p.Attr.Sub("value")
		}
		v = lookup(m, sub)
	}
	switch x := v.(type) {
	case bool, float64:
		return x
	case string:
		if leaf != nil && leaf.Type == schemas.TypeDateTime {
			if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return t
			}
		}
		if leaf == nil || !leaf.CaseExact {
			return strings.ToLower(x)
		}
		return x
	}
	return nil
}

// lookup returns m[name], falling back to a case-insensitive key match.
func lookup(m map[string]any, name string) any {
	if m == nil {
		return nil
	}
	if v, ok := m[name]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}
