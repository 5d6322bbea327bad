-- Issue 23: a signing key an emergency rotation (invalidate_sessions=true) ended is marked revoked, so an
-- instance started later with stale key files refuses to start instead of publishing and signing with it again
-- (and its peers never adopt it back). Cleared only when a rollback publishes the key again. Mirrors
-- migrations/sqlite/0025_signing_key_revocations.sql.
ALTER TABLE signing_keys ADD COLUMN revoked_at bigint;
