-- Accounts: users, the session not-before epochs and the revocation notices.
-- Mirrors gantry_actors::ports::accounts and migrations/postgres/0002_accounts.sql, with the storage rules of
-- 0001_jobs.sql: ids as hyphenated lower-case UUID text, timestamps as fixed-width RFC 3339 UTC text with six
-- fractional digits. Epochs are INTEGER milliseconds since the Unix epoch.
CREATE TABLE users (
    id            TEXT NOT NULL PRIMARY KEY,
    -- Normalised (trimmed, lower-case) by the caller; a violation (SQLITE_CONSTRAINT_UNIQUE) is `EmailTaken`.
    email         TEXT NOT NULL UNIQUE,
    -- argon2id, PHC string format.
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
) STRICT;

-- One row per scope. The global epoch is the row whose user_id is the nil UUID
-- ('00000000-0000-0000-0000-000000000000'): a primary key cannot be NULL (and NULLs never conflict), while
-- the atomic `INSERT … ON CONFLICT (user_id) DO UPDATE SET not_before_ms = MAX(…)` needs a key to conflict
-- on. Users get v7 ids, never the nil UUID. No foreign key: an epoch outlives a deleted user on purpose.
CREATE TABLE session_epochs (
    user_id       TEXT    NOT NULL PRIMARY KEY,
    not_before_ms INTEGER NOT NULL
) STRICT;

-- The evidence of each mass revocation (scope `all`, or `user` with its user_id).
CREATE TABLE session_revocations (
    id              TEXT    NOT NULL PRIMARY KEY,
    scope           TEXT    NOT NULL CHECK (scope IN ('all', 'user')),
    user_id         TEXT,
    reason          TEXT    NOT NULL,
    requested_by    TEXT    NOT NULL,
    not_before_ms   INTEGER NOT NULL,
    -- Filled in after the fact.
    active_sessions INTEGER CHECK (active_sessions >= 0),
    created_at      TEXT    NOT NULL,
    CHECK ((scope = 'user') = (user_id IS NOT NULL))
) STRICT;

-- "Newest notices first".
CREATE INDEX session_revocations_created_at_idx ON session_revocations (created_at);
