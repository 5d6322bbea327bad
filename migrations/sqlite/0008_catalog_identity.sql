-- A random identity per catalog (per database); see migrations/postgres/0007_catalog_identity.sql.
ALTER TABLE catalog_meta ADD COLUMN catalog_id TEXT NOT NULL DEFAULT '';
UPDATE catalog_meta SET catalog_id = lower(hex(randomblob(16)));
