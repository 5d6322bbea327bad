//! Receiving an upload in one call: [`UploadPipelineHandle::receive`] takes what the request said about the
//! upload and its body stream, and answers with the stored record or an [`UploadRefusal`]. In between, in the
//! caller's task (bytes never cross a mailbox): the announced length and digest are checked, the upload is
//! admitted (its entry in the ledger, its record and job written by the actor), the body streams through
//! validation ([`super::validate`]) into the object store (all or nothing), and the upload's end is decided
//! ([`decide`]) and recorded — stored, or failed with its code and, when bytes may have reached the store,
//! its object removed by a job stored with the failure ([`UploadRefusal::failure`]).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{Stream, StreamExt};

use super::digest::{DigestError, expected_sha256};
use super::guest_token::GUEST_SUBJECT_PREFIX;
use super::handle::UploadPipelineHandle;
use super::media::MediaType;
use super::names::sanitize_filename;
use super::pipeline::{Outcome, PipelineError, count};
use super::pixel_budget::{HEADER_PREFIX_BYTES, PixelBudget, header_pixels};
use super::validate::{BodyRefusal, Learned, Rules, Validating};
use crate::ports::objects::{ObjectStoreError, StoredObject};
use crate::ports::uploads::UploadRecord;

/// Who is uploading, and what they may upload.
#[derive(Debug, Clone)]
pub struct Uploader {
    /// `user:<id>` or `guest:<id>`.
    pub owner: String,
    /// Largest accepted file.
    pub max_bytes: u64,
    /// Accepted types.
    pub allowed: Vec<MediaType>,
    /// Files the uploader may have (guests: the token's quota).
    pub max_files: Option<u32>,
}

/// What the request says about an upload, as sent (nothing here is checked yet).
#[derive(Debug, Clone)]
pub struct UploadFacts {
    /// Who is uploading.
    pub uploader: Uploader,
    /// The client's address.
    pub address: String,
    /// The announced length (`Content-Length`); the store relies on it, so only a framing that guarantees it.
    pub declared_len: Option<u64>,
    /// The declared `Content-Type`.
    pub declared_type: Option<String>,
    /// `Content-Digest`.
    pub content_digest: Option<String>,
    /// `x-checksum-sha256`.
    pub x_checksum: Option<String>,
    /// The client's name for the file (sanitised here).
    pub filename: Option<String>,
}

/// Why an upload was not stored.
#[derive(Debug, thiserror::Error)]
pub enum UploadRefusal {
    /// Larger than the uploader's largest file: announced (refused before admission) or sent.
    #[error("the upload is larger than {limit} bytes")]
    TooLarge {
        /// The largest accepted file.
        limit: u64,
    },
    /// A digest header is unreadable.
    #[error(transparent)]
    MalformedDigest(DigestError),
    /// The bytes are not an allowed file type.
    #[error("the bytes are not an allowed file type")]
    Unsupported,
    /// The bytes contradict the declared `Content-Type`.
    #[error("the bytes contradict the declared Content-Type")]
    Mismatch,
    /// The client stopped sending the body.
    #[error("the client stopped sending the body")]
    ClientAborted,
    /// Nothing arrived for the idle timeout.
    #[error("nothing arrived for {}s", .idle.as_secs())]
    Stalled {
        /// The idle timeout.
        idle: Duration,
    },
    /// Less than the minimum rate arrived over a window (after the grace period).
    #[error("the upload sent less than {min_bytes_per_sec} bytes per second")]
    TooSlow {
        /// The minimum rate.
        min_bytes_per_sec: u64,
    },
    /// Every upload slot was taken and this upload was the slowest under the minimum rate: a newcomer took
    /// its place.
    #[error("the upload was too slow and gave its place to another")]
    Displaced,
    /// A PDF with scripts, automatic actions, launch actions or embedded files.
    #[error("the PDF carries active content")]
    ActiveContent,
    /// A PDF the parser cannot read (or past its bounds): it cannot be checked, so it is not stored.
    #[error("the PDF cannot be read")]
    UnreadablePdf,
    /// The bytes do not match the digest the client announced.
    #[error("the body does not match the digest sent with it")]
    DigestMismatch,
    /// A guest's photos (per guest token or per client address) are over `uploads.guest_pixels_per_hour`.
    #[error("guest photos are limited to {per_hour} pixels per hour; retry in {}s", .retry_after.as_secs())]
    PixelBudget {
        /// The budget.
        per_hour: u64,
        /// When the window that is full closes.
        retry_after: Duration,
    },
    /// The object store failed while the bytes were written.
    #[error(transparent)]
    Storage(ObjectStoreError),
    /// Not admitted (capacity, quota), or the stores or the actor failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

/// How an admitted upload that was refused is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// Its stable failure code (the record's `error`, the job's error, the `gantry_uploads_total` outcome).
    pub code: &'static str,
    /// Whether bytes may have reached the store, so the object must be removed.
    pub remove_object: bool,
}

impl UploadRefusal {
    /// How this refusal ends an admitted upload; `None` for the refusals that come before admission (no
    /// record to end) or from it.
    #[must_use]
    pub fn failure(&self) -> Option<Failure> {
        let (code, remove_object) = match self {
            // The store's `put` is all or nothing: a body refused mid-stream left nothing behind.
            Self::TooLarge { .. } => ("payload_too_large", false),
            Self::Unsupported | Self::Mismatch => ("unsupported_media_type", false),
            Self::ClientAborted => ("client_aborted", false),
            Self::Stalled { .. } => ("body_timeout", false),
            Self::TooSlow { .. } => ("body_too_slow", false),
            Self::Displaced => ("displaced", false),
            Self::ActiveContent => ("active_content", false),
            Self::UnreadablePdf => ("unreadable_pdf", false),
            // The store failed mid-write: an unfinished multipart upload may be left, which the removal job aborts.
            Self::Storage(_) => ("storage_unavailable", true),
            // The bytes are stored but are not what the client meant.
            Self::DigestMismatch => ("digest_mismatch", true),
            // Refused once the photo was stored (its size is read as it streams): the bytes go.
            Self::PixelBudget { .. } => ("photo_budget_exceeded", true),
            Self::MalformedDigest(_) | Self::Pipeline(_) => return None,
        };
        Some(Failure { code, remove_object })
    }

    fn of_body(refusal: BodyRefusal, rules: &Rules) -> Self {
        match refusal {
            BodyRefusal::TooLarge => Self::TooLarge { limit: rules.max_bytes },
            BodyRefusal::Unsupported => Self::Unsupported,
            BodyRefusal::Mismatch => Self::Mismatch,
            BodyRefusal::ClientAborted => Self::ClientAborted,
            BodyRefusal::Stalled => Self::Stalled { idle: rules.idle },
            BodyRefusal::TooSlow => Self::TooSlow { min_bytes_per_sec: rules.min_rate.map_or(0, |r| r.bytes_per_sec) },
            BodyRefusal::Displaced => Self::Displaced,
            BodyRefusal::ActiveContent => Self::ActiveContent,
            BodyRefusal::UnreadablePdf => Self::UnreadablePdf,
            BodyRefusal::PdfTooLarge => Self::TooLarge { limit: rules.pdf.limits().max_bytes },
        }
    }
}

/// How a received body ends: stored with what the stream learned, or refused. The stream's own refusal comes
/// first (the store's error then only echoes it), then the store's failure, then a digest that differs from
/// the announced one.
fn decide(
    learned: Learned,
    put: Result<StoredObject, ObjectStoreError>,
    expected: Option<[u8; 32]>,
    rules: &Rules,
) -> Result<Outcome, UploadRefusal> {
    if let Some(refusal) = learned.refusal {
        return Err(UploadRefusal::of_body(refusal, rules));
    }
    put.map_err(UploadRefusal::Storage)?;
    let digest = learned.sha256.unwrap_or_default();
    if expected.is_some_and(|want| want != digest) {
        return Err(UploadRefusal::DigestMismatch);
    }
    Ok(Outcome::Stored {
        size: learned.size,
        sha256: hex::encode(digest),
        content_type: learned.media.map_or("application/octet-stream", MediaType::mime).to_owned(),
    })
}

impl UploadPipelineHandle {
    /// Receives an upload: checks what the request announced, admits it, streams `body` through validation
    /// into the object store and records how it ended (see the module docs).
    ///
    /// # Errors
    /// An [`UploadRefusal`]; an admitted upload refused is recorded failed first (when that write fails, its
    /// error is the refusal).
    pub async fn receive<S, E>(&self, facts: UploadFacts, body: S) -> Result<UploadRecord, UploadRefusal>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    {
        let started = Instant::now();
        let UploadFacts { uploader, address, declared_len, declared_type, content_digest, x_checksum, filename } =
            facts;
        if declared_len.is_some_and(|n| n > uploader.max_bytes) {
            count("payload_too_large");
            return Err(UploadRefusal::TooLarge { limit: uploader.max_bytes });
        }
        let expected = expected_sha256(content_digest.as_deref(), x_checksum.as_deref())
            .map_err(UploadRefusal::MalformedDigest)?;
        let filename = filename.as_deref().and_then(sanitize_filename);
        // A guest's photos count against the pixel budget: refused at once when it is spent already, and
        // charged once stored, with the size read from the first bytes as they stream.
        let budget = self.pixel_budget().filter(|_| uploader.owner.starts_with(GUEST_SUBJECT_PREFIX));
        let budget_keys = [uploader.owner.clone(), format!("address:{address}")];
        if let Some(budget) = budget {
            let keys = budget_keys.each_ref().map(String::as_str);
            if let Err(retry_after) = budget.check(&keys, Instant::now()) {
                tracing::info!(
                    event = "photo_budget_exceeded",
                    owner = keys[0],
                    retry_after_secs = retry_after.as_secs(),
                    "a guest whose hourly pixel budget is spent was refused before the upload"
                );
                count("photo_budget_exceeded");
                return Err(UploadRefusal::PixelBudget { per_hour: budget.per_hour(), retry_after });
            }
        }
        let prefix = Arc::new(Mutex::new(Vec::new()));
        let keep = if budget.is_some() { HEADER_PREFIX_BYTES } else { 0 };
        let kept = Arc::clone(&prefix);
        let body = body.inspect(move |chunk| {
            if let Ok(bytes) = chunk {
                let mut kept = kept.lock().unwrap_or_else(PoisonError::into_inner);
                let room = keep.saturating_sub(kept.len()).min(bytes.len());
                kept.extend_from_slice(&bytes[..room]);
            }
        });
        let admission = self.admit(uploader.owner, &address, filename, uploader.max_files).await?;

        let rules = Rules {
            max_bytes: uploader.max_bytes,
            allowed: uploader.allowed,
            declared: declared_type,
            idle: self.deps().body_idle_timeout,
            min_rate: self.deps().min_rate,
            pdf: Arc::clone(&self.deps().pdf),
        };
        let (stream, learned) = Validating::new(body, rules.clone(), Arc::clone(admission.progress()));
        let put =
            self.deps().objects.put(&admission.key, Box::pin(stream), declared_len, "application/octet-stream").await;
        let learned = std::mem::take(&mut *learned.lock().unwrap_or_else(PoisonError::into_inner));

        let decided = decide(learned, put, expected, &rules).and_then(|stored| match budget {
            Some(budget) => {
                let prefix = std::mem::take(&mut *prefix.lock().unwrap_or_else(PoisonError::into_inner));
                self.charge_pixels(budget, budget_keys.each_ref().map(String::as_str), &stored, &prefix)?;
                Ok(stored)
            }
            None => Ok(stored),
        });
        match decided {
            Ok(stored) => {
                let record = self.finish(admission, stored).await?;
                metrics::histogram!("gantry_upload_duration_seconds").record(started.elapsed().as_secs_f64());
                Ok(record)
            }
            Err(refusal) => {
                if let Some(Failure { code, remove_object }) = refusal.failure() {
                    self.finish(admission, Outcome::Failed { code: code.to_owned(), remove_object }).await?;
                }
                Err(refusal)
            }
        }
    }
}

impl UploadPipelineHandle {
    /// Charges a guest's stored photo to its pixel budget: the size its header announces, or the largest
    /// accepted photo's when the first bytes do not tell. Uploads that get no variants are not charged.
    fn charge_pixels(
        &self,
        budget: &PixelBudget,
        keys: [&str; 2],
        stored: &Outcome,
        prefix: &[u8],
    ) -> Result<(), UploadRefusal> {
        let Outcome::Stored { content_type, .. } = stored else { return Ok(()) };
        let photos = &self.deps().photos;
        if !MediaType::parse_mime(content_type).is_some_and(|media| photos.accepts(media)) {
            return Ok(());
        }
        let pixels = header_pixels(prefix).unwrap_or(photos.max_pixels);
        budget.charge(&keys, pixels, Instant::now()).map_err(|retry_after| {
            tracing::info!(
                event = "photo_budget_exceeded",
                owner = keys[0],
                pixels,
                per_hour = budget.per_hour(),
                "a guest's photo is over the hourly pixel budget; refused and removed"
            );
            UploadRefusal::PixelBudget { per_hour: budget.per_hour(), retry_after }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules {
            max_bytes: 10,
            allowed: MediaType::ALL.to_vec(),
            declared: None,
            idle: Duration::from_secs(7),
            min_rate: None,
            pdf: Arc::new(super::super::pdf::PdfInspector::new(super::super::pdf::PdfLimits::for_max_bytes(10), 1)),
        }
    }

    fn whole(size: u64, sha256: [u8; 32]) -> Learned {
        Learned { refusal: None, media: Some(MediaType::Png), size, sha256: Some(sha256) }
    }

    fn refused(refusal: BodyRefusal) -> Learned {
        Learned { refusal: Some(refusal), ..Learned::default() }
    }

    fn store_down() -> ObjectStoreError {
        ObjectStoreError::Unavailable(crate::ports::Unavailable("connection refused".into()))
    }

    /// Only the refusals after which bytes may sit in the store remove the object: a store failure mid-write
    /// and a digest mismatch. A body refused by the stream left nothing (the `put` discarded it).
    #[test]
    fn only_store_failures_and_digest_mismatches_remove_the_object() {
        let removing: Vec<_> = [
            UploadRefusal::TooLarge { limit: 10 },
            UploadRefusal::Unsupported,
            UploadRefusal::Mismatch,
            UploadRefusal::ClientAborted,
            UploadRefusal::Stalled { idle: Duration::from_secs(1) },
            UploadRefusal::TooSlow { min_bytes_per_sec: 1 },
            UploadRefusal::Displaced,
            UploadRefusal::ActiveContent,
            UploadRefusal::UnreadablePdf,
            UploadRefusal::DigestMismatch,
            UploadRefusal::Storage(store_down()),
        ]
        .iter()
        .map(|r| r.failure().expect("an admitted upload's refusal is recorded"))
        .filter(|f| f.remove_object)
        .map(|f| f.code)
        .collect();
        assert_eq!(removing, ["digest_mismatch", "storage_unavailable"]);
    }

    /// Each refusal is recorded under the code clients and metrics have always seen; refusals before admission
    /// record nothing.
    #[test]
    fn failure_codes_are_stable() {
        let code = |r: UploadRefusal| r.failure().map(|f| f.code);
        assert_eq!(code(UploadRefusal::TooLarge { limit: 1 }), Some("payload_too_large"));
        assert_eq!(code(UploadRefusal::Mismatch), Some("unsupported_media_type"));
        assert_eq!(code(UploadRefusal::Stalled { idle: Duration::from_secs(1) }), Some("body_timeout"));
        assert_eq!(code(UploadRefusal::ClientAborted), Some("client_aborted"));
        assert_eq!(code(UploadRefusal::TooSlow { min_bytes_per_sec: 1 }), Some("body_too_slow"));
        assert_eq!(code(UploadRefusal::Displaced), Some("displaced"));
        assert_eq!(code(UploadRefusal::ActiveContent), Some("active_content"));
        assert_eq!(code(UploadRefusal::UnreadablePdf), Some("unreadable_pdf"));
        assert_eq!(code(UploadRefusal::Pipeline(PipelineError::AtCapacity)), None);
        assert_eq!(code(UploadRefusal::Pipeline(PipelineError::QuotaExceeded)), None);
    }

    /// The stream's refusal wins over the store's echo of it, and carries the limit or the idle timeout.
    #[test]
    fn the_streams_refusal_comes_first() {
        let aborted = Err(ObjectStoreError::BodyAborted(std::io::Error::other("refused")));
        let ended = decide(refused(BodyRefusal::TooLarge), aborted, None, &rules());
        assert!(matches!(ended, Err(UploadRefusal::TooLarge { limit: 10 })), "{ended:?}");
        let ended = decide(refused(BodyRefusal::Stalled), Err(store_down()), None, &rules());
        assert!(matches!(ended, Err(UploadRefusal::Stalled { idle }) if idle.as_secs() == 7), "{ended:?}");
    }

    /// A store failure on a clean body, then a digest other than the announced one, are refusals; otherwise
    /// the upload is stored with its size, hex digest and sniffed type.
    #[test]
    fn store_failure_then_digest_then_stored() {
        let ended = decide(whole(4, [1; 32]), Err(store_down()), Some([2; 32]), &rules());
        assert!(matches!(ended, Err(UploadRefusal::Storage(_))), "{ended:?}");
        let ended = decide(whole(4, [1; 32]), Ok(StoredObject { size: 4 }), Some([2; 32]), &rules());
        assert!(matches!(ended, Err(UploadRefusal::DigestMismatch)), "{ended:?}");
        let ended = decide(whole(4, [1; 32]), Ok(StoredObject { size: 4 }), Some([1; 32]), &rules());
        let want = Outcome::Stored { size: 4, sha256: hex::encode([1u8; 32]), content_type: "image/png".into() };
        assert_eq!(ended.expect("stored"), want);
    }
}
