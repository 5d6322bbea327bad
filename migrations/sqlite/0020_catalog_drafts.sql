-- Pending options are their creators' drafts (issue 25.9): one public option per name under one parent, and
-- besides it at most one pending option per name, parent and creator, so a new account's option never takes
-- a name from anyone else. Mirrors migrations/postgres/0018_catalog_drafts.sql; the adapter's `ON CONFLICT`
-- clauses name these exact expression lists and predicates.
DROP INDEX catalog_options_name_key_idx;
CREATE UNIQUE INDEX catalog_options_name_key_idx ON catalog_options (kind, ifnull(parent_id, ''), name_key)
    WHERE pending = 0;
CREATE UNIQUE INDEX catalog_options_draft_key_idx
    ON catalog_options (kind, ifnull(parent_id, ''), name_key, ifnull(created_by, '')) WHERE pending = 1;
