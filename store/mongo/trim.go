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
// is gone by its check knows it was taken (journal), a writer whose insert
// succeeded at a number another replica had taken and a trim removed finds
// it at or below the floor and moves its entry up (journal), and Changes
// below the floor answers store.ErrCursorExpired instead of waiting for a
// gap that never fills.
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
// Cost: a batch reads the oldest entries above the floor and stops at the
// first one too young or above a live consumer, so trimming by age needs no
// index on the entry time. On MongoDB that is a range scan of jnl_seq
// (t, s). FerretDB v1 answers only _id equality filters from an index, so
// there trimHead reads the entries by _id one by one (a batch costs its
// size, not the journal's), and the delete by _id $in, one statement,
// scans the journal collection once per batch: cheaper there than a write
// per entry. See BENCHMARKS.md for figures. The floor read that every
// Changes call adds scans jfloors on FerretDB, which holds one or two
// documents per tenant.

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
	es, err := s.trimHead(ctx, tenant, floor, limit)
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
	// One delete by _id $in: FerretDB scans the journal for it, which
	// still costs less than a write per entry there (BENCHMARKS.md).
	res, err := s.jnl.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}}})
	if err != nil {
		return 0, fmt.Errorf("mongo trim: %w", mapErr(err))
	}
	// Housekeeping: a failure leaves a document the next trim removes.
	_, _ = s.floors.DeleteMany(ctx, bson.D{{Key: "t", Value: tenant}, {Key: "s", Value: bson.D{{Key: "$lt", Value: last}}}})
	return int(res.DeletedCount), nil
}

// trimHead returns (seq and time of) at most limit of the tenant's oldest
// entries above floor, in seq order, up to the first gap. MongoDB reads
// them with one range scan of jnl_seq; FerretDB v1, which would scan the
// whole journal collection for that, gets them by _id one by one.
func (s *Store) trimHead(ctx context.Context, tenant string, floor int64, limit int) ([]entry, error) {
	proj := bson.D{{Key: "s", Value: 1}, {Key: "at", Value: 1}}
	if !s.ferret {
		return findAll[entry](ctx, s.jnl,
			bson.D{{Key: "t", Value: tenant}, {Key: "s", Value: bson.D{{Key: "$gt", Value: floor}}}},
			options.Find().SetSort(bson.D{{Key: "t", Value: 1}, {Key: "s", Value: 1}}).SetLimit(int64(limit)).SetProjection(proj))
	}
	var out []entry
	for seq := floor + 1; len(out) < limit; seq++ {
		var e entry
		err := s.jnl.FindOne(ctx, bson.D{{Key: "_id", Value: jkey(tenant, seq)}}, options.FindOne().SetProjection(proj)).Decode(&e)
		if errors.Is(err, mongo.ErrNoDocuments) {
			break
		}
		if err != nil {
			return nil, mapErr(err)
		}
		out = append(out, e)
	}
	return out, nil
}
