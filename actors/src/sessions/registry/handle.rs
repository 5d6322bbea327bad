//! The session registry's typed handle: what the gateway, the CLI and start-up hold. Writes go to the actor
//! through its mailbox; the request path ([`SessionRegistryHandle::authenticate`]) does not, it reads the published view.

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use super::{IssuedPair, LogoutScope, NAME, RegistryDeps, RevokeTarget, SessionError, SessionRegistry};
use super::{SessionRegistryMsg, SessionSummary};
use crate::handle::ActorSlot;
use crate::ports::accounts::RevocationNotice;
use crate::sessions::authenticator::{AuthError, Authenticator};
use crate::sessions::key_set::KeySet;
use crate::sessions::refresh;
use crate::sessions::tokens::{AccessClaims, RefreshToken, TokenSettings};
use crate::sessions::view::RevocationView;
use crate::supervisor::ChildSpec;

/// The typed handle the gateway holds.
#[derive(Clone)]
pub struct SessionRegistryHandle {
    slot: Arc<ActorSlot<SessionRegistryMsg>>,
    deps: RegistryDeps,
    /// The request path: token verification and the revocation check, without a round-trip.
    authenticator: Authenticator,
    /// The published key set, rendered once per key ring.
    key_set: KeySet,
}

impl std::fmt::Debug for SessionRegistryHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRegistryHandle").field("slot", &self.slot).finish_non_exhaustive()
    }
}

impl SessionRegistryHandle {
    /// A handle; the actor is started by the supervisor from [`Self::child_spec`]. `deps.mailbox` is
    /// replaced by the slot's.
    #[must_use]
    pub fn new(mut deps: RegistryDeps, mailbox_capacity: usize, call_timeout: Duration) -> Self {
        let slot = ActorSlot::new(NAME, mailbox_capacity, call_timeout);
        deps.mailbox = slot.mailbox();
        let authenticator =
            Authenticator::new(deps.keyring.clone(), Arc::clone(&deps.settings), Arc::clone(&deps.view));
        let key_set = KeySet::new(deps.keyring.clone(), Arc::clone(&deps.settings));
        Self { slot, deps, authenticator, key_set }
    }

    /// The published key set (`/.well-known/jwks.json`), from memory.
    #[must_use]
    pub fn key_set(&self) -> &KeySet {
        &self.key_set
    }

    /// Verifies an access token and checks its session against the published view: the request path,
    /// without a round-trip.
    ///
    /// # Errors
    /// [`AuthError`] for a bad, expired or revoked token.
    pub fn authenticate(&self, token: &str) -> Result<Arc<AccessClaims>, AuthError> {
        self.authenticator.authenticate(token)
    }

    /// Whether the actor runs right now (readiness).
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.slot.current().is_some()
    }

    /// The current view (tests, diagnostics).
    #[must_use]
    pub fn view(&self) -> Arc<RevocationView> {
        self.deps.view.load_full()
    }

    /// Token lifetimes.
    #[must_use]
    pub fn settings(&self) -> &TokenSettings {
        &self.deps.settings
    }

    /// Creates a session for an authenticated user.
    ///
    /// # Errors
    /// Storage unavailable, or the actor unreachable.
    pub async fn login(
        &self,
        user_id: Uuid,
        user_agent: Option<String>,
        address: Option<String>,
    ) -> Result<IssuedPair, SessionError> {
        self.slot.call(|reply| SessionRegistryMsg::Login { user_id, user_agent, address, reply }).await?
    }

    /// Rotates a refresh token.
    ///
    /// # Errors
    /// See [`SessionError`].
    pub async fn refresh(&self, presented: &str) -> Result<IssuedPair, SessionError> {
        let token = RefreshToken::parse(presented).ok_or(SessionError::InvalidToken)?;
        let answer_by_ms = refresh::answer_by(super::now_ms(), self.slot.call_timeout());
        self.slot.call(|reply| SessionRegistryMsg::Refresh { token, answer_by_ms, reply }).await?
    }

    /// Ends the caller's sessions.
    ///
    /// # Errors
    /// Storage unavailable, or the actor unreachable.
    pub async fn logout(&self, user_id: Uuid, session_id: Uuid, scope: LogoutScope) -> Result<(), SessionError> {
        self.slot.call(|reply| SessionRegistryMsg::Logout { user_id, session_id, scope, reply }).await?
    }

    /// The caller's live sessions.
    ///
    /// # Errors
    /// Storage unavailable, or the actor unreachable.
    pub async fn list(&self, user_id: Uuid, current: Uuid) -> Result<Vec<SessionSummary>, SessionError> {
        self.slot.call(|reply| SessionRegistryMsg::List { user_id, current, reply }).await?
    }

    /// Revokes one of the caller's sessions.
    ///
    /// # Errors
    /// [`SessionError::NotFound`] when it is not the caller's.
    pub async fn delete(&self, user_id: Uuid, session_id: Uuid) -> Result<(), SessionError> {
        self.slot.call(|reply| SessionRegistryMsg::Delete { user_id, session_id, reply }).await?
    }

    /// Mass invalidation of everyone's or one user's sessions.
    ///
    /// # Errors
    /// Storage unavailable, or the actor unreachable.
    pub async fn revoke(
        &self,
        target: RevokeTarget,
        reason: String,
        requested_by: String,
        user_message: Option<String>,
    ) -> Result<RevocationNotice, SessionError> {
        self.slot.call(|reply| SessionRegistryMsg::Revoke { target, reason, requested_by, user_message, reply }).await?
    }

    /// Makes the actor panic (supervision tests, chaos drills).
    ///
    /// # Errors
    /// The actor is not running or overloaded.
    #[cfg(any(test, feature = "chaos"))]
    pub fn inject_panic(&self) -> Result<(), crate::handle::CallError> {
        self.slot.cast(SessionRegistryMsg::InjectPanic)
    }

    /// How the supervisor starts (and restarts) the actor.
    #[must_use]
    pub fn child_spec(&self) -> ChildSpec {
        self.slot.child_spec::<SessionRegistry>(self.deps.clone())
    }

    /// [`Self::child_spec`], the actor run on `runtime` (the gateway's password lane: a login's session is
    /// created right after its hash, and a flood of cheap requests on the serving runtime must not delay it).
    #[must_use]
    pub fn child_spec_on(&self, runtime: tokio::runtime::Handle) -> ChildSpec {
        self.slot.child_spec_on::<SessionRegistry>(self.deps.clone(), runtime)
    }
}
