//! The option cache actor: the single writer of this instance's option cache and of its idea of the
//! catalog version.
//!
//! Reads look the cache up without the actor (a read lock on a map keyed by (kind, parent)); a miss asks
//! the actor, which loads the list from the store in a task of its own (one per key at a time, bounded by
//! `io_timeout`) and fills the entry when it comes back: a slow database never holds other misses. Creates go through the actor: it
//! commits to the store, drops the affected entry, and publishes `option_changed {kind, parent_id, version}`
//! so every instance (this one too) drops exactly that entry. Versions are monotonic per catalog: a receiver
//! that sees a gap knows it missed a message and drops its whole cache; so does a bus reconnect (`Resync`),
//! and a periodic version check backs both up. No invalidation is lost silently.
//!
//! The actor also owns the listing-form templates: the set in use (the stored one, else the bundled one) and
//! the forms resolved from it per (category, subcategory), compiled once. Importing a set checks it, stores
//! it (raising the catalog version) and publishes `templates_changed {version}`; every instance drops its
//! templates on that message, and on everything that drops the option cache.
//!
//! The handle also holds the per-user limit on option creates (checked before the request body is read,
//! counted once the option passed its checks).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use time::OffsetDateTime;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::OptionKind;
use super::moderation::{AuditEntry, Moderated, Moderation, ModerationError};
use super::templates::{self, CompiledTemplate, Evaluation, TemplateIssue, TemplateSet, ValueIssue};
use crate::accounts::limiter::FailureLimiter;
use crate::handle::{ActorSlot, CallError};
use crate::ports::Unavailable;
use crate::ports::bus::{Bus, BusSignal, Event};
pub use crate::ports::catalog::CatalogOption;
use crate::ports::catalog::{CatalogStore, Created, Resolved};
use crate::supervisor::ChildSpec;
use crate::telemetry::Mailbox;

/// The actor's label in metrics and logs.
pub const NAME: &str = "option_cache";

/// Most cached lists per instance; beyond it the cache starts over (a bound, not an eviction policy).
const MAX_ENTRIES: usize = 50_000;

/// How long the shared cache may take before the actor reads the database instead (well inside the call
/// timeout, so a hanging Redis costs a miss a quarter second, never a 503).
const SHARED_TIMEOUT: Duration = Duration::from_millis(250);

/// How long a list stays in the shared cache (entries of old versions simply expire).
const SHARED_TTL: Duration = Duration::from_secs(3600);

/// The shared-cache key of a list: `options:{catalog_id}:v{version}:{kind}:{parent or -}`.
fn shared_key(catalog: &str, version: u64, key: CacheKey) -> String {
    match key.1 {
        Some(parent) => format!("options:{catalog}:v{version}:{}:{parent}", key.0.as_str()),
        None => format!("options:{catalog}:v{version}:{}:-", key.0.as_str()),
    }
}

/// A cache key: the kind and the parent (`None` for kinds without parents).
pub type CacheKey = (OptionKind, Option<Uuid>);

/// A cached list.
#[derive(Debug, Clone)]
pub struct CachedList {
    /// The catalog version the list was loaded at (the `ETag`).
    pub version: u64,
    /// The options, ordered by search key.
    pub items: Arc<Vec<CatalogOption>>,
    /// The first page as the gateway serves it without a query (no `q`, no cursor, the default limit), rendered
    /// once per cached list: what form UIs ask for almost always.
    pub first_page: Arc<std::sync::OnceLock<bytes::Bytes>>,
}

/// The cache map, read by request tasks, written only by the actor.
type Entries = Arc<RwLock<HashMap<CacheKey, CachedList>>>;

/// A form key: the category and the subcategory (`None`: the category's own form).
pub type FormKey = (Uuid, Option<Uuid>);

/// Where the template set in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateOrigin {
    /// Operators stored it (`gantry templates import`, `POST /admin/templates`).
    Stored,
    /// The set Gantry ships (nothing stored yet, or the stored one failed its checks).
    Bundled,
}

/// The template set in use.
#[derive(Debug, Clone)]
pub struct LoadedSet {
    /// The set served (a stored set without its degraded templates).
    pub set: Arc<TemplateSet>,
    /// Where it came from.
    pub origin: TemplateOrigin,
    /// The catalog version it was loaded at.
    pub version: u64,
    /// Stored templates that fail their checks against today's catalog (a category created or changed after
    /// the set was stored): each is left out on its own, so its category is served the default form, and
    /// every other template stays in use.
    pub degraded: Arc<Vec<DegradedTemplate>>,
}

/// A stored template left out because it fails its checks.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DegradedTemplate {
    /// Its title (`Trucks`, `Trucks / Tipper trucks`).
    pub template: String,
    /// Why.
    pub problems: Vec<TemplateIssue>,
    /// The template as stored (to fix and re-import).
    pub definition: templates::document::Template,
}

/// Splits a stored set that fails its checks: when every problem is a template's own (no shared block's),
/// the failing templates are left out and the rest is checked again. `None` when that does not give a valid
/// set (the caller falls back to the bundled one).
fn degrade(
    set: &TemplateSet,
    issues: Vec<TemplateIssue>,
    has_engine: &dyn Fn(&str) -> Option<bool>,
) -> Option<(TemplateSet, Vec<DegradedTemplate>)> {
    let titles: Vec<String> = set.templates.iter().map(templates::document::Template::title).collect();
    if issues.iter().any(|i| !titles.contains(&i.template)) {
        return None;
    }
    let mut kept = set.clone();
    let mut degraded = Vec::new();
    kept.templates.retain(|t| {
        let title = t.title();
        let problems: Vec<TemplateIssue> = issues.iter().filter(|i| i.template == title).cloned().collect();
        if problems.is_empty() {
            return true;
        }
        degraded.push(DegradedTemplate { template: title, problems, definition: t.clone() });
        false
    });
    templates::check(&kept, has_engine).ok().map(|()| (kept, degraded))
}

/// A resolved, compiled form.
#[derive(Debug, Clone)]
pub struct Form {
    /// The form.
    pub template: Arc<CompiledTemplate>,
    /// The catalog version its set was loaded at (the `ETag`).
    pub version: u64,
    /// The form as the gateway serves it, rendered once per cached form (a form is cached per (category,
    /// subcategory), so the rendering never changes while the form is cached).
    pub rendered: Arc<std::sync::OnceLock<bytes::Bytes>>,
}

/// Templates and resolved forms, read by request tasks, written only by the actor.
#[derive(Debug, Default)]
pub struct TemplateCache {
    set: Option<LoadedSet>,
    forms: HashMap<FormKey, Form>,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Imported {
    /// The catalog version after it.
    pub version: u64,
    /// Templates in the stored set.
    pub templates: usize,
    /// Shared blocks in the stored set.
    pub shared_blocks: usize,
}

/// What the form needs to know of the category and subcategory (names: templates are matched by name).
#[derive(Debug, Clone)]
pub struct FormTarget {
    /// Category and subcategory ids.
    pub key: FormKey,
    /// The category's name.
    pub category: String,
    /// Whether the category has an engine.
    pub has_engine: bool,
    /// The subcategory's name.
    pub subcategory: Option<String>,
}

/// What a moderation change did, as the admin API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModerationOutcome {
    /// The store's report.
    pub moderated: Moderated,
    /// Stored forms (template titles) the change breaks, applied with `force`; they are flagged on
    /// `/admin/templates` and served degraded (see `TemplateStatus`).
    pub flagged: Vec<String>,
}

/// Errors of cache operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    /// The store is unreachable.
    #[error("catalog unavailable: {0}")]
    Unavailable(String),
    /// The list's parent does not exist (or is of another kind).
    #[error("no such parent")]
    UnknownParent,
    /// No category with this id.
    #[error("no such category")]
    UnknownCategory,
    /// No subcategory with this id under the category.
    #[error("no such subcategory in this category")]
    UnknownSubcategory,
    /// Neither the category nor the default has a template.
    #[error("no template for this category")]
    NoTemplate,
    /// A template set (imported, or resolved for a category) failed its checks.
    #[error("the template set failed its checks ({} problems)", .0.len())]
    InvalidTemplates(Vec<TemplateIssue>),
    /// The values of a submitted form failed their checks (every problem, per field).
    #[error("the form's values failed their checks ({} problems)", .0.len())]
    InvalidValues(Vec<ValueIssue>),
    /// The user created too many options this hour.
    #[error("too many options created; retry in {}s", .retry_after.as_secs())]
    TooManyCreates {
        /// When the user's window closes.
        retry_after: Duration,
    },
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
    /// Applies a moderation change (`force`: also when it would break stored forms, flagging them).
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
pub struct CacheDeps {
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
    /// [`OptionCacheHandle::new`] to three quarters of the call timeout, so a slow database answers 503
    /// `database_unavailable` inside the caller's deadline instead of timing the call out.
    pub io_timeout: Duration,
}

/// The reply port of a `Load`.
type LoadReply = RpcReplyPort<Result<CachedList, CacheError>>;

/// A load that came back (`OptionCacheMsg::Loaded`, unpacked).
struct LoadedList {
    key: CacheKey,
    epoch: u64,
    catalog_id: Option<String>,
    result: Result<(u64, Vec<CatalogOption>), CacheError>,
}

/// One list load from the shared cache or the store, with no actor state: it runs in its own task.
struct Loader {
    store: Arc<dyn CatalogStore>,
    shared: Option<Arc<dyn crate::ports::cache::Cache>>,
    catalog_id: Option<String>,
    timeout: Duration,
}

impl Loader {
    /// The catalog version and the list of `key`, within `timeout` (past it: unavailable), and the
    /// catalog's identity if it was read.
    async fn load(mut self, key: CacheKey) -> (Option<String>, Result<(u64, Vec<CatalogOption>), CacheError>) {
        let timeout = self.timeout;
        let result = tokio::time::timeout(timeout, self.read(key)).await.unwrap_or_else(|_| {
            Err(CacheError::Unavailable(format!("the catalog did not answer within {} ms", timeout.as_millis())))
        });
        (self.catalog_id, result)
    }

    async fn read(&mut self, key: CacheKey) -> Result<(u64, Vec<CatalogOption>), CacheError> {
        let version = self.store.catalog_version().await?;
        if let Some(items) = self.shared_list(version, key).await {
            return Ok((version, items));
        }
        if let (Some(parent_kind), Some(parent)) = (key.0.parent_kind(), key.1) {
            // Only real parents get an entry: made-up ids must not grow the cache.
            match self.store.get_option(parent).await? {
                Some(p) if p.kind == parent_kind => {}
                _ => return Err(CacheError::UnknownParent),
            }
        }
        let items = self.store.list_options(key.0, key.1).await?;
        self.share_list(version, key, &items).await;
        Ok((version, items))
    }

    /// The list of `key` at `version` from the shared cache (only lists of real parents are ever put there).
    /// An unreachable shared cache is a fallback to the database, logged and counted.
    async fn shared_list(&mut self, version: u64, key: CacheKey) -> Option<Vec<CatalogOption>> {
        let shared = Arc::clone(self.shared.as_ref()?);
        let catalog = self.catalog_id().await?;
        let entry = shared_key(&catalog, version, key);
        let lookup = tokio::time::timeout(SHARED_TIMEOUT, shared.get(&entry));
        match lookup.await.unwrap_or_else(|_| Err(Unavailable::new("shared cache timed out"))) {
            Ok(Some(bytes)) => match serde_json::from_slice(&bytes) {
                Ok(items) => {
                    metrics::counter!("gantry_option_cache_shared_total", "result" => "hit").increment(1);
                    Some(items)
                }
                Err(e) => {
                    tracing::warn!(event = "option_cache_shared_unreadable", error = %e, "ignoring a shared entry");
                    None
                }
            },
            Ok(None) => {
                metrics::counter!("gantry_option_cache_shared_total", "result" => "miss").increment(1);
                None
            }
            Err(e) => {
                metrics::counter!("gantry_option_cache_shared_total", "result" => "error").increment(1);
                tracing::warn!(event = "fallback", from = "shared_cache", to = "database", error = %e,
                    "shared option cache unreachable; reading the database");
                None
            }
        }
    }

    /// The catalog's identity, read once per actor start (kept by the actor from the first load that read it).
    async fn catalog_id(&mut self) -> Option<String> {
        if self.catalog_id.is_none() {
            self.catalog_id = self.store.catalog_id().await.ok();
        }
        self.catalog_id.clone()
    }

    async fn share_list(&mut self, version: u64, key: CacheKey, items: &[CatalogOption]) {
        let Some(shared) = self.shared.clone() else { return };
        let Some(catalog) = self.catalog_id().await else { return };
        let Ok(bytes) = serde_json::to_vec(items) else { return };
        let entry = shared_key(&catalog, version, key);
        let store = tokio::time::timeout(SHARED_TIMEOUT, shared.set(&entry, bytes.into(), SHARED_TTL));
        if let Err(e) = store.await.unwrap_or_else(|_| Err(Unavailable::new("shared cache timed out"))) {
            metrics::counter!("gantry_option_cache_shared_total", "result" => "error").increment(1);
            tracing::warn!(event = "option_cache_shared_write_failed", error = %e, "the next cold instance reads the database");
        }
    }
}

/// The actor.
#[derive(Debug, Default)]
pub struct OptionCache;

/// The actor's state.
pub struct CacheState {
    deps: CacheDeps,
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

impl CacheState {
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
        if self.known_version.is_some_and(|known| version > known + 1) {
            // At least one change was missed.
            self.drop_all("version_gap");
        } else {
            drop_one(self);
        }
        self.set_known(self.known_version.map_or(version, |k| k.max(version)));
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
            shared: self.deps.shared.clone(),
            catalog_id: self.catalog_id.clone(),
            timeout: self.deps.io_timeout,
        }
    }

    /// A miss, answered off the actor: the load runs in its own task (bounded by `io_timeout`) and comes back
    /// as `Loaded`; misses of other keys, creates and bus messages are handled meanwhile, and a second miss of
    /// the same key waits for the same load.
    fn start_load(&mut self, myself: &ActorRef<OptionCacheMsg>, key: CacheKey, reply: LoadReply) {
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
            let _ = me.cast(OptionCacheMsg::Loaded { key, epoch, catalog_id, result });
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
        match self.known_version {
            Some(known) if version > known => {
                // The store is ahead of what the bus told us: some message was missed.
                self.drop_all("version_ahead");
                self.set_known(version);
            }
            None => self.set_known(version),
            Some(_) => {}
        }
        let list = CachedList { version, items: Arc::new(items), first_page: Arc::default() };
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
            Moderation::SetEngine { id, has_engine } => self.forms_broken_by_engine(*id, *has_engine).await?,
            _ => Vec::new(),
        };
        if !flagged.is_empty() && !force {
            metrics::counter!("gantry_catalog_moderations_total", "action" => change.action(), "result" => "refused")
                .increment(1);
            return Err(ModerationError::WouldBreakTemplates(flagged));
        }
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

    /// The stored forms (template titles) that pass their checks now and would fail them with the category
    /// `id`'s engine flag set to `has_engine`.
    async fn forms_broken_by_engine(&mut self, id: Uuid, has_engine: bool) -> Result<Vec<String>, ModerationError> {
        let unavailable = |e: CacheError| ModerationError::Unavailable(e.to_string());
        let Some(text) = self.bounded(self.deps.store.load_templates()).await.map_err(unavailable)? else {
            return Ok(Vec::new());
        };
        let Ok(set) = TemplateSet::from_json(&text) else { return Ok(Vec::new()) };
        let categories = self.load_now((OptionKind::Category, None)).await.map_err(unavailable)?;
        let Some(category) = categories.items.iter().find(|c| c.id == id) else { return Ok(Vec::new()) };
        let now: HashMap<String, bool> = categories.items.iter().map(|c| (c.name_key.clone(), c.has_engine)).collect();
        let mut then = now.clone();
        then.insert(category.name_key.clone(), has_engine);
        let failing = |engines: &HashMap<String, bool>| -> Vec<String> {
            match templates::check(&set, &|key| engines.get(key).copied()) {
                Ok(()) => Vec::new(),
                Err(issues) => issues.into_iter().map(|i| i.template).collect(),
            }
        };
        let before = failing(&now);
        let mut broken: Vec<String> = failing(&then).into_iter().filter(|t| !before.contains(t)).collect();
        broken.sort();
        broken.dedup();
        Ok(broken)
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

    /// Whether each category (by identity key) has an engine, for the template checks.
    async fn engines(&mut self) -> Result<HashMap<String, bool>, CacheError> {
        let categories = self.load_now((OptionKind::Category, None)).await?;
        Ok(categories.items.iter().map(|c| (c.name_key.clone(), c.has_engine)).collect())
    }

    async fn template_set(&mut self) -> Result<LoadedSet, CacheError> {
        if let Some(loaded) = &self.deps.templates.read().unwrap_or_else(std::sync::PoisonError::into_inner).set {
            return Ok(loaded.clone());
        }
        let version = self.bounded(self.deps.store.catalog_version()).await?;
        let stored = self.bounded(self.deps.store.load_templates()).await?;
        let engines = self.engines().await?;
        let has_engine = |key: &str| engines.get(key).copied();
        let checked = stored.map(|text| {
            let set = TemplateSet::from_json(&text).map_err(|e| {
                vec![TemplateIssue {
                    template: "(document)".into(),
                    field: None,
                    code: "invalid_document",
                    message: e.to_string(),
                }]
            })?;
            match templates::check(&set, &has_engine) {
                Ok(()) => Ok((set, Vec::new())),
                Err(issues) => {
                    metrics::counter!("gantry_template_validation_failures_total", "stage" => "load").increment(1);
                    degrade(&set, issues.clone(), &has_engine).ok_or(issues)
                }
            }
        });
        let (set, origin, degraded) = match checked {
            Some(Ok((set, degraded))) => {
                for d in &degraded {
                    tracing::error!(event = "template_degraded", template = %d.template, problems = d.problems.len(),
                        first = %d.problems[0], "a stored template fails its checks; its category gets the default form");
                }
                (set, TemplateOrigin::Stored, degraded)
            }
            Some(Err(issues)) => {
                // Never an empty form: serve the bundled set, loudly, until operators import a fixed one.
                let summary: Vec<String> = issues.iter().take(10).map(ToString::to_string).collect();
                tracing::error!(event = "templates_invalid", problems = issues.len(), first = ?summary,
                    "the stored template set fails its checks beyond single templates; serving the bundled set (fallback)");
                metrics::counter!("gantry_template_fallbacks_total").increment(1);
                (bundled(), TemplateOrigin::Bundled, Vec::new())
            }
            None => (bundled(), TemplateOrigin::Bundled, Vec::new()),
        };
        metrics::gauge!("gantry_templates_degraded").set(degraded.len() as f64);
        let loaded = LoadedSet { set: Arc::new(set), origin, version, degraded: Arc::new(degraded) };
        let mut cache = self.templates();
        cache.set = Some(loaded.clone());
        cache.forms.clear();
        Ok(loaded)
    }

    async fn load_form(&mut self, target: FormTarget) -> Result<Form, CacheError> {
        if let Some(form) =
            self.deps.templates.read().unwrap_or_else(std::sync::PoisonError::into_inner).forms.get(&target.key)
        {
            return Ok(form.clone());
        }
        let loaded = self.template_set().await?;
        let resolved =
            templates::resolve(&loaded.set, &target.category, target.has_engine, target.subcategory.as_deref())
                .ok_or(CacheError::NoTemplate)?;
        let template = CompiledTemplate::compile(resolved).map_err(|issues| {
            metrics::counter!("gantry_template_validation_failures_total", "stage" => "resolve").increment(1);
            tracing::error!(event = "template_invalid", category = %target.category, problems = issues.len(),
                first = %issues[0], "a resolved form fails its checks");
            CacheError::InvalidTemplates(issues)
        })?;
        let form = Form { template: Arc::new(template), version: loaded.version, rendered: Arc::default() };
        let mut cache = self.templates();
        if cache.forms.len() >= MAX_ENTRIES {
            cache.forms.clear();
        }
        cache.forms.insert(target.key, form.clone());
        Ok(form)
    }

    async fn import(&mut self, set: TemplateSet, replace: bool) -> Result<Imported, CacheError> {
        let mut merged = if replace {
            TemplateSet::default()
        } else {
            match self.bounded(self.deps.store.load_templates()).await? {
                // A stored set that fails to parse is replaced by the import over the bundled one.
                Some(text) => TemplateSet::from_json(&text).unwrap_or_else(|_| bundled()),
                None => bundled(),
            }
        };
        let before = merged.clone();
        let imported: Vec<String> = set.templates.iter().map(templates::document::Template::title).collect();
        merged.merge(set);
        let engines = self.engines().await?;
        let has_engine = |key: &str| engines.get(key).copied();
        // Templates already degraded in the stored set (not part of this import) stay degraded, flagged on
        // `/admin/templates`; they do not block an import of other templates.
        let degraded_before: Vec<String> = templates::check(&before, &has_engine)
            .err()
            .map(|issues| issues.into_iter().map(|i| i.template).collect())
            .unwrap_or_default();
        let blocking = templates::check(&merged, &has_engine).err().map(|issues| {
            issues
                .into_iter()
                .filter(|i| imported.contains(&i.template) || !degraded_before.contains(&i.template))
                .collect::<Vec<_>>()
        });
        if let Some(issues) = blocking.filter(|issues| !issues.is_empty()) {
            metrics::counter!("gantry_template_validation_failures_total", "stage" => "import").increment(1);
            tracing::warn!(event = "templates_rejected", problems = issues.len(), first = %issues[0], "template import refused");
            return Err(CacheError::InvalidTemplates(issues));
        }
        let document = serde_json::to_string(&merged).map_err(|e| CacheError::Unavailable(e.to_string()))?;
        let version = self.deps.store.save_templates(&document).await?;
        self.advance(version, Self::drop_templates);
        metrics::counter!("gantry_templates_imported_total").increment(1);
        tracing::info!(
            event = "templates_imported",
            version,
            templates = merged.templates.len(),
            "template set stored"
        );
        let bus = Arc::clone(&self.deps.bus);
        tokio::spawn(async move {
            if let Err(err) = bus.publish(Event::TemplatesChanged { version }).await {
                metrics::counter!("gantry_option_announce_failures_total").increment(1);
                tracing::warn!(event = "bus_publish_failed", actor = NAME, error = %err, "relying on the version check");
            }
        });
        Ok(Imported { version, templates: merged.templates.len(), shared_blocks: merged.shared_blocks.len() })
    }

    /// The periodic version check, off the actor: the read runs in a task and comes back as `VersionRead`.
    fn start_version_check(&self, myself: &ActorRef<OptionCacheMsg>) {
        let store = Arc::clone(&self.deps.store);
        let timeout = self.deps.io_timeout;
        let me = myself.clone();
        tokio::spawn(async move {
            let version = tokio::time::timeout(timeout, store.catalog_version())
                .await
                .unwrap_or_else(|_| Err(Unavailable::new("the catalog version read timed out")))
                .map_err(CacheError::from);
            let _ = me.cast(OptionCacheMsg::VersionRead(version));
        });
    }

    fn check_version(&mut self, version: Result<u64, CacheError>) -> Result<(), CacheError> {
        let version = version?;
        if self.known_version != Some(version) {
            if self.known_version.is_some() {
                self.drop_all("version_check");
            }
            self.set_known(version);
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
        *deps.templates.write().unwrap_or_else(std::sync::PoisonError::into_inner) = TemplateCache::default();
        let me = myself.clone();
        let forwarder =
            crate::ports::bus::forward(deps.bus.as_ref(), move |signal| me.cast(OptionCacheMsg::Bus(signal)).is_ok());
        let ticker = myself.send_interval(deps.check_every, || OptionCacheMsg::CheckVersion);
        Ok(CacheState {
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
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            OptionCacheMsg::Load(key, reply) => {
                let _h = state.deps.mailbox.begin_handling();
                state.start_load(&myself, key, reply);
            }
            OptionCacheMsg::Loaded { key, epoch, catalog_id, result } => {
                let _h = state.deps.mailbox.begin_internal();
                state.finish_load(LoadedList { key, epoch, catalog_id, result });
            }
            OptionCacheMsg::Create(option, reply) => {
                let _h = state.deps.mailbox.begin_handling();
                let _ = reply.send(state.create(option).await);
            }
            OptionCacheMsg::LoadForm(target, reply) => {
                let _h = state.deps.mailbox.begin_handling();
                let _ = reply.send(state.load_form(target).await);
            }
            OptionCacheMsg::TemplateSet(reply) => {
                let _h = state.deps.mailbox.begin_handling();
                let _ = reply.send(state.template_set().await);
            }
            OptionCacheMsg::ImportTemplates { set, replace, reply } => {
                let _h = state.deps.mailbox.begin_handling();
                let _ = reply.send(state.import(set, replace).await);
            }
            OptionCacheMsg::Moderate { change, actor, force, reply } => {
                let _h = state.deps.mailbox.begin_handling();
                let _ = reply.send(state.moderate(change, &actor, force).await);
            }
            OptionCacheMsg::Bus(signal) => {
                let _h = state.deps.mailbox.begin_internal();
                state.on_bus(signal);
            }
            OptionCacheMsg::CheckVersion => {
                let _h = state.deps.mailbox.begin_internal();
                state.start_version_check(&myself);
            }
            OptionCacheMsg::VersionRead(version) => {
                let _h = state.deps.mailbox.begin_internal();
                if let Err(e) = state.check_version(version) {
                    tracing::warn!(error = %e, "catalog version check failed; retrying at the next tick");
                }
            }
            #[cfg(any(test, feature = "chaos"))]
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
    /// Option creates per user (per hour).
    creates: Arc<FailureLimiter>,
}

impl std::fmt::Debug for OptionCacheHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OptionCacheHandle").field("slot", &self.slot).finish_non_exhaustive()
    }
}

impl OptionCacheHandle {
    /// A handle with an empty cache, allowing each user `creates_per_hour` option creates per hour;
    /// `deps.mailbox` is replaced by the slot's.
    ///
    /// # Panics
    /// If `creates_per_hour` is zero (settings validation refuses that at start-up).
    #[must_use]
    pub fn new(mut deps: CacheDeps, creates_per_hour: u32, mailbox_capacity: usize, call_timeout: Duration) -> Self {
        let slot = ActorSlot::new(NAME, mailbox_capacity, call_timeout);
        deps.mailbox = slot.mailbox();
        deps.io_timeout = call_timeout.mul_f64(0.75);
        let counters = Arc::new(OptionKind::ALL.map(|kind| {
            (
                metrics::counter!("gantry_option_cache_hits_total", "kind" => kind.as_str()),
                metrics::counter!("gantry_option_cache_misses_total", "kind" => kind.as_str()),
            )
        }));
        let creates = Arc::new(FailureLimiter::new(creates_per_hour, Duration::from_secs(3600), 100_000));
        Self { slot, deps, counters, creates }
    }

    /// Whether `user` may create another option now.
    ///
    /// # Errors
    /// [`CacheError::TooManyCreates`].
    pub fn check_create(&self, user: &str) -> Result<(), CacheError> {
        self.creates
            .check(user, std::time::Instant::now())
            .map_err(|retry_after| CacheError::TooManyCreates { retry_after })
    }

    /// Counts a create by `user` against the hourly limit (once the option passed its checks).
    pub fn count_create(&self, user: &str) {
        self.creates.record_failure(user, std::time::Instant::now());
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

    /// The option `id` stands for now (itself, or the option it was merged into), hidden ones included.
    ///
    /// # Errors
    /// The store is unavailable.
    pub async fn resolve(&self, id: Uuid) -> Result<Option<Resolved>, CacheError> {
        Ok(self.deps.store.resolve_option(id).await?)
    }

    /// Applies a moderation change on every instance (see [`Moderation`]).
    ///
    /// # Errors
    /// [`ModerationError`]: no such option, a conflict, forms it would break (without `force`), or the store
    /// or the actor is unavailable.
    pub async fn moderate(
        &self,
        change: Moderation,
        actor: String,
        force: bool,
    ) -> Result<ModerationOutcome, ModerationError> {
        self.slot
            .call(|reply| OptionCacheMsg::Moderate { change, actor, force, reply })
            .await
            .map_err(|e| ModerationError::Unavailable(e.to_string()))?
    }

    /// The most recently created options, newest first (review; an operator view, not the hot path).
    ///
    /// # Errors
    /// The store is unavailable.
    pub async fn recent(
        &self,
        created_by: Option<Uuid>,
        since: Option<OffsetDateTime>,
        limit: u32,
    ) -> Result<Vec<CatalogOption>, CacheError> {
        Ok(self.deps.store.recent_options(created_by, since, limit).await?)
    }

    /// The newest moderation records first.
    ///
    /// # Errors
    /// The store is unavailable.
    pub async fn audit(&self, limit: u32) -> Result<Vec<AuditEntry>, CacheError> {
        Ok(self.deps.store.audit_log(limit).await?)
    }

    /// One option, from the store (parent checks).
    ///
    /// # Errors
    /// The store is unavailable.
    pub async fn get(&self, id: Uuid) -> Result<Option<CatalogOption>, CacheError> {
        Ok(self.deps.store.get_option(id).await?)
    }

    /// The form for `category_id` (and `subcategory_id`): from the cache, or resolved by the actor on a miss.
    ///
    /// # Errors
    /// Unknown category or subcategory, no template, or the store or the actor is unavailable.
    pub async fn form(&self, category_id: Uuid, subcategory_id: Option<Uuid>) -> Result<Form, CacheError> {
        let key = (category_id, subcategory_id);
        if let Some(form) =
            self.deps.templates.read().unwrap_or_else(std::sync::PoisonError::into_inner).forms.get(&key)
        {
            return Ok(form.clone());
        }
        let categories = self.list((OptionKind::Category, None)).await?;
        let category = categories.items.iter().find(|c| c.id == category_id).ok_or(CacheError::UnknownCategory)?;
        let subcategory = match subcategory_id {
            None => None,
            Some(id) => {
                let subs = self.list((OptionKind::Subcategory, Some(category_id))).await?;
                Some(subs.items.iter().find(|s| s.id == id).ok_or(CacheError::UnknownSubcategory)?.name.clone())
            }
        };
        let target = FormTarget { key, category: category.name.clone(), has_engine: category.has_engine, subcategory };
        self.slot.call(|reply| OptionCacheMsg::LoadForm(target, reply)).await?
    }

    /// Evaluates `form` for `values` after `changed` changed, including the catalog look-ups: an option id
    /// that is not under the right parent is an `unknown_option` error, and a dependent list is named only
    /// when its parent field holds a valid option of the parent's kind.
    ///
    /// # Errors
    /// The store or the actor is unavailable.
    pub async fn evaluate(
        &self,
        form: &Form,
        values: &serde_json::Map<String, serde_json::Value>,
        changed: &[String],
        viewer: Option<Uuid>,
    ) -> Result<Evaluation, CacheError> {
        let this_year = OffsetDateTime::now_utc().year();
        let (mut evaluation, checks) = form.template.evaluate(values, changed, this_year);
        self.look_up(form, checks, &mut evaluation, viewer).await?;
        Ok(evaluation)
    }

    /// The final check of a complete form (`POST …/submit`): the clean values — hidden fields dropped, numbers
    /// and booleans typed, option ids checked against their parents and resolved to `{id, name}`.
    ///
    /// # Errors
    /// [`CacheError::InvalidValues`] with every problem, per field; the store or the actor is unavailable.
    pub async fn submit(
        &self,
        form: &Form,
        values: &serde_json::Map<String, serde_json::Value>,
        viewer: Option<Uuid>,
    ) -> Result<serde_json::Map<String, serde_json::Value>, CacheError> {
        let this_year = OffsetDateTime::now_utc().year();
        let checked = form.template.check_values(values, &[], this_year);
        let mut evaluation = checked.evaluation;
        let names = self.look_up(form, checked.checks, &mut evaluation, viewer).await?;
        if !evaluation.errors.is_empty() {
            return Err(CacheError::InvalidValues(evaluation.errors));
        }
        let resolve = |value: &serde_json::Value| {
            let id = value.as_str().and_then(|s| Uuid::parse_str(s).ok());
            match id.and_then(|id| names.get(&id)) {
                Some((id, name)) => serde_json::json!({"id": id, "name": name}),
                None => value.clone(),
            }
        };
        let mut clean = checked.values;
        for (name, value) in &mut clean {
            if form.template.field(name).is_some_and(|f| f.data_source.is_some()) {
                let resolved = match &*value {
                    serde_json::Value::Array(items) => items.iter().map(resolve).collect(),
                    single => resolve(single),
                };
                *value = resolved;
            }
        }
        Ok(clean)
    }

    /// Looks up `checks` in the cached lists: a miss is an `unknown_option` error in `evaluation`; a list whose
    /// parent field failed its look-up is not named. A pending option counts only for its creator (`viewer`);
    /// a merged id counts as the option it was merged into when that one is in the list. Returns, per id
    /// asked, the option found (id and name).
    async fn look_up(
        &self,
        form: &Form,
        checks: Vec<templates::OptionCheck>,
        evaluation: &mut Evaluation,
        viewer: Option<Uuid>,
    ) -> Result<HashMap<Uuid, (Uuid, String)>, CacheError> {
        let mut names = HashMap::new();
        let visible = |o: &CatalogOption| !o.pending || (viewer.is_some() && o.created_by == viewer);
        for check in checks {
            let list = match self.list((check.list.kind, check.list.parent_id)).await {
                Ok(list) => Some(list),
                // A parent merged away: its children are under the option it was merged into.
                Err(CacheError::UnknownParent) => match check.list.parent_id {
                    Some(parent) => match self.merged_into(parent).await? {
                        Some(survivor) => self.list((check.list.kind, Some(survivor))).await.ok(),
                        None => None,
                    },
                    None => None,
                },
                Err(e) => return Err(e),
            };
            let found = match list {
                Some(list) => match list.items.iter().find(|o| o.id == check.id && visible(o)) {
                    Some(o) => Some((o.id, o.name.clone())),
                    None => self
                        .merged_into(check.id)
                        .await?
                        .and_then(|target| list.items.iter().find(|o| o.id == target && visible(o)))
                        .map(|o| (o.id, o.name.clone())),
                },
                None => None,
            };
            if let Some(found) = found {
                names.insert(check.id, found);
                continue;
            }
            let label = form.template.field(&check.field).map_or(check.field.as_str(), |f| f.label.as_str());
            let message = match check.list.parent_id {
                Some(_) => format!("{label}: no such option under the chosen parent"),
                None => format!("{label}: no such option"),
            };
            if !evaluation.errors.iter().any(|e| e.field == check.field) {
                evaluation.errors.push(ValueIssue { field: check.field, code: "unknown_option", message });
            }
        }
        // A dependent list whose parent field holds a merged id is the survivor's list.
        for list in evaluation.options.values_mut() {
            if let Some((survivor, _)) = list.parent_id.and_then(|parent| names.get(&parent)) {
                list.parent_id = Some(*survivor);
            }
        }
        // A brand field holding a country's id must not point the model list at that country.
        let failed: Vec<String> = evaluation.errors.iter().map(|e| e.field.clone()).collect();
        evaluation.options.retain(|name, list| {
            list.parent_id.is_none()
                || form
                    .template
                    .field(name)
                    .and_then(|f| f.data_source.as_ref()?.parent_field.as_ref())
                    .is_none_or(|parent| !failed.contains(parent))
        });
        Ok(names)
    }

    /// The option a merged id now stands for (`None`: not a merged id), read from the store within the I/O
    /// timeout — only ids missing from their list get here.
    async fn merged_into(&self, id: Uuid) -> Result<Option<Uuid>, CacheError> {
        let resolved = tokio::time::timeout(self.deps.io_timeout, self.deps.store.resolve_option(id))
            .await
            .unwrap_or_else(|_| Err(Unavailable::new("the catalog did not answer in time")))?;
        Ok(resolved.filter(|r| r.merged_from.is_some()).map(|r| r.option.id))
    }

    /// The template set in use, loaded if needed.
    ///
    /// # Errors
    /// The store or the actor is unavailable.
    pub async fn template_set(&self) -> Result<LoadedSet, CacheError> {
        self.slot.call(OptionCacheMsg::TemplateSet).await?
    }

    /// Checks `set` (merged over the stored one, or replacing it) and stores it; every instance drops its
    /// templates.
    ///
    /// # Errors
    /// [`CacheError::InvalidTemplates`] with every problem, or the store or the actor is unavailable.
    pub async fn import_templates(&self, set: TemplateSet, replace: bool) -> Result<Imported, CacheError> {
        self.slot.call(|reply| OptionCacheMsg::ImportTemplates { set, replace, reply }).await?
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
    #[cfg(any(test, feature = "chaos"))]
    pub fn inject_panic(&self) -> Result<(), CallError> {
        self.slot.cast(OptionCacheMsg::InjectPanic)
    }

    /// How the supervisor starts (and restarts) the actor.
    #[must_use]
    pub fn child_spec(&self) -> ChildSpec {
        self.slot.child_spec::<OptionCache>(self.deps.clone())
    }
}

/// A fresh, empty template cache for [`CacheDeps::templates`].
#[must_use]
pub fn empty_templates() -> Arc<RwLock<TemplateCache>> {
    Arc::new(RwLock::new(TemplateCache::default()))
}

/// The bundled template set (checked by the crate's tests).
fn bundled() -> TemplateSet {
    TemplateSet::from_json(templates::document::BUNDLED).unwrap_or_default()
}

/// A fresh, empty cache map for [`CacheDeps::entries`].
#[must_use]
pub fn empty_entries() -> Arc<RwLock<HashMap<CacheKey, CachedList>>> {
    Arc::new(RwLock::new(HashMap::new()))
}
