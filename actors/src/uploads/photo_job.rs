//! The `uploads.photo` job's handler: reads a stored image upload's original, renders its variants
//! ([`super::photo::render`], on a blocking thread) and writes them and their records through the ports.
//! A bad image fails its variants for good; a store failure is retried, and fails them on the last attempt.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::photo::{PhotoError, PhotoSettings, render, variant_key};
use crate::jobs::runner::{JobFailure, JobHandler};
use crate::ports::jobs::Job;
use crate::ports::objects::{ObjectKey, ObjectStore, ObjectStoreError};
use crate::ports::uploads::{UploadStatus, UploadStore, VariantRecord, VariantState};

/// What the photo handler needs.
#[derive(Clone)]
pub struct PhotoDeps {
    /// Upload records and their variants.
    pub uploads: Arc<dyn UploadStore>,
    /// The originals and the variants.
    pub objects: Arc<dyn ObjectStore>,
    /// The `photos.*` settings.
    pub settings: Arc<PhotoSettings>,
}

/// The `uploads.photo` handler.
pub struct PhotoJob {
    deps: PhotoDeps,
}

impl PhotoJob {
    /// The handler over `deps`.
    #[must_use]
    pub fn new(deps: PhotoDeps) -> Self {
        Self { deps }
    }

    /// Marks every variant of `id` failed with `code` (best effort: the job's own error says it too).
    async fn fail_variants(&self, id: Uuid, code: &str, message: &str) {
        let Ok(variants) = self.deps.uploads.variants(id).await else { return };
        for mut variant in variants.into_iter().filter(|v| v.state != VariantState::Ready) {
            variant.state = VariantState::Failed;
            variant.error = Some(format!("{code}: {message}"));
            if let Err(e) = self.deps.uploads.set_variant(id, &variant).await {
                tracing::warn!(upload_id = %id, error = %e, "could not record a failed variant");
            }
        }
    }

    /// A store failure: retried while attempts remain; on the last one the variants are marked failed so
    /// clients stop waiting.
    async fn retry(&self, job: &Job, id: Uuid, message: String) -> JobFailure {
        if job.attempt >= job.max_attempts {
            self.fail_variants(id, "storage_unavailable", &message).await;
        }
        count("retried");
        JobFailure::Retry(message)
    }
}

fn count(outcome: &'static str) {
    metrics::counter!("gantry_photos_total", "outcome" => outcome).increment(1);
}

#[async_trait]
impl JobHandler for PhotoJob {
    /// The last attempt timed out or its instance died: the variants still pending are failed, so clients
    /// stop waiting (422 `variant_failed` instead of 409 `processing` for ever).
    async fn discarded(&self, job: &Job, error: &str) {
        if let Some(id) = job.args["upload_id"].as_str().and_then(|s| Uuid::parse_str(s).ok()) {
            count("discarded");
            self.fail_variants(id, "processing_abandoned", error).await;
        }
    }

    async fn run(&self, job: &Job) -> Result<Option<serde_json::Value>, JobFailure> {
        let id = job.args["upload_id"]
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(|| JobFailure::Discard("the job names no upload".into()))?;
        let record = match self.deps.uploads.get_upload(id).await {
            Ok(Some(r)) if r.status == UploadStatus::Stored => r,
            Ok(_) => return Ok(Some(serde_json::json!({ "skipped": "the upload was deleted" }))),
            Err(e) => return Err(self.retry(job, id, e.to_string()).await),
        };
        // The variants recorded with the upload decide what is made, not today's settings: an upload stored
        // before `photos.sizes` changed (or by an instance with other settings) gets the variants it listed.
        let recorded = match self.deps.uploads.variants(id).await {
            Ok(v) => v.into_iter().map(|v| v.name).collect::<Vec<_>>(),
            Err(e) => return Err(self.retry(job, id, e.to_string()).await),
        };
        if recorded.is_empty() {
            return Ok(Some(serde_json::json!({ "skipped": "the upload has no variants" })));
        }
        let settings = Arc::new(PhotoSettings {
            sizes: recorded.iter().filter_map(|name| name.parse().ok()).collect(),
            ..(*self.deps.settings).clone()
        });
        let key = ObjectKey::parse(record.object_key.clone()).map_err(|e| JobFailure::Discard(e.to_string()))?;
        let original = match read_all(self.deps.objects.as_ref(), &key, record.size).await {
            Ok(bytes) => bytes,
            Err(ObjectStoreError::NotFound) => {
                return Ok(Some(serde_json::json!({ "skipped": "the upload was deleted" })));
            }
            Err(e) => return Err(self.retry(job, id, e.to_string()).await),
        };

        let started = Instant::now();
        let rendered = tokio::task::spawn_blocking(move || render(&original, &settings)).await;
        metrics::histogram!("gantry_photo_processing_seconds").record(started.elapsed().as_secs_f64());
        let rendition = match rendered {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                self.fail_variants(id, e.code(), &e.to_string()).await;
                count("discarded");
                tracing::info!(event = "photo_discarded", upload_id = %id, code = e.code(), error = %e);
                return Err(JobFailure::Discard(e.to_string()));
            }
            Err(_) => {
                // A decoder panic on these bytes would panic again: never retried.
                let e = PhotoError::Undecodable("the decoder failed on this image".into());
                self.fail_variants(id, e.code(), &e.to_string()).await;
                count("discarded");
                return Err(JobFailure::Discard(e.to_string()));
            }
        };

        let content_type = self.deps.settings.format.mime();
        let mut written = Vec::with_capacity(rendition.variants.len());
        for variant in rendition.variants.into_iter().filter(|v| recorded.contains(&v.name)) {
            let key = variant_key(id, &variant.name).map_err(|e| JobFailure::Discard(e.to_string()))?;
            let size = variant.bytes.len() as u64;
            let sha256 = hex::encode(Sha256::digest(&variant.bytes));
            let body = futures::stream::once(async move { Ok(bytes::Bytes::from(variant.bytes)) }).boxed();
            if let Err(e) = self.deps.objects.put(&key, body, Some(size), content_type).await {
                return Err(self.retry(job, id, e.to_string()).await);
            }
            let record = VariantRecord {
                state: VariantState::Ready,
                content_type: Some(content_type.to_owned()),
                width: Some(variant.width),
                height: Some(variant.height),
                size: Some(size),
                sha256: Some(sha256),
                ..VariantRecord::pending(variant.name.clone())
            };
            if let Err(e) = self.deps.uploads.set_variant(id, &record).await {
                return Err(self.retry(job, id, e.to_string()).await);
            }
            written.push(serde_json::json!({
                "name": variant.name, "width": variant.width, "height": variant.height, "size": size,
            }));
        }
        count("processed");
        Ok(Some(serde_json::json!({
            "upload_id": id,
            "original": { "width": rendition.original.0, "height": rendition.original.1 },
            "icc": rendition.icc,
            "variants": written,
        })))
    }
}

/// Reads object `key` whole; it is an upload of `size` bytes (already within the upload limit).
async fn read_all(objects: &dyn ObjectStore, key: &ObjectKey, size: u64) -> Result<Vec<u8>, ObjectStoreError> {
    let mut body = objects.get(key, None).await?;
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    while let Some(chunk) = body.stream.next().await {
        bytes.extend_from_slice(&chunk.map_err(ObjectStoreError::BodyAborted)?);
    }
    Ok(bytes)
}
