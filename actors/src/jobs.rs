//! The jobs owner: the one way the gateway reads jobs (`GET /v1/jobs/{id}`, `GET /admin/jobs/{id}`). Jobs are
//! written by the actors that run them (the upload pipeline, the session registry, rotations); this owner is
//! where a job runner will live (issue 13). Today it is a thin handle over the job store: reads need no
//! serialisation, so there is no mailbox to queue them behind.

use std::sync::Arc;

use uuid::Uuid;

use crate::ports::jobs::{JobStore, JobStoreError};

pub use crate::ports::jobs::Job;

/// Why a job could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// The job store is unreachable.
    #[error("job store unavailable: {0}")]
    Unavailable(String),
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
            Err(JobStoreError::Unavailable(reason)) => Err(JobError::Unavailable(reason.0)),
        }
    }
}
