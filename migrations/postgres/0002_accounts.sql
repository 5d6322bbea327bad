-- Accounts: users, the session not-before epochs and the revocation notices.
-- Mirrors gantry_actors::ports::accounts. Timestamps are timestamptz (microsecond precision); epochs are
-- milliseconds since the Unix epoch, as the tokens and session ids carry them.
CREATE TABLE users (
    id            uuid        PRIMARY KEY,
    -- Normalised (trimmed, lower-case) by the caller; the adapter maps a violation of this constraint to
    -- `EmailTaken` by its name.
    email         text        NOT NULL CONSTRAINT users_email_key UNIQUE,
    -- argon2id, PHC string format.
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL
);

-- One row per scope. The global epoch is the row whose user_id is the nil UUID
-- (00000000-0000-0000-0000-000000000000): a primary key cannot be NULL, and the atomic
-- `INSERT … ON CONFLICT (user_id) DO UPDATE SET not_before_ms = GREATEST(…)` needs a key to conflict on.
-- Users get v7 ids, never the nil UUID. No foreign key: an epoch outlives a deleted user on purpose.
CREATE TABLE session_epochs (
    user_id       uuid   PRIMARY KEY,
    not_before_ms bigint NOT NULL
);

-- The evidence of each mass revocation (scope `all`, or `user` with its user_id).
CREATE TABLE session_revocations (
    id              uuid        PRIMARY KEY,
    scope           text        NOT NULL CHECK (scope IN ('all', 'user')),
    user_id         uuid,
    reason          text        NOT NULL,
    requested_by    text        NOT NULL,
    not_before_ms   bigint      NOT NULL,
    -- Filled in after the fact.
    active_sessions bigint      CHECK (active_sessions >= 0),
    created_at      timestamptz NOT NULL,
    CHECK ((scope = 'user') = (user_id IS NOT NULL))
);

-- "Newest notices first".
CREATE INDEX session_revocations_created_at_idx ON session_revocations (created_at);
