//! Uploads: guest upload tokens, streaming uploads, metadata, downloads with ranges, deletion.
//!
//! The handlers read the request (who is calling, the headers, the body) and hand it to the upload owner in
//! one call — [`upload`] to `UploadPipelineHandle::receive`, [`content`] to `UploadPipelineHandle::open` — and
//! turn its answer into a response: the owner validates and stores the bytes, decides the failures and removes
//! what must go (`gantry_actors::uploads`); the bytes stream in this request task, never through a mailbox.

use gantry_actors::uploads::download::{Download, DownloadRefusal, DownloadRequest};
use gantry_actors::uploads::guest_token;
use gantry_actors::uploads::media::MediaType;
use gantry_actors::uploads::pipeline::{UploadRecord, UploadStatus, VariantRecord, VariantState};
use gantry_actors::uploads::receive::{UploadFacts, UploadRefusal, Uploader};
use http_body_util::{BodyDataStream, BodyExt};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Request, StatusCode};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::access::Caller;
use super::ctx::Ctx;
use super::problem::{ApiError, UPLOAD_NOT_FOUND, VARIANT_NOT_FOUND};
use super::respond::{Response, json_response, status_only};
use super::state::AppState;

/// The uploader behind `Authorization: Bearer` (a user) or `X-Upload-Token` (a guest).
fn uploader(state: &AppState, caller: Caller) -> Uploader {
    let settings = &state.settings.uploads;
    let owner = caller.owner();
    match caller {
        Caller::User(_) => {
            Uploader { owner, max_bytes: settings.max_bytes, allowed: settings.allowed_types(), max_files: None }
        }
        Caller::Guest(claims) => Uploader {
            owner,
            max_bytes: claims.max_bytes.min(settings.max_bytes),
            allowed: claims.allowed_types.iter().filter_map(|t| MediaType::parse_mime(t)).collect(),
            max_files: Some(claims.max_files),
        },
    }
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

/// The answer to an upload the owner refused: the problem clients have always seen for it.
fn refused(refusal: UploadRefusal) -> ApiError {
    match refusal {
        UploadRefusal::TooLarge { limit } => {
            ApiError::PayloadTooLarge { limit: usize::try_from(limit).unwrap_or(usize::MAX) }
        }
        UploadRefusal::MalformedDigest(_) => {
            ApiError::BadRequest("malformed Content-Digest or x-checksum-sha256".into())
        }
        UploadRefusal::Unsupported => ApiError::UnsupportedMediaTypeOf {
            code: "unsupported_media_type",
            message: "the bytes are not an allowed file type",
        },
        UploadRefusal::Mismatch => ApiError::UnsupportedMediaTypeOf {
            code: "unsupported_media_type",
            message: "the bytes contradict the declared Content-Type",
        },
        UploadRefusal::ClientAborted => ApiError::BadRequest("the client stopped sending the body".into()),
        UploadRefusal::Stalled { idle } => ApiError::BodyTimeout { secs: idle.as_secs() },
        UploadRefusal::TooSlow { min_bytes_per_sec } => ApiError::SlowBody {
            code: "body_too_slow",
            detail: format!("the upload arrived slower than {min_bytes_per_sec} bytes per second"),
        },
        UploadRefusal::Displaced => ApiError::SlowBody {
            code: "upload_displaced",
            detail: "the upload was under the minimum rate while every upload slot was taken: a newcomer took its \
                     place; upload it again on a faster connection"
                .into(),
        },
        UploadRefusal::ActiveContent => ApiError::UnsupportedMediaTypeOf {
            code: "active_content",
            message: "PDFs with scripts, automatic actions, launch actions or embedded files are not accepted",
        },
        UploadRefusal::UnreadablePdf => ApiError::UnsupportedMediaTypeOf {
            code: "unreadable_pdf",
            message: "the PDF cannot be read, so it cannot be checked for active content",
        },
        UploadRefusal::DigestMismatch => ApiError::DigestMismatch,
        UploadRefusal::PixelBudget { retry_after, .. } => ApiError::PhotoBudgetExceeded { retry_after },
        UploadRefusal::Storage(e) => e.into(),
        UploadRefusal::Pipeline(e) => e.into(),
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
    let uploader = uploader(state, caller);
    let headers = req.headers();
    let header_str = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let facts = UploadFacts {
        uploader,
        address: ctx.peer.ip().to_string(),
        declared_len: header_str(header::CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<u64>().ok()),
        declared_type: header_str("content-type"),
        content_digest: header_str("content-digest"),
        x_checksum: header_str("x-checksum-sha256"),
        // Clients send UTF-8 names as raw header bytes; anything not UTF-8 is dropped (the name is display-only).
        filename: headers.get("x-filename").and_then(|v| std::str::from_utf8(v.as_bytes()).ok()).map(str::to_owned),
    };
    let record = state.pipeline.receive(facts, BodyDataStream::new(req.into_body())).await.map_err(refused)?;
    let variants = state.pipeline.variants(record.id).await?;
    Ok(json_response(StatusCode::CREATED, &UploadView::new(&record, &variants)))
}

/// The caller's owner name and the upload id of the path (a malformed id is 404, like another owner's).
fn caller_and_id(state: &AppState, ctx: &Ctx, caller: Caller) -> Result<(String, Uuid), ApiError> {
    let who = uploader(state, caller);
    let id = ctx.params.get("id").and_then(|s| Uuid::parse_str(s).ok()).ok_or(UPLOAD_NOT_FOUND)?;
    Ok((who.owner, id))
}

/// The caller's stored upload `{id}`; another owner's, a failed or an unknown one is 404.
async fn owned(state: &AppState, ctx: &Ctx, caller: Caller) -> Result<UploadRecord, ApiError> {
    let (owner, id) = caller_and_id(state, ctx, caller)?;
    state.pipeline.owned(id, &owner).await?.ok_or(UPLOAD_NOT_FOUND)
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
    let (owner, id) = caller_and_id(state, ctx, caller)?;
    let query = req.uri().query().unwrap_or_default();
    let header_str =
        |name: header::HeaderName| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let request = DownloadRequest {
        owner,
        variant: query.split('&').find_map(|p| p.strip_prefix("variant=")).map(str::to_owned),
        range: header_str(header::RANGE),
        if_none_match: header_str(header::IF_NONE_MATCH),
        redirect: query.split('&').any(|p| p == "redirect=1"),
    };
    let download = state.pipeline.open(id, request).await.map_err(refused_download)?;
    let (representation, range, stream) = match download {
        Download::Redirect { url } => {
            let mut response = status_only(StatusCode::FOUND);
            if let Ok(v) = HeaderValue::from_str(&url) {
                response.headers_mut().insert(header::LOCATION, v);
            }
            return Ok(response);
        }
        Download::NotModified { etag } => {
            let mut response = status_only(StatusCode::NOT_MODIFIED);
            set_headers(&mut response, vec![(header::ETAG, etag)]);
            return Ok(response);
        }
        Download::Unsatisfiable { size } => {
            let mut response = ApiError::RangeNotSatisfiable.into_response(None);
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(response);
        }
        Download::Bytes { representation, range, stream } => (representation, range, stream),
    };
    let size = representation.size;
    let mut headers = vec![
        (header::ETAG, representation.etag),
        (header::ACCEPT_RANGES, "bytes".to_owned()),
        (header::CONTENT_TYPE, representation.content_type),
        (header::CONTENT_DISPOSITION, representation.disposition),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        (header::CONTENT_LENGTH, range.map_or(size, |r| r.end - r.start + 1).to_string()),
    ];
    if let Some(r) = range {
        headers.push((header::CONTENT_RANGE, format!("bytes {}-{}/{}", r.start, r.end, size)));
    }
    let body = http_body_util::StreamBody::new(futures::StreamExt::map(stream, |chunk| chunk.map(Frame::data)));
    let mut response = super::respond::representation(BodyExt::boxed_unsync(body));
    *response.status_mut() = if range.is_some() { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
    set_headers(&mut response, headers);
    Ok(response)
}

/// The answer to a download the owner refused.
fn refused_download(refusal: DownloadRefusal) -> ApiError {
    match refusal {
        DownloadRefusal::NotFound => UPLOAD_NOT_FOUND,
        DownloadRefusal::VariantNotFound => VARIANT_NOT_FOUND,
        DownloadRefusal::Processing { retry_after } => ApiError::Processing { retry_after },
        DownloadRefusal::VariantFailed(error) => ApiError::VariantFailed(error),
        DownloadRefusal::BrokenRecord(e) => ApiError::Internal(e.into()),
        DownloadRefusal::Storage(e) => e.into(),
        DownloadRefusal::Pipeline(e) => e.into(),
    }
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
