//! `UploadStore` on SQLite: nothing SQLite-specific beyond the value encoding in `sqlite.rs`; the logic is
//! `sql/uploads.rs`.

use super::SqliteDb;
use crate::adapters::sql::uploads::SqlUploads;

/// `UploadStore` on the SQLite file.
pub type SqliteUploads = SqlUploads<SqliteDb>;
