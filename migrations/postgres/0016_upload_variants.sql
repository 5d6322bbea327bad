-- Photo variants (issue 13): the re-encoded, metadata-free variants of an image upload (`320`, `1280`, `full`
-- by default), one row each, written `pending` in the same transaction as the upload's `stored` state and its
-- `uploads.photo` job, then `ready` or `failed` by that job. Mirrors
-- gantry_actors::ports::uploads::VariantRecord. The bytes live in the object store under
-- `variants/{upload_id}/{name}`; the original object is never rewritten.
CREATE TABLE upload_variants (
    upload_id    uuid        NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    -- A long side in pixels (`320`) or `full`.
    name         text        NOT NULL,
    -- Listing order (the order of the `photos.sizes` setting, `full` last).
    position     bigint      NOT NULL,
    state        text        NOT NULL CHECK (state IN ('pending', 'ready', 'failed')),
    -- Set once ready.
    content_type text,
    width        bigint      CHECK (width IS NULL OR width > 0),
    height       bigint      CHECK (height IS NULL OR height > 0),
    size         bigint      CHECK (size IS NULL OR size >= 0),
    sha256       text,
    -- `code: explanation` when processing failed for good (a decompression bomb, undecodable bytes).
    error        text,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (upload_id, name)
);
