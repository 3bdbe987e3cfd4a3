-- Resources of every kind. rid gives creation order; (tenant, id) is unique
-- across kinds so that an id names one resource per tenant. doc holds Attrs
-- as JSON; the other columns are shadows of Attrs kept for indexes.
CREATE TABLE resources (
	rid             INTEGER PRIMARY KEY,
	tenant          TEXT    NOT NULL,
	id              TEXT    NOT NULL,
	kind            TEXT    NOT NULL,
	version         INTEGER NOT NULL,
	created         INTEGER NOT NULL, -- unix nanoseconds
	last_modified   INTEGER NOT NULL, -- unix nanoseconds
	external_id     TEXT,             -- Attrs.externalId
	user_name_lc    TEXT,             -- lower(Attrs.userName), users
	display_name_lc TEXT,             -- lower(Attrs.displayName), users and groups
	display         TEXT,             -- Member.Display: displayName, else userName
	active          INTEGER,          -- Attrs.active as 0/1, NULL when absent
	doc             BLOB    NOT NULL
);
CREATE UNIQUE INDEX resources_id ON resources (tenant, id);
-- Not a partial index: "user_name_lc = ?" can use a partial index only after
-- the bound value is known, which makes SQLite re-prepare the statement on
-- every new value (a third of a lookup's cost). UNIQUE lets groups' NULLs be.
CREATE UNIQUE INDEX resources_user_name ON resources (tenant, user_name_lc);
CREATE UNIQUE INDEX resources_group_display_name ON resources (tenant, display_name_lc) WHERE kind = 'Group';
CREATE UNIQUE INDEX resources_external_id ON resources (tenant, kind, external_id);
-- (tenant, kind) lists a kind in creation order (rid) without sorting.
-- There is no index on created: every index is paid for by every write, and
-- meta.created filters are rare; they scan resources_kind.
CREATE INDEX resources_kind ON resources (tenant, kind);
CREATE INDEX resources_display_name ON resources (tenant, kind, display_name_lc);
CREATE INDEX resources_last_modified ON resources (tenant, kind, last_modified);

-- Lower-cased emails[].value of users, keyed for emails.value filters. One
-- b-tree and no index by id: a user's rows are deleted by their exact keys,
-- known from the user's doc (see shadows).
CREATE TABLE emails (
	tenant   TEXT NOT NULL,
	value_lc TEXT NOT NULL,
	id       TEXT NOT NULL,
	PRIMARY KEY (tenant, value_lc, id)
) WITHOUT ROWID;

-- Group memberships, one row per (group, member).
CREATE TABLE members (
	tenant      TEXT NOT NULL,
	group_id    TEXT NOT NULL,
	member_id   TEXT NOT NULL, -- its kind comes from resources when read
	PRIMARY KEY (tenant, group_id, member_id)
) WITHOUT ROWID;
CREATE INDEX members_member ON members (tenant, member_id, group_id);

-- The change journal. seq is assigned inside the writing transaction and
-- SQLite has one writer, so seq order is commit order.
CREATE TABLE journal (
	seq     INTEGER PRIMARY KEY AUTOINCREMENT,
	tenant  TEXT    NOT NULL,
	kind    TEXT    NOT NULL,
	id      TEXT    NOT NULL,
	op      TEXT    NOT NULL,
	version INTEGER NOT NULL,
	at      INTEGER NOT NULL, -- unix nanoseconds
	added   TEXT,             -- JSON array of member ids, or NULL
	removed TEXT              -- JSON array of member ids, or NULL
);
CREATE INDEX journal_tenant ON journal (tenant, seq);

CREATE TABLE state (
	tenant  TEXT    NOT NULL,
	key     TEXT    NOT NULL,
	value   BLOB    NOT NULL,
	version INTEGER NOT NULL,
	PRIMARY KEY (tenant, key)
) WITHOUT ROWID;

CREATE TABLE leases (
	tenant  TEXT    NOT NULL,
	name    TEXT    NOT NULL,
	holder  TEXT    NOT NULL,
	expires INTEGER NOT NULL, -- unix nanoseconds
	PRIMARY KEY (tenant, name)
) WITHOUT ROWID;
