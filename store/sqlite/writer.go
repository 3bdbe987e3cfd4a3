package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"runtime/debug"
	"sync/atomic"

	"github.com/scimbridge/scimbridge/store"
)

// Group commit.
//
// Every write call (Create, Update, Delete, PutState, DeleteState,
// AcquireLease) becomes a writeReq queued to one writer goroutine. The writer
// takes everything queued when it comes round (at most maxBatch requests; it
// never waits for more), opens one BEGIN IMMEDIATE transaction, runs each
// request inside its own SAVEPOINT and COMMITs once. A request that fails (a
// uniqueness conflict, ErrNotFound, an Update fn error) is rolled back to its
// savepoint alone; the others of the batch proceed. Only after the COMMIT
// does the writer answer the requests, errors included: no write is
// acknowledged before it is durable (to the extent synchronous=NORMAL makes
// it so), and a failed COMMIT fails every request of the batch.
//
// Requests run in queue order, so a request sees the writes of the earlier
// requests of its batch (an Update checks the version of its row, or in its
// last attempt reads the row, through the transaction) and journal sequence
// order is still commit order. Requests are meant to be short: Update runs
// its callback (a PATCH) before it queues anything (see update.go).

// Why a journal reader never skips an entry.
//
// Changes promises that a reader that was given seq n never later finds an
// entry with a seq <= n it was not given. Here that holds because seq order
// is commit order:
//
//   - A journal row gets its seq (INTEGER PRIMARY KEY AUTOINCREMENT) when
//     it is inserted, inside the transaction of the write it records, so the
//     row and the write commit or roll back together.
//   - Every write transaction is BEGIN IMMEDIATE: it takes the database
//     file's write lock before its first statement and keeps it until COMMIT
//     or ROLLBACK. SQLite lets one transaction at a time hold that lock, on
//     a file, across connections, handles and processes (two replicas on one
//     file wait for each other through the busy timeout). The transactions
//     that insert journal rows are therefore totally ordered.
//   - AUTOINCREMENT hands out a seq above every seq the table has held,
//     through sqlite_sequence, which is updated in the same transaction. A
//     seq taken by a transaction (or savepoint) that rolled back may be
//     handed out again, but it was never visible. So each committed
//     transaction's rows have seqs above those of every transaction that
//     committed before it.
//   - Changes is one SELECT ... WHERE seq > ? ORDER BY seq, on a read
//     connection. In WAL mode a read sees one snapshot: exactly the
//     transactions committed before it began, a prefix of the commit order.
//
// So if a read returns seq n, every row with a smaller seq committed before
// n's transaction (or with it) and is in the same snapshot; a row that
// commits after the read gets a seq above n. The storetest journal proof
// (JournalProof, and TestReplicas for two handles on one file) checks it
// under load.

// maxBatch bounds the requests of one transaction, so that one commit never
// grows the WAL without bound and the first request of a batch does not wait
// behind an arbitrarily long tail.
const maxBatch = 128

// Request states: a waiter whose ctx ends while its request is still queued
// withdraws it; once the writer has taken it, it runs to completion.
const (
	reqQueued int32 = iota
	reqTaken
	reqWithdrawn
)

// writeReq is one queued write call.
type writeReq struct {
	ctx   context.Context // the caller's: checked when the batch starts, not while running
	fn    func(ctx context.Context, tx *sql.Tx) error
	state atomic.Int32
	err   error // the answer, set before done is closed
	panic *fnPanic
	done  chan struct{}
}

// fnPanic carries a panic of a request's fn back to the caller's goroutine,
// so that a panicking Update callback crashes its caller (which net/http
// recovers), not the writer.
type fnPanic struct {
	val   any
	stack []byte
}

func (p *fnPanic) Error() string { return fmt.Sprintf("panic in write: %v", p.val) }

// write runs fn in the writer's transaction, in a savepoint of its own, and
// returns once that transaction has committed (fn's error, or the commit's).
//
// A ctx that ends while the request is queued withdraws it with ctx.Err();
// once the writer has started the request it completes regardless, and write
// waits for its outcome. fn gets a context that is never cancelled and must
// use it (not the caller's ctx) for its statements. fn must not call a write
// method of s: the writer runs fn and would wait for itself.
func (s *Store) write(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan struct{})}
	s.qmu.Lock()
	if s.qclosed {
		s.qmu.Unlock()
		return fmt.Errorf("%w: closed", store.ErrUnavailable)
	}
	s.queue = append(s.queue, r)
	s.qmu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default: // the writer is already due to look at the queue
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqQueued, reqWithdrawn) {
			return ctx.Err()
		}
		<-r.done
	}
	if r.panic != nil {
		panic(r.panic.val) // the writer's stack is in r.panic.stack
	}
	return r.err
}

// writer is the writer goroutine: it runs queued requests in batches until
// the store is closed and the queue is empty.
func (s *Store) writer() {
	defer close(s.writerDone)
	var batch []*writeReq
	for {
		s.qmu.Lock()
		n := min(len(s.queue), maxBatch)
		batch = append(batch[:0], s.queue[:n]...)
		rest := copy(s.queue, s.queue[n:])
		clear(s.queue[rest:])
		s.queue = s.queue[:rest]
		closed := s.qclosed
		s.qmu.Unlock()
		if n == 0 {
			if closed {
				return
			}
			<-s.wake
			continue
		}
		s.runBatch(batch)
		clear(batch)
	}
}

// runBatch runs the requests of one batch: those withdrawn or whose ctx has
// ended are answered at once, the rest in as few transactions as possible.
func (s *Store) runBatch(batch []*writeReq) {
	live := batch[:0]
	for _, r := range batch {
		if !r.state.CompareAndSwap(reqQueued, reqTaken) {
			continue // withdrawn: the caller has already returned
		}
		if err := r.ctx.Err(); err != nil {
			r.err = err
			close(r.done)
			continue
		}
		live = append(live, r)
	}
	for len(live) > 0 {
		live = s.runTx(live)
	}
}

// runTx runs reqs in one transaction, in order, and commits it. It answers
// the requests it ran and returns those it did not get to: the tail after a
// read that may have missed the transaction's own writes (see
// memberReads), or every request still unanswered after the transaction
// broke. They go into the next transaction.
func (s *Store) runTx(reqs []*writeReq) []*writeReq {
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		answer(reqs, mapErr(err))
		return nil
	}
	if len(reqs) == 1 {
		// Alone in its transaction, a request needs no savepoint: a
		// failure rolls the transaction back.
		r := reqs[0]
		if err := runFn(ctx, tx, r); err != nil {
			tx.Rollback()
			r.err = err
			close(r.done)
			return nil
		}
		s.commit(tx, reqs)
		return nil
	}
	save := tx.StmtContext(ctx, s.spSave)
	release := tx.StmtContext(ctx, s.spRelease)
	var rest []*writeReq
	ran := reqs[:0:0] // answered after the commit
	for i, r := range reqs {
		if _, err := save.ExecContext(ctx); err != nil {
			// The transaction is unusable: answer r, retry the rest.
			tx.Rollback()
			r.err = mapErr(err)
			close(r.done)
			return append(ran, reqs[i+1:]...)
		}
		reads := s.memberReads.Load()
		err := runFn(ctx, tx, r)
		// A Members call while fn ran may have been fn's own, reading
		// through the pool a state without the earlier requests of this
		// transaction: commit those first and run r again on top of them.
		stale := len(ran) > 0 && s.memberReads.Load() != reads
		if err == nil && !stale {
			if _, err = release.ExecContext(ctx); err == nil {
				ran = append(ran, r)
				continue
			}
		}
		if _, rbErr := tx.ExecContext(ctx, `ROLLBACK TO sp; RELEASE sp`); rbErr != nil {
			// SQLite rolled the whole transaction back (an I/O error, a full
			// disk): r fails; the others, whose work is gone, run again.
			tx.Rollback()
			if err == nil {
				err = rbErr
			}
			r.err = mapErr(err)
			close(r.done)
			return append(ran, reqs[i+1:]...)
		}
		if stale {
			rest = reqs[i:]
			break
		}
		r.err = err
		ran = append(ran, r)
	}
	s.commit(tx, ran)
	return rest
}

// commit commits tx and then answers reqs, the requests that ran in it: with
// their own outcome, or every one with the error of a failed COMMIT.
func (s *Store) commit(tx *sql.Tx, reqs []*writeReq) {
	if err := tx.Commit(); err != nil {
		// A failed COMMIT may leave the connection inside the
		// transaction; end it so that the next BEGIN works.
		s.w.ExecContext(context.Background(), `ROLLBACK`)
		err = fmt.Errorf("commit: %w", mapErr(err))
		for _, r := range reqs {
			if r.panic == nil {
				r.err = err
			}
		}
	} else {
		s.writes.Add(1)
	}
	for _, r := range reqs {
		close(r.done)
	}
}

// runFn calls r.fn, turning a panic into an error (the panic is kept for
// the caller, who re-raises it).
func runFn(ctx context.Context, tx *sql.Tx, r *writeReq) (err error) {
	r.err, r.panic = nil, nil // r may run again after a retry
	defer func() {
		if v := recover(); v != nil {
			r.panic = &fnPanic{val: v, stack: debug.Stack()}
			err = r.panic
		}
	}()
	return r.fn(ctx, tx)
}

// answer fails every request of reqs with err.
func answer(reqs []*writeReq, err error) {
	for _, r := range reqs {
		r.err = err
		close(r.done)
	}
}
