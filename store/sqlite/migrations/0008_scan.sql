-- Keyset scans (store.Store.Scan) list one kind of a tenant by id. Neither
-- resources_id (tenant, id), which would step over every resource of the
-- other kind (a scan of a tenant's few groups would read all its users),
-- nor resources_kind (tenant, kind), in creation order, serves that. Ids
-- and kinds never change, so only creates and deletes pay for this index.
CREATE INDEX resources_kind_id ON resources (tenant, kind, id);
