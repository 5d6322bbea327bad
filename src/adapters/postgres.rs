//! The PostgreSQL database of the production profile: connecting and migrating, the one pool every port shares, and
//! how Postgres stores the values the shared port code binds and reads (`sql/values.rs`, `sql/rows.rs`): native
//! uuid, timestamptz and jsonb. The ports themselves are in `postgres/` (one file per port, holding only Postgres'
//! own SQL words) and `sql/` (their logic).

pub mod accounts;
pub mod catalog;
pub mod jobs;
pub mod rotations;
pub mod sessions;
pub mod uploads;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::query::Query;
use sqlx::{Postgres, Row, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

pub use super::sql::errors::DbError;
use super::sql::errors::{migrate_reason, sqlx_reason};
use super::sql::exec::{SqlDb, impl_exec};
use super::sql::rows::{SqlRow, Unreadable};
use super::sql::values::Value;
use super::sql::{Database, SqlPorts};

/// How long a caller waits for a pooled connection (including opening one) before the store reports itself
/// unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The Postgres migrations, embedded at compile time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// The Postgres database: a handle to its pool. Cheap to clone; every port handle from
/// [`PostgresDb::ports`] holds one, and [`PostgresDb::close`] closes the pool for all of them.
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

    /// One handle per port, all on this database.
    #[must_use]
    pub fn ports(&self) -> SqlPorts {
        SqlPorts::new(self)
    }

    /// Closes the pool (waits for checked-out connections to come back). Every port handle stops working.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The pool, for later adapters that keep their tables in the same database.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl Database for PostgresDb {
    async fn close(&self) {
        PostgresDb::close(self).await;
    }
}

#[async_trait]
impl SqlDb for PostgresDb {
    type Row = PgRow;
    type Pool = PgPool;
    type Tx = Transaction<'static, Postgres>;

    fn pool(&self) -> PgPool {
        self.pool.clone()
    }

    async fn begin(&self) -> Result<Self::Tx, sqlx::Error> {
        // READ COMMITTED: the statements' own row locks order concurrent writers (see `sql/catalog.rs`).
        self.pool.begin().await
    }

    async fn commit(tx: Self::Tx) -> Result<(), sqlx::Error> {
        tx.commit().await
    }
}

impl_exec!(PgPool, PgRow, bind, |s| &*s);
impl_exec!(Transaction<'static, Postgres>, PgRow, bind, |s| &mut **s);

/// Binds `args` as Postgres' native types.
fn bind(mut query: Query<'static, Postgres, PgArguments>, args: Vec<Value>) -> Query<'static, Postgres, PgArguments> {
    for arg in args {
        query = match arg {
            Value::Uuid(v) => query.bind(v),
            Value::Text(v) => query.bind(v),
            Value::Int(v) => query.bind(v),
            Value::Bool(v) => query.bind(v),
            Value::Time(v) => query.bind(v),
            Value::Json(v) => query.bind(v.map(|text| {
                serde_json::from_str::<serde_json::Value>(&text)
                    .expect("JSON arguments are serialised by the port code, so they parse")
            })),
            Value::Uuids(ids) => query.bind(ids),
        };
    }
    query
}

impl SqlRow for PgRow {
    const BACKEND: &'static str = "postgres";

    fn uuid(&self, column: &'static str) -> Result<Option<Uuid>, Unreadable> {
        Ok(self.try_get(column)?)
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
        Ok(self.try_get(column)?)
    }

    fn json(&self, column: &'static str) -> Result<Option<serde_json::Value>, Unreadable> {
        Ok(self.try_get(column)?)
    }
}
