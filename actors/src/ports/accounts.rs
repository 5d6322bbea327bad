//! The account store port: users, the session not-before epochs (global and per user) and the revocation
//! notices operators keep as evidence. A relational database in both profiles (SQLite, Postgres): these are
//! the durable facts that must survive any restart, cache flush or broker outage.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::Unavailable;

/// A registered user.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// Server-generated (UUID v7).
    pub id: Uuid,
    /// Normalised email (trimmed, lower-case); unique.
    pub email: String,
    /// The argon2id hash in PHC string format (`$argon2id$v=19$m=…`).
    pub password_hash: String,
    /// Registration time.
    pub created_at: OffsetDateTime,
    /// When an operator disabled the account (`None`: enabled). A disabled account cannot log in.
    pub disabled_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User").field("id", &self.id).field("email", &self.email).finish_non_exhaustive()
    }
}

/// The not-before epochs: tokens of sessions created before them are revoked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Epochs {
    /// Global epoch, ms since the Unix epoch (0 = never revoked).
    pub global_ms: i64,
    /// Per-user epochs, ms.
    pub users: HashMap<Uuid, i64>,
}

/// Which sessions a revocation covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationScope {
    /// Every user's sessions.
    All,
    /// One user's sessions.
    User,
}

/// The evidence of one mass revocation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevocationNotice {
    /// Also the id of the job that performed it.
    pub id: Uuid,
    /// All users or one.
    pub scope: RevocationScope,
    /// The user, for `scope = user`.
    pub user_id: Option<Uuid>,
    /// Why (free text from the operator).
    pub reason: String,
    /// Who asked (`admin`, `cli`, a job id, …).
    pub requested_by: String,
    /// Tokens of sessions created before this instant (ms) are rejected.
    pub not_before_ms: i64,
    /// Sessions active when it happened; filled in after the fact (counting is not part of the O(1) path).
    pub active_sessions: Option<u64>,
    /// The operator's message to the users whose sessions it ends (in their 401 `session_revoked`).
    #[serde(default)]
    pub user_message: Option<String>,
    /// Refused requests that carried the message so far (every instance adds its count periodically).
    #[serde(default)]
    pub refused_requests: u64,
    /// When it was recorded.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Errors of the account store.
#[derive(Debug, thiserror::Error)]
pub enum AccountStoreError {
    /// The email is already registered.
    #[error("email already registered")]
    EmailTaken,
    /// The database is unreachable.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// The account store capability.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Stores a new user.
    ///
    /// # Errors
    /// [`AccountStoreError::EmailTaken`] when the (normalised) email exists.
    async fn create_user(&self, user: &User) -> Result<(), AccountStoreError>;

    /// The user with `email` (already normalised).
    ///
    /// # Errors
    /// The database is unreachable.
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, AccountStoreError>;

    /// The user with `id`.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn user_by_id(&self, id: Uuid) -> Result<Option<User>, AccountStoreError>;

    /// Replaces user `id`'s password hash (a password change, or an old hash re-hashed in the current form);
    /// returns whether the user exists.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn set_password_hash(&self, id: Uuid, password_hash: &str) -> Result<bool, AccountStoreError>;

    /// Disables user `id` at `at` (`Some`, keeping an earlier time if it is disabled already) or enables it
    /// (`None`); returns whether the user exists.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn set_disabled(&self, id: Uuid, at: Option<OffsetDateTime>) -> Result<bool, AccountStoreError>;

    /// Deletes a user (ephemeral smoke-test accounts); absent is not an error.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn delete_user(&self, id: Uuid) -> Result<(), AccountStoreError>;

    /// Raises the global epoch (`user = None`) or a user's epoch to `not_before_ms`; never lowers it.
    /// Returns the epoch now stored.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn raise_epoch(&self, user: Option<Uuid>, not_before_ms: i64) -> Result<i64, AccountStoreError>;

    /// All epochs.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn epochs(&self) -> Result<Epochs, AccountStoreError>;

    /// Records a revocation notice alone (one whose evidence needs no job; see
    /// `record_revocation_enqueueing` for one that does).
    ///
    /// # Errors
    /// The database is unreachable.
    async fn record_revocation(&self, notice: &RevocationNotice) -> Result<(), AccountStoreError>;

    /// Fills in the active-session count of a notice.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn set_revocation_count(&self, id: Uuid, active_sessions: u64) -> Result<(), AccountStoreError>;

    /// Adds `refused` to the count of refused requests that carried notice `id`'s message.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn add_refused_requests(&self, id: Uuid, refused: u64) -> Result<(), AccountStoreError>;

    /// The newest `limit` notices, newest first.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn revocations(&self, limit: u32) -> Result<Vec<RevocationNotice>, AccountStoreError>;

    /// Deletes the per-user epochs older than `before_ms` (never the global one): once every session created
    /// before an epoch has reached its absolute expiry, the epoch rejects nothing more. Every instance loads
    /// all epochs into its revocation view, so this keeps that load small. Returns how many went.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn prune_epochs(&self, before_ms: i64) -> Result<u64, AccountStoreError>;

    /// Records a revocation notice and enqueues, in the same transaction, the runner job that completes its
    /// evidence (the count of affected sessions): a crash right after the revocation cannot lose it.
    ///
    /// # Errors
    /// The database is unreachable, or a job with this id exists; then neither is stored.
    async fn record_revocation_enqueueing(
        &self,
        notice: &RevocationNotice,
        job: &super::jobs::NewJob,
    ) -> Result<(), AccountStoreError>;
}
