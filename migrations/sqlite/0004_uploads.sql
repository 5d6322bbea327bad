-- Uploads: metadata of uploaded objects (the bytes live in the object store). Mirrors
-- gantry_actors::ports::uploads::UploadRecord and migrations/postgres/0003_uploads.sql.
--
-- Spellings as in 0001_jobs.sql: id as hyphenated lower-case UUID text, created_at as RFC 3339 UTC text with
-- exactly six fractional digits. `size` is INTEGER (SQLite's 64-bit integer; STRICT tables accept no BIGINT).
CREATE TABLE uploads (
    id           TEXT    NOT NULL PRIMARY KEY,
    -- `user:<uuid>` or `guest:<token id>`.
    owner        TEXT    NOT NULL,
    -- Server-generated key in the object store.
    object_key   TEXT    NOT NULL,
    -- Sanitised display filename, when the client sent one.
    filename     TEXT,
    content_type TEXT    NOT NULL,
    -- Bytes; 0 until stored.
    size         INTEGER NOT NULL CHECK (size >= 0),
    -- Hex SHA-256 of the bytes; empty until stored.
    sha256       TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('receiving', 'stored', 'failed')),
    -- Stable error code, when the upload failed.
    error        TEXT,
    created_at   TEXT    NOT NULL
) STRICT;

-- Access checks and "my uploads, newest first" look uploads up by owner.
CREATE INDEX uploads_owner_created_at_idx ON uploads (owner, created_at);
