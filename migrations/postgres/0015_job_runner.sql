-- The job runner (issue 13): jobs become rows that instances claim with a lease, retry with backoff and
-- finish once. Mirrors migrations/sqlite/0013_job_runner.sql and gantry_actors::ports::jobs.
--
-- States: scheduled (due later), available (due), running (leased), retryable (failed, due again at run_at),
-- completed, discarded (out of attempts; `error` keeps the last error), cancelled. The old spellings map:
-- queued -> available, succeeded -> completed, failed -> discarded.
ALTER TABLE jobs DROP CONSTRAINT jobs_state_check;
UPDATE jobs SET state = CASE state
    WHEN 'queued' THEN 'available'
    WHEN 'succeeded' THEN 'completed'
    WHEN 'failed' THEN 'discarded'
    ELSE state END;
ALTER TABLE jobs ADD CONSTRAINT jobs_state_check
    CHECK (state IN ('scheduled', 'available', 'running', 'retryable', 'completed', 'discarded', 'cancelled'));

ALTER TABLE jobs
    -- Which worker pool runs it (per-queue concurrency per instance).
    ADD COLUMN queue            text        NOT NULL DEFAULT 'default',
    -- The kind's input.
    ADD COLUMN args             jsonb       NOT NULL DEFAULT 'null'::jsonb,
    -- Attempts started so far (a claim counts one) and the most the kind allows.
    ADD COLUMN attempt          bigint      NOT NULL DEFAULT 0,
    ADD COLUMN max_attempts     bigint      NOT NULL DEFAULT 1,
    -- When it is due. NULL for a record-only job (run inline by the actor that created it, never claimed).
    ADD COLUMN run_at           timestamptz,
    -- The instance holding the lease, and until when. An expired lease makes a runner job due again and a
    -- record-only job (its inline runner died) discarded.
    ADD COLUMN lease_owner      uuid,
    ADD COLUMN lease_expires_at timestamptz,
    -- At most one live job per unique_key (namespaced by convention, e.g. `secrets.rotation`): "one rotation
    -- or rollback at a time across the fleet".
    ADD COLUMN unique_key       text,
    -- At most one job ever per (kind, period_key): "one sweep per period" (the key names the period start).
    ADD COLUMN period_key       text,
    ADD COLUMN started_at       timestamptz,
    ADD COLUMN finished_at      timestamptz;

-- Uniqueness is the database's job, not a read-then-insert: enqueue is INSERT … ON CONFLICT DO NOTHING.
CREATE UNIQUE INDEX jobs_unique_live_idx ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'available', 'running', 'retryable');
CREATE UNIQUE INDEX jobs_unique_period_idx ON jobs (kind, period_key) WHERE period_key IS NOT NULL;
-- The claim (due jobs of a queue in run_at order) and the rescue of expired leases.
CREATE INDEX jobs_due_idx ON jobs (queue, run_at)
    WHERE run_at IS NOT NULL AND state IN ('scheduled', 'available', 'retryable');
CREATE INDEX jobs_leases_idx ON jobs (lease_expires_at) WHERE state = 'running';
-- The admin list and the pruning of finished jobs.
CREATE INDEX jobs_state_kind_idx ON jobs (state, kind, created_at);

-- One row per finished attempt: when it started and ended, how, and its error.
CREATE TABLE job_attempts (
    job_id      uuid        NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt     bigint      NOT NULL,
    instance_id uuid        NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    outcome     text        NOT NULL CHECK (outcome IN ('completed', 'failed', 'timed_out', 'lease_expired')),
    error       text,
    PRIMARY KEY (job_id, attempt)
);
