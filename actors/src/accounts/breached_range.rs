//! The optional online breached-password check (`sessions.breached_range_url`, off by default): the
//! k-anonymity range API of Pwned Passwords. The password's SHA-1 (of its NFKC form, as typed: the corpus is
//! case-sensitive) is split into a five-hex-digit prefix, which is sent, and the 35-digit suffix, which is
//! looked for in the answer's `SUFFIX:COUNT` lines. Padding lines (count 0) never match.
//!
//! It only adds to the bundled list ([`super::password`]), which is always checked first: when the service
//! fails or is slow (`sessions.breached_range_timeout_ms`), the password is judged by the bundled list alone,
//! the fallback logged and counted (`gantry_breached_range_fallbacks_total`).

use std::sync::Arc;

use crate::ports::breached::BreachedRange;

/// The SHA-1 of `password`'s normal form, upper-case hex, split into the prefix sent and the suffix kept.
#[must_use]
pub fn range_key(password: &str) -> (String, String) {
    let normal = super::password::normalize_password(password);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, normal.as_bytes());
    let hex = hex::encode_upper(digest.as_ref());
    let (prefix, suffix) = hex.split_at(5);
    (prefix.to_owned(), suffix.to_owned())
}

/// How often `suffix` appears in a range answer (`SUFFIX:COUNT` lines, any case, CRLF or LF); 0 when it
/// does not, or only as padding.
#[must_use]
pub fn count_in_range(body: &str, suffix: &str) -> u64 {
    body.lines()
        .filter_map(|line| line.trim().split_once(':'))
        .find(|(s, _)| s.eq_ignore_ascii_case(suffix))
        .and_then(|(_, count)| count.trim().parse().ok())
        .unwrap_or(0)
}

/// The online check, over the [`BreachedRange`] port.
#[derive(Debug, Clone)]
pub struct RangeCheck {
    range: Arc<dyn BreachedRange>,
}

impl RangeCheck {
    /// A check over `range`.
    #[must_use]
    pub fn new(range: Arc<dyn BreachedRange>) -> Self {
        Self { range }
    }

    /// How often the corpus has seen `password`; `None` when the service could not say (logged and counted:
    /// the caller keeps the bundled list's verdict).
    pub async fn times_breached(&self, password: &str) -> Option<u64> {
        let (prefix, suffix) = range_key(password);
        match self.range.range(&prefix).await {
            Ok(body) => {
                let count = count_in_range(&body, &suffix);
                metrics::counter!("gantry_breached_range_checks_total", "result" => if count > 0 { "breached" } else { "clean" })
                    .increment(1);
                Some(count)
            }
            Err(e) => {
                metrics::counter!("gantry_breached_range_fallbacks_total").increment(1);
                tracing::warn!(
                    event = "breached_range_fallback",
                    error = %e,
                    "the breached-password range service failed; the password is judged by the bundled list alone"
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The prefix and suffix of a known SHA-1 ("password" → 5BAA6 1E4C9B93F3F0682250B6CF8331B7EE68FD8).
    #[test]
    fn range_key_splits_the_sha1() {
        let (prefix, suffix) = range_key("password");
        assert_eq!(prefix, "5BAA6");
        assert_eq!(suffix, "1E4C9B93F3F0682250B6CF8331B7EE68FD8");
    }

    /// Suffixes match whatever the case and line ending; padding (count 0) and absent suffixes count 0.
    #[test]
    fn counts_are_read_from_the_range_lines() {
        let body = "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n1e4c9b93f3f0682250b6cf8331b7ee68fd8:9545824\r\n\
                    011053FD0102E94D6AE2F8B83D76FAF94F6:0\n";
        assert_eq!(count_in_range(body, "1E4C9B93F3F0682250B6CF8331B7EE68FD8"), 9_545_824);
        assert_eq!(count_in_range(body, "011053FD0102E94D6AE2F8B83D76FAF94F6"), 0);
        assert_eq!(count_in_range(body, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"), 0);
        assert_eq!(count_in_range("", "1E4C9B93F3F0682250B6CF8331B7EE68FD8"), 0);
    }
}
