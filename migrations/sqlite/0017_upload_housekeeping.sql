-- Upload housekeeping (issue 13): the multipart uploads an instance has under way in the object store, so a
-- periodic job can abort those a crash left behind even on stores without ListMultipartUploads (s3s-fs).
-- A row is written when the multipart upload is created and deleted when it is completed or aborted.
-- Mirrors migrations/postgres/0017_upload_housekeeping.sql; started_at as RFC 3339 UTC text with six
-- fractional digits (0001_jobs.sql), so text order is time order.
CREATE TABLE object_multiparts (
    upload_id  TEXT NOT NULL PRIMARY KEY,
    object_key TEXT NOT NULL,
    started_at TEXT NOT NULL
) STRICT;

-- The sweep takes the oldest first; the removal of one object looks its uploads up by key.
CREATE INDEX object_multiparts_started_at_idx ON object_multiparts (started_at);
CREATE INDEX object_multiparts_object_key_idx ON object_multiparts (object_key);

-- The instance receiving an upload's bytes: an upload still `receiving` whose instance stopped heart-beating
-- (`instances`) is failed by the next sweep instead of after the long abandon deadline. NULL for uploads
-- recorded before.
ALTER TABLE uploads ADD COLUMN received_by TEXT;
