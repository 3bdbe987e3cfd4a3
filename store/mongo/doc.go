// Package mongo is the MongoDB store backend (go.mongodb.org/mongo-driver/v2).
// It runs on MongoDB, and on servers that lack multi-document transactions,
// change streams and collations (FerretDB, Cosmos DB for MongoDB,
// DocumentDB): it uses none of them.
//
// # Documents
//
// Each resource is one "head" document in the resources collection, keyed by
// (tenant, id). Attrs are stored as JSON text; the indexed attributes are
// copied into lower-cased shadow fields (un, dn, em, ext, act, c, m).
// Uniqueness (userName; group displayName and externalId per kind in
// tenants with strict uniqueness) is enforced by unique indexes on
// always-present key fields: a resource without the attribute, or outside a
// strict tenant for the strict keys, stores a per-resource dummy of another
// BSON type, so no partial or sparse index is needed (see uniqueness.go). Group memberships are one document per
// (tenant, group, member) in the members collection; no document grows with
// membership.
//
// # Writes and the journal (the outbox protocol)
//
// The only operations the protocol relies on to be atomic are single-document
// inserts against unique indexes: FerretDB's SQLite backend, for one, does
// not apply conditional updates atomically. A write of resource r goes
// through these steps:
//
//  1. Claim: insert claims/<r, incarnation, v+1>. Only one writer can claim
//     a version; a loser re-reads and calls fn again (optimistic
//     concurrency). Creates need no claim: inserting the head is atomic.
//  2. Write: replace the head with the new state, version v+1, pj = true and
//     the outbox entry pend = {op, version, time, members added/removed}.
//     This is the commit point. A uniqueness violation here releases the
//     claim and returns a *store.ConflictError.
//  3. Members: apply the membership delta recorded in pend (idempotent:
//     inserts ignore duplicates, deletes of absent records are no-ops),
//     then read the added members again and undo the adds of those gone
//     since; a delete first waits for pending group writes that add the
//     deleted resource (see "Why memberships and their journal agree").
//  4. Journal: insert the entry at the tenant's next sequence number. The
//     journal's _id is (tenant, seq) and a unique index on ck = (r,
//     incarnation, version) makes the insert exactly-once: a duplicate on
//     _id means the seq is taken (try the next one), a duplicate on ck means
//     the entry is already journaled.
//  5. Clear: unset pj and pend (a delete removes the head instead).
//
// A write is acknowledged after step 5. While a head has pj set, other
// writers of that resource wait, so per-resource journal order is version
// order and a membership delta is computed only after the previous one was
// applied. A head left with pj set by a crashed or killed writer is
// finished (steps 3-5, all idempotent) by the next writer of the resource or
// by recovery (at Open, periodically, and from Changes) once its lease has
// expired; a claim left without a head write is discarded after the lease.
// Hence every committed write gets exactly one journal entry.
//
// Sequence numbers are gap-free: a writer inserts seq s only when it knows
// s-1 exists (it inserted or collided with it, or it found it taken), and
// entries are removed only by retention, oldest first and below a trim
// floor recorded before the removal (trim.go). Taken numbers are therefore
// the range floor+1…max (the prefix 1…max until a trim),
// so a replica that collides with numbers other replicas took finds max+1
// by a galloping search of _id lookups rather than one insert per number
// (which let a replica fall behind a busy one for as long as that one kept
// writing); the search starts at the trim floor (see Retention).
//
// # Why a journal reader never skips an entry
//
// Changes promises that a reader that was given seq n never later finds an
// entry with a seq <= n it was not given. Unlike SQLite's, this journal is
// not in commit order: a write takes its seq in step 4, after its commit in
// step 2, and concurrent writes (of one replica or several) reach step 4 in
// any order, so the write that committed first can get the larger seq; and
// a find is not a snapshot (it may miss a document inserted behind its scan
// position yet see one inserted after it, at a larger seq). The guarantee
// rests on three facts instead:
//
//   - The entry's _id is (tenant, seq) under the unique _id index, and
//     entries are never changed, and removed only at or below the tenant's
//     trim floor, which is written first and below which Changes answers
//     ErrCursorExpired: once a reader has read the entry at seq s, no other
//     entry can ever take s (a journal insert that lands at or below the
//     floor is moved up, see journal.go).
//   - Changes returns only the contiguous run afterSeq+1, afterSeq+2, … of
//     what it read and stops at the first number missing from it (journal.go).
//     By induction from cursor 0, every seq up to a reader's cursor is taken
//     by an entry the reader was given, so a later insert can only land above
//     the cursor, where the reader will find it.
//   - Gap-freedom (above) makes the hold-back temporary: a number missing
//     below a taken one is an insert in flight or one the find raced past
//     (s+1 is inserted only after s exists), and a number whose insert
//     failed is the next one its replica tries, or max+1 for the others.
//
// The order of one resource's entries is its version order (a head with pj
// set holds back the resource's next write until its entry is journaled).
// Across resources the order is only that of step 4, so memberships need
// an argument of their own.
//
// # Why memberships and their journal agree
//
// A group write g that adds member u checks u in step 3 after its commit,
// and u's delete D waits for g in its own step 3; together they make the
// journal's story of u's memberships the store's, in the journal's order:
// an entry adds u only between u's create entry and u's delete entry (of
// the same incarnation), and a membership record never outlives u. The
// steps involved, all single-document operations:
//
//   - g, before its claim, reads u and keeps its incarnation in the
//     outbox (memberRef.I). A u whose create is not journaled yet (head
//     pending with op create) is waited for first (addable; the writer
//     holds no pending write yet, so no wait cycle can form).
//   - g's step 3, by every finisher (the writer or a takeover): I, insert
//     the record (g, u), carrying u's incarnation (mi); then R, read u
//     again. If u is no longer live in that incarnation, remove the record
//     and leave u out of the entry; the entry names only the adds R
//     confirmed (addMembers). Then step 4 journals.
//   - D commits (step 2: W, the head marked deleted), then in step 3 finds
//     u's records (F), waits while the group of each has a pending write
//     adding u (finishing it once its lease is over), deletes the records
//     it found, and only then journals (awaitAdders).
//
// If g's entry adds u, some finisher's R saw u live, so I < R < W < F: F
// finds the record (only g's next write, which starts after g's entry is
// journaled, D itself, or a takeover of g's write, see below, remove it),
// and D journals only once g's write is no longer pending, which is after
// g's entry exists. Gap-freedom then puts D's entry above g's. g's entry
// is also above u's create entry, as g saw u's create finished before its
// claim. So a consumer that replays
// Added and Removed in journal order never adds a member that is not live
// at that point; the storetest journal proof fails if it does.
//
// If R sees u gone, the finisher removes the record; a finisher whose I
// comes later reads later and removes it too, as an incarnation never
// comes back. A record inserted after F belongs to a finisher whose R
// follows W, so it removes its own record. Every record that survives its
// finishers' R was either seen by F (and removed by D) or belongs to a live
// u of that incarnation. A new u (a new incarnation) therefore never
// inherits a membership of the old one. Two windows remain, both bounded
// by the lease (below): a finisher that crashes between I and R leaves
// its record until a takeover re-runs step 3 (Members and MemberOf skip a
// record whose mi is not the member's incarnation meanwhile; the
// members.value and groups filters do not); and a writer whose lease
// runs out between its R and its journal insert could journal an add that
// the takeover, reading u gone, has undone before D looked.
//
// A group write that removes u may be journaled after u's delete (its
// removal is then a no-op for a consumer), and Added of the group's own
// create obeys the same rules as an update's.
//
// The lease (WithLease, default 30s) bounds how long a slow writer may take
// between steps before others take over. A takeover re-reads the head
// before its first and last step and stops once the write is no longer
// pending, so an old snapshot never overwrites a newer write; recovery
// reads the pending heads one by one for the same reason. On MongoDB every
// head write also carries the expected version in its filter, which makes
// a late writer's clear a no-op. FerretDB v1 answers only _id-only filters
// from an index and does not apply conditional writes atomically, so there
// the checks are reads right before the write: a writer delayed by more
// than the lease exactly between such a read and its write could still race
// the helper that took over, the usual assumption of lease-based protocols.
//
// Claims are kept for an hour (claimTTL) by a TTL index; where the server
// has no TTL indexes (FerretDB v1) the recoverer deletes old ones.
package mongo
