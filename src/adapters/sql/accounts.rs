//! `AccountStore` on either database, written once; [`AccountsDialect`] holds what differs (the epoch
//! upsert's "keep the higher" word, and how a taken email shows up as a constraint error).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::accounts::{
    AccountStore, AccountStoreError, Epochs, RevocationNotice, RevocationScope, User,
};
use gantry_actors::ports::jobs::{DueSignal, Enqueued, NewJob};
use time::OffsetDateTime;
use uuid::Uuid;

use super::errors::unavailable;
use super::exec::{Exec, SqlDb, all, backend, execute, one, optional};
use super::rows::{Fields, SqlRow};
use super::values::{Value, args, count_to_db};

/// The columns [`user_from_row`] reads (static SQL, see `jobs.rs`).
macro_rules! user_columns {
    () => {
        "id, email, password_hash, created_at, disabled_at"
    };
}

/// The columns [`notice_from_row`] reads.
macro_rules! notice_columns {
    () => {
        "id, scope, user_id, reason, requested_by, not_before_ms, active_sessions, created_at, user_message, \
         refused_requests"
    };
}

/// The key of the global row in `session_epochs` (see `migrations/*/0002_accounts.sql`): the nil UUID, which
/// no user id (v7) can be. A primary key cannot be NULL, and the atomic upsert needs a key to conflict on.
pub(crate) const GLOBAL_EPOCH_KEY: Uuid = Uuid::nil();

/// What the account store's SQL says differently per backend.
pub trait AccountsDialect: SqlDb {
    /// Inserts or raises the epoch `$1` (user key) to `$2` without ever lowering it, returning
    /// `not_before_ms`. One statement, so one transaction: two concurrent raises cannot interleave a read and
    /// a write.
    const RAISE_EPOCH: &'static str;

    /// Whether `err` is the email's unique constraint refusing a duplicate (and not, say, a duplicate id,
    /// which is a bug).
    fn is_email_taken(err: &sqlx::Error) -> bool;
}

/// `AccountStore` on the database `D`.
#[derive(Debug, Clone)]
pub struct SqlAccounts<D> {
    /// The database.
    db: D,
    /// Told after a commit that made jobs due (the runners' wake-up).
    due: Arc<DueSignal>,
}

impl<D: SqlDb> SqlAccounts<D> {
    /// The account store on `db`.
    pub fn new(db: D) -> Self {
        Self { db, due: Arc::default() }
    }

    /// The same store, telling `due` after each commit that made jobs due.
    #[must_use]
    pub fn with_due(mut self, due: Arc<DueSignal>) -> Self {
        self.due = due;
        self
    }
}

#[async_trait]
impl<D: AccountsDialect> AccountStore for SqlAccounts<D> {
    async fn create_user(&self, user: &User) -> Result<(), AccountStoreError> {
        let sql = concat!("INSERT INTO users (", user_columns!(), ") VALUES ($1, $2, $3, $4, $5)");
        let args = args![user.id, &user.email, &user.password_hash, user.created_at, user.disabled_at];
        match self.db.pool().execute(sql, args).await {
            Ok(_) => Ok(()),
            Err(e) if D::is_email_taken(&e) => Err(AccountStoreError::EmailTaken),
            Err(e) => Err(unavailable(backend::<D>(), "create_user", &e).into()),
        }
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, AccountStoreError> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE email = $1");
        let row = optional(&self.db, "user_by_email", sql, args![email]).await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn user_by_id(&self, id: Uuid) -> Result<Option<User>, AccountStoreError> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
        let row = optional(&self.db, "user_by_id", sql, args![id]).await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn set_password_hash(&self, id: Uuid, password_hash: &str) -> Result<bool, AccountStoreError> {
        let sql = "UPDATE users SET password_hash = $2 WHERE id = $1";
        Ok(execute(&self.db, "set_password_hash", sql, args![id, password_hash]).await? == 1)
    }

    async fn set_disabled(&self, id: Uuid, at: Option<OffsetDateTime>) -> Result<bool, AccountStoreError> {
        // Disabling twice keeps the first time (COALESCE); enabling clears it.
        let sql = match at {
            Some(_) => "UPDATE users SET disabled_at = COALESCE(disabled_at, $2) WHERE id = $1",
            None => "UPDATE users SET disabled_at = $2 WHERE id = $1",
        };
        Ok(execute(&self.db, "set_disabled", sql, args![id, at]).await? == 1)
    }

    async fn delete_user(&self, id: Uuid) -> Result<(), AccountStoreError> {
        // The user's epoch row stays (see the migration): it costs nothing and keeps old tokens rejected.
        execute(&self.db, "delete_user", "DELETE FROM users WHERE id = $1", args![id]).await?;
        Ok(())
    }

    async fn raise_epoch(&self, user: Option<Uuid>, not_before_ms: i64) -> Result<i64, AccountStoreError> {
        let args = args![user.unwrap_or(GLOBAL_EPOCH_KEY), not_before_ms];
        let row = one(&self.db, "raise_epoch", D::RAISE_EPOCH, args).await?;
        Ok(Fields::new(&row, "epoch").int("not_before_ms")?)
    }

    async fn epochs(&self) -> Result<Epochs, AccountStoreError> {
        let rows = all(&self.db, "epochs", "SELECT user_id, not_before_ms FROM session_epochs", Vec::new()).await?;
        let mut epochs = Epochs { global_ms: 0, users: HashMap::with_capacity(rows.len()) };
        for row in &rows {
            let f = Fields::new(row, "epoch");
            let (key, not_before_ms) = (f.uuid("user_id")?, f.int("not_before_ms")?);
            if key == GLOBAL_EPOCH_KEY {
                epochs.global_ms = not_before_ms;
            } else {
                epochs.users.insert(key, not_before_ms);
            }
        }
        Ok(epochs)
    }

    async fn record_revocation(&self, notice: &RevocationNotice) -> Result<(), AccountStoreError> {
        let (sql, args) = notice_statement(notice);
        execute(&self.db, "record_revocation", sql, args).await?;
        Ok(())
    }

    async fn record_revocation_enqueueing(
        &self,
        notice: &RevocationNotice,
        job: &NewJob,
    ) -> Result<(), AccountStoreError> {
        let (sql, args) = notice_statement(notice);
        let failed = |e: sqlx::Error| AccountStoreError::from(unavailable(backend::<D>(), "record_revocation", &e));
        let mut tx = self.db.begin().await.map_err(failed)?;
        tx.execute(sql, args).await.map_err(failed)?;
        if super::jobs::enqueue_on(&mut tx, job).await.map_err(failed)? == Enqueued::Duplicate {
            // Dropping the transaction rolls the notice back.
            return Err(Unavailable::new("a job with this id exists").into());
        }
        D::commit(tx).await.map_err(failed)?;
        self.due.enqueued(job, true);
        Ok(())
    }

    async fn set_revocation_count(&self, id: Uuid, active_sessions: u64) -> Result<(), AccountStoreError> {
        let sql = "UPDATE session_revocations SET active_sessions = $2 WHERE id = $1";
        execute(&self.db, "set_revocation_count", sql, args![id, count_to_db(active_sessions)]).await?;
        Ok(())
    }

    async fn add_refused_requests(&self, id: Uuid, refused: u64) -> Result<(), AccountStoreError> {
        let sql = "UPDATE session_revocations SET refused_requests = refused_requests + $2 WHERE id = $1";
        execute(&self.db, "add_refused_requests", sql, args![id, count_to_db(refused)]).await?;
        Ok(())
    }

    async fn prune_epochs(&self, before_ms: i64) -> Result<u64, AccountStoreError> {
        let sql = "DELETE FROM session_epochs WHERE user_id <> $1 AND not_before_ms < $2";
        Ok(execute(&self.db, "prune_epochs", sql, args![GLOBAL_EPOCH_KEY, before_ms]).await?)
    }

    async fn revocations(&self, limit: u32) -> Result<Vec<RevocationNotice>, AccountStoreError> {
        // Ties on the timestamp fall back to the id, whose v7 prefix is also the creation time.
        let sql = concat!(
            "SELECT ",
            notice_columns!(),
            " FROM session_revocations ORDER BY created_at DESC, id DESC LIMIT $1"
        );
        let rows = all(&self.db, "revocations", sql, args![i64::from(limit)]).await?;
        Ok(rows.iter().map(notice_from_row).collect::<Result<_, _>>()?)
    }
}

/// The statement storing `notice`.
fn notice_statement(notice: &RevocationNotice) -> (&'static str, Vec<Value>) {
    let sql = concat!(
        "INSERT INTO session_revocations (",
        notice_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    );
    let args = args![
        notice.id,
        scope_str(notice.scope),
        notice.user_id,
        &notice.reason,
        &notice.requested_by,
        notice.not_before_ms,
        notice.active_sessions.map(count_to_db),
        notice.created_at,
        notice.user_message.as_deref(),
        count_to_db(notice.refused_requests),
    ];
    (sql, args)
}

/// Reads a user from a row selected with [`user_columns!`].
fn user_from_row<R: SqlRow>(row: &R) -> Result<User, Unavailable> {
    let f = Fields::new(row, "user");
    Ok(User {
        id: f.uuid("id")?,
        email: f.text("email")?,
        password_hash: f.text("password_hash")?,
        created_at: f.time("created_at")?,
        disabled_at: f.opt_time("disabled_at")?,
    })
}

/// Reads a revocation notice from a row selected with [`notice_columns!`].
fn notice_from_row<R: SqlRow>(row: &R) -> Result<RevocationNotice, Unavailable> {
    let f = Fields::new(row, "notice");
    Ok(RevocationNotice {
        id: f.uuid("id")?,
        scope: f.parse("scope", parse_scope)?,
        user_id: f.opt_uuid("user_id")?,
        reason: f.text("reason")?,
        requested_by: f.text("requested_by")?,
        not_before_ms: f.int("not_before_ms")?,
        active_sessions: f.opt_count("active_sessions")?,
        created_at: f.time("created_at")?,
        user_message: f.opt_text("user_message")?,
        refused_requests: f.count("refused_requests")?,
    })
}

/// The stored spelling of a revocation scope (the port's serde spelling; the migrations check it).
fn scope_str(scope: RevocationScope) -> &'static str {
    match scope {
        RevocationScope::All => "all",
        RevocationScope::User => "user",
    }
}

/// Reads a stored revocation scope.
fn parse_scope(stored: &str) -> Option<RevocationScope> {
    match stored {
        "all" => Some(RevocationScope::All),
        "user" => Some(RevocationScope::User),
        _ => None,
    }
}
