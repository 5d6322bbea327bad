-- The sweep for uploads an instance left `receiving` when it died (UploadStore::stale_uploads): the oldest
-- receiving uploads started before a cut-off. Mirrors migrations/sqlite/0005_uploads_stale.sql.
--
-- Partial, so it holds only the few uploads in flight rather than every upload ever stored; `status` is not a
-- column because the predicate fixes it. `id` breaks ties on `created_at` in the sweep's order. The adapter
-- spells the predicate with a literal, so even a generic prepared plan can use the index.
CREATE INDEX uploads_receiving_created_at_idx ON uploads (created_at, id) WHERE status = 'receiving';
