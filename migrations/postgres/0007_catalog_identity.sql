-- A random identity per catalog (per database), so entries an instance shares in Redis under
-- `options:{catalog_id}:v{version}:…` can never be mistaken for another deployment's that uses the same Redis.
-- Mirrors migrations/sqlite/0008_catalog_identity.sql.
ALTER TABLE catalog_meta ADD COLUMN catalog_id uuid NOT NULL DEFAULT gen_random_uuid();
