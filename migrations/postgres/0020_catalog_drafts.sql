-- Pending options are their creators' drafts (issue 25.9): one public option per name under one parent, and
-- besides it at most one pending option per name, parent and creator, so a new account's option never takes
-- a name from anyone else. An approval merges the drafts of one name (gantry::adapters::sql::catalog). Mirrors
-- migrations/sqlite/0018_catalog_drafts.sql; the adapter's `ON CONFLICT` clauses name these exact expression
-- lists and predicates.
DROP INDEX catalog_options_name_key_idx;
CREATE UNIQUE INDEX catalog_options_name_key_idx
    ON catalog_options (kind, COALESCE(parent_id, '00000000-0000-0000-0000-000000000000'::uuid), name_key)
    WHERE NOT pending;
CREATE UNIQUE INDEX catalog_options_draft_key_idx
    ON catalog_options (kind, COALESCE(parent_id, '00000000-0000-0000-0000-000000000000'::uuid), name_key, created_by)
    WHERE pending;
