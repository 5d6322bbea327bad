//! The Redis `Cache` and `RedisSessionStore` against a real server (`GANTRY_TEST_REDIS_URL`), plus the cache's
//! failure behaviour against a closed port and a silent server (those two need no Redis and always run). Keys
//! carry a per-test prefix so runs can share one server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gantry::adapters::redis::{RedisCache, RedisSessionStore};
use gantry_actors::ports::cache::Cache;
use gantry_actors::ports::sessions::{Rotation, SessionRecord, SessionStore};
use secrecy::SecretString;
use time::OffsetDateTime;
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

/// The wall clock in ms: Redis expires keys on its own clock, which is this machine's.
fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).expect("a current time fits in i64")
}

/// A session of `user_id` created at `now` (ms), refreshable for an hour, ending after a day. The user agent
/// holds the very text the revoke script edits, to prove it only edits the real field.
fn session(user_id: Uuid, now: i64) -> SessionRecord {
    SessionRecord {
        id: Uuid::now_v7(),
        user_id,
        created_at_ms: now,
        last_used_at_ms: now,
        refresh_expires_at_ms: now + 3_600_000,
        absolute_expires_at_ms: now + 86_400_000,
        user_agent: Some(r#"Mozilla/5.0 "revoked_at_ms":null naïve ✓"#.to_owned()),
        address: Some("203.0.113.7".to_owned()),
        refresh_hash: "a".repeat(64),
        generation: 0,
        last_rotation: None,
        revoked_at_ms: None,
    }
}

/// `session` after one more rotation at `at` (ms) to a token hashing to `hash`. The access expiry is larger
/// than the 14 significant digits Redis' cjson keeps, so a script that re-encoded records would corrupt it.
fn rotated(mut s: SessionRecord, at: i64, hash: &str) -> SessionRecord {
    s.last_rotation = Some(Rotation {
        used_hash: s.refresh_hash.clone(),
        used_at_ms: at,
        sealed_successor: "0f".repeat(32),
        access_jti: Uuid::now_v7(),
        access_iat: at / 1_000,
        access_exp: 123_456_789_012_345_678,
        access_kid: "k1".to_owned(),
        earlier_hashes: vec!["ab".repeat(32)],
    });
    s.refresh_hash = hash.to_owned();
    s.generation += 1;
    s.last_used_at_ms = at;
    s
}

/// Two instances rotating the same session at once, both expecting the same generation: in every round
/// exactly one `replace_if` wins, and the stored record is the winner's.
#[tokio::test]
async fn concurrent_replace_if_with_same_generation_has_exactly_one_winner() {
    let Some(t) = TestSessions::new() else { return };
    let store = Arc::new(t.store.clone());
    let now = now_ms();
    let mut current = session(Uuid::now_v7(), now);
    store.insert(&current).await.expect("insert");
    assert_eq!(store.get(current.id).await.expect("get"), Some(current.clone()));

    for round in 0..20 {
        let expected = current.generation;
        let a = rotated(current.clone(), now + round, &format!("{round:0>63}a"));
        let b = rotated(current.clone(), now + round, &format!("{round:0>63}b"));
        let (store_a, store_b) = (Arc::clone(&store), Arc::clone(&store));
        let (ta, tb) = (
            tokio::spawn({
                let a = a.clone();
                async move { store_a.replace_if(&a, expected).await }
            }),
            tokio::spawn({
                let b = b.clone();
                async move { store_b.replace_if(&b, expected).await }
            }),
        );
        let won_a = ta.await.expect("task a").expect("replace a");
        let won_b = tb.await.expect("task b").expect("replace b");

        assert!(won_a ^ won_b, "round {round}: a won {won_a}, b won {won_b}");
        current = if won_a { a } else { b };
        assert_eq!(store.get(current.id).await.expect("get"), Some(current.clone()), "round {round}");
    }
    assert!(!store.replace_if(&session(Uuid::now_v7(), now), 0).await.expect("unknown id"));
    store.health().await.expect("PING");
    assert_eq!(store.backend(), "redis");
    t.clean_up(&[current.id], &[current.user_id]).await;
}

/// `list_for_user` shows only live, unrevoked sessions of that user; `revoke` marks the record once (first
/// time kept, other fields byte-for-byte intact), feeds `revoked_since` and drops the session from
/// `count_active`; a stale rotation cannot undo a revocation; a duplicate id is refused.
#[tokio::test]
async fn list_revoke_revoked_since_and_count_active_agree() {
    let Some(t) = TestSessions::new() else { return };
    let store = &t.store;
    let now = now_ms();
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let kept = session(alice, now - 2);
    let to_revoke = rotated(session(alice, now - 1), now, &"b".repeat(64));
    let mut idle = session(alice, now - 5_000);
    idle.refresh_expires_at_ms = now;
    let other = session(bob, now);
    for s in [&kept, &to_revoke, &idle, &other] {
        store.insert(s).await.expect("insert");
    }
    assert!(store.insert(&kept).await.is_err(), "a duplicate id is refused");
    assert_eq!(store.list_for_user(alice, now).await.expect("list"), vec![kept.clone(), to_revoke.clone()]);
    assert_eq!(store.count_active(now).await.expect("count"), 3);

    store.revoke(&[to_revoke.id, Uuid::now_v7()], now + 100).await.expect("revoke");
    store.revoke(&[to_revoke.id], now + 200).await.expect("revoking again");
    store.revoke(&[], now + 300).await.expect("revoking nothing");

    let mut revoked = to_revoke.clone();
    revoked.revoked_at_ms = Some(now + 100);
    assert_eq!(store.get(to_revoke.id).await.expect("get"), Some(revoked));
    assert_eq!(store.list_for_user(alice, now).await.expect("list"), vec![kept.clone()]);
    assert_eq!(store.revoked_since(now + 100).await.expect("since"), vec![to_revoke.id]);
    assert!(store.revoked_since(now + 101).await.expect("since").is_empty());
    assert_eq!(store.count_active(now).await.expect("count"), 2);
    let unrevoking = rotated(to_revoke.clone(), now + 150, &"c".repeat(64));
    assert!(!store.replace_if(&unrevoking, to_revoke.generation).await.expect("replace"), "revocation is kept");
    assert_eq!(store.list_for_user(bob, now).await.expect("list"), vec![other.clone()]);
    t.clean_up(&[kept.id, to_revoke.id, idle.id, other.id], &[alice, bob]).await;
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
    let deadline = started + Duration::from_secs(10);
    while store.get(short.id).await.expect("get").is_some() {
        assert!(Instant::now() < deadline, "session still present after 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(started.elapsed() >= Duration::from_millis(900), "expired after {:?}", started.elapsed());
    assert!(store.list_for_user(user, now).await.expect("list").is_empty(), "even at a time it was live");
    assert_eq!(store.count_active(now_ms()).await.expect("count"), 0);
    t.clean_up(&[], &[user]).await;
}
