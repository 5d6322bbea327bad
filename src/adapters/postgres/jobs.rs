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
        " FOR UPDATE SKIP LOCKED",
        ")) AND EXISTS (SELECT FROM relaxed)"
    );
    // Renewals and batch completions lock the rows they change in id order (`locked`), whatever order their
    // lists come in: two statements that lock the same jobs in opposite orders deadlock, and Postgres then
    // refuses one of them — a refused completion batch is finished work reported as an outage.
    const RENEW: &'static str = "WITH locked AS (SELECT id FROM jobs WHERE lease_token = $1 AND state = 'running' \
                                 AND id = ANY($3) ORDER BY id FOR UPDATE) \
                                 UPDATE jobs SET lease_expires_at = $2 FROM locked WHERE jobs.id = locked.id \
                                 AND jobs.lease_token = $1 AND jobs.state = 'running' RETURNING jobs.id";
    // The attempts and the completions of a whole batch in one statement (one round trip, one commit): the
    // attempt rows only for jobs still leased with token `$3` (locked first, in id order), and the jobs completed
    // only where an attempt was recorded and the lease still holds (re-checked under the row lock).
    const COMPLETE_MANY: Option<&'static str> = Some(
        "WITH done AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS d(id uuid, attempt bigint, \
         started_at timestamptz, finished_at timestamptz, result jsonb)), \
         locked AS MATERIALIZED (SELECT jobs.id FROM jobs JOIN done ON jobs.id = done.id \
         WHERE jobs.lease_token = $3 AND jobs.state = 'running' ORDER BY jobs.id FOR UPDATE OF jobs), \
         recorded AS (INSERT INTO job_attempts (job_id, attempt, instance_id, started_at, finished_at, outcome) \
         SELECT done.id, done.attempt, $2, done.started_at, done.finished_at, 'completed' FROM done \
         JOIN locked ON locked.id = done.id ON CONFLICT DO NOTHING RETURNING job_id) \
         UPDATE jobs SET state = 'completed', result = done.result, error = NULL, finished_at = done.finished_at, \
         lease_owner = NULL, lease_expires_at = NULL, lease_token = NULL, updated_at = done.finished_at FROM done \
         WHERE jobs.id = done.id AND jobs.id IN (SELECT job_id FROM recorded) AND jobs.lease_token = $3 \
         AND jobs.state = 'running' RETURNING jobs.id",
    );
    const LOCK_MANY: Option<&'static str> = Some("SELECT id FROM jobs WHERE id = ANY($1) ORDER BY id FOR UPDATE");
}
