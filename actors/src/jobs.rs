//! The jobs owner: the one way the gateway and the CLI read and control jobs (`GET /v1/jobs/{id}`,
//! `/admin/jobs…`, `gantry jobs …`). Reads and operator changes are single guarded statements in the job
//! store, so they need no mailbox to queue behind; running jobs is the [`runner`]'s work, and what each
//! kind does is in [`kinds`].

pub mod kinds;
pub mod runner;
pub mod waker;

use std::sync::Arc;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::ports::jobs::{Attempt, JobCount, JobFilter, JobState, JobStore, JobStoreError};

pub use crate::ports::jobs::Job;

/// The most jobs one list returns.
pub const MAX_LIST: u32 = 500;

/// Why a job could not be read or changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// No job has that id.
    #[error("job not found")]
    NotFound,
    /// The job is in a state the operation does not apply to (or is a record-only job).
    #[error("job is {}", .0.as_str())]
    WrongState(JobState),
    /// Retrying would make a second live job with the job's unique key; `holder` is the live job holding it
    /// (`None` only if holders kept finishing while the store looked).
    #[error("another live job holds this job's unique key")]
    KeyTaken {
        /// The live job holding the key.
        holder: Option<Uuid>,
    },
    /// The job store is unreachable.
    #[error("job store unavailable: {0}")]
    Unavailable(String),
}

impl From<JobStoreError> for JobError {
    fn from(err: JobStoreError) -> Self {
        match err {
            JobStoreError::NotFound(_) => Self::NotFound,
            JobStoreError::WrongState { state, .. } => Self::WrongState(state),
            JobStoreError::KeyTaken { holder, .. } => Self::KeyTaken { holder },
            JobStoreError::Unavailable(reason) => Self::Unavailable(reason.0),
        }
    }
}

/// A job with its finished attempts (the admin view).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct JobDetail {
    /// The job.
    #[serde(flatten)]
    pub job: Job,
    /// Its finished attempts, in order.
    pub attempts: Vec<Attempt>,
}

/// The jobs owner. Cheap to clone.
#[derive(Clone)]
pub struct Jobs {
    /// Where jobs are recorded.
    store: Arc<dyn JobStore>,
}

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jobs").field("backend", &self.store.backend()).finish()
    }
}

impl Jobs {
    /// The owner of the jobs in `store`.
    #[must_use]
    pub fn new(store: Arc<dyn JobStore>) -> Self {
        Self { store }
    }

    /// Job `id`, or `None` when there is no such job.
    ///
    /// # Errors
    /// [`JobError::Unavailable`].
    pub async fn get(&self, id: Uuid) -> Result<Option<Job>, JobError> {
        match self.store.get(id).await {
            Ok(job) => Ok(job),
            Err(JobStoreError::NotFound(_)) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Job `id` with its attempts.
    ///
    /// # Errors
    /// [`JobError::NotFound`], [`JobError::Unavailable`].
    pub async fn detail(&self, id: Uuid) -> Result<JobDetail, JobError> {
        let job = self.get(id).await?.ok_or(JobError::NotFound)?;
        let attempts = self.store.attempts(id).await?;
        Ok(JobDetail { job, attempts })
    }

    /// Jobs matching `filter` (newest first, at most [`MAX_LIST`]).
    ///
    /// # Errors
    /// [`JobError::Unavailable`].
    pub async fn list(&self, mut filter: JobFilter) -> Result<Vec<Job>, JobError> {
        filter.limit = filter.limit.clamp(1, MAX_LIST);
        Ok(self.store.list(&filter).await?)
    }

    /// How many jobs there are per queue, kind and state (every stored job, not a page of them).
    ///
    /// # Errors
    /// [`JobError::Unavailable`].
    pub async fn counts(&self) -> Result<Vec<JobCount>, JobError> {
        Ok(self.store.counts().await?)
    }

    /// Makes a discarded, cancelled or retryable job due now.
    ///
    /// # Errors
    /// [`JobError::NotFound`], [`JobError::WrongState`], [`JobError::KeyTaken`], [`JobError::Unavailable`].
    pub async fn retry(&self, id: Uuid) -> Result<Job, JobError> {
        let job = self.store.retry(id, OffsetDateTime::now_utc()).await?;
        tracing::info!(event = "job_retried", job_id = %id, kind = job.kind, "job made due again by an operator");
        Ok(job)
    }

    /// Cancels a job that has not finished.
    ///
    /// # Errors
    /// [`JobError::NotFound`], [`JobError::WrongState`], [`JobError::Unavailable`].
    pub async fn cancel(&self, id: Uuid) -> Result<Job, JobError> {
        let job = self.store.cancel(id, OffsetDateTime::now_utc()).await?;
        metrics::counter!("gantry_jobs_cancelled_total", "kind" => job.kind.clone(), "queue" => job.queue.clone())
            .increment(1);
        tracing::info!(event = "job_cancelled", job_id = %id, kind = job.kind, "job cancelled by an operator");
        Ok(job)
    }
}
