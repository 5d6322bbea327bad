//! `JobStore` on Postgres: the claim locks the due rows it takes with `FOR UPDATE SKIP LOCKED`, so
//! concurrent claims from other instances pass over them instead of waiting; the logic is `sql/jobs.rs`.

use super::PostgresDb;
use crate::adapters::sql::jobs::{JobsDialect, SqlJobs, claim_sql};

/// `JobStore` on Postgres.
pub type PostgresJobs = SqlJobs<PostgresDb>;

impl JobsDialect for PostgresDb {
    const CLAIM: &'static str = claim_sql!(" FOR UPDATE SKIP LOCKED");
    const RENEW: &'static str = "UPDATE jobs SET lease_expires_at = $2 WHERE lease_token = $1 AND state = 'running' \
                                 AND id = ANY($3) RETURNING id";
    // The attempts and the completions of a whole batch in one statement (one round trip, one commit): the
    // attempt rows only for jobs still leased with token `$3`, and the jobs completed only where an attempt was
    // recorded and the lease still holds (re-checked under the row lock).
    const COMPLETE_MANY: Option<&'static str> = Some(
        "WITH done AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS d(id uuid, attempt bigint, \
         started_at timestamptz, finished_at timestamptz, result jsonb)), \
         recorded AS (INSERT INTO job_attempts (job_id, attempt, instance_id, started_at, finished_at, outcome) \
         SELECT done.id, done.attempt, $2, done.started_at, done.finished_at, 'completed' FROM done \
         JOIN jobs ON jobs.id = done.id WHERE jobs.lease_token = $3 AND jobs.state = 'running' \
         ON CONFLICT DO NOTHING RETURNING job_id) \
         UPDATE jobs SET state = 'completed', result = done.result, error = NULL, finished_at = done.finished_at, \
         lease_owner = NULL, lease_expires_at = NULL, lease_token = NULL, updated_at = done.finished_at FROM done \
         WHERE jobs.id = done.id AND jobs.id IN (SELECT job_id FROM recorded) AND jobs.lease_token = $3 \
         AND jobs.state = 'running' RETURNING jobs.id",
    );
}
