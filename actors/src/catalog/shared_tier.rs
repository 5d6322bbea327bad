//! The shared tier of the option cache: option lists every instance reads from and writes to (Redis in
//! production), keyed by catalog identity, version, kind and parent. Keyed by version, an entry is never
//! older than the version the reader asked for, so the tier needs no invalidation of its own; old versions
//! expire. An unreachable or slow tier is a fallback to the database, logged and counted, never a failure.

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::ports::Unavailable;
use crate::ports::cache::Cache;
use crate::ports::catalog::{CatalogOption, CatalogStore, OptionKind};

/// How long the shared cache may take before the actor reads the database instead (well inside the call
/// timeout, so a hanging Redis costs a miss a quarter second, never a 503).
const SHARED_TIMEOUT: Duration = Duration::from_millis(250);

/// How long a list stays in the shared cache (entries of old versions simply expire).
const SHARED_TTL: Duration = Duration::from_secs(3600);

/// The shared-cache key of a list: `options:{catalog_id}:v{version}:{kind}:{parent or -}`.
fn shared_key(catalog: &str, version: u64, (kind, parent): (OptionKind, Option<Uuid>)) -> String {
    match parent {
        Some(parent) => format!("options:{catalog}:v{version}:{}:{parent}", kind.as_str()),
        None => format!("options:{catalog}:v{version}:{}:-", kind.as_str()),
    }
}

/// The shared tier as one list load sees it: the cache, and the catalog's identity that namespaces it (read
/// from the store on first use, at most once per load; the actor keeps it for the next loads).
pub(super) struct SharedTier {
    cache: Arc<dyn Cache>,
    store: Arc<dyn CatalogStore>,
    catalog_id: Option<String>,
}

impl SharedTier {
    /// The tier over `cache`, with the catalog's identity if the actor already knows it.
    pub(super) fn new(cache: Arc<dyn Cache>, store: Arc<dyn CatalogStore>, catalog_id: Option<String>) -> Self {
        Self { cache, store, catalog_id }
    }

    /// The catalog's identity, if it was known or read.
    pub(super) fn into_catalog_id(self) -> Option<String> {
        self.catalog_id
    }

    /// The catalog's identity, read once (kept from the first read that succeeded).
    async fn catalog_id(&mut self) -> Option<String> {
        if self.catalog_id.is_none() {
            self.catalog_id = self.store.catalog_id().await.ok();
        }
        self.catalog_id.clone()
    }

    /// The list of `key` at `version` (only lists of real parents are ever put there). An unreachable shared
    /// cache is a fallback to the database, logged and counted.
    pub(super) async fn get(&mut self, version: u64, key: (OptionKind, Option<Uuid>)) -> Option<Vec<CatalogOption>> {
        let catalog = self.catalog_id().await?;
        let entry = shared_key(&catalog, version, key);
        let lookup = tokio::time::timeout(SHARED_TIMEOUT, self.cache.get(&entry));
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

    /// Puts the list of `key` at `version` for the next cold instance; a failure only costs that instance a
    /// database read.
    pub(super) async fn put(&mut self, version: u64, key: (OptionKind, Option<Uuid>), items: &[CatalogOption]) {
        let Some(catalog) = self.catalog_id().await else { return };
        let Ok(bytes) = serde_json::to_vec(items) else { return };
        let entry = shared_key(&catalog, version, key);
        let store = tokio::time::timeout(SHARED_TIMEOUT, self.cache.set(&entry, bytes.into(), SHARED_TTL));
        if let Err(e) = store.await.unwrap_or_else(|_| Err(Unavailable::new("shared cache timed out"))) {
            metrics::counter!("gantry_option_cache_shared_total", "result" => "error").increment(1);
            tracing::warn!(event = "option_cache_shared_write_failed", error = %e, "the next cold instance reads the database");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A list's key names the catalog, the version, the kind and the parent (`-` without one), so two
    /// catalogs sharing one Redis, or two versions of one list, never read each other's entries.
    #[test]
    fn keys_are_namespaced_by_catalog_version_kind_and_parent() {
        let parent = Uuid::nil();
        assert_eq!(shared_key("c1", 7, (OptionKind::Brand, None)), "options:c1:v7:brand:-");
        assert_eq!(shared_key("c1", 7, (OptionKind::Model, Some(parent))), format!("options:c1:v7:model:{parent}"));
        assert_ne!(shared_key("c1", 7, (OptionKind::Brand, None)), shared_key("c2", 7, (OptionKind::Brand, None)));
        assert_ne!(shared_key("c1", 7, (OptionKind::Brand, None)), shared_key("c1", 8, (OptionKind::Brand, None)));
    }
}
