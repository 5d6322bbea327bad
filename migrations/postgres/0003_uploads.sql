-- Uploads: metadata of uploaded objects (the bytes live in the object store). Mirrors
-- gantry_actors::ports::uploads::UploadRecord. Timestamps are timestamptz (microsecond precision).
CREATE TABLE uploads (
    id           uuid        PRIMARY KEY,
    -- `user:<uuid>` or `guest:<token id>`.
    owner        text        NOT NULL,
    -- Server-generated key in the object store.
    object_key   text        NOT NULL,
    -- Sanitised display filename, when the client sent one.
    filename     text,
    content_type text        NOT NULL,
    -- Bytes; 0 until stored.
    size         bigint      NOT NULL CHECK (size >= 0),
    -- Hex SHA-256 of the bytes; empty until stored.
    sha256       text        NOT NULL,
    status       text        NOT NULL CHECK (status IN ('receiving', 'stored', 'failed')),
    -- Stable error code, when the upload failed.
    error        text,
    created_at   timestamptz NOT NULL
);

-- Access checks and "my uploads, newest first" look uploads up by owner.
CREATE INDEX uploads_owner_created_at_idx ON uploads (owner, created_at);
