//! The option lists of this instance: the cache map request tasks read without the actor (keyed by kind and
//! parent), what one cached list holds, who may see a pending option, and the load of one list (the shared
//! tier first, then the store) that the actor runs off its own path.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use uuid::Uuid;

use super::error::CacheError;
use super::shared_tier::SharedTier;
use crate::ports::catalog::{CatalogOption, CatalogStore, OptionKind};

/// Most cached lists (and resolved forms) per instance; beyond it the cache starts over (a bound, not an
/// eviction policy).
pub(super) const MAX_ENTRIES: usize = 50_000;

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
    /// once per cached list and locale: what form UIs ask for almost always.
    pub first_page: Arc<Rendered>,
    /// The list's pending options and their creators (usually none), so that whether a parent is hidden from a
    /// caller is a look-up, not a scan of the parents' list.
    pub pending: Arc<HashMap<Uuid, Option<Uuid>>>,
}

impl CachedList {
    /// A list as loaded at `version`.
    #[must_use]
    pub fn new(version: u64, items: Vec<CatalogOption>) -> Self {
        let pending = items.iter().filter(|o| o.pending).map(|o| (o.id, o.created_by)).collect();
        Self { version, items: Arc::new(items), first_page: Arc::default(), pending: Arc::new(pending) }
    }

    /// Whether `id` is an option of this list that `viewer` may not see (another account's pending option).
    #[must_use]
    pub fn hides(&self, id: Uuid, viewer: Option<Uuid>) -> bool {
        self.pending.get(&id).is_some_and(|creator| viewer.is_none() || *creator != viewer)
    }
}

/// What the edge renders once per locale (a cached list's first page, a resolved form): at most one entry per
/// locale the deployment serves (`catalog.locales`), so its size is bounded by the settings, not by requests.
/// The rendering is the caller's type (the gateway keeps its whole response there, body and head), so this
/// crate stays free of HTTP; each cache has one caller, and one type.
#[derive(Default)]
pub struct Rendered(std::sync::Mutex<Vec<(String, Box<dyn std::any::Any + Send + Sync>)>>);

impl std::fmt::Debug for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entries = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f.debug_list().entries(entries.iter().map(|(tag, _)| tag)).finish()
    }
}

impl Rendered {
    /// The rendering for `locale`, made by `render` the first time. The lock is held only to look up and to
    /// insert, not while rendering (two first requests may both render; the first insert wins). A rendering
    /// of another type than `T` is not a hit.
    pub fn get_or_render<T: Clone + Send + Sync + 'static>(&self, locale: &str, render: impl FnOnce() -> T) -> T {
        let find = |entries: &Vec<(String, Box<dyn std::any::Any + Send + Sync>)>| {
            entries.iter().find(|(tag, _)| tag == locale).and_then(|(_, r)| r.downcast_ref::<T>()).cloned()
        };
        if let Some(hit) = find(&self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)) {
            return hit;
        }
        let rendered = render();
        let mut entries = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(hit) = find(&entries) {
            return hit;
        }
        entries.retain(|(tag, _)| tag != locale);
        entries.push((locale.to_owned(), Box::new(rendered.clone())));
        rendered
    }
}

/// The cache map, read by request tasks, written only by the actor.
pub(super) type Entries = Arc<RwLock<HashMap<CacheKey, CachedList>>>;

/// A fresh, empty cache map for [`super::actor::CatalogDeps::entries`].
#[must_use]
pub fn empty_entries() -> Arc<RwLock<HashMap<CacheKey, CachedList>>> {
    Arc::new(RwLock::new(HashMap::new()))
}

/// Whether `option` counts for `viewer` (`None`: an anonymous caller): a pending option (created by a new
/// account, not yet approved) counts only for the account that created it; every other option for everyone.
#[must_use]
pub fn visible_to(option: &CatalogOption, viewer: Option<Uuid>) -> bool {
    !option.pending || (viewer.is_some() && option.created_by == viewer)
}

/// One list load from the shared cache or the store, with no actor state: it runs in its own task.
pub(super) struct Loader {
    /// The catalog.
    pub(super) store: Arc<dyn CatalogStore>,
    /// The shared tier, when there is one.
    pub(super) shared: Option<SharedTier>,
    /// How long the whole load may take.
    pub(super) timeout: Duration,
}

impl Loader {
    /// The catalog version and the list of `key`, within `timeout` (past it: unavailable), and the
    /// catalog's identity if it was read.
    pub(super) async fn load(
        mut self,
        key: CacheKey,
    ) -> (Option<String>, Result<(u64, Vec<CatalogOption>), CacheError>) {
        let timeout = self.timeout;
        let result = tokio::time::timeout(timeout, self.read(key)).await.unwrap_or_else(|_| {
            Err(CacheError::Unavailable(format!("the catalog did not answer within {} ms", timeout.as_millis())))
        });
        (self.shared.and_then(SharedTier::into_catalog_id), result)
    }

    async fn read(&mut self, key: CacheKey) -> Result<(u64, Vec<CatalogOption>), CacheError> {
        let version = self.store.catalog_version().await?;
        if let Some(shared) = &mut self.shared
            && let Some(items) = shared.get(version, key).await
        {
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
        if let Some(shared) = &mut self.shared {
            shared.put(version, key, &items).await;
        }
        Ok((version, items))
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;

    fn option(pending: bool, created_by: Option<Uuid>) -> CatalogOption {
        CatalogOption {
            id: Uuid::now_v7(),
            kind: OptionKind::Brand,
            parent_id: None,
            name: "Scania".into(),
            name_key: "scania".into(),
            search_key: "scania".into(),
            has_engine: false,
            created_at: OffsetDateTime::UNIX_EPOCH,
            created_by,
            hidden: false,
            pending,
            translations: Default::default(),
        }
    }

    /// A pending option counts only for its creator; an approved one for everyone, anonymous callers too.
    #[test]
    fn pending_options_count_only_for_their_creator() {
        let creator = Uuid::now_v7();
        let pending = option(true, Some(creator));
        assert!(visible_to(&pending, Some(creator)));
        assert!(!visible_to(&pending, Some(Uuid::now_v7())), "another account does not see it");
        assert!(!visible_to(&pending, None), "an anonymous caller does not see it");
        let approved = option(false, Some(creator));
        assert!(visible_to(&approved, None) && visible_to(&approved, Some(Uuid::now_v7())));
    }

    /// A list hides its pending options from everyone but their creator, and nothing else.
    #[test]
    fn a_list_hides_only_others_pending_options() {
        let creator = Uuid::now_v7();
        let (pending, public) = (option(true, Some(creator)), option(false, None));
        let list = CachedList::new(1, vec![pending.clone(), public.clone()]);
        assert!(list.hides(pending.id, None) && list.hides(pending.id, Some(Uuid::now_v7())));
        assert!(!list.hides(pending.id, Some(creator)));
        assert!(!list.hides(public.id, None) && !list.hides(Uuid::now_v7(), None));
    }

    /// A pending option without a recorded creator counts for nobody (not for every anonymous caller).
    #[test]
    fn pending_without_creator_counts_for_nobody() {
        let orphan = option(true, None);
        assert!(!visible_to(&orphan, None));
        assert!(!visible_to(&orphan, Some(Uuid::now_v7())));
    }

    /// A rendering is made once per locale and then served as it is; each locale has its own; a rendering of
    /// another type is not taken for it (it is replaced).
    #[test]
    fn a_rendering_is_made_once_per_locale() {
        let rendered = Rendered::default();
        let mut renders = 0;
        let mut get = |locale: &str| {
            rendered.get_or_render(locale, || {
                renders += 1;
                format!("{locale} #{renders}")
            })
        };
        assert_eq!((get("de"), get("de"), get("en")), ("de #1".to_owned(), "de #1".to_owned(), "en #2".to_owned()));
        assert_eq!(rendered.get_or_render("de", || 7_u32), 7, "a String is not a u32");
        assert_eq!(rendered.get_or_render("de", || 8_u32), 7);
        assert_eq!(format!("{rendered:?}"), r#"["en", "de"]"#);
    }
}
