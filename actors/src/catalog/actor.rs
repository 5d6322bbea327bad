//! The catalog actor: the single writer of this instance's option lists, templates and forms, and of its
//! idea of the catalog version.
//!
//! Reads look the caches up without the actor (see [`super::lists`], [`super::forms`]); a miss asks the actor,
//! which loads the list in a task of its own (one per key at a time, bounded by `io_timeout`) and fills the
//! entry when it comes back: a slow database never holds other misses. Creates and moderation changes go
//! through the actor: it commits to the store, drops the affected entries, and publishes `option_changed
//! {kind, parent_id, version}` so every instance (this one too) drops exactly those. Versions are monotonic
//! per catalog (see [`super::version`]): a gap drops everything; so does a bus reconnect (`Resync`), and a
//! periodic version check backs both up. No invalidation is lost silently.
//!
//! The template work (loading the set in use, resolving forms, imports, the forms an engine flag change
//! would break) lives in [`templates`]; an import publishes `templates_changed {version}`.

mod templates;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use time::OffsetDateTime;
use tokio::task::JoinHandle;

use super::error::CacheError;
use super::forms::{Form, FormTarget, Imported, LoadedSet, TemplateCache};
use super::lists::{CacheKey, CachedList, Entries, Loader, MAX_ENTRIES};
use super::moderation::ModerationOutcome;
use super::shared_tier::SharedTier;
use super::templates::TemplateSet;
use super::version::{self, Flush};
use crate::handle::Envelope;
use crate::ports::Unavailable;
use crate::ports::bus::{Bus, BusSignal, Event};
use crate::ports::catalog::{CatalogOption, CatalogStore, Created, Moderation, ModerationError, OptionKind};
use crate::telemetry::Mailbox;

/// The actor's label in metrics and logs (observable: it stays the option cache's).
pub const NAME: &str = "option_cache";

/// Messages of the option cache.
pub enum CatalogMsg {
    /// Loads `key` into the cache (a miss).
    Load(CacheKey, RpcReplyPort<Result<CachedList, CacheError>>),
    /// Creates an option (or finds the existing one).
    Create(CatalogOption, RpcReplyPort<Result<Created, CacheError>>),
    /// Resolves and compiles a form (a miss).
    LoadForm(FormTarget, RpcReplyPort<Result<Form, CacheError>>),
    /// The template set in use (loaded on first use).
    TemplateSet(RpcReplyPort<Result<LoadedSet, CacheError>>),
    /// Checks and stores a template set: merged over the one in use, or replacing it.
    ImportTemplates {
        /// The set to check and store.
        set: TemplateSet,
        /// Replace the set in use instead of merging over it.
        replace: bool,
        /// Where the outcome goes.
        reply: RpcReplyPort<Result<Imported, CacheError>>,
    },
    /// Applies a moderation change (`force`: also when it takes fields from forms, flagging them).
    Moderate {
        /// The change.
        change: Moderation,
        /// Who asks (the audit record's actor).
        actor: String,
        /// Apply a change that breaks stored forms anyway.
        force: bool,
        /// Where the outcome goes.
        reply: RpcReplyPort<Result<ModerationOutcome, ModerationError>>,
    },
    /// Internal: a bus signal.
    Bus(BusSignal),
    /// Internal: compare the cached version with the store's.
    CheckVersion,
    /// Internal: the store's version, read off the actor for `CheckVersion`.
    VersionRead(Result<u64, CacheError>),
    /// Internal: a list loaded off the actor for `Load`.
    Loaded {
        /// The list's key.
        key: CacheKey,
        /// The actor's drop epoch when the load started.
        epoch: u64,
        /// The catalog's identity, if the load read it.
        catalog_id: Option<String>,
        /// The version read and the list, or why not.
        result: Result<(u64, Vec<CatalogOption>), CacheError>,
    },
    /// Fault injection for supervision tests and chaos drills.
    #[cfg(any(test, feature = "chaos"))]
    InjectPanic,
}

/// What the actor needs; shared by every (re)start.
#[derive(Clone)]
pub struct CatalogDeps {
    /// The catalog.
    pub store: Arc<dyn CatalogStore>,
    /// The bus.
    pub bus: Arc<dyn Bus>,
    /// The cache shared by every instance (Redis in production; `None` in the local profile): option lists
    /// keyed by catalog version, kind and parent, so a cold instance fills its cache from it instead of
    /// querying the database for every list. Keyed by version, it never serves a list older than the version
    /// the instance reads, and needs no invalidation of its own.
    pub shared: Option<Arc<dyn crate::ports::cache::Cache>>,
    /// The cache map (outlives restarts; dropped whole on restart, see `pre_start`).
    pub entries: Entries,
    /// Templates and resolved forms (as `entries`).
    pub templates: Arc<RwLock<TemplateCache>>,
    /// How often the version is checked against the store.
    pub check_every: Duration,
    /// Mailbox counter shared with the handle.
    pub mailbox: Arc<Mailbox>,
    /// How long one load from the store may take before it counts as unavailable; set by
    /// [`super::handle::CatalogHandle::new`] to three quarters of the call timeout, so a slow database answers 503
    /// `database_unavailable` inside the caller's deadline instead of timing the call out.
    pub io_timeout: Duration,
    /// The deployment's default locale (`catalog.default_locale`): every map of locales in an imported
    /// template set must include it.
    pub default_locale: String,
}

/// The reply port of a `Load`.
type LoadReply = RpcReplyPort<Result<CachedList, CacheError>>;

/// A load that came back (`CatalogMsg::Loaded`, unpacked).
struct LoadedList {
    key: CacheKey,
    epoch: u64,
    catalog_id: Option<String>,
    result: Result<(u64, Vec<CatalogOption>), CacheError>,
}

/// The actor.
#[derive(Debug, Default)]
pub struct Catalog;

/// The actor's state.
pub struct CatalogState {
    deps: CatalogDeps,
    /// The newest catalog version this instance knows of (`None` until it first learns one).
    known_version: Option<u64>,
    /// The catalog's identity (namespaces the shared cache), once read.
    catalog_id: Option<String>,
    /// Misses being loaded off the actor, with everyone waiting for each: one load per key at a time.
    in_flight: HashMap<CacheKey, Vec<RpcReplyPort<Result<CachedList, CacheError>>>>,
    /// Bumped whenever entries are dropped: a load that started before a drop may have read what the drop
    /// invalidated, so its list answers its callers but is not cached.
    epoch: u64,
    forwarder: JoinHandle<()>,
    ticker: JoinHandle<()>,
}

fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

impl CatalogState {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<CacheKey, CachedList>> {
        self.deps.entries.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn drop_key(&mut self, key: &CacheKey) {
        self.epoch += 1;
        self.write().remove(key);
    }

    /// Drops a list; a category's change (name, engine flag, merge) drops the resolved forms too, since forms
    /// are matched by category name and shaped by its engine flag.
    fn drop_list(&mut self, key: &CacheKey) {
        self.drop_key(key);
        if key.0 == OptionKind::Category {
            self.drop_templates();
        }
    }

    fn templates(&self) -> std::sync::RwLockWriteGuard<'_, TemplateCache> {
        self.deps.templates.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn drop_templates(&mut self) {
        *self.templates() = TemplateCache::default();
    }

    /// Records the catalog version this instance is at (also as `gantry_catalog_version`, so instances that
    /// disagree for long show on the dashboard and in alerts).
    fn set_known(&mut self, version: u64) {
        self.known_version = Some(version);
        metrics::gauge!("gantry_catalog_version").set(version as f64);
    }

    /// Takes note of a version announced with a change: a gap drops everything, else `drop_one` runs.
    fn advance(&mut self, version: u64, drop_one: impl FnOnce(&mut Self)) {
        let (flush, known) = version::on_announced(self.known_version, version);
        if flush == Flush::Everything {
            // At least one change was missed.
            self.drop_all("version_gap");
        } else {
            drop_one(self);
        }
        self.set_known(known);
    }

    fn drop_all(&mut self, why: &'static str) {
        self.epoch += 1;
        self.write().clear();
        self.drop_templates();
        metrics::counter!("gantry_option_cache_flushes_total", "reason" => why).increment(1);
        tracing::info!(event = "option_cache_flushed", reason = why, "option cache dropped");
    }

    /// A read of the store inside the actor (template work), bounded by `io_timeout` like every load. Writes
    /// are not bounded here: cancelling one could report a failure for a change that commits.
    async fn bounded<T>(
        &self,
        read: impl std::future::Future<Output = Result<T, Unavailable>>,
    ) -> Result<T, CacheError> {
        tokio::time::timeout(self.deps.io_timeout, read)
            .await
            .unwrap_or_else(|_| Err(Unavailable::new("the catalog did not answer in time")))
            .map_err(CacheError::from)
    }

    /// What a load needs, to run off the actor.
    fn loader(&self) -> Loader {
        Loader {
            store: Arc::clone(&self.deps.store),
            shared: self
                .deps
                .shared
                .clone()
                .map(|cache| SharedTier::new(cache, Arc::clone(&self.deps.store), self.catalog_id.clone())),
            timeout: self.deps.io_timeout,
        }
    }

    /// A miss, answered off the actor: the load runs in its own task (bounded by `io_timeout`) and comes back
    /// as `Loaded`; misses of other keys, creates and bus messages are handled meanwhile, and a second miss of
    /// the same key waits for the same load.
    fn start_load(&mut self, myself: &ActorRef<Envelope<CatalogMsg>>, key: CacheKey, reply: LoadReply) {
        if let Some(hit) = self.deps.entries.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key) {
            let _ = reply.send(Ok(hit.clone()));
            return;
        }
        if let Some(waiting) = self.in_flight.get_mut(&key) {
            waiting.push(reply);
            return;
        }
        self.in_flight.insert(key, vec![reply]);
        let loader = self.loader();
        let epoch = self.epoch;
        let me = myself.clone();
        // Ends on its own within `io_timeout`; if the actor is gone by then, the waiters' ports are dropped
        // with it and their calls fail.
        tokio::spawn(async move {
            let (catalog_id, result) = loader.load(key).await;
            let _ = me.cast(Envelope::internal(CatalogMsg::Loaded { key, epoch, catalog_id, result }));
        });
    }

    /// A load came back: cache it (unless something was dropped meanwhile) and answer everyone waiting.
    fn finish_load(&mut self, loaded: LoadedList) {
        let LoadedList { key, epoch, catalog_id, result } = loaded;
        let result = self.apply_load(key, epoch, catalog_id, result);
        for reply in self.in_flight.remove(&key).unwrap_or_default() {
            let _ = reply.send(result.clone());
        }
    }

    fn apply_load(
        &mut self,
        key: CacheKey,
        epoch: u64,
        catalog_id: Option<String>,
        result: Result<(u64, Vec<CatalogOption>), CacheError>,
    ) -> Result<CachedList, CacheError> {
        if self.catalog_id.is_none() {
            self.catalog_id = catalog_id;
        }
        let (version, items) = result?;
        let fresh = epoch == self.epoch;
        let (flush, known) = version::on_loaded(self.known_version, version);
        if flush == Flush::Everything {
            // The store is ahead of what the bus told us: some message was missed.
            self.drop_all("version_ahead");
        }
        if let Some(known) = known {
            self.set_known(known);
        }
        let list = CachedList::new(version, items);
        if fresh {
            let mut entries = self.write();
            if entries.len() >= MAX_ENTRIES {
                // Bounded: parents are few (brands, countries, categories); reaching this means something odd.
                entries.clear();
            }
            entries.insert(key, list.clone());
        }
        Ok(list)
    }

    /// A load inside the actor, for the template work that needs the category list before it goes on
    /// (bounded by `io_timeout` like every load).
    async fn load_now(&mut self, key: CacheKey) -> Result<CachedList, CacheError> {
        if let Some(hit) = self.deps.entries.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key) {
            return Ok(hit.clone());
        }
        let epoch = self.epoch;
        let (catalog_id, result) = self.loader().load(key).await;
        self.apply_load(key, epoch, catalog_id, result)
    }

    async fn create(&mut self, option: CatalogOption) -> Result<Created, CacheError> {
        let created = self.deps.store.create_option(&option).await?;
        if created.created {
            let key = (option.kind, option.parent_id);
            // A gap: someone else's change reached the store before its message reached us. A new category
            // drops the templates too: their checks depend on the categories.
            self.advance(created.version, |s| s.drop_list(&key));
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

    /// Announces that the lists of `keys` changed at `version` (one `option_changed` per list, all with the
    /// same version), off the actor's path: a slow broker must not stall reads; the version check covers a loss.
    fn announce(&self, keys: Vec<CacheKey>, version: u64) {
        let bus = Arc::clone(&self.deps.bus);
        tokio::spawn(async move {
            for (kind, parent_id) in keys {
                if let Err(err) = bus.publish(Event::OptionChanged { kind, parent_id, version }).await {
                    metrics::counter!("gantry_option_announce_failures_total").increment(1);
                    tracing::warn!(event = "bus_publish_failed", actor = NAME, error = %err, "relying on the version check");
                }
            }
        });
    }

    /// A moderation change: refused when it would break stored forms (unless `force`), applied by the store
    /// with its audit record, then the lists it touched are dropped here and announced to every instance.
    async fn moderate(
        &mut self,
        change: Moderation,
        actor: &str,
        force: bool,
    ) -> Result<ModerationOutcome, ModerationError> {
        let flagged = match &change {
            Moderation::SetEngine { id, has_engine, .. } => self.forms_broken_by_engine(*id, *has_engine).await?,
            _ => Vec::new(),
        };
        if !flagged.is_empty() && !force {
            metrics::counter!("gantry_catalog_moderations_total", "action" => change.action(), "result" => "refused")
                .increment(1);
            return Err(ModerationError::WouldBreakTemplates(flagged));
        }
        // Forced over broken forms: the audit record names them.
        let change = match change {
            Moderation::SetEngine { id, has_engine, .. } => {
                Moderation::SetEngine { id, has_engine, overrides: flagged.clone() }
            }
            other => other,
        };
        let moderated = match self.deps.store.moderate(&change, actor).await {
            Ok(moderated) => moderated,
            Err(e) => {
                let result = if matches!(e, ModerationError::Unavailable(_)) { "unavailable" } else { "refused" };
                metrics::counter!("gantry_catalog_moderations_total", "action" => change.action(), "result" => result)
                    .increment(1);
                return Err(e);
            }
        };
        metrics::counter!("gantry_catalog_moderations_total", "action" => change.action(), "result" => "applied")
            .increment(1);
        tracing::info!(event = "catalog_moderated", action = change.action(), option = %change.option_id(),
            actor, version = moderated.version, flagged = flagged.len(), "catalog change applied");
        let affected = moderated.affected.clone();
        self.advance(moderated.version, |s| {
            for key in &affected {
                s.drop_list(key);
            }
        });
        self.announce(affected, moderated.version);
        Ok(ModerationOutcome { moderated, flagged })
    }

    fn on_bus(&mut self, signal: BusSignal) {
        match signal {
            BusSignal::Message(envelope) => {
                if let Event::OptionChanged { kind, parent_id, version } = envelope.event {
                    let lag = (now_ms() - envelope.sent_at_ms).max(0) as f64 / 1000.0;
                    metrics::histogram!("gantry_bus_propagation_seconds", "event" => "option_changed").record(lag);
                    metrics::counter!("gantry_option_invalidations_total", "kind" => kind.as_str()).increment(1);
                    self.advance(version, |s| s.drop_list(&(kind, parent_id)));
                }
                if let Event::TemplatesChanged { version } = envelope.event {
                    let lag = (now_ms() - envelope.sent_at_ms).max(0) as f64 / 1000.0;
                    metrics::histogram!("gantry_bus_propagation_seconds", "event" => "templates_changed").record(lag);
                    metrics::counter!("gantry_option_invalidations_total", "kind" => "templates").increment(1);
                    self.advance(version, Self::drop_templates);
                }
            }
            BusSignal::Resync { .. } => self.drop_all("resync"),
        }
    }

    /// The periodic version check, off the actor: the read runs in a task and comes back as `VersionRead`.
    fn start_version_check(&self, myself: &ActorRef<Envelope<CatalogMsg>>) {
        let store = Arc::clone(&self.deps.store);
        let timeout = self.deps.io_timeout;
        let me = myself.clone();
        tokio::spawn(async move {
            let version = tokio::time::timeout(timeout, store.catalog_version())
                .await
                .unwrap_or_else(|_| Err(Unavailable::new("the catalog version read timed out")))
                .map_err(CacheError::from);
            let _ = me.cast(Envelope::internal(CatalogMsg::VersionRead(version)));
        });
    }

    fn check_version(&mut self, version: Result<u64, CacheError>) -> Result<(), CacheError> {
        let (flush, known) = version::on_checked(self.known_version, version?);
        if flush == Flush::Everything {
            self.drop_all("version_check");
        }
        if let Some(known) = known {
            self.set_known(known);
        }
        Ok(())
    }
}

impl Actor for Catalog {
    type Msg = Envelope<CatalogMsg>;
    type State = CatalogState;
    type Arguments = CatalogDeps;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        deps: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        deps.mailbox.reset();
        // Messages may have been missed while no actor listened: start from an empty cache.
        deps.entries.write().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
        *deps.templates.write().unwrap_or_else(std::sync::PoisonError::into_inner) = TemplateCache::default();
        let me = myself.clone();
        let forwarder = crate::ports::bus::forward(deps.bus.as_ref(), move |signal| {
            me.cast(Envelope::internal(CatalogMsg::Bus(signal))).is_ok()
        });
        let ticker = myself.send_interval(deps.check_every, || Envelope::internal(CatalogMsg::CheckVersion));
        Ok(CatalogState {
            deps,
            known_version: None,
            catalog_id: None,
            in_flight: HashMap::new(),
            epoch: 0,
            forwarder,
            ticker,
        })
    }

    async fn post_stop(&self, _myself: ActorRef<Self::Msg>, state: &mut Self::State) -> Result<(), ActorProcessingErr> {
        state.forwarder.abort();
        state.ticker.abort();
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        envelope: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let (message, _handling) = envelope.open(&state.deps.mailbox);
        match message {
            CatalogMsg::Load(key, reply) => {
                state.start_load(&myself, key, reply);
            }
            CatalogMsg::Loaded { key, epoch, catalog_id, result } => {
                state.finish_load(LoadedList { key, epoch, catalog_id, result });
            }
            CatalogMsg::Create(option, reply) => {
                let _ = reply.send(state.create(option).await);
            }
            CatalogMsg::LoadForm(target, reply) => {
                let _ = reply.send(state.load_form(target).await);
            }
            CatalogMsg::TemplateSet(reply) => {
                let _ = reply.send(state.template_set().await);
            }
            CatalogMsg::ImportTemplates { set, replace, reply } => {
                let _ = reply.send(state.import(set, replace).await);
            }
            CatalogMsg::Moderate { change, actor, force, reply } => {
                let _ = reply.send(state.moderate(change, &actor, force).await);
            }
            CatalogMsg::Bus(signal) => {
                state.on_bus(signal);
            }
            CatalogMsg::CheckVersion => {
                state.start_version_check(&myself);
            }
            CatalogMsg::VersionRead(version) => {
                if let Err(e) = state.check_version(version) {
                    tracing::warn!(error = %e, "catalog version check failed; retrying at the next tick");
                }
            }
            #[cfg(any(test, feature = "chaos"))]
            CatalogMsg::InjectPanic => {
                panic!("fault injected into {NAME}");
            }
        }
        Ok(())
    }
}
