//! The Redis `Cache` against a real server (`GANTRY_TEST_REDIS_URL`), plus its failure behaviour against a
//! closed port and a silent server (those two need no Redis and always run). Keys carry a per-test prefix so
//! runs can share one server.

use std::time::{Duration, Instant};

use bytes::Bytes;
use gantry::adapters::redis::RedisCache;
use gantry_actors::ports::cache::Cache;
use secrecy::SecretString;
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::support::backend_env;

/// A cache on the test server, or `None` (after the skip notice) when the variable is unset.
fn test_cache() -> Option<RedisCache> {
    let url = backend_env("GANTRY_TEST_REDIS_URL", "redis")?;
    Some(
        RedisCache::connect(&SecretString::from(url), 4, Duration::from_secs(2))
            .expect("GANTRY_TEST_REDIS_URL is a valid Redis URL"),
    )
}

/// A key prefix no other test or run uses.
fn unique_prefix() -> String {
    format!("gantry_test:{}:", Uuid::new_v4().simple())
}

/// Values (binary included) round-trip through set/get, a set overwrites, and a delete removes the key
/// (deleting an absent key is fine).
#[tokio::test]
async fn set_get_delete_round_trip() {
    let Some(cache) = test_cache() else { return };
    let key = format!("{}options", unique_prefix());
    let binary = Bytes::from_static(&[0, 159, 146, 150, 255]);

    cache.set(&key, binary.clone(), Duration::from_secs(60)).await.expect("set");
    assert_eq!(cache.get(&key).await.expect("get"), Some(binary));

    cache.set(&key, Bytes::from_static(b"v2"), Duration::from_secs(60)).await.expect("overwrite");
    assert_eq!(cache.get(&key).await.expect("get"), Some(Bytes::from_static(b"v2")));

    cache.delete(&key).await.expect("delete");
    assert_eq!(cache.get(&key).await.expect("get"), None);
    cache.delete(&key).await.expect("deleting an absent key");
    cache.health().await.expect("PING");
    assert_eq!(cache.backend(), "redis");
}

/// A value set with a TTL is served at first and gone once the TTL has passed on the server.
#[tokio::test]
async fn value_expires_after_its_ttl() {
    let Some(cache) = test_cache() else { return };
    let key = format!("{}session", unique_prefix());
    let ttl = Duration::from_millis(1_500);
    let started = Instant::now();

    cache.set(&key, Bytes::from_static(b"x"), ttl).await.expect("set");
    assert!(cache.get(&key).await.expect("get").is_some());

    // Expiry happens on the real server's clock, which `tokio::time::pause` cannot move: poll with a
    // deadline instead. Redis never expires a key early, so it must outlive most of the TTL.
    let deadline = started + Duration::from_secs(10);
    loop {
        if cache.get(&key).await.expect("get").is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "key still present after 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(started.elapsed() >= Duration::from_millis(1_400), "expired after {:?}", started.elapsed());
}

/// A pool pointed at a closed port answers `Unavailable` quickly instead of hanging, and the reason does not
/// quote the URL. Needs no Redis.
#[tokio::test]
async fn closed_port_returns_unavailable_within_timeout() {
    let cache = RedisCache::connect(
        &SecretString::from("redis://:hunter2@127.0.0.1:1".to_owned()),
        2,
        Duration::from_millis(500),
    )
    .expect("a valid URL builds a pool without connecting");
    let started = Instant::now();

    let got =
        tokio::time::timeout(Duration::from_secs(5), cache.get("k")).await.expect("the pool's own timeouts fire first");
    let health =
        tokio::time::timeout(Duration::from_secs(5), cache.health()).await.expect("the pool's own timeouts fire first");

    let err = got.expect_err("nothing listens on port 1");
    assert!(health.is_err());
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(!format!("{cache:?}").contains("hunter2"));
}

/// A server that accepts connections but never answers makes calls fail with `Unavailable` after the
/// configured timeout, not hang. Needs no Redis.
#[tokio::test]
async fn silent_server_returns_unavailable_within_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let cache = RedisCache::connect(&SecretString::from(format!("redis://{addr}")), 2, Duration::from_millis(300))
        .expect("pool");
    let started = Instant::now();

    let got =
        tokio::time::timeout(Duration::from_secs(5), cache.get("k")).await.expect("the pool's own timeouts fire first");

    assert!(got.is_err(), "a silent server cannot answer");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    silent.abort();
}
