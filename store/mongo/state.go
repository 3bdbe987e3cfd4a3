package mongo

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/scimbridge/scimbridge/store"
)

type stateDoc struct {
	Key string `bson:"_id"`
	T   string `bson:"t"`
	K   string `bson:"key"`
	Val []byte `bson:"val"`
	V   int64  `bson:"v"`
}

func (d stateDoc) entry() store.StateEntry {
	if d.Val == nil {
		d.Val = []byte{}
	}
	return store.StateEntry{Key: d.K, Value: d.Val, Version: d.V}
}

// GetState returns a state entry, or store.ErrNotFound.
func (s *Store) GetState(ctx context.Context, tenant, key string) (store.StateEntry, error) {
	var d stateDoc
	err := s.state.FindOne(ctx, bson.D{{Key: "_id", Value: rkey(tenant, key)}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return store.StateEntry{}, fmt.Errorf("mongo get state: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.StateEntry{}, fmt.Errorf("mongo get state: %w", mapErr(err))
	}
	return d.entry(), nil
}

// PutState writes a state entry with compare-and-swap; see store.Store. It
// returns store.ErrPrecondition on a version mismatch.
//
// The compare-and-swap is a conditional update, which is atomic on MongoDB
// (FerretDB's SQLite backend does not apply conditional updates
// atomically).
func (s *Store) PutState(ctx context.Context, tenant, key string, value []byte, ifVersion int64) (int64, error) {
	if value == nil {
		value = []byte{}
	}
	id := rkey(tenant, key)
	after := options.FindOneAndUpdate().SetReturnDocument(options.After)
	var d stateDoc
	var err error
	switch {
	case ifVersion == -1:
		err = s.state.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{
			{Key: "$set", Value: bson.D{{Key: "val", Value: value}, {Key: "t", Value: tenant}, {Key: "key", Value: key}}},
			{Key: "$inc", Value: bson.D{{Key: "v", Value: int64(1)}}},
		}, after.SetUpsert(true)).Decode(&d)
	case ifVersion == 0:
		d = stateDoc{Key: id, T: tenant, K: key, Val: value, V: 1}
		_, err = s.state.InsertOne(ctx, &d)
		if isDup(err) {
			err = store.ErrPrecondition
		}
	case ifVersion > 0:
		err = s.state.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}, {Key: "v", Value: ifVersion}}, bson.D{
			{Key: "$set", Value: bson.D{{Key: "val", Value: value}}},
			{Key: "$inc", Value: bson.D{{Key: "v", Value: int64(1)}}},
		}, after).Decode(&d)
		if errors.Is(err, mongo.ErrNoDocuments) {
			err = store.ErrPrecondition
		}
	default:
		err = fmt.Errorf("invalid ifVersion %d", ifVersion)
	}
	if err != nil {
		return 0, fmt.Errorf("mongo put state: %w", mapErr(err))
	}
	return d.V, nil
}

// DeleteState removes a state entry if present.
func (s *Store) DeleteState(ctx context.Context, tenant, key string) error {
	if _, err := s.state.DeleteOne(ctx, bson.D{{Key: "_id", Value: rkey(tenant, key)}}); err != nil {
		return fmt.Errorf("mongo delete state: %w", mapErr(err))
	}
	return nil
}

// ListState returns the entries whose key starts with prefix, by key.
func (s *Store) ListState(ctx context.Context, tenant, prefix string) ([]store.StateEntry, error) {
	f := bson.D{{Key: "t", Value: tenant}}
	if prefix != "" {
		f = append(f, bson.E{Key: "key", Value: bson.D{{Key: "$regex", Value: "^" + regexp.QuoteMeta(prefix)}}})
	}
	ds, err := findAll[stateDoc](ctx, s.state, f, options.Find().SetSort(bson.D{{Key: "t", Value: 1}, {Key: "key", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongo list state: %w", err)
	}
	out := make([]store.StateEntry, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.entry())
	}
	return out, nil
}

// AcquireLease takes or renews a lease; see store.Store. The lease is
// taken when absent, expired or already held by holder.
func (s *Store) AcquireLease(ctx context.Context, tenant, name, holder string, ttl time.Duration) (bool, error) {
	now := s.now()
	id := rkey(tenant, name)
	_, err := s.leases.UpdateOne(ctx, bson.D{
		{Key: "_id", Value: id},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "holder", Value: holder}},
			bson.D{{Key: "exp", Value: bson.D{{Key: "$lte", Value: now.UnixNano()}}}},
		}},
	}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "holder", Value: holder}, {Key: "exp", Value: now.Add(ttl).UnixNano()}, {Key: "t", Value: tenant},
	}}}, options.UpdateOne().SetUpsert(true))
	if isDup(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mongo acquire lease: %w", mapErr(err))
	}
	return true, nil
}
