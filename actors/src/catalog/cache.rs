//! The option cache actor: the single writer of this instance's option cache and of its idea of the
//! catalog version.
//!
//! Reads look the cache up without the actor (a read lock on a map keyed by (kind, parent)); a miss asks
//! the actor, which loads the list from the store and fills the entry. Creates go through the actor: it
//! commits to the store, drops the affected entry, and publishes `option_changed {kind, parent_id, version}`
//! so every instance (this one too) drops exactly that entry. Versions are monotonic per catalog: a receiver
//! that sees a gap knows it missed a message and drops its whole cache; so does a bus reconnect (`Resync`),
//! and a periodic version check backs both up. No invalidation is lost silently.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use time::OffsetDateTime;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::OptionKind;
use crate::handle::{ActorSlot, CallError};
use crate::ports::Unavailable;
use crate::ports::bus::{Bus, BusSignal, Event};
use crate::ports::catalog::{CatalogOption, CatalogStore, Created};
use crate::supervisor::ChildSpec;
use crate::telemetry::Mailbox;

/// The actor's label in metrics and logs.
pub const NAME: &str = "option_cache";

/// Most cached lists per instance; beyond it the cache starts over (a bound, not an eviction policy).
const MAX_ENTRIES: usize = 50_000;

/// A cache key: the kind and the parent (`None` for kinds without parents).
pub type CacheKey = (OptionKind, Option<Uuid>);

/// A cached list.
#[derive(Debug, Clone)]
pub struct CachedList {
    /// The catalog version the list was loaded at (the `ETag`).
    pub version: u64,
    /// The options, ordered by search key.
    pub items: Arc<Vec<CatalogOption>>,
}

/// The cache map, read by request tasks, written only by the actor.
type Entries = Arc<RwLock<HashMap<CacheKey, CachedList>>>;

/// Errors of cache operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    /// The store is unreachable.
    #[error("catalog unavailable: {0}")]
    Unavailable(String),
    /// The list's parent does not exist (or is of another kind).
    #[error("no such parent")]
    UnknownParent,
    /// The actor could not be reached.
    #[error(transparent)]
    Call(#[from] CallError),
}

impl From<Unavailable> for CacheError {
    fn from(e: Unavailable) -> Self {
        Self::Unavailable(e.0)
    }
}

/// Messages of the option cache.
pub enum OptionCacheMsg {
    /// Loads `key` into the cache (a miss).
    Load(CacheKey, RpcReplyPort<Result<CachedList, CacheError>>),
    /// Creates an option (or finds the existing one).
    Create(CatalogOption, RpcReplyPort<Result<Created, CacheError>>),
    /// Internal: a bus signal.
    Bus(BusSignal),
    /// Internal: compare the cached version with the store's.
    CheckVersion,
    /// Fault injection for supervision tests and chaos drills.
    InjectPanic,
}

/// What the actor needs; shared by every (re)start.
#[derive(Clone)]
pub struct CacheDeps {
    /// The catalog.
    pub store: Arc<dyn CatalogStore>,
    /// The bus.
    pub bus: Arc<dyn Bus>,
    /// The cache map (outlives restarts; dropped whole on restart, see `pre_start`).
    pub entries: Entries,
    /// How often the version is checked against the store.
    pub check_every: Duration,
    /// Mailbox counter shared with the handle.
    pub mailbox: Arc<Mailbox>,
}

/// The actor.
#[derive(Debug, Default)]
pub struct OptionCache;

/// The actor's state.
pub struct CacheState {
    deps: CacheDeps,
    /// The newest catalog version this instance knows of (`None` until it first learns one).
    known_version: Option<u64>,
    forwarder: JoinHandle<()>,
    ticker: JoinHandle<()>,
}

fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

impl CacheState {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<CacheKey, CachedList>> {
        self.deps.entries.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn drop_key(&self, key: &CacheKey) {
        self.write().remove(key);
    }

    fn drop_all(&self, why: &'static str) {
        self.write().clear();
        metrics::counter!("gantry_option_cache_flushes_total", "reason" => why).increment(1);
        tracing::info!(event = "option_cache_flushed", reason = why, "option cache dropped");
    }

    async fn load(&mut self, key: CacheKey) -> Result<CachedList, CacheError> {
        if let Some(hit) = self.deps.entries.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key) {
            return Ok(hit.clone());
        }
        if let (Some(parent_kind), Some(parent)) = (key.0.parent_kind(), key.1) {
            // Only real parents get an entry: made-up ids must not grow the cache.
            match self.deps.store.get_option(parent).await? {
                Some(p) if p.kind == parent_kind => {}
                _ => return Err(CacheError::UnknownParent),
            }
        }
        let version = self.deps.store.catalog_version().await?;
        let items = self.deps.store.list_options(key.0, key.1).await?;
        match self.known_version {
            Some(known) if version > known => {
                // The store is ahead of what the bus told us: some message was missed.
                self.drop_all("version_ahead");
                self.known_version = Some(version);
            }
            None => self.known_version = Some(version),
            Some(_) => {}
        }
        let list = CachedList { version, items: Arc::new(items) };
        let mut entries = self.write();
        if entries.len() >= MAX_ENTRIES {
            // Bounded: parents are few (brands, countries, categories); reaching this means something odd.
            entries.clear();
        }
        entries.insert(key, list.clone());
        Ok(list)
    }

    async fn create(&mut self, option: CatalogOption) -> Result<Created, CacheError> {
        let created = self.deps.store.create_option(&option).await?;
        if created.created {
            let key = (option.kind, option.parent_id);
            if self.known_version.is_some_and(|known| created.version > known + 1) {
                // Someone else's change reached the store before its message reached us.
                self.drop_all("version_gap");
            } else {
                self.drop_key(&key);
            }
            self.known_version = Some(self.known_version.map_or(created.version, |k| k.max(created.version)));
            metrics::counter!("gantry_options_created_total", "kind" => option.kind.as_str()).increment(1);
            let event =
                Event::OptionChanged { kind: option.kind, parent_id: option.parent_id, version: created.version };
            let bus = Arc::clone(&self.deps.bus);
            // Off the actor's path: a slow broker must not stall reads; the version check covers a loss.
            tokio::spawn(async move {
                if let Err(err) = bus.publish(event).await {
                    metrics::counter!("gantry_option_announce_failures_total").increment(1);
                    tracing::warn!(event = "bus_publish_failed", actor = NAME, error = %err, "relying on the version check");
                }
            });
        }
        Ok(created)
    }

    fn on_bus(&mut self, signal: BusSignal) {
        match signal {
            BusSignal::Message(envelope) => {
                if let Event::OptionChanged { kind, parent_id, version } = envelope.event {
                    #[allow(clippy::cast_precision_loss)]
                    let lag = (now_ms() - envelope.sent_at_ms).max(0) as f64 / 1000.0;
                    metrics::histogram!("gantry_bus_propagation_seconds", "event" => "option_changed").record(lag);
                    metrics::counter!("gantry_option_invalidations_total", "kind" => kind.as_str()).increment(1);
                    if self.known_version.is_some_and(|known| version > known + 1) {
                        // A gap: at least one change was missed.
                        self.drop_all("version_gap");
                    } else {
                        self.drop_key(&(kind, parent_id));
                    }
                    self.known_version = Some(self.known_version.map_or(version, |k| k.max(version)));
                }
            }
            BusSignal::Resync { .. } => self.drop_all("resync"),
        }
    }

    async fn check_version(&mut self) -> Result<(), CacheError> {
        let version = self.deps.store.catalog_version().await?;
        if self.known_version != Some(version) {
            if self.known_version.is_some() {
                self.drop_all("version_check");
            }
            self.known_version = Some(version);
        }
        Ok(())
    }
}

impl Actor for OptionCache {
    type Msg = OptionCacheMsg;
    type State = CacheState;
    type Arguments = CacheDeps;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        deps: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        deps.mailbox.reset();
        // Messages may have been missed while no actor listened: start from an empty cache.
        deps.entries.write().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
        let me = myself.clone();
        let forwarder =
            crate::ports::bus::forward(deps.bus.as_ref(), move |signal| me.cast(OptionCacheMsg::Bus(signal)).is_ok());
        let ticker = myself.send_interval(deps.check_every, || OptionCacheMsg::CheckVersion);
        Ok(CacheState { deps, known_version: None, forwarder, ticker })
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
            OptionCacheMsg::Load(key, reply) => {
                let _h = state.deps.mailbox.begin_handling();
                let _ = reply.send(state.load(key).await);
            }
            OptionCacheMsg::Create(option, reply) => {
                let _h = state.deps.mailbox.begin_handling();
                let _ = reply.send(state.create(option).await);
            }
            OptionCacheMsg::Bus(signal) => {
                let _h = state.deps.mailbox.begin_internal();
                state.on_bus(signal);
            }
            OptionCacheMsg::CheckVersion => {
                let _h = state.deps.mailbox.begin_internal();
                if let Err(e) = state.check_version().await {
                    tracing::warn!(error = %e, "catalog version check failed; retrying at the next tick");
                }
            }
            OptionCacheMsg::InjectPanic => {
                let _h = state.deps.mailbox.begin_handling();
                panic!("fault injected into {NAME}");
            }
        }
        Ok(())
    }
}

/// The typed handle the gateway holds.
#[derive(Clone)]
pub struct OptionCacheHandle {
    slot: Arc<ActorSlot<OptionCacheMsg>>,
    deps: CacheDeps,
    /// Hit and miss counters per kind, registered once (a label set per request costs more than the hit).
    counters: Arc<[(metrics::Counter, metrics::Counter); 6]>,
}

impl std::fmt::Debug for OptionCacheHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OptionCacheHandle").field("slot", &self.slot).finish_non_exhaustive()
    }
}

impl OptionCacheHandle {
    /// A handle with an empty cache; `deps.mailbox` is replaced by the slot's.
    #[must_use]
    pub fn new(mut deps: CacheDeps, mailbox_capacity: usize, call_timeout: Duration) -> Self {
        let slot = ActorSlot::new(NAME, mailbox_capacity, call_timeout);
        deps.mailbox = slot.mailbox();
        let counters = Arc::new(OptionKind::ALL.map(|kind| {
            (
                metrics::counter!("gantry_option_cache_hits_total", "kind" => kind.as_str()),
                metrics::counter!("gantry_option_cache_misses_total", "kind" => kind.as_str()),
            )
        }));
        Self { slot, deps, counters }
    }

    /// The list for `key`: from the cache, or loaded by the actor on a miss.
    ///
    /// # Errors
    /// The store or the actor is unavailable.
    pub async fn list(&self, key: CacheKey) -> Result<CachedList, CacheError> {
        let (hits, misses) = &self.counters[OptionKind::ALL.iter().position(|k| *k == key.0).unwrap_or(0)];
        let hit = self.deps.entries.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key).cloned();
        if let Some(hit) = hit {
            hits.increment(1);
            return Ok(hit);
        }
        misses.increment(1);
        self.slot.call(|reply| OptionCacheMsg::Load(key, reply)).await?
    }

    /// Creates `option` or returns the existing one with the same name under the same parent.
    ///
    /// # Errors
    /// The store or the actor is unavailable.
    pub async fn create(&self, option: CatalogOption) -> Result<Created, CacheError> {
        self.slot.call(|reply| OptionCacheMsg::Create(option, reply)).await?
    }

    /// One option, from the store (parent checks).
    ///
    /// # Errors
    /// The store is unavailable.
    pub async fn get(&self, id: Uuid) -> Result<Option<CatalogOption>, CacheError> {
        Ok(self.deps.store.get_option(id).await?)
    }

    /// Whether `key` is cached now (tests, diagnostics).
    #[must_use]
    pub fn is_cached(&self, key: &CacheKey) -> bool {
        self.deps.entries.read().unwrap_or_else(std::sync::PoisonError::into_inner).contains_key(key)
    }

    /// Whether the actor runs right now (readiness).
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.slot.current().is_some()
    }

    /// Makes the actor panic (supervision tests, chaos drills).
    ///
    /// # Errors
    /// The actor is not running or overloaded.
    pub fn inject_panic(&self) -> Result<(), CallError> {
        self.slot.cast(OptionCacheMsg::InjectPanic)
    }

    /// How the supervisor starts (and restarts) the actor.
    #[must_use]
    pub fn child_spec(&self) -> ChildSpec {
        self.slot.child_spec::<OptionCache>(self.deps.clone())
    }
}

/// A fresh, empty cache map for [`CacheDeps::entries`].
#[must_use]
pub fn empty_entries() -> Arc<RwLock<HashMap<CacheKey, CachedList>>> {
    Arc::new(RwLock::new(HashMap::new()))
}
