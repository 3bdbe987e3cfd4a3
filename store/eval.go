package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store/query"
)

// This file holds the in-memory evaluation every backend shares, so that the
// same filter and sort give the same result on every backend: the subject a
// filter is matched against, and sorting by any attribute.

// memberReader is the part of Store that StoreSubject reads.
type memberReader interface {
	Members(ctx context.Context, group Ref, after string, limit int) ([]Member, error)
	MemberOf(ctx context.Context, member Ref) ([]Member, error)
}

// StoreSubject is MatchSubject with the related resources read from st: a
// user's groups or a group's members. The first read error is kept in
// *loadErr, so that a query fails rather than matching as if the list were
// empty.
func StoreSubject(ctx context.Context, st memberReader, r Resource, loadErr *error) query.Subject {
	return MatchSubject(r, func() ([]Member, error) {
		var ms []Member
		var err error
		if r.Kind == User {
			ms, err = st.MemberOf(ctx, r.Ref)
		} else {
			ms, err = st.Members(ctx, r.Ref, "", 0)
		}
		if err != nil && *loadErr == nil {
			*loadErr = err
		}
		return ms, err
	})
}

// MatchSubject returns the query.Subject of r: its Attrs plus id and meta,
// with related loaded only if the filter asks: a group's members, or the
// groups a user belongs to (Store.MemberOf), which become the user's "groups"
// as they are rendered (value, display, type "direct").
func MatchSubject(r Resource, related func() ([]Member, error)) query.Subject {
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
	if related == nil {
		return sub
	}
	switch r.Kind {
	case Group:
		sub.Members = func() []map[string]any {
			ms, err := related()
			if err != nil {
				return nil
			}
			out := make([]map[string]any, len(ms))
			for i, m := range ms {
				out[i] = map[string]any{"value": m.Value, "type": string(m.Type), "display": m.Display}
			}
			return out
		}
	case User:
		sub.Groups = func() []map[string]any {
			gs, err := related()
			if err != nil {
				return nil
			}
			out := make([]map[string]any, len(gs))
			for i, g := range gs {
				out[i] = map[string]any{"value": g.Value, "type": "direct", "display": g.Display}
			}
			return out
		}
	}
	return sub
}

// ResolveSort resolves Query.SortBy against rt; ok is false for an empty or
// unknown path (no resource has a value there, so the order stays).
func ResolveSort(rt *schemas.ResourceType, by string) (p schemas.Path, ok bool) {
	if rt == nil || by == "" {
		return schemas.Path{}, false
	}
	p, err := rt.ResolvePath(by)
	return p, err == nil
}

// SortResources sorts rs stably by the value at p (from ResolveSort): resources without a
// value come last ascending and first descending; ties keep creation order.
func SortResources(rs []Resource, p schemas.Path, desc bool) {
	if p.Attr == nil {
		return
	}
	type keyed struct {
		r   Resource
		key any
	}
	ks := make([]keyed, len(rs))
	for i, r := range rs {
		ks[i] = keyed{r, sortKey(r, p)}
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
func sortKey(r Resource, p schemas.Path) any {
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

// PrepareCreate checks and completes a resource about to be created, the same
// way for every backend: a known kind, members for groups only, a new random
// id if none is given, Created and LastModified defaulting to now, and
// version 1 unless a positive version is given (imports keep theirs).
func PrepareCreate(r *Resource, members []Member, now time.Time) error {
	if err := CheckKind(r.Kind); err != nil {
		return err
	}
	if len(members) > 0 && r.Kind != Group {
		return errors.New("only groups have members")
	}
	if r.ID == "" {
		r.ID = uuid.NewString()
	}
	if r.Attrs == nil {
		r.Attrs = map[string]any{}
	}
	if r.Created.IsZero() {
		r.Created = now
	}
	if r.LastModified.IsZero() {
		r.LastModified = now
	}
	r.Created, r.LastModified = r.Created.UTC(), r.LastModified.UTC()
	if r.Version <= 0 {
		r.Version = 1
	}
	return nil
}

// CheckKind rejects a kind other than User and Group.
func CheckKind(k Kind) error {
	if k != User && k != Group {
		return fmt.Errorf("unknown kind %q", k)
	}
	return nil
}

// PageInMemory finishes a query whose candidates (in creation order) a
// backend fetched by the indexed part of the filter: it keeps those that
// match the whole filter (unless the plan was exact), sorts them by
// q.SortBy and cuts the page q asks for.
func PageInMemory(cands []Resource, q Query, exact bool, rt *schemas.ResourceType, subject func(Resource) query.Subject) Page {
	matched := cands
	if !exact {
		matched = cands[:0]
		for _, r := range cands {
			if query.Match(q.Filter, subject(r)) {
				matched = append(matched, r)
			}
		}
	}
	if p, ok := ResolveSort(rt, q.SortBy); ok {
		SortResources(matched, p, q.Descending)
	}
	offset, count := max(q.StartIndex, 1)-1, max(q.Count, 0)
	page := Page{Total: len(matched), Resources: []Resource{}}
	if count > 0 && offset < len(matched) {
		page.Resources = matched[offset:min(len(matched), offset+count)]
	}
	return page
}
