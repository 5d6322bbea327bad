//! What the SQLite and Postgres adapters share, written once: the start-up error [`DbError`], the safe
//! mapping of `sqlx` errors to [`Unavailable`], the [`Value`]s port code binds, the [`SqlRow`] getters it
//! reads with, the [`Exec`]/[`SqlDb`] seams each backend implements, and [`SqlPorts`], one handle per port.
//!
//! Each port's logic lives once in a submodule (`sql/jobs.rs`, …) as `impl<D: …> Port for SqlPort<D>`; the
//! backend folders (`sqlite/`, `postgres/`) only add what really differs (dialect SQL, constraint
//! detection). Every query uses `$N` placeholders, which sqlx-sqlite also understands (`$N` binds argument
//! N, and a number used twice binds once), so one SQL text serves both backends.

pub mod accounts;
pub mod catalog;
pub mod jobs;
pub mod multiparts;
pub mod rotations;
pub mod sessions;
pub mod uploads;

use std::sync::Arc;

use async_trait::async_trait;
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::accounts::{AccountStore, RevocationScope};
use gantry_actors::ports::catalog::CatalogStore;
use gantry_actors::ports::jobs::JobStore;
use gantry_actors::ports::objects::MultipartLedger;
use gantry_actors::ports::rotations::{Fleet, RotationStore};
use gantry_actors::ports::sessions::SessionStore;
use gantry_actors::ports::uploads::UploadStore;
use sqlx::migrate::MigrateError;
use time::OffsetDateTime;
use uuid::Uuid;

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

/// A stored value this version cannot read (hand-edited file, newer schema, or a schema and code that
/// disagree); `record` names what it was (`job`, `user`, …).
pub(crate) fn corrupt(backend: &'static str, record: &'static str, column: &'static str) -> Unavailable {
    tracing::debug!(backend, record, column, "stored {record} has an unreadable column");
    Unavailable::new(format!("stored {record} has an unreadable {column}"))
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

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A value bound to a statement. Each backend encodes it in its own storage format (see the headers of
/// `sqlite.rs` and `postgres.rs`): the variants say what a value is, not how it is stored. `None` is a typed
/// NULL, which Postgres needs to pick the parameter's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An id (SQLite: hyphenated text; Postgres: uuid).
    Uuid(Option<Uuid>),
    /// Text.
    Text(Option<String>),
    /// A 64-bit integer.
    Int(Option<i64>),
    /// A flag (SQLite: 0/1).
    Bool(bool),
    /// An instant (SQLite: fixed-width RFC 3339 text, microseconds; Postgres: timestamptz).
    Time(Option<OffsetDateTime>),
    /// A JSON document, already serialised (SQLite: that text; Postgres: jsonb).
    Json(Option<String>),
    /// A list of ids, for `IN`-style matches (SQLite: a JSON array for `json_each`; Postgres: uuid[]).
    Uuids(Vec<Uuid>),
}

impl Value {
    /// `value` as a JSON argument.
    #[must_use]
    pub fn json(value: &serde_json::Value) -> Self {
        Self::Json(Some(value.to_string()))
    }

    /// An optional JSON argument.
    #[must_use]
    pub fn json_opt(value: Option<&serde_json::Value>) -> Self {
        Self::Json(value.map(ToString::to_string))
    }
}

impl From<Uuid> for Value {
    fn from(v: Uuid) -> Self {
        Self::Uuid(Some(v))
    }
}
impl From<Option<Uuid>> for Value {
    fn from(v: Option<Uuid>) -> Self {
        Self::Uuid(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Text(Some(v.to_owned()))
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Self::Text(Some(v.clone()))
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Self::Text(Some(v))
    }
}
impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        Self::Text(v.map(str::to_owned))
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::Int(Some(v))
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Self::Int(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}
impl From<OffsetDateTime> for Value {
    fn from(v: OffsetDateTime) -> Self {
        Self::Time(Some(v))
    }
}
impl From<Option<OffsetDateTime>> for Value {
    fn from(v: Option<OffsetDateTime>) -> Self {
        Self::Time(v)
    }
}

/// The arguments of a statement, in `$1, $2, …` order.
macro_rules! args {
    ($($value:expr),* $(,)?) => {
        vec![$($crate::adapters::sql::Value::from($value)),*]
    };
}
pub(crate) use args;

/// Why a column could not be read.
#[derive(Debug)]
pub enum Unreadable {
    /// The driver failed (no such column, a type the getter does not take).
    Driver(sqlx::Error),
    /// The column holds something this version cannot read (bad UUID text, bad timestamp, bad JSON).
    Value,
}

impl From<sqlx::Error> for Unreadable {
    fn from(err: sqlx::Error) -> Self {
        Self::Driver(err)
    }
}

/// A result row, read column by column in the port's terms; each backend decodes its own storage format.
/// `Ok(None)` is SQL NULL.
pub trait SqlRow: Send + Sync + 'static {
    /// The backend's name, for logs and reasons.
    const BACKEND: &'static str;
    /// An id.
    ///
    /// # Errors
    /// The column is missing or unreadable.
    fn uuid(&self, column: &'static str) -> Result<Option<Uuid>, Unreadable>;
    /// Text.
    ///
    /// # Errors
    /// The column is missing or unreadable.
    fn text(&self, column: &'static str) -> Result<Option<String>, Unreadable>;
    /// A 64-bit integer.
    ///
    /// # Errors
    /// The column is missing or unreadable.
    fn int(&self, column: &'static str) -> Result<Option<i64>, Unreadable>;
    /// A flag.
    ///
    /// # Errors
    /// The column is missing or unreadable.
    fn boolean(&self, column: &'static str) -> Result<Option<bool>, Unreadable>;
    /// An instant.
    ///
    /// # Errors
    /// The column is missing or unreadable.
    fn time(&self, column: &'static str) -> Result<Option<OffsetDateTime>, Unreadable>;
    /// A JSON document.
    ///
    /// # Errors
    /// The column is missing or unreadable.
    fn json(&self, column: &'static str) -> Result<Option<serde_json::Value>, Unreadable>;
}

/// Reads the columns of one row of a `record` (`job`, `user`, …), turning every failure into a safe
/// [`Unavailable`] that names the record and column.
pub struct Fields<'r, R> {
    /// The row.
    row: &'r R,
    /// What the row holds, for reasons.
    record: &'static str,
}

impl<'r, R: SqlRow> Fields<'r, R> {
    /// A reader of `row`, which holds a `record`.
    pub fn new(row: &'r R, record: &'static str) -> Self {
        Self { row, record }
    }

    /// A nullable column.
    fn nullable<T>(&self, column: &'static str, got: Result<Option<T>, Unreadable>) -> Result<Option<T>, Unavailable> {
        got.map_err(|e| match e {
            Unreadable::Driver(e) => unavailable(R::BACKEND, "read", &e),
            Unreadable::Value => corrupt(R::BACKEND, self.record, column),
        })
    }

    /// A NOT NULL column.
    fn required<T>(&self, column: &'static str, got: Result<Option<T>, Unreadable>) -> Result<T, Unavailable> {
        self.nullable(column, got)?.ok_or_else(|| corrupt(R::BACKEND, self.record, column))
    }

    /// A NOT NULL id.
    ///
    /// # Errors
    /// The column is missing, NULL or unreadable.
    pub fn uuid(&self, column: &'static str) -> Result<Uuid, Unavailable> {
        self.required(column, self.row.uuid(column))
    }

    /// A nullable id.
    ///
    /// # Errors
    /// The column is missing or unreadable.
    pub fn opt_uuid(&self, column: &'static str) -> Result<Option<Uuid>, Unavailable> {
        self.nullable(column, self.row.uuid(column))
    }

    /// NOT NULL text.
    ///
    /// # Errors
    /// The column is missing, NULL or unreadable.
    pub fn text(&self, column: &'static str) -> Result<String, Unavailable> {
        self.required(column, self.row.text(column))
    }

    /// Nullable text.
    ///
    /// # Errors
    /// The column is missing or unreadable.
    pub fn opt_text(&self, column: &'static str) -> Result<Option<String>, Unavailable> {
        self.nullable(column, self.row.text(column))
    }

    /// A NOT NULL integer.
    ///
    /// # Errors
    /// The column is missing, NULL or unreadable.
    pub fn int(&self, column: &'static str) -> Result<i64, Unavailable> {
        self.required(column, self.row.int(column))
    }

    /// A nullable integer.
    ///
    /// # Errors
    /// The column is missing or unreadable.
    pub fn opt_int(&self, column: &'static str) -> Result<Option<i64>, Unavailable> {
        self.nullable(column, self.row.int(column))
    }

    /// A NOT NULL count or size (never negative).
    ///
    /// # Errors
    /// The column is missing, NULL, unreadable or negative.
    pub fn count(&self, column: &'static str) -> Result<u64, Unavailable> {
        u64::try_from(self.int(column)?).map_err(|_| corrupt(R::BACKEND, self.record, column))
    }

    /// A nullable count (never negative).
    ///
    /// # Errors
    /// The column is missing, unreadable or negative.
    pub fn opt_count(&self, column: &'static str) -> Result<Option<u64>, Unavailable> {
        self.opt_int(column)?
            .map(|n| u64::try_from(n).map_err(|_| corrupt(R::BACKEND, self.record, column)))
            .transpose()
    }

    /// A NOT NULL flag.
    ///
    /// # Errors
    /// The column is missing, NULL or unreadable.
    pub fn boolean(&self, column: &'static str) -> Result<bool, Unavailable> {
        self.required(column, self.row.boolean(column))
    }

    /// A NOT NULL instant.
    ///
    /// # Errors
    /// The column is missing, NULL or unreadable.
    pub fn time(&self, column: &'static str) -> Result<OffsetDateTime, Unavailable> {
        self.required(column, self.row.time(column))
    }

    /// A nullable instant.
    ///
    /// # Errors
    /// The column is missing or unreadable.
    pub fn opt_time(&self, column: &'static str) -> Result<Option<OffsetDateTime>, Unavailable> {
        self.nullable(column, self.row.time(column))
    }

    /// A NOT NULL JSON document.
    ///
    /// # Errors
    /// The column is missing, NULL or unreadable.
    pub fn json(&self, column: &'static str) -> Result<serde_json::Value, Unavailable> {
        self.required(column, self.row.json(column))
    }

    /// A nullable JSON document.
    ///
    /// # Errors
    /// The column is missing or unreadable.
    pub fn opt_json(&self, column: &'static str) -> Result<Option<serde_json::Value>, Unavailable> {
        self.nullable(column, self.row.json(column))
    }

    /// A NOT NULL column holding a stored spelling that `parse` reads (an enum).
    ///
    /// # Errors
    /// The column is missing, NULL, unreadable, or `parse` does not know the spelling.
    pub fn parse<T>(&self, column: &'static str, parse: impl FnOnce(&str) -> Option<T>) -> Result<T, Unavailable> {
        parse(&self.text(column)?).ok_or_else(|| corrupt(R::BACKEND, self.record, column))
    }
}

/// Somewhere statements run: a pool or an open transaction.
#[async_trait]
pub trait Exec: Send {
    /// The backend's row type.
    type Row: SqlRow;

    /// Runs `sql` and returns the number of rows it changed.
    ///
    /// # Errors
    /// The database failed or refused the statement.
    async fn execute(&mut self, sql: &'static str, args: Vec<Value>) -> Result<u64, sqlx::Error>;

    /// Runs `sql` and returns its first row, if any.
    ///
    /// # Errors
    /// The database failed or refused the statement.
    async fn fetch_optional(&mut self, sql: &'static str, args: Vec<Value>) -> Result<Option<Self::Row>, sqlx::Error>;

    /// Runs `sql` and returns every row.
    ///
    /// # Errors
    /// The database failed or refused the statement.
    async fn fetch_all(&mut self, sql: &'static str, args: Vec<Value>) -> Result<Vec<Self::Row>, sqlx::Error>;

    /// Runs `sql` and returns its first row, which must exist.
    ///
    /// # Errors
    /// The database failed or refused the statement, or returned no row.
    async fn fetch_one(&mut self, sql: &'static str, args: Vec<Value>) -> Result<Self::Row, sqlx::Error> {
        self.fetch_optional(sql, args).await?.ok_or(sqlx::Error::RowNotFound)
    }
}

/// Implements [`Exec`] for a pool or transaction type `$target` whose rows are `$row`, binding with `$bind`;
/// `$executor` turns `&mut $target` (named `$s`) into a sqlx executor. One macro, so the two backends'
/// four methods are not written twice each.
macro_rules! impl_exec {
    ($target:ty, $row:ty, $bind:path, |$s:ident| $executor:expr) => {
        #[async_trait::async_trait]
        impl $crate::adapters::sql::Exec for $target {
            type Row = $row;

            async fn execute(
                &mut self,
                sql: &'static str,
                args: Vec<$crate::adapters::sql::Value>,
            ) -> Result<u64, sqlx::Error> {
                let $s = self;
                Ok($bind(sqlx::query(sql), args).execute($executor).await?.rows_affected())
            }

            async fn fetch_optional(
                &mut self,
                sql: &'static str,
                args: Vec<$crate::adapters::sql::Value>,
            ) -> Result<Option<$row>, sqlx::Error> {
                let $s = self;
                $bind(sqlx::query(sql), args).fetch_optional($executor).await
            }

            async fn fetch_all(
                &mut self,
                sql: &'static str,
                args: Vec<$crate::adapters::sql::Value>,
            ) -> Result<Vec<$row>, sqlx::Error> {
                let $s = self;
                $bind(sqlx::query(sql), args).fetch_all($executor).await
            }
        }
    };
}
pub(crate) use impl_exec;

/// A database backend the generic port code runs on: a cheap, cloneable handle to its pool.
#[async_trait]
pub trait SqlDb: Clone + Send + Sync + 'static {
    /// Its rows.
    type Row: SqlRow;
    /// Its pool, as an [`Exec`].
    type Pool: Exec<Row = Self::Row>;
    /// An open transaction.
    type Tx: Exec<Row = Self::Row>;

    /// The pool (a clone of the shared handle: the connections stay shared).
    fn pool(&self) -> Self::Pool;

    /// Opens a transaction for a read-then-write sequence. SQLite takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so no other writer commits in between and no read lock is ever upgraded.
    ///
    /// # Errors
    /// No connection, or the lock was not granted within the busy timeout.
    async fn begin(&self) -> Result<Self::Tx, sqlx::Error>;

    /// Commits `tx`.
    ///
    /// # Errors
    /// The database refused the commit.
    async fn commit(tx: Self::Tx) -> Result<(), sqlx::Error>;
}

/// The backend name of `D`, for logs, reasons and `/readyz`.
pub(crate) fn backend<D: SqlDb>() -> &'static str {
    <D::Row as SqlRow>::BACKEND
}

/// Runs `sql` on `db`'s pool; a failure of `op` becomes a safe [`Unavailable`].
pub(crate) async fn execute<D: SqlDb>(
    db: &D,
    op: &'static str,
    sql: &'static str,
    args: Vec<Value>,
) -> Result<u64, Unavailable> {
    db.pool().execute(sql, args).await.map_err(|e| unavailable(backend::<D>(), op, &e))
}

/// The first row of `sql` on `db`'s pool, if any.
pub(crate) async fn optional<D: SqlDb>(
    db: &D,
    op: &'static str,
    sql: &'static str,
    args: Vec<Value>,
) -> Result<Option<D::Row>, Unavailable> {
    db.pool().fetch_optional(sql, args).await.map_err(|e| unavailable(backend::<D>(), op, &e))
}

/// The one row of `sql` on `db`'s pool.
pub(crate) async fn one<D: SqlDb>(
    db: &D,
    op: &'static str,
    sql: &'static str,
    args: Vec<Value>,
) -> Result<D::Row, Unavailable> {
    db.pool().fetch_one(sql, args).await.map_err(|e| unavailable(backend::<D>(), op, &e))
}

/// Every row of `sql` on `db`'s pool.
pub(crate) async fn all<D: SqlDb>(
    db: &D,
    op: &'static str,
    sql: &'static str,
    args: Vec<Value>,
) -> Result<Vec<D::Row>, Unavailable> {
    db.pool().fetch_all(sql, args).await.map_err(|e| unavailable(backend::<D>(), op, &e))
}

/// One handle per port on one database. Every handle shares the database's pool; none of them closes it
/// (the database handle does, once, at shutdown).
#[derive(Clone)]
pub struct SqlPorts {
    /// Jobs.
    pub jobs: Arc<dyn JobStore>,
    /// Users, epochs, revocation notices.
    pub accounts: Arc<dyn AccountStore>,
    /// Sessions (production keeps them in Redis; the SQL store serves the local profile and tests).
    pub sessions: Arc<dyn SessionStore>,
    /// Upload metadata.
    pub uploads: Arc<dyn UploadStore>,
    /// The listing-form catalog.
    pub catalog: Arc<dyn CatalogStore>,
    /// Rotation evidence.
    pub rotations: Arc<dyn RotationStore>,
    /// Instance heartbeats.
    pub fleet: Arc<dyn Fleet>,
    /// S3 multipart uploads under way (the production object store's ledger).
    pub multiparts: Arc<dyn MultipartLedger>,
}

impl SqlPorts {
    /// The ports of `db`.
    pub fn new<D>(db: &D) -> Self
    where
        D: accounts::AccountsDialect
            + sessions::SessionsDialect
            + catalog::CatalogDialect
            + rotations::FleetDialect
            + jobs::JobsDialect,
    {
        Self {
            jobs: Arc::new(jobs::SqlJobs::new(db.clone())),
            accounts: Arc::new(accounts::SqlAccounts::new(db.clone())),
            sessions: Arc::new(sessions::SqlSessions::new(db.clone())),
            uploads: Arc::new(uploads::SqlUploads::new(db.clone())),
            catalog: Arc::new(catalog::SqlCatalog::new(db.clone())),
            rotations: Arc::new(rotations::SqlRotations::new(db.clone())),
            fleet: Arc::new(rotations::SqlFleet::new(db.clone())),
            multiparts: Arc::new(multiparts::SqlMultiparts::new(db.clone())),
        }
    }
}

/// A database handle as start-up holds it: closed once, at shutdown, after every port is done with it.
#[async_trait]
pub trait Database: Send + Sync + 'static {
    /// Closes the pool (waits for checked-out connections to come back).
    async fn close(&self);
}
