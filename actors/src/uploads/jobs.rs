//! The upload job kinds the runner runs: the sweep of uploads abandoned by a crash, the removal of a failed
//! or deleted upload's object, the abort of the object store's unfinished writes, and photo variants. Start-up
//! adds them ([`kinds`]) to the generic kinds of [`crate::jobs::kinds`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::handle::UploadPipelineHandle;
use super::photo;
use super::photo_job::{PhotoDeps, PhotoJob};
use super::removal::{REMOVE_OBJECT, REMOVE_OBJECT_ATTEMPTS, REMOVE_OBJECT_BACKOFF};
use crate::jobs::kinds::{HOUSEKEEPING_BACKOFF, MAINTENANCE_QUEUE};
use crate::jobs::runner::{Backoff, JobFailure, JobHandler, KindSpec};
use crate::ports::jobs::Job;
use crate::ports::objects::ObjectKey;

/// Fails uploads abandoned by a crashed instance (periodic).
pub const SWEEP_UPLOADS: &str = "uploads.sweep";
/// Aborts unfinished writes in the object store (S3 multipart uploads, temporary files) older than the
/// upload abandon deadline, which a crash mid-upload leaves (periodic, every `uploads.sweep_secs`).
pub const ABORT_INCOMPLETE: &str = "uploads.abort_incomplete";

/// What the upload kinds need.
#[derive(Clone)]
pub struct UploadKindDeps {
    /// The upload pipeline (the sweep, object removal, aborting unfinished writes).
    pub pipeline: UploadPipelineHandle,
    /// How often abandoned uploads are swept (and unfinished writes aborted).
    pub sweep_every: Duration,
    /// What photo processing reads and writes.
    pub photo: PhotoDeps,
}

/// The upload kinds every instance runs.
#[must_use]
pub fn kinds(deps: &UploadKindDeps) -> Vec<KindSpec> {
    vec![
        KindSpec {
            kind: SWEEP_UPLOADS,
            queue: MAINTENANCE_QUEUE,
            max_attempts: 3,
            backoff: HOUSEKEEPING_BACKOFF,
            timeout: Duration::from_secs(120),
            every: Some(deps.sweep_every),
            handler: Arc::new(SweepUploads { pipeline: deps.pipeline.clone() }),
        },
        KindSpec {
            kind: REMOVE_OBJECT,
            queue: MAINTENANCE_QUEUE,
            max_attempts: REMOVE_OBJECT_ATTEMPTS,
            backoff: REMOVE_OBJECT_BACKOFF,
            timeout: Duration::from_secs(60),
            every: None,
            handler: Arc::new(RemoveObject { pipeline: deps.pipeline.clone() }),
        },
        KindSpec {
            kind: ABORT_INCOMPLETE,
            queue: MAINTENANCE_QUEUE,
            max_attempts: 3,
            backoff: HOUSEKEEPING_BACKOFF,
            timeout: Duration::from_secs(120),
            every: Some(deps.sweep_every),
            handler: Arc::new(AbortIncomplete { pipeline: deps.pipeline.clone() }),
        },
        KindSpec {
            kind: photo::KIND,
            queue: photo::QUEUE,
            max_attempts: photo::MAX_ATTEMPTS,
            backoff: Backoff { base: Duration::from_secs(2), max: Duration::from_secs(60) },
            // A 50 MP photo takes seconds; a stuck store call is cut off here.
            timeout: Duration::from_secs(300),
            every: None,
            handler: Arc::new(PhotoJob::new(deps.photo.clone())),
        },
    ]
}

/// `uploads.sweep`: fails uploads left `receiving` past the abandon deadline.
struct SweepUploads {
    pipeline: UploadPipelineHandle,
}

#[async_trait]
impl JobHandler for SweepUploads {
    async fn run(&self, _job: &Job) -> Result<Option<serde_json::Value>, JobFailure> {
        let swept = self.pipeline.sweep().await.map_err(|e| JobFailure::Retry(e.to_string()))?;
        Ok(Some(serde_json::json!({ "abandoned": swept })))
    }
}

/// `uploads.remove_object`: deletes the object under `args.key` (absent is done), retried while the store
/// fails.
struct RemoveObject {
    pipeline: UploadPipelineHandle,
}

#[async_trait]
impl JobHandler for RemoveObject {
    async fn run(&self, job: &Job) -> Result<Option<serde_json::Value>, JobFailure> {
        let key = job.args["key"]
            .as_str()
            .and_then(|k| ObjectKey::parse(k).ok())
            .ok_or_else(|| JobFailure::Discard("the job names no valid object key".to_owned()))?;
        let upload = job.args["upload_id"].as_str().and_then(|id| uuid::Uuid::parse_str(id).ok());
        let removed = self.pipeline.remove_object(&key, upload).await.map_err(|e| JobFailure::Retry(e.to_string()))?;
        Ok(Some(serde_json::json!({ "key": key.as_str(), "removed": removed })))
    }
}

/// `uploads.abort_incomplete`: aborts the object store's unfinished writes older than the abandon deadline.
struct AbortIncomplete {
    pipeline: UploadPipelineHandle,
}

#[async_trait]
impl JobHandler for AbortIncomplete {
    async fn run(&self, _job: &Job) -> Result<Option<serde_json::Value>, JobFailure> {
        let aborted = self.pipeline.abort_incomplete().await.map_err(|e| JobFailure::Retry(e.to_string()))?;
        if aborted > 0 {
            tracing::info!(aborted, "aborted unfinished uploads in the object store");
        }
        Ok(Some(serde_json::json!({ "aborted": aborted })))
    }
}
