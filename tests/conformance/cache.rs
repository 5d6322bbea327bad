//! The `Cache` contract (memory and Redis). Keys carry a per-test prefix so runs can share one Redis.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::eventually::{Deadline, eventually};
use bytes::Bytes;
use gantry::adapters::memory::MemoryCache;
use gantry_actors::ports::cache::Cache;

/// Values (binary included) round-trip through set/get, a set overwrites, and a delete removes the key
/// (deleting an absent key is fine).
pub async fn set_get_delete_round_trip(cache: Arc<dyn Cache>, prefix: String) {
    let key = format!("{prefix}options");
    let binary = Bytes::from_static(&[0, 159, 146, 150, 255]);

    cache.set(&key, binary.clone(), Duration::from_secs(60)).await.expect("set");
    assert_eq!(cache.get(&key).await.expect("get"), Some(binary));

    cache.set(&key, Bytes::from_static(b"v2"), Duration::from_secs(60)).await.expect("overwrite");
    assert_eq!(cache.get(&key).await.expect("get"), Some(Bytes::from_static(b"v2")));

    cache.delete(&key).await.expect("delete");
    assert_eq!(cache.get(&key).await.expect("get"), None);
    cache.delete(&key).await.expect("deleting an absent key");
    cache.health().await.expect("healthy");
}

/// A value set with a TTL is served at first and gone once the TTL has passed (on the real clock: Redis
/// expires on its own, which `tokio::time::pause` cannot move), and not much earlier.
pub async fn value_expires_after_its_ttl(cache: Arc<dyn Cache>, prefix: String) {
    let key = format!("{prefix}session");
    let ttl = Duration::from_millis(1_500);
    let started = Instant::now();

    cache.set(&key, Bytes::from_static(b"x"), ttl).await.expect("set");
    assert!(cache.get(&key).await.expect("get").is_some());

    let present = async || cache.get(&key).await.expect("get").is_some();
    let _gone = eventually("key still present after 10 s", Deadline::ms(10_000, 50), present, |present| !present).await;
    assert!(started.elapsed() >= Duration::from_millis(1_400), "expired after {:?}", started.elapsed());
}

/// Runs `case` on a fresh in-process cache.
async fn on_memory<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn Cache>, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let cache = MemoryCache::new(100);
    assert_eq!(cache.backend(), "memory");
    case(Arc::new(cache), String::new()).await;
}

/// Runs `case` on the test Redis under a fresh key prefix, then deletes its keys; skips loudly without
/// `GANTRY_TEST_REDIS_URL`.
async fn on_redis<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn Cache>, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(url) = crate::redis_url() else { return };
    let cache = crate::redis_cache(&url);
    assert_eq!(cache.backend(), "redis");
    let prefix = crate::unique_prefix();
    case(Arc::new(cache), prefix.clone()).await;
    crate::delete_prefixed(&url, &prefix).await;
}

mod memory {
    #[tokio::test]
    async fn set_get_delete_round_trip() {
        super::on_memory(super::set_get_delete_round_trip).await;
    }

    #[tokio::test]
    async fn value_expires_after_its_ttl() {
        super::on_memory(super::value_expires_after_its_ttl).await;
    }
}

mod redis {
    #[tokio::test]
    async fn set_get_delete_round_trip() {
        super::on_redis(super::set_get_delete_round_trip).await;
    }

    #[tokio::test]
    async fn value_expires_after_its_ttl() {
        super::on_redis(super::value_expires_after_its_ttl).await;
    }
}
