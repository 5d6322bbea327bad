-- Secret rotation evidence and instance heartbeats; see migrations/postgres/0008_rotations.sql.
CREATE TABLE rotations (
    id            TEXT NOT NULL PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('rotation', 'rollback')),
    deployment_id TEXT,
    commit_sha    TEXT,
    requested_by  TEXT NOT NULL,
    outcome       TEXT NOT NULL CHECK (outcome IN ('running', 'succeeded', 'failed')),
    failed_step   TEXT,
    reason        TEXT,
    detail        TEXT NOT NULL,
    -- RFC 3339, UTC.
    started_at    TEXT NOT NULL,
    finished_at   TEXT
) STRICT;

CREATE INDEX rotations_started_idx ON rotations (started_at DESC);

CREATE TABLE instances (
    id        TEXT    NOT NULL PRIMARY KEY,
    -- Milliseconds since the Unix epoch.
    last_seen INTEGER NOT NULL
) STRICT;
