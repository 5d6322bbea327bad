//! The session registry actor: the writer of sessions and of this instance's revocation view.
//!
//! It creates sessions at login, rotates refresh tokens (with reuse detection and a retry grace), revokes
//! sessions (logout, deletion, reuse) and raises the not-before epochs (mass invalidation). Every change is
//! persisted first, then applied to the published [`RevocationView`](super::RevocationView), then announced
//! on the bus; other instances apply the announcement to their own view, and every instance also reloads the
//! view from the stores periodically, so a lost bus message cannot leave a revoked token valid for long.
//!
//! Refresh's decision is `sessions::refresh`'s (pure); the view's upkeep is `sessions::view::upkeep`'s, with
//! the store reads in `registry::reload`; the typed handle is [`handle`]; the request and answer types are in
//! `registry::messages`.
//!
//! Mass invalidation is O(1) in the number of sessions: one epoch write, one bus message. Counting the
//! sessions it affected (for the notice) happens afterwards, as a follow-up message.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use time::OffsetDateTime;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::refresh::{self, Decision, Refusal};
use super::tokens::{self, AccessClaims, RefreshToken, TokenSettings};
use super::view::SharedView;
use super::view::upkeep::ViewUpkeep;
use crate::handle::{CallError, Envelope};
use crate::ports::accounts::{AccountStore, RevocationNotice, RevocationScope};
use crate::ports::bus::{Bus, BusSignal, Event, NoticeWire};
use crate::ports::sessions::{RefreshMacKey, SessionRecord, SessionStore};
use crate::secrets::SharedKeyRing;
use crate::telemetry::Mailbox;

pub mod handle;
mod messages;
mod reload;

pub use messages::{IssuedPair, LogoutScope, RevokeTarget, SessionError, SessionRegistryMsg, SessionSummary};

/// The actor's label in metrics and logs.
pub const NAME: &str = "session_registry";

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

/// Where a refresh is answered.
type RefreshReply = RpcReplyPort<Result<IssuedPair, SessionError>>;

/// A refresh carried out: the pair to answer and, for a rotation, how to undo it if the answer cannot be
/// delivered.
struct Refreshed {
    /// The answer.
    pair: IssuedPair,
    /// Set when this refresh rotated the session.
    undo: Option<Undo>,
}

/// A rotation written to the store, as its undo needs it.
struct Undo {
    /// The record the rotation replaced.
    before: SessionRecord,
    /// The generation the rotation wrote (the compare of the undo's compare-and-swap).
    written_generation: u32,
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
        let token = tokens::sign_current(&claims, &keyring, &self.deps.settings);
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

    /// Carries out a refresh and answers it. A refresh only rotates while its answer can still reach the
    /// caller ([`refresh::answer_by`]); and should the caller give up while the rotation is being written after
    /// all, the rotation is undone, so the token the client still holds stays current for its retry.
    async fn refresh(&mut self, token: RefreshToken, answer_by_ms: i64, reply: RefreshReply) {
        let outcome = self.try_refresh(&token, answer_by_ms, &reply).await;
        let mut label = match &outcome {
            Ok(_) => "rotated",
            Err(SessionError::Reused) => "reused",
            Err(SessionError::Revoked | SessionError::RevokedWithNotice(_)) => "revoked",
            Err(SessionError::Expired) => "expired",
            Err(SessionError::InvalidToken | SessionError::NotFound) => "invalid",
            Err(SessionError::Call(CallError::Timeout(_))) => "abandoned",
            Err(_) => "unavailable",
        };
        let (answer, undo) = match outcome {
            Ok(Refreshed { pair, undo }) => (Ok(pair), undo),
            Err(err) => (Err(err), None),
        };
        if reply.send(answer).is_err()
            && let Some(undo) = undo
        {
            label = "abandoned";
            self.undo_rotation(&undo).await;
        }
        metrics::counter!(metric::REFRESHES, "outcome" => label).increment(1);
    }

    /// Puts back the record a rotation replaced, unless anything changed it since (compare-and-swap on the
    /// generation the rotation wrote): the successor reached nobody, the presented token is current again.
    async fn undo_rotation(&self, undo: &Undo) {
        let sid = undo.before.id;
        match self.deps.sessions.replace_if(&undo.before, undo.written_generation).await {
            Ok(true) => {
                tracing::info!(event = "refresh_abandoned", session_id = %sid, "the caller gave up during the rotation; rotation undone");
            }
            Ok(false) => {
                tracing::info!(event = "refresh_abandoned", session_id = %sid, "the caller gave up during the rotation; the session changed since, left as it is");
            }
            Err(err) => {
                tracing::warn!(event = "refresh_undo_failed", session_id = %sid, error = %err, "the caller gave up during the rotation and it could not be undone; the client's retry after the grace will be taken for reuse");
            }
        }
    }

    /// Loads the session, lets [`refresh::decide`] decide, and carries the decision out.
    async fn try_refresh(
        &mut self,
        token: &RefreshToken,
        answer_by_ms: i64,
        reply: &RefreshReply,
    ) -> Result<Refreshed, SessionError> {
        let sid = token.session_id();
        // Two attempts: a lost compare-and-swap means another instance rotated it a moment ago.
        for _ in 0..2 {
            let record = self.deps.sessions.get(sid).await?;
            let now = now_ms();
            // A caller that already gave up cannot receive anything, whatever the clock says.
            let answer_by = if reply.is_closed() { i64::MIN } else { answer_by_ms };
            match refresh::decide(token, record.as_ref(), self.upkeep.view(), now, answer_by, &self.deps.settings) {
                Decision::Refuse(refusal) => {
                    if let Refusal::RevokedWithNotice(notice) = &refusal {
                        // Counted like a refused request: the notice's evidence.
                        notice.count_refusal();
                    }
                    return Err(refusal.into());
                }
                Decision::Abandon => {
                    tracing::info!(event = "refresh_abandoned", session_id = %sid, "the caller stopped waiting before the rotation; nothing changed");
                    return Err(SessionError::Call(CallError::Timeout(NAME)));
                }
                Decision::Rotate => {
                    let record = record.expect("a rotation is decided for a stored session");
                    if let Some((pair, written_generation)) = self.rotate(token, &record, now).await? {
                        return Ok(Refreshed { pair, undo: Some(Undo { before: record, written_generation }) });
                    }
                }
                Decision::Replay { successor, access, access_kid, refresh_expires_at_ms } => {
                    // A retry or a second tab: hand back the pair this token already produced.
                    let keyring = self.deps.keyring.load();
                    let signed = tokens::sign_again(&access, &access_kid, &keyring, &self.deps.settings);
                    let pair = IssuedPair::new(signed, access.exp, &successor, refresh_expires_at_ms, sid, now);
                    return Ok(Refreshed { pair, undo: None });
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

    /// Issues the next generation of `record` and stores it if nobody rotated it meanwhile (`None` then);
    /// returns the pair and the generation written.
    async fn rotate(
        &mut self,
        token: &RefreshToken,
        record: &SessionRecord,
        now: i64,
    ) -> Result<Option<(IssuedPair, u32)>, SessionError> {
        let sid = record.id;
        // A session from before generation tags gets its key now.
        let mac_key = record.refresh_mac_key.clone().unwrap_or_else(RefreshMacKey::generate);
        let successor = RefreshToken::issue(sid, record.generation + 1, &mac_key);
        let (claims, access) = self.access_for(record.user_id, sid, now);
        // The key that signed it, so a replay within the grace signs the same way.
        let access_kid = jsonwebtoken::decode_header(&access).ok().and_then(|h| h.kid).unwrap_or_default();
        let issued = refresh::Issued { successor: &successor, mac_key, access: &claims, access_kid };
        let rotated = refresh::rotated(record, token, issued, now, &self.deps.settings);
        if !self.deps.sessions.replace_if(&rotated, record.generation).await? {
            return Ok(None);
        }
        let pair = IssuedPair::new(access, claims.exp, &successor, rotated.refresh_expires_at_ms, sid, now);
        Ok(Some((pair, rotated.generation)))
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
    type Msg = Envelope<SessionRegistryMsg>;
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
            me.cast(Envelope::internal(SessionRegistryMsg::Bus(signal))).is_ok()
        });
        let ticker = myself.send_interval(deps.reload_every, || Envelope::internal(SessionRegistryMsg::Reload));
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
        envelope: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let (message, _handling) = envelope.open(&state.deps.mailbox);
        match message {
            SessionRegistryMsg::Login { user_id, user_agent, address, reply } => {
                let _ = reply.send(state.login(user_id, user_agent, address).await);
            }
            SessionRegistryMsg::Refresh { token, answer_by_ms, reply } => {
                state.refresh(token, answer_by_ms, reply).await;
            }
            SessionRegistryMsg::Logout { user_id, session_id, scope, reply } => {
                let _ = reply.send(state.logout(user_id, session_id, scope).await);
            }
            SessionRegistryMsg::List { user_id, current, reply } => {
                let _ = reply.send(state.list(user_id, current).await);
            }
            SessionRegistryMsg::Delete { user_id, session_id, reply } => {
                let _ = reply.send(state.delete(user_id, session_id).await);
            }
            SessionRegistryMsg::Revoke { target, reason, requested_by, user_message, reply } => {
                let _ = reply.send(state.revoke(target, reason, requested_by, user_message).await);
            }
            SessionRegistryMsg::Bus(signal) => {
                if state.on_bus(signal) {
                    tracing::info!(event = "session_view_resync", "bus resync: reloading the revocation view");
                    if let Err(err) = state.reload().await {
                        tracing::warn!(event = "session_view_reload_failed", error = %err);
                        metrics::counter!(metric::VIEW_RELOAD_FAILURES).increment(1);
                    }
                }
            }
            SessionRegistryMsg::Reload => {
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
                panic!("fault injected into {NAME}");
            }
        }
        Ok(())
    }
}
