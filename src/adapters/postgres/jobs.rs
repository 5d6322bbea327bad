//! `JobStore` on Postgres: nothing Postgres-specific beyond the native types in `postgres.rs`; the logic is
//! `sql/jobs.rs`.

use super::PostgresDb;
use crate::adapters::sql::jobs::SqlJobs;

/// `JobStore` on Postgres.
pub type PostgresJobs = SqlJobs<PostgresDb>;
