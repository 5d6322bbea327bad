//! Multipart uploads: a body longer than one part is cut into parts of exactly `part_size` (`PartBuffer`),
//! uploaded and completed, and aborted on any failure: by the error path, or by `AbortGuard` when the `put`
//! future is dropped midway. An upload under way is recorded in the ledger, so the sweep
//! (`abort_incomplete`) finds the ones a crash left behind even on stores that cannot list them.

use std::sync::Arc;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::primitives::ByteStream as AwsByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use gantry_actors::ports::objects::{
    ByteStream, MultipartLedger, ObjectKey, ObjectStore, ObjectStoreError, PendingMultipart, StoredObject,
};

use super::S3ObjectStore;
use super::errors::{reason, sdk_failure, status, store_failure};

/// S3 allows at most this many parts in one multipart upload.
const MAX_PARTS: usize = 10_000;

impl S3ObjectStore {
    /// Records a multipart upload just created. A failure is logged, not returned: the upload goes on, only
    /// its clean-up after a crash now depends on the store listing its uploads.
    async fn note_started(&self, key: &ObjectKey, upload_id: &str) {
        let Some(ledger) = &self.ledger else { return };
        let pending = PendingMultipart {
            key: key.as_str().to_owned(),
            upload_id: upload_id.to_owned(),
            started_at: time::OffsetDateTime::now_utc(),
        };
        if let Err(e) = ledger.record(&pending).await {
            tracing::warn!(backend = "s3", key = key.as_str(), error = %e, "could not record a multipart upload");
        }
    }

    /// Aborts the multipart upload `upload_id` of `key` and forgets it; `false` when the store no longer
    /// knew it (completed or aborted before).
    async fn abort_pending(&self, key: &str, upload_id: &str) -> Result<bool, ObjectStoreError> {
        let sent = self.client().abort_multipart_upload().bucket(&self.bucket).key(key).upload_id(upload_id).send();
        let aborted = match sent.await {
            Ok(_) => true,
            Err(e) if e.as_service_error().and_then(ProvideErrorMetadata::code) == Some("NoSuchUpload") => false,
            Err(e) if status(&e) == Some(404) => false,
            // s3s-fs answers 403 for an upload it no longer knows; the credentials are fine when the bucket
            // answers, and then the upload is gone.
            Err(e) if status(&e) == Some(403) => {
                self.health().await?;
                false
            }
            Err(e) => return Err(sdk_failure("abort", &self.bucket, &e)),
        };
        forget(self.ledger.as_ref(), upload_id).await;
        Ok(aborted)
    }

    /// The multipart uploads the store lists under `prefix` (key, upload id, start), or `None` when it
    /// cannot list them (s3s-fs answers 501): then the ledger is all there is.
    async fn listed(&self, prefix: Option<&str>) -> Result<Option<Vec<PendingMultipart>>, ObjectStoreError> {
        let mut request = self.client().list_multipart_uploads().bucket(&self.bucket);
        if let Some(prefix) = prefix {
            request = request.prefix(prefix);
        }
        match request.send().await {
            Ok(out) => Ok(Some(
                out.uploads()
                    .iter()
                    .filter_map(|u| {
                        let started = u
                            .initiated()
                            .and_then(|t| time::OffsetDateTime::from_unix_timestamp_nanos(t.as_nanos()).ok());
                        Some(PendingMultipart {
                            key: u.key()?.to_owned(),
                            upload_id: u.upload_id()?.to_owned(),
                            started_at: started.unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
                        })
                    })
                    .collect(),
            )),
            Err(e)
                if status(&e) == Some(501)
                    || e.as_service_error().and_then(ProvideErrorMetadata::code) == Some("NotImplemented") =>
            {
                Ok(None)
            }
            Err(e) => Err(sdk_failure("list_multipart", &self.bucket, &e)),
        }
    }

    /// `abort_incomplete`: aborts every multipart upload started before `started_before`, those the store
    /// lists and those the ledger holds; returns how many the store still knew.
    pub(super) async fn sweep(&self, started_before: time::OffsetDateTime) -> Result<u64, ObjectStoreError> {
        let mut aborted = 0;
        // Stores that list their uploads (S3, MinIO) show them all, including those of a process that died
        // before recording them.
        for pending in self.listed(None).await?.unwrap_or_default() {
            if pending.started_at < started_before && self.abort_pending(&pending.key, &pending.upload_id).await? {
                aborted += 1;
            }
        }
        // The ledger: everything recorded, on every store.
        if let Some(ledger) = &self.ledger {
            for pending in ledger.started_before(started_before, 100).await? {
                if self.abort_pending(&pending.key, &pending.upload_id).await? {
                    aborted += 1;
                }
            }
        }
        Ok(aborted)
    }

    /// `abort_incomplete_of`: aborts the multipart uploads of `key`; returns how many the store still knew.
    pub(super) async fn sweep_key(&self, key: &ObjectKey) -> Result<u64, ObjectStoreError> {
        let mut pending = self.listed(Some(key.as_str())).await?.unwrap_or_default();
        pending.retain(|p| p.key == key.as_str());
        if let Some(ledger) = &self.ledger {
            pending.extend(ledger.of_key(key.as_str()).await?);
        }
        let mut aborted = 0;
        for p in pending {
            if self.abort_pending(&p.key, &p.upload_id).await? {
                aborted += 1;
            }
        }
        Ok(aborted)
    }

    /// Stores a body longer than one part as a multipart upload; `buf` holds what was read so far. The upload
    /// is aborted on every failure.
    pub(super) async fn put_multipart(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        buf: PartBuffer,
        content_type: &str,
    ) -> Result<StoredObject, ObjectStoreError> {
        let mut create = self.client().create_multipart_upload().bucket(&self.bucket).key(key.as_str());
        if !content_type.is_empty() {
            create = create.content_type(content_type);
        }
        let created = create.send().await.map_err(|e| sdk_failure("put", &self.bucket, &e))?;
        let Some(upload_id) = created.upload_id else {
            return Err(store_failure("put", "s3 put failed: no upload id in the response"));
        };
        self.note_started(key, &upload_id).await;
        let mut guard = AbortGuard {
            client: self.client(),
            bucket: self.bucket.clone(),
            key: key.as_str().to_owned(),
            upload_id: Some(upload_id.clone()),
            ledger: self.ledger.clone(),
        };
        match self.upload_parts(key, &upload_id, body, buf).await {
            Ok(size) => {
                guard.disarm();
                forget(self.ledger.as_ref(), &upload_id).await;
                Ok(StoredObject { size })
            }
            Err(e) => {
                // Disarmed only after the abort, so a `put` dropped while aborting still aborts.
                if abort_upload(&self.client(), &self.bucket, key.as_str(), &upload_id).await {
                    forget(self.ledger.as_ref(), &upload_id).await;
                }
                guard.disarm();
                Err(e)
            }
        }
    }

    /// Uploads `buf` and the rest of `body` as parts of exactly `part_size` (the last one shorter) and
    /// completes the upload. Returns the object's size.
    async fn upload_parts(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        mut body: ByteStream,
        mut buf: PartBuffer,
    ) -> Result<u64, ObjectStoreError> {
        let mut parts: Vec<CompletedPart> = Vec::new();
        let mut size: u64 = 0;
        let mut body_done = false;
        loop {
            while let Some(part) = buf.take_full_part() {
                size += part.len() as u64;
                parts.push(self.upload_part(key, upload_id, parts.len(), part).await?);
            }
            if body_done {
                break;
            }
            match body.next().await {
                None => body_done = true,
                Some(Err(e)) => return Err(ObjectStoreError::BodyAborted(e)),
                Some(Ok(chunk)) => buf.push(&chunk),
            }
        }
        let last = buf.take_rest();
        if !last.is_empty() {
            size += last.len() as u64;
            parts.push(self.upload_part(key, upload_id, parts.len(), last).await?);
        }
        self.client()
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .upload_id(upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(|e| sdk_failure("put", &self.bucket, &e))?;
        Ok(size)
    }

    /// Uploads one part; `done` is how many parts are already uploaded.
    async fn upload_part(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        done: usize,
        data: Bytes,
    ) -> Result<CompletedPart, ObjectStoreError> {
        if done >= MAX_PARTS {
            return Err(store_failure("put", "s3 put failed: object needs more than 10000 parts"));
        }
        let number = i32::try_from(done + 1).expect("at most 10000 parts");
        let out = self
            .client()
            .upload_part()
            .bucket(&self.bucket)
            .key(key.as_str())
            .upload_id(upload_id)
            .part_number(number)
            .content_length(to_i64(data.len() as u64))
            .body(AwsByteStream::from(data))
            .send()
            .await
            .map_err(|e| sdk_failure("put", &self.bucket, &e))?;
        Ok(CompletedPart::builder().set_e_tag(out.e_tag).part_number(number).build())
    }
}

/// Aborts a multipart upload, logging (not returning) a failure: the caller is already reporting the
/// error that made it abort. `false` when the abort failed (the periodic sweep aborts it later).
async fn abort_upload(client: &Client, bucket: &str, key: &str, upload_id: &str) -> bool {
    let abort = client.abort_multipart_upload().bucket(bucket).key(key).upload_id(upload_id).send().await;
    if let Err(e) = abort {
        tracing::warn!(
            backend = "s3", bucket, key, reason = %reason(&e), error = %DisplayErrorContext(&e),
            "could not abort a multipart upload; the periodic sweep aborts it later"
        );
        return false;
    }
    true
}

/// Forgets a multipart upload that was completed or aborted. A failure is logged: the sweep's abort of a
/// finished upload is harmless and forgets it then.
async fn forget(ledger: Option<&Arc<dyn MultipartLedger>>, upload_id: &str) {
    if let Some(ledger) = ledger
        && let Err(e) = ledger.forget(upload_id).await
    {
        tracing::warn!(backend = "s3", error = %e, "could not forget a finished multipart upload");
    }
}

/// Aborts the multipart upload when a `put` future is dropped before it finished (client gone, request
/// timed out). `Drop` cannot await, so the abort runs as its own task; it is bounded by the client's
/// operation timeout and needs no stopping.
struct AbortGuard {
    /// Client to send the abort with.
    client: Client,
    /// Bucket of the upload.
    bucket: String,
    /// Key of the upload.
    key: String,
    /// The upload to abort; `None` once the `put` finished (and aborted itself if it failed).
    upload_id: Option<String>,
    /// Where the upload is recorded, to forget it once aborted.
    ledger: Option<Arc<dyn MultipartLedger>>,
}

impl AbortGuard {
    /// The `put` ran to its end and handled the upload itself.
    fn disarm(&mut self) {
        self.upload_id = None;
    }
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        let Some(upload_id) = self.upload_id.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(backend = "s3", bucket = %self.bucket, key = %self.key, "multipart upload left behind: no runtime to abort it");
            return;
        };
        let (client, bucket, key, ledger) =
            (self.client.clone(), self.bucket.clone(), self.key.clone(), self.ledger.take());
        runtime.spawn(async move {
            if abort_upload(&client, &bucket, &key, &upload_id).await {
                forget(ledger.as_ref(), &upload_id).await;
            }
        });
    }
}

/// Collects body chunks into parts of exactly `part_size` bytes. Each part gets its own allocation, so it
/// is freed as soon as its upload finishes, and at most one part plus one chunk is held.
pub(super) struct PartBuffer {
    /// Bytes of the part being filled (may briefly exceed a part by less than one chunk).
    buf: BytesMut,
    /// The part size.
    part_size: usize,
}

impl PartBuffer {
    /// An empty buffer with room for `capacity` bytes.
    pub(super) fn new(part_size: usize, capacity: usize) -> Self {
        Self { buf: BytesMut::with_capacity(capacity), part_size }
    }

    /// Bytes held.
    pub(super) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Appends a chunk.
    pub(super) fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// Takes one full part if there is one. The overflow is copied to a fresh buffer rather than split
    /// off, so the part's allocation is not shared with the bytes that follow it.
    pub(super) fn take_full_part(&mut self) -> Option<Bytes> {
        if self.buf.len() < self.part_size {
            return None;
        }
        let mut rest = BytesMut::with_capacity(self.part_size);
        rest.extend_from_slice(&self.buf[self.part_size..]);
        self.buf.truncate(self.part_size);
        Some(std::mem::replace(&mut self.buf, rest).freeze())
    }

    /// Takes everything held (the last part, or a whole small object).
    pub(super) fn take_rest(&mut self) -> Bytes {
        std::mem::take(&mut self.buf).freeze()
    }
}

/// A byte count as the SDK's `i64` (sizes here are far below `i64::MAX`).
pub(super) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parts come out exactly `part_size` long, in order, and the rest is the short last part.
    #[test]
    fn part_buffer_cuts_exact_parts() {
        let data: Vec<u8> = (0..23u8).collect();
        let mut buf = PartBuffer::new(5, 5);
        let mut parts = Vec::new();
        for chunk in data.chunks(7) {
            buf.push(chunk);
            while let Some(part) = buf.take_full_part() {
                parts.push(part);
            }
        }
        parts.push(buf.take_rest());
        assert!(parts[..4].iter().all(|p| p.len() == 5));
        assert_eq!(parts[4].len(), 3);
        assert_eq!(parts.concat(), data);
    }
}
