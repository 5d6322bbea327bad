//! Uploads: guest upload tokens, streaming uploads into the object store, metadata, downloads with ranges,
//! deletion.
//!
//! The body is never buffered whole: [`Validating`] wraps it and, chunk by chunk, enforces the size limit
//! (413 the moment it is exceeded), decides the type from the first bytes against the allowlist (415), and
//! hashes (SHA-256) as the bytes pass into the object store's all-or-nothing `put`. A failed, aborted or
//! rejected upload leaves no object behind (the store discards the temporary file / aborts the request) and
//! its record and job end `failed` with the reason. The upload pipeline actor admits uploads (bounded per
//! instance: 503 + `Retry-After` beyond), owns their records and jobs, and finishes or deletes them; the
//! bytes stream in this request task, never through a mailbox.
//!
//! THE EXCEPTION to "state is reached only through its owner": the bytes go from the request straight into
//! the object store ([`upload`]) and straight out of it ([`content`]) through `state.objects`, a handle
//! narrowed to put/get/presign (`gantry_actors::uploads::bytes`). Everything else — admission, records, jobs,
//! quotas, deletion, guest-token limits — goes through the upload pipeline's handle.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::Stream;
use gantry_actors::uploads::bytes::{ByteRange, ObjectKey};
use gantry_actors::uploads::digest::expected_sha256;
use gantry_actors::uploads::guest_token;
use gantry_actors::uploads::media::{self, MediaType, SNIFF_LEN, Sniff};
use gantry_actors::uploads::names::{content_disposition, sanitize_filename};
use gantry_actors::uploads::pdf::ActiveContentScanner;
use gantry_actors::uploads::photo;
use gantry_actors::uploads::pipeline::{Outcome as Finish, UploadRecord, UploadStatus, VariantRecord, VariantState};
use gantry_actors::uploads::ranges::{RangeOutcome, parse_range};
use http_body_util::BodyExt;
use hyper::body::{Body as _, Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Request, StatusCode};
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use super::access::Caller;
use super::ctx::Ctx;
use super::problem::{ApiError, UPLOAD_NOT_FOUND, VARIANT_NOT_FOUND};
use super::respond::{Response, json_response, status_only};
use super::state::AppState;

/// Who is uploading.
#[derive(Debug, Clone)]
struct Uploader {
    /// `user:<id>` or `guest:<id>`.
    owner: String,
    /// Largest accepted file.
    max_bytes: u64,
    /// Accepted types.
    allowed: Vec<MediaType>,
    /// Files the uploader may have (guests: the token's quota).
    max_files: Option<u32>,
}

/// The uploader behind `Authorization: Bearer` (a user) or `X-Upload-Token` (a guest).
fn uploader(state: &AppState, caller: Caller) -> Result<Uploader, ApiError> {
    let settings = &state.settings.uploads;
    let owner = caller.owner();
    Ok(match caller {
        Caller::User(_) => {
            Uploader { owner, max_bytes: settings.max_bytes, allowed: settings.allowed_types(), max_files: None }
        }
        Caller::Guest(claims) => Uploader {
            owner,
            max_bytes: claims.max_bytes.min(settings.max_bytes),
            allowed: claims.allowed_types.iter().filter_map(|t| MediaType::parse_mime(t)).collect(),
            max_files: Some(claims.max_files),
        },
    })
}

#[derive(Serialize)]
struct GuestTokenView {
    upload_token: String,
    expires_in: u64,
    max_bytes: u64,
    max_files: u32,
    allowed_types: Vec<String>,
}

/// `POST /v1/uploads/guest-token`: no login; limited per client address.
///
/// # Errors
/// 429 when the address asked too often.
pub fn guest_token(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    state.pipeline.allow_guest_token(&ctx.peer.ip().to_string())?;
    let settings = state.settings.uploads.guest();
    let keyring = state.secrets.keyring();
    let (token, claims) = guest_token::issue(&keyring, &settings, OffsetDateTime::now_utc());
    metrics::counter!("gantry_upload_guest_tokens_total").increment(1);
    let view = GuestTokenView {
        upload_token: token,
        expires_in: settings.ttl.as_secs(),
        max_bytes: claims.max_bytes,
        max_files: claims.max_files,
        allowed_types: claims.allowed_types,
    };
    let mut response = json_response(StatusCode::OK, &view);
    super::respond::no_store(&mut response);
    Ok(response)
}

/// Why a streamed upload was refused, decided inside the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    TooLarge,
    Unsupported,
    Mismatch,
    ClientAborted,
    /// Nothing arrived for the idle timeout.
    Stalled,
    /// A PDF carrying active content (`/JavaScript`, `/OpenAction`, …).
    ActiveContent,
}

/// What the validating stream learned.
#[derive(Debug, Default)]
struct Outcome {
    refusal: Option<Refusal>,
    media: Option<MediaType>,
    size: u64,
    sha256: Option<[u8; 32]>,
}

/// The request body as a stream of chunks, validated on the way (see the module docs).
struct Validating {
    body: Incoming,
    max_bytes: u64,
    allowed: Vec<MediaType>,
    declared: Option<String>,
    prefix: Vec<u8>,
    hasher: Option<Sha256>,
    size: u64,
    outcome: Arc<Mutex<Outcome>>,
    /// How long the body may send nothing.
    idle: Duration,
    /// Armed while the body has nothing for us; reset by every chunk.
    idle_timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Reads PDFs for active content as they stream (fed once the bytes are known to be a PDF).
    pdf: ActiveContentScanner,
}

impl Validating {
    /// Whether the bytes were decided to be a PDF.
    fn is_pdf(&self) -> bool {
        self.outcome.lock().unwrap_or_else(std::sync::PoisonError::into_inner).media == Some(MediaType::Pdf)
    }

    fn refuse(&self, refusal: Refusal) -> std::io::Error {
        self.outcome.lock().unwrap_or_else(std::sync::PoisonError::into_inner).refusal = Some(refusal);
        std::io::Error::other(format!("upload refused: {refusal:?}"))
    }

    fn decide(&mut self, at_end: bool) -> Result<(), std::io::Error> {
        let mut outcome = self.outcome.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if outcome.media.is_some() {
            return Ok(());
        }
        let sniffed = match media::sniff(&self.prefix) {
            Sniff::Known(m) => m,
            Sniff::NeedMore if !at_end => return Ok(()),
            Sniff::NeedMore | Sniff::Unknown => {
                drop(outcome);
                return Err(self.refuse(Refusal::Unsupported));
            }
        };
        match media::check(self.declared.as_deref(), sniffed, &self.allowed) {
            Ok(m) => {
                outcome.media = Some(m);
                Ok(())
            }
            Err(media::MediaError::Mismatch { .. }) => {
                drop(outcome);
                Err(self.refuse(Refusal::Mismatch))
            }
            Err(_) => {
                drop(outcome);
                Err(self.refuse(Refusal::Unsupported))
            }
        }
    }
}

impl Stream for Validating {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let frame = match Pin::new(&mut self.body).poll_frame(cx) {
                Poll::Pending => {
                    // A client that holds the connection open and sends nothing would keep its upload slot
                    // for the whole upload deadline: after `idle` without a byte, the upload is refused.
                    let idle = self.idle;
                    let timer = self.idle_timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                    if timer.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Some(Err(self.refuse(Refusal::Stalled))));
                    }
                    return Poll::Pending;
                }
                Poll::Ready(None) => {
                    if let Err(e) = self.decide(true) {
                        return Poll::Ready(Some(Err(e)));
                    }
                    if self.is_pdf() && self.pdf.finish().is_some() {
                        return Poll::Ready(Some(Err(self.refuse(Refusal::ActiveContent))));
                    }
                    let digest = self.hasher.take().map(|h| h.finalize().into());
                    let mut outcome = self.outcome.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    outcome.size = self.size;
                    outcome.sha256 = digest;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(_))) => return Poll::Ready(Some(Err(self.refuse(Refusal::ClientAborted)))),
                Poll::Ready(Some(Ok(frame))) => frame,
            };
            self.idle_timer = None;
            let Ok(chunk) = frame.into_data() else { continue };
            if chunk.is_empty() {
                continue;
            }
            self.size += chunk.len() as u64;
            if self.size > self.max_bytes {
                return Poll::Ready(Some(Err(self.refuse(Refusal::TooLarge))));
            }
            if self.prefix.len() < SNIFF_LEN {
                let take = (SNIFF_LEN - self.prefix.len()).min(chunk.len());
                self.prefix.extend_from_slice(&chunk[..take]);
                if let Err(e) = self.decide(false) {
                    return Poll::Ready(Some(Err(e)));
                }
            }
            if self.is_pdf() && self.pdf.feed(&chunk).is_some() {
                return Poll::Ready(Some(Err(self.refuse(Refusal::ActiveContent))));
            }
            if let Some(h) = self.hasher.as_mut() {
                h.update(&chunk);
            }
            return Poll::Ready(Some(Ok(chunk)));
        }
    }
}

fn refusal_error(refusal: Refusal, max_bytes: u64, idle: Duration) -> (ApiError, &'static str) {
    match refusal {
        Refusal::TooLarge => {
            (ApiError::PayloadTooLarge { limit: usize::try_from(max_bytes).unwrap_or(usize::MAX) }, "payload_too_large")
        }
        Refusal::Unsupported => (
            ApiError::UnsupportedMediaTypeOf {
                code: "unsupported_media_type",
                message: "the bytes are not an allowed file type",
            },
            "unsupported_media_type",
        ),
        Refusal::Mismatch => (
            ApiError::UnsupportedMediaTypeOf {
                code: "unsupported_media_type",
                message: "the bytes contradict the declared Content-Type",
            },
            "unsupported_media_type",
        ),
        Refusal::ClientAborted => {
            (ApiError::BadRequest("the client stopped sending the body".into()), "client_aborted")
        }
        Refusal::Stalled => (ApiError::BodyTimeout { secs: idle.as_secs() }, "body_timeout"),
        Refusal::ActiveContent => (
            ApiError::UnsupportedMediaTypeOf {
                code: "active_content",
                message: "PDFs with scripts, automatic actions, launch actions or embedded files are not accepted",
            },
            "active_content",
        ),
    }
}

#[derive(Serialize)]
struct UploadView<'a> {
    id: Uuid,
    size: u64,
    sha256: &'a str,
    content_type: &'a str,
    filename: Option<&'a str>,
    status: UploadStatus,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    /// The photo variants (`[]` for a non-image), each served by `content?variant={name}`.
    variants: Vec<VariantView<'a>>,
}

/// One photo variant as its owner sees it.
#[derive(Serialize)]
struct VariantView<'a> {
    name: &'a str,
    state: VariantState,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    /// Why it failed (`too_many_pixels: …`), when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

impl<'a> UploadView<'a> {
    fn new(r: &'a UploadRecord, variants: &'a [VariantRecord]) -> Self {
        Self {
            id: r.id,
            size: r.size,
            sha256: &r.sha256,
            content_type: &r.content_type,
            filename: r.filename.as_deref(),
            status: r.status,
            created_at: r.created_at,
            variants: variants
                .iter()
                .map(|v| VariantView {
                    name: &v.name,
                    state: v.state,
                    content_type: v.content_type.as_deref(),
                    width: v.width,
                    height: v.height,
                    size: v.size,
                    error: v.error.as_deref(),
                })
                .collect(),
        }
    }
}

/// `POST /v1/uploads`: the raw file as the body.
///
/// # Errors
/// 401, 413 `payload_too_large`, 415 `unsupported_media_type`, 400 `digest_mismatch`, 503 when at capacity
/// or the store is unavailable.
pub async fn upload(state: &AppState, ctx: &Ctx, caller: Caller, req: Request<Incoming>) -> Result<Response, ApiError> {
    let who = uploader(state, caller)?;
    let started = Instant::now();
    let declared_len =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared_len.is_some_and(|n| n > who.max_bytes) {
        metrics::counter!("gantry_uploads_total", "outcome" => "payload_too_large").increment(1);
        return Err(ApiError::PayloadTooLarge { limit: usize::try_from(who.max_bytes).unwrap_or(usize::MAX) });
    }
    let header_str = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let expected = expected_sha256(header_str("content-digest").as_deref(), header_str("x-checksum-sha256").as_deref())
        .map_err(|_| ApiError::BadRequest("malformed Content-Digest or x-checksum-sha256".into()))?;
    let declared = header_str("content-type");
    // Clients send UTF-8 names as raw header bytes; anything not UTF-8 is dropped (the name is display-only).
    let filename = req
        .headers()
        .get("x-filename")
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
        .and_then(sanitize_filename);

    let address = ctx.peer.ip().to_string();
    let admission = state.pipeline.admit(who.owner.clone(), &address, filename, who.max_files).await?;
    let key = admission.key.clone();
    let idle = Duration::from_secs(state.settings.uploads.body_idle_timeout_secs);
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let stream = Validating {
        body: req.into_body(),
        max_bytes: who.max_bytes,
        allowed: who.allowed.clone(),
        declared,
        prefix: Vec::with_capacity(SNIFF_LEN),
        hasher: Some(Sha256::new()),
        size: 0,
        outcome: Arc::clone(&outcome),
        idle,
        idle_timer: None,
        pdf: ActiveContentScanner::new(),
    };
    // The exception (see the module docs): the bytes stream from the request straight into the object store.
    let put = state.objects.put(&key, Box::pin(stream), declared_len, "application/octet-stream").await;
    let learned = std::mem::take(&mut *outcome.lock().unwrap_or_else(std::sync::PoisonError::into_inner));

    let failed = |code: &str, remove_object: bool| Finish::Failed { code: code.to_owned(), remove_object };
    if let Some(refusal) = learned.refusal {
        let (error, code) = refusal_error(refusal, who.max_bytes, idle);
        state.pipeline.finish(admission, failed(code, false)).await?;
        return Err(error);
    }
    if let Err(e) = put {
        let error = ApiError::from(e);
        // The store failed mid-write: an unfinished multipart upload may be left, which the removal job aborts.
        state.pipeline.finish(admission, failed("storage_unavailable", true)).await?;
        return Err(error);
    }
    let digest = learned.sha256.unwrap_or_default();
    if expected.is_some_and(|want| want != digest) {
        // The bytes are stored but are not what the client meant: the pipeline removes them.
        state.pipeline.finish(admission, failed("digest_mismatch", true)).await?;
        return Err(ApiError::DigestMismatch);
    }
    let stored = Finish::Stored {
        size: learned.size,
        sha256: hex::encode(digest),
        content_type: learned.media.map_or("application/octet-stream", MediaType::mime).to_owned(),
    };
    let record = state.pipeline.finish(admission, stored).await?;
    metrics::histogram!("gantry_upload_duration_seconds").record(started.elapsed().as_secs_f64());
    let variants = state.pipeline.variants(record.id).await?;
    Ok(json_response(StatusCode::CREATED, &UploadView::new(&record, &variants)))
}

/// The caller's stored upload `{id}`; another owner's, a failed or an unknown one is 404.
async fn owned(state: &AppState, ctx: &Ctx, caller: Caller) -> Result<UploadRecord, ApiError> {
    let who = uploader(state, caller)?;
    let id = ctx.params.get("id").and_then(|s| Uuid::parse_str(s).ok()).ok_or(UPLOAD_NOT_FOUND)?;
    match state.pipeline.get(id).await? {
        Some(r) if r.owner == who.owner && r.status == UploadStatus::Stored => Ok(r),
        _ => Err(UPLOAD_NOT_FOUND),
    }
}

/// `GET /v1/uploads/{id}`.
///
/// # Errors
/// 401; 404 `upload_not_found` for anything not the caller's.
pub async fn metadata(state: &AppState, ctx: &Ctx, caller: Caller) -> Result<Response, ApiError> {
    let record = owned(state, ctx, caller).await?;
    let variants = state.pipeline.variants(record.id).await?;
    Ok(json_response(StatusCode::OK, &UploadView::new(&record, &variants)))
}

/// How long a client is asked to wait before asking for a pending variant again.
const PROCESSING_RETRY_AFTER: Duration = Duration::from_secs(2);

/// What a download serves: the original, or one photo variant.
struct Served {
    key: ObjectKey,
    size: u64,
    sha256: String,
    content_type: String,
    disposition: String,
}

/// `GET /v1/uploads/{id}/content`: streams the object — the original, or with `?variant={name}` one photo
/// variant (same owner-only access); `Range` (206/416), `If-None-Match` (304), and on the production profile
/// `?redirect=1` (302 to a presigned URL valid ≤ 5 minutes).
///
/// # Errors
/// 401; 404 (`upload_not_found`; `variant_not_found` for an unknown variant name or a non-image); 409
/// `processing` + `Retry-After` while the variant is pending; 422 `variant_failed` when processing failed for
/// good; 416; 503 when the store is unavailable.
pub async fn content(
    state: &AppState,
    ctx: &Ctx,
    caller: Caller,
    req: &Request<Incoming>,
) -> Result<Response, ApiError> {
    let record = owned(state, ctx, caller).await?;
    let variant = req.uri().query().and_then(|q| q.split('&').find_map(|p| p.strip_prefix("variant=")));
    let served = match variant {
        None => Served {
            key: ObjectKey::parse(record.object_key.clone()).map_err(|e| ApiError::Internal(e.into()))?,
            size: record.size,
            sha256: record.sha256.clone(),
            content_type: record.content_type.clone(),
            disposition: content_disposition(record.filename.as_deref()),
        },
        Some(name) => variant_served(state, &record, name).await?,
    };
    serve(state, req, served).await
}

/// Variant `name` of `record`, if it is ready.
async fn variant_served(state: &AppState, record: &UploadRecord, name: &str) -> Result<Served, ApiError> {
    let variants = state.pipeline.variants(record.id).await?;
    let variant = variants.into_iter().find(|v| v.name == name).ok_or(VARIANT_NOT_FOUND)?;
    match variant.state {
        VariantState::Pending => Err(ApiError::Processing { retry_after: PROCESSING_RETRY_AFTER }),
        VariantState::Failed => Err(ApiError::VariantFailed(variant.error.unwrap_or_else(|| "failed".into()))),
        VariantState::Ready => {
            let content_type = variant.content_type.unwrap_or_else(|| "application/octet-stream".into());
            // The saved name's extension follows the variant's format (a PNG original served as JPEG).
            let filename = match MediaType::parse_mime(&content_type) {
                Some(media) => {
                    record.filename.clone().map(|n| gantry_actors::uploads::names::with_matching_extension(&n, media))
                }
                None => record.filename.clone(),
            };
            Ok(Served {
                key: photo::variant_key(record.id, &variant.name).map_err(|_| VARIANT_NOT_FOUND)?,
                size: variant.size.unwrap_or(0),
                sha256: variant.sha256.unwrap_or_default(),
                content_type,
                disposition: content_disposition(filename.as_deref()),
            })
        }
    }
}

/// Streams `served` with ranges, `ETag` and the optional presigned redirect.
async fn serve(state: &AppState, req: &Request<Incoming>, served: Served) -> Result<Response, ApiError> {
    let Served { key, size, sha256, content_type, disposition } = served;
    let etag = format!("\"{sha256}\"");
    let wants_redirect = req.uri().query().is_some_and(|q| q.split('&').any(|p| p == "redirect=1"));
    if wants_redirect {
        // The exception (see the module docs): a presigned URL to read the bytes from the object store.
        let url = state.objects.presigned_get(&key, Duration::from_secs(300), &content_type, &disposition).await?;
        if let Some(url) = url {
            let mut response = status_only(StatusCode::FOUND);
            if let Ok(v) = HeaderValue::from_str(&url) {
                response.headers_mut().insert(header::LOCATION, v);
            }
            return Ok(response);
        }
    }
    let matches_etag = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut headers = vec![
        (header::ETAG, etag.clone()),
        (header::ACCEPT_RANGES, "bytes".to_owned()),
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_DISPOSITION, disposition),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
    ];
    if matches_etag {
        let mut response = status_only(StatusCode::NOT_MODIFIED);
        headers.retain(|(k, _)| *k == header::ETAG);
        set_headers(&mut response, headers);
        return Ok(response);
    }
    let range = req.headers().get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, byte_range) = match range.map_or(RangeOutcome::Full, |r| parse_range(r, size)) {
        RangeOutcome::Full => (StatusCode::OK, None),
        RangeOutcome::Partial { start, end } => (StatusCode::PARTIAL_CONTENT, Some(ByteRange { start, end })),
        RangeOutcome::Unsatisfiable => {
            let mut response = ApiError::RangeNotSatisfiable.into_response(None);
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(response);
        }
    };
    // The exception (see the module docs): the bytes stream from the object store straight into the response.
    let object = state.objects.get(&key, byte_range).await?;
    let length = byte_range.map_or(size, |r| r.end - r.start + 1);
    headers.push((header::CONTENT_LENGTH, length.to_string()));
    if let Some(r) = byte_range {
        headers.push((header::CONTENT_RANGE, format!("bytes {}-{}/{}", r.start, r.end, size)));
    }
    let body = http_body_util::StreamBody::new(futures::StreamExt::map(object.stream, |chunk| chunk.map(Frame::data)));
    let mut response = hyper::Response::new(BodyExt::boxed_unsync(body));
    *response.status_mut() = status;
    set_headers(&mut response, headers);
    Ok(response)
}

fn set_headers(response: &mut Response, headers: Vec<(header::HeaderName, String)>) {
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, v);
        }
    }
}

/// `DELETE /v1/uploads/{id}`: removes the object and the record.
///
/// # Errors
/// 401; 404; 503 when the store is unavailable.
pub async fn delete(state: &AppState, ctx: &Ctx, caller: Caller) -> Result<Response, ApiError> {
    let record = owned(state, ctx, caller).await?;
    state.pipeline.delete(record).await?;
    Ok(status_only(StatusCode::NO_CONTENT))
}
