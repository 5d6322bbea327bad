//! `JobStore` on a SQLite file (the local profile), plus what both database adapters share: the start-up
//! error [`DbError`] and the mapping of `sqlx` errors to safe [`Unavailable`] reasons.
//!
//! Storage format (see `migrations/sqlite/0001_jobs.sql`): ids as hyphenated UUID text, JSON as text, and
//! timestamps as RFC 3339 UTC text with exactly six fractional digits, so text order is time order and the
//! precision matches Postgres.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::jobs::{Job, JobState, JobStore, JobStoreError, JobUpdate};
use sqlx::Row;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow};
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;

/// SQLite allows one writer at a time; a few readers beside it are all a small pool buys.
const MAX_CONNECTIONS: u32 = 4;
/// How long a caller waits for a pooled connection before the store reports itself unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a statement waits for another connection's write lock before failing with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The stored timestamp format: fixed width, UTC, microseconds.
const TIMESTAMP_FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// The columns [`job_from_row`] reads. A macro, not a `const`, because sqlx 0.9 only takes SQL that is
/// static text (`concat!` keeps it so); formatted strings would need an audit marker.
macro_rules! job_columns {
    () => {
        "id, kind, state, progress, result, error, owner, created_at, updated_at"
    };
}

/// The SQLite migrations, embedded at compile time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

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

/// `JobStore` on a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteDb {
    /// The connection pool (WAL, foreign keys on, busy timeout set).
    pool: SqlitePool,
}

impl SqliteDb {
    /// Opens (creating if needed) the database file at `path` and its parent folder, and applies the
    /// migrations.
    ///
    /// # Errors
    /// [`DbError::Connect`] when the folder or file cannot be created or opened; [`DbError::Migrate`] when
    /// the migrations fail (for example a migration changed after it was applied).
    pub async fn open(path: &Path) -> Result<Self, DbError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| DbError::Connect(format!("cannot create folder {}: {e}", parent.display())))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| {
                // A file path carries no secret, and sqlx does not put SQL into open errors.
                DbError::Connect(format!("{}: {e}", path.display()))
            })?;
        MIGRATOR.run(&pool).await.map_err(|e| DbError::Migrate(migrate_reason(&e)))?;
        Ok(Self { pool })
    }

    /// The pool, for later adapters that keep their tables in the same file.
    #[must_use]
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

#[async_trait]
impl JobStore for SqliteDb {
    async fn create(&self, job: &Job) -> Result<(), JobStoreError> {
        sqlx::query(
            "INSERT INTO jobs (id, kind, state, progress, result, error, owner, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .bind(job.id.hyphenated().to_string())
        .bind(&job.kind)
        .bind(job.state.as_str())
        .bind(job.progress.to_string())
        .bind(job.result.as_ref().map(ToString::to_string))
        .bind(job.error.as_deref())
        .bind(job.owner.as_deref())
        .bind(format_timestamp(job.created_at))
        .bind(format_timestamp(job.updated_at))
        .execute(&self.pool)
        .await
        .map_err(|e| unavailable("sqlite", "create", &e))?;
        Ok(())
    }

    async fn get(&self, id: Uuid) -> Result<Option<Job>, JobStoreError> {
        let row = sqlx::query(concat!("SELECT ", job_columns!(), " FROM jobs WHERE id = ?1"))
            .bind(id.hyphenated().to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unavailable("sqlite", "get", &e))?;
        Ok(row.as_ref().map(job_from_row).transpose()?)
    }

    async fn update(&self, id: Uuid, update: JobUpdate) -> Result<Job, JobStoreError> {
        // One `UPDATE … RETURNING` statement is its own transaction: the `Some` fields are applied (COALESCE
        // keeps the rest) and the row is read back atomically, so concurrent updates of different fields
        // cannot overwrite each other the way a read-modify-write would.
        let row = sqlx::query(concat!(
            "UPDATE jobs SET state = COALESCE(?2, state), progress = COALESCE(?3, progress), \
             result = COALESCE(?4, result), error = COALESCE(?5, error), updated_at = ?6 \
             WHERE id = ?1 RETURNING ",
            job_columns!()
        ))
        .bind(id.hyphenated().to_string())
        .bind(update.state.map(JobState::as_str))
        .bind(update.progress.as_ref().map(ToString::to_string))
        .bind(update.result.as_ref().map(ToString::to_string))
        .bind(update.error.as_deref())
        .bind(format_timestamp(OffsetDateTime::now_utc()))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| unavailable("sqlite", "update", &e))?;
        match row {
            Some(row) => Ok(job_from_row(&row)?),
            None => Err(JobStoreError::NotFound(id)),
        }
    }

    async fn health(&self) -> Result<(), Unavailable> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(|e| unavailable("sqlite", "health", &e))?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn close(&self) {
        // Checkpoints the WAL and releases the file.
        self.pool.close().await;
    }
}

/// The stored spelling of a timestamp (see the file header).
fn format_timestamp(at: OffsetDateTime) -> String {
    at.to_offset(UtcOffset::UTC)
        .format(TIMESTAMP_FORMAT)
        .expect("an OffsetDateTime has every component the timestamp format uses")
}

/// Reads a job from a row selected with [`job_columns!`].
fn job_from_row(row: &SqliteRow) -> Result<Job, Unavailable> {
    let column = |name: &'static str| -> Result<Option<String>, Unavailable> {
        row.try_get::<Option<String>, _>(name).map_err(|e| unavailable("sqlite", "read", &e))
    };
    let required = |name: &'static str| -> Result<String, Unavailable> { column(name)?.ok_or_else(|| corrupt(name)) };
    let timestamp = |name: &'static str| -> Result<OffsetDateTime, Unavailable> {
        OffsetDateTime::parse(&required(name)?, &Rfc3339).map_err(|_| corrupt(name))
    };
    let json = |text: String, name: &'static str| -> Result<serde_json::Value, Unavailable> {
        serde_json::from_str(&text).map_err(|_| corrupt(name))
    };
    Ok(Job {
        id: Uuid::parse_str(&required("id")?).map_err(|_| corrupt("id"))?,
        kind: required("kind")?,
        state: JobState::parse(&required("state")?).ok_or_else(|| corrupt("state"))?,
        progress: json(required("progress")?, "progress")?,
        result: column("result")?.map(|t| json(t, "result")).transpose()?,
        error: column("error")?,
        owner: column("owner")?,
        created_at: timestamp("created_at")?,
        updated_at: timestamp("updated_at")?,
    })
}

/// A stored value this version cannot read (hand-edited file, newer schema).
fn corrupt(column: &'static str) -> Unavailable {
    tracing::debug!(backend = "sqlite", column, "stored job has an unreadable column");
    Unavailable::new(format!("stored job has an unreadable {column}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Timestamps as the store keeps them (microseconds), for comparing a created job with its stored copy.
    fn stored(mut job: Job) -> Job {
        let truncate = |t: OffsetDateTime| {
            t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000).expect("a truncated nanosecond is in range")
        };
        job.created_at = truncate(job.created_at);
        job.updated_at = truncate(job.updated_at);
        job
    }

    /// A created job reads back unchanged, and an update replaces exactly its `Some` fields (JSON included)
    /// and bumps `updated_at`.
    #[tokio::test]
    async fn create_get_update_round_trip_keeps_json_and_applies_only_some_fields() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = SqliteDb::open(&dir.path().join("data/gantry.db")).await.expect("open");
        let job = Job::new("sessions.revoke_all", Some("user-1".to_owned()));

        db.create(&job).await.expect("create");
        let fetched = db.get(job.id).await.expect("get").expect("job exists");
        assert_eq!(fetched, stored(job.clone()));

        let progress = json!({"step": "revoking", "done": 3, "of": [1, 2.5, null]});
        let running = db
            .update(
                job.id,
                JobUpdate { state: Some(JobState::Running), progress: Some(progress.clone()), ..JobUpdate::default() },
            )
            .await
            .expect("update to running");
        assert_eq!(running.state, JobState::Running);
        assert_eq!(running.progress, progress);
        assert_eq!(running.result, None);
        assert!(running.updated_at >= fetched.updated_at);

        let result = json!({"revoked": 42, "note": "naïve ✓"});
        let done = db
            .update(
                job.id,
                JobUpdate { state: Some(JobState::Succeeded), result: Some(result.clone()), ..JobUpdate::default() },
            )
            .await
            .expect("update to succeeded");
        assert_eq!(done.state, JobState::Succeeded);
        assert_eq!(done.progress, progress, "progress was not part of the update");
        assert_eq!(done.result, Some(result));
        assert_eq!(done.error, None);
        assert_eq!(done.kind, job.kind);
        assert_eq!(done.owner, job.owner);
        assert_eq!(done.created_at, fetched.created_at);
        assert_eq!(db.get(job.id).await.expect("get").as_ref(), Some(&done));
        assert!(db.get(Uuid::now_v7()).await.expect("get").is_none());
        db.health().await.expect("healthy");
        assert_eq!(db.backend(), "sqlite");
    }

    /// Updating an id that was never created is `NotFound`, and creates nothing.
    #[tokio::test]
    async fn update_of_unknown_id_is_not_found() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = SqliteDb::open(&dir.path().join("gantry.db")).await.expect("open");
        let id = Uuid::now_v7();

        let err = db
            .update(id, JobUpdate { state: Some(JobState::Failed), ..JobUpdate::default() })
            .await
            .expect_err("unknown id");

        assert!(matches!(err, JobStoreError::NotFound(missing) if missing == id));
        assert!(db.get(id).await.expect("get").is_none());
    }

    /// A job written before a restart (pool closed, file reopened) is still there afterwards.
    #[tokio::test]
    async fn jobs_survive_reopening_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("gantry.db");
        let job = Job::new("upload", None);
        {
            let db = SqliteDb::open(&path).await.expect("first open");
            db.create(&job).await.expect("create");
            db.update(
                job.id,
                JobUpdate {
                    error: Some("disk full".to_owned()),
                    state: Some(JobState::Failed),
                    ..JobUpdate::default()
                },
            )
            .await
            .expect("update");
            db.pool().close().await;
        }

        let reopened = SqliteDb::open(&path).await.expect("second open");
        let fetched = reopened.get(job.id).await.expect("get").expect("job survived");

        assert_eq!(fetched.state, JobState::Failed);
        assert_eq!(fetched.error.as_deref(), Some("disk full"));
        assert_eq!(fetched.owner, None);
        assert_eq!(fetched.created_at, stored(job).created_at);
    }

    /// Opening an already-migrated file applies nothing twice: each migration is recorded once and succeeded.
    #[tokio::test]
    async fn migrations_are_idempotent_on_reopen() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("gantry.db");
        SqliteDb::open(&path).await.expect("first open").pool().close().await;

        let db = SqliteDb::open(&path).await.expect("second open");
        let applied: Vec<(i64, bool)> =
            sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
                .fetch_all(db.pool())
                .await
                .expect("read migration table");

        let expected: Vec<(i64, bool)> = MIGRATOR.iter().map(|m| (m.version, true)).collect();
        assert_eq!(applied, expected);
        db.health().await.expect("healthy");
    }
}
