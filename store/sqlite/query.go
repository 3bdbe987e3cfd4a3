package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	if err := store.CheckKind(kind); err != nil {
		return store.Page{}, fmt.Errorf("sqlite query: %w", err)
	}
	terms, exact := query.Plan(q.Filter)
	where, args, err := whereClause(tenant, kind, terms)
	if err != nil {
		return store.Page{}, fmt.Errorf("sqlite query: %w", err)
	}
	offset := max(q.StartIndex, 1) - 1
	count := max(q.Count, 0)

	sp, sorted := store.ResolveSort(s.reg.ByName(string(kind)), q.SortBy)
	name := ""
	if sorted && sp.URN == "" {
		name = sp.String()
	}
	col, sqlSort := sortColumns[name]
	if !sorted {
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
	// A member list that fails to load must fail the query, not match
	// as if the group (or the user's group list) were empty.
	var loadErr error
	page := store.PageInMemory(cands, q, exact, s.reg.ByName(string(kind)), func(r store.Resource) query.Subject {
		return store.StoreSubject(ctx, s, r, &loadErr)
	})
	if loadErr != nil {
		return store.Page{}, fmt.Errorf("sqlite query: %w", loadErr)
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
	// With an id lookup (id, emails.value, members.value, groups.value), "+" keeps the
	// planner from preferring the (tenant, kind) index over (tenant, id).
	kindCol := "r.kind"
	idLookup := func(t query.Term) bool {
		switch t.Field {
		case query.FieldID, query.FieldEmailValue, query.FieldMemberValue, query.FieldGroupValue:
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
	case query.FieldGroupValue:
		// The members primary key (tenant, group_id, member_id).
		b.WriteString("r.id IN (SELECT m.member_id FROM members AS m WHERE m.tenant = ? AND m.group_id = ?)")
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
