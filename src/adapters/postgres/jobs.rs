//! `JobStore` on Postgres: the claim locks the due rows it takes with `FOR UPDATE SKIP LOCKED`, so
//! concurrent claims from other instances pass over them instead of waiting; the logic is `sql/jobs.rs`.

use super::PostgresDb;
use crate::adapters::sql::jobs::{JobsDialect, SqlJobs, claim_sql};

/// `JobStore` on Postgres.
pub type PostgresJobs = SqlJobs<PostgresDb>;

impl JobsDialect for PostgresDb {
    const CLAIM: &'static str = claim_sql!(" FOR UPDATE SKIP LOCKED");
}
