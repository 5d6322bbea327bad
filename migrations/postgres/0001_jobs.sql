-- Jobs: long-running work (mass logout, uploads, rotations) that clients follow at GET /v1/jobs/{id}.
-- Mirrors gantry_actors::ports::jobs::Job. Timestamps are timestamptz (microsecond precision).
CREATE TABLE jobs (
    id         uuid        PRIMARY KEY,
    kind       text        NOT NULL,
    state      text        NOT NULL
                           CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    -- JSON `null` until the job reports progress.
    progress   jsonb       NOT NULL DEFAULT 'null'::jsonb,
    result     jsonb,
    error      text,
    owner      text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- Access checks and "my jobs, newest first" look jobs up by owner.
CREATE INDEX jobs_owner_created_at_idx ON jobs (owner, created_at);
