//! `JobStore` on PostgreSQL (production). Same semantics as the SQLite adapter; the start-up error and the
//! safe mapping of `sqlx` errors are shared with it (they live in `sqlite.rs`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::jobs::{Job, JobState, JobStore, JobStoreError, JobUpdate};
use secrecy::{ExposeSecret, SecretString};
use sqlx::Row;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use uuid::Uuid;

pub use super::sqlite::DbError;
use super::sqlite::{migrate_reason, sqlx_reason, unavailable};

/// How long a caller waits for a pooled connection (including opening one) before the store reports itself
/// unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The columns [`job_from_row`] reads. A macro, not a `const`, because sqlx 0.9 only takes SQL that is
/// static text (`concat!` keeps it so); formatted strings would need an audit marker.
macro_rules! job_columns {
    () => {
        "id, kind, state, progress, result, error, owner, created_at, updated_at"
    };
}

/// The Postgres migrations, embedded at compile time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// `JobStore` on PostgreSQL.
#[derive(Clone)]
pub struct PostgresDb {
    /// The connection pool; its connect options hold the password, so `Debug` is written by hand.
    pool: PgPool,
}

impl fmt::Debug for PostgresDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresDb")
            .field("size", &self.pool.size())
            .field("idle", &self.pool.num_idle())
            .field("closed", &self.pool.is_closed())
            .finish()
    }
}

impl PostgresDb {
    /// Connects to the database at `url` with at most `max_connections` connections, checks that a
    /// connection can be opened, and applies the migrations.
    ///
    /// # Errors
    /// [`DbError::Connect`] when the URL is invalid or the database cannot be reached within the acquire
    /// timeout (the reason never contains the URL); [`DbError::Migrate`] when the migrations fail.
    pub async fn connect(url: &SecretString, max_connections: u32) -> Result<Self, DbError> {
        // The parse error is dropped on purpose: its text could quote part of the URL.
        let options = PgConnectOptions::from_str(url.expose_secret())
            .map_err(|_| DbError::Connect("invalid database URL".to_owned()))?;
        // `connect_with` (not `connect_lazy`) opens one connection now, so a wrong host or password fails
        // start-up instead of the first request.
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| {
                tracing::debug!(backend = "postgres", error = %e, "cannot connect");
                DbError::Connect(sqlx_reason(&e))
            })?;
        let db = Self { pool };
        db.migrate().await?;
        Ok(db)
    }

    /// Applies the pending migrations; applied ones are skipped (and checked against their checksums).
    /// Several instances may call this at once: sqlx serialises them with an advisory lock.
    ///
    /// # Errors
    /// [`DbError::Migrate`] when a migration fails or an applied one was changed.
    pub async fn migrate(&self) -> Result<(), DbError> {
        MIGRATOR.run(&self.pool).await.map_err(|e| DbError::Migrate(migrate_reason(&e)))
    }

    /// The pool, for later adapters that keep their tables in the same database.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl JobStore for PostgresDb {
    async fn create(&self, job: &Job) -> Result<(), JobStoreError> {
        sqlx::query(
            "INSERT INTO jobs (id, kind, state, progress, result, error, owner, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(job.id)
        .bind(&job.kind)
        .bind(job.state.as_str())
        .bind(&job.progress)
        .bind(job.result.as_ref())
        .bind(job.error.as_deref())
        .bind(job.owner.as_deref())
        .bind(job.created_at)
        .bind(job.updated_at)
        .execute(&self.pool)
        .await
        .map_err(|e| unavailable("postgres", "create", &e))?;
        Ok(())
    }

    async fn get(&self, id: Uuid) -> Result<Option<Job>, JobStoreError> {
        let row = sqlx::query(concat!("SELECT ", job_columns!(), " FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unavailable("postgres", "get", &e))?;
        Ok(row.as_ref().map(job_from_row).transpose()?)
    }

    async fn update(&self, id: Uuid, update: JobUpdate) -> Result<Job, JobStoreError> {
        // One `UPDATE … RETURNING` statement is its own transaction and takes the row lock: the `Some` fields
        // are applied (COALESCE keeps the rest) and the row is read back atomically, so concurrent updates of
        // different fields cannot overwrite each other the way a read-modify-write would under READ COMMITTED.
        let row = sqlx::query(concat!(
            "UPDATE jobs SET state = COALESCE($2, state), progress = COALESCE($3, progress), \
             result = COALESCE($4, result), error = COALESCE($5, error), updated_at = $6 \
             WHERE id = $1 RETURNING ",
            job_columns!()
        ))
        .bind(id)
        .bind(update.state.map(JobState::as_str))
        .bind(update.progress.as_ref())
        .bind(update.result.as_ref())
        .bind(update.error.as_deref())
        .bind(time::OffsetDateTime::now_utc())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| unavailable("postgres", "update", &e))?;
        match row {
            Some(row) => Ok(job_from_row(&row)?),
            None => Err(JobStoreError::NotFound(id)),
        }
    }

    async fn health(&self) -> Result<(), Unavailable> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(|e| unavailable("postgres", "health", &e))?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

/// Reads a job from a row selected with [`job_columns!`].
fn job_from_row(row: &PgRow) -> Result<Job, Unavailable> {
    let read = |e: sqlx::Error| unavailable("postgres", "read", &e);
    let state: String = row.try_get("state").map_err(read)?;
    Ok(Job {
        id: row.try_get("id").map_err(read)?,
        kind: row.try_get("kind").map_err(read)?,
        state: JobState::parse(&state).ok_or_else(|| {
            // The check constraint makes this unreachable unless the schema and the code disagree.
            tracing::debug!(backend = "postgres", column = "state", "stored job has an unknown state");
            Unavailable::new("stored job has an unreadable state")
        })?,
        progress: row.try_get("progress").map_err(read)?,
        result: row.try_get("result").map_err(read)?,
        error: row.try_get("error").map_err(read)?,
        owner: row.try_get("owner").map_err(read)?,
        created_at: row.try_get("created_at").map_err(read)?,
        updated_at: row.try_get("updated_at").map_err(read)?,
    })
}
