-- The listing-form template set (gantry_actors::catalog::templates::document): one JSON document, replaced
-- whole by `gantry templates import` / `POST /admin/templates`. Saving raises catalog_meta.version in the same
-- transaction, so every instance's cache notices the change as it notices option changes.
-- Mirrors migrations/sqlite/0007_templates.sql. Kept as text (not jsonb) so it reads back byte for byte.
CREATE TABLE catalog_templates (
    id         smallint    PRIMARY KEY CHECK (id = 1),
    document   text        NOT NULL,
    updated_at timestamptz NOT NULL
);
