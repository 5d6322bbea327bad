//! `UploadStore` on Postgres: nothing Postgres-specific beyond the native types in `postgres.rs`; the
//! logic is `sql/uploads.rs`.

use super::PostgresDb;
use crate::adapters::sql::uploads::SqlUploads;

/// `UploadStore` on Postgres.
pub type PostgresUploads = SqlUploads<PostgresDb>;
