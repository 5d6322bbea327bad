//! `JobStore`, `AccountStore`, `UploadStore` and `CatalogStore` on PostgreSQL (production). Same semantics as the
//! SQLite adapter; the start-up error, the safe mapping of `sqlx` errors and the stored spellings are shared with it (they live in
//! `sqlite.rs`).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use gantry_actors::catalog::OptionKind;
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::accounts::{AccountStore, AccountStoreError, Epochs, RevocationNotice, User};
use gantry_actors::ports::catalog::{CatalogOption, CatalogStore, Created};
use gantry_actors::ports::jobs::{Job, JobState, JobStore, JobStoreError, JobUpdate};
use gantry_actors::ports::rotations::{Fleet, RotationRecord, RotationStore};
use gantry_actors::ports::uploads::{UploadRecord, UploadStatus, UploadStore};
use secrecy::{ExposeSecret, SecretString};
use sqlx::Row;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use time::OffsetDateTime;
use uuid::Uuid;

pub use super::sqlite::DbError;
use super::sqlite::{
    GLOBAL_EPOCH_KEY, count_to_db, database_code, migrate_reason, parse_scope, scope_str, sqlx_reason, unavailable,
};

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

/// SQLSTATE `unique_violation`.
const UNIQUE_VIOLATION: &str = "23505";
/// The email's unique constraint, named in `migrations/postgres/0002_accounts.sql`: only a violation of this
/// one is `EmailTaken` (a duplicate primary key is a bug, not a taken email).
const USERS_EMAIL_KEY: &str = "users_email_key";

/// The Postgres migrations, embedded at compile time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// `JobStore`, `AccountStore`, `UploadStore` and `CatalogStore` on PostgreSQL.
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
        .bind(OffsetDateTime::now_utc())
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

#[async_trait]
impl AccountStore for PostgresDb {
    async fn create_user(&self, user: &User) -> Result<(), AccountStoreError> {
        let inserted = sqlx::query("INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)")
            .bind(user.id)
            .bind(&user.email)
            .bind(&user.password_hash)
            .bind(user.created_at)
            .execute(&self.pool)
            .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if is_email_taken(&e) => Err(AccountStoreError::EmailTaken),
            Err(e) => Err(unavailable("postgres", "create_user", &e).into()),
        }
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, AccountStoreError> {
        let row = sqlx::query(concat!("SELECT ", user_columns!(), " FROM users WHERE email = $1"))
            .bind(email)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unavailable("postgres", "user_by_email", &e))?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn user_by_id(&self, id: Uuid) -> Result<Option<User>, AccountStoreError> {
        let row = sqlx::query(concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unavailable("postgres", "user_by_id", &e))?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn delete_user(&self, id: Uuid) -> Result<(), AccountStoreError> {
        // The user's epoch row stays (see the migration): it costs nothing and keeps old tokens rejected.
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| unavailable("postgres", "delete_user", &e))?;
        Ok(())
    }

    async fn raise_epoch(&self, user: Option<Uuid>, not_before_ms: i64) -> Result<i64, AccountStoreError> {
        // One statement: `ON CONFLICT DO UPDATE` takes the row lock, so a concurrent raise waits and then
        // compares against the committed value; GREATEST never lowers it.
        let stored: i64 = sqlx::query_scalar(
            "INSERT INTO session_epochs (user_id, not_before_ms) VALUES ($1, $2) \
             ON CONFLICT (user_id) DO UPDATE \
             SET not_before_ms = GREATEST(session_epochs.not_before_ms, EXCLUDED.not_before_ms) \
             RETURNING not_before_ms",
        )
        .bind(user.unwrap_or(GLOBAL_EPOCH_KEY))
        .bind(not_before_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| unavailable("postgres", "raise_epoch", &e))?;
        Ok(stored)
    }

    async fn epochs(&self) -> Result<Epochs, AccountStoreError> {
        let rows: Vec<(Uuid, i64)> = sqlx::query_as("SELECT user_id, not_before_ms FROM session_epochs")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| unavailable("postgres", "epochs", &e))?;
        let mut epochs = Epochs { global_ms: 0, users: HashMap::with_capacity(rows.len()) };
        for (key, not_before_ms) in rows {
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(notice.id)
        .bind(scope_str(notice.scope))
        .bind(notice.user_id)
        .bind(&notice.reason)
        .bind(&notice.requested_by)
        .bind(notice.not_before_ms)
        .bind(notice.active_sessions.map(count_to_db))
        .bind(notice.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| unavailable("postgres", "record_revocation", &e))?;
        Ok(())
    }

    async fn set_revocation_count(&self, id: Uuid, active_sessions: u64) -> Result<(), AccountStoreError> {
        sqlx::query("UPDATE session_revocations SET active_sessions = $2 WHERE id = $1")
            .bind(id)
            .bind(count_to_db(active_sessions))
            .execute(&self.pool)
            .await
            .map_err(|e| unavailable("postgres", "set_revocation_count", &e))?;
        Ok(())
    }

    async fn revocations(&self, limit: u32) -> Result<Vec<RevocationNotice>, AccountStoreError> {
        // Ties on the timestamp fall back to the id, whose v7 prefix is also the creation time.
        let rows = sqlx::query(concat!(
            "SELECT ",
            notice_columns!(),
            " FROM session_revocations ORDER BY created_at DESC, id DESC LIMIT $1"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| unavailable("postgres", "revocations", &e))?;
        Ok(rows.iter().map(notice_from_row).collect::<Result<_, _>>()?)
    }
}

/// Upload metadata on PostgreSQL.
#[async_trait]
impl UploadStore for PostgresDb {
    async fn create_upload(&self, upload: &UploadRecord) -> Result<(), Unavailable> {
        sqlx::query(concat!(
            "INSERT INTO uploads (",
            upload_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(upload.id)
        .bind(&upload.owner)
        .bind(&upload.object_key)
        .bind(upload.filename.as_deref())
        .bind(&upload.content_type)
        .bind(count_to_db(upload.size))
        .bind(&upload.sha256)
        .bind(upload.status.as_str())
        .bind(upload.error.as_deref())
        .bind(upload.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| unavailable("postgres", "create_upload", &e))?;
        Ok(())
    }

    async fn update_upload(&self, upload: &UploadRecord) -> Result<(), Unavailable> {
        // Only what changes during an upload's life: the id, owner, object key and start time are fixed when
        // it is created (the owner decides access, so an update must not move the upload to someone else).
        // An unknown id updates nothing, as the port has no `NotFound` to report.
        sqlx::query(
            "UPDATE uploads SET filename = $2, content_type = $3, size = $4, sha256 = $5, status = $6, error = $7 \
             WHERE id = $1",
        )
        .bind(upload.id)
        .bind(upload.filename.as_deref())
        .bind(&upload.content_type)
        .bind(count_to_db(upload.size))
        .bind(&upload.sha256)
        .bind(upload.status.as_str())
        .bind(upload.error.as_deref())
        .execute(&self.pool)
        .await
        .map_err(|e| unavailable("postgres", "update_upload", &e))?;
        Ok(())
    }

    async fn get_upload(&self, id: Uuid) -> Result<Option<UploadRecord>, Unavailable> {
        let row = sqlx::query(concat!("SELECT ", upload_columns!(), " FROM uploads WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unavailable("postgres", "get_upload", &e))?;
        row.as_ref().map(upload_from_row).transpose()
    }

    async fn delete_upload(&self, id: Uuid) -> Result<(), Unavailable> {
        sqlx::query("DELETE FROM uploads WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| unavailable("postgres", "delete_upload", &e))?;
        Ok(())
    }

    async fn count_uploads(&self, owner: &str) -> Result<u64, Unavailable> {
        // The owner is the leading column of `uploads_owner_created_at_idx`, so this reads only that owner's
        // rows. The statuses that count are listed (rather than `<> 'failed'`) so that a status added later stays
        // out of the quota until someone decides otherwise.
        let count: i64 =
            sqlx::query_scalar("SELECT count(*) FROM uploads WHERE owner = $1 AND status IN ('receiving', 'stored')")
                .bind(owner)
                .fetch_one(&self.pool)
                .await
                .map_err(|e| unavailable("postgres", "count_uploads", &e))?;
        // `count(*)` is never negative.
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn stale_uploads(
        &self,
        started_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<UploadRecord>, Unavailable> {
        // The status is a literal, not a bound parameter, so that a generic prepared plan can still use the
        // partial index of `migrations/postgres/0004_uploads_stale.sql`. Ties fall back to the id (v7).
        let rows = sqlx::query(concat!(
            "SELECT ",
            upload_columns!(),
            " FROM uploads WHERE status = 'receiving' AND created_at < $1 ORDER BY created_at, id LIMIT $2"
        ))
        .bind(started_before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| unavailable("postgres", "stale_uploads", &e))?;
        rows.iter().map(upload_from_row).collect()
    }
}

/// The listing-form catalog on PostgreSQL.
#[async_trait]
impl CatalogStore for PostgresDb {
    async fn list_options(&self, kind: OptionKind, parent: Option<Uuid>) -> Result<Vec<CatalogOption>, Unavailable> {
        // Two statements rather than one with `IS NOT DISTINCT FROM`, which no index serves: each spells a
        // plain predicate on the leading columns of `catalog_options_listing_idx`, whose third column (byte
        // order, see the migration) gives the order.
        let rows = match parent {
            None => {
                sqlx::query(concat!(
                    "SELECT ",
                    option_columns!(),
                    " FROM catalog_options WHERE kind = $1 AND parent_id IS NULL ORDER BY search_key, id"
                ))
                .bind(kind.as_str())
                .fetch_all(&self.pool)
                .await
            }
            Some(parent) => {
                sqlx::query(concat!(
                    "SELECT ",
                    option_columns!(),
                    " FROM catalog_options WHERE kind = $1 AND parent_id = $2 ORDER BY search_key, id"
                ))
                .bind(kind.as_str())
                .bind(parent)
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(|e| unavailable("postgres", "list_options", &e))?;
        rows.iter().map(option_from_row).collect()
    }

    async fn get_option(&self, id: Uuid) -> Result<Option<CatalogOption>, Unavailable> {
        let row = sqlx::query(concat!("SELECT ", option_columns!(), " FROM catalog_options WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unavailable("postgres", "get_option", &e))?;
        row.as_ref().map(option_from_row).transpose()
    }

    async fn create_option(&self, option: &CatalogOption) -> Result<Created, Unavailable> {
        let failed = |e: sqlx::Error| unavailable("postgres", "create_option", &e);
        // One READ COMMITTED transaction. A concurrent create of the same name makes the insert wait for that
        // transaction: if it commits, the insert does nothing, and the SELECT below (a new snapshot) sees its
        // row; if it rolls back, this insert goes ahead. The version row is locked by the UPDATE until commit,
        // so bumps never overlap, and it is always the last lock taken, so creates cannot deadlock.
        let mut tx = self.pool.begin().await.map_err(failed)?;
        // The conflict target is the expression list of `catalog_options_name_key_idx`: only a duplicate name
        // is "already there"; a duplicate id still fails loudly.
        let inserted = sqlx::query(concat!(
            "INSERT INTO catalog_options (",
            option_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (kind, COALESCE(parent_id, '00000000-0000-0000-0000-000000000000'::uuid), name_key) \
             DO NOTHING RETURNING ",
            option_columns!()
        ))
        .bind(option.id)
        .bind(option.kind.as_str())
        .bind(option.parent_id)
        .bind(&option.name)
        .bind(&option.name_key)
        .bind(&option.search_key)
        .bind(option.has_engine)
        .bind(option.created_at)
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
                    " FROM catalog_options WHERE kind = $1 \
                      AND COALESCE(parent_id, '00000000-0000-0000-0000-000000000000'::uuid) \
                        = COALESCE($2, '00000000-0000-0000-0000-000000000000'::uuid) \
                      AND name_key = $3"
                ))
                .bind(option.kind.as_str())
                .bind(option.parent_id)
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
            .map_err(|e| unavailable("postgres", "catalog_version", &e))?;
        catalog_version_from_db(version)
    }

    async fn catalog_id(&self) -> Result<String, Unavailable> {
        sqlx::query_scalar("SELECT catalog_id::text FROM catalog_meta")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| unavailable("postgres", "catalog_id", &e))
    }

    async fn load_templates(&self) -> Result<Option<String>, Unavailable> {
        sqlx::query_scalar("SELECT document FROM catalog_templates WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unavailable("postgres", "load_templates", &e))
    }

    async fn save_templates(&self, document: &str) -> Result<u64, Unavailable> {
        let failed = |e: sqlx::Error| unavailable("postgres", "save_templates", &e);
        let mut tx = self.pool.begin().await.map_err(failed)?;
        sqlx::query(
            "INSERT INTO catalog_templates (id, document, updated_at) VALUES (1, $1, now()) \
             ON CONFLICT (id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at",
        )
        .bind(document)
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
        // The row lock on catalog_meta orders this change with concurrent option creates.
        let version: i64 = sqlx::query_scalar("UPDATE catalog_meta SET version = version + 1 RETURNING version")
            .fetch_one(&mut *tx)
            .await
            .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        catalog_version_from_db(version)
    }
}

#[async_trait]
impl RotationStore for PostgresDb {
    async fn save_rotation(&self, record: &RotationRecord) -> Result<(), Unavailable> {
        let detail = serde_json::to_string(record).map_err(|e| Unavailable::new(e.to_string()))?;
        sqlx::query(
            "INSERT INTO rotations (id, kind, deployment_id, commit_sha, requested_by, outcome, failed_step, reason, \
             detail, started_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (id) DO UPDATE SET outcome = excluded.outcome, failed_step = excluded.failed_step, \
             reason = excluded.reason, detail = excluded.detail, finished_at = excluded.finished_at",
        )
        .bind(record.id)
        .bind(&record.kind)
        .bind(record.deployment_id.as_deref())
        .bind(record.commit_sha.as_deref())
        .bind(&record.requested_by)
        .bind(&record.outcome)
        .bind(record.failed_step.as_deref())
        .bind(record.reason.as_deref())
        .bind(detail)
        .bind(record.started_at)
        .bind(record.finished_at)
        .execute(&self.pool)
        .await
        .map_err(|e| unavailable("postgres", "save_rotation", &e))?;
        Ok(())
    }

    async fn rotations(&self, limit: u32) -> Result<Vec<RotationRecord>, Unavailable> {
        let rows: Vec<String> = sqlx::query_scalar("SELECT detail FROM rotations ORDER BY started_at DESC LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| unavailable("postgres", "rotations", &e))?;
        rows.iter()
            .map(|d| serde_json::from_str(d).map_err(|_| Unavailable::new("stored rotation record is corrupt")))
            .collect()
    }

    async fn rotation(&self, id: Uuid) -> Result<Option<RotationRecord>, Unavailable> {
        let row: Option<String> = sqlx::query_scalar("SELECT detail FROM rotations WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unavailable("postgres", "rotation", &e))?;
        row.map(|d| serde_json::from_str(&d).map_err(|_| Unavailable::new("stored rotation record is corrupt")))
            .transpose()
    }
}

#[async_trait]
impl Fleet for PostgresDb {
    async fn heartbeat(&self, instance: Uuid) -> Result<(), Unavailable> {
        sqlx::query(
            "INSERT INTO instances (id, last_seen) VALUES ($1, now()) ON CONFLICT (id) DO UPDATE SET last_seen = now()",
        )
        .bind(instance)
        .execute(&self.pool)
        .await
        .map_err(|e| unavailable("postgres", "heartbeat", &e))?;
        Ok(())
    }

    async fn live_instances(&self, within: Duration) -> Result<Vec<Uuid>, Unavailable> {
        let millis = i64::try_from(within.as_millis()).unwrap_or(i64::MAX);
        sqlx::query_scalar(
            "SELECT id FROM instances WHERE last_seen > now() - make_interval(secs => $1::float8 / 1000) ORDER BY id",
        )
        .bind(millis)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| unavailable("postgres", "live_instances", &e))
    }

    async fn leave(&self, instance: Uuid) -> Result<(), Unavailable> {
        sqlx::query("DELETE FROM instances WHERE id = $1")
            .bind(instance)
            .execute(&self.pool)
            .await
            .map_err(|e| unavailable("postgres", "leave", &e))?;
        Ok(())
    }
}

/// Reads a catalog option from a row selected with [`option_columns!`].
fn option_from_row(row: &PgRow) -> Result<CatalogOption, Unavailable> {
    let read = |e: sqlx::Error| unavailable("postgres", "read", &e);
    let kind: String = row.try_get("kind").map_err(read)?;
    Ok(CatalogOption {
        id: row.try_get("id").map_err(read)?,
        kind: OptionKind::parse(&kind).ok_or_else(|| {
            // The check constraint makes this unreachable unless the schema and the code disagree.
            tracing::debug!(backend = "postgres", column = "kind", "stored option has an unknown kind");
            Unavailable::new("stored option has an unreadable kind")
        })?,
        parent_id: row.try_get("parent_id").map_err(read)?,
        name: row.try_get("name").map_err(read)?,
        name_key: row.try_get("name_key").map_err(read)?,
        search_key: row.try_get("search_key").map_err(read)?,
        has_engine: row.try_get("has_engine").map_err(read)?,
        created_at: row.try_get("created_at").map_err(read)?,
    })
}

/// The catalog version as the port carries it (the migration's check keeps the stored one non-negative).
fn catalog_version_from_db(version: i64) -> Result<u64, Unavailable> {
    u64::try_from(version).map_err(|_| {
        tracing::debug!(backend = "postgres", column = "version", "stored catalog version is negative");
        Unavailable::new("stored catalog has an unreadable version")
    })
}

/// Whether `err` is the email's unique constraint refusing a duplicate.
fn is_email_taken(err: &sqlx::Error) -> bool {
    database_code(err).as_deref() == Some(UNIQUE_VIOLATION)
        && err.as_database_error().and_then(|db| db.constraint()) == Some(USERS_EMAIL_KEY)
}

/// Reads a user from a row selected with [`user_columns!`].
fn user_from_row(row: &PgRow) -> Result<User, Unavailable> {
    let read = |e: sqlx::Error| unavailable("postgres", "read", &e);
    Ok(User {
        id: row.try_get("id").map_err(read)?,
        email: row.try_get("email").map_err(read)?,
        password_hash: row.try_get("password_hash").map_err(read)?,
        created_at: row.try_get("created_at").map_err(read)?,
    })
}

/// Reads a revocation notice from a row selected with [`notice_columns!`].
fn notice_from_row(row: &PgRow) -> Result<RevocationNotice, Unavailable> {
    let read = |e: sqlx::Error| unavailable("postgres", "read", &e);
    // The check constraints make both failures unreachable unless the schema and the code disagree.
    let unreadable = |column: &'static str| {
        tracing::debug!(backend = "postgres", column, "stored notice has an unreadable column");
        Unavailable::new(format!("stored notice has an unreadable {column}"))
    };
    let scope: String = row.try_get("scope").map_err(read)?;
    let active_sessions: Option<i64> = row.try_get("active_sessions").map_err(read)?;
    Ok(RevocationNotice {
        id: row.try_get("id").map_err(read)?,
        scope: parse_scope(&scope).ok_or_else(|| unreadable("scope"))?,
        user_id: row.try_get("user_id").map_err(read)?,
        reason: row.try_get("reason").map_err(read)?,
        requested_by: row.try_get("requested_by").map_err(read)?,
        not_before_ms: row.try_get("not_before_ms").map_err(read)?,
        active_sessions: active_sessions
            .map(|n| u64::try_from(n).map_err(|_| unreadable("active_sessions")))
            .transpose()?,
        created_at: row.try_get("created_at").map_err(read)?,
    })
}

/// Reads an upload from a row selected with [`upload_columns!`].
fn upload_from_row(row: &PgRow) -> Result<UploadRecord, Unavailable> {
    let read = |e: sqlx::Error| unavailable("postgres", "read", &e);
    // The check constraints make both failures unreachable unless the schema and the code disagree.
    let unreadable = |column: &'static str| {
        tracing::debug!(backend = "postgres", column, "stored upload has an unreadable column");
        Unavailable::new(format!("stored upload has an unreadable {column}"))
    };
    let size: i64 = row.try_get("size").map_err(read)?;
    let status: String = row.try_get("status").map_err(read)?;
    Ok(UploadRecord {
        id: row.try_get("id").map_err(read)?,
        owner: row.try_get("owner").map_err(read)?,
        object_key: row.try_get("object_key").map_err(read)?,
        filename: row.try_get("filename").map_err(read)?,
        content_type: row.try_get("content_type").map_err(read)?,
        size: u64::try_from(size).map_err(|_| unreadable("size"))?,
        sha256: row.try_get("sha256").map_err(read)?,
        status: UploadStatus::parse(&status).ok_or_else(|| unreadable("status"))?,
        error: row.try_get("error").map_err(read)?,
        created_at: row.try_get("created_at").map_err(read)?,
    })
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
