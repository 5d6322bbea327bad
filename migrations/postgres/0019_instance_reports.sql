-- Each heartbeat carries the instance's report (issue 21, GET /admin/fleet): its version, start, readiness and
-- the fingerprints of its secrets, as JSON text. NULL for an instance that writes none (an older version).
-- Mirrors migrations/sqlite/0018_instance_reports.sql.
ALTER TABLE instances ADD COLUMN report text;
