-- Durable journal cursors, one per (tenant, consumer): the seq of the last
-- entry the consumer has consumed, and a version for compare-and-swap. The
-- consumer's lease is the row (tenant, 'consumer/' || consumer) of leases.
CREATE TABLE cursors (
	tenant   TEXT    NOT NULL,
	consumer TEXT    NOT NULL,
	seq      INTEGER NOT NULL,
	version  INTEGER NOT NULL,
	updated  INTEGER NOT NULL, -- unix nanoseconds
	PRIMARY KEY (tenant, consumer)
) WITHOUT ROWID;

-- One resource's journal entries newest first (History): a range scan of
-- this index instead of a scan of the tenant's journal. Every journal insert
-- pays for one more b-tree insert (see BENCHMARKS.md).
CREATE INDEX journal_resource ON journal (tenant, id, seq);
