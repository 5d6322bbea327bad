//! In-process adapters for the local profile: the bus (and the cache).

// ---- MemoryBus ----
//
// The bus of a single instance: a Tokio broadcast channel. Every subscriber sees every event published after it
// subscribed. `broadcast` drops the oldest messages for a subscriber that falls more than `capacity` behind and
// reports it as `RecvError::Lagged`; read with [`next_signal`], which turns that into `BusSignal::Resync`.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::bus::{Bus, BusError, BusSignal, Envelope, Event};
use tokio::sync::broadcast::{self, error::RecvError};
use uuid::Uuid;

/// The next signal of a bus subscription, with lag mapped to a resync.
///
/// Bus receivers are plain `broadcast::Receiver`s; a receiver that fell behind gets `RecvError::Lagged`, which
/// means messages were lost. Read subscriptions through this function (or treat `Lagged` the same way) so lost
/// messages always become [`BusSignal::Resync`] with reason `lagged`. Returns `None` once the bus is gone.
pub async fn next_signal(rx: &mut broadcast::Receiver<BusSignal>) -> Option<BusSignal> {
    match rx.recv().await {
        Ok(signal) => Some(signal),
        Err(RecvError::Lagged(_)) => Some(BusSignal::Resync { reason: "lagged" }),
        Err(RecvError::Closed) => None,
    }
}

/// Wraps `event` for the wire: a fresh time-ordered id, the publishing instance and the current time. Shared by
/// every bus adapter so envelopes look the same whatever the backend.
pub(crate) fn seal(origin: Uuid, event: Event) -> Envelope {
    // A clock before 1970 or past the year 292 million is not worth an error: it only shows up in logs.
    let sent_at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX));
    Envelope { id: Uuid::now_v7(), origin, sent_at_ms, event }
}

/// The in-process [`Bus`]: events reach the subscribers of this instance only.
#[derive(Debug, Clone)]
pub struct MemoryBus {
    /// This instance's id, the `origin` of everything it publishes.
    instance_id: Uuid,
    /// The channel every subscription is cut from.
    tx: broadcast::Sender<BusSignal>,
}

impl MemoryBus {
    /// A bus whose subscribers may fall up to `capacity` messages behind before they get a resync
    /// (a `capacity` of 0 is taken as 1, which `broadcast` requires).
    #[must_use]
    pub fn new(instance_id: Uuid, capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Self { instance_id, tx }
    }
}

#[async_trait]
impl Bus for MemoryBus {
    async fn publish(&self, event: Event) -> Result<(), BusError> {
        // With nobody subscribed the event goes nowhere, like a fanout exchange without queues: not an error.
        let _ = self.tx.send(BusSignal::Message(seal(self.instance_id, event)));
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<BusSignal> {
        self.tx.subscribe()
    }

    fn instance_id(&self) -> Uuid {
        self.instance_id
    }

    async fn health(&self) -> Result<(), Unavailable> {
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn close(&self) {
        // Nothing runs in the background; receivers end when the last `MemoryBus` clone is dropped.
    }
}

// ---- end MemoryBus ----

#[cfg(test)]
mod tests {
    use super::*;

    fn started(version: &str) -> Event {
        Event::InstanceStarted { version: version.to_owned() }
    }

    /// A published event reaches every subscriber, stamped with the publisher's instance id.
    #[tokio::test]
    async fn published_event_reaches_two_subscribers_with_origin() {
        let instance = Uuid::now_v7();
        let bus = MemoryBus::new(instance, 16);
        let mut first = bus.subscribe();
        let mut second = bus.subscribe();

        bus.publish(started("1.2.3")).await.expect("memory publish cannot fail");

        for rx in [&mut first, &mut second] {
            match next_signal(rx).await {
                Some(BusSignal::Message(envelope)) => {
                    assert_eq!(envelope.origin, instance);
                    assert_eq!(envelope.event, started("1.2.3"));
                }
                other => panic!("expected a message, got {other:?}"),
            }
        }
        assert_eq!(bus.backend(), "memory");
        assert!(bus.health().await.is_ok());
    }

    /// A subscriber that falls more than `capacity` behind gets a `lagged` resync, then the newest messages.
    #[tokio::test]
    async fn lagging_subscriber_gets_resync() {
        let bus = MemoryBus::new(Uuid::now_v7(), 2);
        let mut slow = bus.subscribe();

        for i in 0..5 {
            bus.publish(started(&i.to_string())).await.expect("memory publish cannot fail");
        }

        assert_eq!(next_signal(&mut slow).await, Some(BusSignal::Resync { reason: "lagged" }));
        match next_signal(&mut slow).await {
            Some(BusSignal::Message(envelope)) => assert_eq!(envelope.event, started("3")),
            other => panic!("expected the oldest retained message, got {other:?}"),
        }
    }

    /// Once every handle to the bus is gone, a subscription ends instead of waiting forever.
    #[tokio::test]
    async fn subscription_ends_when_bus_is_dropped() {
        let bus = MemoryBus::new(Uuid::now_v7(), 4);
        let mut rx = bus.subscribe();
        drop(bus);
        assert_eq!(next_signal(&mut rx).await, None);
    }
}

// ---- MemoryCache ----
//
// The cache of a single instance: a bounded map with per-entry expiry. Expired entries count as absent and are
// removed when next touched (or when room is needed), so nothing runs in the background. Expiry uses
// `tokio::time::Instant` so tests can move time with `tokio::time::advance` instead of sleeping.
// The implementation sits in its own module so its imports cannot collide with the bus section above.

pub use memory_cache::MemoryCache;

mod memory_cache {
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
        pub(super) fn stored_len(&self) -> usize {
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
}

#[cfg(test)]
mod cache_tests {
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
