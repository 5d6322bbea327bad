//! Accounts and sessions for HTTP clients: register, login, refresh, logout, me, own sessions.
//!
//! The rules live with their owners: registration, password hashing (bounded slots, 503 when they stay busy),
//! the failed-login limiters (429 with `Retry-After`) and user look-ups in the accounts owner
//! (`gantry_actors::accounts::Accounts`); tokens and sessions in the session registry. This file parses
//! requests and shapes answers.
//!
//! The routes that need a login get the access token's claims from the one access check (`access::check`,
//! run before the handler): signature, expiry and the revocation view, all in memory.

use gantry_actors::accounts::device;
use gantry_actors::sessions::AccessClaims;
use gantry_actors::sessions::registry::LogoutScope;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::body::read_json;
use super::ctx::Ctx;
use super::problem::ApiError;
use super::respond::{Response, json_bytes, json_response, json_str, no_store, status_only};
use super::state::AppState;

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

/// A login: credentials and, from a device that logged in before, its device token.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    email: String,
    password: String,
    /// The `device_token` of an earlier login on this device.
    device_token: Option<String>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login").field("email", &self.email).finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Registered {
    user_id: Uuid,
}

/// `POST /v1/auth/register`.
///
/// # Errors
/// 422 on policy violations, 429 (with `Retry-After`) past the per-address registration limit, 409
/// `email_taken`, 503 when the database or hashing is unavailable.
pub async fn register(state: &AppState, ctx: &Ctx, req: Request<Incoming>) -> Result<Response, ApiError> {
    let address = ctx.peer.ip().to_string();
    state.accounts.registration_allowed(&address)?;
    let creds: Credentials = read_json(req, state.settings.http.max_body_bytes).await?;
    let user = state.accounts.register(&creds.email, creds.password, Some(&address)).await?;
    Ok(json_response(StatusCode::CREATED, &Registered { user_id: user.id }))
}

/// `POST /v1/auth/login`.
///
/// # Errors
/// 401 `invalid_credentials` (unknown email and wrong password alike), 403 `account_disabled` (right
/// password, disabled account), 429 after repeated failures. A login with the `device_token` of an earlier
/// login to the same account is not held by the account's limit that others filled (issue 20 item 4); every
/// successful login answers a fresh `device_token`.
pub async fn login(state: &AppState, ctx: &Ctx, req: Request<Incoming>) -> Result<Response, ApiError> {
    let user_agent = req.headers().get(hyper::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let creds: Login = read_json(req, state.settings.http.max_body_bytes).await?;
    let address = ctx.peer.ip().to_string();
    let keyring = state.secrets.keyring();
    let now = OffsetDateTime::now_utc();
    let presented = creds.device_token;
    let known_device =
        |account: &str| presented.as_deref().is_some_and(|token| device::is_valid_for(token, account, &keyring, now));
    let user = state.accounts.check_credentials(&creds.email, creds.password, &address, &known_device).await?;
    let pair = state.sessions.login(user.id, user_agent, Some(address)).await?;
    // An operator's disable that raced this login (its mark set after the credentials were read, its
    // revocation before this session existed) is caught here: the mark is set before the revocation, so either
    // the revocation covers this session or this read sees the mark. One indexed read per login, next to the
    // password hash it follows.
    if state.accounts.is_disabled(user.id).await? {
        state.sessions.logout(user.id, pair.session_id, LogoutScope::This).await?;
        return Err(gantry_actors::accounts::AccountError::Disabled.into());
    }
    state.accounts.count_login_success();
    let mut body = serde_json::to_value(&pair).expect("a token pair serialises");
    if let (Some(fields), Some(token)) = (body.as_object_mut(), device::issue(&user.email, &keyring, now)) {
        fields.insert("device_token".into(), token.into());
    }
    let mut response = json_response(StatusCode::OK, &body);
    no_store(&mut response);
    Ok(response)
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
    let pair = state.sessions.refresh(&body.refresh_token).await?;
    let mut response = json_response(StatusCode::OK, &pair);
    no_store(&mut response);
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

impl std::fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordChange").finish_non_exhaustive()
    }
}

/// `POST /v1/auth/password {current_password, new_password}` (Bearer) → 204: the password is replaced and
/// every other session of the user is revoked (this one stays). A wrong current password is a failed login
/// for the account and the client address (401 `invalid_credentials`, then 429).
///
/// # Errors
/// 401 for a bad token or a wrong current password; 422 when the new password breaks the policy; 429 past the
/// login limits.
pub async fn change_password(
    state: &AppState,
    ctx: &Ctx,
    claims: &AccessClaims,
    req: Request<Incoming>,
) -> Result<Response, ApiError> {
    let body: PasswordChange = read_json(req, state.settings.http.max_body_bytes).await?;
    let address = ctx.peer.ip().to_string();
    state.accounts.change_password(claims.sub, body.current_password, body.new_password, &address).await?;
    state.sessions.logout(claims.sub, claims.sid, LogoutScope::Others).await?;
    Ok(status_only(StatusCode::NO_CONTENT))
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
pub async fn logout(state: &AppState, claims: &AccessClaims, req: Request<Incoming>) -> Result<Response, ApiError> {
    let has_body = req.headers().get(hyper::header::CONTENT_LENGTH).is_some_and(|v| v != "0")
        || req.headers().contains_key(hyper::header::TRANSFER_ENCODING);
    let body: LogoutBody =
        if has_body { read_json(req, state.settings.http.max_body_bytes).await? } else { LogoutBody::default() };
    let scope = match body.scope.as_deref() {
        None | Some("this") => LogoutScope::This,
        Some("others") => LogoutScope::Others,
        Some("all") => LogoutScope::All,
        Some(_) => {
            return Err(ApiError::field("scope", "invalid_scope", "scope must be \"this\", \"others\" or \"all\""));
        }
    };
    state.sessions.logout(claims.sub, claims.sid, scope).await?;
    Ok(status_only(StatusCode::NO_CONTENT))
}

/// `GET /v1/auth/me`'s answer.
#[cfg_attr(test, derive(Serialize))]
struct Me {
    user_id: Uuid,
    email: Option<String>,
    session_id: Uuid,
    #[cfg_attr(test, serde(with = "time::serde::rfc3339"))]
    token_expires_at: OffsetDateTime,
}

impl Me {
    /// The answer as JSON, written straight into one buffer: the same bytes as serde's derived serialisation
    /// (the tests compare them), at a quarter of its cost. Through serde every key and both UUIDs went through
    /// the string escaper byte by byte and the time through its own `String`: 2.7k of `/v1/auth/me`'s ~22k
    /// instructions. Only the email can need escaping; `json_str` writes it (serde_json's bytes).
    fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(192);
        let mut uuid = Uuid::encode_buffer();
        out.extend_from_slice(br#"{"user_id":""#);
        out.extend_from_slice(self.user_id.hyphenated().encode_lower(&mut uuid).as_bytes());
        out.extend_from_slice(br#"","email":"#);
        match &self.email {
            Some(email) => json_str(&mut out, email),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(br#","session_id":""#);
        out.extend_from_slice(self.session_id.hyphenated().encode_lower(&mut uuid).as_bytes());
        out.extend_from_slice(br#"","token_expires_at":""#);
        self.token_expires_at
            .format_into(&mut out, &time::format_description::well_known::Rfc3339)
            .expect("a token's expiry is a year RFC 3339 can write");
        out.extend_from_slice(br#""}"#);
        out
    }
}

/// `GET /v1/auth/me`.
///
/// # Errors
/// 401 for a bad token.
pub async fn me(state: &AppState, claims: &AccessClaims) -> Result<Response, ApiError> {
    let email = state.accounts.email_of(claims.sub).await?;
    let body = Me {
        user_id: claims.sub,
        email,
        session_id: claims.sid,
        token_expires_at: OffsetDateTime::from_unix_timestamp(claims.exp).unwrap_or(OffsetDateTime::UNIX_EPOCH),
    };
    // Personal data (email, session): no cache keeps it.
    let mut response = json_bytes(StatusCode::OK, body.to_json());
    no_store(&mut response);
    Ok(response)
}

/// `GET /v1/auth/sessions`.
///
/// # Errors
/// 401 for a bad token.
pub async fn sessions(state: &AppState, claims: &AccessClaims) -> Result<Response, ApiError> {
    let list = state.sessions.list(claims.sub, claims.sid).await?;
    // Personal data (addresses, user agents): no cache keeps it.
    let mut response = json_response(StatusCode::OK, &serde_json::json!({ "sessions": list }));
    no_store(&mut response);
    Ok(response)
}

/// `DELETE /v1/auth/sessions/{id}`: own sessions only; another user's id is 404.
///
/// # Errors
/// 401 for a bad token, 404 `session_not_found`.
pub async fn delete_session(state: &AppState, ctx: &Ctx, claims: &AccessClaims) -> Result<Response, ApiError> {
    let id = ctx
        .params
        .get("id")
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or(ApiError::ResourceNotFound { code: "session_not_found", what: "session" })?;
    state.sessions.delete(claims.sub, id).await?;
    Ok(status_only(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn me_is_written_as_serde_writes_it() {
        let expiries = [OffsetDateTime::UNIX_EPOCH, OffsetDateTime::from_unix_timestamp(1_796_000_000).unwrap()];
        let emails =
            [None, Some("ops@example.com"), Some("a\"quote\\and\u{1}control@ex.com"), Some("jürgen@bäcker.de")];
        for token_expires_at in expiries {
            for email in emails {
                let me = Me {
                    user_id: Uuid::now_v7(),
                    email: email.map(str::to_owned),
                    session_id: Uuid::new_v4(),
                    token_expires_at,
                };
                let written = String::from_utf8(me.to_json()).unwrap();
                assert_eq!(written, serde_json::to_string(&me).unwrap());
                let back: serde_json::Value = serde_json::from_str(&written).unwrap();
                assert_eq!(back["email"].as_str(), email);
            }
        }
    }
}
