-- Provenance of journal entries (store/origin.go): who wrote the entry, the
-- resource's name at the time, and which attributes changed. ADD COLUMN
-- rewrites nothing; entries written before this migration keep NULLs, which
-- read back as an empty Origin, Name and Changed.
ALTER TABLE journal ADD COLUMN source  TEXT; -- store.Source
ALTER TABLE journal ADD COLUMN actor   TEXT;
ALTER TABLE journal ADD COLUMN run_id  TEXT;
ALTER TABLE journal ADD COLUMN name    TEXT; -- userName or displayName at the time
ALTER TABLE journal ADD COLUMN changed TEXT; -- JSON array of store.AttrChange, or NULL
