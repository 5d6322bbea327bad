//! One conformance suite per port: each file holds one set of assertions (`pub async fn` cases taking the
//! port), run against every implementation of that port. SQLite, the object folder and the in-process bus run
//! always (a fresh temporary folder per test); Postgres (a fresh database per test), Redis and the other services run when their URL is set and
//! otherwise say loudly that they were skipped (and fail with `GANTRY_REQUIRE_BACKENDS=1`).
//!
//! | file | port | implementations |
//! |---|---|---|
//! | `jobs.rs` | `JobStore` | SQLite, Postgres |
//! | `accounts.rs` | `AccountStore` | SQLite, Postgres |
//! | `sessions.rs` | `SessionStore` | SQLite, Postgres, Redis |
//! | `uploads.rs` | `UploadStore`, `MultipartLedger` | SQLite, Postgres |
//! | `catalog.rs` | `CatalogStore` | SQLite, Postgres |
//! | `rotations.rs` | `RotationStore`, `Fleet` | SQLite, Postgres |
//! | `cache.rs` | `Cache` | memory, Redis |
//! | `objects.rs` | `ObjectStore` | folder, S3 |
//! | `bus.rs` | `Bus` | in-process, RabbitMQ |

// Test crates: helpers are `pub` for their sibling modules, and a panic (`unwrap`) is the failure report.
#![allow(unreachable_pub, clippy::unwrap_used)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use gantry::adapters::postgres::PostgresDb;
use gantry::adapters::redis::{RedisCache, RedisSessionStore};
use gantry::adapters::sql::SqlPorts;
use gantry::adapters::sqlite::SqliteDb;
use gantry_actors::ports::sessions::SessionStore;
use secrecy::SecretString;
use uuid::Uuid;

#[path = "../shared/amqp.rs"]
mod amqp;
// Shared with the api and backend suites, which use all of it.
#[allow(dead_code)]
#[path = "../shared/eventually.rs"]
mod eventually;
#[path = "../shared/sessions.rs"]
mod fixtures;
#[path = "../shared/backends.rs"]
mod support;

/// Declares, for each `case` of this file, one test per SQL backend, handing it the port `$port` of a fresh
/// database: `<file>::sqlite::<case>` and `<file>::postgres::<case>`.
macro_rules! sql_cases {
    ($port:ident: $($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    crate::on_sqlite(|ports| super::$case(ports.$port)).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    crate::on_postgres(|ports| super::$case(ports.$port)).await;
                }
            )+
        }
    };
}

mod accounts;
mod bus;
mod cache;
mod catalog;
mod jobs;
mod objects;
mod rotations;
mod sessions;
mod uploads;

/// Every SQL port of `ports` reports `backend` and is healthy (asserted before each case).
async fn assert_backend(ports: &SqlPorts, backend: &str) {
    ports.jobs.health().await.expect("jobs healthy");
    ports.sessions.health().await.expect("sessions healthy");
    assert_eq!(ports.jobs.backend(), backend);
    assert_eq!(ports.sessions.backend(), backend);
}

/// Runs `case` on the ports of a fresh SQLite file (in a folder that does not exist yet), then closes it.
async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(SqlPorts) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let db = SqliteDb::open(&dir.path().join("data/gantry.db")).await.expect("open");
    let ports = db.ports();
    assert_backend(&ports, "sqlite").await;
    case(ports).await;
    db.close().await;
}

/// Runs `case` on the ports of a fresh Postgres database (enough connections for the concurrency cases),
/// then closes and drops it; skips loudly without `GANTRY_TEST_POSTGRES_URL`.
async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(SqlPorts) -> Fut,
    Fut: Future<Output = ()>,
{
    support::with_fresh_database(|url| async move {
        let db = PostgresDb::connect(&url, 20).await.expect("connect");
        let ports = db.ports();
        assert_backend(&ports, "postgres").await;
        case(ports).await;
        db.close().await;
    })
    .await;
}

/// The test Redis URL, or `None` after the loud skip notice.
fn redis_url() -> Option<SecretString> {
    support::backend_env("GANTRY_TEST_REDIS_URL", "redis").map(SecretString::from)
}

/// A Redis cache on the test server.
fn redis_cache(url: &SecretString) -> RedisCache {
    RedisCache::connect(url, 4, Duration::from_secs(2)).expect("GANTRY_TEST_REDIS_URL is a valid Redis URL")
}

/// A key prefix no other test or run uses.
fn unique_prefix() -> String {
    format!("gantry_test:{}:", Uuid::new_v4().simple())
}

/// Deletes every key under `prefix` (the session index sets never expire by themselves).
async fn delete_prefixed(url: &SecretString, prefix: &str) {
    use deadpool_redis::redis::{self, AsyncCommands};
    use secrecy::ExposeSecret;
    let client = redis::Client::open(url.expose_secret()).expect("valid Redis URL");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connect to Redis");
    let keys: Vec<String> = conn.keys(format!("{prefix}*")).await.expect("KEYS");
    if !keys.is_empty() {
        let _: () = conn.del(keys).await.expect("DEL");
    }
}

/// Runs `case` on a Redis session store under a fresh key prefix, then deletes its keys; skips loudly
/// without `GANTRY_TEST_REDIS_URL`.
async fn on_redis_sessions<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn SessionStore>) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(url) = redis_url() else { return };
    let cache = redis_cache(&url);
    let prefix = unique_prefix();
    let store = RedisSessionStore::with_prefix(&cache, &prefix);
    store.health().await.expect("PING");
    assert_eq!(store.backend(), "redis");
    case(Arc::new(store)).await;
    delete_prefixed(&url, &prefix).await;
}
