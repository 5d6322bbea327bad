//! The shared cache port: a byte-valued key/value store with per-key TTL. In-process in the local profile,
//! Redis in production (shared by all instances). Callers namespace their keys (`options:…`, `sessions:…`).

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::Unavailable;

/// The cache capability.
#[async_trait]
pub trait Cache: Send + Sync + 'static {
    /// The value under `key`, unless absent or expired.
    ///
    /// # Errors
    /// The cache is unreachable.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, Unavailable>;

    /// Stores `value` under `key` for `ttl`.
    ///
    /// # Errors
    /// The cache is unreachable.
    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), Unavailable>;

    /// Removes `key`; removing an absent key is not an error.
    ///
    /// # Errors
    /// The cache is unreachable.
    async fn delete(&self, key: &str) -> Result<(), Unavailable>;

    /// Round-trips to the backend.
    ///
    /// # Errors
    /// Why the cache is not usable.
    async fn health(&self) -> Result<(), Unavailable>;

    /// The backend's name for `/readyz` and metrics (`memory`, `redis`).
    fn backend(&self) -> &'static str;

    /// Closes connections at shutdown (waits for checked-out ones to come back). Default: nothing to close.
    async fn close(&self) {}
}
