package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/scimbridge/scimbridge/store"
)

// Strict uniqueness.
//
// The unique indexes on xg (group displayName) and xe (kind:externalId)
// enforce the strict rules with single-document writes, like userName's on
// xu: no transaction and no check-then-insert, so concurrent writers, on
// one replica or several, cannot both win. A head carries the real keys
// only when its tenant is strict (setShadows); in other tenants it carries
// its per-resource dummies, which never collide, so the same indexes let
// the RFC 7643 tenants repeat those values. Heads written before a tenant
// became strict (or by an older version, which wrote the real keys for
// every tenant) are brought in line at Open by setStrict; stale real keys
// in a tenant that is not strict are harmless, as no new head of that
// tenant carries one, and are replaced by the next write of their head.

// setStrict checks that no strict tenant holds duplicates (returning a
// *store.UniquenessError listing all of them) and gives every head of a
// strict tenant its real keys.
func (s *Store) setStrict(ctx context.Context) error {
	tenants := make([]string, 0, len(s.strict))
	for t := range s.strict {
		tenants = append(tenants, t)
	}
	slices.Sort(tenants)
	var dups []store.Duplicate
	for _, t := range tenants {
		d, err := s.duplicates(ctx, t)
		if err != nil {
			return err
		}
		dups = append(dups, d...)
	}
	if len(dups) > 0 {
		store.SortDuplicates(dups)
		return &store.UniquenessError{Duplicates: dups}
	}
	for _, t := range tenants {
		if err := s.fillStrictKeys(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// keyProjection reads the fields of a head that its keys derive from,
// never its document.
var keyProjection = bson.D{
	{Key: "id", Value: 1}, {Key: "k", Value: 1}, {Key: "dn", Value: 1}, {Key: "disp", Value: 1},
	{Key: "ext", Value: 1}, {Key: "xg", Value: 1}, {Key: "xe", Value: 1}, {Key: "del", Value: 1},
}

// duplicates lists the group displayNames (case-insensitively) and the
// externalIds (per kind) that several live resources of tenant share.
func (s *Store) duplicates(ctx context.Context, tenant string) ([]store.Duplicate, error) {
	type key struct{ kind, attr, value string }
	ids := map[key][]string{}
	shown := map[key]string{}
	cur, err := s.res.Find(ctx, bson.D{{Key: "t", Value: tenant}}, options.Find().SetProjection(keyProjection))
	if err != nil {
		return nil, mapErr(err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var h head
		if err := cur.Decode(&h); err != nil {
			return nil, mapErr(err)
		}
		if h.Del {
			continue
		}
		if h.K == string(store.Group) && h.DN != nil {
			k := key{h.K, "displayName", *h.DN}
			ids[k] = append(ids[k], h.ID)
			// As SQLite reports it: the least of the spellings.
			if v, ok := shown[k]; !ok || h.Disp < v {
				shown[k] = h.Disp
			}
		}
		if h.Ext != nil {
			k := key{h.K, "externalId", *h.Ext}
			ids[k] = append(ids[k], h.ID)
			shown[k] = *h.Ext
		}
	}
	if err := cur.Err(); err != nil {
		return nil, mapErr(err)
	}
	var out []store.Duplicate
	for k, list := range ids {
		if len(list) > 1 {
			out = append(out, store.Duplicate{Tenant: tenant, Kind: store.Kind(k.kind), Attribute: k.attr, Value: shown[k], IDs: list})
		}
	}
	return out, nil
}

// fillStrictKeys gives every live head of tenant the real keys. A head that
// a write is changing is left to that write first (every writer of a strict
// tenant sets the real keys itself); the update carries the version read,
// so a head written meanwhile is read again rather than given keys derived
// from its old values.
func (s *Store) fillStrictKeys(ctx context.Context, tenant string) error {
	stale, err := findAll[head](ctx, s.res, bson.D{{Key: "t", Value: tenant}}, options.Find().SetProjection(keyProjection))
	if err != nil {
		return err
	}
	for _, p := range stale {
		if p.Del || p.keysStrict() {
			continue
		}
		if err := s.fillHead(ctx, tenant, p.ID); err != nil {
			var ue *store.UniquenessError
			if errors.As(err, &ue) {
				return err
			}
			return fmt.Errorf("strict uniqueness of %s %q: %w", p.K, p.ID, err)
		}
	}
	return nil
}

// keysStrict reports whether h's xg and xe are the real keys its shadows
// call for.
func (h *head) keysStrict() bool {
	xg, xe := h.strictKeys(true)
	same := func(got, want any) bool {
		w, real := want.(string)
		g, isString := got.(string)
		return real == isString && (!real || g == w)
	}
	return same(h.XG, xg) && same(h.XE, xe)
}

// fillHead sets the real keys of one head, waiting for an unfinished write
// of it first.
func (s *Store) fillHead(ctx context.Context, tenant, id string) error {
	for attempt := 0; ; attempt++ {
		h, err := s.loadHead(ctx, tenant, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Del || h.keysStrict() {
			return nil
		}
		if h.PJ {
			if err := s.settle(ctx, h); err != nil {
				return err
			}
			continue
		}
		xg, xe := h.strictKeys(true)
		res, err := s.res.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: h.Key}, {Key: "v", Value: h.V}, {Key: "pj", Value: false}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "xg", Value: xg}, {Key: "xe", Value: xe}}}})
		if isDup(err) {
			// Created since the duplicates were checked, by a replica that
			// does not treat the tenant as strict yet.
			if dups, derr := s.duplicates(ctx, tenant); derr == nil && len(dups) > 0 {
				store.SortDuplicates(dups)
				return &store.UniquenessError{Duplicates: dups}
			}
			nh := *h
			nh.XG, nh.XE = xg, xe
			return s.conflict(ctx, &nh, false)
		}
		if err != nil {
			return mapErr(err)
		}
		if res.MatchedCount == 1 {
			return nil
		}
		if attempt >= 100 {
			return errors.New("the resource changed on every attempt to set its keys")
		}
		if err := backoff(ctx, attempt%5); err != nil {
			return err
		}
	}
}
