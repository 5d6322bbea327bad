//! `JobStore` on Postgres: the claim locks the due rows it takes with `FOR UPDATE SKIP LOCKED`, so
//! concurrent claims from other instances pass over them instead of waiting; the logic is `sql/jobs.rs`.

use super::PostgresDb;
use crate::adapters::sql::jobs::{JobsDialect, SqlJobs, claim_sql};

/// `JobStore` on Postgres.
pub type PostgresJobs = SqlJobs<PostgresDb>;

impl JobsDialect for PostgresDb {
    // The claim's commit does not wait for its WAL to reach the disk (`synchronous_commit` off for this
    // transaction only): a claim is a lease, not an outcome. If Postgres crashed within the WAL writer's few
    // hundred milliseconds, the claim would be lost as if it had never happened: the job is due again under its
    // previous attempt count, and its worker's outcome, lease renewal or release is refused (the lease token no
    // longer matches), so it runs again — at-least-once, as after a lease expiry. Every outcome is committed
    // durably, and its commit makes the claim before it durable too (the WAL is flushed in order). This takes
    // the disk's flush (milliseconds on this kind of machine) out of every claim, which is on the path from a
    // nudge to a job's start and gates the next claim.
    const CLAIM: &'static str = claim_sql!(
        "WITH relaxed AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true)) ",
        "id = ANY(ARRAY(",
        "$5",
        " FOR UPDATE SKIP LOCKED",
        ")) AND EXISTS (SELECT FROM relaxed)"
    );
    // A renewal never waits for a row lock (`SKIP LOCKED`): the runner's finisher completes jobs while it renews
    // the others, and two statements that lock the same rows in opposite orders deadlock — Postgres then refused
    // one of them, and a refused completion batch was finished work reported as an outage. A row locked right
    // now (its completion being recorded, a progress update, a cancel) is not renewed this time and is answered
    // as still held when the statement's snapshot says it is: the next renewal, a third of a lease later, sees
    // it settled.
    const RENEW: &'static str = "WITH locked AS (SELECT id FROM jobs WHERE lease_token = $1 AND state = 'running' \
                                 AND id = ANY($3) FOR UPDATE SKIP LOCKED), \
                                 renewed AS (UPDATE jobs SET lease_expires_at = $2 FROM locked \
                                 WHERE jobs.id = locked.id RETURNING jobs.id) \
                                 SELECT id FROM renewed UNION ALL SELECT id FROM jobs WHERE lease_token = $1 \
                                 AND state = 'running' AND id = ANY($3) AND id NOT IN (SELECT id FROM locked)";
    // The attempts and the completions of a whole batch in one statement (one round trip, one commit): the
    // attempt rows only for jobs still leased with token `$3`, and the jobs completed only where an attempt was
    // recorded and the lease still holds (re-checked under the row lock).
    //
    // `(state || '') = 'running'` is `state = 'running'` (the column is NOT NULL) written so that no index can
    // serve it, which leaves the primary key as the only way to the rows: one look-up per completed job. With
    // `state = 'running'` the planner could reach them through the running jobs instead (`jobs_leases_idx`,
    // `jobs_state_kind_idx`), and with statistics taken while few jobs were running (a burst after a quiet
    // spell; the benchmark's bulk run) it believed one row was running and compared every running job of the
    // instance with every completion, for both the insert and the update: quadratic. Measured in
    // `bench/jobs.sh` with auto_explain: batches of 256 against ~1,100 running jobs took 45-99 ms, 33-73 ms of
    // it in that join (278,272 rows removed by its filter).
    const COMPLETE_MANY: Option<&'static str> = Some(
        "WITH done AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS d(id uuid, attempt bigint, \
         started_at timestamptz, finished_at timestamptz, result jsonb)), \
         recorded AS (INSERT INTO job_attempts (job_id, attempt, instance_id, started_at, finished_at, outcome) \
         SELECT done.id, done.attempt, $2, done.started_at, done.finished_at, 'completed' FROM done \
         JOIN jobs ON jobs.id = done.id WHERE jobs.lease_token = $3 AND (jobs.state || '') = 'running' \
         ON CONFLICT DO NOTHING RETURNING job_id) \
         UPDATE jobs SET state = 'completed', result = done.result, error = NULL, finished_at = done.finished_at, \
         lease_owner = NULL, lease_expires_at = NULL, lease_token = NULL, updated_at = done.finished_at FROM done \
         WHERE jobs.id = done.id AND jobs.id IN (SELECT job_id FROM recorded) AND jobs.lease_token = $3 \
         AND (jobs.state || '') = 'running' RETURNING jobs.id",
    );
}
