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

// Retention (store.Journal's Trim and TrimFloor).
//
// The sequence search (journal.go) and Changes read a gap in a tenant's
// journal as an entry still being inserted, which holds for the numbers
// above its trim floor only: the taken numbers are floor+1…max. The floor
// is the highest trimmed seq. Trim records it before it deletes anything,
// so whoever finds a number free that a trim removed reads, after that
// lookup, a floor at or above it: the sequence search then goes on from
// the floor (nextSeq), a writer whose insert collided with a number that
// is gone by its check knows it was taken (journal), and Changes below the
// floor answers store.ErrCursorExpired instead of waiting for a gap that
// never fills.
//
// Like cursors (consumer.go), a floor is immutable documents, not a
// conditionally updated one (FerretDB does not apply conditional updates
// atomically): each trim inserts (tenant, seq) into jfloors and the floor
// is the largest seq there, so two trims at once can never lower it. The
// documents below the new one are removed after it is inserted, so a tenant
// keeps one or two.
//
// Trim reads the consumers before it deletes and the two are not one
// step: a stale consumer that renews its lease or moves its cursor during
// a trim may find its position trimmed. It then gets
// store.ErrCursorExpired, never a silent skip. (On SQLite a Trim is one
// write transaction.)
//
// Cost: a batch reads the oldest entries above the floor by the index
// jnl_seq (t, s) and stops at the first one too young or above a live
// consumer, so trimming by age needs no index on the entry time. On
// FerretDB v1, which answers only _id filters from an index, that read
// and the delete by _id $in scan the journal collection per batch (230 ms
// for a batch of 100 beside 1,000 entries, 1 s beside 4,000: see
// BENCHMARKS.md; a backlog of N entries costs N/limit batches), and the floor read that every Changes call adds scans jfloors,
// which holds one or two documents per tenant.

// floorDoc is one trim floor of a tenant.
type floorDoc struct {
	Key string `bson:"_id"` // (tenant, seq)
	T   string `bson:"t"`
	S   int64  `bson:"s"`
}

// TrimFloor returns the tenant's trim floor (0: nothing was trimmed).
func (s *Store) TrimFloor(ctx context.Context, tenant string) (int64, error) {
	var d floorDoc
	err := s.floors.FindOne(ctx, bson.D{{Key: "t", Value: tenant}},
		options.FindOne().SetSort(bson.D{{Key: "t", Value: 1}, {Key: "s", Value: -1}})).Decode(&d)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("mongo trim floor: %w", mapErr(err))
	}
	return d.S, nil
}

// Trim deletes at most limit of the tenant's oldest entries written before
// before; see store.Journal and the comment above.
func (s *Store) Trim(ctx context.Context, tenant string, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("mongo trim: limit must be > 0")
	}
	cs, err := s.Consumers(ctx, tenant)
	if err != nil {
		return 0, fmt.Errorf("mongo trim: %w", err)
	}
	hold := store.TrimHold(cs, before)
	floor, err := s.TrimFloor(ctx, tenant)
	if err != nil {
		return 0, fmt.Errorf("mongo trim: %w", err)
	}
	es, err := findAll[entry](ctx, s.jnl,
		bson.D{{Key: "t", Value: tenant}, {Key: "s", Value: bson.D{{Key: "$gt", Value: floor}}}},
		options.Find().SetSort(bson.D{{Key: "t", Value: 1}, {Key: "s", Value: 1}}).SetLimit(int64(limit)).
			SetProjection(bson.D{{Key: "s", Value: 1}, {Key: "at", Value: 1}}))
	if err != nil {
		return 0, fmt.Errorf("mongo trim: %w", err)
	}
	cutoff := before.UnixNano()
	var keys []string
	last := floor
	for _, e := range es {
		// A gap is an entry still being inserted: never trim past it.
		if e.S != last+1 || e.At >= cutoff || hold >= 0 && e.S > hold {
			break
		}
		last = e.S
		keys = append(keys, jkey(tenant, e.S))
	}
	if len(keys) == 0 {
		return 0, nil
	}
	// The floor first: see the comment at the top of this file.
	fd := floorDoc{Key: jkey(tenant, last), T: tenant, S: last}
	if _, err := s.floors.InsertOne(ctx, &fd); err != nil && !isDup(err) {
		return 0, fmt.Errorf("mongo trim: %w", mapErr(err))
	}
	res, err := s.jnl.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}}})
	if err != nil {
		return 0, fmt.Errorf("mongo trim: %w", mapErr(err))
	}
	// Housekeeping: a failure leaves a document the next trim removes.
	_, _ = s.floors.DeleteMany(ctx, bson.D{{Key: "t", Value: tenant}, {Key: "s", Value: bson.D{{Key: "$lt", Value: last}}}})
	return int(res.DeletedCount), nil
}
