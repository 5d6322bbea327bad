-- Jobs: long-running work (mass logout, uploads, rotations) that clients follow at GET /v1/jobs/{id}.
-- Mirrors gantry_actors::ports::jobs::Job and migrations/postgres/0001_jobs.sql.
--
-- SQLite has no uuid, json or timestamp types, so (STRICT keeps the storage classes honest):
--   id                     TEXT, hyphenated lower-case UUID.
--   progress, result       TEXT holding JSON (checked with json_valid).
--   created_at, updated_at TEXT, RFC 3339 in UTC with exactly six fractional digits
--                          (`2026-11-25T18:02:53.123456Z`): fixed width, so text order is time order, and the
--                          same microsecond precision as Postgres' timestamptz.
CREATE TABLE jobs (
    id         TEXT NOT NULL PRIMARY KEY,
    kind       TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    -- JSON `null` until the job reports progress.
    progress   TEXT NOT NULL DEFAULT 'null' CHECK (json_valid(progress)),
    result     TEXT CHECK (result IS NULL OR json_valid(result)),
    error      TEXT,
    owner      TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

-- Access checks and "my jobs, newest first" look jobs up by owner.
CREATE INDEX jobs_owner_created_at_idx ON jobs (owner, created_at);
