// Package sqlite is the embedded default store backend: a single SQLite file
// (pure Go, modernc.org/sqlite, no cgo) in WAL mode.
//
// Writes go through one connection with BEGIN IMMEDIATE transactions, so
// write transactions are serialised: a change, its shadow rows (emails,
// memberships) and its journal entry commit together, and journal sequence
// order is commit order. Update runs its callback outside the writer and
// writes only if the row is unchanged (see update.go). Concurrent writes are group
// committed (see writer.go): one writer goroutine runs every queued write
// call in one transaction, each in its own savepoint, and answers them only
// once that transaction has committed. Reads use a pool of read-only
// connections that WAL lets run concurrently with the writer.
//
// Attributes are stored as JSON; the indexed attributes (userName, displayName,
// externalId, emails.value, active, timestamps) are kept in lower-cased shadow
// columns and tables with indexes. Uniqueness is enforced by unique indexes
// (partial ones for the strict tenants' rules, see uniqueness.go), never by
// check-then-insert. Filters are planned with query.Plan and pushed
// down to those indexes; the rest is evaluated with query.Match over the
// candidates.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"

	"github.com/scimbridge/scimbridge/schemas"
	"github.com/scimbridge/scimbridge/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite store. It is safe for concurrent use.
type Store struct {
	w      *sql.DB // one connection, BEGIN IMMEDIATE
	r      *sql.DB // read-only pool
	reg    *schemas.Registry
	now    func() time.Time
	mu     sync.Mutex // guards stmts
	stmts  map[stmtKey]*sql.Stmt
	closed chan struct{}

	ckpt     *sql.DB       // checkpoints the WAL in the background
	writes   atomic.Int64  // committed write transactions
	ckptDone chan struct{} // closed when the checkpointer has stopped

	// The group-commit writer (see writer.go).
	qmu        sync.Mutex // guards queue and qclosed
	queue      []*writeReq
	qclosed    bool
	wake       chan struct{} // capacity 1: the queue has work
	writerDone chan struct{} // closed when the writer goroutine has stopped
	spSave     *sql.Stmt     // SAVEPOINT sp, prepared on w
	spRelease  *sql.Stmt     // RELEASE sp, prepared on w
	// memberReads counts Members calls, so that the writer notices when an
	// Update fn may have read memberships through the read pool.
	memberReads atomic.Int64
}

type stmtKey struct {
	write bool
	query string
}

// Option configures Open.
type Option func(*options)

type options struct {
	readers     int
	busyTimeout time.Duration
	reg         *schemas.Registry
	now         func() time.Time
	strict      []string
}

// WithReaders sets the size of the read connection pool (default: max(4,
// 2×GOMAXPROCS)).
func WithReaders(n int) Option { return func(o *options) { o.readers = n } }

// WithBusyTimeout sets how long a connection waits for a lock held by another
// process (default 5s).
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busyTimeout = d } }

// WithSchemas sets the schemas used to resolve Query.SortBy paths (default:
// schemas.Load()).
func WithSchemas(reg *schemas.Registry) Option { return func(o *options) { o.reg = reg } }

// WithClock sets the clock for timestamps (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithStrictUniqueness names the tenants that keep externalId (per kind)
// and group displayName unique besides userName (`uniqueness: strict`); the
// others follow RFC 7643, where only userName is. The set is stored in the
// database, so every process opening it must pass the same one. Open fails
// with a *store.UniquenessError listing them when a tenant that was not
// strict before already holds duplicates.
func WithStrictUniqueness(tenants ...string) Option {
	return func(o *options) { o.strict = append(o.strict, tenants...) }
}

// Open opens (creating if needed) the database file at path and migrates its
// schema.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := options{readers: max(4, 2*runtime.GOMAXPROCS(0)), busyTimeout: 5 * time.Second, now: time.Now}
	for _, f := range opts {
		f(&o)
	}
	if o.reg == nil {
		reg, err := schemas.Load()
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		o.reg = reg
	}
	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(o.busyTimeout.Milliseconds(), 10))
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL")
	q.Set("_foreign_keys", "0")
	q.Add("_pragma", "temp_store(memory)")
	wq := url.Values{}
	for k, v := range q {
		wq[k] = v
	}
	wq.Set("_txlock", "immediate")
	// Checkpoints run in the background (see checkpointer) so that commits
	// do not pay for them; the writer only checkpoints itself as a backstop
	// when the WAL grows past ~40 MB.
	wq.Add("_pragma", "wal_autocheckpoint(10000)")
	// A checkpoint that resets the WAL truncates it back to 64 MB, so that
	// one burst does not leave a huge file behind.
	wq.Add("_pragma", "journal_size_limit(67108864)")
	// The writer keeps the hot b-tree pages (indexes of resources, members,
	// journal) cached: 32 MB instead of the default 2 MB.
	wq.Add("_pragma", "cache_size(-32768)")
	w, err := sql.Open("sqlite", "file:"+path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w, reg: o.reg, now: o.now, stmts: map[stmtKey]*sql.Stmt{}, closed: make(chan struct{}),
		wake: make(chan struct{}, 1)}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, openError(path, err)
	}
	if err := s.setStrict(ctx, o.strict); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	if err := s.prepareWrites(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	rq := url.Values{}
	for k, v := range q {
		rq[k] = v
	}
	rq.Set("_query_only", "1")
	rq.Add("_pragma", "cache_size(-8192)")
	r, err := sql.Open("sqlite", "file:"+path+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	r.SetMaxOpenConns(o.readers)
	r.SetMaxIdleConns(o.readers)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	s.r = r
	if err := r.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	c, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	c.SetMaxOpenConns(1)
	s.ckpt = c
	s.ckptDone = make(chan struct{})
	go s.checkpointer(250 * time.Millisecond)
	s.writerDone = make(chan struct{})
	go s.writer()
	return s, nil
}

// checkpointer copies committed WAL pages into the database file every
// interval after writes, with PASSIVE checkpoints that never block readers
// or the writer, so that the fsyncs of checkpointing stay off the commit
// path.
func (s *Store) checkpointer(interval time.Duration) {
	defer close(s.ckptDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	var done int64
	for {
		select {
		case <-s.closed:
			return
		case <-t.C:
		}
		n := s.writes.Load()
		if n == done {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if _, err := s.ckpt.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err == nil {
			done = n
		}
		cancel()
	}
}

// migrate applies the embedded migrations newer than schema_version.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return err
	}
	var cur int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&cur); err != nil {
		return err
	}
	// A write even when nothing is to migrate: a read-only database file
	// opens fine and would fail only at the first SCIM write.
	if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = version`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		n, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: bad name", name)
		}
		if n <= cur {
			continue
		}
		b, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(b)); err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version; INSERT INTO schema_version (version) VALUES (?)`, n); err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
		cur = n
	}
	return tx.Commit()
}

// Close closes the database. It is safe to call more than once.
func (s *Store) Close() error {
	select {
	case <-s.closed:
		return nil
	default:
		close(s.closed)
	}
	// The writer finishes the requests already queued; later ones fail.
	s.qmu.Lock()
	s.qclosed = true
	s.qmu.Unlock()
	if s.writerDone != nil {
		select {
		case s.wake <- struct{}{}:
		default:
		}
		<-s.writerDone
	}
	if s.ckptDone != nil {
		<-s.ckptDone
		s.ckpt.Close()
	}
	s.mu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	for _, st := range []*sql.Stmt{s.spSave, s.spRelease} {
		if st != nil {
			st.Close()
		}
	}
	s.stmts = nil
	s.mu.Unlock()
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	// Closing the writer checkpoints the WAL into the main file.
	errs = append(errs, s.w.Close())
	return errors.Join(errs...)
}

// Ping checks that both pools answer. It returns store.ErrUnavailable
// (wrapped) when they do not.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("sqlite ping: %w: %w", store.ErrUnavailable, err)
	}
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite ping: %w: %w", store.ErrUnavailable, err)
	}
	return nil
}

// stmt returns a prepared statement for query on the read pool, preparing it
// once.
func (s *Store) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	k := stmtKey{false, query}
	s.mu.Lock()
	st, ok := s.stmts[k]
	s.mu.Unlock()
	if ok {
		return st, nil
	}
	st, err := s.r.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stmts == nil {
		st.Close()
		return nil, fmt.Errorf("%w: closed", store.ErrUnavailable)
	}
	if old, ok := s.stmts[k]; ok {
		st.Close()
		return old, nil
	}
	if len(s.stmts) > 512 { // dynamic query shapes: keep the cache bounded
		for k2, old := range s.stmts {
			if !k2.write {
				old.Close()
				delete(s.stmts, k2)
				break
			}
		}
	}
	s.stmts[k] = st
	return st, nil
}

// prepareWrites prepares every statement of writeQueries on the writer. It
// runs at Open: once a transaction holds the only writer connection, a new
// statement can only be prepared inside it.
func (s *Store) prepareWrites(ctx context.Context) error {
	for _, q := range append(append(writeQueries, updateQueries...), consumerQueries...) {
		st, err := s.w.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", q, err)
		}
		s.stmts[stmtKey{true, q}] = st
	}
	var err error
	if s.spSave, err = s.w.PrepareContext(ctx, `SAVEPOINT sp`); err != nil {
		return fmt.Errorf("prepare savepoint: %w", err)
	}
	if s.spRelease, err = s.w.PrepareContext(ctx, `RELEASE sp`); err != nil {
		return fmt.Errorf("prepare release: %w", err)
	}
	return nil
}

// txStmt returns query prepared on the writer, bound to tx.
func (s *Store) txStmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	s.mu.Lock()
	st, ok := s.stmts[stmtKey{true, query}]
	s.mu.Unlock()
	if !ok {
		return tx.PrepareContext(ctx, query)
	}
	return tx.StmtContext(ctx, st), nil
}

// txExec runs a prepared statement in tx.
func (s *Store) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := s.txStmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// txQuery runs a prepared query in tx.
func (s *Store) txQuery(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	st, err := s.txStmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// rQuery runs a prepared query on the read pool.
func (s *Store) rQuery(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// rQueryRow runs a prepared single-row query on the read pool.
func (s *Store) rQueryRow(ctx context.Context, query string, args ...any) (*sql.Row, error) {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryRowContext(ctx, args...), nil
}

// mapErr translates driver errors: unique violations become
// *store.ConflictError, a closed database store.ErrUnavailable.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		msg := se.Error()
		if strings.Contains(msg, "UNIQUE constraint failed") {
			switch {
			case strings.Contains(msg, "user_name_lc"):
				return &store.ConflictError{Attribute: "userName"}
			case strings.Contains(msg, "display_name"): // strict_display_name
				return &store.ConflictError{Attribute: "displayName"}
			case strings.Contains(msg, "external_id"): // strict_external_id
				return &store.ConflictError{Attribute: "externalId"}
			case strings.Contains(msg, "resources.id"):
				return &store.ConflictError{Attribute: "id"}
			}
		}
	}
	if errors.Is(err, sql.ErrConnDone) || strings.Contains(err.Error(), "database is closed") {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// Interface guards.
var _ store.Store = (*Store)(nil)
