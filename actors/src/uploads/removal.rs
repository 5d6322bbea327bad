//! The `uploads.remove_object` job's name, retry budget and arguments: what the pipeline enqueues with the
//! write that fails or deletes an upload, and what the job kind ([`super::jobs`]) runs. Kept apart from both
//! so the pipeline and the job kinds each import it and not one another.

use std::time::Duration;

use crate::jobs::kinds::MAINTENANCE_QUEUE;
use crate::jobs::runner::Backoff;
use crate::ports::jobs::NewJob;
use crate::ports::objects::ObjectKey;

/// Removes a failed or deleted upload's object (and any unfinished multipart upload of its key), retried
/// through an object store outage: enqueued in the same transaction as the write that fails or deletes the
/// upload.
pub const REMOVE_OBJECT: &str = "uploads.remove_object";
/// `uploads.remove_object`'s attempts: with [`REMOVE_OBJECT_BACKOFF`] they span about 25 minutes of outage.
pub const REMOVE_OBJECT_ATTEMPTS: u32 = 10;
/// `uploads.remove_object`'s backoff: 10 s doubling up to 5 minutes.
pub const REMOVE_OBJECT_BACKOFF: Backoff = Backoff { base: Duration::from_secs(10), max: Duration::from_secs(300) };

/// The `uploads.remove_object` job for the object under `key` of upload `upload_id`.
#[must_use]
pub fn remove_object_job(key: &ObjectKey, upload_id: uuid::Uuid) -> NewJob {
    let args = serde_json::json!({ "key": key.as_str(), "upload_id": upload_id });
    NewJob { max_attempts: REMOVE_OBJECT_ATTEMPTS, ..NewJob::new(REMOVE_OBJECT, MAINTENANCE_QUEUE, args) }
}
