//! The session registry actor: the single writer of sessions and of the revocation view.
//!
//! It creates sessions at login, rotates refresh tokens (with reuse detection and a retry grace), revokes
//! sessions (logout, deletion, reuse) and raises the not-before epochs (mass invalidation). Every change is
//! persisted first, then applied to the published [`RevocationView`], then announced on the bus; other
//! instances apply the announcement to their own view, and every instance also reloads the view from the
//! stores periodically, so a lost bus message cannot leave a revoked token valid for long.
//!
//! Mass invalidation is O(1) in the number of sessions: one epoch write, one bus message. Counting the
//! sessions it affected (for the notice) happens afterwards, as a follow-up message.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;
use time::OffsetDateTime;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::authenticator::{AuthError, Authenticator};
use super::refresh::{self, Decision, Refusal};
use super::tokens::{self, AccessClaims, RefreshToken, TokenSettings};
use super::view::upkeep::ViewUpkeep;
use super::view::{RevocationView, SharedView, UserNotice};
use crate::handle::{ActorSlot, CallError};
use crate::ports::accounts::{AccountStore, RevocationNotice, RevocationScope};
use crate::ports::bus::{Bus, BusSignal, Event, NoticeWire};
use crate::ports::sessions::{RefreshMacKey, SessionRecord, SessionStore};
use crate::secrets::{SecretName, SharedKeyRing};
use crate::supervisor::ChildSpec;
use crate::telemetry::Mailbox;

/// The actor's label in metrics and logs.
pub const NAME: &str = "session_registry";

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
    fn new(access: String, exp_s: i64, refresh: &RefreshToken, refresh_expires_ms: i64, sid: Uuid, now: i64) -> Self {
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

/// What the registry needs; shared by every (re)start.
#[derive(Clone)]
pub struct RegistryDeps {
    /// Users, epochs, notices.
    pub accounts: Arc<dyn AccountStore>,
    /// Sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// Bus.
    pub bus: Arc<dyn Bus>,
    /// Signing keys.
    pub keyring: SharedKeyRing,
    /// The published view.
    pub view: SharedView,
    /// Lifetimes.
    pub settings: Arc<TokenSettings>,
    /// How often the view is reloaded from the stores.
    pub reload_every: Duration,
    /// Mailbox counter shared with the handle.
    pub mailbox: Arc<Mailbox>,
    /// The session store's continuity marker last seen ([`SessionStore::ensure_marker`]); outlives actor
    /// restarts like the view, so a restart cannot adopt a new marker without noticing the loss behind it.
    pub store_marker: Arc<std::sync::Mutex<Option<String>>>,
}

/// The actor.
#[derive(Debug, Default)]
pub struct SessionRegistry;

/// The actor's state.
pub struct RegistryState {
    deps: RegistryDeps,
    /// This actor's copy of the view; published after every change.
    upkeep: ViewUpkeep,
    forwarder: JoinHandle<()>,
    ticker: JoinHandle<()>,
}

fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn ms_to_time(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The counters and gauges of this module.
mod metric {
    pub(super) const REFRESHES: &str = "gantry_auth_refreshes_total";
    pub(super) const REUSE: &str = "gantry_auth_refresh_reuse_total";
    pub(super) const REVOCATIONS: &str = "gantry_sessions_revocations_total";
    pub(super) const SESSIONS_CREATED: &str = "gantry_sessions_created_total";
    pub(super) const ACTIVE: &str = "gantry_sessions_active";
    pub(super) const VIEW_RELOAD_FAILURES: &str = "gantry_sessions_view_reload_failures_total";
    pub(super) const STORE_DATA_LOSS: &str = "gantry_sessions_store_data_loss_total";
}

impl RegistryState {
    /// Adds the refusals each notice carried since the last call to its evidence (the revocation notice's
    /// `refused_requests`); what cannot be written is kept for the next call.
    async fn flush_notice_counts(&self) {
        for notice in self.upkeep.notices() {
            let n = notice.take_refused();
            if n > 0
                && let Err(err) = self.deps.accounts.add_refused_requests(notice.id, n).await
            {
                notice.give_back(n);
                tracing::warn!(error = %err, notice_id = %notice.id, "could not record refused requests");
            }
        }
    }

    /// Announces a change on the bus without holding up the actor (a slow broker must not turn a
    /// durable revocation into a timeout for the caller). The change is already persisted and applied
    /// here; other instances also pick it up at their next periodic reload if the message is lost.
    fn announce(&self, event: Event) {
        let bus = Arc::clone(&self.deps.bus);
        tokio::spawn(async move {
            if let Err(err) = bus.publish(event).await {
                metrics::counter!("gantry_sessions_announce_failures_total").increment(1);
                tracing::warn!(event = "bus_publish_failed", actor = NAME, error = %err, "relying on the periodic reload");
            }
        });
    }

    /// Rebuilds the view from the stores (the source of truth).
    async fn reload(&mut self) -> Result<(), SessionError> {
        let epochs = self.deps.accounts.epochs().await?;
        // Individually revoked sessions matter while their access tokens can live.
        let horizon = now_ms()
            - millis(self.deps.settings.access_ttl)
            - 2 * 1000 * i64::try_from(tokens::LEEWAY_SECS).unwrap_or(30);
        let revoked = self.deps.sessions.revoked_since(horizon).await?;
        // Checked after the read: if the marker is still the one last seen, the revoked ids just read came
        // from the same data; if it is not, the store lost its data (revoked ids included) and everything is
        // invalidated before the view drops a single revoked id.
        let lost_at = self.check_continuity().await?;
        // The notices are a courtesy: an unreadable record keeps the ones known rather than fail the reload.
        let recorded = self.deps.accounts.revocations(100).await.ok();
        self.upkeep.rebuild(epochs, revoked, lost_at, recorded.as_deref());
        Ok(())
    }

    /// Compares the session store's continuity marker with the one last seen. A marker written just now, or
    /// another than the last seen (another instance noticed first), means the store lost its data — the
    /// revoked ids among it — so this is a mass invalidation at the moment the loss was noticed (the marker's
    /// time): the global epoch is raised to it (idempotent across instances), the instance that wrote the
    /// marker records the notice, and it is logged and counted. Returns the raised epoch.
    async fn check_continuity(&mut self) -> Result<Option<i64>, SessionError> {
        let marker = self.deps.sessions.ensure_marker().await?;
        let known = self.deps.store_marker.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let lost = marker.created_now || known.as_ref().is_some_and(|k| *k != marker.id);
        if !lost {
            *self.deps.store_marker.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(marker.id);
            return Ok(None);
        }
        let noticed_at = if marker.created_at_ms > 0 { marker.created_at_ms } else { now_ms() };
        let raised = match self.raise_epoch(None, noticed_at, None).await {
            Ok(raised) => raised,
            Err(err) => {
                // Keep a marker that cannot match, so the next reload tries again.
                *self.deps.store_marker.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(String::new());
                return Err(err);
            }
        };
        *self.deps.store_marker.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(marker.id.clone());
        metrics::counter!(metric::STORE_DATA_LOSS).increment(1);
        metrics::counter!(metric::REVOCATIONS, "scope" => "all").increment(1);
        tracing::error!(
            event = "session_store_data_loss",
            backend = self.deps.sessions.backend(),
            not_before_ms = raised,
            wrote_marker = marker.created_now,
            "the session store lost its data; every session from before now is invalidated"
        );
        if marker.created_now {
            let notice = RevocationNotice {
                id: Uuid::now_v7(),
                scope: RevocationScope::All,
                user_id: None,
                reason: format!(
                    "session store data loss noticed (continuity marker missing; new marker {})",
                    marker.id
                ),
                requested_by: "session_store".into(),
                not_before_ms: raised,
                active_sessions: None,
                user_message: None,
                refused_requests: 0,
                created_at: OffsetDateTime::now_utc(),
            };
            if let Err(err) = self.deps.accounts.record_revocation(&notice).await {
                tracing::warn!(error = %err, "could not record the data-loss revocation notice");
            }
        }
        Ok(Some(raised))
    }

    fn access_for(&self, user: Uuid, sid: Uuid, now: i64) -> (AccessClaims, String) {
        let iat = now / 1000;
        let claims = AccessClaims {
            sub: user,
            sid,
            iat,
            exp: iat + secs(self.deps.settings.access_ttl),
            iss: self.deps.settings.issuer.clone(),
            aud: self.deps.settings.audience.clone(),
            jti: Uuid::new_v4(),
        };
        let keyring = self.deps.keyring.load();
        let key = keyring.current(SecretName::JwtSecret).expect("JWT_SECRET is validated at start-up");
        let token = tokens::sign_access(&claims, key);
        (claims, token)
    }

    async fn login(
        &mut self,
        user_id: Uuid,
        user_agent: Option<String>,
        address: Option<String>,
    ) -> Result<IssuedPair, SessionError> {
        let now = now_ms();
        let sid = Uuid::now_v7();
        let mac_key = RefreshMacKey::generate();
        let refresh = RefreshToken::issue(sid, 0, &mac_key);
        let absolute = now + millis(self.deps.settings.absolute_ttl);
        let refresh_expires = (now + millis(self.deps.settings.refresh_ttl)).min(absolute);
        let record = SessionRecord {
            id: sid,
            user_id,
            created_at_ms: now,
            last_used_at_ms: now,
            refresh_expires_at_ms: refresh_expires,
            absolute_expires_at_ms: absolute,
            user_agent: user_agent.map(|ua| ua.chars().take(200).collect()),
            address,
            refresh_hash: refresh.hash(),
            generation: 0,
            last_rotation: None,
            revoked_at_ms: None,
            refresh_mac_key: Some(mac_key),
        };
        self.deps.sessions.insert(&record).await?;
        metrics::counter!(metric::SESSIONS_CREATED).increment(1);
        let (claims, access) = self.access_for(user_id, sid, now);
        Ok(IssuedPair::new(access, claims.exp, &refresh, refresh_expires, sid, now))
    }

    async fn refresh(&mut self, token: RefreshToken) -> Result<IssuedPair, SessionError> {
        let outcome = self.try_refresh(&token).await;
        let label = match &outcome {
            Ok(_) => "rotated",
            Err(SessionError::Reused) => "reused",
            Err(SessionError::Revoked | SessionError::RevokedWithNotice(_)) => "revoked",
            Err(SessionError::Expired) => "expired",
            Err(SessionError::InvalidToken | SessionError::NotFound) => "invalid",
            Err(_) => "unavailable",
        };
        metrics::counter!(metric::REFRESHES, "outcome" => label).increment(1);
        outcome
    }

    /// Loads the session, lets [`refresh::decide`] decide, and carries the decision out.
    async fn try_refresh(&mut self, token: &RefreshToken) -> Result<IssuedPair, SessionError> {
        let sid = token.session_id();
        // Two attempts: a lost compare-and-swap means another instance rotated it a moment ago.
        for _ in 0..2 {
            let now = now_ms();
            let record = self.deps.sessions.get(sid).await?;
            match refresh::decide(token, record.as_ref(), self.upkeep.view(), now, &self.deps.settings) {
                Decision::Refuse(refusal) => {
                    if let Refusal::RevokedWithNotice(notice) = &refusal {
                        // Counted like a refused request: the notice's evidence.
                        notice.count_refusal();
                    }
                    return Err(refusal.into());
                }
                Decision::Rotate => {
                    let record = record.expect("a rotation is decided for a stored session");
                    if let Some(pair) = self.rotate(token, &record, now).await? {
                        return Ok(pair);
                    }
                }
                Decision::Replay { successor, access, access_kid, refresh_expires_at_ms } => {
                    // A retry or a second tab: hand back the pair this token already produced.
                    let keyring = self.deps.keyring.load();
                    let key = tokens::key_for_kid(&keyring, &access_kid)
                        .or_else(|| keyring.current(SecretName::JwtSecret))
                        .expect("JWT_SECRET is validated at start-up");
                    let signed = tokens::sign_access(&access, key);
                    return Ok(IssuedPair::new(signed, access.exp, &successor, refresh_expires_at_ms, sid, now));
                }
                Decision::ReuseDetected => {
                    // Someone holds a copy of a retired token: end the whole session.
                    let user_id = record.expect("reuse is decided for a stored session").user_id;
                    self.revoke_sessions(&[sid], now).await?;
                    metrics::counter!(metric::REUSE).increment(1);
                    tracing::warn!(event = "refresh_token_reuse", session_id = %sid, user_id = %user_id, "refresh token reuse; session revoked");
                    return Err(SessionError::Reused);
                }
            }
        }
        Err(SessionError::Unavailable("the session changed concurrently; retry".into()))
    }

    /// Issues the next generation of `record` and stores it if nobody rotated it meanwhile (`None` then).
    async fn rotate(
        &mut self,
        token: &RefreshToken,
        record: &SessionRecord,
        now: i64,
    ) -> Result<Option<IssuedPair>, SessionError> {
        let sid = record.id;
        // A session from before generation tags gets its key now.
        let mac_key = record.refresh_mac_key.clone().unwrap_or_else(RefreshMacKey::generate);
        let successor = RefreshToken::issue(sid, record.generation + 1, &mac_key);
        let (claims, access) = self.access_for(record.user_id, sid, now);
        let access_kid = self
            .deps
            .keyring
            .load()
            .current(SecretName::JwtSecret)
            .map(|k| k.fingerprint().as_str().to_owned())
            .unwrap_or_default();
        let issued = refresh::Issued { successor: &successor, mac_key, access: &claims, access_kid };
        let rotated = refresh::rotated(record, token, issued, now, &self.deps.settings);
        if !self.deps.sessions.replace_if(&rotated, record.generation).await? {
            return Ok(None);
        }
        Ok(Some(IssuedPair::new(access, claims.exp, &successor, rotated.refresh_expires_at_ms, sid, now)))
    }

    async fn revoke_sessions(&mut self, ids: &[Uuid], now: i64) -> Result<(), SessionError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.deps.sessions.revoke(ids, now).await?;
        self.upkeep.apply_revoked(ids);
        metrics::counter!(metric::REVOCATIONS, "scope" => "session").increment(ids.len() as u64);
        self.announce(Event::SessionRevoked { session_ids: ids.to_vec() });
        Ok(())
    }

    async fn raise_epoch(
        &mut self,
        user: Option<Uuid>,
        now: i64,
        notice: Option<NoticeWire>,
    ) -> Result<i64, SessionError> {
        let stored = self.deps.accounts.raise_epoch(user, now).await?;
        self.upkeep.apply_epoch(user, stored);
        if let Some(wire) = &notice {
            self.upkeep.apply_notice(user, stored, wire);
        }
        self.announce(Event::SessionsRevoked { user_id: user, not_before_ms: stored, notice });
        Ok(stored)
    }

    async fn logout(&mut self, user_id: Uuid, sid: Uuid, scope: LogoutScope) -> Result<(), SessionError> {
        let now = now_ms();
        match scope {
            LogoutScope::This => self.revoke_sessions(&[sid], now).await,
            LogoutScope::Others => {
                let others: Vec<Uuid> = self
                    .deps
                    .sessions
                    .list_for_user(user_id, now)
                    .await?
                    .into_iter()
                    .map(|s| s.id)
                    .filter(|id| *id != sid)
                    .collect();
                self.revoke_sessions(&others, now).await
            }
            LogoutScope::All => {
                self.raise_epoch(Some(user_id), now, None).await?;
                metrics::counter!(metric::REVOCATIONS, "scope" => "user").increment(1);
                Ok(())
            }
        }
    }

    async fn list(&self, user_id: Uuid, current: Uuid) -> Result<Vec<SessionSummary>, SessionError> {
        let now = now_ms();
        let mut out: Vec<SessionSummary> = self
            .deps
            .sessions
            .list_for_user(user_id, now)
            .await?
            .into_iter()
            .filter(|s| self.upkeep.view().allows(s.id, user_id, now / 1000))
            .map(|s| SessionSummary {
                id: s.id,
                created_at: ms_to_time(s.created_at_ms),
                last_used_at: ms_to_time(s.last_used_at_ms),
                user_agent: s.user_agent,
                address: s.address,
                current: s.id == current,
            })
            .collect();
        out.sort_by_key(|s| std::cmp::Reverse(s.last_used_at));
        Ok(out)
    }

    async fn delete(&mut self, user_id: Uuid, sid: Uuid) -> Result<(), SessionError> {
        let now = now_ms();
        match self.deps.sessions.get(sid).await? {
            Some(s)
                if s.user_id == user_id
                    && s.revoked_at_ms.is_none()
                    && now < s.absolute_expires_at_ms
                    && self.upkeep.view().allows(sid, user_id, now / 1000) =>
            {
                self.revoke_sessions(&[sid], now).await
            }
            _ => Err(SessionError::NotFound),
        }
    }

    async fn revoke(
        &mut self,
        target: RevokeTarget,
        reason: String,
        requested_by: String,
        user_message: Option<String>,
    ) -> Result<RevocationNotice, SessionError> {
        let now = now_ms();
        let user = match target {
            RevokeTarget::All => None,
            RevokeTarget::User(u) => Some(u),
        };
        let id = Uuid::now_v7();
        let wire = user_message.clone().map(|message| NoticeWire { id, message, at_ms: now });
        let not_before_ms = self.raise_epoch(user, now, wire).await?;
        let scope = if user.is_some() { RevocationScope::User } else { RevocationScope::All };
        let notice = RevocationNotice {
            id,
            scope,
            user_id: user,
            reason,
            requested_by,
            not_before_ms,
            active_sessions: None,
            user_message,
            refused_requests: 0,
            created_at: ms_to_time(now),
        };
        // The notice and the runner job that completes its evidence (the count of affected sessions) in one
        // transaction: there is never evidence without its job, or the reverse, and a crash right after this
        // point leaves the job for any instance's runner.
        let job = crate::jobs::kinds::revocation_evidence_job(&notice);
        self.deps.accounts.record_revocation_enqueueing(&notice, &job).await?;
        metrics::counter!(metric::REVOCATIONS, "scope" => if user.is_some() { "user" } else { "all" }).increment(1);
        tracing::info!(event = "sessions_revoked", scope = ?scope, user_id = ?user, not_before_ms, job_id = %notice.id, "sessions revoked");
        Ok(notice)
    }

    /// Applies an announcement to the view; `true` when the bus may have lost messages (reload then).
    fn on_bus(&mut self, signal: BusSignal) -> bool {
        match signal {
            BusSignal::Message(envelope) => {
                self.upkeep.apply_announcement(envelope, now_ms());
                false
            }
            BusSignal::Resync { .. } => true,
        }
    }
}

impl Actor for SessionRegistry {
    type Msg = SessionRegistryMsg;
    type State = RegistryState;
    type Arguments = RegistryDeps;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        deps: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        deps.mailbox.reset();
        let me = myself.clone();
        let forwarder = crate::ports::bus::forward(deps.bus.as_ref(), move |signal| {
            me.cast(SessionRegistryMsg::Bus(signal)).is_ok()
        });
        let ticker = myself.send_interval(deps.reload_every, || SessionRegistryMsg::Reload);
        let upkeep = ViewUpkeep::resume(Arc::clone(&deps.view));
        let mut state = RegistryState { deps, upkeep, forwarder, ticker };
        if let Err(err) = state.reload().await {
            // Start anyway with the last published view; the ticker retries.
            tracing::warn!(event = "session_view_reload_failed", error = %err, "starting with the last known revocation view");
            metrics::counter!(metric::VIEW_RELOAD_FAILURES).increment(1);
        }
        Ok(state)
    }

    async fn post_stop(&self, _myself: ActorRef<Self::Msg>, state: &mut Self::State) -> Result<(), ActorProcessingErr> {
        state.forwarder.abort();
        state.ticker.abort();
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SessionRegistryMsg::Login { user_id, user_agent, address, reply } => {
                let _h = state.deps.mailbox.begin_handling();
                let _ = reply.send(state.login(user_id, user_agent, address).await);
            }
            SessionRegistryMsg::Refresh { token, reply } => {
                let _h = state.deps.mailbox.begin_handling();
                let _ = reply.send(state.refresh(token).await);
            }
            SessionRegistryMsg::Logout { user_id, session_id, scope, reply } => {
                let _h = state.deps.mailbox.begin_handling();
                let _ = reply.send(state.logout(user_id, session_id, scope).await);
            }
            SessionRegistryMsg::List { user_id, current, reply } => {
                let _h = state.deps.mailbox.begin_handling();
                let _ = reply.send(state.list(user_id, current).await);
            }
            SessionRegistryMsg::Delete { user_id, session_id, reply } => {
                let _h = state.deps.mailbox.begin_handling();
                let _ = reply.send(state.delete(user_id, session_id).await);
            }
            SessionRegistryMsg::Revoke { target, reason, requested_by, user_message, reply } => {
                let _h = state.deps.mailbox.begin_handling();
                let _ = reply.send(state.revoke(target, reason, requested_by, user_message).await);
            }
            SessionRegistryMsg::Bus(signal) => {
                let _h = state.deps.mailbox.begin_internal();
                if state.on_bus(signal) {
                    tracing::info!(event = "session_view_resync", "bus resync: reloading the revocation view");
                    if let Err(err) = state.reload().await {
                        tracing::warn!(event = "session_view_reload_failed", error = %err);
                        metrics::counter!(metric::VIEW_RELOAD_FAILURES).increment(1);
                    }
                }
            }
            SessionRegistryMsg::Reload => {
                let _h = state.deps.mailbox.begin_internal();
                state.flush_notice_counts().await;
                if let Err(err) = state.reload().await {
                    tracing::warn!(event = "session_view_reload_failed", error = %err);
                    metrics::counter!(metric::VIEW_RELOAD_FAILURES).increment(1);
                }
                if let Ok(n) = state.deps.sessions.count_active(now_ms()).await {
                    metrics::gauge!(metric::ACTIVE).set(n as f64);
                }
            }
            #[cfg(any(test, feature = "chaos"))]
            SessionRegistryMsg::InjectPanic => {
                let _h = state.deps.mailbox.begin_handling();
                panic!("fault injected into {NAME}");
            }
        }
        Ok(())
    }
}

/// The typed handle the gateway holds.
#[derive(Clone)]
pub struct SessionRegistryHandle {
    slot: Arc<ActorSlot<SessionRegistryMsg>>,
    deps: RegistryDeps,
    /// The request path: token verification and the revocation check, without a round-trip.
    authenticator: Authenticator,
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
        Self { slot, deps, authenticator }
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
        self.slot.call(|reply| SessionRegistryMsg::Refresh { token, reply }).await?
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
    pub fn inject_panic(&self) -> Result<(), CallError> {
        self.slot.cast(SessionRegistryMsg::InjectPanic)
    }

    /// How the supervisor starts (and restarts) the actor.
    #[must_use]
    pub fn child_spec(&self) -> ChildSpec {
        self.slot.child_spec::<SessionRegistry>(self.deps.clone())
    }
}
