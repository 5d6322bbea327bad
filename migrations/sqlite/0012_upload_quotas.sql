-- Guest-token file quotas, reserved atomically (one upsert per upload) instead of counted before the upload:
-- concurrent uploads of one token can no longer all pass a count, and deleting a file does not give it back.
-- `used` counts files reserved by `owner` (`guest:<token id>`); a failed upload releases its reservation.
CREATE TABLE upload_quotas (
    owner TEXT    PRIMARY KEY NOT NULL,
    used  INTEGER NOT NULL CHECK (used >= 0)
);

-- Uploads made before this table existed count against their token.
INSERT INTO upload_quotas (owner, used)
SELECT owner, count(*) FROM uploads WHERE owner LIKE 'guest:%' AND status IN ('receiving', 'stored') GROUP BY owner;
