package mongo

import (
	"context"
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

// journal inserts h.Pend into the journal exactly once and returns its
// sequence number (0 if another writer journaled it). See the package
// documentation for why sequence numbers are gap-free.
func (s *Store) journal(ctx context.Context, h *head) (int64, error) {
	p := h.Pend
	e := entry{T: h.T, K: h.K, ID: h.ID, Op: p.Op, V: p.V, At: p.At, CK: ckey(h, p.V)}
	for _, m := range p.Add {
		e.Add = append(e.Add, m.ID)
	}
	e.Rm = p.Rm
	ts := s.tenantSeq(h.T)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.next == 0 {
		var last entry
		err := s.jnl.FindOne(ctx, bson.D{{Key: "t", Value: h.T}},
			options.FindOne().SetSort(bson.D{{Key: "t", Value: 1}, {Key: "s", Value: -1}}).SetProjection(bson.D{{Key: "s", Value: 1}})).Decode(&last)
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
			ts.next = 1
		case err != nil:
			return 0, mapErr(err)
		default:
			ts.next = last.S + 1
		}
	}
	for {
		e.S = ts.next
		e.Key = jkey(h.T, e.S)
		_, err := s.jnl.InsertOne(ctx, &e)
		if err == nil {
			ts.next++
			return e.S, nil
		}
		if !isDup(err) {
			return 0, mapErr(err)
		}
		// Taken seq, or this change is journaled already?
		n, cerr := s.jnl.CountDocuments(ctx, bson.D{{Key: "_id", Value: e.Key}})
		if cerr != nil {
			return 0, mapErr(cerr)
		}
		if n == 0 {
			return 0, nil
		}
		ts.next++
	}
}

// Changes returns up to limit journal entries after afterSeq; see
// store.Store. Only the contiguous run afterSeq+1, afterSeq+2, … is
// returned, so an entry being inserted concurrently is never skipped.
func (s *Store) Changes(ctx context.Context, tenant string, afterSeq int64, limit int) ([]store.Change, error) {
	s.maybeRecover(ctx)
	o := options.Find().SetSort(bson.D{{Key: "t", Value: 1}, {Key: "s", Value: 1}})
	if limit > 0 {
		o.SetLimit(int64(limit))
	}
	cur, err := s.jnl.Find(ctx, bson.D{{Key: "t", Value: tenant}, {Key: "s", Value: bson.D{{Key: "$gt", Value: afterSeq}}}}, o)
	if err != nil {
		return nil, fmt.Errorf("mongo changes: %w", mapErr(err))
	}
	var es []entry
	if err := cur.All(ctx, &es); err != nil {
		return nil, fmt.Errorf("mongo changes: %w", mapErr(err))
	}
	out := []store.Change{}
	next := afterSeq + 1
	for _, e := range es {
		if e.S != next {
			break // a gap: the entry at next is still being inserted
		}
		next++
		out = append(out, store.Change{
			Seq: e.S, Tenant: tenant, Kind: store.Kind(e.K), ID: e.ID, Op: store.ChangeOp(e.Op),
			Version: e.V, At: time.Unix(0, e.At).UTC(), Added: e.Add, Removed: e.Rm,
		})
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
// and clearing the outbox, once their lease has expired.
func (s *Store) recoverStale(ctx context.Context) error {
	cur, err := s.res.Find(ctx, bson.D{{Key: "pj", Value: true}})
	if err != nil {
		return mapErr(err)
	}
	var hs []head
	if err := cur.All(ctx, &hs); err != nil {
		return mapErr(err)
	}
	var errs []error
	for i := range hs {
		h := &hs[i]
		if h.Pend != nil && s.now().UnixNano()-h.Pend.At <= int64(s.lease) {
			continue
		}
		if err := s.finish(ctx, h); err != nil {
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
