//! Where statements run: the [`Exec`] seam (a pool or a transaction) with its [`impl_exec!`] for each
//! backend, the [`SqlDb`] handle the generic port code runs on, and the pool helpers ([`execute`],
//! [`optional`], [`one`], [`all`]) that turn a failure into a safe [`Unavailable`].

use async_trait::async_trait;
use gantry_actors::ports::Unavailable;

use super::errors::unavailable;
use super::rows::SqlRow;
use super::values::Value;

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
        impl $crate::adapters::sql::exec::Exec for $target {
            type Row = $row;

            async fn execute(
                &mut self,
                sql: &'static str,
                args: Vec<$crate::adapters::sql::values::Value>,
            ) -> Result<u64, sqlx::Error> {
                let $s = self;
                Ok($bind(sqlx::query(sql), args).execute($executor).await?.rows_affected())
            }

            async fn fetch_optional(
                &mut self,
                sql: &'static str,
                args: Vec<$crate::adapters::sql::values::Value>,
            ) -> Result<Option<$row>, sqlx::Error> {
                let $s = self;
                $bind(sqlx::query(sql), args).fetch_optional($executor).await
            }

            async fn fetch_all(
                &mut self,
                sql: &'static str,
                args: Vec<$crate::adapters::sql::values::Value>,
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
