-- The listing-form catalog: categories, subcategories, brands, models, countries and cities, and the catalog
-- version. Mirrors gantry_actors::ports::catalog and migrations/postgres/0005_catalog.sql.
--
-- Spellings as in 0001_jobs.sql: ids as hyphenated lower-case UUID text, created_at as RFC 3339 UTC text with
-- exactly six fractional digits. STRICT tables know no BOOLEAN or BIGINT: `has_engine` is INTEGER 0/1 and the
-- version is INTEGER (SQLite's 64-bit integer).
CREATE TABLE catalog_options (
    id         TEXT    NOT NULL PRIMARY KEY,
    kind       TEXT    NOT NULL
                       CHECK (kind IN ('category', 'subcategory', 'brand', 'model', 'country', 'city')),
    -- Subcategory → category, model → brand, city → country; NULL for the other kinds.
    parent_id  TEXT    REFERENCES catalog_options (id),
    -- Normalised display name (gantry_actors::catalog::names).
    name       TEXT    NOT NULL,
    -- Lower-cased name: the identity of an option under its parent.
    name_key   TEXT    NOT NULL,
    -- Lower-cased, accents removed: prefix search and list order.
    search_key TEXT    NOT NULL,
    -- Categories only: whether listings of it have an engine.
    has_engine INTEGER NOT NULL CHECK (has_engine IN (0, 1)),
    created_at TEXT    NOT NULL,
    -- The domain rule of OptionKind::parent_kind, kept here too so that no caller can store an orphan model.
    CHECK ((parent_id IS NULL) = (kind IN ('category', 'brand', 'country')))
) STRICT;

-- One option per name under one parent. NULLs never conflict in a unique index, so top-level options share
-- the key '' (no id is empty); the adapter's `ON CONFLICT` names this exact expression list.
CREATE UNIQUE INDEX catalog_options_name_key_idx ON catalog_options (kind, ifnull(parent_id, ''), name_key);

-- Listing one kind under one parent in search-key order (and prefix search on it).
CREATE INDEX catalog_options_listing_idx ON catalog_options (kind, parent_id, search_key);

-- The catalog version: one row, raised by one in the same transaction as every insert, so caches can tell
-- whether they missed a change.
CREATE TABLE catalog_meta (
    version INTEGER NOT NULL CHECK (version >= 0)
) STRICT;

INSERT INTO catalog_meta (version) VALUES (0);
