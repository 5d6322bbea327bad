-- The users' notice of a mass invalidation; see migrations/sqlite/0011_revocation_user_message.sql.
ALTER TABLE session_revocations ADD COLUMN user_message text;
ALTER TABLE session_revocations ADD COLUMN refused_requests bigint NOT NULL DEFAULT 0 CHECK (refused_requests >= 0);
