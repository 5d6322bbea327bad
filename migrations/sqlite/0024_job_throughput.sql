-- Job throughput (issue 24): index entries nothing reads. Mirrors migrations/postgres/0024_job_throughput.sql
-- (whose autovacuum settings have no SQLite counterpart).

-- The claim's whole order, (fair_at, run_at), in its index: the claim reads its first rows in order instead of
-- sorting every due job that shares a place. Jobs inserted without a place (by hand, or by a version before
-- 0023 during a rolling deploy) all share NULL, and each claim sorted all of them (measured on Postgres: 66 ms
-- per claim at 50,000 such jobs, 0.2 ms with this index); a plan cached while the table was small could even
-- sort every due job.
DROP INDEX IF EXISTS jobs_fair_due_idx;
CREATE INDEX jobs_fair_due_idx ON jobs (queue, fair_at, run_at)
    WHERE run_at IS NOT NULL AND state IN ('scheduled', 'available', 'retryable');

-- The claim orders by fair_at since 0023 (`jobs_fair_due_idx`, same predicate); this index by run_at was
-- only kept up.
DROP INDEX IF EXISTS jobs_due_idx;

-- Jobs are looked up by owner only with an owner.
DROP INDEX IF EXISTS jobs_owner_created_at_idx;
CREATE INDEX jobs_owner_created_at_idx ON jobs (owner, created_at) WHERE owner IS NOT NULL;
