-- Sessions (local profile; production keeps them in Redis). Mirrors
-- gantry_actors::ports::sessions::SessionRecord: ids as hyphenated lower-case UUID text, instants as INTEGER
-- milliseconds since the Unix epoch, `last_rotation` as JSON text (the serde form of `Rotation`).
-- No foreign key to users: the session store does not depend on the account store (they are different
-- backends in production).
CREATE TABLE sessions (
    id                     TEXT    NOT NULL PRIMARY KEY,
    user_id                TEXT    NOT NULL,
    created_at_ms          INTEGER NOT NULL,
    last_used_at_ms        INTEGER NOT NULL,
    refresh_expires_at_ms  INTEGER NOT NULL,
    absolute_expires_at_ms INTEGER NOT NULL,
    user_agent             TEXT,
    address                TEXT,
    -- Hex SHA-256 of the current refresh token (never the token).
    refresh_hash           TEXT    NOT NULL,
    -- The compare-and-swap key of `replace_if`.
    generation             INTEGER NOT NULL CHECK (generation BETWEEN 0 AND 4294967295),
    last_rotation          TEXT    CHECK (last_rotation IS NULL OR json_valid(last_rotation)),
    revoked_at_ms          INTEGER
) STRICT;

-- "A user's sessions".
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
-- "Revoked since" (only revoked rows are indexed).
CREATE INDEX sessions_revoked_at_ms_idx ON sessions (revoked_at_ms) WHERE revoked_at_ms IS NOT NULL;
-- Counting active sessions and pruning those past their absolute expiry.
CREATE INDEX sessions_absolute_expires_at_ms_idx ON sessions (absolute_expires_at_ms);
