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
//     inserts ignore duplicates, deletes of absent records are no-ops).
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
// writing); the search starts at the floor. Changes returns only the contiguous run afterSeq+1,
// afterSeq+2, … that it read, so an entry that commits late always gets a
// sequence number larger than any a reader has already been given: a
// reader never skips one.
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
