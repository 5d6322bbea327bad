//! What one asks the session registry and what it answers: the message enum, the token pair, the session
//! summaries, the scopes of logout and mass revocation, and why an operation was refused.

use std::sync::Arc;

use ractor::RpcReplyPort;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::handle::CallError;
use crate::ports::accounts::RevocationNotice;
use crate::ports::bus::BusSignal;
use crate::sessions::refresh::Refusal;
use crate::sessions::tokens::RefreshToken;
use crate::sessions::view::UserNotice;

/// Why a session operation was refused. Business outcomes, not actor failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Unknown or malformed token.
    #[error("the token is invalid")]
    InvalidToken,
    /// The refresh token or the session has expired.
    #[error("the token has expired")]
    Expired,
    /// The session was revoked (logout, mass invalidation).
    #[error("the session has been revoked")]
    Revoked,
    /// The session was ended by a mass invalidation that came with a message to users.
    #[error("the session has been revoked")]
    RevokedWithNotice(Arc<UserNotice>),
    /// A used refresh token was presented again after the grace: the session is now revoked.
    #[error("the refresh token was already used; the session has been revoked")]
    Reused,
    /// No such session (or not the caller's).
    #[error("session not found")]
    NotFound,
    /// A store is unreachable; nothing changed.
    #[error("session storage unavailable: {0}")]
    Unavailable(String),
    /// The actor could not be reached.
    #[error(transparent)]
    Call(#[from] CallError),
}

impl From<crate::ports::Unavailable> for SessionError {
    fn from(e: crate::ports::Unavailable) -> Self {
        Self::Unavailable(e.0)
    }
}

impl From<crate::ports::accounts::AccountStoreError> for SessionError {
    fn from(e: crate::ports::accounts::AccountStoreError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// A token pair handed to a client.
#[derive(Clone, Serialize)]
pub struct IssuedPair {
    /// The access token (JWT).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The refresh token.
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: i64,
    /// The session.
    pub session_id: Uuid,
}

impl IssuedPair {
    /// The pair of `access` (expiring at `exp_s`) and `refresh` (expiring at `refresh_expires_ms`) of session
    /// `sid`, with lifetimes counted from `now` (ms).
    pub(super) fn new(
        access: String,
        exp_s: i64,
        refresh: &RefreshToken,
        refresh_expires_ms: i64,
        sid: Uuid,
        now: i64,
    ) -> Self {
        Self {
            access_token: access,
            token_type: "Bearer",
            expires_in: (exp_s - now / 1000).max(0),
            refresh_token: refresh.expose().to_owned(),
            refresh_expires_in: ((refresh_expires_ms - now) / 1000).max(0),
            session_id: sid,
        }
    }
}

impl From<Refusal> for SessionError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Invalid => Self::InvalidToken,
            Refusal::Expired => Self::Expired,
            Refusal::Revoked => Self::Revoked,
            Refusal::RevokedWithNotice(notice) => Self::RevokedWithNotice(notice),
        }
    }
}

impl std::fmt::Debug for IssuedPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedPair").field("session_id", &self.session_id).finish_non_exhaustive()
    }
}

/// Which sessions a logout ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutScope {
    /// The caller's session.
    This,
    /// The caller's other sessions.
    Others,
    /// All the caller's sessions (O(1): the user's epoch).
    All,
}

/// What a user sees of one of their sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionSummary {
    /// Session id.
    pub id: Uuid,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last login or refresh.
    #[serde(with = "time::serde::rfc3339")]
    pub last_used_at: OffsetDateTime,
    /// User agent at login.
    pub user_agent: Option<String>,
    /// Client address at login.
    pub address: Option<String>,
    /// Whether it is the session of the request.
    pub current: bool,
}

/// Whose sessions a mass revocation covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeTarget {
    /// Everyone's.
    All,
    /// One user's.
    User(Uuid),
}

/// Messages of the session registry. Request variants end with their reply port.
pub enum SessionRegistryMsg {
    /// Creates a session for an authenticated user.
    Login {
        /// The user.
        user_id: Uuid,
        /// Client user agent.
        user_agent: Option<String>,
        /// Client address.
        address: Option<String>,
        /// The pair.
        reply: RpcReplyPort<Result<IssuedPair, SessionError>>,
    },
    /// Rotates a refresh token.
    Refresh {
        /// The presented token.
        token: RefreshToken,
        /// Wall-clock ms after which the caller can no longer be answered in time (the caller's timeout less
        /// the time a rotation's write needs): a rotation decided later is abandoned.
        answer_by_ms: i64,
        /// The new (or, within the grace, the same) pair.
        reply: RpcReplyPort<Result<IssuedPair, SessionError>>,
    },
    /// Ends sessions of the caller.
    Logout {
        /// The caller.
        user_id: Uuid,
        /// The caller's session.
        session_id: Uuid,
        /// Which sessions.
        scope: LogoutScope,
        /// Done.
        reply: RpcReplyPort<Result<(), SessionError>>,
    },
    /// The caller's live sessions.
    List {
        /// The caller.
        user_id: Uuid,
        /// The caller's session (marked `current`).
        current: Uuid,
        /// The sessions.
        reply: RpcReplyPort<Result<Vec<SessionSummary>, SessionError>>,
    },
    /// Revokes one of the caller's sessions.
    Delete {
        /// The caller.
        user_id: Uuid,
        /// The session to end.
        session_id: Uuid,
        /// Done, or `NotFound` when it is not the caller's.
        reply: RpcReplyPort<Result<(), SessionError>>,
    },
    /// Mass invalidation.
    Revoke {
        /// Everyone or one user.
        target: RevokeTarget,
        /// Operator's reason.
        reason: String,
        /// Who asked.
        requested_by: String,
        /// The message to the users whose sessions it ends, if any.
        user_message: Option<String>,
        /// The notice (its id is the job id).
        reply: RpcReplyPort<Result<RevocationNotice, SessionError>>,
    },
    /// Internal: a bus signal.
    Bus(BusSignal),
    /// Internal: reload the view from the stores.
    Reload,
    /// Fault injection for supervision tests and chaos drills.
    #[cfg(any(test, feature = "chaos"))]
    InjectPanic,
}
