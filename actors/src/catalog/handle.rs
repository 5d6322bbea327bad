//! The typed handle of the catalog service, the one thing the gateway holds of it: option lists (from the
//! cache, the actor on a miss), creates with the per-user hourly limit (checked before the request body is
//! read, counted once the option passed its checks), look-ups, moderation, review and audit, forms and
//! template imports. Checking a form's values against the catalog is in [`form_values`].

mod form_values;

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use uuid::Uuid;

use super::actor::{Catalog, CatalogDeps, CatalogMsg, NAME};
use super::error::CacheError;
use super::forms::{Form, FormTarget, Imported, LoadedSet};
use super::lists::{CacheKey, CachedList, visible_to};
use super::moderation::ModerationOutcome;
use super::templates::TemplateSet;
use crate::accounts::limiter::FailureLimiter;
use crate::handle::ActorSlot;
use crate::ports::catalog::{AuditEntry, CatalogOption, Created, Moderation, ModerationError, OptionKind, Resolved};
use crate::supervisor::ChildSpec;

/// The typed handle the gateway holds.
#[derive(Clone)]
pub struct CatalogHandle {
    /// The actor's slot (mailbox, restarts, call timeout).
    slot: Arc<ActorSlot<CatalogMsg>>,
    /// What the actor runs with; the handle reads the caches and the store through it.
    deps: CatalogDeps,
    /// Hit and miss counters per kind, registered once (a label set per request costs more than the hit).
    counters: Arc<[(metrics::Counter, metrics::Counter); 6]>,
    /// Option creates per user (per hour).
    creates: Arc<FailureLimiter>,
}

impl std::fmt::Debug for CatalogHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogHandle").field("slot", &self.slot).finish_non_exhaustive()
    }
}

impl CatalogHandle {
    /// A handle with an empty cache, allowing each user `creates_per_hour` option creates per hour;
    /// `deps.mailbox` is replaced by the slot's.
    ///
    /// # Panics
    /// If `creates_per_hour` is zero (settings validation refuses that at start-up).
    #[must_use]
    pub fn new(mut deps: CatalogDeps, creates_per_hour: u32, mailbox_capacity: usize, call_timeout: Duration) -> Self {
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
        if let Some(hit) = self.cached(key) {
            return Ok(hit);
        }
        self.counters_of(key.0).1.increment(1);
        self.slot.call(|reply| CatalogMsg::Load(key, reply)).await?
    }

    /// The list for `key` when this instance has it cached (counted as a hit): no actor, nothing awaited.
    fn cached(&self, key: CacheKey) -> Option<CachedList> {
        let hit = self.deps.entries.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key).cloned();
        hit.inspect(|_| self.counters_of(key.0).0.increment(1))
    }

    /// The list for `key` and whether its parent is a pending option (hidden from an anonymous caller; its
    /// creator may still see it: [`Self::hides`] says), when both lists are cached: one read of the cache, no
    /// actor. `None` when either is not cached ([`Self::list`] and [`Self::hides`] load them). The list counts
    /// as a hit; the parent's look-up is not a list request.
    #[must_use]
    pub fn cached_with_parent(&self, key: CacheKey) -> Option<(CachedList, bool)> {
        let entries = self.deps.entries.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let list = entries.get(&key)?;
        let parent_pending = match (key.0.parent_kind(), key.1) {
            (Some(parent_kind), Some(parent)) => entries.get(&(parent_kind, None))?.hides(parent, None),
            _ => false,
        };
        let hit = (list.clone(), parent_pending);
        drop(entries);
        self.counters_of(key.0).0.increment(1);
        Some(hit)
    }

    /// The hit and miss counters of `kind`'s lists.
    fn counters_of(&self, kind: OptionKind) -> &(metrics::Counter, metrics::Counter) {
        &self.counters[OptionKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)]
    }

    /// Whether `id`, an option of the top-level `kind`, is another account's pending option for `viewer`: a
    /// look-up in the cached list (loaded on a miss), not counted as a list request.
    ///
    /// # Errors
    /// The store or the actor is unavailable.
    pub async fn hides(&self, kind: OptionKind, id: Uuid, viewer: Option<Uuid>) -> Result<bool, CacheError> {
        let key = (kind, None);
        let cached = self
            .deps
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .map(|l| l.hides(id, viewer));
        match cached {
            Some(hides) => Ok(hides),
            None => Ok(self.slot.call(|reply| CatalogMsg::Load(key, reply)).await??.hides(id, viewer)),
        }
    }

    /// Creates `option` or returns the existing one with the same name under the same parent.
    ///
    /// # Errors
    /// The store or the actor is unavailable.
    pub async fn create(&self, option: CatalogOption) -> Result<Created, CacheError> {
        self.slot.call(|reply| CatalogMsg::Create(option, reply)).await?
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
            .call(|reply| CatalogMsg::Moderate { change, actor, force, reply })
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

    /// The form for `category_id` (and `subcategory_id`) as `viewer` (`None`: an anonymous caller) may ask for
    /// it: from the cache, or resolved by the actor on a miss. A pending category or subcategory is its
    /// creator's alone: for anyone else it does not exist.
    ///
    /// # Errors
    /// Unknown category or subcategory, no template, or the store or the actor is unavailable.
    pub async fn form(
        &self,
        category_id: Uuid,
        subcategory_id: Option<Uuid>,
        viewer: Option<Uuid>,
    ) -> Result<Form, CacheError> {
        let key = (category_id, subcategory_id);
        // Checked before the cache: a form resolved for its creator must not reach anyone else.
        let categories = self.list((OptionKind::Category, None)).await?;
        let category = categories
            .items
            .iter()
            .find(|c| c.id == category_id && visible_to(c, viewer))
            .ok_or(CacheError::UnknownCategory)?;
        let subcategory = match subcategory_id {
            None => None,
            Some(id) => {
                let subs = self.list((OptionKind::Subcategory, Some(category_id))).await?;
                let sub = subs.items.iter().find(|s| s.id == id && visible_to(s, viewer));
                Some(sub.ok_or(CacheError::UnknownSubcategory)?.name.clone())
            }
        };
        if let Some(form) =
            self.deps.templates.read().unwrap_or_else(std::sync::PoisonError::into_inner).forms.get(&key)
        {
            return Ok(form.clone());
        }
        let target = FormTarget { key, category: category.name.clone(), has_engine: category.has_engine, subcategory };
        self.slot.call(|reply| CatalogMsg::LoadForm(target, reply)).await?
    }

    /// The template set in use, loaded if needed.
    ///
    /// # Errors
    /// The store or the actor is unavailable.
    pub async fn template_set(&self) -> Result<LoadedSet, CacheError> {
        self.slot.call(CatalogMsg::TemplateSet).await?
    }

    /// Checks `set` (merged over the stored one, or replacing it) and stores it; every instance drops its
    /// templates.
    ///
    /// # Errors
    /// [`CacheError::InvalidTemplates`] with every problem, or the store or the actor is unavailable.
    pub async fn import_templates(&self, set: TemplateSet, replace: bool) -> Result<Imported, CacheError> {
        self.slot.call(|reply| CatalogMsg::ImportTemplates { set, replace, reply }).await?
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
    pub fn inject_panic(&self) -> Result<(), crate::handle::CallError> {
        self.slot.cast(CatalogMsg::InjectPanic)
    }

    /// How the supervisor starts (and restarts) the actor.
    #[must_use]
    pub fn child_spec(&self) -> ChildSpec {
        self.slot.child_spec::<Catalog>(self.deps.clone())
    }
}
