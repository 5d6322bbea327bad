//! The breached-password range port: the k-anonymity lookup of the Pwned Passwords range API
//! (`GET {base}/range/{first five hex digits of the SHA-1}`), optional and off by default. Only the first five
//! hex digits of a password's SHA-1 leave the process; the answer lists every known suffix of that prefix.

use async_trait::async_trait;

use super::Unavailable;

/// Fetches one range of the breached-password corpus.
#[async_trait]
pub trait BreachedRange: Send + Sync + std::fmt::Debug {
    /// The range of `prefix` (five upper-case hex digits) as the service sends it: lines of
    /// `SUFFIX:COUNT`, the suffix being the other 35 hex digits of the SHA-1.
    ///
    /// # Errors
    /// The service could not be reached in time, answered an error, or sent too much.
    async fn range(&self, prefix: &str) -> Result<String, Unavailable>;
}
