package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
)

// Store is the MongoDB store. It is safe for concurrent use, also by
// several processes on one database.
type Store struct {
	client  *mongo.Client
	db      *mongo.Database
	res     *mongo.Collection // resource heads
	mem     *mongo.Collection // memberships
	jnl     *mongo.Collection // change journal
	claims  *mongo.Collection // version claims
	state   *mongo.Collection
	leases  *mongo.Collection
	cursors *mongo.Collection // journal consumers' cursors (consumer.go)
	floors  *mongo.Collection // journal trim floors (trim.go)

	reg    *schemas.Registry
	now    func() time.Time
	lease  time.Duration
	fault  func(step string) error
	ferret bool            // the server is FerretDB: filter heads by _id only
	strict map[string]bool // tenants with strict uniqueness (read-only after Open)
	noTTL  bool            // the server has no TTL indexes: sweepClaims removes old claims

	seqMu sync.Mutex
	seqs  map[string]*tenantSeq

	recMu   sync.Mutex
	lastRec time.Time

	closeOnce sync.Once
	closed    chan struct{}
	done      chan struct{}
}

// tenantSeq is the next journal sequence number this process will try for
// a tenant; mu serialises this process's journal inserts for the tenant.
type tenantSeq struct {
	mu   sync.Mutex
	next int64 // 0: not loaded
}

// Option configures Open.
type Option func(*options0)

type options0 struct {
	timeout     time.Duration
	lease       time.Duration
	reg         *schemas.Registry
	now         func() time.Time
	fault       func(step string) error
	client      *options.ClientOptions
	noRecoverer bool
	strict      []string
}

// WithTimeout sets the connect and server-selection timeout (default 10s).
func WithTimeout(d time.Duration) Option { return func(o *options0) { o.timeout = d } }

// WithLease sets how long a write may sit between its steps before another
// writer or recovery finishes it (default 30s).
func WithLease(d time.Duration) Option { return func(o *options0) { o.lease = d } }

// WithSchemas sets the schemas used to resolve Query.SortBy paths.
func WithSchemas(reg *schemas.Registry) Option { return func(o *options0) { o.reg = reg } }

// WithClock sets the clock for timestamps (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options0) { o.now = now } }

// WithClientOptions applies extra driver options (TLS, credentials, pool
// sizes) after the URI.
func WithClientOptions(c *options.ClientOptions) Option { return func(o *options0) { o.client = c } }

// WithFaultHook is for tests: hook is called at each step boundary of a
// write ("claimed", "written", "members", "journaled"); if it returns an
// error the write stops there and returns it, as if the process had died.
func WithFaultHook(hook func(step string) error) Option { return func(o *options0) { o.fault = hook } }

// WithStrictUniqueness names the tenants that keep externalId (per kind)
// and group displayName unique besides userName (`uniqueness: strict`); the
// others follow RFC 7643, where only userName is. Every replica must pass
// the same tenants. Open fails with a *store.UniquenessError listing them
// when such a tenant already holds duplicates (see uniqueness.go).
func WithStrictUniqueness(tenants ...string) Option {
	return func(o *options0) { o.strict = append(o.strict, tenants...) }
}

// withoutRecoverer disables the background recovery loop (tests).
func withoutRecoverer() Option { return func(o *options0) { o.noRecoverer = true } }

// Open connects to the MongoDB at uri, uses database, creates the indexes
// (idempotently) and finishes writes left behind by crashed processes. The
// default write concern is majority, with retryable writes. An unreachable
// server or bad credentials give an error wrapping store.ErrUnavailable.
func Open(ctx context.Context, uri, database string, opts ...Option) (*Store, error) {
	o := options0{timeout: 10 * time.Second, lease: 30 * time.Second, now: time.Now}
	for _, f := range opts {
		f(&o)
	}
	if database == "" {
		return nil, errors.New("open mongo: no database name")
	}
	if o.reg == nil {
		reg, err := schemas.Load()
		if err != nil {
			return nil, fmt.Errorf("open mongo: %w", err)
		}
		o.reg = reg
	}
	// The defaults come first so that the URI's own options
	// (serverSelectionTimeoutMS, connectTimeoutMS, w, retryWrites) win:
	// ApplyURI only sets what the URI names.
	co := options.Client().
		SetConnectTimeout(o.timeout).
		SetServerSelectionTimeout(o.timeout).
		SetRetryWrites(true).
		SetRetryReads(true).
		SetWriteConcern(writeconcern.Majority()).
		ApplyURI(uri)
	copts := []*options.ClientOptions{co}
	if o.client != nil {
		copts = append(copts, o.client)
	}
	// The first ping waits as long as server selection does, which is the
	// last of the options to set it (Connect applies them in order).
	selection := o.timeout
	for _, c := range copts {
		if c.ServerSelectionTimeout != nil {
			selection = *c.ServerSelectionTimeout
		}
	}
	client, err := mongo.Connect(copts...)
	if err != nil {
		return nil, fmt.Errorf("open mongo: %w", describe(err))
	}
	s := &Store{
		client: client,
		db:     client.Database(database),
		reg:    o.reg,
		now:    o.now,
		lease:  o.lease,
		fault:  o.fault,
		seqs:   map[string]*tenantSeq{},
		strict: map[string]bool{},
		closed: make(chan struct{}),
		done:   make(chan struct{}),
	}
	s.res = s.db.Collection("resources")
	s.mem = s.db.Collection("members")
	s.jnl = s.db.Collection("journal")
	s.claims = s.db.Collection("claims")
	s.state = s.db.Collection("state")
	s.leases = s.db.Collection("leases")
	s.cursors = s.db.Collection("cursors")
	s.floors = s.db.Collection("jfloors")
	octx, cancel := context.WithTimeout(ctx, selection+5*time.Second)
	defer cancel()
	if err := client.Ping(octx, nil); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("open mongo: %w", describe(err))
	}
	var info bson.M
	if err := s.db.RunCommand(octx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err == nil {
		_, s.ferret = info["ferretdbVersion"]
	}
	if err := s.ensureIndexes(octx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("open mongo: %w", describe(err))
	}
	if err := s.recoverStale(octx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("open mongo: recover: %w", describe(err))
	}
	for _, t := range o.strict {
		s.strict[t] = true
	}
	// Not bound by octx: it reads every resource of the strict tenants.
	if err := s.setStrict(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("open mongo: %w", describe(err))
	}
	if o.noRecoverer {
		close(s.done)
	} else {
		go s.recoverer()
	}
	return s, nil
}

// describe turns driver errors into short, clear messages wrapping
// store.ErrUnavailable where the server cannot be used.
func describe(err error) error {
	if err == nil {
		return nil
	}
	var ce mongo.CommandError
	if errors.As(err, &ce) && (ce.Code == 18 || ce.HasErrorLabel("AuthenticationFailed")) {
		return fmt.Errorf("%w: authentication failed", store.ErrUnavailable)
	}
	msg := err.Error()
	if strings.Contains(msg, "auth error") || strings.Contains(msg, "AuthenticationFailed") || strings.Contains(msg, "Authentication failed") {
		return fmt.Errorf("%w: authentication failed", store.ErrUnavailable)
	}
	return mapErr(err)
}

// mapErr maps network and server-selection failures to
// store.ErrUnavailable; other errors are returned as they are.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrUnavailable) {
		return err
	}
	// A cleared connection pool (another operation on the connection
	// failed, e.g. the network dropped) is the driver's
	// driver.RetryablePoolError: as transient as the network error itself.
	var pool interface{ Retryable() bool }
	switch {
	case errors.As(err, &pool) && pool.Retryable():
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	case strings.Contains(err.Error(), "server selection error"):
		return fmt.Errorf("%w: no reachable server: %s", store.ErrUnavailable, selectionCause(err))
	case mongo.IsNetworkError(err), errors.Is(err, mongo.ErrClientDisconnected):
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	case errors.Is(err, context.DeadlineExceeded) && mongo.IsTimeout(err):
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// selectionCause shortens a server-selection error to what an admin acts
// on: the driver's message carries the whole topology description, of which
// the servers' last errors (refused, DNS, TLS, auth) are the cause.
func selectionCause(err error) string {
	s := firstLine(err)
	var causes []string
	for rest := s; ; {
		i := strings.Index(rest, "Last error: ")
		if i < 0 {
			break
		}
		rest = rest[i+len("Last error: "):]
		end := strings.Index(rest, " }")
		if end < 0 {
			end = len(rest)
		}
		if c := strings.TrimSpace(rest[:end]); c != "" && !slices.Contains(causes, c) {
			causes = append(causes, c)
		}
		rest = rest[end:]
	}
	if len(causes) == 0 {
		return s
	}
	return strings.Join(causes, "; ")
}

// findAll runs a find and decodes every document into a T; errors are
// mapped by mapErr.
func findAll[T any](ctx context.Context, c *mongo.Collection, filter any, opts ...options.Lister[options.FindOptions]) ([]T, error) {
	cur, err := c.Find(ctx, filter, opts...)
	if err != nil {
		return nil, mapErr(err)
	}
	var out []T
	if err := cur.All(ctx, &out); err != nil {
		return nil, mapErr(err)
	}
	return out, nil
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

type index struct {
	coll   *mongo.Collection
	name   string
	keys   bson.D
	unique bool
	ttl    int32
}

func (s *Store) ensureIndexes(ctx context.Context) error {
	k := func(names ...string) bson.D {
		d := bson.D{}
		for _, n := range names {
			d = append(d, bson.E{Key: n, Value: 1})
		}
		return d
	}
	idx := []index{
		{s.res, "res_id", k("t", "id"), true, 0},
		{s.res, "res_username", k("t", "xu"), true, 0},
		{s.res, "res_group_displayname", k("t", "xg"), true, 0},
		{s.res, "res_externalid", k("t", "xe"), true, 0},
		{s.res, "res_order", k("t", "k", "o"), false, 0},
		{s.res, "res_lastmodified", k("t", "k", "m"), false, 0},
		{s.res, "res_displayname", k("t", "k", "dn"), false, 0},
		{s.res, "res_email", k("t", "em"), false, 0},
		// externalId filters: xe holds the value in strict tenants only.
		{s.res, "res_ext", k("t", "k", "ext"), false, 0},
		{s.res, "res_pending", k("pj"), false, 0},
		{s.mem, "mem_group_member", k("t", "g", "m"), true, 0},
		{s.mem, "mem_member", k("t", "m"), false, 0},
		{s.jnl, "jnl_seq", k("t", "s"), true, 0},
		{s.jnl, "jnl_change", k("ck"), true, 0},
		{s.claims, "claims_ttl", k("exp"), false, int32(claimTTL / time.Second)},
		{s.state, "state_key", k("t", "key"), true, 0},
		// The cursors' newest versions (consumer.go).
		{s.cursors, "cursors_version", k("t", "c", "n"), true, 0},
		// Trim floors (trim.go).
		{s.floors, "jfloors_seq", k("t", "s"), true, 0},
	}
	if !s.ferret {
		// History (consumer.go). FerretDB v1 would maintain it on every
		// journal insert but never use it (it answers only _id filters
		// from an index): there History scans.
		idx = append(idx, index{s.jnl, "jnl_resource", k("t", "id", "s"), false, 0})
		// Keyset scans (scan.go): one kind of a tenant by id. res_id
		// (t, id) would step over every resource of the other kind. Not
		// created on FerretDB v1 either, for the same reason as
		// jnl_resource: there Scan reads the collection.
		idx = append(idx, index{s.res, "res_kind_id", k("t", "k", "id"), false, 0})
	}
	for _, ix := range idx {
		o := options.Index().SetName(ix.name)
		if ix.unique {
			o.SetUnique(true)
		}
		if ix.ttl > 0 {
			o.SetExpireAfterSeconds(ix.ttl)
		}
		_, err := ix.coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: ix.keys, Options: o})
		if err != nil {
			if ix.ttl > 0 && ttlRefused(err) {
				_, err = ix.coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: ix.keys, Options: options.Index().SetName(ix.name)})
				s.noTTL = true
			}
			if err != nil {
				return fmt.Errorf("create index %s: %w", ix.name, err)
			}
		}
	}
	return nil
}

// ttlRefused reports whether the server answered a TTL index request with a
// command error: FerretDB v1 has no TTL indexes (NotImplemented), Cosmos DB
// for MongoDB allows them only on its own _ts field (BadValue or
// CannotCreateIndex). Such servers get a plain index and the recoverer
// sweeps old claims. An index of the same name with other options
// (IndexOptionsConflict, IndexKeySpecsConflict) is not refusal: the second
// attempt would fail too, and the error is reported.
func ttlRefused(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && ce.Code != 85 && ce.Code != 86 && !ce.HasErrorLabel("NetworkError")
}

// claimTTL is how long version claims are kept: far longer than any
// writer holds a head snapshot between reading it and claiming the next
// version (a claim removed earlier could be taken a second time).
const claimTTL = time.Hour

// recoverer finishes stale writes periodically until Close, and removes
// old claims where the server has no TTL index to do it.
func (s *Store) recoverer() {
	defer close(s.done)
	t := time.NewTicker(max(s.lease, time.Second))
	defer t.Stop()
	var swept time.Time
	for {
		select {
		case <-s.closed:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_ = s.recoverStale(ctx)
		if s.noTTL && time.Since(swept) > claimTTL/6 {
			swept = time.Now()
			_ = s.sweepClaims(ctx)
		}
		cancel()
	}
}

// sweepClaims removes claims older than claimTTL, as the TTL index on exp
// does on servers that have TTL indexes.
func (s *Store) sweepClaims(ctx context.Context) error {
	cutoff := s.now().Add(-claimTTL).UnixNano()
	if _, err := s.claims.DeleteMany(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: cutoff}}}}); err != nil {
		return fmt.Errorf("mongo sweep claims: %w", mapErr(err))
	}
	return nil
}

// Close stops the recovery loop and disconnects. It is safe to call more
// than once.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		<-s.done
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = s.client.Disconnect(ctx)
	})
	return err
}

// Ping reports whether the server answers; it returns store.ErrUnavailable
// (wrapped) when it does not.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, nil); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("mongo ping: %w: %w", store.ErrUnavailable, err)
		}
		err = mapErr(err)
		if !errors.Is(err, store.ErrUnavailable) {
			err = fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
		return fmt.Errorf("mongo ping: %w", err)
	}
	return nil
}

// Keys. Tenants and ids are length-prefixed so that keys are unambiguous.

func rkey(tenant, id string) string {
	return strconv.Itoa(len(tenant)) + ":" + tenant + ":" + id
}

func mkey(tenant, group, member string) string {
	return strconv.Itoa(len(tenant)) + ":" + tenant + ":" + strconv.Itoa(len(group)) + ":" + group + ":" + member
}

func jkey(tenant string, seq int64) string {
	return fmt.Sprintf("%d:%s:%020d", len(tenant), tenant, seq)
}

func ckey(h *head, version int64) string {
	return h.Key + "@" + h.Inc + "@" + strconv.FormatInt(version, 10)
}

// isDup reports a unique-index violation (FerretDB reports those of
// updates as internal errors naming the SQLite constraint).
func isDup(err error) bool {
	return mongo.IsDuplicateKeyError(err) || err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// step calls the fault hook.
func (s *Store) step(name string) error {
	if s.fault == nil {
		return nil
	}
	return s.fault(name)
}

// Interface guards.
var _ store.Store = (*Store)(nil)
