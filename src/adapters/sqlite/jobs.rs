//! `JobStore` on SQLite: one writer at a time, so the claim is a single `UPDATE … RETURNING` whose subquery
//! picks the due rows; no other claim can interleave. The logic is `sql/jobs.rs`.

use super::SqliteDb;
use crate::adapters::sql::jobs::{JobsDialect, SqlJobs, claim_sql};

/// `JobStore` on the SQLite file.
pub type SqliteJobs = SqlJobs<SqliteDb>;

impl JobsDialect for SqliteDb {
    const CLAIM: &'static str = claim_sql!("", "id IN (", "", ")");
    const RENEW: &'static str = "UPDATE jobs SET lease_expires_at = $2 WHERE lease_token = $1 AND state = 'running' \
                                 AND id IN (SELECT value FROM json_each($3)) RETURNING id";
    // One by one inside the batch's transaction: SQLite's statements run in-process, its commit is the cost.
    const COMPLETE_MANY: Option<&'static str> = None;
}
