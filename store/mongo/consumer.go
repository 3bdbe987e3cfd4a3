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

// Journal consumers (store.Journal).
//
// # Cursors
//
// Like writes (see doc.go), cursors rely on no atomic operation but a
// single-document insert against a unique index: FerretDB's SQLite backend
// does not apply conditional updates atomically, so a compare-and-swap by
// conditional update could let two replicas both win. A cursor is instead a
// series of immutable documents in the cursors collection, one per move,
// with _id (tenant, consumer, n) for n = 1, 2, …; the current position is
// the document with the largest n. A move from the document n inserts n+1:
// of two replicas moving from the same version exactly one insert succeeds,
// the other gets a duplicate key and answers store.ErrPrecondition.
// Cursor.Version is n minus the document's base (the n before the cursor
// was created), so it starts at 1 again for a cursor created after a
// delete. DeleteCursor inserts a tombstone as the next document, so that a
// move racing the delete loses as any other move would, and a later create
// continues the numbering. After each insert the documents older than the
// previous one are removed: a reader that misses the newest document still
// finds its predecessor (and then fails its swap), never nothing. The
// collection holds two documents per consumer, and per deleted consumer its
// tombstone.
//
// # The lease check
//
// AdvanceCursor with a holder reads the consumer's lease (by _id) right
// before its insert. Without multi-document transactions the two cannot be
// one step: a holder delayed for longer than what was left of its lease
// exactly between the read and the insert can move the cursor once more
// after its lease expired. It can never overwrite a move of the next holder:
// that one's first move from the version it read then fails with
// store.ErrPrecondition (only one insert of a version succeeds), and it
// reads the cursor again. The late move records only entries the old holder
// had applied, so delivery stays at least once. This is the assumption the
// write protocol's lease makes (doc.go); on SQLite the check and the move
// are one transaction.
//
// # Lag
//
// A tenant's journal sequence numbers are gap-free above its trim floor
// (doc.go, trim.go), so the number of entries after a cursor's seq (or
// the floor, if it is higher) is the first free seq above it minus one,
// minus seq: firstFreeSeq finds it with O(log lag) lookups by _id, which
// FerretDB, too, answers from its primary index, where a count would scan
// the journal there.

// cursorDoc is one version of a consumer's cursor.
type cursorDoc struct {
	Key  string `bson:"_id"` // (tenant, consumer, n)
	T    string `bson:"t"`
	C    string `bson:"c"`
	N    int64  `bson:"n"`
	Base int64  `bson:"b"` // Version = N - Base
	S    int64  `bson:"s"`
	Up   int64  `bson:"up"`
	Del  bool   `bson:"del,omitempty"` // a tombstone
}

func (d *cursorDoc) cursor() store.Cursor {
	return store.Cursor{Tenant: d.T, Consumer: d.C, Seq: d.S, Version: d.N - d.Base, UpdatedAt: time.Unix(0, d.Up).UTC()}
}

// curKey is unambiguous: n has a fixed width.
func curKey(tenant, consumer string, n int64) string {
	return fmt.Sprintf("%s@%020d", rkey(tenant, consumer), n)
}

// currentCursor returns the newest document of a consumer's cursor (a
// tombstone or not); nil if it has none.
func (s *Store) currentCursor(ctx context.Context, tenant, consumer string) (*cursorDoc, error) {
	var d cursorDoc
	err := s.cursors.FindOne(ctx, bson.D{{Key: "t", Value: tenant}, {Key: "c", Value: consumer}},
		options.FindOne().SetSort(bson.D{{Key: "t", Value: 1}, {Key: "c", Value: 1}, {Key: "n", Value: -1}})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, mapErr(err)
	}
	return &d, nil
}

// GetCursor returns a consumer's cursor, or store.ErrNotFound.
func (s *Store) GetCursor(ctx context.Context, tenant, consumer string) (store.Cursor, error) {
	d, err := s.currentCursor(ctx, tenant, consumer)
	if err != nil {
		return store.Cursor{}, fmt.Errorf("mongo get cursor: %w", err)
	}
	if d == nil || d.Del {
		return store.Cursor{}, fmt.Errorf("mongo get cursor: %w", store.ErrNotFound)
	}
	return d.cursor(), nil
}

// AdvanceCursor moves a cursor with compare-and-swap; see store.Journal
// and the comment at the top of this file for the guarantees.
func (s *Store) AdvanceCursor(ctx context.Context, tenant, consumer, holder string, ifVersion, seq int64) (store.Cursor, error) {
	if err := store.CheckAdvance(consumer, ifVersion, seq); err != nil {
		return store.Cursor{}, fmt.Errorf("mongo advance cursor: %w", err)
	}
	cur, err := s.currentCursor(ctx, tenant, consumer)
	if err != nil {
		return store.Cursor{}, fmt.Errorf("mongo advance cursor: %w", err)
	}
	if holder != "" {
		if err := s.checkLease(ctx, tenant, store.ConsumerLease(consumer), holder); err != nil {
			return store.Cursor{}, fmt.Errorf("mongo advance cursor: %w", err)
		}
	}
	next := cursorDoc{T: tenant, C: consumer, S: seq}
	switch {
	case ifVersion == 0 && (cur == nil || cur.Del):
		if cur != nil {
			next.N, next.Base = cur.N+1, cur.N
		} else {
			next.N = 1
		}
	case ifVersion > 0 && cur != nil && !cur.Del && cur.N-cur.Base == ifVersion:
		next.N, next.Base = cur.N+1, cur.Base
	default:
		return store.Cursor{}, fmt.Errorf("mongo advance cursor: %w", store.ErrPrecondition)
	}
	next.Key = curKey(tenant, consumer, next.N)
	next.Up = s.now().UnixNano()
	if _, err := s.cursors.InsertOne(ctx, &next); err != nil {
		if isDup(err) {
			err = store.ErrPrecondition
		}
		return store.Cursor{}, fmt.Errorf("mongo advance cursor: %w", mapErr(err))
	}
	s.dropOldCursors(ctx, tenant, consumer, next.N)
	return next.cursor(), nil
}

// checkLease returns store.ErrLeaseLost unless holder holds the lease name
// and it has not expired.
func (s *Store) checkLease(ctx context.Context, tenant, name, holder string) error {
	var l struct {
		Holder string `bson:"holder"`
		Exp    int64  `bson:"exp"`
	}
	err := s.leases.FindOne(ctx, bson.D{{Key: "_id", Value: rkey(tenant, name)}}).Decode(&l)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return store.ErrLeaseLost
	case err != nil:
		return mapErr(err)
	case l.Holder != holder || l.Exp <= s.now().UnixNano():
		return store.ErrLeaseLost
	}
	return nil
}

// dropOldCursors removes the documents of a cursor before n-1. It is
// housekeeping: a failure leaves documents that the next move removes.
func (s *Store) dropOldCursors(ctx context.Context, tenant, consumer string, n int64) {
	if n <= 2 {
		return
	}
	_, _ = s.cursors.DeleteMany(ctx, bson.D{{Key: "t", Value: tenant}, {Key: "c", Value: consumer},
		{Key: "n", Value: bson.D{{Key: "$lt", Value: n - 1}}}})
}

// DeleteCursor writes a tombstone as the cursor's next version and removes
// the consumer's lease.
func (s *Store) DeleteCursor(ctx context.Context, tenant, consumer string) error {
	for {
		cur, err := s.currentCursor(ctx, tenant, consumer)
		if err != nil {
			return fmt.Errorf("mongo delete cursor: %w", err)
		}
		if cur == nil || cur.Del {
			break
		}
		t := cursorDoc{Key: curKey(tenant, consumer, cur.N+1), T: tenant, C: consumer, N: cur.N + 1, Base: cur.N + 1,
			Up: s.now().UnixNano(), Del: true}
		_, err = s.cursors.InsertOne(ctx, &t)
		if isDup(err) {
			continue // moved meanwhile: delete the newer version
		}
		if err != nil {
			return fmt.Errorf("mongo delete cursor: %w", mapErr(err))
		}
		s.dropOldCursors(ctx, tenant, consumer, t.N)
		break
	}
	if _, err := s.leases.DeleteOne(ctx, bson.D{{Key: "_id", Value: rkey(tenant, store.ConsumerLease(consumer))}}); err != nil {
		return fmt.Errorf("mongo delete cursor: %w", mapErr(err))
	}
	return nil
}

// Consumers lists a tenant's cursors with their lag; see store.Journal.
// It reads the tenant's cursor documents in one query, then per consumer
// its lease and journal position by _id.
func (s *Store) Consumers(ctx context.Context, tenant string) ([]store.ConsumerInfo, error) {
	ds, err := findAll[cursorDoc](ctx, s.cursors, bson.D{{Key: "t", Value: tenant}},
		options.Find().SetSort(bson.D{{Key: "t", Value: 1}, {Key: "c", Value: 1}, {Key: "n", Value: -1}}))
	if err != nil {
		return nil, fmt.Errorf("mongo consumers: %w", err)
	}
	floor, err := s.TrimFloor(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("mongo consumers: %w", err)
	}
	now := s.now().UnixNano()
	out := []store.ConsumerInfo{}
	for i, d := range ds {
		if i > 0 && ds[i-1].C == d.C || d.Del {
			continue // an older version, or a deleted consumer
		}
		ci := store.ConsumerInfo{Cursor: d.cursor(), Expired: d.S < floor}
		// The entries left start after the floor (trim.go).
		from := max(d.S, floor)
		free, err := s.firstFreeSeq(ctx, tenant, from)
		if err != nil {
			return nil, fmt.Errorf("mongo consumers: %w", err)
		}
		if ci.Lag = free - 1 - from; ci.Lag > 0 {
			var e entry
			err := s.jnl.FindOne(ctx, bson.D{{Key: "_id", Value: jkey(tenant, from+1)}}).Decode(&e)
			if err != nil {
				return nil, fmt.Errorf("mongo consumers: %w", mapErr(err))
			}
			ci.OldestUnread = time.Unix(0, e.At).UTC()
		}
		var l struct {
			Holder string `bson:"holder"`
			Exp    int64  `bson:"exp"`
		}
		err = s.leases.FindOne(ctx, bson.D{{Key: "_id", Value: rkey(tenant, store.ConsumerLease(d.C))}}).Decode(&l)
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
		case err != nil:
			return nil, fmt.Errorf("mongo consumers: %w", mapErr(err))
		default:
			ci.LeaseExpires = time.Unix(0, l.Exp).UTC()
			if l.Exp > now {
				ci.Holder = l.Holder
			}
		}
		out = append(out, ci)
	}
	return out, nil
}

// History returns one resource's journal entries newest first; see
// store.Journal. On MongoDB the index jnl_resource (t, id, s) answers it
// with a range scan read backwards. FerretDB v1 answers only _id filters
// from an index, so there each call scans the whole journal collection
// (every tenant), in time proportional to the journal: 175 ms at 2,000
// entries (see BENCHMARKS.md). The index is not created there, as it would
// cost every journal insert and serve nothing.
func (s *Store) History(ctx context.Context, ref store.Ref, beforeSeq int64, limit int) ([]store.Change, error) {
	f := bson.D{{Key: "t", Value: ref.Tenant}, {Key: "id", Value: ref.ID}}
	if beforeSeq > 0 {
		f = append(f, bson.E{Key: "s", Value: bson.D{{Key: "$lt", Value: beforeSeq}}})
	}
	f = append(f, bson.E{Key: "k", Value: string(ref.Kind)})
	o := options.Find().SetSort(bson.D{{Key: "t", Value: 1}, {Key: "id", Value: 1}, {Key: "s", Value: -1}})
	if limit > 0 {
		o.SetLimit(int64(limit))
	}
	es, err := findAll[entry](ctx, s.jnl, f, o)
	if err != nil {
		return nil, fmt.Errorf("mongo history: %w", err)
	}
	out := make([]store.Change, 0, len(es))
	for _, e := range es {
		c, err := e.change()
		if err != nil {
			return nil, fmt.Errorf("mongo history: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}
