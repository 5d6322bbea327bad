//! Accounts and sessions for HTTP clients: register, login, refresh, logout, me, own sessions.
//!
//! Passwords are hashed and verified on the blocking pool, at most `sessions.max_concurrent_hashes` at a
//! time (argon2id is CPU- and memory-heavy; more would starve the runtime), waiting at most 2 s for a slot
//! (then 503). Failed logins are limited per account and per client address (429 with `Retry-After`).
//! Unknown emails verify a dummy hash so they take as long as wrong passwords.
//!
//! Authenticated requests are checked by [`authenticate`]: signature, expiry and the revocation view, all
//! in memory.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use gantry_actors::accounts::email::normalize_email;
use gantry_actors::accounts::limiter::FailureLimiter;
use gantry_actors::accounts::password;
use gantry_actors::ports::accounts::{AccountStoreError, User};
use gantry_actors::sessions::registry::{AuthError, LogoutScope};
use gantry_actors::sessions::{AccessClaims, SessionError};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use uuid::Uuid;

use super::AppState;
use super::body::{Response, empty, json_response, read_json};
use super::problem::{ApiError, FieldError};
use super::server::Ctx;
use crate::config::SessionSettings;

/// Per-instance login protection and caches.
pub struct AuthGuards {
    /// Failed logins per account (normalised email).
    by_account: FailureLimiter,
    /// Failed logins per client address.
    by_address: FailureLimiter,
    /// Password hashing slots.
    hashing: Semaphore,
    /// user id → email, for `/me` without a database round-trip (emails never change).
    emails: RwLock<HashMap<Uuid, String>>,
}

/// Most cached emails; the cache is cleared when full (cheap, and rare).
const EMAIL_CACHE_MAX: usize = 100_000;
/// Longest wait for a hashing slot.
const HASH_WAIT: Duration = Duration::from_secs(2);

impl AuthGuards {
    /// Guards configured by `settings`.
    #[must_use]
    pub fn new(settings: &SessionSettings) -> Self {
        let window = Duration::from_secs(settings.login_failure_window_secs);
        Self {
            by_account: FailureLimiter::new(settings.login_max_failures_per_account, window, 100_000),
            by_address: FailureLimiter::new(settings.login_max_failures_per_address, window, 100_000),
            hashing: Semaphore::new(settings.max_concurrent_hashes),
            emails: RwLock::new(HashMap::new()),
        }
    }

    fn remember_email(&self, id: Uuid, email: &str) {
        let mut map = self.emails.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= EMAIL_CACHE_MAX {
            map.clear();
        }
        map.insert(id, email.to_owned());
    }

    fn email(&self, id: Uuid) -> Option<String> {
        self.emails.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&id).cloned()
    }
}

/// Runs a password hash operation on the blocking pool within the hashing bound.
async fn hashing<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let permit =
        tokio::time::timeout(HASH_WAIT, state.auth.hashing.acquire()).await.map_err(|_| ApiError::Unavailable {
            code: "overloaded",
            reason: "too many logins at once; retry shortly".into(),
            retry_after: Duration::from_secs(1),
        })?;
    let out = tokio::task::spawn_blocking(work).await.map_err(|e| ApiError::Internal(e.into()))?;
    drop(permit);
    Ok(out)
}

fn store_error(err: AccountStoreError) -> ApiError {
    match err {
        AccountStoreError::EmailTaken => {
            ApiError::Conflict { code: "email_taken", message: "an account with this email already exists" }
        }
        AccountStoreError::Unavailable(reason) => ApiError::Unavailable {
            code: "database_unavailable",
            reason: reason.to_string(),
            retry_after: Duration::from_secs(2),
        },
    }
}

/// Maps a session error to its HTTP answer.
#[must_use]
pub fn session_error(err: SessionError) -> ApiError {
    match err {
        SessionError::InvalidToken => {
            ApiError::Unauthenticated { code: "token_invalid", message: "the token is invalid" }
        }
        SessionError::Expired => ApiError::Unauthenticated { code: "token_expired", message: "the token has expired" },
        SessionError::Revoked => {
            ApiError::Unauthenticated { code: "session_revoked", message: "the session has been revoked; log in again" }
        }
        SessionError::Reused => ApiError::Unauthenticated {
            code: "refresh_reused",
            message: "the refresh token was already used; the session has been revoked",
        },
        SessionError::NotFound => ApiError::ResourceNotFound { code: "session_not_found", what: "session" },
        SessionError::Unavailable(reason) => {
            ApiError::Unavailable { code: "session_store_unavailable", reason, retry_after: Duration::from_secs(2) }
        }
        SessionError::Call(e) => e.into(),
    }
}

/// Checks `Authorization: Bearer <access token>` on the request path (no I/O).
///
/// # Errors
/// 401 with `unauthorized` (no token), `token_invalid`, `token_expired` or `session_revoked`.
pub fn authenticate(state: &AppState, req: &Request<Incoming>) -> Result<Arc<AccessClaims>, ApiError> {
    let token = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized)?;
    state.sessions.authenticate(token.trim()).map_err(|e| match e {
        AuthError::Invalid => ApiError::Unauthenticated { code: "token_invalid", message: "the token is invalid" },
        AuthError::Expired => ApiError::Unauthenticated { code: "token_expired", message: "the token has expired" },
        AuthError::Revoked => {
            ApiError::Unauthenticated { code: "session_revoked", message: "the session has been revoked; log in again" }
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    email: String,
    password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("email", &self.email).finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Registered {
    user_id: Uuid,
}

/// Validates a registration and returns the normalised email; every problem at once.
///
/// # Errors
/// 422 with one entry per broken rule.
pub fn validate_registration(raw_email: &str, password_text: &str) -> Result<String, ApiError> {
    let mut errors = Vec::new();
    let email = match normalize_email(raw_email) {
        Ok(email) => Some(email),
        Err(e) => {
            errors.push(FieldError { field: "email".into(), code: e.code(), message: e.message() });
            None
        }
    };
    for problem in password::check_policy(password_text, email.as_deref().unwrap_or(raw_email)) {
        errors.push(FieldError { field: "password".into(), code: problem.code(), message: problem.message() });
    }
    match email {
        Some(email) if errors.is_empty() => Ok(email),
        _ => Err(ApiError::Validation(errors)),
    }
}

/// Creates a user (also used by `gantry users add`).
///
/// # Errors
/// 422 on policy violations, 409 `email_taken`, 503 when the database or hashing is unavailable.
pub async fn create_user(state: &AppState, email: &str, password_text: String) -> Result<User, ApiError> {
    let email = validate_registration(email, &password_text)?;
    let phc = hashing(state, move || password::hash_password(&password_text))
        .await?
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("hashing failed: {e}")))?;
    let user = User { id: Uuid::now_v7(), email, password_hash: phc, created_at: OffsetDateTime::now_utc() };
    state.accounts.create_user(&user).await.map_err(store_error)?;
    metrics::counter!("gantry_auth_registrations_total").increment(1);
    Ok(user)
}

/// `POST /v1/auth/register`.
///
/// # Errors
/// See [`create_user`].
pub async fn register(state: &AppState, req: Request<Incoming>) -> Result<Response, ApiError> {
    let creds: Credentials = read_json(req, state.settings.http.max_body_bytes).await?;
    let user = create_user(state, &creds.email, creds.password).await?;
    state.auth.remember_email(user.id, &user.email);
    Ok(json_response(StatusCode::CREATED, &Registered { user_id: user.id }))
}

fn count_login(outcome: &'static str) {
    metrics::counter!("gantry_auth_logins_total", "outcome" => outcome).increment(1);
}

/// `POST /v1/auth/login`.
///
/// # Errors
/// 401 `invalid_credentials` (unknown email and wrong password alike), 429 after repeated failures.
pub async fn login(state: &AppState, ctx: &Ctx, req: Request<Incoming>) -> Result<Response, ApiError> {
    let user_agent = req.headers().get(hyper::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let creds: Credentials = read_json(req, state.settings.http.max_body_bytes).await?;
    let address = ctx.peer.ip().to_string();
    // An unparseable email cannot match an account; it is limited and answered like any wrong login.
    let account_key = normalize_email(&creds.email).unwrap_or_else(|_| creds.email.trim().to_lowercase());
    let now = Instant::now();
    for (limiter, key) in [(&state.auth.by_account, account_key.as_str()), (&state.auth.by_address, address.as_str())] {
        if let Err(retry_after) = limiter.check(key, now) {
            count_login("rate_limited");
            return Err(ApiError::TooManyRequests { retry_after });
        }
    }
    let user = state.accounts.user_by_email(&account_key).await.map_err(store_error)?;
    let password_text = creds.password;
    let verified = match &user {
        Some(user) => {
            let phc = user.password_hash.clone();
            hashing(state, move || password::verify_password(&password_text, &phc)).await?
        }
        None => {
            hashing(state, move || password::verify_dummy(&password_text)).await?;
            false
        }
    };
    let Some(user) = user.filter(|_| verified) else {
        state.auth.by_account.record_failure(&account_key, Instant::now());
        state.auth.by_address.record_failure(&address, Instant::now());
        count_login("invalid_credentials");
        return Err(ApiError::Unauthenticated { code: "invalid_credentials", message: "wrong email or password" });
    };
    state.auth.by_account.reset(&account_key);
    state.auth.remember_email(user.id, &user.email);
    let pair = state.sessions.login(user.id, user_agent, Some(address)).await.map_err(session_error)?;
    count_login("success");
    Ok(json_response(StatusCode::OK, &pair))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    refresh_token: String,
}

/// `POST /v1/auth/refresh`.
///
/// # Errors
/// 401 `token_invalid`, `token_expired`, `session_revoked` or `refresh_reused`.
pub async fn refresh(state: &AppState, req: Request<Incoming>) -> Result<Response, ApiError> {
    let body: RefreshBody = read_json(req, state.settings.http.max_body_bytes).await?;
    let pair = state.sessions.refresh(&body.refresh_token).await.map_err(session_error)?;
    Ok(json_response(StatusCode::OK, &pair))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LogoutBody {
    #[serde(default)]
    scope: Option<String>,
}

/// `POST /v1/auth/logout` (Bearer), optional body `{"scope": "this"|"others"|"all"}`.
///
/// # Errors
/// 401 for a bad token; 422 for an unknown scope.
pub async fn logout(state: &AppState, req: Request<Incoming>) -> Result<Response, ApiError> {
    let claims = authenticate(state, &req)?;
    let has_body = req.headers().get(hyper::header::CONTENT_LENGTH).is_some_and(|v| v != "0")
        || req.headers().contains_key(hyper::header::TRANSFER_ENCODING);
    let body: LogoutBody =
        if has_body { read_json(req, state.settings.http.max_body_bytes).await? } else { LogoutBody::default() };
    let scope = match body.scope.as_deref() {
        None | Some("this") => LogoutScope::This,
        Some("others") => LogoutScope::Others,
        Some("all") => LogoutScope::All,
        Some(_) => {
            return Err(ApiError::Validation(vec![FieldError {
                field: "scope".into(),
                code: "invalid_scope",
                message: "scope must be \"this\", \"others\" or \"all\"".into(),
            }]));
        }
    };
    state.sessions.logout(claims.sub, claims.sid, scope).await.map_err(session_error)?;
    let mut response = hyper::Response::new(empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}

#[derive(Serialize)]
struct Me {
    user_id: Uuid,
    email: Option<String>,
    session_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    token_expires_at: OffsetDateTime,
}

/// `GET /v1/auth/me`.
///
/// # Errors
/// 401 for a bad token.
pub async fn me(state: &AppState, req: &Request<Incoming>) -> Result<Response, ApiError> {
    let claims = authenticate(state, req)?;
    let email = match state.auth.email(claims.sub) {
        Some(email) => Some(email),
        None => {
            let user = state.accounts.user_by_id(claims.sub).await.map_err(store_error)?;
            if let Some(user) = &user {
                state.auth.remember_email(user.id, &user.email);
            }
            user.map(|u| u.email)
        }
    };
    let body = Me {
        user_id: claims.sub,
        email,
        session_id: claims.sid,
        token_expires_at: OffsetDateTime::from_unix_timestamp(claims.exp).unwrap_or(OffsetDateTime::UNIX_EPOCH),
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /v1/auth/sessions`.
///
/// # Errors
/// 401 for a bad token.
pub async fn sessions(state: &AppState, req: &Request<Incoming>) -> Result<Response, ApiError> {
    let claims = authenticate(state, req)?;
    let list = state.sessions.list(claims.sub, claims.sid).await.map_err(session_error)?;
    Ok(json_response(StatusCode::OK, &serde_json::json!({ "sessions": list })))
}

/// `DELETE /v1/auth/sessions/{id}`: own sessions only; another user's id is 404.
///
/// # Errors
/// 401 for a bad token, 404 `session_not_found`.
pub async fn delete_session(state: &AppState, ctx: &Ctx, req: &Request<Incoming>) -> Result<Response, ApiError> {
    let claims = authenticate(state, req)?;
    let id = ctx
        .params
        .get("id")
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or(ApiError::ResourceNotFound { code: "session_not_found", what: "session" })?;
    state.sessions.delete(claims.sub, id).await.map_err(session_error)?;
    let mut response = hyper::Response::new(empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}

/// Shared guards, built once per application.
pub type SharedGuards = Arc<AuthGuards>;
