//! Who is calling: the one check of a route's declared [`Access`] ([`check`], run by `dispatch` before any
//! handler), the credentials behind it (admin token, access token, upload token) and the lenient [`viewer`] of
//! public catalog routes. Below the handlers; imports none of them.
//!
//! The admin token is compared in constant time (SHA-256 of both sides, then `subtle`). It is read from the
//! published key ring on every request, so when rotation replaces the ring the new token applies at once.
//! Access tokens are checked in memory (signature, expiry, the revocation view): no I/O on the request path.

use std::sync::Arc;

use gantry_actors::secrets::SecretName;
use gantry_actors::sessions::{AccessClaims, TokenError};
use gantry_actors::uploads::guest_token::{self, GuestClaims};
use hyper::Request;
use hyper::body::Incoming;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::problem::ApiError;
use super::router::Access;
use super::state::AppState;

/// What the check of a route's access let through, handed to its handler.
#[derive(Debug)]
pub enum Granted {
    /// [`Access::Public`]: nothing was checked.
    Public,
    /// [`Access::OptionalCaller`]: the caller, when a (valid) credential was sent.
    OptionalCaller(Option<Caller>),
    /// [`Access::User`]: the access token's claims.
    User(Arc<AccessClaims>),
    /// [`Access::Guest`]: a user or a guest.
    Guest(Caller),
    /// [`Access::Admin`]: the admin token matched.
    Admin,
}

/// Checks the credential `access` asks for. The only place the admin token is checked.
///
/// # Errors
/// 401: `unauthorized` for a missing credential (and a wrong admin token); `token_invalid`, `token_expired` or
/// `session_revoked` for a refused access or upload token.
pub fn check(state: &AppState, access: Access, req: &Request<Incoming>) -> Result<Granted, ApiError> {
    Ok(match access {
        Access::Public => Granted::Public,
        Access::OptionalCaller => Granted::OptionalCaller(caller(state, req)?),
        Access::User => Granted::User(authenticate(state, req)?),
        Access::Guest => Granted::Guest(caller(state, req)?.ok_or(ApiError::Unauthenticated {
            code: "unauthorized",
            message: "send an access token or an X-Upload-Token",
        })?),
        Access::Admin => {
            admin(state, req)?;
            Granted::Admin
        }
    })
}

/// Checks `Authorization: Bearer <admin token>`.
fn admin(state: &AppState, req: &Request<Incoming>) -> Result<(), ApiError> {
    let presented = bearer(req).ok_or(ApiError::Unauthorized)?;
    let keyring = state.secrets.keyring();
    let expected = keyring.current(SecretName::AdminToken).ok_or(ApiError::Unauthorized)?;
    let a = Sha256::digest(presented.trim().as_bytes());
    let b = Sha256::digest(expected.expose().as_bytes());
    if bool::from(a.ct_eq(&b)) { Ok(()) } else { Err(ApiError::Unauthorized) }
}

/// Checks `Authorization: Bearer <access token>` (no I/O).
fn authenticate(state: &AppState, req: &Request<Incoming>) -> Result<Arc<AccessClaims>, ApiError> {
    let token = bearer(req).ok_or(ApiError::Unauthorized)?;
    Ok(state.sessions.authenticate(token.trim())?)
}

/// Who is calling, by the credential sent: an access token (a user) or an upload token (a guest).
#[derive(Debug, Clone)]
pub enum Caller {
    /// `Authorization: Bearer <access token>`.
    User(Arc<AccessClaims>),
    /// `X-Upload-Token: <guest token>`.
    Guest(GuestClaims),
}

impl Caller {
    /// The owner string jobs and uploads are recorded under: `user:<id>` or the guest token's subject
    /// (`guest:<id>`).
    #[must_use]
    pub fn owner(&self) -> String {
        match self {
            Self::User(claims) => format!("user:{}", claims.sub),
            Self::Guest(claims) => claims.sub.clone(),
        }
    }
}

/// The caller behind `Authorization: Bearer` (checked first) or `X-Upload-Token`; `None` when the request
/// carries neither.
fn caller(state: &AppState, req: &Request<Incoming>) -> Result<Option<Caller>, ApiError> {
    if req.headers().contains_key(hyper::header::AUTHORIZATION) {
        return Ok(Some(Caller::User(authenticate(state, req)?)));
    }
    let Some(token) = req.headers().get("x-upload-token") else {
        return Ok(None);
    };
    let token = token.to_str().map_err(|_| ApiError::guest_token_refused(&TokenError::Invalid))?;
    let keyring = state.secrets.keyring();
    let claims = guest_token::verify(token.trim(), &keyring, &state.settings.uploads.guest())
        .map_err(|e| ApiError::guest_token_refused(&e))?;
    Ok(Some(Caller::Guest(claims)))
}

/// The caller's user id when the request carries a valid access token. For public routes that show a user
/// more (their own pending catalog options): a missing or invalid token is an anonymous caller, never a 401.
#[must_use]
pub fn viewer(state: &AppState, req: &Request<Incoming>) -> Option<Uuid> {
    let token = bearer(req)?;
    state.sessions.authenticate(token.trim()).ok().map(|claims| claims.sub)
}

/// The token of the `Authorization` header when its scheme is `Bearer`.
fn bearer(req: &Request<Incoming>) -> Option<&str> {
    req.headers().get(hyper::header::AUTHORIZATION).and_then(|v| bearer_token(v.as_bytes()))
}

/// The token of an `Authorization` value whose scheme is `Bearer`, matched case-insensitively (RFC 6750
/// section 2.1 with RFC 9110 section 11.1); no allocation. On bytes: `HeaderValue::to_str` checks the whole
/// token a byte at a time (~600 instructions of every authenticated request); `from_utf8` checks it a word at a
/// time, and whatever is not a compact JWS fails its verification anyway.
fn bearer_token(value: &[u8]) -> Option<&str> {
    let space = value.iter().position(|&b| b == b' ')?;
    let (scheme, token) = (&value[..space], &value[space + 1..]);
    if scheme.eq_ignore_ascii_case(b"bearer") { std::str::from_utf8(token).ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    /// The scheme is matched case-insensitively and only `Bearer` yields a token.
    #[test]
    fn bearer_scheme_is_case_insensitive_and_required() {
        assert_eq!(bearer_token(b"Bearer abc"), Some("abc"));
        assert_eq!(bearer_token(b"bEaReR abc"), Some("abc"));
        assert_eq!(bearer_token(b"Basic abc"), None);
        assert_eq!(bearer_token(b"Bearer"), None);
        assert_eq!(bearer_token(b"Bearer \xff\xfe"), None);
    }
}
