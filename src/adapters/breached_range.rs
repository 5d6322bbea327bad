//! `BreachedRange` over HTTP: `GET {base}/range/{prefix}` of a Pwned Passwords-style range API, with a short
//! timeout (`sessions.breached_range_timeout_ms`), `Add-Padding: true` (the answer's size says nothing about the
//! prefix) and a bounded answer (a real range is about 30 KB; more than [`MAX_RANGE_BYTES`] is refused).

use std::time::Duration;

use async_trait::async_trait;
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::breached::BreachedRange;

/// Largest range answer read.
const MAX_RANGE_BYTES: usize = 1024 * 1024;

/// The range API at one base URL.
#[derive(Debug, Clone)]
pub struct HttpBreachedRange {
    client: reqwest::Client,
    base: String,
}

impl HttpBreachedRange {
    /// The range API at `base` (`https://api.pwnedpasswords.com`), each request cut off after `timeout`.
    ///
    /// # Errors
    /// The HTTP client cannot be built (no TLS roots).
    pub fn new(base: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("gantry/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, base: base.trim().trim_end_matches('/').to_owned() })
    }
}

#[async_trait]
impl BreachedRange for HttpBreachedRange {
    async fn range(&self, prefix: &str) -> Result<String, Unavailable> {
        let url = format!("{}/range/{prefix}", self.base);
        // The reason names neither the URL's credentials nor the prefix.
        let failed = |what: &str, e: &dyn std::fmt::Display| Unavailable::new(format!("breached range {what}: {e}"));
        let mut response = self
            .client
            .get(&url)
            .header("Add-Padding", "true")
            .send()
            .await
            .map_err(|e| failed("request", &e.without_url()))?;
        if !response.status().is_success() {
            return Err(Unavailable::new(format!("breached range answered {}", response.status())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| failed("body", &e.without_url()))? {
            if body.len() + chunk.len() > MAX_RANGE_BYTES {
                return Err(Unavailable::new("breached range answer is larger than 1 MiB"));
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).map_err(|_| Unavailable::new("breached range answer is not UTF-8"))
    }
}
