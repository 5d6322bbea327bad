//! `Cache` on Redis (production, shared by every instance).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use deadpool_redis::Pool;
use deadpool_redis::redis;
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::cache::Cache;
use secrecy::SecretString;

use super::pool::{self, run};

/// `Cache` on Redis.
#[derive(Clone)]
pub struct RedisCache {
    /// The connection pool. Its manager's client holds the URL (and so the password): `Debug` is by hand.
    pub(super) pool: Pool,
}

impl fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        f.debug_struct("RedisCache")
            .field("max_size", &status.max_size)
            .field("size", &status.size)
            .field("available", &status.available)
            .finish()
    }
}

impl RedisCache {
    /// Builds a pool of up to `pool_size` connections to `url`. Connections open on first use, so this does
    /// not reach the server; `timeout` bounds every step of a call: waiting for a free connection, opening
    /// one, checking an idle one before reuse (deadpool recycles at checkout), and each command's reply.
    ///
    /// # Errors
    /// The URL is invalid (the reason does not quote it) or the pool cannot be built.
    pub fn connect(url: &SecretString, pool_size: usize, timeout: Duration) -> Result<Self, Unavailable> {
        Ok(Self { pool: pool::build(url, pool_size, timeout)? })
    }

    /// Runs `cmd` on a pooled connection, mapping and counting failures under `op`.
    async fn query<T: redis::FromRedisValue>(&self, op: &'static str, cmd: &redis::Cmd) -> Result<T, Unavailable> {
        let result = run(&self.pool, "cache", op, cmd).await;
        if result.is_err() {
            metrics::counter!("gantry_cache_errors_total", "backend" => "redis", "op" => op).increment(1);
        }
        result
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, Unavailable> {
        let value: Option<Vec<u8>> = self.query("get", redis::cmd("GET").arg(key)).await?;
        Ok(value.map(Bytes::from))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), Unavailable> {
        if ttl.is_zero() {
            // Redis rejects `PX 0`; a value that expires at once is the same as no value.
            return self.delete(key).await;
        }
        // Round up so a sub-millisecond TTL does not become `PX 0`.
        let ttl_ms = u64::try_from(ttl.as_micros().div_ceil(1_000)).unwrap_or(u64::MAX);
        self.query::<()>("set", redis::cmd("SET").arg(key).arg(value.as_ref()).arg("PX").arg(ttl_ms)).await
    }

    async fn delete(&self, key: &str) -> Result<(), Unavailable> {
        self.query::<()>("delete", redis::cmd("DEL").arg(key)).await
    }

    async fn health(&self) -> Result<(), Unavailable> {
        let pong: String = self.query("health", &redis::cmd("PING")).await?;
        if pong == "PONG" { Ok(()) } else { Err(Unavailable::new("cache answered PING unexpectedly")) }
    }

    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn close(&self) {
        self.pool.close();
    }
}
