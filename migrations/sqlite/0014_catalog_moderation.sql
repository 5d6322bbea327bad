-- Options you can curate; see migrations/postgres/0013_catalog_moderation.sql. Flags are INTEGER 0/1, ids
-- and times text as in 0006_catalog.sql.
ALTER TABLE catalog_options ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0 CHECK (hidden IN (0, 1));
ALTER TABLE catalog_options ADD COLUMN pending INTEGER NOT NULL DEFAULT 0 CHECK (pending IN (0, 1));
ALTER TABLE catalog_options ADD COLUMN created_by TEXT;

CREATE INDEX catalog_options_created_idx ON catalog_options (created_at DESC, id);

CREATE TABLE catalog_aliases (
    old_id     TEXT NOT NULL PRIMARY KEY,
    target_id  TEXT NOT NULL REFERENCES catalog_options (id),
    kind       TEXT NOT NULL,
    parent_id  TEXT,
    name_key   TEXT NOT NULL,
    merged_at  TEXT NOT NULL
) STRICT;
CREATE INDEX catalog_aliases_name_idx ON catalog_aliases (kind, parent_id, name_key);
CREATE INDEX catalog_aliases_target_idx ON catalog_aliases (target_id);

CREATE TABLE catalog_audit (
    id         TEXT    NOT NULL PRIMARY KEY,
    at         TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    option_id  TEXT    NOT NULL,
    detail     TEXT    NOT NULL,
    version    INTEGER NOT NULL
) STRICT;
CREATE INDEX catalog_audit_at_idx ON catalog_audit (at DESC, id);

ALTER TABLE catalog_meta ADD COLUMN identity_version INTEGER NOT NULL DEFAULT 0;
