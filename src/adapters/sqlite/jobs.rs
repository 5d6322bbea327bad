//! `JobStore` on SQLite: one writer at a time, so the claim is a single `UPDATE … RETURNING` whose subquery
//! picks the due rows; no other claim can interleave. The logic is `sql/jobs.rs`.

use super::SqliteDb;
use crate::adapters::sql::jobs::{JobsDialect, SqlJobs, claim_sql};

/// `JobStore` on the SQLite file.
pub type SqliteJobs = SqlJobs<SqliteDb>;

impl JobsDialect for SqliteDb {
    // `LIMIT +$5`, not `LIMIT $5`: SQLite plans with the value bound to a bare `LIMIT` parameter, so a statement
    // bound with another limit than the last time (each queue has its own: 16, 2, 1) is compiled again on its
    // next step — every idle poll of every queue re-prepared the claim (~500 k instructions each, ~20 M/s at
    // idle). The unary plus makes the limit an expression it does not plan with.
    const CLAIM: &'static str = claim_sql!("", "id IN (", "+$5", "", ")");
    const RENEW: &'static str = "UPDATE jobs SET lease_expires_at = $2 WHERE lease_token = $1 AND state = 'running' \
                                 AND id IN (SELECT value FROM json_each($3)) RETURNING id";
    // One by one inside the batch's transaction: SQLite's statements run in-process, its commit is the cost.
    const COMPLETE_MANY: Option<&'static str> = None;
}
