//! The upload store port: metadata of uploaded objects (the bytes live in the object store). SQLite in the
//! local profile, Postgres in production.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::Unavailable;
use super::jobs::NewJob;

/// Where an upload is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadStatus {
    /// Bytes are being received.
    Receiving,
    /// Stored and readable.
    Stored,
    /// Rejected or aborted; nothing is stored.
    Failed,
}

impl UploadStatus {
    /// The stored spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Receiving => "receiving",
            Self::Stored => "stored",
            Self::Failed => "failed",
        }
    }

    /// Parses the stored spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "receiving" => Some(Self::Receiving),
            "stored" => Some(Self::Stored),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One upload's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    /// Upload id (UUID v7); also the id of its job.
    pub id: Uuid,
    /// Who owns it: `user:<uuid>` or `guest:<token id>`.
    pub owner: String,
    /// The object's key in the object store (server-generated).
    pub object_key: String,
    /// Sanitised display filename.
    pub filename: Option<String>,
    /// The media type decided from the bytes.
    pub content_type: String,
    /// Size in bytes (0 until stored).
    pub size: u64,
    /// Hex SHA-256 of the bytes (empty until stored).
    pub sha256: String,
    /// Current status.
    pub status: UploadStatus,
    /// Why it failed (stable code), when it did.
    pub error: Option<String>,
    /// When the upload started.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The instance receiving its bytes (`None` for uploads recorded before this was kept): while it is
    /// `receiving` and that instance stops heart-beating, nobody will finish it, and the sweep fails it at once.
    #[serde(default)]
    pub received_by: Option<Uuid>,
}

/// Where one re-encoded variant of an image upload is (see [`crate::uploads::photo`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VariantState {
    /// Its photo job has not written it yet.
    Pending,
    /// Written to the object store; served by `?variant=`.
    Ready,
    /// Processing failed for good (a decompression bomb, undecodable bytes); `error` says why.
    Failed,
}

impl VariantState {
    /// The stored spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }

    /// Parses the stored spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Ready, Self::Failed].into_iter().find(|v| v.as_str() == s)
    }
}

/// One variant of an image upload (`320`, `1280`, `full`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantRecord {
    /// Its name: a long side in pixels, or `full`.
    pub name: String,
    /// Where it is.
    pub state: VariantState,
    /// Its media type once ready.
    pub content_type: Option<String>,
    /// Its width in pixels once ready.
    pub width: Option<u32>,
    /// Its height in pixels once ready.
    pub height: Option<u32>,
    /// Its size in bytes once ready.
    pub size: Option<u64>,
    /// Hex SHA-256 of its bytes once ready (its `ETag`).
    pub sha256: Option<String>,
    /// Why it failed (safe to show), when it did.
    pub error: Option<String>,
}

impl VariantRecord {
    /// A variant waiting for its photo job.
    #[must_use]
    pub fn pending(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            state: VariantState::Pending,
            content_type: None,
            width: None,
            height: None,
            size: None,
            sha256: None,
            error: None,
        }
    }
}

/// The upload store capability.
#[async_trait]
pub trait UploadStore: Send + Sync + 'static {
    /// Records a new upload (status `receiving`).
    ///
    /// # Errors
    /// The database is unreachable.
    async fn create_upload(&self, upload: &UploadRecord) -> Result<(), Unavailable>;

    /// Records the upload's end (status `stored` or `failed`, size, digest, error) while it is still
    /// `receiving`; the owner, object key, start and receiving instance stay as created. An upload ends once:
    /// `false` (nothing written) when it had ended already — the sweep failed it as abandoned while its
    /// instance, taken for dead, was still receiving, or the reverse.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn update_upload(&self, upload: &UploadRecord) -> Result<bool, Unavailable>;

    /// Records the upload's end as `stored` like [`UploadStore::update_upload`], records `variants` as pending
    /// and enqueues their photo job, in one transaction: the job exists exactly when the upload is stored (a
    /// crash between the two cannot leave an image without its variants' job, nor a job for an upload that
    /// never got stored). `false` (nothing written) when the upload had ended already.
    ///
    /// # Errors
    /// The database is unreachable (nothing was written).
    async fn store_with_variants(
        &self,
        upload: &UploadRecord,
        variants: &[String],
        job: &NewJob,
    ) -> Result<bool, Unavailable>;

    /// The variants of upload `id`, in the order they were recorded (none for a non-image).
    ///
    /// # Errors
    /// The database is unreachable.
    async fn variants(&self, id: Uuid) -> Result<Vec<VariantRecord>, Unavailable>;

    /// Replaces variant `variant.name` of upload `id` (state, format, size, error).
    ///
    /// # Errors
    /// The database is unreachable.
    async fn set_variant(&self, id: Uuid, variant: &VariantRecord) -> Result<(), Unavailable>;

    /// The upload, if any.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn get_upload(&self, id: Uuid) -> Result<Option<UploadRecord>, Unavailable>;

    /// Deletes the record and its variants' records; absent is not an error.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn delete_upload(&self, id: Uuid) -> Result<(), Unavailable>;

    /// How many uploads `owner` has that did not fail (`receiving` or `stored`): a guest token's file quota.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn count_uploads(&self, owner: &str) -> Result<u64, Unavailable>;

    /// Reserves one file of `owner`'s quota of `max_files`, atomically: of any number of concurrent
    /// reservations (on any instance), at most `max_files` ever succeed for one owner. `false` when the quota
    /// is used up. A reservation is kept when the file is later deleted (deleting does not give the file back);
    /// only [`UploadStore::release_file`] returns one, for an upload that failed.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn reserve_file(&self, owner: &str, max_files: u32) -> Result<bool, Unavailable>;

    /// Returns one reserved file of `owner` (its upload failed, so nothing was stored); never below zero.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn release_file(&self, owner: &str) -> Result<(), Unavailable>;

    /// Uploads still `receiving` that started before `started_before`, oldest first, at most `limit`
    /// (an instance died mid-upload: the pipeline's sweep fails them and removes their objects).
    ///
    /// # Errors
    /// The database is unreachable.
    async fn stale_uploads(&self, started_before: OffsetDateTime, limit: u32)
    -> Result<Vec<UploadRecord>, Unavailable>;

    /// Records the upload's end like [`UploadStore::update_upload`] and enqueues `job` in the same transaction
    /// (the follow-up the change causes, such as removing a failed upload's object): the job exists exactly
    /// when the change is stored, so a crash right after cannot lose it. `false` (neither is stored) when the
    /// upload had ended already.
    ///
    /// # Errors
    /// The database is unreachable; then neither is stored.
    async fn update_upload_enqueueing(&self, upload: &UploadRecord, job: &NewJob) -> Result<bool, Unavailable>;

    /// Deletes the record like [`UploadStore::delete_upload`] and enqueues `job` in the same transaction.
    ///
    /// # Errors
    /// The database is unreachable; then neither happens.
    async fn delete_upload_enqueueing(&self, id: Uuid, job: &NewJob) -> Result<(), Unavailable>;
}
