-- The listing-form catalog: categories, subcategories, brands, models, countries and cities, and the catalog
-- version. Mirrors gantry_actors::ports::catalog and migrations/sqlite/0006_catalog.sql. Timestamps are
-- timestamptz (microsecond precision).
CREATE TABLE catalog_options (
    id         uuid        PRIMARY KEY,
    kind       text        NOT NULL
                           CHECK (kind IN ('category', 'subcategory', 'brand', 'model', 'country', 'city')),
    -- Subcategory → category, model → brand, city → country; NULL for the other kinds.
    parent_id  uuid        REFERENCES catalog_options (id),
    -- Normalised display name (gantry_actors::catalog::names).
    name       text        NOT NULL,
    -- Lower-cased name: the identity of an option under its parent.
    name_key   text        NOT NULL,
    -- Lower-cased, accents removed: prefix search and list order. Byte order ("C"), as SQLite's BINARY, so
    -- both backends list in the same order whatever the database's locale, and a btree index serves
    -- `LIKE 'prefix%'` without a pattern-ops index.
    search_key text        COLLATE "C" NOT NULL,
    -- Categories only: whether listings of it have an engine.
    has_engine boolean     NOT NULL,
    created_at timestamptz NOT NULL,
    -- The domain rule of OptionKind::parent_kind, kept here too so that no caller can store an orphan model.
    CHECK ((parent_id IS NULL) = (kind IN ('category', 'brand', 'country')))
);

-- One option per name under one parent. NULLs never conflict in a unique index, so top-level options share
-- the nil UUID (ids are v7, never nil); the adapter's `ON CONFLICT` names this exact expression list.
CREATE UNIQUE INDEX catalog_options_name_key_idx
    ON catalog_options (kind, COALESCE(parent_id, '00000000-0000-0000-0000-000000000000'::uuid), name_key);

-- Listing one kind under one parent in search-key order (and prefix search on it).
CREATE INDEX catalog_options_listing_idx ON catalog_options (kind, parent_id, search_key);

-- The catalog version: one row, raised by one in the same transaction as every insert, so caches can tell
-- whether they missed a change.
CREATE TABLE catalog_meta (
    version bigint NOT NULL CHECK (version >= 0)
);

INSERT INTO catalog_meta (version) VALUES (0);
