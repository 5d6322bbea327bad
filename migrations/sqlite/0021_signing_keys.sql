-- The public halves of the access-token signing keys (issue 23): in use, published, or retiring until the
-- last token they signed has expired. Every instance reads them at start-up, so one restarted in the middle of
-- a rotation verifies what its peers verify. Public keys only. Mirrors migrations/postgres/0018_signing_keys.sql.
CREATE TABLE signing_keys (
    kid          TEXT    PRIMARY KEY,
    -- The public key as JSON (`alg`, `kid`, `x`, `y`).
    public       TEXT    NOT NULL,
    -- Unix seconds after which it verifies nothing; NULL while an instance signs with it or publishes it.
    verify_until INTEGER
);
