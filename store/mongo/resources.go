package mongo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/scimbridge/scimbridge/store"
)

// Create stores a new resource; see store.Store. It returns a
// *store.ConflictError on a uniqueness violation, in which case nothing is
// written.
func (s *Store) Create(ctx context.Context, r store.Resource, members []store.Member) (store.Resource, error) {
	origin, err := store.RequireOrigin(ctx)
	if err != nil {
		return store.Resource{}, fmt.Errorf("mongo create: %w", err)
	}
	now := s.now().UTC()
	if err := store.PrepareCreate(&r, members, now); err != nil {
		return store.Resource{}, fmt.Errorf("mongo create: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return store.Resource{}, fmt.Errorf("mongo create: %w", err)
	}
	doc, err := json.Marshal(r.Attrs)
	if err != nil {
		return store.Resource{}, fmt.Errorf("mongo create: encode attributes: %w", err)
	}
	changed, err := store.ChangedAttrs(nil, doc)
	if err != nil {
		return store.Resource{}, fmt.Errorf("mongo create: %w", err)
	}
	pv, err := newProv(origin, store.NameOf(r.Kind, r.Attrs), changed)
	if err != nil {
		return store.Resource{}, fmt.Errorf("mongo create: %w", err)
	}
	var add []memberRef
	if len(members) > 0 {
		ids := make([]string, 0, len(members))
		for _, m := range members {
			if m.Value != r.ID {
				ids = append(ids, m.Value)
			}
		}
		if add, err = s.addable(ctx, r.Tenant, ids); err != nil {
			return store.Resource{}, fmt.Errorf("mongo create: %w", err)
		}
	}
	h := &head{
		Key: rkey(r.Tenant, r.ID), T: r.Tenant, ID: r.ID, K: string(r.Kind), V: r.Version, Inc: newInc(),
		C: r.Created.UnixNano(), M: r.LastModified.UnixNano(), O: math.MaxInt64, Doc: string(doc),
		PJ: true, Pend: &pending{Op: string(store.OpCreate), V: r.Version, At: now.UnixNano(), Add: add, Prov: pv},
	}
	h.setShadows(r.Attrs, s.strict[r.Tenant])
	for attempt := 0; ; attempt++ {
		_, err = s.res.InsertOne(ctx, h)
		if err == nil {
			break
		}
		if !isDup(err) {
			return store.Resource{}, fmt.Errorf("mongo create: %w", mapErr(err))
		}
		// A tombstone of a deleted resource with the same id may still
		// hold the key: finish it and try again.
		old, gerr := s.loadHead(ctx, r.Tenant, r.ID)
		if gerr == nil && old.Del && attempt < 1000 {
			if err := s.settle(ctx, old); err != nil {
				return store.Resource{}, fmt.Errorf("mongo create: %w", err)
			}
			continue
		}
		return store.Resource{}, fmt.Errorf("mongo create: %w", s.conflict(ctx, h, true))
	}
	if err := s.step("written"); err != nil {
		return store.Resource{}, err
	}
	if err := s.finish(context.WithoutCancel(ctx), h, false); err != nil {
		return store.Resource{}, fmt.Errorf("mongo create: %w", err)
	}
	return r, nil
}

// conflict names the attribute of a uniqueness violation by h.
func (s *Store) conflict(ctx context.Context, h *head, create bool) error {
	ctx = context.WithoutCancel(ctx)
	if create {
		if n, err := s.res.CountDocuments(ctx, bson.D{{Key: "_id", Value: h.Key}}); err == nil && n > 0 {
			return &store.ConflictError{Attribute: "id"}
		}
	}
	checks := []struct {
		attr  string
		field string
		val   any
	}{{"userName", "xu", h.XU}, {"displayName", "xg", h.XG}, {"externalId", "xe", h.XE}}
	for _, c := range checks {
		if _, ok := c.val.(string); !ok {
			continue
		}
		n, err := s.res.CountDocuments(ctx, bson.D{{Key: "t", Value: h.T}, {Key: c.field, Value: c.val}, {Key: "_id", Value: bson.D{{Key: "$ne", Value: h.Key}}}})
		if err != nil {
			return mapErr(err)
		}
		if n > 0 {
			return &store.ConflictError{Attribute: c.attr}
		}
	}
	return &store.ConflictError{Attribute: "id"}
}

// loadHead reads a head by tenant and id (tombstones included).
func (s *Store) loadHead(ctx context.Context, tenant, id string) (*head, error) {
	var h head
	err := s.res.FindOne(ctx, bson.D{{Key: "_id", Value: rkey(tenant, id)}}).Decode(&h)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, mapErr(err)
	}
	return &h, nil
}

// live reads the head of ref, returning store.ErrNotFound for an absent or
// deleted resource or one of another kind.
func (s *Store) live(ctx context.Context, ref store.Ref) (*head, error) {
	h, err := s.loadHead(ctx, ref.Tenant, ref.ID)
	if err != nil {
		return nil, err
	}
	if h.Del || h.K != string(ref.Kind) {
		return nil, store.ErrNotFound
	}
	return h, nil
}

// Get returns one resource, or store.ErrNotFound.
func (s *Store) Get(ctx context.Context, ref store.Ref) (store.Resource, error) {
	h, err := s.live(ctx, ref)
	if err != nil {
		return store.Resource{}, fmt.Errorf("mongo get: %w", err)
	}
	r, err := h.resource()
	if err != nil {
		return store.Resource{}, fmt.Errorf("mongo get: %w", err)
	}
	return r, nil
}

// backoff sleeps a little longer on each attempt, up to 20ms.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(min(attempt+1, 20)) * time.Millisecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// settle deals with a head whose last write is unfinished: it finishes it
// when its lease has expired and otherwise waits a little. The caller
// re-reads the head afterwards.
func (s *Store) settle(ctx context.Context, h *head) error {
	if s.expired(h.Pend) {
		return s.finish(ctx, h, true)
	}
	return backoff(ctx, 2)
}

// expired reports whether the lease of a pending write is over: the lease,
// plus a millisecond per membership change, as applying a delta of
// hundreds of thousands of members takes its writer a while.
func (s *Store) expired(p *pending) bool {
	if p == nil {
		return true
	}
	lease := s.lease + time.Duration(len(p.Add)+len(p.Rm))*time.Millisecond
	return s.now().UnixNano()-p.At > int64(lease)
}

// claim takes version v of h. It returns false if another writer holds it;
// a claim older than the lease that never led to a head write is released.
func (s *Store) claim(ctx context.Context, h *head, v int64) (bool, error) {
	now := s.now()
	_, err := s.claims.InsertOne(ctx, bson.D{
		{Key: "_id", Value: ckey(h, v)}, {Key: "t", Value: h.T},
		{Key: "at", Value: now.UnixNano()}, {Key: "exp", Value: now},
	})
	if err == nil {
		return true, nil
	}
	if !isDup(err) {
		return false, mapErr(err)
	}
	var c struct {
		At int64 `bson:"at"`
	}
	if err := s.claims.FindOne(ctx, bson.D{{Key: "_id", Value: ckey(h, v)}}).Decode(&c); err != nil {
		return false, nil // released meanwhile: retry
	}
	if now.UnixNano()-c.At > int64(s.lease) {
		// Stale: was the head written? If it still is at v-1, the
		// claimant died before writing; release the claim.
		cur, err := s.loadHead(ctx, h.T, h.ID)
		if err == nil && cur.Inc == h.Inc && cur.V == v-1 && !cur.PJ {
			_, _ = s.claims.DeleteOne(ctx, bson.D{{Key: "_id", Value: ckey(h, v)}})
		}
	}
	return false, nil
}

func (s *Store) release(ctx context.Context, h *head, v int64) {
	_, _ = s.claims.DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: ckey(h, v)}})
}

// headFilter selects h's document; on MongoDB also its expected version
// (FerretDB only answers _id-only filters from an index).
func (s *Store) headFilter(key string, v int64) bson.D {
	f := bson.D{{Key: "_id", Value: key}}
	if !s.ferret {
		f = append(f, bson.E{Key: "v", Value: v})
	}
	return f
}

// Update applies fn with optimistic concurrency; see store.Store. It
// returns store.ErrNotFound, a *store.ConflictError, or fn's error as is.
func (s *Store) Update(ctx context.Context, ref store.Ref, fn func(r *store.Resource) (store.MemberDelta, error)) (store.Resource, error) {
	origin, err := store.RequireOrigin(ctx)
	if err != nil {
		return store.Resource{}, fmt.Errorf("mongo update: %w", err)
	}
	for attempt := 0; ; attempt++ {
		h, err := s.live(ctx, ref)
		if err != nil {
			return store.Resource{}, fmt.Errorf("mongo update: %w", err)
		}
		if h.PJ {
			if err := s.settle(ctx, h); err != nil {
				return store.Resource{}, fmt.Errorf("mongo update: %w", err)
			}
			continue
		}
		cur, err := h.resource()
		if err != nil {
			return store.Resource{}, fmt.Errorf("mongo update: %w", err)
		}
		r, _ := h.resource() // a private copy for fn
		delta, err := fn(&r)
		if err != nil {
			return store.Resource{}, err
		}
		if r.Attrs == nil {
			r.Attrs = map[string]any{}
		}
		r.Ref, r.Version, r.Created, r.LastModified = cur.Ref, cur.Version, cur.Created, cur.LastModified
		doc, err := json.Marshal(r.Attrs)
		if err != nil {
			return store.Resource{}, fmt.Errorf("mongo update: encode attributes: %w", err)
		}
		changed := string(doc) != h.Doc
		var add []memberRef
		var rm []string
		if !delta.Empty() {
			if ref.Kind != store.Group {
				return store.Resource{}, errors.New("mongo update: only groups have members")
			}
			if add, rm, err = s.planDelta(ctx, h, delta); err != nil {
				return store.Resource{}, fmt.Errorf("mongo update: %w", err)
			}
		}
		if !changed && len(add) == 0 && len(rm) == 0 {
			return r, nil
		}
		var ch []store.AttrChange
		if changed {
			if ch, err = store.ChangedAttrs([]byte(h.Doc), doc); err != nil {
				return store.Resource{}, fmt.Errorf("mongo update %s: %w", ref.ID, err)
			}
		}
		pv, err := newProv(origin, store.NameOf(ref.Kind, r.Attrs), ch)
		if err != nil {
			return store.Resource{}, fmt.Errorf("mongo update: %w", err)
		}
		ok, err := s.claim(ctx, h, h.V+1)
		if err != nil {
			return store.Resource{}, fmt.Errorf("mongo update: %w", err)
		}
		if !ok {
			if err := backoff(ctx, attempt%5); err != nil {
				return store.Resource{}, fmt.Errorf("mongo update: %w", err)
			}
			continue
		}
		if err := s.step("claimed"); err != nil {
			return store.Resource{}, err
		}
		now := s.now().UTC()
		nh := *h
		nh.V, nh.M, nh.Doc, nh.PJ = h.V+1, now.UnixNano(), string(doc), true
		nh.Pend = &pending{Op: string(store.OpUpdate), V: nh.V, At: now.UnixNano(), Add: add, Rm: rm, Prov: pv}
		nh.setShadows(r.Attrs, s.strict[r.Tenant])
		res, err := s.res.ReplaceOne(ctx, s.headFilter(h.Key, h.V), &nh)
		if err != nil {
			s.release(ctx, h, nh.V)
			if isDup(err) {
				return store.Resource{}, fmt.Errorf("mongo update: %w", s.conflict(ctx, &nh, false))
			}
			return store.Resource{}, fmt.Errorf("mongo update: %w", mapErr(err))
		}
		if res.MatchedCount == 0 {
			s.release(ctx, h, nh.V)
			continue
		}
		if err := s.step("written"); err != nil {
			return store.Resource{}, err
		}
		if err := s.finish(context.WithoutCancel(ctx), &nh, false); err != nil {
			return store.Resource{}, fmt.Errorf("mongo update: %w", err)
		}
		r.Version, r.LastModified = nh.V, now
		return r, nil
	}
}

// finish completes the write recorded in h.Pend: membership delta, journal
// entry, then clearing the outbox (or removing a deleted head). Every step
// is idempotent, so writers and recovery may finish the same write.
//
// A takeover (a helper finishing another writer's write after its lease)
// re-reads the head before its first and its last step and stops when the
// write is no longer pending: its snapshot of h may be old by then, and
// clearing from an old snapshot would put back an older state over a newer
// write. On FerretDB, whose head writes cannot carry a version condition,
// the writer itself checks before clearing too, since a helper may have
// finished its write and another writer moved the head on.
func (s *Store) finish(ctx context.Context, h *head, takeover bool) error {
	p := h.Pend
	if p == nil {
		return nil
	}
	if takeover {
		if ok, err := s.stillPending(ctx, h); !ok || err != nil {
			return err
		}
	}
	if p.Op == string(store.OpDelete) {
		if _, err := s.mem.DeleteMany(ctx, bson.D{{Key: "t", Value: h.T}, {Key: "g", Value: h.ID}}); err != nil {
			return mapErr(err)
		}
		keys, err := s.awaitAdders(ctx, h)
		if err != nil {
			return err
		}
		// FerretDB scans for the (t, m) filter, which awaitAdders has
		// just done: delete what it found by _id instead.
		if s.ferret && len(keys) <= 100 {
			for _, k := range keys {
				if _, err := s.mem.DeleteOne(ctx, bson.D{{Key: "_id", Value: k}}); err != nil {
					return mapErr(err)
				}
			}
		} else if _, err := s.mem.DeleteMany(ctx, bson.D{{Key: "t", Value: h.T}, {Key: "m", Value: h.ID}}); err != nil {
			return mapErr(err)
		}
	}
	if len(p.Rm) > 0 {
		keys := make([]string, len(p.Rm))
		for i, id := range p.Rm {
			keys[i] = mkey(h.T, h.ID, id)
		}
		for chunk := range slices.Chunk(keys, 5000) {
			if _, err := s.mem.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: chunk}}}}); err != nil {
				return mapErr(err)
			}
		}
	}
	added, err := s.addMembers(ctx, h)
	if err != nil {
		return err
	}
	if err := s.step("members"); err != nil {
		return err
	}
	seq, err := s.journal(ctx, h, added)
	if err != nil {
		return err
	}
	if err := s.step("journaled"); err != nil {
		return err
	}
	if takeover || s.ferret {
		if ok, err := s.stillPending(ctx, h); !ok || err != nil {
			return err
		}
	}
	if p.Op == string(store.OpDelete) {
		_, err := s.res.DeleteOne(ctx, s.headFilter(h.Key, h.V))
		return mapErr(err)
	}
	done := *h
	done.PJ, done.Pend = false, nil
	if p.Op == string(store.OpCreate) && seq > 0 {
		done.O = seq
	}
	_, err = s.res.ReplaceOne(ctx, s.headFilter(h.Key, h.V), &done)
	return mapErr(err)
}

// stillPending reports whether h's head is still at h's version with that
// write unfinished.
func (s *Store) stillPending(ctx context.Context, h *head) (bool, error) {
	cur, err := s.loadHead(ctx, h.T, h.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return cur.Inc == h.Inc && cur.V == h.V && cur.PJ, nil
}

// headsByScan is heads for FerretDB and many ids: FerretDB answers an $in
// by testing every document of the collection against every key, so one
// pass over the tenant's heads, matched in memory, is far cheaper.
func (s *Store) headsByScan(ctx context.Context, tenant string, ids []string, proj bson.D) ([]head, error) {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	o := options.Find()
	if proj != nil {
		o.SetProjection(proj) // callers project id and del
	}
	cur, err := s.res.Find(ctx, bson.D{{Key: "t", Value: tenant}}, o)
	if err != nil {
		return nil, mapErr(err)
	}
	defer cur.Close(ctx)
	var out []head
	for cur.Next(ctx) {
		var h head
		if err := cur.Decode(&h); err != nil {
			return nil, mapErr(err)
		}
		if want[h.ID] && !h.Del {
			out = append(out, h)
		}
	}
	return out, mapErr(cur.Err())
}

// allDup reports whether every error of a bulk insert is a duplicate key.
func allDup(err error) bool {
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) {
		if bwe.WriteConcernError != nil {
			return false
		}
		for _, we := range bwe.WriteErrors {
			if we.Code != 11000 && !strings.Contains(we.Message, "UNIQUE constraint failed") {
				return false
			}
		}
		return true
	}
	return isDup(err)
}

// Delete removes a resource and its memberships; see store.Store. It
// returns store.ErrNotFound or store.ErrPrecondition.
func (s *Store) Delete(ctx context.Context, ref store.Ref, ifVersion int64) error {
	origin, err := store.RequireOrigin(ctx)
	if err != nil {
		return fmt.Errorf("mongo delete: %w", err)
	}
	for attempt := 0; ; attempt++ {
		h, err := s.live(ctx, ref)
		if err != nil {
			return fmt.Errorf("mongo delete: %w", err)
		}
		if h.PJ {
			if err := s.settle(ctx, h); err != nil {
				return fmt.Errorf("mongo delete: %w", err)
			}
			continue
		}
		if ifVersion > 0 && h.V != ifVersion {
			return fmt.Errorf("mongo delete: %w", store.ErrPrecondition)
		}
		// The name the journal keeps: after the delete it can't be looked up.
		old, err := h.resource()
		if err != nil {
			return fmt.Errorf("mongo delete: %w", err)
		}
		pv, err := newProv(origin, store.NameOf(ref.Kind, old.Attrs), nil)
		if err != nil {
			return fmt.Errorf("mongo delete: %w", err)
		}
		ok, err := s.claim(ctx, h, h.V+1)
		if err != nil {
			return fmt.Errorf("mongo delete: %w", err)
		}
		if !ok {
			if err := backoff(ctx, attempt%5); err != nil {
				return fmt.Errorf("mongo delete: %w", err)
			}
			continue
		}
		if err := s.step("claimed"); err != nil {
			return err
		}
		now := s.now().UTC()
		nh := *h
		nh.V, nh.Del, nh.PJ = h.V+1, true, true
		nh.Pend = &pending{Op: string(store.OpDelete), V: nh.V, At: now.UnixNano(), Prov: pv}
		nh.setShadows(nil, false) // frees userName, displayName and externalId at once
		res, err := s.res.ReplaceOne(ctx, s.headFilter(h.Key, h.V), &nh)
		if err != nil {
			s.release(ctx, h, nh.V)
			return fmt.Errorf("mongo delete: %w", mapErr(err))
		}
		if res.MatchedCount == 0 {
			s.release(ctx, h, nh.V)
			continue
		}
		if err := s.step("written"); err != nil {
			return err
		}
		if err := s.finish(context.WithoutCancel(ctx), &nh, false); err != nil {
			return fmt.Errorf("mongo delete: %w", err)
		}
		return nil
	}
}

// Exists returns the kind of each id that exists in the tenant.
func (s *Store) Exists(ctx context.Context, tenant string, ids []string) (map[string]store.Kind, error) {
	out := make(map[string]store.Kind, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	hs, err := s.heads(ctx, tenant, ids, bson.D{{Key: "id", Value: 1}, {Key: "k", Value: 1}, {Key: "del", Value: 1}})
	if err != nil {
		return nil, fmt.Errorf("mongo exists: %w", err)
	}
	for _, h := range hs {
		out[h.ID] = store.Kind(h.K)
	}
	return out, nil
}

// heads reads the live heads of ids (any order) with a projection.
func (s *Store) heads(ctx context.Context, tenant string, ids []string, proj bson.D) ([]head, error) {
	if s.ferret && len(ids) > 1000 {
		return s.headsByScan(ctx, tenant, ids, proj)
	}
	var out []head
	for chunk := range slices.Chunk(ids, 5000) {
		keys := make([]string, len(chunk))
		for i, id := range chunk {
			keys[i] = rkey(tenant, id)
		}
		o := options.Find()
		if proj != nil {
			o.SetProjection(proj)
		}
		hs, err := findAll[head](ctx, s.res, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}}}, o)
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			if !h.Del {
				out = append(out, h)
			}
		}
	}
	return out, nil
}
