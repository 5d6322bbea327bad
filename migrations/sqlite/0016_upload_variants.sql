-- Photo variants (issue 13). Mirrors migrations/postgres/0016_upload_variants.sql (read its comments for each
-- column); spellings as in 0004_uploads.sql (UUID text, fixed-width RFC 3339 text). The connection enables
-- foreign keys, so deleting an upload deletes its variants' rows.
CREATE TABLE upload_variants (
    upload_id    TEXT    NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    position     INTEGER NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('pending', 'ready', 'failed')),
    content_type TEXT,
    width        INTEGER CHECK (width IS NULL OR width > 0),
    height       INTEGER CHECK (height IS NULL OR height > 0),
    size         INTEGER CHECK (size IS NULL OR size >= 0),
    sha256       TEXT,
    error        TEXT,
    updated_at   TEXT    NOT NULL,
    PRIMARY KEY (upload_id, name)
) STRICT;
