//! The SQLite database of the local profile: opening and migrating the file, the one pool every port shares, and
//! how SQLite stores the values the shared port code binds and reads (`sql/values.rs`, `sql/rows.rs`). The ports
//! themselves are in `sqlite/` (one file per port, holding only SQLite's own SQL words) and `sql/` (their logic).
//!
//! Storage format (see `migrations/sqlite/`): ids as hyphenated UUID text, JSON as text, timestamps as RFC 3339
//! UTC text with exactly six fractional digits (so text order is time order and the precision matches
//! Postgres), and the session port's instants as INTEGER milliseconds, as the port carries them.

pub mod accounts;
pub mod catalog;
pub mod jobs;
pub mod rotations;
pub mod sessions;
pub mod uploads;

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::query::Query;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
};
use sqlx::{Row, Sqlite, Transaction};
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;

pub use super::sql::errors::DbError;
use super::sql::errors::migrate_reason;
use super::sql::exec::{SqlDb, impl_exec};
use super::sql::rows::{SqlRow, Unreadable};
use super::sql::values::Value;
use super::sql::{Database, SqlPorts};

/// SQLite allows one writer at a time; a few readers beside it are all a small pool buys.
const MAX_CONNECTIONS: u32 = 4;
/// How long a caller waits for a pooled connection before the store reports itself unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a statement waits for another connection's write lock before failing with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The stored timestamp format: fixed width, UTC, microseconds.
const TIMESTAMP_FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// The SQLite migrations, embedded at compile time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// The SQLite file: a handle to its pool. Cheap to clone; every port handle from [`SqliteDb::ports`] holds
/// one, and [`SqliteDb::close`] closes the pool for all of them.
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
            crate::private_files::create_dir_all(parent)
                .await
                .map_err(|e| DbError::Connect(format!("cannot create folder {}: {e}", parent.display())))?;
        }
        // Created owner-only before SQLite opens it: SQLite gives its WAL and shared-memory files the
        // database file's permissions, so this covers all three. An existing file is left as it is.
        crate::private_files::file_options()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .await
            .map_err(|e| DbError::Connect(format!("cannot create {}: {e}", path.display())))?;
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

    /// One handle per port, all on this file.
    #[must_use]
    pub fn ports(&self) -> SqlPorts {
        SqlPorts::new(self)
    }

    /// Closes the pool (checkpoints the WAL and releases the file). Every port handle stops working.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The pool, for later adapters that keep their tables in the same file.
    #[must_use]
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

#[async_trait]
impl Database for SqliteDb {
    async fn close(&self) {
        SqliteDb::close(self).await;
    }
}

#[async_trait]
impl SqlDb for SqliteDb {
    type Row = SqliteRow;
    type Pool = SqlitePool;
    type Tx = Transaction<'static, Sqlite>;

    fn pool(&self) -> SqlitePool {
        self.pool.clone()
    }

    async fn begin(&self) -> Result<Self::Tx, sqlx::Error> {
        // IMMEDIATE takes the write lock before the first statement (waiting up to the busy timeout), and a
        // read lock is never upgraded (which SQLite refuses with SQLITE_BUSY instead of waiting).
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    async fn commit(tx: Self::Tx) -> Result<(), sqlx::Error> {
        tx.commit().await
    }
}

impl_exec!(SqlitePool, SqliteRow, bind, |s| &*s);
impl_exec!(Transaction<'static, Sqlite>, SqliteRow, bind, |s| &mut **s);

/// Binds `args` in SQLite's storage format (see the file header).
fn bind(
    mut query: Query<'static, Sqlite, SqliteArguments>,
    args: Vec<Value>,
) -> Query<'static, Sqlite, SqliteArguments> {
    for arg in args {
        query = match arg {
            Value::Uuid(v) => query.bind(v.map(|id| id.hyphenated().to_string())),
            Value::Text(v) | Value::Json(v) => query.bind(v),
            Value::Int(v) => query.bind(v),
            Value::Bool(v) => query.bind(v),
            Value::Time(v) => query.bind(v.map(format_timestamp)),
            Value::Uuids(ids) => {
                // One JSON array for `json_each` (sqlx takes no runtime-built `IN (?, ?, …)` list).
                let ids: Vec<String> = ids.iter().map(|id| id.hyphenated().to_string()).collect();
                query.bind(serde_json::to_string(&ids).expect("a list of strings always serialises"))
            }
        };
    }
    query
}

/// The stored spelling of a timestamp (see the file header).
fn format_timestamp(at: OffsetDateTime) -> String {
    at.to_offset(UtcOffset::UTC)
        .format(TIMESTAMP_FORMAT)
        .expect("an OffsetDateTime has every component the timestamp format uses")
}

/// Reads text from `column` and parses it with `parse`.
fn parsed<T>(
    row: &SqliteRow,
    column: &'static str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, Unreadable> {
    row.try_get::<Option<String>, _>(column)?.map(|text| parse(&text).ok_or(Unreadable::Value)).transpose()
}

impl SqlRow for SqliteRow {
    const BACKEND: &'static str = "sqlite";

    fn uuid(&self, column: &'static str) -> Result<Option<Uuid>, Unreadable> {
        parsed(self, column, |text| Uuid::parse_str(text).ok())
    }

    fn text(&self, column: &'static str) -> Result<Option<String>, Unreadable> {
        Ok(self.try_get(column)?)
    }

    fn int(&self, column: &'static str) -> Result<Option<i64>, Unreadable> {
        Ok(self.try_get(column)?)
    }

    fn boolean(&self, column: &'static str) -> Result<Option<bool>, Unreadable> {
        Ok(self.try_get(column)?)
    }

    fn time(&self, column: &'static str) -> Result<Option<OffsetDateTime>, Unreadable> {
        parsed(self, column, |text| OffsetDateTime::parse(text, &Rfc3339).ok())
    }

    fn json(&self, column: &'static str) -> Result<Option<serde_json::Value>, Unreadable> {
        parsed(self, column, |text| serde_json::from_str(text).ok())
    }
}

#[cfg(test)]
mod tests {
    //! What only a file can do: survive closing and reopening. The port contracts are in
    //! `tests/conformance/`.

    use std::collections::HashMap;

    use gantry_actors::ports::jobs::{Job, JobState, JobUpdate};
    use uuid::Uuid;

    use super::{MIGRATOR, SqliteDb};

    /// A job written before a restart (pool closed, file reopened) is still there afterwards.
    #[tokio::test]
    async fn jobs_survive_reopening_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("gantry.db");
        let job = Job::new("upload", None);
        {
            let db = SqliteDb::open(&path).await.expect("first open");
            let jobs = db.ports().jobs;
            jobs.create(&job).await.expect("create");
            jobs.update(
                job.id,
                JobUpdate {
                    error: Some("disk full".to_owned()),
                    state: Some(JobState::Discarded),
                    ..JobUpdate::default()
                },
            )
            .await
            .expect("update");
            db.close().await;
        }

        let reopened = SqliteDb::open(&path).await.expect("second open");
        let fetched = reopened.ports().jobs.get(job.id).await.expect("get").expect("job survived");

        assert_eq!(fetched.state, JobState::Discarded);
        assert_eq!(fetched.error.as_deref(), Some("disk full"));
        assert_eq!(fetched.owner, None);
        let micros = |t: time::OffsetDateTime| t.unix_timestamp_nanos() / 1_000;
        assert_eq!(micros(fetched.created_at), micros(job.created_at));
    }

    /// Opening an already-migrated file applies nothing twice: each migration is recorded once and succeeded.
    #[tokio::test]
    async fn migrations_are_idempotent_on_reopen() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("gantry.db");
        SqliteDb::open(&path).await.expect("first open").close().await;

        let db = SqliteDb::open(&path).await.expect("second open");
        let applied: Vec<(i64, bool)> =
            sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
                .fetch_all(db.pool())
                .await
                .expect("read migration table");

        let expected: Vec<(i64, bool)> = MIGRATOR.iter().map(|m| (m.version, true)).collect();
        assert_eq!(applied, expected);
        db.ports().jobs.health().await.expect("healthy");
    }

    /// Raising an epoch never lowers it (a lower value returns the stored higher one), global and per-user
    /// epochs are separate, and all of them survive reopening the file.
    #[tokio::test]
    async fn raise_epoch_is_monotonic_and_survives_reopen() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("gantry.db");
        let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
        {
            let db = SqliteDb::open(&path).await.expect("open");
            let accounts = db.ports().accounts;
            assert_eq!(accounts.epochs().await.expect("epochs"), Default::default());

            assert_eq!(accounts.raise_epoch(None, 2_000).await.expect("raise"), 2_000);
            assert_eq!(
                accounts.raise_epoch(None, 1_000).await.expect("lower"),
                2_000,
                "a lower value keeps the higher"
            );
            assert_eq!(accounts.raise_epoch(Some(alice), 5_000).await.expect("raise"), 5_000);
            assert_eq!(accounts.raise_epoch(Some(alice), 7_000).await.expect("raise"), 7_000);
            assert_eq!(accounts.raise_epoch(Some(bob), 100).await.expect("raise"), 100);
            db.close().await;
        }

        let db = SqliteDb::open(&path).await.expect("reopen");
        let accounts = db.ports().accounts;
        let epochs = accounts.epochs().await.expect("epochs");

        assert_eq!(epochs.global_ms, 2_000);
        assert_eq!(epochs.users, HashMap::from([(alice, 7_000), (bob, 100)]));
        assert_eq!(accounts.raise_epoch(Some(alice), 6_999).await.expect("lower"), 7_000);
    }
}
