//! `JobStore`, `AccountStore`, `SessionStore`, `UploadStore` and `CatalogStore` on one SQLite file (the local
//! profile), plus what both
//! database adapters share: the start-up error [`DbError`], the mapping of `sqlx` errors to safe
//! [`Unavailable`] reasons, and the spelling of stored enums.
//!
//! Storage format (see `migrations/sqlite/`): ids as hyphenated UUID text, JSON as text, timestamps as RFC 3339
//! UTC text with exactly six fractional digits (so text order is time order and the precision matches
//! Postgres), and the session port's instants as INTEGER milliseconds, as the port carries them.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use gantry_actors::catalog::OptionKind;
use gantry_actors::ports::accounts::{
    AccountStore, AccountStoreError, Epochs, RevocationNotice, RevocationScope, User,
};
use gantry_actors::ports::catalog::{CatalogOption, CatalogStore, Created};
use gantry_actors::ports::jobs::{Job, JobState, JobStore, JobStoreError, JobUpdate};
use gantry_actors::ports::rotations::{Fleet, RotationRecord, RotationStore};
// The module, not the trait: `SessionStore` shares `get`/`health`/`backend` with `JobStore`, and importing
// both traits would make those calls ambiguous wherever this module's items are glob-imported.
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::sessions::{self, Rotation, SessionRecord};
// The upload store's method names are its own, so its trait can be imported without ambiguity.
use gantry_actors::ports::uploads::{UploadRecord, UploadStatus, UploadStore};
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

/// The columns [`user_from_row`] reads (static SQL, see [`job_columns!`]).
macro_rules! user_columns {
    () => {
        "id, email, password_hash, created_at"
    };
}

/// The columns [`notice_from_row`] reads.
macro_rules! notice_columns {
    () => {
        "id, scope, user_id, reason, requested_by, not_before_ms, active_sessions, created_at"
    };
}

/// The columns [`session_from_row`] reads.
macro_rules! session_columns {
    () => {
        "id, user_id, created_at_ms, last_used_at_ms, refresh_expires_at_ms, absolute_expires_at_ms, \
         user_agent, address, refresh_hash, generation, last_rotation, revoked_at_ms"
    };
}

/// The columns [`upload_from_row`] reads.
macro_rules! upload_columns {
    () => {
        "id, owner, object_key, filename, content_type, size, sha256, status, error, created_at"
    };
}

/// The columns [`option_from_row`] reads.
macro_rules! option_columns {
    () => {
        "id, kind, parent_id, name, name_key, search_key, has_engine, created_at"
    };
}

/// The key of the global row in `session_epochs` (see `migrations/*/0002_accounts.sql`): the nil UUID, which
/// no user id (v7) can be. A primary key cannot be NULL, and the atomic upsert needs a key to conflict on.
pub(crate) const GLOBAL_EPOCH_KEY: Uuid = Uuid::nil();

/// SQLite's extended result code for a `UNIQUE` constraint violation (`SQLITE_CONSTRAINT_UNIQUE`); a primary
/// key violation has its own code (1555), so this can only be the email.
const SQLITE_CONSTRAINT_UNIQUE: &str = "2067";

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

/// The database's own code for `err` (SQLSTATE for Postgres, the extended result code for SQLite), if the
/// database refused the statement.
pub(crate) fn database_code(err: &sqlx::Error) -> Option<String> {
    err.as_database_error().and_then(|db| db.code()).map(|code| code.into_owned())
}

/// The stored spelling of a revocation scope (the port's serde spelling; the migrations check it).
pub(crate) fn scope_str(scope: RevocationScope) -> &'static str {
    match scope {
        RevocationScope::All => "all",
        RevocationScope::User => "user",
    }
}

/// Reads a stored revocation scope.
pub(crate) fn parse_scope(stored: &str) -> Option<RevocationScope> {
    match stored {
        "all" => Some(RevocationScope::All),
        "user" => Some(RevocationScope::User),
        _ => None,
    }
}

/// A count or byte size as stored (a BIGINT): values beyond `i64::MAX` cannot happen, and saturate.
pub(crate) fn count_to_db(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// `JobStore`, `AccountStore`, `SessionStore`, `UploadStore` and `CatalogStore` on a SQLite file.
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

#[async_trait]
impl AccountStore for SqliteDb {
    async fn create_user(&self, user: &User) -> Result<(), AccountStoreError> {
        let inserted = sqlx::query("INSERT INTO users (id, email, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)")
            .bind(user.id.hyphenated().to_string())
            .bind(&user.email)
            .bind(&user.password_hash)
            .bind(format_timestamp(user.created_at))
            .execute(&self.pool)
            .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if database_code(&e).as_deref() == Some(SQLITE_CONSTRAINT_UNIQUE) => {
                Err(AccountStoreError::EmailTaken)
            }
            Err(e) => Err(unavailable("sqlite", "create_user", &e).into()),
        }
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, AccountStoreError> {
        let row = sqlx::query(concat!("SELECT ", user_columns!(), " FROM users WHERE email = ?1"))
            .bind(email)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unavailable("sqlite", "user_by_email", &e))?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn user_by_id(&self, id: Uuid) -> Result<Option<User>, AccountStoreError> {
        let row = sqlx::query(concat!("SELECT ", user_columns!(), " FROM users WHERE id = ?1"))
            .bind(id.hyphenated().to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unavailable("sqlite", "user_by_id", &e))?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn delete_user(&self, id: Uuid) -> Result<(), AccountStoreError> {
        // The user's epoch row stays (see the migration): it costs nothing and keeps old tokens rejected.
        sqlx::query("DELETE FROM users WHERE id = ?1")
            .bind(id.hyphenated().to_string())
            .execute(&self.pool)
            .await
            .map_err(|e| unavailable("sqlite", "delete_user", &e))?;
        Ok(())
    }

    async fn raise_epoch(&self, user: Option<Uuid>, not_before_ms: i64) -> Result<i64, AccountStoreError> {
        // One statement, so one transaction: two concurrent raises cannot interleave a read and a write, and
        // MAX keeps whichever is higher (in `DO UPDATE`, the bare column is the stored row).
        let stored: i64 = sqlx::query_scalar(
            "INSERT INTO session_epochs (user_id, not_before_ms) VALUES (?1, ?2) \
             ON CONFLICT (user_id) DO UPDATE SET not_before_ms = MAX(not_before_ms, excluded.not_before_ms) \
             RETURNING not_before_ms",
        )
        .bind(user.unwrap_or(GLOBAL_EPOCH_KEY).hyphenated().to_string())
        .bind(not_before_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| unavailable("sqlite", "raise_epoch", &e))?;
        Ok(stored)
    }

    async fn epochs(&self) -> Result<Epochs, AccountStoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT user_id, not_before_ms FROM session_epochs")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| unavailable("sqlite", "epochs", &e))?;
        let mut epochs = Epochs { global_ms: 0, users: HashMap::with_capacity(rows.len()) };
        for (key, not_before_ms) in rows {
            let key = Uuid::parse_str(&key).map_err(|_| corrupt("epoch", "user_id"))?;
            if key == GLOBAL_EPOCH_KEY {
                epochs.global_ms = not_before_ms;
            } else {
                epochs.users.insert(key, not_before_ms);
            }
        }
        Ok(epochs)
    }

    async fn record_revocation(&self, notice: &RevocationNotice) -> Result<(), AccountStoreError> {
        sqlx::query(
            "INSERT INTO session_revocations \
             (id, scope, user_id, reason, requested_by, not_before_ms, active_sessions, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .bind(notice.id.hyphenated().to_string())
        .bind(scope_str(notice.scope))
        .bind(notice.user_id.map(|id| id.hyphenated().to_string()))
        .bind(&notice.reason)
        .bind(&notice.requested_by)
        .bind(notice.not_before_ms)
        .bind(notice.active_sessions.map(count_to_db))
        .bind(format_timestamp(notice.created_at))
        .execute(&self.pool)
        .await
        .map_err(|e| unavailable("sqlite", "record_revocation", &e))?;
        Ok(())
    }

    async fn set_revocation_count(&self, id: Uuid, active_sessions: u64) -> Result<(), AccountStoreError> {
        sqlx::query("UPDATE session_revocations SET active_sessions = ?2 WHERE id = ?1")
            .bind(id.hyphenated().to_string())
            .bind(count_to_db(active_sessions))
            .execute(&self.pool)
            .await
            .map_err(|e| unavailable("sqlite", "set_revocation_count", &e))?;
        Ok(())
    }

    async fn revocations(&self, limit: u32) -> Result<Vec<RevocationNotice>, AccountStoreError> {
        // Ties on the timestamp fall back to the id, whose v7 prefix is also the creation time.
        let rows = sqlx::query(concat!(
            "SELECT ",
            notice_columns!(),
            " FROM session_revocations ORDER BY created_at DESC, id DESC LIMIT ?1"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| unavailable("sqlite", "revocations", &e))?;
        Ok(rows.iter().map(notice_from_row).collect::<Result<_, _>>()?)
    }
}

/// Sessions on SQLite. A session counts as expired once either its refresh token or its absolute lifetime
/// has run out (nothing can use it any more); rows stay until their absolute expiry, like the Redis keys, and
/// `count_active` deletes those past it.
#[async_trait]
impl sessions::SessionStore for SqliteDb {
    async fn insert(&self, session: &SessionRecord) -> Result<(), Unavailable> {
        sqlx::query(concat!(
            "INSERT INTO sessions (",
            session_columns!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        ))
        .bind(session.id.hyphenated().to_string())
        .bind(session.user_id.hyphenated().to_string())
        .bind(session.created_at_ms)
        .bind(session.last_used_at_ms)
        .bind(session.refresh_expires_at_ms)
        .bind(session.absolute_expires_at_ms)
        .bind(session.user_agent.as_deref())
        .bind(session.address.as_deref())
        .bind(&session.refresh_hash)
        .bind(i64::from(session.generation))
        .bind(rotation_to_db(session.last_rotation.as_ref()))
        .bind(session.revoked_at_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| session_unavailable("insert", &e))?;
        Ok(())
    }

    async fn get(&self, id: Uuid) -> Result<Option<SessionRecord>, Unavailable> {
        let row = sqlx::query(concat!("SELECT ", session_columns!(), " FROM sessions WHERE id = ?1"))
            .bind(id.hyphenated().to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| session_unavailable("get", &e))?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn replace_if(&self, session: &SessionRecord, expected_generation: u32) -> Result<bool, Unavailable> {
        // The WHERE clause is the compare, the UPDATE the swap, in one statement. A revoked row is only
        // replaced by a revoked record: a rotation that read the session before a revocation must not undo it.
        let replaced = sqlx::query(
            "UPDATE sessions SET user_id = ?2, created_at_ms = ?3, last_used_at_ms = ?4, \
             refresh_expires_at_ms = ?5, absolute_expires_at_ms = ?6, user_agent = ?7, address = ?8, \
             refresh_hash = ?9, generation = ?10, last_rotation = ?11, revoked_at_ms = ?12 \
             WHERE id = ?1 AND generation = ?13 AND (revoked_at_ms IS NULL OR ?12 IS NOT NULL)",
        )
        .bind(session.id.hyphenated().to_string())
        .bind(session.user_id.hyphenated().to_string())
        .bind(session.created_at_ms)
        .bind(session.last_used_at_ms)
        .bind(session.refresh_expires_at_ms)
        .bind(session.absolute_expires_at_ms)
        .bind(session.user_agent.as_deref())
        .bind(session.address.as_deref())
        .bind(&session.refresh_hash)
        .bind(i64::from(session.generation))
        .bind(rotation_to_db(session.last_rotation.as_ref()))
        .bind(session.revoked_at_ms)
        .bind(i64::from(expected_generation))
        .execute(&self.pool)
        .await
        .map_err(|e| session_unavailable("replace_if", &e))?;
        Ok(replaced.rows_affected() == 1)
    }

    async fn list_for_user(&self, user_id: Uuid, now_ms: i64) -> Result<Vec<SessionRecord>, Unavailable> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE user_id = ?1 AND revoked_at_ms IS NULL \
              AND refresh_expires_at_ms > ?2 AND absolute_expires_at_ms > ?2 ORDER BY created_at_ms, id"
        ))
        .bind(user_id.hyphenated().to_string())
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| session_unavailable("list_for_user", &e))?;
        rows.iter().map(session_from_row).collect()
    }

    async fn revoke(&self, ids: &[Uuid], at_ms: i64) -> Result<(), Unavailable> {
        if ids.is_empty() {
            return Ok(());
        }
        // The ids travel as one JSON array (sqlx takes no runtime-built `IN (?, ?, …)` list). Sessions already
        // revoked keep their first revocation time.
        let ids: Vec<String> = ids.iter().map(|id| id.hyphenated().to_string()).collect();
        let ids = serde_json::to_string(&ids).expect("a list of strings always serialises");
        sqlx::query(
            "UPDATE sessions SET revoked_at_ms = ?1 \
             WHERE revoked_at_ms IS NULL AND id IN (SELECT value FROM json_each(?2))",
        )
        .bind(at_ms)
        .bind(ids)
        .execute(&self.pool)
        .await
        .map_err(|e| session_unavailable("revoke", &e))?;
        Ok(())
    }

    async fn revoked_since(&self, since_ms: i64) -> Result<Vec<Uuid>, Unavailable> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM sessions WHERE revoked_at_ms >= ?1 ORDER BY revoked_at_ms, id")
                .bind(since_ms)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| session_unavailable("revoked_since", &e))?;
        ids.iter().map(|id| Uuid::parse_str(id).map_err(|_| corrupt("session", "id"))).collect()
    }

    async fn count_active(&self, now_ms: i64) -> Result<u64, Unavailable> {
        // Rows past their absolute expiry are useless (Redis drops them by itself): prune them here, on the
        // periodic gauge path, so the table does not grow without bound. The index on
        // absolute_expires_at_ms keeps this O(log n + pruned).
        sqlx::query("DELETE FROM sessions WHERE absolute_expires_at_ms <= ?1")
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(|e| session_unavailable("count_active", &e))?;
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sessions WHERE revoked_at_ms IS NULL \
             AND refresh_expires_at_ms > ?1 AND absolute_expires_at_ms > ?1",
        )
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| session_unavailable("count_active", &e))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn health(&self) -> Result<(), Unavailable> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(|e| session_unavailable("health", &e))?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

/// Upload metadata on SQLite.
#[async_trait]
impl UploadStore for SqliteDb {
    async fn create_upload(&self, upload: &UploadRecord) -> Result<(), Unavailable> {
        sqlx::query(concat!(
            "INSERT INTO uploads (",
            upload_columns!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ))
        .bind(upload.id.hyphenated().to_string())
        .bind(&upload.owner)
        .bind(&upload.object_key)
        .bind(upload.filename.as_deref())
        .bind(&upload.content_type)
        .bind(count_to_db(upload.size))
        .bind(&upload.sha256)
        .bind(upload.status.as_str())
        .bind(upload.error.as_deref())
        .bind(format_timestamp(upload.created_at))
        .execute(&self.pool)
        .await
        .map_err(|e| unavailable("sqlite", "create_upload", &e))?;
        Ok(())
    }

    async fn update_upload(&self, upload: &UploadRecord) -> Result<(), Unavailable> {
        // Only what changes during an upload's life: the id, owner, object key and start time are fixed when
        // it is created (the owner decides access, so an update must not move the upload to someone else).
        // An unknown id updates nothing, as the port has no `NotFound` to report.
        sqlx::query(
            "UPDATE uploads SET filename = ?2, content_type = ?3, size = ?4, sha256 = ?5, status = ?6, error = ?7 \
             WHERE id = ?1",
        )
        .bind(upload.id.hyphenated().to_string())
        .bind(upload.filename.as_deref())
        .bind(&upload.content_type)
        .bind(count_to_db(upload.size))
        .bind(&upload.sha256)
        .bind(upload.status.as_str())
        .bind(upload.error.as_deref())
        .execute(&self.pool)
        .await
        .map_err(|e| unavailable("sqlite", "update_upload", &e))?;
        Ok(())
    }

    async fn get_upload(&self, id: Uuid) -> Result<Option<UploadRecord>, Unavailable> {
        let row = sqlx::query(concat!("SELECT ", upload_columns!(), " FROM uploads WHERE id = ?1"))
            .bind(id.hyphenated().to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unavailable("sqlite", "get_upload", &e))?;
        row.as_ref().map(upload_from_row).transpose()
    }

    async fn delete_upload(&self, id: Uuid) -> Result<(), Unavailable> {
        sqlx::query("DELETE FROM uploads WHERE id = ?1")
            .bind(id.hyphenated().to_string())
            .execute(&self.pool)
            .await
            .map_err(|e| unavailable("sqlite", "delete_upload", &e))?;
        Ok(())
    }

    async fn count_uploads(&self, owner: &str) -> Result<u64, Unavailable> {
        // The owner is the leading column of `uploads_owner_created_at_idx`, so this reads only that owner's
        // rows. The statuses that count are listed (rather than `<> 'failed'`) so that a status added later stays
        // out of the quota until someone decides otherwise.
        let count: i64 =
            sqlx::query_scalar("SELECT count(*) FROM uploads WHERE owner = ?1 AND status IN ('receiving', 'stored')")
                .bind(owner)
                .fetch_one(&self.pool)
                .await
                .map_err(|e| unavailable("sqlite", "count_uploads", &e))?;
        // `count(*)` is never negative.
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn stale_uploads(
        &self,
        started_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<UploadRecord>, Unavailable> {
        // The status is a literal, not a bound parameter: SQLite uses the partial index of
        // `migrations/sqlite/0005_uploads_stale.sql` only when the query spells its predicate. The fixed-width
        // timestamp text makes `<` and `ORDER BY` time order; ties fall back to the id (v7, also time-ordered).
        let rows = sqlx::query(concat!(
            "SELECT ",
            upload_columns!(),
            " FROM uploads WHERE status = 'receiving' AND created_at < ?1 ORDER BY created_at, id LIMIT ?2"
        ))
        .bind(format_timestamp(started_before))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| unavailable("sqlite", "stale_uploads", &e))?;
        rows.iter().map(upload_from_row).collect()
    }
}

/// The listing-form catalog on SQLite.
#[async_trait]
impl CatalogStore for SqliteDb {
    async fn list_options(&self, kind: OptionKind, parent: Option<Uuid>) -> Result<Vec<CatalogOption>, Unavailable> {
        // Two statements rather than one with `parent_id IS ?2`, so that each spells a plain predicate on the
        // leading columns of `catalog_options_listing_idx`, whose third column gives the order.
        let rows = match parent {
            None => {
                sqlx::query(concat!(
                    "SELECT ",
                    option_columns!(),
                    " FROM catalog_options WHERE kind = ?1 AND parent_id IS NULL ORDER BY search_key, id"
                ))
                .bind(kind.as_str())
                .fetch_all(&self.pool)
                .await
            }
            Some(parent) => {
                sqlx::query(concat!(
                    "SELECT ",
                    option_columns!(),
                    " FROM catalog_options WHERE kind = ?1 AND parent_id = ?2 ORDER BY search_key, id"
                ))
                .bind(kind.as_str())
                .bind(parent.hyphenated().to_string())
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(|e| unavailable("sqlite", "list_options", &e))?;
        rows.iter().map(option_from_row).collect()
    }

    async fn get_option(&self, id: Uuid) -> Result<Option<CatalogOption>, Unavailable> {
        let row = sqlx::query(concat!("SELECT ", option_columns!(), " FROM catalog_options WHERE id = ?1"))
            .bind(id.hyphenated().to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unavailable("sqlite", "get_option", &e))?;
        row.as_ref().map(option_from_row).transpose()
    }

    async fn create_option(&self, option: &CatalogOption) -> Result<Created, Unavailable> {
        let failed = |e: sqlx::Error| unavailable("sqlite", "create_option", &e);
        let parent_id = option.parent_id.map(|id| id.hyphenated().to_string());
        // IMMEDIATE takes the write lock before the first statement (waiting up to the busy timeout), so no
        // other writer commits between the insert and the version bump or the read-back of the existing row,
        // and a read lock is never upgraded (which SQLite refuses with SQLITE_BUSY instead of waiting).
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(failed)?;
        // The conflict target is the expression list of `catalog_options_name_key_idx`: only a duplicate name
        // is "already there"; a duplicate id still fails loudly.
        let inserted = sqlx::query(concat!(
            "INSERT INTO catalog_options (",
            option_columns!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (kind, ifnull(parent_id, ''), name_key) DO NOTHING RETURNING ",
            option_columns!()
        ))
        .bind(option.id.hyphenated().to_string())
        .bind(option.kind.as_str())
        .bind(parent_id.as_deref())
        .bind(&option.name)
        .bind(&option.name_key)
        .bind(&option.search_key)
        .bind(option.has_engine)
        .bind(format_timestamp(option.created_at))
        .fetch_optional(&mut *tx)
        .await
        .map_err(failed)?;
        let (row, created, version) = match inserted {
            Some(row) => {
                let version: i64 =
                    sqlx::query_scalar("UPDATE catalog_meta SET version = version + 1 RETURNING version")
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(failed)?;
                (row, true, version)
            }
            None => {
                // The same expression as the unique index, so the look-up uses it.
                let row = sqlx::query(concat!(
                    "SELECT ",
                    option_columns!(),
                    " FROM catalog_options \
                      WHERE kind = ?1 AND ifnull(parent_id, '') = ifnull(?2, '') AND name_key = ?3"
                ))
                .bind(option.kind.as_str())
                .bind(parent_id.as_deref())
                .bind(&option.name_key)
                .fetch_one(&mut *tx)
                .await
                .map_err(failed)?;
                let version: i64 =
                    sqlx::query_scalar("SELECT version FROM catalog_meta").fetch_one(&mut *tx).await.map_err(failed)?;
                (row, false, version)
            }
        };
        tx.commit().await.map_err(failed)?;
        Ok(Created { option: option_from_row(&row)?, created, version: catalog_version_from_db(version)? })
    }

    async fn catalog_version(&self) -> Result<u64, Unavailable> {
        let version: i64 = sqlx::query_scalar("SELECT version FROM catalog_meta")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| unavailable("sqlite", "catalog_version", &e))?;
        catalog_version_from_db(version)
    }

    async fn catalog_id(&self) -> Result<String, Unavailable> {
        sqlx::query_scalar("SELECT catalog_id FROM catalog_meta")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| unavailable("sqlite", "catalog_id", &e))
    }

    async fn load_templates(&self) -> Result<Option<String>, Unavailable> {
        sqlx::query_scalar("SELECT document FROM catalog_templates WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unavailable("sqlite", "load_templates", &e))
    }

    async fn save_templates(&self, document: &str) -> Result<u64, Unavailable> {
        let failed = |e: sqlx::Error| unavailable("sqlite", "save_templates", &e);
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(failed)?;
        sqlx::query(
            "INSERT INTO catalog_templates (id, document, updated_at) VALUES (1, ?1, ?2) \
             ON CONFLICT (id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at",
        )
        .bind(document)
        .bind(format_timestamp(OffsetDateTime::now_utc()))
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
        let version: i64 = sqlx::query_scalar("UPDATE catalog_meta SET version = version + 1 RETURNING version")
            .fetch_one(&mut *tx)
            .await
            .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        catalog_version_from_db(version)
    }
}

#[async_trait]
impl RotationStore for SqliteDb {
    async fn save_rotation(&self, record: &RotationRecord) -> Result<(), Unavailable> {
        let detail = serde_json::to_string(record).map_err(|e| Unavailable::new(e.to_string()))?;
        sqlx::query(
            "INSERT INTO rotations (id, kind, deployment_id, commit_sha, requested_by, outcome, failed_step, reason, \
             detail, started_at, finished_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT (id) DO UPDATE SET outcome = excluded.outcome, failed_step = excluded.failed_step, \
             reason = excluded.reason, detail = excluded.detail, finished_at = excluded.finished_at",
        )
        .bind(record.id.hyphenated().to_string())
        .bind(&record.kind)
        .bind(record.deployment_id.as_deref())
        .bind(record.commit_sha.as_deref())
        .bind(&record.requested_by)
        .bind(&record.outcome)
        .bind(record.failed_step.as_deref())
        .bind(record.reason.as_deref())
        .bind(detail)
        .bind(format_timestamp(record.started_at))
        .bind(record.finished_at.map(format_timestamp))
        .execute(&self.pool)
        .await
        .map_err(|e| unavailable("sqlite", "save_rotation", &e))?;
        Ok(())
    }

    async fn rotations(&self, limit: u32) -> Result<Vec<RotationRecord>, Unavailable> {
        let rows: Vec<String> = sqlx::query_scalar("SELECT detail FROM rotations ORDER BY started_at DESC LIMIT ?1")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| unavailable("sqlite", "rotations", &e))?;
        rows.iter().map(|d| serde_json::from_str(d).map_err(|_| corrupt("rotation", "detail"))).collect()
    }

    async fn rotation(&self, id: Uuid) -> Result<Option<RotationRecord>, Unavailable> {
        let row: Option<String> = sqlx::query_scalar("SELECT detail FROM rotations WHERE id = ?1")
            .bind(id.hyphenated().to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unavailable("sqlite", "rotation", &e))?;
        row.map(|d| serde_json::from_str(&d).map_err(|_| corrupt("rotation", "detail"))).transpose()
    }
}

#[async_trait]
impl Fleet for SqliteDb {
    async fn heartbeat(&self, instance: Uuid) -> Result<(), Unavailable> {
        sqlx::query(
            "INSERT INTO instances (id, last_seen) VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen",
        )
        .bind(instance.hyphenated().to_string())
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| unavailable("sqlite", "heartbeat", &e))?;
        Ok(())
    }

    async fn live_instances(&self, within: Duration) -> Result<Vec<Uuid>, Unavailable> {
        let since = now_ms() - i64::try_from(within.as_millis()).unwrap_or(i64::MAX);
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM instances WHERE last_seen > ?1 ORDER BY id")
            .bind(since)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| unavailable("sqlite", "live_instances", &e))?;
        ids.iter().map(|s| Uuid::parse_str(s).map_err(|_| corrupt("instance", "id"))).collect()
    }

    async fn leave(&self, instance: Uuid) -> Result<(), Unavailable> {
        sqlx::query("DELETE FROM instances WHERE id = ?1")
            .bind(instance.hyphenated().to_string())
            .execute(&self.pool)
            .await
            .map_err(|e| unavailable("sqlite", "leave", &e))?;
        Ok(())
    }
}

/// Milliseconds since the Unix epoch, now.
fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// [`unavailable`] for the session store, also counted in `gantry_session_store_errors_total` (as the
/// Redis session store counts its failures).
fn session_unavailable(op: &'static str, err: &sqlx::Error) -> Unavailable {
    metrics::counter!("gantry_session_store_errors_total", "backend" => "sqlite", "op" => op).increment(1);
    unavailable("sqlite", op, err)
}

/// The stored spelling of a session's last rotation (JSON text, or NULL).
fn rotation_to_db(rotation: Option<&Rotation>) -> Option<String> {
    rotation.map(|r| serde_json::to_string(r).expect("a Rotation (strings, integers, a UUID) always serialises"))
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
    let required =
        |name: &'static str| -> Result<String, Unavailable> { column(name)?.ok_or_else(|| corrupt("job", name)) };
    let timestamp = |name: &'static str| -> Result<OffsetDateTime, Unavailable> {
        OffsetDateTime::parse(&required(name)?, &Rfc3339).map_err(|_| corrupt("job", name))
    };
    let json = |text: String, name: &'static str| -> Result<serde_json::Value, Unavailable> {
        serde_json::from_str(&text).map_err(|_| corrupt("job", name))
    };
    Ok(Job {
        id: Uuid::parse_str(&required("id")?).map_err(|_| corrupt("job", "id"))?,
        kind: required("kind")?,
        state: JobState::parse(&required("state")?).ok_or_else(|| corrupt("job", "state"))?,
        progress: json(required("progress")?, "progress")?,
        result: column("result")?.map(|t| json(t, "result")).transpose()?,
        error: column("error")?,
        owner: column("owner")?,
        created_at: timestamp("created_at")?,
        updated_at: timestamp("updated_at")?,
    })
}

/// Reads a user from a row selected with [`user_columns!`].
fn user_from_row(row: &SqliteRow) -> Result<User, Unavailable> {
    let text = |name: &'static str| -> Result<String, Unavailable> {
        row.try_get::<String, _>(name).map_err(|e| unavailable("sqlite", "read", &e))
    };
    Ok(User {
        id: Uuid::parse_str(&text("id")?).map_err(|_| corrupt("user", "id"))?,
        email: text("email")?,
        password_hash: text("password_hash")?,
        created_at: OffsetDateTime::parse(&text("created_at")?, &Rfc3339).map_err(|_| corrupt("user", "created_at"))?,
    })
}

/// Reads a revocation notice from a row selected with [`notice_columns!`].
fn notice_from_row(row: &SqliteRow) -> Result<RevocationNotice, Unavailable> {
    let read = |e: sqlx::Error| unavailable("sqlite", "read", &e);
    let id: String = row.try_get("id").map_err(read)?;
    let scope: String = row.try_get("scope").map_err(read)?;
    let user_id: Option<String> = row.try_get("user_id").map_err(read)?;
    let active_sessions: Option<i64> = row.try_get("active_sessions").map_err(read)?;
    let created_at: String = row.try_get("created_at").map_err(read)?;
    Ok(RevocationNotice {
        id: Uuid::parse_str(&id).map_err(|_| corrupt("notice", "id"))?,
        scope: parse_scope(&scope).ok_or_else(|| corrupt("notice", "scope"))?,
        user_id: user_id.map(|id| Uuid::parse_str(&id).map_err(|_| corrupt("notice", "user_id"))).transpose()?,
        reason: row.try_get("reason").map_err(read)?,
        requested_by: row.try_get("requested_by").map_err(read)?,
        not_before_ms: row.try_get("not_before_ms").map_err(read)?,
        active_sessions: active_sessions
            .map(|n| u64::try_from(n).map_err(|_| corrupt("notice", "active_sessions")))
            .transpose()?,
        created_at: OffsetDateTime::parse(&created_at, &Rfc3339).map_err(|_| corrupt("notice", "created_at"))?,
    })
}

/// Reads a session from a row selected with [`session_columns!`].
fn session_from_row(row: &SqliteRow) -> Result<SessionRecord, Unavailable> {
    let read = |e: sqlx::Error| session_unavailable("read", &e);
    let uuid = |name: &'static str| -> Result<Uuid, Unavailable> {
        let text: String = row.try_get(name).map_err(read)?;
        Uuid::parse_str(&text).map_err(|_| corrupt("session", name))
    };
    let generation: i64 = row.try_get("generation").map_err(read)?;
    let last_rotation: Option<String> = row.try_get("last_rotation").map_err(read)?;
    Ok(SessionRecord {
        id: uuid("id")?,
        user_id: uuid("user_id")?,
        created_at_ms: row.try_get("created_at_ms").map_err(read)?,
        last_used_at_ms: row.try_get("last_used_at_ms").map_err(read)?,
        refresh_expires_at_ms: row.try_get("refresh_expires_at_ms").map_err(read)?,
        absolute_expires_at_ms: row.try_get("absolute_expires_at_ms").map_err(read)?,
        user_agent: row.try_get("user_agent").map_err(read)?,
        address: row.try_get("address").map_err(read)?,
        refresh_hash: row.try_get("refresh_hash").map_err(read)?,
        generation: u32::try_from(generation).map_err(|_| corrupt("session", "generation"))?,
        last_rotation: last_rotation
            .map(|json| serde_json::from_str(&json).map_err(|_| corrupt("session", "last_rotation")))
            .transpose()?,
        revoked_at_ms: row.try_get("revoked_at_ms").map_err(read)?,
    })
}

/// Reads an upload from a row selected with [`upload_columns!`].
fn upload_from_row(row: &SqliteRow) -> Result<UploadRecord, Unavailable> {
    let read = |e: sqlx::Error| unavailable("sqlite", "read", &e);
    let id: String = row.try_get("id").map_err(read)?;
    let size: i64 = row.try_get("size").map_err(read)?;
    let status: String = row.try_get("status").map_err(read)?;
    let created_at: String = row.try_get("created_at").map_err(read)?;
    Ok(UploadRecord {
        id: Uuid::parse_str(&id).map_err(|_| corrupt("upload", "id"))?,
        owner: row.try_get("owner").map_err(read)?,
        object_key: row.try_get("object_key").map_err(read)?,
        filename: row.try_get("filename").map_err(read)?,
        content_type: row.try_get("content_type").map_err(read)?,
        size: u64::try_from(size).map_err(|_| corrupt("upload", "size"))?,
        sha256: row.try_get("sha256").map_err(read)?,
        status: UploadStatus::parse(&status).ok_or_else(|| corrupt("upload", "status"))?,
        error: row.try_get("error").map_err(read)?,
        created_at: OffsetDateTime::parse(&created_at, &Rfc3339).map_err(|_| corrupt("upload", "created_at"))?,
    })
}

/// Reads a catalog option from a row selected with [`option_columns!`].
fn option_from_row(row: &SqliteRow) -> Result<CatalogOption, Unavailable> {
    let read = |e: sqlx::Error| unavailable("sqlite", "read", &e);
    let id: String = row.try_get("id").map_err(read)?;
    let kind: String = row.try_get("kind").map_err(read)?;
    let parent_id: Option<String> = row.try_get("parent_id").map_err(read)?;
    let created_at: String = row.try_get("created_at").map_err(read)?;
    Ok(CatalogOption {
        id: Uuid::parse_str(&id).map_err(|_| corrupt("option", "id"))?,
        kind: OptionKind::parse(&kind).ok_or_else(|| corrupt("option", "kind"))?,
        parent_id: parent_id.map(|id| Uuid::parse_str(&id).map_err(|_| corrupt("option", "parent_id"))).transpose()?,
        name: row.try_get("name").map_err(read)?,
        name_key: row.try_get("name_key").map_err(read)?,
        search_key: row.try_get("search_key").map_err(read)?,
        has_engine: row.try_get("has_engine").map_err(read)?,
        created_at: OffsetDateTime::parse(&created_at, &Rfc3339).map_err(|_| corrupt("option", "created_at"))?,
    })
}

/// The catalog version as the port carries it (the migration's check keeps the stored one non-negative).
fn catalog_version_from_db(version: i64) -> Result<u64, Unavailable> {
    u64::try_from(version).map_err(|_| corrupt("catalog", "version"))
}

/// A stored value this version cannot read (hand-edited file, newer schema); `record` names what it was
/// (`job`, `user`, …).
fn corrupt(record: &'static str, column: &'static str) -> Unavailable {
    tracing::debug!(backend = "sqlite", record, column, "stored {record} has an unreadable column");
    Unavailable::new(format!("stored {record} has an unreadable {column}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_actors::catalog::names::normalize;
    use gantry_actors::catalog::seed::{OPTIONS, SeedReport, seed};
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
    /// A user with this email, created now.
    fn user(email: &str) -> User {
        User {
            id: Uuid::now_v7(),
            email: email.to_owned(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
            created_at: OffsetDateTime::now_utc(),
        }
    }

    /// A user reads back by email and by id (timestamp at stored precision), a second user with the same
    /// email is `EmailTaken` and leaves the first untouched, and a deleted user is gone (deleting twice is fine).
    #[tokio::test]
    async fn users_round_trip_and_duplicate_email_is_taken() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = SqliteDb::open(&dir.path().join("gantry.db")).await.expect("open");
        let alice = user("alice@example.com");

        db.create_user(&alice).await.expect("create");
        let err = db.create_user(&user("alice@example.com")).await.expect_err("same email");

        assert!(matches!(err, AccountStoreError::EmailTaken), "{err:?}");
        let by_email = db.user_by_email("alice@example.com").await.expect("by email").expect("exists");
        let by_id = db.user_by_id(alice.id).await.expect("by id").expect("exists");
        assert_eq!(by_email, by_id);
        assert_eq!(by_id.id, alice.id);
        assert_eq!(by_id.password_hash, alice.password_hash);
        assert_eq!(by_id.created_at.unix_timestamp_nanos() / 1_000, alice.created_at.unix_timestamp_nanos() / 1_000);
        assert!(db.user_by_email("bob@example.com").await.expect("by email").is_none());

        db.delete_user(alice.id).await.expect("delete");
        db.delete_user(alice.id).await.expect("deleting an absent user");
        assert!(db.user_by_id(alice.id).await.expect("by id").is_none());
        db.create_user(&user("alice@example.com")).await.expect("the email is free again");
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
            assert_eq!(db.epochs().await.expect("epochs"), Epochs::default());

            assert_eq!(db.raise_epoch(None, 2_000).await.expect("raise"), 2_000);
            assert_eq!(db.raise_epoch(None, 1_000).await.expect("lower"), 2_000, "a lower value keeps the higher");
            assert_eq!(db.raise_epoch(Some(alice), 5_000).await.expect("raise"), 5_000);
            assert_eq!(db.raise_epoch(Some(alice), 7_000).await.expect("raise"), 7_000);
            assert_eq!(db.raise_epoch(Some(bob), 100).await.expect("raise"), 100);
            db.pool().close().await;
        }

        let db = SqliteDb::open(&path).await.expect("reopen");
        let epochs = db.epochs().await.expect("epochs");

        assert_eq!(epochs.global_ms, 2_000);
        assert_eq!(epochs.users, HashMap::from([(alice, 7_000), (bob, 100)]));
        assert_eq!(db.raise_epoch(Some(alice), 6_999).await.expect("lower"), 7_000);
    }

    /// Notices come back newest first (limited), with every field kept, and a count filled in later shows up.
    #[tokio::test]
    async fn revocation_notices_come_newest_first_with_filled_in_counts() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = SqliteDb::open(&dir.path().join("gantry.db")).await.expect("open");
        let start = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("valid instant");
        let notice = |i: i64, scope: RevocationScope| RevocationNotice {
            id: Uuid::now_v7(),
            scope,
            user_id: (scope == RevocationScope::User).then(Uuid::now_v7),
            reason: format!("incident {i} — naïve ✓"),
            requested_by: "cli".to_owned(),
            not_before_ms: 1_800_000_000_000 + i,
            active_sessions: None,
            created_at: start + time::Duration::seconds(i),
        };
        let (first, second, third) =
            (notice(1, RevocationScope::All), notice(2, RevocationScope::User), notice(3, RevocationScope::All));
        for n in [&second, &first, &third] {
            db.record_revocation(n).await.expect("record");
        }

        db.set_revocation_count(second.id, 42).await.expect("count");
        let newest = db.revocations(2).await.expect("list");

        let mut counted = second.clone();
        counted.active_sessions = Some(42);
        assert_eq!(newest, vec![third.clone(), counted]);
        assert_eq!(db.revocations(10).await.expect("list").len(), 3);
        assert_eq!(db.revocations(10).await.expect("list")[2], first);
    }

    /// A fresh upload of `owner`, still receiving, started at a whole second (so it reads back unchanged).
    fn upload(owner: &str) -> UploadRecord {
        let id = Uuid::now_v7();
        UploadRecord {
            id,
            owner: owner.to_owned(),
            object_key: format!("uploads/{}", id.hyphenated()),
            filename: Some("Bagger «CAT 320» naïve ✓.pdf".to_owned()),
            content_type: "application/octet-stream".to_owned(),
            size: 0,
            sha256: String::new(),
            status: UploadStatus::Receiving,
            error: None,
            created_at: OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("valid instant"),
        }
    }

    /// An upload reads back as created; an update replaces status, size, digest and error but keeps the
    /// owner, object key and start time; a deleted upload is gone, and deleting it again is fine.
    #[tokio::test]
    async fn upload_create_get_update_delete_round_trip() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = SqliteDb::open(&dir.path().join("gantry.db")).await.expect("open");
        let receiving = upload("user:0190f0c8-0000-7000-8000-000000000001");
        let other = upload("guest:t1");
        db.create_upload(&receiving).await.expect("create");
        db.create_upload(&other).await.expect("create another");
        assert_eq!(db.get_upload(receiving.id).await.expect("get"), Some(receiving.clone()));

        let stored = UploadRecord {
            content_type: "application/pdf".to_owned(),
            size: 5_000_000_000,
            sha256: "ab".repeat(32),
            status: UploadStatus::Stored,
            ..receiving.clone()
        };
        let moved = UploadRecord { owner: "guest:someone-else".to_owned(), ..stored.clone() };
        db.update_upload(&moved).await.expect("update");
        assert_eq!(db.get_upload(receiving.id).await.expect("get"), Some(stored.clone()), "the owner is fixed");

        let failed = UploadRecord { status: UploadStatus::Failed, error: Some("too_large".to_owned()), ..stored };
        db.update_upload(&failed).await.expect("update to failed");
        assert_eq!(db.get_upload(receiving.id).await.expect("get"), Some(failed));

        db.delete_upload(receiving.id).await.expect("delete");
        db.delete_upload(receiving.id).await.expect("deleting an absent upload");
        assert!(db.get_upload(receiving.id).await.expect("get").is_none());
        assert_eq!(db.get_upload(other.id).await.expect("get"), Some(other), "only that upload was deleted");
    }

    /// An upload that was never created is `None`, not an error, and updating it creates nothing.
    #[tokio::test]
    async fn get_of_unknown_upload_is_none() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = SqliteDb::open(&dir.path().join("gantry.db")).await.expect("open");
        let never = upload("guest:t2");

        db.update_upload(&never).await.expect("updating an unknown id");

        assert!(db.get_upload(never.id).await.expect("get").is_none());
    }

    /// Only uploads still receiving that started strictly before the cut-off are stale (down to the
    /// microsecond); they come oldest first, whatever the insertion order, and at most `limit` of them.
    #[tokio::test]
    async fn stale_uploads_are_old_receiving_ones_oldest_first_and_limited() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = SqliteDb::open(&dir.path().join("gantry.db")).await.expect("open");
        let cutoff = OffsetDateTime::from_unix_timestamp(1_800_000_100).expect("valid instant");
        let started = |before_cutoff: time::Duration, status: UploadStatus| UploadRecord {
            status,
            created_at: cutoff - before_cutoff,
            ..upload("guest:t3")
        };
        let oldest = started(time::Duration::hours(30), UploadStatus::Receiving);
        let older = started(time::Duration::seconds(50), UploadStatus::Receiving);
        let just_before = started(time::Duration::microseconds(1), UploadStatus::Receiving);
        let at_cutoff = started(time::Duration::ZERO, UploadStatus::Receiving);
        let newer = started(-time::Duration::seconds(5), UploadStatus::Receiving);
        let stored = started(time::Duration::hours(40), UploadStatus::Stored);
        let failed = started(time::Duration::hours(40), UploadStatus::Failed);
        for u in [&just_before, &stored, &newer, &oldest, &failed, &at_cutoff, &older] {
            db.create_upload(u).await.expect("create");
        }

        let all = db.stale_uploads(cutoff, 10).await.expect("stale");
        let first_two = db.stale_uploads(cutoff, 2).await.expect("stale");

        assert_eq!(all, vec![oldest.clone(), older.clone(), just_before]);
        assert_eq!(first_two, vec![oldest, older]);
        assert!(db.stale_uploads(cutoff, 0).await.expect("stale").is_empty());
    }

    /// An owner's count takes in its uploads still receiving and those stored, but not failed ones nor other
    /// owners' uploads; an upload that fails later stops counting, and an owner with no uploads counts zero.
    #[tokio::test]
    async fn count_uploads_counts_the_owners_receiving_and_stored_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = SqliteDb::open(&dir.path().join("gantry.db")).await.expect("open");
        let with_status = |owner: &str, status: UploadStatus| UploadRecord { status, ..upload(owner) };
        let receiving = with_status("guest:t4", UploadStatus::Receiving);
        let stored = with_status("guest:t4", UploadStatus::Stored);
        let failed = with_status("guest:t4", UploadStatus::Failed);
        let others = with_status("guest:t5", UploadStatus::Stored);
        for u in [&receiving, &stored, &failed, &others] {
            db.create_upload(u).await.expect("create");
        }

        let before = db.count_uploads("guest:t4").await.expect("count");
        db.update_upload(&UploadRecord { status: UploadStatus::Failed, ..receiving }).await.expect("fail one");
        let after = db.count_uploads("guest:t4").await.expect("count");

        assert_eq!(before, 2);
        assert_eq!(after, 1, "an upload that failed no longer counts");
        assert_eq!(db.count_uploads("guest:t5").await.expect("count"), 1);
        assert_eq!(db.count_uploads("guest:nobody").await.expect("count"), 0);
    }

    /// A catalog option named `name`, normalised as the caller does, created at a whole second (so it reads
    /// back unchanged); categories have an engine.
    fn catalog_option(kind: OptionKind, parent: Option<&CatalogOption>, name: &str) -> CatalogOption {
        let name = normalize(name).expect("valid name");
        CatalogOption {
            id: Uuid::now_v7(),
            kind,
            parent_id: parent.map(|p| p.id),
            name: name.display,
            name_key: name.key,
            search_key: name.search,
            has_engine: kind == OptionKind::Category,
            created_at: OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("valid instant"),
        }
    }

    /// Creating a name that is already there (in another spelling) returns the stored option with
    /// `created = false` and leaves the version alone; a new name raises it by one.
    #[tokio::test]
    async fn create_option_twice_returns_the_first_and_keeps_the_version() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = SqliteDb::open(&dir.path().join("gantry.db")).await.expect("open");
        assert_eq!(db.catalog_version().await.expect("version"), 0);
        let volvo = catalog_option(OptionKind::Brand, None, "Volvo");

        let first = db.create_option(&volvo).await.expect("create");
        let again = db.create_option(&catalog_option(OptionKind::Brand, None, "  VOLVO ")).await.expect("again");

        assert_eq!(first, Created { option: volvo.clone(), created: true, version: 1 });
        assert_eq!(again, Created { option: volvo.clone(), created: false, version: 1 });
        assert_eq!(db.catalog_version().await.expect("version"), 1);
        assert_eq!(db.get_option(volvo.id).await.expect("get"), Some(volvo.clone()));
        assert_eq!(db.list_options(OptionKind::Brand, None).await.expect("list"), vec![volvo]);
        let scania = db.create_option(&catalog_option(OptionKind::Brand, None, "Scania")).await.expect("create");
        assert!(scania.created);
        assert_eq!(scania.version, 2);
        assert!(db.get_option(Uuid::now_v7()).await.expect("get").is_none());
    }

    /// Options list in search-key order (case and accents ignored, ties broken by id), only those of the kind
    /// under the given parent; `None` lists only options without a parent.
    #[tokio::test]
    async fn list_options_orders_by_search_key_and_filters_by_kind_and_parent() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = SqliteDb::open(&dir.path().join("gantry.db")).await.expect("open");
        let germany = catalog_option(OptionKind::Country, None, "Germany");
        let poland = catalog_option(OptionKind::Country, None, "Poland");
        let mut create = Vec::new();
        for country in [&poland, &germany] {
            db.create_option(country).await.expect("create country");
        }
        for name in ["München", "zwickau", "Baden-Baden", "Köln", "Berlin", "Kiel", "Bad Tölz"] {
            create.push(catalog_option(OptionKind::City, Some(&germany), name));
        }
        let polish = [catalog_option(OptionKind::City, Some(&poland), "Łódź")];
        // "Škoda" and "Skoda" are two names (two keys) with one search key: the older id comes first.
        let brands: Vec<CatalogOption> =
            ["Škoda", "Skoda", "Scania"].iter().map(|n| catalog_option(OptionKind::Brand, None, n)).collect();
        for option in create.iter().chain(&polish).chain(&brands) {
            assert!(db.create_option(option).await.expect("create").created);
        }

        let german_cities = db.list_options(OptionKind::City, Some(germany.id)).await.expect("list");
        let countries = db.list_options(OptionKind::Country, None).await.expect("list");
        let listed_brands = db.list_options(OptionKind::Brand, None).await.expect("list");

        let names = |options: &[CatalogOption]| options.iter().map(|o| o.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&german_cities), ["Bad Tölz", "Baden-Baden", "Berlin", "Kiel", "Köln", "München", "zwickau"]);
        assert_eq!(countries, vec![germany.clone(), poland.clone()]);
        assert_eq!(listed_brands, vec![brands[2].clone(), brands[0].clone(), brands[1].clone()]);
        assert_eq!(db.list_options(OptionKind::City, Some(poland.id)).await.expect("list"), polish);
        assert!(db.list_options(OptionKind::City, None).await.expect("list").is_empty(), "cities have parents");
        assert!(db.list_options(OptionKind::Country, Some(germany.id)).await.expect("list").is_empty());
        assert_eq!(db.catalog_version().await.expect("version"), 13);
    }

    /// One name under two parents, or as another kind, is three options; a repeat under one parent is not; an
    /// unknown parent or a parent on a top-level kind is refused and leaves the version alone.
    #[tokio::test]
    async fn same_name_under_another_parent_or_kind_is_another_option() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = SqliteDb::open(&dir.path().join("gantry.db")).await.expect("open");
        let trucks = catalog_option(OptionKind::Category, None, "Trucks");
        let trailers = catalog_option(OptionKind::Category, None, "Trailers");
        let under_trucks = catalog_option(OptionKind::Subcategory, Some(&trucks), "Tippers");
        let under_trailers = catalog_option(OptionKind::Subcategory, Some(&trailers), "Tippers");
        let top_level = catalog_option(OptionKind::Category, None, "Tippers");
        for option in [&trucks, &trailers, &under_trucks, &under_trailers, &top_level] {
            assert!(db.create_option(option).await.expect("create").created, "{option:?}");
        }

        let repeat =
            db.create_option(&catalog_option(OptionKind::Subcategory, Some(&trucks), "tippers")).await.expect("repeat");
        let phantom = catalog_option(OptionKind::Category, None, "Never stored");
        let orphan = db.create_option(&catalog_option(OptionKind::Subcategory, Some(&phantom), "Orphans")).await;
        let misplaced = db.create_option(&catalog_option(OptionKind::Brand, Some(&trucks), "Volvo")).await;

        assert_eq!(repeat, Created { option: under_trucks.clone(), created: false, version: 5 });
        assert!(orphan.is_err(), "{orphan:?}");
        assert!(misplaced.is_err(), "{misplaced:?}");
        assert_eq!(db.catalog_version().await.expect("version"), 5);
        assert_eq!(db.list_options(OptionKind::Subcategory, Some(trailers.id)).await.expect("list"), [under_trailers]);
        let categories = db.list_options(OptionKind::Category, None).await.expect("list");
        assert_eq!(categories, vec![top_level, trailers, trucks]);
    }

    /// Seeding twice loads the starter catalog once: the second run finds every option, and the version
    /// counts each option once.
    #[tokio::test]
    async fn seeding_twice_creates_nothing_the_second_time() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = SqliteDb::open(&dir.path().join("gantry.db")).await.expect("open");

        let first = seed(&db).await.expect("first run");
        let second = seed(&db).await.expect("second run");

        assert_eq!(first, SeedReport { created: OPTIONS.len(), existing: 0 });
        assert_eq!(second, SeedReport { created: 0, existing: OPTIONS.len() });
        assert_eq!(db.catalog_version().await.expect("version"), OPTIONS.len() as u64);
        let categories = db.list_options(OptionKind::Category, None).await.expect("list");
        assert_eq!(categories.len(), OPTIONS.iter().filter(|o| o.kind == OptionKind::Category).count());
        let countries = db.list_options(OptionKind::Country, None).await.expect("list");
        let poland = countries.iter().find(|c| c.name == "Poland").expect("Poland");
        let cities = db.list_options(OptionKind::City, Some(poland.id)).await.expect("list");
        assert_eq!(cities.len(), OPTIONS.iter().filter(|o| o.parent == Some("Poland")).count());
        assert!(cities.iter().any(|c| c.name == "Łódź"));
    }
}

#[cfg(test)]
mod session_tests {
    //! Apart from the job and account tests: `SessionStore` shares method names with `JobStore`.

    use gantry_actors::ports::sessions::{Rotation, SessionRecord, SessionStore};
    use uuid::Uuid;

    use super::SqliteDb;

    /// A fresh database in a temporary folder (kept alive by the returned guard).
    async fn open() -> (tempfile::TempDir, SqliteDb) {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = SqliteDb::open(&dir.path().join("gantry.db")).await.expect("open");
        (dir, db)
    }

    /// A session of `user_id` created at `now` (ms), refreshable for an hour, ending after a day.
    fn session(user_id: Uuid, now: i64) -> SessionRecord {
        SessionRecord {
            id: Uuid::now_v7(),
            user_id,
            created_at_ms: now,
            last_used_at_ms: now,
            refresh_expires_at_ms: now + 3_600_000,
            absolute_expires_at_ms: now + 86_400_000,
            user_agent: Some("Mozilla/5.0 \"quoted\" naïve ✓".to_owned()),
            address: Some("203.0.113.7".to_owned()),
            refresh_hash: "a".repeat(64),
            generation: 0,
            last_rotation: None,
            revoked_at_ms: None,
        }
    }

    /// `session` after one rotation at `at` (ms).
    fn rotated(mut s: SessionRecord, at: i64, hash: &str) -> SessionRecord {
        s.last_rotation = Some(Rotation {
            used_hash: s.refresh_hash.clone(),
            used_at_ms: at,
            sealed_successor: "0f".repeat(32),
            access_jti: Uuid::now_v7(),
            access_iat: at / 1_000,
            access_exp: at / 1_000 + 900,
            access_kid: "k1".to_owned(),
            earlier_hashes: vec!["ab".repeat(32)],
        });
        s.refresh_hash = hash.to_owned();
        s.generation += 1;
        s.last_used_at_ms = at;
        s.refresh_expires_at_ms = at + 3_600_000;
        s
    }

    /// A session reads back unchanged; `replace_if` with the current generation swaps it in once, and a second
    /// replace still expecting that generation (another instance's stale view) is refused and changes nothing.
    #[tokio::test]
    async fn insert_get_and_replace_if_is_a_compare_and_swap() {
        let (_dir, db) = open().await;
        let now = 1_800_000_000_000;
        let original = session(Uuid::now_v7(), now);
        db.insert(&original).await.expect("insert");
        assert_eq!(db.get(original.id).await.expect("get"), Some(original.clone()));

        let first = rotated(original.clone(), now + 10, &"b".repeat(64));
        let stale = rotated(original.clone(), now + 20, &"c".repeat(64));
        let won = db.replace_if(&first, 0).await.expect("first replace");
        let lost = db.replace_if(&stale, 0).await.expect("stale replace");

        assert!(won);
        assert!(!lost);
        assert_eq!(db.get(original.id).await.expect("get"), Some(first.clone()));
        assert!(!db.replace_if(&session(Uuid::now_v7(), now), 0).await.expect("unknown id"), "nothing to replace");
        assert!(db.get(Uuid::now_v7()).await.expect("get").is_none());
        db.health().await.expect("healthy");
        assert_eq!(db.backend(), "sqlite");
    }

    /// `list_for_user` returns only the user's sessions that are neither revoked nor expired (by refresh or
    /// absolute expiry); revoking records the time once; a stale rotation cannot clear a revocation; and
    /// `revoked_since` and `count_active` agree with it.
    #[tokio::test]
    async fn list_revoke_revoked_since_and_count_active_agree() {
        let (_dir, db) = open().await;
        let now = 1_800_000_000_000;
        let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
        let kept = session(alice, now - 2);
        let to_revoke = session(alice, now - 1);
        let mut idle = session(alice, now - 5_000);
        idle.refresh_expires_at_ms = now;
        let mut ended = session(alice, now - 5_000);
        ended.absolute_expires_at_ms = now - 1;
        let other = session(bob, now);
        for s in [&kept, &to_revoke, &idle, &ended, &other] {
            db.insert(s).await.expect("insert");
        }
        assert_eq!(db.list_for_user(alice, now).await.expect("list"), vec![kept.clone(), to_revoke.clone()]);
        assert_eq!(db.count_active(now).await.expect("count"), 3);

        db.revoke(&[to_revoke.id, Uuid::now_v7()], now + 100).await.expect("revoke");
        db.revoke(&[to_revoke.id], now + 200).await.expect("revoking again");
        db.revoke(&[], now + 300).await.expect("revoking nothing");

        assert_eq!(db.list_for_user(alice, now).await.expect("list"), vec![kept.clone()]);
        assert_eq!(db.get(to_revoke.id).await.expect("get").and_then(|s| s.revoked_at_ms), Some(now + 100));
        assert_eq!(db.revoked_since(now + 100).await.expect("since"), vec![to_revoke.id]);
        assert!(db.revoked_since(now + 101).await.expect("since").is_empty());
        assert_eq!(db.count_active(now).await.expect("count"), 2);
        let unrevoking = rotated(to_revoke.clone(), now + 150, &"d".repeat(64));
        assert!(!db.replace_if(&unrevoking, 0).await.expect("replace"), "a revocation is not undone");
        assert!(db.get(ended.id).await.expect("get").is_none(), "count_active prunes past the absolute expiry");
        assert!(db.get(idle.id).await.expect("get").is_some(), "kept until its absolute expiry");
        assert_eq!(db.list_for_user(bob, now).await.expect("list"), vec![other]);
    }
}
