//! The event bus port: every instance publishes domain events and receives everyone's (its own included).
//! The job runners' wake-ups ([`Event::JobsEnqueued`], up to hundreds a second under load) travel on a
//! subscription of their own ([`Bus::subscribe_wakeups`]): the other subscribers never see them.
//!
//! Delivery is at-most-once per connection. Whenever an adapter may have missed messages (a reconnect, a
//! subscriber that fell behind) it sends [`BusSignal::Resync`] so subscribers rebuild their state from the
//! source of truth instead of trusting their caches.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::Unavailable;

/// A users' notice as it travels on the bus.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NoticeWire {
    /// The revocation notice's id.
    pub id: Uuid,
    /// The message.
    pub message: String,
    /// When (ms).
    pub at_ms: i64,
}

/// A domain event. Values of secrets never travel on the bus; only fingerprints do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// An instance finished starting and is about to serve.
    InstanceStarted {
        /// The Gantry version the instance runs.
        version: String,
    },
    /// A not-before epoch was raised: every session created before `not_before_ms` (of `user_id`, or of
    /// everyone when `None`) is revoked.
    SessionsRevoked {
        /// The user, or `None` for everyone.
        user_id: Option<Uuid>,
        /// The new epoch, ms since the Unix epoch.
        not_before_ms: i64,
        /// The users' notice of this revocation (`id`, `message`, `time`), when the operator gave one.
        #[serde(default)]
        notice: Option<NoticeWire>,
    },
    /// A catalog option was created: every instance drops its cached list of (`kind`, `parent_id`).
    OptionChanged {
        /// The option's kind.
        kind: super::catalog::OptionKind,
        /// Its parent.
        parent_id: Option<Uuid>,
        /// The catalog version after the change (monotonic: a gap means a missed message).
        version: u64,
    },
    /// The listing-form template set was replaced: every instance drops its templates and resolved forms.
    TemplatesChanged {
        /// The catalog version after the change (the same counter as `OptionChanged`).
        version: u64,
    },
    /// A rotation step every instance's secret store performs (values never travel: each instance re-reads
    /// its own secret source) and acknowledges with [`Event::SecretsAck`].
    SecretsCommand {
        /// The rotation (or rollback) this belongs to.
        rotation_id: Uuid,
        /// What to do.
        step: crate::secret_value::SecretStep,
    },
    /// An instance's answer to a [`Event::SecretsCommand`].
    SecretsAck {
        /// The rotation.
        rotation_id: Uuid,
        /// The step answered.
        step: crate::secret_value::SecretStep,
        /// The answering instance.
        instance_id: Uuid,
        /// Whether it did it; otherwise `detail` says why (no values).
        ok: bool,
        /// Why not, or a note.
        detail: Option<String>,
        /// The version changes it made (fingerprints only).
        changes: Vec<crate::secret_value::VersionChange>,
    },
    /// Individual sessions were revoked (logout, deletion, reuse detection).
    SessionRevoked {
        /// The sessions.
        session_ids: Vec<Uuid>,
    },
    /// Jobs of `queue` became due on the publishing instance (a committed enqueue or retry): every instance
    /// working the queue claims now instead of at its next poll. Coalesced by the publisher (at most one per
    /// queue per `jobs.wake_coalesce_ms`); a lost one costs at most a poll interval.
    JobsEnqueued {
        /// The queue.
        queue: String,
    },
}

impl Event {
    /// Whether it is a job runners' wake-up, delivered to [`Bus::subscribe_wakeups`] only.
    #[must_use]
    pub fn is_job_wakeup(&self) -> bool {
        matches!(self, Self::JobsEnqueued { .. })
    }
}

/// What goes on the wire: the event plus who sent it and a unique id (for de-duplication and logs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Unique per published message.
    pub id: Uuid,
    /// The instance id of the publisher.
    pub origin: Uuid,
    /// Publication time, milliseconds since the Unix epoch.
    pub sent_at_ms: i64,
    /// The event itself.
    pub event: Event,
}

/// What subscribers receive.
#[derive(Debug, Clone, PartialEq)]
pub enum BusSignal {
    /// A message from some instance (possibly this one).
    Message(Envelope),
    /// Messages may have been missed; rebuild derived state from the source of truth.
    Resync {
        /// Why, for logs and metrics (`reconnected`, `lagged`).
        reason: &'static str,
    },
}

/// Errors of [`Bus::publish`].
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The broker is unreachable or did not confirm in time; the message was not delivered.
    #[error("bus unavailable: {0}")]
    Unavailable(#[from] Unavailable),
    /// The event could not be encoded (a bug).
    #[error("cannot encode event: {0}")]
    Encode(String),
}

/// The bus capability.
#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Publishes `event` to every instance and returns once the broker confirmed it.
    ///
    /// # Errors
    /// [`BusError::Unavailable`] when the broker cannot take it now (the caller decides whether to retry).
    async fn publish(&self, event: Event) -> Result<(), BusError>;

    /// A new subscription. Each receiver sees every message published after it subscribed except the job
    /// runners' wake-ups ([`Event::is_job_wakeup`]), and a [`BusSignal::Resync`] whenever messages may have
    /// been lost.
    fn subscribe(&self) -> broadcast::Receiver<BusSignal>;

    /// A new subscription to the job runners' wake-ups only ([`Event::JobsEnqueued`]), with the same
    /// resyncs as [`Bus::subscribe`].
    fn subscribe_wakeups(&self) -> broadcast::Receiver<BusSignal>;

    /// This instance's id (also the `origin` of what it publishes).
    fn instance_id(&self) -> Uuid;

    /// Whether the bus is connected right now.
    ///
    /// # Errors
    /// The reason it is not.
    async fn health(&self) -> Result<(), Unavailable>;

    /// The backend's name for `/readyz` and metrics (`memory`, `amqp`).
    fn backend(&self) -> &'static str;

    /// Stops background tasks and closes connections.
    async fn close(&self);
}

/// Subscribes to `bus` and hands every signal to `deliver` until it returns `false` (the receiving actor is
/// gone) or the bus closes. A subscriber that fell behind gets [`BusSignal::Resync`] (`lagged`), since it
/// may have missed messages. Returns the forwarding task, for the owner to abort when it stops.
pub fn forward<F>(bus: &dyn Bus, deliver: F) -> tokio::task::JoinHandle<()>
where
    F: FnMut(BusSignal) -> bool + Send + 'static,
{
    forward_from(bus.subscribe(), deliver)
}

/// As [`forward`], from the subscription `rx` (say [`Bus::subscribe_wakeups`]).
pub fn forward_from<F>(mut rx: broadcast::Receiver<BusSignal>, mut deliver: F) -> tokio::task::JoinHandle<()>
where
    F: FnMut(BusSignal) -> bool + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            let signal = match rx.recv().await {
                Ok(signal) => signal,
                Err(broadcast::error::RecvError::Lagged(_)) => BusSignal::Resync { reason: "lagged" },
                Err(broadcast::error::RecvError::Closed) => break,
            };
            if !deliver(signal) {
                break;
            }
        }
    })
}
