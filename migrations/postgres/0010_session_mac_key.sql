-- The per-session key of the refresh tokens' generation tag (64 hex digits); see
-- migrations/sqlite/0010_session_mac_key.sql.
ALTER TABLE sessions ADD COLUMN refresh_mac_key text CHECK (refresh_mac_key IS NULL OR length(refresh_mac_key) = 64);
