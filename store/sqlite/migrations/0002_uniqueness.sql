-- RFC 7643 uniqueness: only userName (and the id) stay unique in every
-- tenant; externalId and a group's displayName may repeat. Tenants opened
-- with strict uniqueness (listed in strict_tenants, rewritten at every Open
-- from the configuration) also keep those unique: their rows copy
-- external_id and a group's display_name_lc into the strict_* columns, which
-- partial unique indexes cover. Rows of other tenants leave them NULL, so
-- those indexes stay empty for them and cost their writes nothing.
DROP INDEX resources_group_display_name;
DROP INDEX resources_external_id;
-- Filters on externalId still need an index; group displayName filters use
-- resources_display_name.
CREATE INDEX resources_external_id ON resources (tenant, kind, external_id);
ALTER TABLE resources ADD COLUMN strict_external_id TEXT;
ALTER TABLE resources ADD COLUMN strict_display_name TEXT;
CREATE UNIQUE INDEX resources_strict_external_id ON resources (tenant, kind, strict_external_id)
	WHERE strict_external_id IS NOT NULL;
CREATE UNIQUE INDEX resources_strict_display_name ON resources (tenant, strict_display_name)
	WHERE strict_display_name IS NOT NULL;
CREATE TABLE strict_tenants (tenant TEXT PRIMARY KEY) WITHOUT ROWID;
