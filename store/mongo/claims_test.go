package mongo

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/scimbridge/scimbridge/internal/testmongo"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// TestSweepClaims checks that claims older than claimTTL are removed and
// younger ones kept, as the TTL index does where the server has one
// (FerretDB has none, so there the recoverer sweeps).
func TestSweepClaims(t *testing.T) {
	ctx := storetest.Background()
	uri, db := testmongo.DB(t)
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	s, err := Open(ctx, uri, db, withoutRecoverer(), WithClock(func() time.Time { return time.Unix(0, now.Load()) }))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.ferret && !s.noTTL {
		t.Fatal("FerretDB has no TTL indexes, but the store did not notice")
	}
	ref := store.Ref{Tenant: "t", Kind: store.User, ID: "x"}
	if _, err := s.Create(ctx, store.Resource{Ref: ref, Attrs: map[string]any{"userName": "x"}}, nil); err != nil {
		t.Fatal(err)
	}
	update := func(v float64) {
		t.Helper()
		if _, err := s.Update(ctx, ref, func(r *store.Resource) (store.MemberDelta, error) {
			r.Attrs["n"] = v
			return store.MemberDelta{}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		update(float64(i))
	}
	now.Add(int64(claimTTL + time.Minute))
	update(9)
	if err := s.sweepClaims(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := s.claims.CountDocuments(ctx, bson.D{})
	if err != nil || n != 1 {
		t.Fatalf("%d claims after the sweep (%v), want the 1 younger than claimTTL", n, err)
	}
	// The kept claim still guards its version: the resource keeps working.
	update(10)
	if r, err := s.Get(ctx, ref); err != nil || r.Version != 6 {
		t.Fatalf("after the sweep: %+v %v", r, err)
	}
}

// TestSelectionCause checks that a server-selection error is shortened to
// the servers' last errors, which is what the startup error shows.
func TestSelectionCause(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{
			"server selection error: context deadline exceeded, current topology: { Type: Unknown, Servers: [{ Addr: 127.0.0.1:1, Type: Unknown, Last error: dial tcp 127.0.0.1:1: connect: connection refused }, ] }",
			"dial tcp 127.0.0.1:1: connect: connection refused",
		},
		{
			"server selection error: context deadline exceeded, current topology: { Type: ReplicaSetNoPrimary, Servers: [{ Addr: a:1, Type: Unknown, Last error: dial tcp: lookup a: no such host }, { Addr: b:1, Type: Unknown, Last error: dial tcp: lookup b: no such host }, { Addr: c:1, Type: Unknown, Last error: x509: certificate signed by unknown authority }, ] }",
			"dial tcp: lookup a: no such host; dial tcp: lookup b: no such host; x509: certificate signed by unknown authority",
		},
		{
			"server selection error: context deadline exceeded, current topology: { Type: ReplicaSetNoPrimary, Servers: [{ Addr: a:1, Type: RSSecondary }, ] }",
			"server selection error: context deadline exceeded, current topology: { Type: ReplicaSetNoPrimary, Servers: [{ Addr: a:1, Type: RSSecondary }, ] }",
		},
	} {
		if got := selectionCause(errors.New(tc.in)); got != tc.want {
			t.Errorf("selectionCause(%q)\n = %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// TestDescribeAuth checks that the driver's authentication failures, as a
// command error or inside a handshake/server-selection error, become the
// one short "authentication failed" startup error (never the URI).
func TestDescribeAuth(t *testing.T) {
	for _, in := range []error{
		mongo.CommandError{Code: 18, Name: "AuthenticationFailed", Message: "Authentication failed."},
		errors.New("server selection error: context deadline exceeded, current topology: { Type: Unknown, Servers: [{ Addr: db:27017, Type: Unknown, Last error: auth error: sasl conversation error: unable to authenticate using mechanism \"SCRAM-SHA-256\": (AuthenticationFailed) Authentication failed. }, ] }"),
	} {
		err := describe(in)
		if !errors.Is(err, store.ErrUnavailable) || err.Error() != store.ErrUnavailable.Error()+": authentication failed" {
			t.Errorf("describe(%v) = %v, want %q", in, err, store.ErrUnavailable.Error()+": authentication failed")
		}
	}
}

// TestTTLRefused checks which index-creation errors make the store fall back
// to sweeping claims itself.
func TestTTLRefused(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{mongo.CommandError{Code: 238, Name: "NotImplemented"}, true},                                                                     // FerretDB v1
		{mongo.CommandError{Code: 2, Name: "BadValue", Message: "The expireAfterSeconds option is supported on '_ts' field only."}, true}, // Cosmos DB
		{mongo.CommandError{Code: 67, Name: "CannotCreateIndex"}, true},
		{mongo.CommandError{Code: 85, Name: "IndexOptionsConflict"}, false},
		{mongo.CommandError{Code: 86, Name: "IndexKeySpecsConflict"}, false},
		{errors.New("connection reset"), false},
	} {
		if got := ttlRefused(tc.err); got != tc.want {
			t.Errorf("ttlRefused(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
