//! Redis (production, shared by every instance): one deadpool-redis pool whose wait, create and recycle
//! timeouts are all set (deadpool leaves them unset, and an exhausted pool then waits forever), and the safe
//! mapping of its failures. The ports are one file each:
//!
//! | file | implements |
//! |---|---|
//! | `redis/cache.rs` | `Cache` |
//! | `redis/sessions.rs` | `SessionStore` (key layout in its header) |

pub mod cache;
pub mod sessions;

use deadpool_redis::redis::{self, ErrorKind, RedisError};
use deadpool_redis::{Pool, PoolError, TimeoutType};
use gantry_actors::ports::Unavailable;

pub use cache::RedisCache;
pub use sessions::{DEFAULT_SESSION_PREFIX, REVOKED_RETENTION_MS, RedisSessionStore};

/// Runs `cmd` on a connection from `pool`, mapping failures to safe reasons that name `what` (`cache`,
/// `session store`). The caller counts them.
async fn run<T: redis::FromRedisValue>(
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
