//! Every error the gateway answers with, and the one place it becomes an `application/problem+json`
//! response (RFC 9457) with a stable `code`. 5xx bodies are opaque; their cause is logged once, here.
//!
//! Every domain error an owner returns (accounts, sessions, jobs, uploads, the catalog, rotations, stores)
//! is mapped to its answer here, by a `From` impl, so handlers use `?` and the same failure answers the same
//! way on every route.

use std::time::Duration;

use gantry_actors::accounts::AccountError;
use gantry_actors::catalog::error::CacheError;
use gantry_actors::catalog::moderation::ModerationError;
use gantry_actors::catalog::names::NameError;
use gantry_actors::handle::CallError;
use gantry_actors::jobs::JobError;
use gantry_actors::ports::Unavailable;
use std::sync::Arc;

use gantry_actors::ports::objects::ObjectStoreError;
use gantry_actors::sessions::AuthError;
use gantry_actors::sessions::view::UserNotice;
use gantry_actors::sessions::{SessionError, TokenError};
use gantry_actors::uploads::pipeline::PipelineError;
use hyper::StatusCode;
use serde::Serialize;

use super::respond::{Response, json_response};
use gantry_actors::secrets::rotation::StartError;

/// A per-field problem (422 bodies).
#[derive(Debug, Clone, Serialize)]
pub struct FieldError {
    /// The field (JSON member name).
    pub field: String,
    /// Stable code.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No route matches the path.
    #[error("no route for this path")]
    NotFound,
    /// The resource does not exist (or is not the caller's).
    #[error("{what} not found")]
    ResourceNotFound {
        /// Stable code, e.g. `job_not_found`.
        code: &'static str,
        /// What was looked for.
        what: &'static str,
    },
    /// The path exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed {
        /// Methods the path supports (for the `Allow` header).
        allow: String,
    },
    /// The body is not valid JSON of the expected shape.
    #[error("{0}")]
    MalformedJson(String),
    /// The body is not the media type the endpoint takes.
    #[error("expected {expected}")]
    UnsupportedMediaType {
        /// The media type expected.
        expected: &'static str,
    },
    /// The bytes are not an allowed type, or contradict the declared one.
    #[error("{message}")]
    UnsupportedMediaTypeOf {
        /// Stable code.
        code: &'static str,
        /// Explanation.
        message: &'static str,
    },
    /// The uploaded bytes do not match the digest the client sent.
    #[error("the body does not match the digest sent with it")]
    DigestMismatch,
    /// The requested range is outside the object.
    #[error("the requested range is outside the object")]
    RangeNotSatisfiable,
    /// The body is larger than allowed.
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// A path or query parameter is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// Field-level validation failed.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// Missing or wrong credentials.
    #[error("missing or invalid credentials")]
    Unauthorized,
    /// 401 `session_revoked`; with the users' notice (`{id, message, time}`) of the mass invalidation that
    /// ended the session, when it came with one.
    #[error("the session has been revoked; log in again")]
    SessionRevoked(Option<Arc<UserNotice>>),
    /// A user's credentials or token were refused; `code` says why (`invalid_credentials`,
    /// `token_invalid`, `token_expired`, `session_revoked`, `refresh_reused`).
    #[error("{message}")]
    Unauthenticated {
        /// Stable code.
        code: &'static str,
        /// Explanation.
        message: &'static str,
    },
    /// Authenticated but not allowed (a quota, a permission).
    #[error("{message}")]
    Forbidden {
        /// Stable code, e.g. `upload_quota_exceeded`.
        code: &'static str,
        /// Explanation.
        message: &'static str,
    },
    /// The resource exists already.
    #[error("{message}")]
    Conflict {
        /// Stable code, e.g. `email_taken`.
        code: &'static str,
        /// Explanation.
        message: &'static str,
    },
    /// Too many attempts; retry after the given time.
    #[error("too many attempts; retry later")]
    TooManyRequests {
        /// Suggested wait.
        retry_after: Duration,
    },
    /// A guest's photos are over `uploads.guest_pixels_per_hour` (429 `photo_budget_exceeded`, `Retry-After`).
    #[error("guest photos are limited per hour (uploads.guest_pixels_per_hour); retry later or log in")]
    PhotoBudgetExceeded {
        /// When the full window closes.
        retry_after: Duration,
    },
    /// This client already has its share of the uploads in progress (429 `too_many_uploads`, `Retry-After`).
    #[error("this client already has its share of uploads in progress; retry when one finishes")]
    TooManyUploads,
    /// The request body sent nothing for the idle timeout (408 `body_timeout`).
    #[error("the request body sent nothing for {secs}s; the upload was aborted")]
    BodyTimeout {
        /// The idle timeout.
        secs: u64,
    },
    /// This client address already has its share of the requests in flight (429 `too_many_in_flight`,
    /// `Retry-After`).
    #[error("this client already has its share of requests in flight; retry when one finishes")]
    TooManyInFlight,
    /// A request body arrived too slowly (408): `body_timeout` (not whole within the JSON body deadline),
    /// `body_too_slow` (under the minimum rate), `upload_displaced` (an upload under the rate gave its slot to
    /// a newcomer).
    #[error("{detail}")]
    SlowBody {
        /// Stable code.
        code: &'static str,
        /// Explanation (the limit that applied).
        detail: String,
    },
    /// Too much work right now; retry after the given time.
    #[error("{reason}")]
    Unavailable {
        /// Stable code (`overloaded`, `timeout`, `actor_unavailable`, …).
        code: &'static str,
        /// Explanation safe to show.
        reason: String,
        /// Suggested wait.
        retry_after: Duration,
    },
    /// A template set failed its checks (422 `template_invalid`, every problem listed).
    #[error("the template set failed its checks ({} problems)", .0.len())]
    InvalidTemplates(Vec<gantry_actors::catalog::templates::TemplateIssue>),
    /// The secret source's values fail the start-up rules (422 `secret_validation_failed`; names, never values).
    #[error("{0}")]
    SecretsRefused(String),
    /// A catalog change conflicts (409 `name_taken` with `existing_id`, `would_break_templates` with `forms`).
    #[error("{message}")]
    CatalogConflict {
        /// Stable code.
        code: &'static str,
        /// Explanation.
        message: String,
        /// The option that already has the name.
        existing_id: Option<uuid::Uuid>,
        /// The forms the change would take fields from, each with its fields.
        forms: Option<Vec<gantry_actors::catalog::moderation::BrokenForm>>,
    },
    /// A photo variant is still being made (409 `processing`, `Retry-After`).
    #[error("this variant is still being processed; retry shortly")]
    Processing {
        /// Suggested wait.
        retry_after: Duration,
    },
    /// A photo variant will never exist: processing failed for good (422 `variant_failed`); the stored reason
    /// (`too_many_pixels: …`) is safe to show.
    #[error("this image could not be processed ({0}); only the original is available, to its owner")]
    VariantFailed(String),
    /// Another rotation or rollback runs (409 `rotation_in_progress`).
    #[error("rotation {0} is in progress; follow it at /admin/jobs/{0}")]
    RotationInProgress(uuid::Uuid),
    /// Retrying the job would make a second live job with its unique key (409 `job_key_taken`,
    /// `holding_job_id` naming the live job that holds it).
    #[error("another live job{} holds this job's unique key; retry when it has finished",
        .0.map(|id| format!(" ({id})")).unwrap_or_default())]
    JobKeyTaken(Option<uuid::Uuid>),
    /// A bug or an unexpected backend failure; the client sees nothing of it.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// A 422 for one field.
    #[must_use]
    pub fn field(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError { field: field.into(), code, message: message.into() }])
    }

    /// An error loading the form named by evaluate's `from` (the previous form): an unknown category or
    /// subcategory there is a 422 on `from.category_id` / `from.subcategory_id`, not a 404 of the path's.
    #[must_use]
    pub fn of_previous_form(err: CacheError) -> Self {
        match err {
            CacheError::UnknownCategory => Self::field("from.category_id", "not_found", "no such category"),
            CacheError::UnknownSubcategory => {
                Self::field("from.subcategory_id", "not_found", "no such subcategory in that category")
            }
            other => other.into(),
        }
    }

    /// 503 `database_unavailable`: a store behind an owner is unreachable.
    fn database_unavailable(reason: String) -> Self {
        Self::Unavailable { code: "database_unavailable", reason, retry_after: Duration::from_secs(2) }
    }

    /// 503 `storage_unavailable`: the object store failed.
    fn storage_unavailable(reason: String) -> Self {
        Self::Unavailable { code: "storage_unavailable", reason, retry_after: Duration::from_secs(5) }
    }

    /// A guest upload token was refused (401 `token_expired` or `token_invalid`).
    #[must_use]
    pub fn guest_token_refused(err: &TokenError) -> Self {
        match err {
            TokenError::Expired => {
                Self::Unauthenticated { code: "token_expired", message: "the upload token has expired" }
            }
            TokenError::Invalid => {
                Self::Unauthenticated { code: "token_invalid", message: "the upload token is invalid" }
            }
        }
    }
}

/// What a client is told for a 503 `code`: what is unavailable in the client's terms, never which actor,
/// backend or database code (those are logged).
fn unavailable_detail(code: &str) -> &'static str {
    match code {
        "overloaded" => "too many requests in flight; retry shortly",
        "timeout" => "the request did not complete in time; retry shortly",
        "database_unavailable" => "the database is unavailable; retry shortly",
        "storage_unavailable" => "file storage is unavailable; retry shortly",
        "session_store_unavailable" => "the session store is unavailable; retry shortly",
        _ => "the service is temporarily unavailable; retry shortly",
    }
}

/// 404 `job_not_found`: an unknown or malformed job id, and (public view) another caller's job.
pub const JOB_NOT_FOUND: ApiError = ApiError::ResourceNotFound { code: "job_not_found", what: "job" };
/// 404 `upload_not_found`: shared by the upload routes and a missing object.
pub const UPLOAD_NOT_FOUND: ApiError = ApiError::ResourceNotFound { code: "upload_not_found", what: "upload" };

/// 404 `variant_not_found`: no variant of that name (or the upload is not an image).
pub const VARIANT_NOT_FOUND: ApiError = ApiError::ResourceNotFound { code: "variant_not_found", what: "variant" };

impl From<CallError> for ApiError {
    fn from(err: CallError) -> Self {
        let code = match err {
            CallError::NotRunning(_) => "actor_unavailable",
            CallError::Overloaded(_) => "overloaded",
            CallError::Timeout(_) => "timeout",
        };
        Self::Unavailable { code, reason: err.to_string(), retry_after: Duration::from_secs(1) }
    }
}

impl From<Unavailable> for ApiError {
    fn from(err: Unavailable) -> Self {
        Self::database_unavailable(err.0)
    }
}

impl From<AccountError> for ApiError {
    fn from(err: AccountError) -> Self {
        match err {
            AccountError::Invalid(violations) => Self::Validation(
                violations
                    .into_iter()
                    .map(|v| FieldError { field: v.field.into(), code: v.code, message: v.message })
                    .collect(),
            ),
            AccountError::EmailTaken => {
                Self::Conflict { code: "email_taken", message: "an account with this email already exists" }
            }
            AccountError::InvalidCredentials => {
                Self::Unauthenticated { code: "invalid_credentials", message: "wrong email or password" }
            }
            AccountError::Disabled => {
                Self::Forbidden { code: "account_disabled", message: "this account has been disabled; contact support" }
            }
            AccountError::TooManyAttempts { retry_after } => Self::TooManyRequests { retry_after },
            AccountError::Overloaded => Self::Unavailable {
                code: "overloaded",
                reason: "too many logins at once; retry shortly".into(),
                retry_after: Duration::from_secs(1),
            },
            AccountError::Unavailable(reason) => Self::database_unavailable(reason),
            AccountError::Hashing(reason) => Self::Internal(anyhow::anyhow!("hashing failed: {reason}")),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Invalid => Self::Unauthenticated { code: "token_invalid", message: "the token is invalid" },
            AuthError::Expired => Self::Unauthenticated { code: "token_expired", message: "the token has expired" },
            AuthError::Revoked(notice) => Self::SessionRevoked(notice),
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(err: SessionError) -> Self {
        match err {
            SessionError::InvalidToken => {
                Self::Unauthenticated { code: "token_invalid", message: "the token is invalid" }
            }
            SessionError::Expired => Self::Unauthenticated { code: "token_expired", message: "the token has expired" },
            SessionError::Revoked => Self::SessionRevoked(None),
            SessionError::RevokedWithNotice(notice) => Self::SessionRevoked(Some(notice)),
            SessionError::Reused => Self::Unauthenticated {
                code: "refresh_reused",
                message: "the refresh token was already used; the session has been revoked",
            },
            SessionError::NotFound => Self::ResourceNotFound { code: "session_not_found", what: "session" },
            SessionError::Unavailable(reason) => {
                Self::Unavailable { code: "session_store_unavailable", reason, retry_after: Duration::from_secs(2) }
            }
            SessionError::Call(e) => e.into(),
        }
    }
}

impl From<JobError> for ApiError {
    fn from(err: JobError) -> Self {
        match err {
            JobError::NotFound => JOB_NOT_FOUND,
            JobError::WrongState(_) => {
                Self::Conflict { code: "job_state_conflict", message: "the job is not in a state this applies to" }
            }
            JobError::KeyTaken { holder } => Self::JobKeyTaken(holder),
            JobError::Unavailable(reason) => Self::database_unavailable(reason),
        }
    }
}

impl From<PipelineError> for ApiError {
    fn from(err: PipelineError) -> Self {
        match err {
            PipelineError::AtCapacity => Self::Unavailable {
                code: "overloaded",
                reason: "too many uploads in progress; retry shortly".into(),
                retry_after: Duration::from_secs(2),
            },
            PipelineError::Unavailable(reason) => Self::database_unavailable(reason),
            PipelineError::Storage(reason) => Self::storage_unavailable(reason),
            PipelineError::GuestTokenLimit { retry_after } => Self::TooManyRequests { retry_after },
            PipelineError::ClientAtCapacity => Self::TooManyUploads,
            PipelineError::QuotaExceeded => Self::Forbidden {
                code: "upload_quota_exceeded",
                message: "this upload token has reached its number of files",
            },
            PipelineError::Abandoned => Self::Conflict {
                code: "upload_abandoned",
                message: "the upload was failed as abandoned before it could be kept; upload it again",
            },
            PipelineError::Call(e) => e.into(),
        }
    }
}

impl From<ObjectStoreError> for ApiError {
    fn from(err: ObjectStoreError) -> Self {
        match err {
            ObjectStoreError::NotFound => UPLOAD_NOT_FOUND,
            ObjectStoreError::CredentialsRejected => {
                Self::storage_unavailable("the object store rejected our credentials".to_owned())
            }
            other => Self::storage_unavailable(other.to_string()),
        }
    }
}

impl From<CacheError> for ApiError {
    fn from(err: CacheError) -> Self {
        match err {
            CacheError::Unavailable(reason) => Self::database_unavailable(reason),
            CacheError::UnknownParent => Self::field("parent_id", "not_found", "no such parent"),
            CacheError::UnknownCategory => Self::ResourceNotFound { code: "category_not_found", what: "category" },
            CacheError::UnknownSubcategory => {
                Self::field("subcategory_id", "not_found", "no such subcategory in this category")
            }
            CacheError::NoTemplate => Self::ResourceNotFound { code: "template_not_found", what: "template" },
            CacheError::InvalidTemplates(issues) => Self::InvalidTemplates(issues),
            CacheError::InvalidValues(issues) => Self::Validation(
                issues.into_iter().map(|i| FieldError { field: i.field, code: i.code, message: i.message }).collect(),
            ),
            CacheError::TooManyCreates { retry_after } => Self::TooManyRequests { retry_after },
            CacheError::Call(e) => e.into(),
        }
    }
}

/// An option name refused by `catalog::names` (422 on `name`, the rule's own code): counted by reason and
/// logged with the offending code point, so a look-alike campaign shows on a dashboard.
impl From<NameError> for ApiError {
    fn from(err: NameError) -> Self {
        metrics::counter!("gantry_option_names_refused_total", "reason" => err.code()).increment(1);
        tracing::info!(
            event = "option_name_refused",
            reason = err.code(),
            code_point = err.code_point().as_deref().unwrap_or(""),
            "option name refused"
        );
        Self::field("name", err.code(), err.to_string())
    }
}

impl From<ModerationError> for ApiError {
    fn from(err: ModerationError) -> Self {
        let conflict = |code, message: String| Self::CatalogConflict { code, message, existing_id: None, forms: None };
        match err {
            ModerationError::NotFound => Self::ResourceNotFound { code: "option_not_found", what: "option" },
            ModerationError::NameTaken { existing } => Self::CatalogConflict {
                code: "name_taken",
                message: "another option under the same parent has this name; merge them instead".into(),
                existing_id: Some(existing),
                forms: None,
            },
            ModerationError::KindMismatch => conflict("kind_mismatch", err.to_string()),
            ModerationError::SameOption => conflict("same_option", err.to_string()),
            ModerationError::NotCategory => Self::field("has_engine", "not_allowed", err.to_string()),
            ModerationError::UnknownParent => Self::field("parent_id", "not_found", err.to_string()),
            ModerationError::NotTranslatable => Self::field("id", "not_translatable", err.to_string()),
            ModerationError::WouldBreakTemplates(forms) => Self::CatalogConflict {
                code: "would_break_templates",
                message: format!(
                    "the change would take fields from {} form(s) ({}); send force: true to apply it anyway",
                    forms.len(),
                    forms.iter().map(|f| format!("{}: {}", f.form, f.fields.join(", "))).collect::<Vec<_>>().join("; ")
                ),
                existing_id: None,
                forms: Some(forms),
            },
            ModerationError::Unavailable(reason) => Self::database_unavailable(reason),
        }
    }
}

impl From<StartError> for ApiError {
    fn from(err: StartError) -> Self {
        match err {
            StartError::InProgress(id) => Self::RotationInProgress(id),
            StartError::Unavailable(reason) => Self::database_unavailable(reason),
        }
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    problems: Option<&'a [gantry_actors::catalog::templates::TemplateIssue]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notice: Option<&'a UserNotice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    existing_id: Option<uuid::Uuid>,
    /// The names of the forms a catalog change would take fields from.
    #[serde(skip_serializing_if = "Option::is_none")]
    forms: Option<Vec<&'a str>>,
    /// Those forms, each with its fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    broken: Option<&'a [gantry_actors::catalog::moderation::BrokenForm]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    holding_job_id: Option<uuid::Uuid>,
}

impl ApiError {
    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound | Self::ResourceNotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::MalformedJson(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType { .. } | Self::UnsupportedMediaTypeOf { .. } => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Self::DigestMismatch => StatusCode::BAD_REQUEST,
            Self::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyUploads | Self::PhotoBudgetExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::BodyTimeout { .. } | Self::SlowBody { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::TooManyInFlight => StatusCode::TOO_MANY_REQUESTS,
            Self::Validation(_) | Self::InvalidTemplates(_) | Self::SecretsRefused(_) | Self::VariantFailed(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::RotationInProgress(_) | Self::Processing { .. } | Self::JobKeyTaken(_) => StatusCode::CONFLICT,
            Self::Unauthorized | Self::Unauthenticated { .. } | Self::SessionRevoked(_) => StatusCode::UNAUTHORIZED,
            Self::Conflict { .. } | Self::CatalogConflict { .. } => StatusCode::CONFLICT,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::ResourceNotFound { code, .. }
            | Self::Unavailable { code, .. }
            | Self::Unauthenticated { code, .. }
            | Self::Conflict { code, .. }
            | Self::Forbidden { code, .. }
            | Self::UnsupportedMediaTypeOf { code, .. }
            | Self::SlowBody { code, .. } => code,
            Self::TooManyInFlight => "too_many_in_flight",
            Self::DigestMismatch => "digest_mismatch",
            Self::RangeNotSatisfiable => "range_not_satisfiable",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::MalformedJson(_) => "malformed_json",
            Self::UnsupportedMediaType { .. } => "unsupported_media_type",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::TooManyUploads => "too_many_uploads",
            Self::PhotoBudgetExceeded { .. } => "photo_budget_exceeded",
            Self::BodyTimeout { .. } => "body_timeout",
            Self::BadRequest(_) => "bad_request",
            Self::Validation(_) => "validation_failed",
            Self::InvalidTemplates(_) => "template_invalid",
            Self::SecretsRefused(_) => "secret_validation_failed",
            Self::RotationInProgress(_) => "rotation_in_progress",
            Self::JobKeyTaken(_) => "job_key_taken",
            Self::Processing { .. } => "processing",
            Self::VariantFailed(_) => "variant_failed",
            Self::CatalogConflict { code, .. } => code,
            Self::Unauthorized => "unauthorized",
            Self::SessionRevoked(_) => "session_revoked",
            Self::Internal(_) => "internal",
        }
    }

    /// The response. `request_id` is echoed so a client can quote it to operators.
    #[must_use]
    pub fn into_response(self, request_id: Option<&str>) -> Response {
        let status = self.status();
        if let Self::Internal(cause) = &self {
            // The one place a 5xx cause is logged; adapters keep secrets and SQL out of their errors.
            tracing::error!(request_id, error = format!("{cause:#}"), "internal error");
        }
        let detail = match &self {
            Self::Internal(_) => None,
            // The reason may name internals (an actor, a database code, a backend): it goes to the log, the
            // client gets a fixed text per code.
            Self::Unavailable { code, reason, .. } => {
                super::unavailable_log::record(request_id, code, reason);
                Some(unavailable_detail(code).to_owned())
            }
            other => Some(other.to_string()),
        };
        let title = status.canonical_reason().unwrap_or("Error");
        let code = self.code();
        let body = Problem {
            kind: format!("https://gantry.dev/problems/{code}"),
            title,
            status: status.as_u16(),
            code,
            detail,
            request_id,
            errors: match &self {
                Self::Validation(errors) => Some(errors.as_slice()),
                _ => None,
            },
            problems: match &self {
                Self::InvalidTemplates(problems) => Some(problems.as_slice()),
                _ => None,
            },
            notice: match &self {
                Self::SessionRevoked(notice) => notice.as_deref(),
                _ => None,
            },
            existing_id: match &self {
                Self::CatalogConflict { existing_id, .. } => *existing_id,
                _ => None,
            },
            forms: match &self {
                Self::CatalogConflict { forms: Some(forms), .. } => {
                    Some(forms.iter().map(|f| f.form.as_str()).collect())
                }
                _ => None,
            },
            broken: match &self {
                Self::CatalogConflict { forms, .. } => forms.as_deref(),
                _ => None,
            },
            holding_job_id: match &self {
                Self::JobKeyTaken(holder) => *holder,
                _ => None,
            },
        };
        let mut response = json_response(status, &body);
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/problem+json"));
        match &self {
            Self::MethodNotAllowed { allow } => {
                if let Ok(value) = hyper::header::HeaderValue::from_str(allow) {
                    response.headers_mut().insert(hyper::header::ALLOW, value);
                }
            }
            Self::Unauthorized | Self::Unauthenticated { .. } | Self::SessionRevoked(_) => {
                response
                    .headers_mut()
                    .insert(hyper::header::WWW_AUTHENTICATE, hyper::header::HeaderValue::from_static("Bearer"));
            }
            Self::TooManyUploads | Self::TooManyInFlight => {
                response.headers_mut().insert(hyper::header::RETRY_AFTER, hyper::header::HeaderValue::from_static("1"));
            }
            Self::Unavailable { retry_after, .. }
            | Self::TooManyRequests { retry_after }
            | Self::PhotoBudgetExceeded { retry_after }
            | Self::Processing { retry_after } => {
                let secs = (retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0)).max(1).to_string();
                if let Ok(value) = hyper::header::HeaderValue::from_str(&secs) {
                    response.headers_mut().insert(hyper::header::RETRY_AFTER, value);
                }
            }
            _ => {}
        }
        response
    }
}
