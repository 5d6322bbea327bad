//! The log of 503s, rate-limited: one line per code per interval, however many requests were refused.
//!
//! Under a storm every refused request used to write a line (57 MB of log in 15 s of a login storm), so the
//! log cost as much as the work it reported and buried everything else. Here the first 503 of a code in an
//! interval is logged with its cause, and the ones after it are only counted; the next line of that code
//! reports how many were refused since the previous line. Every refusal is still counted in the metrics
//! (`gantry_http_requests_total` by status, `gantry_http_shed_total`, `gantry_auth_hashing_refused_total`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most one line per code in this interval.
const INTERVAL: Duration = Duration::from_secs(10);

/// Per code: when its last line was written and how many 503s were not logged since.
static STATE: Mutex<Vec<(&'static str, Instant, u64)>> = Mutex::new(Vec::new());

/// Records a 503 with `code`; logs it (with `reason` and the count of unlogged ones before it) unless a line
/// of the same code was written less than an interval ago. Overload codes are logged at warn only here, so a
/// storm writes one line per interval.
pub(crate) fn record(request_id: Option<&str>, code: &'static str, reason: &str) {
    let now = Instant::now();
    let suppressed = {
        // A std lock held for a few instructions, never across `.await`; a poisoned one still holds the counts.
        let mut state = STATE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match state.iter_mut().find(|(c, _, _)| *c == code) {
            Some((_, last, count)) if now.duration_since(*last) < INTERVAL => {
                *count += 1;
                return;
            }
            Some((_, last, count)) => {
                *last = now;
                std::mem::take(count)
            }
            None => {
                // Codes are a small fixed set of literals, so this list stays short.
                state.push((code, now, 0));
                0
            }
        }
    };
    tracing::warn!(
        event = "service_unavailable",
        request_id,
        code,
        reason,
        refused_unlogged_before = suppressed,
        interval_secs = INTERVAL.as_secs(),
        "service unavailable (one line per code per interval; the rest are counted in metrics)"
    );
}
