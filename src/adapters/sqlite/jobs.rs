//! `JobStore` on SQLite: nothing SQLite-specific beyond the value encoding in `sqlite.rs`; the logic is
//! `sql/jobs.rs`.

use super::SqliteDb;
use crate::adapters::sql::jobs::SqlJobs;

/// `JobStore` on the SQLite file.
pub type SqliteJobs = SqlJobs<SqliteDb>;
