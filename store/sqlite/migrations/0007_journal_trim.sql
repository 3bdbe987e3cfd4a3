-- Retention: each tenant's trim floor, the highest journal seq trimmed from
-- it. Trim raises it in the transaction that deletes the entries; Changes
-- after a seq below it answers store.ErrCursorExpired. journal's
-- AUTOINCREMENT keeps trimmed seqs from being used again.
CREATE TABLE journal_floor (
	tenant TEXT    NOT NULL PRIMARY KEY,
	seq    INTEGER NOT NULL
) WITHOUT ROWID;
