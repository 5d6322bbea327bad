//! Redis (production, shared by every instance). The ports are one file each, on one pool:
//!
//! | file | owns |
//! |---|---|
//! | `redis/pool.rs` | the deadpool-redis pool with its wait, create and recycle timeouts all set (deadpool leaves them unset, and an exhausted pool then waits forever), one command on it, and the safe mapping of its failures |
//! | `redis/cache.rs` | `Cache` |
//! | `redis/sessions.rs` | `SessionStore` (key layout in its header) |
//!
//! The port files import `pool.rs` (and the session store the cache, whose pool it shares), never this file.

pub mod cache;
mod pool;
pub mod sessions;

pub use cache::RedisCache;
pub use sessions::{DEFAULT_SESSION_PREFIX, REVOKED_RETENTION_MS, RedisSessionStore};
