package mongo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/scimbridge/scimbridge/store"
)

// entry is a journal document.
type entry struct {
	Key string   `bson:"_id"` // (tenant, seq)
	T   string   `bson:"t"`
	S   int64    `bson:"s"`
	K   string   `bson:"k"`
	ID  string   `bson:"id"`
	Op  string   `bson:"op"`
	V   int64    `bson:"v"`
	At  int64    `bson:"at"`
	Add []string `bson:"add,omitempty"`
	Rm  []string `bson:"rm,omitempty"`
	CK  string   `bson:"ck"` // (resource, incarnation, version): unique
	// Provenance (absent in entries written before it existed).
	Prov prov `bson:",inline"`
}

// change decodes a journal document. Every reader of the journal decodes
// its entries here.
func (e *entry) change() (store.Change, error) {
	c := store.Change{
		Seq: e.S, Tenant: e.T, Kind: store.Kind(e.K), ID: e.ID, Op: store.ChangeOp(e.Op),
		Version: e.V, At: time.Unix(0, e.At).UTC(), Added: e.Add, Removed: e.Rm,
		Origin: store.Origin{Source: store.Source(e.Prov.Src), Actor: e.Prov.By, RunID: e.Prov.Run},
		Name:   e.Prov.Name,
	}
	if e.Prov.Ch != "" {
		if err := json.Unmarshal([]byte(e.Prov.Ch), &c.Changed); err != nil {
			return store.Change{}, fmt.Errorf("journal entry %d: %w", e.S, err)
		}
	}
	return c, nil
}

func (s *Store) tenantSeq(tenant string) *tenantSeq {
	s.seqMu.Lock()
	defer s.seqMu.Unlock()
	ts := s.seqs[tenant]
	if ts == nil {
		ts = &tenantSeq{}
		s.seqs[tenant] = ts
	}
	return ts
}

// journal inserts h.Pend, with the members added that held (addMembers),
// into the journal exactly once and returns its sequence number (0 if
// another writer journaled it). See the package documentation for why
// sequence numbers are gap-free.
func (s *Store) journal(ctx context.Context, h *head, added []memberRef) (int64, error) {
	p := h.Pend
	e := entry{T: h.T, K: h.K, ID: h.ID, Op: p.Op, V: p.V, At: p.At, CK: ckey(h, p.V), Prov: p.Prov}
	for _, m := range added {
		e.Add = append(e.Add, m.ID)
	}
	e.Rm = p.Rm
	ts := s.tenantSeq(h.T)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.next == 0 {
		next, err := s.nextSeq(ctx, h.T, 0)
		if err != nil {
			return 0, err
		}
		ts.next = next
	}
	for {
		e.S = ts.next
		e.Key = jkey(h.T, e.S)
		_, err := s.jnl.InsertOne(ctx, &e)
		if err == nil {
			// A number this handle had as next may have been taken by
			// another replica and trimmed since: the insert then
			// succeeds below the floor, where no reader looks. Trim
			// raised the floor before it deleted, so a floor read now
			// tells.
			floor, err := s.TrimFloor(ctx, h.T)
			if err != nil {
				return 0, err
			}
			if e.S > floor {
				ts.next++
				return e.S, nil
			}
			// At or below the floor: either this entry was journaled
			// above the floor and a trim has removed it since (it is
			// done), or it is still there below the floor and moves up.
			// The delete tells the two apart and takes the entry from
			// any later trim at once. It names this write's ck too, in
			// case a trim removed the entry and another replica's
			// insert took the number again (FerretDB scans for such a
			// filter; this path is rare).
			res, err := s.jnl.DeleteOne(ctx, bson.D{{Key: "_id", Value: e.Key}, {Key: "ck", Value: e.CK}})
			if err != nil {
				return 0, mapErr(err)
			}
			if res.DeletedCount == 0 {
				ts.next++
				return e.S, nil
			}
			if ts.next, err = s.nextSeq(ctx, h.T, floor); err != nil {
				return 0, err
			}
			continue
		}
		if !isDup(err) {
			return 0, mapErr(err)
		}
		// Taken seq, or this change is journaled already?
		taken, err := s.seqTaken(ctx, h.T, e.S)
		if err != nil {
			return 0, err
		}
		if !taken {
			// Free now: journaled already (a duplicate ck), unless it
			// was taken and trimmed since. Trim raises the floor before
			// it deletes, so a floor read after the lookup tells.
			floor, err := s.TrimFloor(ctx, h.T)
			if err != nil {
				return 0, err
			}
			if e.S > floor {
				return 0, nil
			}
		}
		// Other replicas journaled meanwhile: jump past all of their
		// entries at once. Stepping one seq per round trip can fall
		// behind a busy replica for as long as it keeps writing (which
		// once held writes here past their lease).
		if ts.next, err = s.nextSeq(ctx, h.T, e.S); err != nil {
			return 0, err
		}
	}
}

// firstFreeSeq returns the smallest sequence number above known (a taken
// one, or 0) that is free. Taken numbers form the prefix 1…max (the journal
// is gap-free), so a galloping then binary search finds max+1 in
// O(log(max-known)) lookups by _id, which every server answers from its
// primary index.
func (s *Store) firstFreeSeq(ctx context.Context, tenant string, known int64) (int64, error) {
	lo, step := known, int64(1) // lo is taken (or 0)
	hi := lo + step
	for {
		taken, err := s.seqTaken(ctx, tenant, hi)
		if err != nil {
			return 0, err
		}
		if !taken {
			break
		}
		lo, step = hi, step*2
		hi = lo + step
	}
	for hi-lo > 1 { // lo taken, hi free
		mid := lo + (hi-lo)/2
		taken, err := s.seqTaken(ctx, tenant, mid)
		if err != nil {
			return 0, err
		}
		if taken {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, nil
}

// nextSeq returns the first free sequence number above known (a taken or
// trimmed one, or 0) and above the tenant's trim floor. Taken numbers are
// the range floor+1…max (trim.go), so the search starts at the floor. A
// number the search read as free may have been trimmed during it: Trim
// raises the floor before it deletes, so a floor read after the search
// covers every number a trim freed, and the search goes on from it.
func (s *Store) nextSeq(ctx context.Context, tenant string, known int64) (int64, error) {
	for {
		floor, err := s.TrimFloor(ctx, tenant)
		if err != nil {
			return 0, err
		}
		next, err := s.firstFreeSeq(ctx, tenant, max(known, floor))
		if err != nil {
			return 0, err
		}
		after, err := s.TrimFloor(ctx, tenant)
		if err != nil {
			return 0, err
		}
		if next > after {
			return next, nil
		}
		known = after
	}
}

// seqTaken reports whether the tenant's journal has an entry at seq.
func (s *Store) seqTaken(ctx context.Context, tenant string, seq int64) (bool, error) {
	err := s.jnl.FindOne(ctx, bson.D{{Key: "_id", Value: jkey(tenant, seq)}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return false, nil
	case err != nil:
		return false, mapErr(err)
	}
	return true, nil
}

// Changes returns up to limit journal entries after afterSeq; see
// store.Store. Only the contiguous run afterSeq+1, afterSeq+2, … is
// returned, so an entry being inserted concurrently is never skipped (see
// "Why a journal reader never skips an entry" in doc.go).
func (s *Store) Changes(ctx context.Context, tenant string, afterSeq int64, limit int) ([]store.Change, error) {
	s.maybeRecover(ctx)
	o := options.Find().SetSort(bson.D{{Key: "t", Value: 1}, {Key: "s", Value: 1}})
	if limit > 0 {
		o.SetLimit(int64(limit))
	}
	es, err := findAll[entry](ctx, s.jnl, bson.D{{Key: "t", Value: tenant}, {Key: "s", Value: bson.D{{Key: "$gt", Value: afterSeq}}}}, o)
	if err != nil {
		return nil, fmt.Errorf("mongo changes: %w", err)
	}
	// Read after the entries: a trim that removed any of them had raised
	// the floor before (trim.go).
	floor, err := s.TrimFloor(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("mongo changes: %w", err)
	}
	if afterSeq < floor {
		return nil, fmt.Errorf("mongo changes: %w", store.ErrCursorExpired)
	}
	out := []store.Change{}
	next := afterSeq + 1
	for _, e := range es {
		if e.S != next {
			break // a gap: the entry at next is still being inserted
		}
		next++
		c, err := e.change()
		if err != nil {
			return nil, fmt.Errorf("mongo changes: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}

// maybeRecover runs recoverStale at most once per half lease.
func (s *Store) maybeRecover(ctx context.Context) {
	s.recMu.Lock()
	if time.Since(s.lastRec) < s.lease/2 {
		s.recMu.Unlock()
		return
	}
	s.lastRec = time.Now()
	s.recMu.Unlock()
	_ = s.recoverStale(ctx)
}

// recoverStale finishes writes whose writer stopped between the head write
// and clearing the outbox, once their lease has expired. It reads only the
// keys of pending heads up front: finish re-reads each head right before
// taking its write over, as a head read at the start of a long pass may
// have moved on since.
func (s *Store) recoverStale(ctx context.Context) error {
	keys, err := findAll[head](ctx, s.res, bson.D{{Key: "pj", Value: true}},
		options.Find().SetProjection(bson.D{{Key: "t", Value: 1}, {Key: "id", Value: 1}}))
	if err != nil {
		return err
	}
	var errs []error
	for _, k := range keys {
		h, err := s.loadHead(ctx, k.T, k.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !h.PJ || !s.expired(h.Pend) {
			continue
		}
		if err := s.finish(ctx, h, true); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Recover finishes every write left unfinished for longer than the lease
// (it also runs at Open, periodically, and from Changes).
func (s *Store) Recover(ctx context.Context) error {
	if err := s.recoverStale(ctx); err != nil {
		return fmt.Errorf("mongo recover: %w", err)
	}
	return nil
}
