//! The job store port and the job type: long-running work (mass logout, uploads, rotations) is recorded as
//! a job so clients and operators can follow it at `GET /v1/jobs/{id}`.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::Unavailable;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Accepted, not started.
    Queued,
    /// Started.
    Running,
    /// Finished successfully; `result` holds the outcome.
    Succeeded,
    /// Finished unsuccessfully; `error` holds the reason.
    Failed,
}

impl JobState {
    /// The stored spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// Parses the stored spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "queued" => Some(Self::Queued),
            "running" => Some(Self::Running),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }

    /// Whether the job has ended.
    #[must_use]
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Server-generated (UUID v7, so ids sort by creation).
    pub id: Uuid,
    /// What kind of work (`sessions.revoke_all`, `upload`, `secrets.rotate`, …).
    pub kind: String,
    /// Current state.
    pub state: JobState,
    /// Free-form progress (current step, percentages); `null` until the job reports any.
    pub progress: serde_json::Value,
    /// The outcome of a succeeded job.
    pub result: Option<serde_json::Value>,
    /// The reason a job failed; safe to show (no secrets, no SQL).
    pub error: Option<String>,
    /// Who asked for it (a user id, `admin`, `guest:<token id>`), for access checks.
    pub owner: Option<String>,
    /// When it was accepted.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Job {
    /// A new queued job of `kind` owned by `owner`.
    #[must_use]
    pub fn new(kind: impl Into<String>, owner: Option<String>) -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            id: Uuid::now_v7(),
            kind: kind.into(),
            state: JobState::Queued,
            progress: serde_json::Value::Null,
            result: None,
            error: None,
            owner,
            created_at: now,
            updated_at: now,
        }
    }
}

/// A change to a stored job: the fields that are `Some` are replaced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobUpdate {
    /// New state.
    pub state: Option<JobState>,
    /// New progress.
    pub progress: Option<serde_json::Value>,
    /// New result.
    pub result: Option<serde_json::Value>,
    /// New error.
    pub error: Option<String>,
}

/// Errors of the job store.
#[derive(Debug, thiserror::Error)]
pub enum JobStoreError {
    /// No job has that id.
    #[error("job {0} not found")]
    NotFound(Uuid),
    /// The database is unreachable.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// The job store capability.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Stores a new job.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn create(&self, job: &Job) -> Result<(), JobStoreError>;

    /// The job with `id`, if any.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn get(&self, id: Uuid) -> Result<Option<Job>, JobStoreError>;

    /// Applies `update` and returns the job as stored afterwards.
    ///
    /// # Errors
    /// [`JobStoreError::NotFound`] for an unknown id; the database is unreachable.
    async fn update(&self, id: Uuid, update: JobUpdate) -> Result<Job, JobStoreError>;

    /// Round-trips to the database.
    ///
    /// # Errors
    /// Why the database is not usable.
    async fn health(&self) -> Result<(), Unavailable>;

    /// The backend's name for `/readyz` (`sqlite`, `postgres`).
    fn backend(&self) -> &'static str;
}
