//! Database failures in safe words: the start-up error [`DbError`], and `sqlx` errors mapped to
//! [`Unavailable`] reasons that carry no SQL text, URL or bound value (the detail goes to the debug log).

use gantry_actors::ports::Unavailable;
use sqlx::migrate::MigrateError;

/// Why a database adapter could not start. The text is safe to print: no passwords, URLs or SQL.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database could not be opened or reached.
    #[error("cannot open the database: {0}")]
    Connect(String),
    /// The schema migrations could not be applied.
    #[error("cannot migrate the database: {0}")]
    Migrate(String),
}

/// A short, safe reason for a `sqlx` error: no SQL text, no URL, no bound values. SQLSTATE codes are kept
/// because they tell an operator what went wrong (`28P01` bad password, `3D000` no such database).
pub(crate) fn sqlx_reason(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::PoolTimedOut => "database timed out".to_owned(),
        sqlx::Error::PoolClosed => "database pool is closed".to_owned(),
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => {
            "database unreachable".to_owned()
        }
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("database refused the request (code {code})"),
            None => "database refused the request".to_owned(),
        },
        sqlx::Error::Configuration(_) | sqlx::Error::InvalidArgument(_) => "database is misconfigured".to_owned(),
        sqlx::Error::Decode(_)
        | sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. } => "database returned unexpected data".to_owned(),
        _ => "database error".to_owned(),
    }
}

/// A short, safe reason for a migration failure: which migration, and the safe `sqlx` reason.
pub(crate) fn migrate_reason(err: &MigrateError) -> String {
    match err {
        MigrateError::Execute(e) => sqlx_reason(e),
        MigrateError::ExecuteMigration(e, version) => {
            format!("migration {version} failed: {}", sqlx_reason(e))
        }
        // The remaining variants name versions only (no SQL, no URL), which is what an operator needs.
        other => other.to_string(),
    }
}

/// Maps a `sqlx` error during `op` to [`Unavailable`], logging the detail (which may name tables or
/// constraints, never the URL) at debug level: the caller logs the returned reason once.
pub(crate) fn unavailable(backend: &'static str, op: &'static str, err: &sqlx::Error) -> Unavailable {
    let reason = sqlx_reason(err);
    tracing::debug!(backend, op, error = %err, "{reason}");
    Unavailable::new(reason)
}

/// The database's own code for `err` (SQLSTATE for Postgres, the extended result code for SQLite), if the
/// database refused the statement.
pub(crate) fn database_code(err: &sqlx::Error) -> Option<String> {
    err.as_database_error().and_then(|db| db.code()).map(|code| code.into_owned())
}

/// Whether the database refused `err`'s statement because it would break a unique index or primary key
/// (SQLSTATE `23505`; SQLite's `SQLITE_CONSTRAINT_UNIQUE` / `_PRIMARYKEY`): a conflict for the caller to
/// report as such, never an outage.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error().is_some_and(|db| db.is_unique_violation())
}

/// A stored value this version cannot read (hand-edited file, newer schema, or a schema and code that
/// disagree); `record` names what it was (`job`, `user`, …).
pub(crate) fn corrupt(backend: &'static str, record: &'static str, column: &'static str) -> Unavailable {
    tracing::debug!(backend, record, column, "stored {record} has an unreadable column");
    Unavailable::new(format!("stored {record} has an unreadable {column}"))
}
