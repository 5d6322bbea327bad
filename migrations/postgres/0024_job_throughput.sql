-- Job throughput (issue 24). Every runner job is written three times: enqueued, claimed, finished. Neither the
-- claim nor the outcome can be a HOT update (both change `state`, which the claim's and the admin's indexes
-- use), so each leaves a dead row version and a new entry in every index whose predicate the new version
-- matches. This migration takes out index entries nothing reads and lets autovacuum keep up with the churn.
-- Mirrors migrations/sqlite/0024_job_throughput.sql (indexes only).

-- The claim's whole order, (fair_at, run_at), in its index: the claim reads its first rows in order instead of
-- sorting every due job that shares a place. Jobs inserted without a place (by hand, or by a version before
-- 0023 during a rolling deploy) all share NULL, and each claim sorted all of them (measured on Postgres: 66 ms
-- per claim at 50,000 such jobs, 0.2 ms with this index); a plan cached while the table was small could even
-- sort every due job.
DROP INDEX IF EXISTS jobs_fair_due_idx;
CREATE INDEX jobs_fair_due_idx ON jobs (queue, fair_at, run_at)
    WHERE run_at IS NOT NULL AND state IN ('scheduled', 'available', 'retryable');

-- The claim orders by fair_at since 0023 (`jobs_fair_due_idx`, same predicate, which also serves the queue
-- depths); this index of every waiting job by run_at was only kept up.
DROP INDEX IF EXISTS jobs_due_idx;

-- Jobs are looked up by owner only with an owner: the many jobs without one (periodic maintenance, most
-- runner work) no longer get an entry for each of their row versions.
DROP INDEX IF EXISTS jobs_owner_created_at_idx;
CREATE INDEX jobs_owner_created_at_idx ON jobs (owner, created_at) WHERE owner IS NOT NULL;

-- Autovacuum on `jobs`: a busy runner leaves two dead versions per job. The default trigger (50 rows + 20 %
-- of the table) lets dead versions reach a fifth of a large table (finished jobs stay `jobs.keep_finished_secs`)
-- before a vacuum starts; 2 % + 1,000 starts it ten times sooner, and a larger cost budget lets each pass end
-- sooner, so the dead versions stay bounded under a sustained load. Other tables keep the server's settings.
ALTER TABLE jobs SET (
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.05,
    autovacuum_vacuum_cost_limit = 1000
);
