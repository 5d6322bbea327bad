-- Secret rotation: the evidence of every rotation and rollback, and the heartbeats of running instances
-- (a rotation waits for the acknowledgement of every instance seen alive). Mirrors
-- migrations/sqlite/0009_rotations.sql.
CREATE TABLE rotations (
    id            uuid        PRIMARY KEY,
    kind          text        NOT NULL CHECK (kind IN ('rotation', 'rollback')),
    deployment_id text,
    commit_sha    text,
    requested_by  text        NOT NULL,
    outcome       text        NOT NULL CHECK (outcome IN ('running', 'succeeded', 'failed')),
    failed_step   text,
    reason        text,
    -- The whole record as JSON (steps, version changes with fingerprints only, acknowledgements, smoke
    -- report, session notice); the columns above repeat what lists and queries need.
    detail        text        NOT NULL,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz
);

CREATE INDEX rotations_started_idx ON rotations (started_at DESC);

CREATE TABLE instances (
    id        uuid        PRIMARY KEY,
    last_seen timestamptz NOT NULL
);
