//! The admin listener's endpoints. Routes:
//!
//! | route | auth | what |
//! |---|---|---|
//! | `GET /metrics` | none (the listener is private) | Prometheus text format |
//! | `GET /healthz`, `GET /readyz` | none | as on the public listener |
//! | `GET /admin/secrets` | Bearer admin token | every secret's versions: fingerprint, state, origin, time |
//! | `POST /admin/secrets/validate` | Bearer admin token | checks a candidate set against the runbook rules |
//! | `GET /admin/jobs/{id}` | Bearer admin token | a job |
//! | `POST /admin/sessions/revoke-all` | Bearer admin token | force every user to log in again (O(1)) |
//! | `POST /admin/users/{id}/revoke-sessions` | Bearer admin token | force one user to log in again |
//! | `GET /admin/sessions/revocations` | Bearer admin token | the revocation notices (evidence) |
//! | `POST /admin/users` | Bearer admin token | create an account (the smoke test's; no per-address limit) |
//! | `GET /admin/users?email=` | Bearer admin token | find an account by email |
//! | `DELETE /admin/users/{id}` | Bearer admin token | revoke an account's sessions everywhere, then delete it |
//! | `POST /admin/users/{id}/disable` | Bearer admin token | refuse the account's logins, revoke its sessions |
//! | `POST /admin/users/{id}/enable` | Bearer admin token | let a disabled account log in again |
//!
//! The admin token is checked once per request before any of these handlers runs (`access::check`, by each
//! route's declared `router::Access`); the handlers here only do the work.

use gantry_actors::secrets::rules::{self, Candidates, Requirements, Rule};
use gantry_actors::secrets::{SecretName, Violation};
use gantry_actors::sessions::registry::RevokeTarget;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde::{Deserialize, Serialize};

use super::body::read_json;
use super::ctx::Ctx;
use super::problem::ApiError;
use super::respond::{Response, json_response, status_only, text};
use super::state::AppState;
use super::user_message;

/// `GET /metrics`.
#[must_use]
pub fn metrics(state: &AppState) -> Response {
    text(StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", crate::telemetry::render(&state.metrics))
}

#[derive(Serialize)]
struct SecretsView {
    instance_id: uuid::Uuid,
    secrets: Vec<gantry_actors::secrets::keyring::VersionStatus>,
}

/// `GET /admin/secrets`: asks the secret store actor (an operator view, not the hot path).
///
/// # Errors
/// 503 when the actor is unavailable.
pub async fn secrets(state: &AppState) -> Result<Response, ApiError> {
    let secrets = state.secrets.status().await?;
    Ok(json_response(StatusCode::OK, &SecretsView { instance_id: state.instance_id, secrets }))
}

/// Candidate values to check (all optional; only the given ones are checked).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CandidateSet {
    #[serde(rename = "JWT_SECRET")]
    jwt_secret: Option<String>,
    #[serde(rename = "UPLOAD_GUEST_TOKEN_SECRET")]
    upload_guest_token_secret: Option<String>,
    #[serde(rename = "S3_ACCESS_KEY_ID")]
    s3_access_key_id: Option<String>,
    #[serde(rename = "S3_SECRET_ACCESS_KEY")]
    s3_secret_access_key: Option<String>,
    #[serde(rename = "GANTRY_ADMIN_TOKEN")]
    admin_token: Option<String>,
    #[serde(rename = "JWT_SIGNING_KEY")]
    jwt_signing_key: Option<String>,
    #[serde(rename = "JWT_SIGNING_KEY_NEXT")]
    jwt_signing_key_next: Option<String>,
}

#[derive(Serialize)]
struct ViolationView {
    variable: SecretName,
    code: &'static str,
    message: String,
}

impl From<&Violation> for ViolationView {
    fn from(v: &Violation) -> Self {
        Self { variable: v.variable, code: v.rule.code(), message: format!("{} {}", v.variable, v.rule) }
    }
}

#[derive(Serialize)]
struct ValidationView {
    valid: bool,
    violations: Vec<ViolationView>,
}

/// `POST /admin/secrets/validate`: runbook step 2 ("ensure new values are high entropy") before the
/// values go into the secret manager. Answers which rules each given value breaks; never echoes values.
///
/// # Errors
/// 400/413/415 for a bad body.
pub async fn validate_secrets(state: &AppState, req: Request<Incoming>) -> Result<Response, ApiError> {
    let set: CandidateSet = read_json(req, state.settings.http.max_body_bytes).await?;
    let candidates = Candidates {
        jwt_secret: set.jwt_secret.as_deref(),
        upload_guest_token_secret: set.upload_guest_token_secret.as_deref(),
        s3_access_key_id: set.s3_access_key_id.as_deref(),
        s3_secret_access_key: set.s3_secret_access_key.as_deref(),
        admin_token: set.admin_token.as_deref(),
        jwt_signing_key: set.jwt_signing_key.as_deref(),
        jwt_signing_key_next: set.jwt_signing_key_next.as_deref(),
    };
    let required =
        Requirements { s3: false, admin_token: false, algorithm: state.settings.sessions.access_token_algorithm };
    let mut violations = rules::validate(&candidates, required);
    // Only what was given is checked: a partial rotation (say, S3 only) is a valid question.
    violations.retain(|v| v.rule != Rule::Missing);
    let view = ValidationView { valid: violations.is_empty(), violations: violations.iter().map(Into::into).collect() };
    Ok(json_response(StatusCode::OK, &view))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    requested_by: Option<String>,
    /// Shown to the users whose sessions this ends, in every 401 `session_revoked` it causes.
    #[serde(default)]
    user_message: Option<String>,
}

#[derive(Serialize)]
struct RevokeAccepted {
    job_id: uuid::Uuid,
    #[serde(with = "time::serde::rfc3339")]
    not_before: time::OffsetDateTime,
    not_before_ms: i64,
}

async fn revoke(state: &AppState, req: Request<Incoming>, target: RevokeTarget) -> Result<Response, ApiError> {
    let has_body = req.headers().get(hyper::header::CONTENT_LENGTH).is_some_and(|v| v != "0")
        || req.headers().contains_key(hyper::header::TRANSFER_ENCODING);
    let body: RevokeBody =
        if has_body { read_json(req, state.settings.http.max_body_bytes).await? } else { RevokeBody::default() };
    let reason = body.reason.unwrap_or_default().trim().chars().take(500).collect::<String>();
    if reason.is_empty() {
        return Err(ApiError::field("reason", "required", "say why (it is recorded as evidence)"));
    }
    let requested_by = body.requested_by.unwrap_or_else(|| "admin".into()).chars().take(100).collect();
    let user_message = user_message::parse(body.user_message)?;
    let notice = state.sessions.revoke(target, reason, requested_by, user_message).await?;
    let not_before = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(notice.not_before_ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    Ok(json_response(
        StatusCode::ACCEPTED,
        &RevokeAccepted { job_id: notice.id, not_before, not_before_ms: notice.not_before_ms },
    ))
}

/// `POST /admin/sessions/revoke-all {"reason": "…"}`: every session created before now is revoked on every
/// instance. O(1): one epoch write and one bus message.
///
/// # Errors
/// 422 without a reason; 503 when the stores are unavailable.
pub async fn revoke_all(state: &AppState, req: Request<Incoming>) -> Result<Response, ApiError> {
    revoke(state, req, RevokeTarget::All).await
}

/// `POST /admin/users/{id}/revoke-sessions {"reason": "…"}`.
///
/// # Errors
/// 404 for a malformed or unknown user id; otherwise as [`revoke_all`].
pub async fn revoke_user(state: &AppState, ctx: &Ctx, req: Request<Incoming>) -> Result<Response, ApiError> {
    const NOT_FOUND: ApiError = ApiError::ResourceNotFound { code: "user_not_found", what: "user" };
    let id = ctx.params.get("id").and_then(|s| uuid::Uuid::parse_str(s).ok()).ok_or(NOT_FOUND)?;
    if !state.accounts.exists(id).await? {
        return Err(NOT_FOUND);
    }
    revoke(state, req, RevokeTarget::User(id)).await
}

#[derive(Serialize)]
struct UserView {
    id: uuid::Uuid,
    email: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    /// When an operator disabled it (`null`: enabled).
    #[serde(with = "time::serde::rfc3339::option")]
    disabled_at: Option<time::OffsetDateTime>,
}

/// The body of `POST /admin/users`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    email: String,
    password: String,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser").field("email", &self.email).finish_non_exhaustive()
    }
}

/// `POST /admin/users`: creates an account through the same owner, rules and hashing as
/// `POST /v1/auth/register`, but as the operator's (`gantry users add`): not counted against any address's
/// registration limit, so the runbook's smoke tests never spend it (issue 25.3). 201 `{user_id, email}`.
///
/// # Errors
/// 422 for a broken email or password; 409 `email_taken`; 503 when the database is unavailable.
pub async fn create_user(state: &AppState, req: Request<Incoming>) -> Result<Response, ApiError> {
    let new: NewUser = read_json(req, state.settings.http.max_body_bytes).await?;
    let user = state.accounts.register(&new.email, new.password, None).await?;
    tracing::info!(event = "admin_user_created", user_id = %user.id, "account created through the admin API");
    Ok(json_response(StatusCode::CREATED, &serde_json::json!({ "user_id": user.id, "email": user.email })))
}

/// `GET /admin/users?email=E`: the account registered with `E` (normalised as at registration).
///
/// # Errors
/// 422 without `email`; 404 `user_not_found`; 503 when the database is unavailable.
pub async fn find_user(state: &AppState, req: &Request<Incoming>) -> Result<Response, ApiError> {
    let email = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "email")
        .map(|(_, v)| crate::gateway::ctx::percent_decode(v))
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ApiError::field("email", "required", "the email to look up"))?;
    let user = state
        .accounts
        .find_by_email(&email)
        .await?
        .ok_or(ApiError::ResourceNotFound { code: "user_not_found", what: "user" })?;
    Ok(json_response(
        StatusCode::OK,
        &UserView { id: user.id, email: user.email, created_at: user.created_at, disabled_at: user.disabled_at },
    ))
}

/// `DELETE /admin/users/{id}`: revokes every session of the user on every instance (a revocation notice, as
/// `revoke-sessions` records), then deletes the account. Uploads stay (they are owned, not deleted with it).
///
/// # Errors
/// 404 `user_not_found` for a malformed or unknown id; 503 when the stores are unavailable.
pub async fn delete_user(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    const NOT_FOUND: ApiError = ApiError::ResourceNotFound { code: "user_not_found", what: "user" };
    let id = ctx.params.get("id").and_then(|s| uuid::Uuid::parse_str(s).ok()).ok_or(NOT_FOUND)?;
    if !state.accounts.exists(id).await? {
        return Err(NOT_FOUND);
    }
    let notice = state.sessions.revoke(RevokeTarget::User(id), "account deleted".into(), "admin".into(), None).await?;
    state.accounts.delete(id).await?;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "user_id": id, "deleted": true, "revocation_job_id": notice.id }),
    ))
}

/// `POST /admin/users/{id}/disable` (`disabled`) and `POST /admin/users/{id}/enable`: 204. Disabling marks
/// the account first (no login succeeds after that), then revokes every session of it on every instance (a
/// revocation notice, as `revoke-sessions` records): access tokens are refused as after a logout-all and
/// refresh tokens no longer refresh. Enabling only lifts the mark; the user logs in again.
///
/// # Errors
/// 404 `user_not_found` for a malformed or unknown id; 503 when the stores are unavailable.
pub async fn set_disabled(state: &AppState, ctx: &Ctx, disabled: bool) -> Result<Response, ApiError> {
    const NOT_FOUND: ApiError = ApiError::ResourceNotFound { code: "user_not_found", what: "user" };
    let id = ctx.params.get("id").and_then(|s| uuid::Uuid::parse_str(s).ok()).ok_or(NOT_FOUND)?;
    if !state.accounts.set_disabled(id, disabled).await? {
        return Err(NOT_FOUND);
    }
    if disabled {
        state.sessions.revoke(RevokeTarget::User(id), "account disabled".into(), "admin".into(), None).await?;
    }
    Ok(status_only(StatusCode::NO_CONTENT))
}

/// `GET /admin/sessions/revocations`: the newest 100 notices.
///
/// # Errors
/// 503 when the database is unavailable.
pub async fn revocations(state: &AppState) -> Result<Response, ApiError> {
    let list = state.accounts.revocations(100).await?;
    Ok(json_response(StatusCode::OK, &serde_json::json!({ "revocations": list })))
}
