//! Redis-only behaviour: the cache's failure behaviour against a closed port and a silent server (those two
//! need no Redis and always run), and sessions expiring on the server's clock (`GANTRY_TEST_REDIS_URL`). The
//! `Cache` and `SessionStore` contracts run in `tests/conformance/`. Keys carry a per-test prefix so runs can
//! share one server.

use std::time::{Duration, Instant};

use gantry::adapters::redis::{RedisCache, RedisSessionStore};
use gantry_actors::ports::cache::Cache;
use gantry_actors::ports::sessions::SessionStore;
use secrecy::SecretString;
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::eventually::{Deadline, eventually};
use crate::fixtures::{now_ms, session};
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

/// A session store with its own key prefix on the test server, or `None` when the variable is unset.
struct TestSessions {
    /// The store under test.
    store: RedisSessionStore,
    /// The cache it shares its pool with, used to delete the test's keys afterwards.
    cache: RedisCache,
    /// The test's key prefix.
    prefix: String,
}

impl TestSessions {
    /// A store under a fresh prefix, or `None` (after the skip notice) when the variable is unset.
    fn new() -> Option<Self> {
        let cache = test_cache()?;
        let prefix = unique_prefix();
        Some(Self { store: RedisSessionStore::with_prefix(&cache, &prefix), cache, prefix })
    }

    /// Deletes the keys the test left: the two index sets never expire by themselves.
    async fn clean_up(&self, sessions: &[Uuid], users: &[Uuid]) {
        let p = &self.prefix;
        let keys = [format!("{p}sessions:active"), format!("{p}sessions:revoked")]
            .into_iter()
            .chain(sessions.iter().map(|id| format!("{p}session:{id}")))
            .chain(users.iter().map(|id| format!("{p}user_sessions:{id}")));
        for key in keys {
            self.cache.delete(&key).await.expect("delete a test key");
        }
    }
}

/// A session is gone from `get`, `list_for_user` and `count_active` once its absolute expiry (the key's
/// PEXPIREAT) has passed on the server; one inserted already past it is never visible.
#[tokio::test]
async fn session_expires_at_its_absolute_expiry() {
    let Some(t) = TestSessions::new() else { return };
    let store = &t.store;
    let user = Uuid::now_v7();
    let started = Instant::now();
    let now = now_ms();
    let mut short = session(user, now);
    short.absolute_expires_at_ms = now + 1_000;
    let mut past = session(user, now);
    past.absolute_expires_at_ms = now - 1;

    store.insert(&short).await.expect("insert");
    store.insert(&past).await.expect("insert an already expired session");
    assert!(store.get(past.id).await.expect("get").is_none());
    assert_eq!(store.list_for_user(user, now).await.expect("list"), vec![short.clone()]);

    // Expiry happens on the server's clock, which `tokio::time::pause` cannot move: poll with a deadline.
    let present = async || store.get(short.id).await.expect("get").is_some();
    let _gone = eventually("session still present after 10 s", Deadline::ms(10_000, 50), present, |p| !p).await;
    assert!(started.elapsed() >= Duration::from_millis(900), "expired after {:?}", started.elapsed());
    assert!(store.list_for_user(user, now).await.expect("list").is_empty(), "even at a time it was live");
    assert_eq!(store.count_active(now_ms()).await.expect("count"), 0);
    t.clean_up(&[], &[user]).await;
}
