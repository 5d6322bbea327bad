-- Sessions on Postgres. Production keeps sessions in Redis; this table lets the same session store contract
-- run on Postgres (tests, or a deployment without Redis). Mirrors migrations/sqlite/0003_sessions.sql with
-- native types: ids as uuid, instants as bigint milliseconds since the Unix epoch (as the port carries them),
-- `last_rotation` as jsonb (the serde form of `Rotation`). No foreign key to users: the session store does
-- not depend on the account store.
CREATE TABLE sessions (
    id                     uuid   PRIMARY KEY,
    user_id                uuid   NOT NULL,
    created_at_ms          bigint NOT NULL,
    last_used_at_ms        bigint NOT NULL,
    refresh_expires_at_ms  bigint NOT NULL,
    absolute_expires_at_ms bigint NOT NULL,
    user_agent             text,
    address                text,
    -- Hex SHA-256 of the current refresh token (never the token).
    refresh_hash           text   NOT NULL,
    -- The compare-and-swap key of `replace_if`.
    generation             bigint NOT NULL CHECK (generation BETWEEN 0 AND 4294967295),
    last_rotation          jsonb,
    revoked_at_ms          bigint
);

-- "A user's sessions".
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
-- "Revoked since" (only revoked rows are indexed).
CREATE INDEX sessions_revoked_at_ms_idx ON sessions (revoked_at_ms) WHERE revoked_at_ms IS NOT NULL;
-- Counting active sessions and pruning those past their absolute expiry.
CREATE INDEX sessions_absolute_expires_at_ms_idx ON sessions (absolute_expires_at_ms);
