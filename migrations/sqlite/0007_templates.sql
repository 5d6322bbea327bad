-- The listing-form template set (gantry_actors::catalog::templates::document): one JSON document, replaced
-- whole by `gantry templates import` / `POST /admin/templates`. Saving raises catalog_meta.version in the same
-- transaction, so every instance's cache notices the change as it notices option changes.
-- Mirrors migrations/postgres/0006_templates.sql.
CREATE TABLE catalog_templates (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    document   TEXT    NOT NULL,
    -- RFC 3339, UTC.
    updated_at TEXT    NOT NULL
) STRICT;
