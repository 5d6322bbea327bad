-- The job runner (issue 13): jobs become rows that instances claim with a lease, retry with backoff and
-- finish once. Mirrors migrations/postgres/0013_job_runner.sql (read its comments for each column).
--
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt (nothing references it yet).
-- Times are fixed-width RFC 3339 text as in 0001_jobs.sql, so text order is time order.
CREATE TABLE jobs_runner (
    id               TEXT    NOT NULL PRIMARY KEY,
    kind             TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('scheduled', 'available', 'running', 'retryable',
                                                       'completed', 'discarded', 'cancelled')),
    progress         TEXT    NOT NULL DEFAULT 'null' CHECK (json_valid(progress)),
    result           TEXT    CHECK (result IS NULL OR json_valid(result)),
    error            TEXT,
    owner            TEXT,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    queue            TEXT    NOT NULL DEFAULT 'default',
    args             TEXT    NOT NULL DEFAULT 'null' CHECK (json_valid(args)),
    attempt          INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL DEFAULT 1,
    run_at           TEXT,
    lease_owner      TEXT,
    lease_expires_at TEXT,
    unique_key       TEXT,
    period_key       TEXT,
    started_at       TEXT,
    finished_at      TEXT
) STRICT;

INSERT INTO jobs_runner (id, kind, state, progress, result, error, owner, created_at, updated_at)
SELECT id, kind,
       CASE state WHEN 'queued' THEN 'available' WHEN 'succeeded' THEN 'completed'
                  WHEN 'failed' THEN 'discarded' ELSE state END,
       progress, result, error, owner, created_at, updated_at
FROM jobs;

DROP TABLE jobs;
ALTER TABLE jobs_runner RENAME TO jobs;

CREATE INDEX jobs_owner_created_at_idx ON jobs (owner, created_at);
CREATE UNIQUE INDEX jobs_unique_live_idx ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'available', 'running', 'retryable');
CREATE UNIQUE INDEX jobs_unique_period_idx ON jobs (kind, period_key) WHERE period_key IS NOT NULL;
CREATE INDEX jobs_due_idx ON jobs (queue, run_at)
    WHERE run_at IS NOT NULL AND state IN ('scheduled', 'available', 'retryable');
CREATE INDEX jobs_leases_idx ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_state_kind_idx ON jobs (state, kind, created_at);

CREATE TABLE job_attempts (
    job_id      TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    instance_id TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    finished_at TEXT    NOT NULL,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('completed', 'failed', 'timed_out', 'lease_expired')),
    error       TEXT,
    PRIMARY KEY (job_id, attempt)
) STRICT;
