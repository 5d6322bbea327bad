-- Options you can curate: hidden and pending (new accounts' options, visible to their creator until an
-- operator approves them) flags, who created an option, aliases that keep merged ids and names resolvable,
-- an audit trail of every moderation change, and the mark of the identity upgrade (a Rust step at start-up
-- recomputes `name_key` with the accent-, punctuation- and spacing-blind identity and merges duplicates; SQL
-- cannot run that normalisation). Mirrors migrations/sqlite/0013_catalog_moderation.sql.
ALTER TABLE catalog_options ADD COLUMN hidden boolean NOT NULL DEFAULT false;
ALTER TABLE catalog_options ADD COLUMN pending boolean NOT NULL DEFAULT false;
-- The account that created it (NULL: seeded or created before this migration).
ALTER TABLE catalog_options ADD COLUMN created_by uuid;

-- Review lists: newest first.
CREATE INDEX catalog_options_created_idx ON catalog_options (created_at DESC, id);

-- A merged option's id (and its name under its parent) → the option it was merged into. Targets are
-- repointed when the target itself is merged, so one look-up resolves.
CREATE TABLE catalog_aliases (
    old_id     uuid        PRIMARY KEY,
    target_id  uuid        NOT NULL REFERENCES catalog_options (id),
    kind       text        NOT NULL,
    -- The merged option's parent at merge time (repointed when that parent is merged too).
    parent_id  uuid,
    name_key   text        NOT NULL,
    merged_at  timestamptz NOT NULL
);
CREATE INDEX catalog_aliases_name_idx ON catalog_aliases (kind, parent_id, name_key);
CREATE INDEX catalog_aliases_target_idx ON catalog_aliases (target_id);

-- Who changed what, when: every moderation change and every merge of the identity upgrade.
CREATE TABLE catalog_audit (
    id         uuid        PRIMARY KEY,
    at         timestamptz NOT NULL,
    actor      text        NOT NULL,
    action     text        NOT NULL,
    option_id  uuid        NOT NULL,
    -- JSON object: what changed (old and new name, merged into, flag values, forms flagged).
    detail     text        NOT NULL,
    version    bigint      NOT NULL
);
CREATE INDEX catalog_audit_at_idx ON catalog_audit (at DESC, id);

-- 0: keys as 0005 computed them (lower-cased); 1: the identity of gantry_actors::catalog::names::identity_key.
ALTER TABLE catalog_meta ADD COLUMN identity_version bigint NOT NULL DEFAULT 0;
