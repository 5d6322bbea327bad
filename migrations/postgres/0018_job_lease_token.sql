-- Leases belong to a process, not to an instance id (issue 25 item 1). Each job runner draws a random token
-- when it starts; a claim writes it beside `lease_owner` (the instance, what operators see), and renewing,
-- finishing and giving a job back are guarded by it. An instance restarted under the same
-- `GANTRY_INSTANCE_ID` has a new token, so it can no longer keep alive the lease of a job its predecessor was
-- running: that lease expires and the job is rescued. Mirrors migrations/sqlite/0018_job_lease_token.sql.
-- Leases taken before this migration have no token: nobody renews them, so they expire and are rescued.
ALTER TABLE jobs ADD COLUMN lease_token uuid;
