package mongo

import (
	"context"
	"fmt"
	"regexp"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/scimbridge/scimbridge/store"
)

// Scan lists resources of one kind by id; see store.Store.
//
// On MongoDB a page is a range scan of res_kind_id (t, k, id) from afterID
// that stops after limit entries: its cost does not depend on where the
// page starts, and strings compare bytewise (no collation is used). On
// FerretDB v1, which answers only _id equality from an index (so the index
// is not created there), every page reads the whole resources collection
// (every tenant) and sorts the matches: a page costs O(n) and a full scan
// O(n²/limit), so scan with large pages there, or use MongoDB for large
// tenants.
func (s *Store) Scan(ctx context.Context, tenant string, kind store.Kind, afterID string, limit int) ([]store.Resource, error) {
	if err := store.CheckKind(kind); err != nil {
		return nil, fmt.Errorf("mongo scan: %w", err)
	}
	limit, err := store.PageLimit(limit)
	if err != nil {
		return nil, fmt.Errorf("mongo scan: %w", err)
	}
	f := bson.D{
		{Key: "t", Value: tenant}, {Key: "k", Value: string(kind)}, {Key: "del", Value: false},
		{Key: "id", Value: bson.D{{Key: "$gt", Value: afterID}}},
	}
	order := bson.D{{Key: "t", Value: 1}, {Key: "k", Value: 1}, {Key: "id", Value: 1}}
	rs, err := s.find(ctx, f, options.Find().SetSort(order).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("mongo scan: %w", err)
	}
	return rs, nil
}

// ListStatePage lists state entries by key, a page at a time; see
// store.Store.
//
// The anchored regex of the quoted prefix decides which keys match; the
// range bounds (the prefix or afterKey below, prefixEnd above) let MongoDB
// read only that part of state_key (t, key) whatever it makes of the
// regex. On FerretDB v1 every page reads the state collection.
func (s *Store) ListStatePage(ctx context.Context, tenant, prefix, afterKey string, limit int) ([]store.StateEntry, error) {
	limit, err := store.PageLimit(limit)
	if err != nil {
		return nil, fmt.Errorf("mongo list state page: %w", err)
	}
	cond := bson.D{{Key: "$gte", Value: prefix}}
	if afterKey != "" && afterKey >= prefix {
		cond = bson.D{{Key: "$gt", Value: afterKey}}
	}
	if end, ok := prefixEnd(prefix); ok {
		cond = append(cond, bson.E{Key: "$lt", Value: end})
	}
	if prefix != "" {
		cond = append(cond, bson.E{Key: "$regex", Value: "^" + regexp.QuoteMeta(prefix)})
	}
	f := bson.D{{Key: "t", Value: tenant}, {Key: "key", Value: cond}}
	ds, err := findAll[stateDoc](ctx, s.state, f, options.Find().
		SetSort(bson.D{{Key: "t", Value: 1}, {Key: "key", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("mongo list state page: %w", err)
	}
	out := make([]store.StateEntry, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.entry())
	}
	return out, nil
}

// prefixEnd returns the smallest valid UTF-8 string greater than every
// string that starts with prefix (BSON strings must be UTF-8, and UTF-8's
// byte order is code point order): prefix up to its last rune below
// U+10FFFF, that rune plus one (stepping over the surrogates). ok is false
// when there is none, or prefix is not valid UTF-8.
func prefixEnd(prefix string) (string, bool) {
	if !utf8.ValidString(prefix) {
		return "", false
	}
	rs := []rune(prefix)
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i] < utf8.MaxRune {
			rs[i]++
			if rs[i] == 0xD800 {
				rs[i] = 0xE000
			}
			return string(rs[:i+1]), true
		}
	}
	return "", false
}
