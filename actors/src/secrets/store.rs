//! The secret store actor: the single writer of the key ring. The request path reads the published
//! [`SharedKeyRing`]; operators read versions through [`SecretStoreHandle::status`].
//!
//! Rotation steps arrive as [`Event::SecretsCommand`] on the bus — the same way on every instance, the one
//! that runs the rotation included — and each is answered with an [`Event::SecretsAck`] carrying the version
//! changes (fingerprints only; values never leave the process):
//!
//! - `stage`: re-read the own secret source ([`SecretSource`], validated with the start-up rules), keep a
//!   snapshot of the ring for `restore` (the first stage of a rotation only: a resumed rotation stages
//!   again), and stage what changed as `pending`; secrets whose current value already is the source's are
//!   reported as [`ALREADY_CURRENT`] (an instance started after the files changed takes part that way). S3 credentials have no
//!   "accept both" mode on our side, so staged S3 credentials are used at once — after they passed
//!   `HeadBucket` — which lets the smoke test exercise them through the real upload path; uploads in flight
//!   finish on the old client, and `restore` puts the old client back.
//! - `promote`: `pending` → `current`.
//! - `restore`: put back the snapshot taken at this rotation's `stage` (automatic rollback).
//! - `rollback`: `previous` → `current` (the runbook's rollback); a repeated command of the same rollback
//!   (a resumed job) is answered with what the first did, not applied twice.
//!
//! The key ring outlives the actor: after a restart the new actor adopts the last published snapshot, so a
//! crash never changes which keys verify tokens (a restarted actor forgets `restore` snapshots: the rotation
//! then fails without an acknowledgement and operators roll back with `rollback`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use time::OffsetDateTime;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::keyring::{VersionChange, VersionStatus};
use super::{KeyRing, SecretName, SecretStep, SharedKeyRing};
use crate::handle::{ActorSlot, CallError, Envelope};
use crate::ports::bus::{Bus, BusSignal, Event};
use crate::ports::objects::ObjectStore;
use crate::ports::secrets::SecretSource;
use crate::supervisor::ChildSpec;
use crate::telemetry::Mailbox;

/// The actor's label in metrics and logs.
pub const NAME: &str = "secret_store";

/// `restore` snapshots kept (one per recent rotation).
const SNAPSHOTS: usize = 8;

/// How often the version-age gauges are refreshed.
const AGE_EVERY: Duration = Duration::from_secs(10);

/// Messages of the secret store.
pub enum SecretStoreMsg {
    /// Every version of every secret, without values.
    Status(RpcReplyPort<Vec<VersionStatus>>),
    /// Performs a rotation step here (what a bus command triggers).
    Step {
        /// The rotation the step belongs to (logged with every change).
        rotation_id: Uuid,
        /// What to do.
        step: SecretStep,
        /// Where the changes go, if the sender waits for them (a bus command does not).
        reply: Option<RpcReplyPort<Result<Vec<VersionChange>, String>>>,
    },
    /// Internal: a bus signal.
    Bus(BusSignal),
    /// Internal: refresh the version-age gauges.
    Tick,
    /// Fault injection for supervision tests and chaos drills: the actor panics while handling it.
    #[cfg(any(test, feature = "chaos"))]
    InjectPanic,
}

/// The secret store actor (holds nothing; its state is built in `pre_start`).
#[derive(Debug, Default)]
pub struct SecretStore;

/// Start-up arguments (also used on every restart).
#[derive(Clone)]
pub struct SecretStoreArgs {
    /// The published key ring.
    pub keyring: SharedKeyRing,
    /// The mailbox counter shared with the handle.
    pub mailbox: Arc<Mailbox>,
    /// Where `stage` reads new values.
    pub source: Arc<dyn SecretSource>,
    /// The object store whose credentials follow `S3_ACCESS_KEY_ID`/`S3_SECRET_ACCESS_KEY`.
    pub objects: Arc<dyn ObjectStore>,
    /// The bus (commands in, acknowledgements out).
    pub bus: Arc<dyn Bus>,
}

/// The actor's state.
pub struct SecretStoreState {
    args: SecretStoreArgs,
    /// The ring before each recent rotation's first `stage`, for `restore`.
    snapshots: VecDeque<(Uuid, Arc<KeyRing>)>,
    /// What each recent rollback changed here (a resumed rollback's repeated command is answered with it).
    rollbacks: VecDeque<(Uuid, Vec<VersionChange>)>,
    forwarder: JoinHandle<()>,
    ticker: JoinHandle<()>,
}

fn s3_pair(ring: &KeyRing, pending: bool) -> Option<(&super::SecretValue, &super::SecretValue)> {
    let get = |name| if pending { ring.pending(name).or_else(|| ring.current(name)) } else { ring.current(name) };
    Some((get(SecretName::S3AccessKeyId)?, get(SecretName::S3SecretAccessKey)?))
}

/// Whether the S3 credentials in use (staged ones first) differ between two rings.
fn s3_changed(before: &KeyRing, after: &KeyRing) -> bool {
    let fp = |r: &KeyRing| s3_pair(r, true).map(|(k, s)| (k.fingerprint().clone(), s.fingerprint().clone()));
    fp(before) != fp(after)
}

impl SecretStoreState {
    fn ring(&self) -> Arc<KeyRing> {
        self.args.keyring.load_full()
    }

    /// Checks the S3 credentials `next` would use (staged ones first) against the bucket.
    async fn check_s3(&self, next: &KeyRing) -> Result<(), String> {
        let Some((key, secret)) = s3_pair(next, true) else { return Ok(()) };
        self.args
            .objects
            .check_credentials(key, secret)
            .await
            .map_err(|e| format!("the new S3 credentials were refused: {e}"))
    }

    /// Publishes `next` and swaps the object store's credentials when they changed.
    fn publish(&self, next: KeyRing, changes: &[VersionChange]) {
        let before = self.ring();
        let swap = s3_changed(&before, &next);
        self.args.keyring.store(Arc::new(next));
        if swap && let Some((key, secret)) = s3_pair(&self.ring(), true) {
            self.args.objects.use_credentials(key, secret);
            tracing::info!(event = "s3_credentials_swapped", "new uploads use the new S3 credentials");
        }
        for change in changes {
            let secret =
                serde_json::to_value(change.name).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            metrics::counter!("gantry_secret_version_changes_total", "secret" => secret.clone(), "action" => change.action.clone())
                .increment(1);
            tracing::info!(event = "secret_version_changed", secret, action = %change.action,
                from = ?change.from.as_ref().map(super::Fingerprint::as_str), to = ?change.to.as_ref().map(super::Fingerprint::as_str),
                "secret version changed");
        }
        self.refresh_ages();
    }

    fn refresh_ages(&self) {
        let ring = self.ring();
        let now = OffsetDateTime::now_utc();
        for (name, versions) in ring.iter() {
            let age = (now - versions.promoted_at).whole_seconds().max(0) as f64;
            metrics::gauge!("gantry_secret_current_version_age_seconds", "secret" => name.env_var()).set(age);
            // The public fingerprint (already in logs and /admin/secrets), so instances on different keys show.
            // The previous version's series drops to 0: Prometheus keeps a series the process still exports.
            if let Some(previous) = &versions.previous {
                metrics::gauge!("gantry_secret_fingerprint_info", "secret" => name.env_var(),
                    "fingerprint" => previous.fingerprint().as_str().to_owned())
                .set(0.0);
            }
            metrics::gauge!("gantry_secret_fingerprint_info", "secret" => name.env_var(),
                "fingerprint" => versions.current.fingerprint().as_str().to_owned())
            .set(1.0);
        }
    }

    async fn step(&mut self, rotation_id: Uuid, step: SecretStep) -> Result<Vec<VersionChange>, String> {
        let now = OffsetDateTime::now_utc();
        let ring = self.ring();
        match step {
            SecretStep::Stage => {
                let set = self.args.source.read().map_err(|problems| problems.join("; "))?;
                let (next, changes) = ring.staged(&set, now);
                if s3_changed(&ring, &next) {
                    self.check_s3(&next).await?;
                }
                // A resumed rotation stages again: the snapshot to restore is the one taken before its first
                // stage here, not the ring that stage produced.
                if !self.snapshots.iter().any(|(id, _)| *id == rotation_id) {
                    if self.snapshots.len() >= SNAPSHOTS {
                        self.snapshots.pop_front();
                    }
                    self.snapshots.push_back((rotation_id, Arc::clone(&ring)));
                }
                self.publish(next, &changes);
                // What already holds the source's value as current (an instance started after the files
                // changed, or a resumed rotation after promotion here) is reported too, not counted as a
                // change: the rotation sees every instance holding the validated value.
                let mut report = changes;
                report.extend(already_current(&self.ring(), &set, now));
                Ok(report)
            }
            SecretStep::Promote => {
                let (next, changes) = ring.promoted(now);
                if s3_changed(&ring, &next) {
                    self.check_s3(&next).await?;
                }
                self.publish(next, &changes);
                Ok(changes)
            }
            SecretStep::Restore => {
                let Some((_, snapshot)) = self.snapshots.iter().find(|(id, _)| *id == rotation_id).cloned() else {
                    return Err("no snapshot of this rotation here (not staged here, or the store restarted)".into());
                };
                let changes = diff(&ring, &snapshot, now);
                self.publish((*snapshot).clone(), &changes);
                Ok(changes)
            }
            SecretStep::RetirePreviousJwt => {
                // Both token keys: the previous `JWT_SECRET` and the previous `JWT_SIGNING_KEY` (which leaves the
                // key set at once), and any key adopted from the fleet's record at start-up.
                let (next, mut changes) = ring.previous_retired(SecretName::JwtSecret, now);
                let (next, more) = next.previous_retired(SecretName::JwtSigningKey, now);
                changes.extend(more);
                let dropped_adopted = !next.adopted_keys().is_empty();
                if !changes.is_empty() || dropped_adopted {
                    self.publish(next.without_adopted(), &changes);
                }
                Ok(changes)
            }
            SecretStep::RepublishPreviousSigningKey => {
                let (next, changes) = ring.previous_republished(SecretName::JwtSigningKey, now);
                if !changes.is_empty() {
                    self.publish(next, &changes);
                }
                Ok(changes)
            }
            SecretStep::Rollback => {
                // A resumed rollback sends its command again: answer with what this rollback did here instead
                // of rolling back a second time (which would swap the versions back).
                if let Some((_, done)) = self.rollbacks.iter().find(|(id, _)| *id == rotation_id) {
                    return Ok(done.clone());
                }
                let (next, changes) =
                    ring.rolled_back(now).ok_or("no secret has a previous version to roll back to")?;
                if s3_changed(&ring, &next) {
                    self.check_s3(&next).await?;
                }
                self.publish(next, &changes);
                if self.rollbacks.len() >= SNAPSHOTS {
                    self.rollbacks.pop_front();
                }
                self.rollbacks.push_back((rotation_id, changes.clone()));
                Ok(changes)
            }
        }
    }

    async fn on_bus(&mut self, signal: BusSignal) {
        let BusSignal::Message(envelope) = signal else { return };
        let Event::SecretsCommand { rotation_id, step } = envelope.event else { return };
        let outcome = self.step(rotation_id, step).await;
        if let Err(reason) = &outcome {
            tracing::warn!(event = "secret_step_failed", step = step.as_str(), %rotation_id, reason, "rotation step failed here");
        }
        let (ok, detail, changes) = match outcome {
            Ok(changes) => (true, None, changes),
            Err(reason) => (false, Some(reason), Vec::new()),
        };
        let ack =
            Event::SecretsAck { rotation_id, step, instance_id: self.args.bus.instance_id(), ok, detail, changes };
        let bus = Arc::clone(&self.args.bus);
        tokio::spawn(async move {
            if let Err(e) = bus.publish(ack).await {
                tracing::warn!(event = "bus_publish_failed", actor = NAME, error = %e, "rotation acknowledgement lost");
            }
        });
    }
}

/// `already_current` entries for every secret of `set` whose current version in `ring` is the source's value.
fn already_current(
    ring: &KeyRing,
    set: &std::collections::BTreeMap<SecretName, (super::SecretValue, super::keyring::SecretOrigin)>,
    now: OffsetDateTime,
) -> Vec<VersionChange> {
    set.iter()
        .filter_map(|(name, (value, _))| {
            let current = ring.current(*name)?.fingerprint();
            (current == value.fingerprint()).then(|| VersionChange {
                name: *name,
                action: ALREADY_CURRENT.into(),
                from: Some(current.clone()),
                to: Some(current.clone()),
                at: now,
            })
        })
        .collect()
}

/// The `action` of a `stage` acknowledgement's entry for a secret whose current version already is the
/// source's value (nothing changed).
pub const ALREADY_CURRENT: &str = "already_current";

/// The changes that turn `from` into `to` (a `restore`), per secret whose current version differs.
fn diff(from: &KeyRing, to: &KeyRing, now: OffsetDateTime) -> Vec<VersionChange> {
    to.iter()
        .filter_map(|(name, v)| {
            let before = from.versions(name).map(|b| b.current.fingerprint().clone());
            let pending = from.versions(name).and_then(|b| b.pending.as_ref()).map(|p| p.fingerprint().clone());
            let after = v.current.fingerprint().clone();
            (before.as_ref() != Some(&after) || pending.is_some()).then(|| VersionChange {
                name,
                action: "restored".into(),
                from: before,
                to: Some(after),
                at: now,
            })
        })
        .collect()
}

impl Actor for SecretStore {
    type Msg = Envelope<SecretStoreMsg>;
    type State = SecretStoreState;
    type Arguments = SecretStoreArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        args.mailbox.reset();
        let me = myself.clone();
        let forwarder = crate::ports::bus::forward(args.bus.as_ref(), move |signal| {
            // Only rotation commands concern this actor; the rest is not worth a mailbox slot.
            if let BusSignal::Message(e) = &signal
                && !matches!(e.event, Event::SecretsCommand { .. })
            {
                return true;
            }
            me.cast(Envelope::internal(SecretStoreMsg::Bus(signal))).is_ok()
        });
        let ticker = myself.send_interval(AGE_EVERY, || Envelope::internal(SecretStoreMsg::Tick));
        let state =
            SecretStoreState { args, snapshots: VecDeque::new(), rollbacks: VecDeque::new(), forwarder, ticker };
        state.refresh_ages();
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
        let (message, _handling) = envelope.open(&state.args.mailbox);
        match message {
            SecretStoreMsg::Status(reply) => {
                let _ = reply.send(state.ring().status());
            }
            SecretStoreMsg::Step { rotation_id, step, reply } => {
                // A direct call (reload, SIGHUP) answers with what changed only.
                let outcome = state
                    .step(rotation_id, step)
                    .await
                    .map(|changes| changes.into_iter().filter(|c| c.action != ALREADY_CURRENT).collect());
                if let Some(reply) = reply {
                    let _ = reply.send(outcome);
                }
            }
            SecretStoreMsg::Bus(signal) => {
                state.on_bus(signal).await;
            }
            SecretStoreMsg::Tick => {
                state.refresh_ages();
            }
            #[cfg(any(test, feature = "chaos"))]
            SecretStoreMsg::InjectPanic => {
                panic!("fault injected into {NAME}")
            }
        }
        Ok(())
    }
}

/// The typed handle the gateway holds.
#[derive(Clone)]
pub struct SecretStoreHandle {
    slot: Arc<ActorSlot<SecretStoreMsg>>,
    keyring: SharedKeyRing,
}

impl std::fmt::Debug for SecretStoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretStoreHandle").field("slot", &self.slot).finish_non_exhaustive()
    }
}

impl SecretStoreHandle {
    /// A handle over `keyring`; the actor is started by the supervisor from [`Self::child_spec`].
    #[must_use]
    pub fn new(keyring: KeyRing, mailbox_capacity: usize, call_timeout: Duration) -> Self {
        Self { slot: ActorSlot::new(NAME, mailbox_capacity, call_timeout), keyring: keyring.shared() }
    }

    /// The shared key ring itself, for other actors that sign or verify with it.
    #[must_use]
    pub fn shared_keyring(&self) -> SharedKeyRing {
        Arc::clone(&self.keyring)
    }

    /// The current key ring, read without a round-trip (request path).
    #[must_use]
    pub fn keyring(&self) -> Arc<KeyRing> {
        self.keyring.load_full()
    }

    /// Every version of every secret, without values.
    ///
    /// # Errors
    /// The actor is not running, overloaded or too slow.
    pub async fn status(&self) -> Result<Vec<VersionStatus>, CallError> {
        self.slot.call(SecretStoreMsg::Status).await
    }

    /// Performs `step` on this instance only (SIGHUP's reload stages this way).
    ///
    /// # Errors
    /// The actor cannot be reached (outer), or the step failed (inner: why, without values).
    pub async fn step(
        &self,
        rotation_id: Uuid,
        step: SecretStep,
    ) -> Result<Result<Vec<VersionChange>, String>, CallError> {
        self.slot.call(|reply| SecretStoreMsg::Step { rotation_id, step, reply: Some(reply) }).await
    }

    /// Makes the actor panic (supervision tests, chaos drills).
    ///
    /// # Errors
    /// The actor is not running or overloaded.
    #[cfg(any(test, feature = "chaos"))]
    pub fn inject_panic(&self) -> Result<(), CallError> {
        self.slot.cast(SecretStoreMsg::InjectPanic)
    }

    /// How the supervisor starts (and restarts) the actor, with what it needs for rotation.
    #[must_use]
    pub fn child_spec(
        &self,
        source: Arc<dyn SecretSource>,
        objects: Arc<dyn ObjectStore>,
        bus: Arc<dyn Bus>,
    ) -> ChildSpec {
        let args =
            SecretStoreArgs { keyring: Arc::clone(&self.keyring), mailbox: self.slot.mailbox(), source, objects, bus };
        self.slot.child_spec::<SecretStore>(args)
    }
}
