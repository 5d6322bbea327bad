//! The Redis pool every Redis port shares: built with its wait, create and recycle timeouts all set
//! (deadpool leaves them unset, and an exhausted pool then waits forever), one command run on it, and the
//! safe mapping of its failures (a short reason naming the port; the detail, never the URL, to the debug log).

use std::time::Duration;

use deadpool_redis::redis::{self, AsyncConnectionConfig, ErrorKind, RedisError};
use deadpool_redis::{Manager, Pool, PoolConfig, PoolError, Runtime, TimeoutType, Timeouts};
use gantry_actors::ports::Unavailable;
use secrecy::{ExposeSecret, SecretString};

/// A pool of up to `pool_size` connections to `url`; `timeout` bounds every step (see
/// [`RedisCache::connect`](super::cache::RedisCache::connect)). Connections open on first use.
///
/// # Errors
/// The URL is invalid (the reason does not quote it) or the pool cannot be built.
pub(super) fn build(url: &SecretString, pool_size: usize, timeout: Duration) -> Result<Pool, Unavailable> {
    let connection =
        AsyncConnectionConfig::new().set_connection_timeout(Some(timeout)).set_response_timeout(Some(timeout));
    // The parse error is dropped on purpose: its text could quote part of the URL.
    let manager =
        Manager::new_with_config(url.expose_secret(), connection).map_err(|_| Unavailable::new("invalid cache URL"))?;
    let mut config = PoolConfig::new(pool_size);
    config.timeouts = Timeouts { wait: Some(timeout), create: Some(timeout), recycle: Some(timeout) };
    Pool::builder(manager)
        .config(config)
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| Unavailable::new(format!("cannot build the cache pool: {e}")))
}

/// Runs `cmd` on a connection from `pool`, mapping failures to safe reasons that name `what` (`cache`,
/// `session store`). The caller counts them.
pub(super) async fn run<T: redis::FromRedisValue>(
    pool: &Pool,
    what: &'static str,
    op: &'static str,
    cmd: &redis::Cmd,
) -> Result<T, Unavailable> {
    match pool.get().await {
        Ok(mut conn) => cmd.query_async::<T>(&mut conn).await.map_err(|e| redis_unavailable(what, op, &e)),
        Err(e) => Err(pool_unavailable(what, op, &e)),
    }
}

/// A short, safe reason for a failed checkout; the detail goes to the debug log.
fn pool_unavailable(what: &'static str, op: &'static str, err: &PoolError) -> Unavailable {
    let reason = match err {
        PoolError::Timeout(TimeoutType::Wait) => format!("{what} timed out (no free connection in the pool)"),
        PoolError::Timeout(TimeoutType::Create) => format!("{what} unreachable (connect timed out)"),
        PoolError::Timeout(TimeoutType::Recycle) => format!("{what} timed out"),
        PoolError::Backend(e) => return redis_unavailable(what, op, e),
        PoolError::Closed => format!("{what} pool is closed"),
        PoolError::NoRuntimeSpecified | PoolError::PostCreateHook(_) => format!("{what} is misconfigured"),
    };
    tracing::debug!(backend = "redis", op, error = %err, "{reason}");
    Unavailable::new(reason)
}

/// A short, safe reason for a Redis error; the detail (never the URL) goes to the debug log.
fn redis_unavailable(what: &'static str, op: &'static str, err: &RedisError) -> Unavailable {
    let problem = if err.is_timeout() {
        "timed out"
    } else if err.is_connection_refusal() {
        "unreachable (connection refused)"
    } else if err.is_io_error() || err.is_connection_dropped() {
        "unreachable"
    } else {
        match err.kind() {
            ErrorKind::AuthenticationFailed => "rejected the credentials",
            ErrorKind::Server(_) => "refused the command",
            ErrorKind::Parse | ErrorKind::UnexpectedReturnType => "answered unexpectedly",
            _ => "error",
        }
    };
    let reason = format!("{what} {problem}");
    tracing::debug!(backend = "redis", op, error = %err, "{reason}");
    Unavailable::new(reason)
}
