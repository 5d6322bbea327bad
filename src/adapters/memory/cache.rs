//! The in-process `Cache` of the local profile.
//!
//! The cache of a single instance: a bounded map with per-entry expiry. Expired entries count as absent and are
//! removed when next touched (or when room is needed), so nothing runs in the background. Expiry uses
//! `tokio::time::Instant` so tests can move time with `tokio::time::advance` instead of sleeping.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::cache::Cache;
use tokio::time::Instant;

/// Stand-in expiry for a TTL too large to add to `now` (about thirty years away).
const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);

/// The in-process [`Cache`]: values live in this process only, at most `max_entries` of them.
#[derive(Debug)]
pub struct MemoryCache {
    /// Key → (value, expiry). A std `Mutex` rather than Tokio's: it is never held across an `.await`
    /// (every critical section is a few map operations), so the cheaper blocking lock cannot stall the
    /// runtime, and a sync lock makes holding it across an `.await` a compile error in `Send` futures.
    entries: Mutex<HashMap<String, (Bytes, Instant)>>,
    /// The most entries kept at once (at least 1).
    max_entries: usize,
}

impl MemoryCache {
    /// An empty cache holding at most `max_entries` entries (0 is taken as 1). When full, a new key
    /// first evicts every expired entry and, if none had expired, the entry that would expire soonest.
    #[must_use]
    pub fn new(max_entries: usize) -> Self {
        Self { entries: Mutex::new(HashMap::new()), max_entries: max_entries.max(1) }
    }

    /// The map, even after a panic elsewhere poisoned the lock: each critical section leaves the map
    /// valid (at worst one entry short), which a cache can live with.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, (Bytes, Instant)>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many entries are stored, expired or not (tests check the bound and lazy eviction).
    #[cfg(test)]
    fn stored_len(&self) -> usize {
        self.lock().len()
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, Unavailable> {
        let now = Instant::now();
        let mut entries = self.lock();
        match entries.get(key) {
            Some((value, expires_at)) if *expires_at > now => Ok(Some(value.clone())),
            Some(_) => {
                entries.remove(key);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), Unavailable> {
        let now = Instant::now();
        let mut entries = self.lock();
        if ttl.is_zero() {
            // Same as Redis adapter: a value that expires at once is no value (and replaces the old one).
            entries.remove(key);
            return Ok(());
        }
        let expires_at = now.checked_add(ttl).unwrap_or_else(|| now + FAR_FUTURE);
        if !entries.contains_key(key) && entries.len() >= self.max_entries {
            // O(n) scans, but only when full; the local profile's cache is small.
            entries.retain(|_, (_, at)| *at > now);
            if entries.len() >= self.max_entries {
                let soonest = entries.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| k.clone());
                if let Some(soonest) = soonest {
                    entries.remove(&soonest);
                }
            }
        }
        entries.insert(key.to_owned(), (value, expires_at));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), Unavailable> {
        self.lock().remove(key);
        Ok(())
    }

    async fn health(&self) -> Result<(), Unavailable> {
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use gantry_actors::ports::cache::Cache;

    use super::MemoryCache;

    async fn value(cache: &MemoryCache, key: &str) -> Option<Bytes> {
        cache.get(key).await.expect("the memory cache cannot fail")
    }

    async fn put(cache: &MemoryCache, key: &str, value: &'static str, ttl_secs: u64) {
        cache
            .set(key, Bytes::from_static(value.as_bytes()), Duration::from_secs(ttl_secs))
            .await
            .expect("the memory cache cannot fail");
    }

    /// An entry is served until its TTL has passed, then reads as absent and is evicted on that read.
    #[tokio::test(start_paused = true)]
    async fn entry_is_absent_and_evicted_once_its_ttl_passes() {
        let cache = MemoryCache::new(8);
        put(&cache, "options:a", "v1", 10).await;

        tokio::time::advance(Duration::from_millis(9_999)).await;
        assert_eq!(value(&cache, "options:a").await, Some(Bytes::from_static(b"v1")));

        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(cache.stored_len(), 1, "expired entries stay until touched");
        assert_eq!(value(&cache, "options:a").await, None);
        assert_eq!(cache.stored_len(), 0, "the read evicted the expired entry");
        assert_eq!(cache.backend(), "memory");
        assert!(cache.health().await.is_ok());
    }

    /// Setting an existing key replaces both its value and its TTL; a zero TTL or a delete removes it.
    #[tokio::test(start_paused = true)]
    async fn set_overwrites_value_and_ttl_and_delete_removes() {
        let cache = MemoryCache::new(8);
        put(&cache, "k", "old", 10).await;
        put(&cache, "k", "new", 60).await;

        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(value(&cache, "k").await, Some(Bytes::from_static(b"new")));

        put(&cache, "k", "gone", 0).await;
        assert_eq!(value(&cache, "k").await, None);

        put(&cache, "k", "again", 60).await;
        cache.delete("k").await.expect("delete");
        cache.delete("never-set").await.expect("deleting an absent key is fine");
        assert_eq!(value(&cache, "k").await, None);
    }

    /// A full cache never exceeds its bound: a new key evicts expired entries first, and otherwise the entry
    /// with the nearest expiry; overwriting a key that is already stored evicts nothing.
    #[tokio::test(start_paused = true)]
    async fn full_cache_evicts_expired_then_nearest_expiry() {
        let cache = MemoryCache::new(3);
        put(&cache, "short", "1", 5).await;
        put(&cache, "long", "2", 100).await;
        put(&cache, "mid", "3", 50).await;
        tokio::time::advance(Duration::from_secs(10)).await;

        put(&cache, "soon", "4", 20).await; // "short" has expired: it makes the room.
        assert_eq!(cache.stored_len(), 3);
        assert_eq!(value(&cache, "long").await, Some(Bytes::from_static(b"2")));
        assert_eq!(value(&cache, "mid").await, Some(Bytes::from_static(b"3")));
        assert_eq!(value(&cache, "soon").await, Some(Bytes::from_static(b"4")));

        put(&cache, "later", "5", 200).await; // nothing expired: "soon" (t=30 s) expires first.
        assert_eq!(cache.stored_len(), 3);
        assert_eq!(value(&cache, "soon").await, None);
        assert_eq!(value(&cache, "mid").await, Some(Bytes::from_static(b"3")));

        put(&cache, "mid", "3b", 1).await; // an overwrite needs no room.
        assert_eq!(cache.stored_len(), 3);
        assert_eq!(value(&cache, "long").await, Some(Bytes::from_static(b"2")));
        assert_eq!(value(&cache, "later").await, Some(Bytes::from_static(b"5")));
    }
}
