//! Request bodies in: JSON with a size limit, checked while reading, and held to a deadline and a minimum
//! rate ([`BodyPolicy`], set on the request by the server): a client that announces a body and then sends
//! it slowly, or not at all, is answered 408 within `http.json_body_timeout_secs` (or once its average falls
//! under `http.min_body_bytes_per_sec` after `http.body_rate_grace_secs`), and its request gives back its
//! in-flight places then — not at the request deadline. (Responses out are in `respond.rs`.)

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Limited};
use hyper::Request;
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::problem::ApiError;
use crate::config::HttpSettings;

/// How fast a request's body must arrive (a request extension, inserted by the server for requests with a
/// body on the non-streaming routes).
#[derive(Debug, Clone, Copy)]
pub struct BodyPolicy {
    /// When the request started.
    started: Instant,
    /// The whole body must have arrived by `started + deadline`.
    deadline: Duration,
    /// The least average rate once the grace period is over; 0 = none.
    min_bytes_per_sec: u64,
    /// No body is held to the rate before this long.
    grace: Duration,
}

impl BodyPolicy {
    /// The policy of `http`, for a request starting now.
    #[must_use]
    pub fn of(http: &HttpSettings) -> Self {
        Self {
            started: Instant::now(),
            deadline: Duration::from_secs(http.json_body_timeout_secs),
            min_bytes_per_sec: http.min_body_bytes_per_sec,
            grace: Duration::from_secs(http.body_rate_grace_secs),
        }
    }

    /// Why a body of which `received` bytes arrived by `now` must be refused, if it must.
    fn verdict(&self, received: usize, now: Instant) -> Result<(), ApiError> {
        let elapsed = now.saturating_duration_since(self.started);
        if elapsed >= self.deadline {
            return Err(self.refuse("body_timeout", received, elapsed));
        }
        // received / elapsed < rate, without dividing.
        if self.min_bytes_per_sec > 0
            && elapsed >= self.grace
            && (received as u128) * 1_000_000 < u128::from(self.min_bytes_per_sec) * elapsed.as_micros()
        {
            return Err(self.refuse("body_too_slow", received, elapsed));
        }
        Ok(())
    }

    fn refuse(&self, code: &'static str, received: usize, elapsed: Duration) -> ApiError {
        metrics::counter!("gantry_http_refusals_total", "reason" => code).increment(1);
        tracing::debug!(code, received, secs = elapsed.as_secs(), "request body too slow; answered 408");
        let detail = if code == "body_timeout" {
            format!("the request body did not arrive within {}s", self.deadline.as_secs())
        } else {
            format!(
                "the request body arrived slower than {} bytes per second (after {}s)",
                self.min_bytes_per_sec,
                self.grace.as_secs()
            )
        };
        ApiError::SlowBody { code, detail }
    }

    /// When to look again, from `now`: the deadline, or the next second once the grace period is over.
    fn next_check(&self, now: Instant) -> Instant {
        let deadline = self.started + self.deadline;
        if self.min_bytes_per_sec == 0 {
            return deadline;
        }
        deadline.min((self.started + self.grace).max(now + Duration::from_secs(1)))
    }
}

/// Collects `body` under `policy`: checked at every frame and, while the body is silent, at each
/// [`BodyPolicy::next_check`].
async fn collect_within(mut body: Limited<Incoming>, policy: BodyPolicy) -> Result<Bytes, ApiError> {
    let mut received = BytesMut::new();
    loop {
        let now = Instant::now();
        policy.verdict(received.len(), now)?;
        match tokio::time::timeout_at(policy.next_check(now), body.frame()).await {
            Err(_) => {}
            Ok(None) => return Ok(received.freeze()),
            Ok(Some(frame)) => {
                if let Ok(data) = frame.map_err(read_error)?.into_data() {
                    received.extend_from_slice(&data);
                }
            }
        }
    }
}

/// A body that failed while read: over the limit (the caller names it), or cut off.
fn read_error(e: Box<dyn std::error::Error + Send + Sync>) -> ApiError {
    if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
        ApiError::PayloadTooLarge { limit: 0 }
    } else {
        ApiError::BadRequest("the request body could not be read".into())
    }
}

/// Reads a JSON body of at most `limit` bytes into `T`.
///
/// # Errors
/// 415 when not `application/json`, 413 over the limit (from `Content-Length` at once, or while reading),
/// 400 for malformed JSON — the message gives line and column, never the offending text.
pub async fn read_json<T: DeserializeOwned>(req: Request<Incoming>, limit: usize) -> Result<T, ApiError> {
    let is_json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType { expected: "application/json" });
    }
    let declared = req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let policy = req.extensions().get::<BodyPolicy>().copied();
    let body = Limited::new(req.into_body(), limit);
    let bytes = match policy {
        Some(policy) => collect_within(body, policy).await,
        None => body.collect().await.map(http_body_util::Collected::to_bytes).map_err(read_error),
    }
    .map_err(|e| match e {
        ApiError::PayloadTooLarge { .. } => ApiError::PayloadTooLarge { limit },
        other => other,
    })?;
    parse_json(&bytes)
}

/// Parses JSON, describing failures by position only. Every request body of the API is a JSON object: an
/// array is refused before serde sees it, because serde's derived structs would also take the fields as an
/// array in declaration order (`["a@example.com", "…"]` as a login), a shape no client is documented to send.
///
/// # Errors
/// [`ApiError::MalformedJson`].
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Some(start) = bytes.iter().position(|b| !b.is_ascii_whitespace())
        && bytes[start] == b'['
    {
        let (line, column) = line_and_column(bytes, start);
        return Err(ApiError::MalformedJson(format!(
            "JSON does not match the expected shape (an object) at line {line} column {column}"
        )));
    }
    // Read as text checked once as a whole: from bytes, serde_json checks every string on its own (20 strings
    // of a form's values: ~2,000 instructions), from text it need not.
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_and_column(bytes, e.valid_up_to());
        ApiError::MalformedJson(format!("invalid JSON at line {line} column {column}"))
    })?;
    serde_json::from_str(text).map_err(|e| {
        use serde_json::error::Category;
        let what = match e.classify() {
            Category::Io | Category::Syntax => "invalid JSON",
            Category::Eof => "truncated JSON",
            Category::Data => "JSON does not match the expected shape",
        };
        ApiError::MalformedJson(format!("{what} at line {} column {}", e.line(), e.column()))
    })
}

/// The line and column (both from 1, the column in bytes, as serde_json counts them) of `bytes[at]`.
fn line_and_column(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = &bytes[..at];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let column = at - before.iter().rposition(|&b| b == b'\n').map_or(0, |nl| nl + 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Shape {
        n: u32,
    }

    /// Error messages for bad JSON never echo what the client sent (it may be a secret).
    #[test]
    fn malformed_json_messages_do_not_echo_input() {
        let err = parse_json::<Shape>(br#"{"n": "Hn4Bv7Cx2Zl9Kj5Mg8Df3Sa6Qw1Er0Ty"}"#).expect_err("wrong type");
        let text = err.to_string();
        assert!(text.contains("line 1"), "{text}");
        assert!(!text.contains("Hn4Bv7"), "{text}");
        let err = parse_json::<Shape>(b"{\"n\": ").expect_err("truncated");
        assert!(err.to_string().starts_with("truncated JSON"));
        // Bytes that are not UTF-8, in a string or outside one: invalid JSON, located, not echoed.
        let err = parse_json::<Shape>(b"{\"n\":\n \"\xffHn4Bv7\"}").expect_err("not UTF-8");
        assert_eq!(err.to_string(), "invalid JSON at line 2 column 3");
        let err = parse_json::<Shape>(b"\xfe{}").expect_err("not UTF-8");
        assert_eq!(err.to_string(), "invalid JSON at line 1 column 1");
    }

    /// A body is an object: the fields as an array (which serde's derived structs would take in declaration
    /// order) are refused, with the position of the array.
    #[test]
    fn arrays_are_refused_where_an_object_is_expected() {
        let err = parse_json::<Shape>(b"  [7]").expect_err("an array");
        assert_eq!(err.to_string(), "JSON does not match the expected shape (an object) at line 1 column 3");
        assert_eq!(parse_json::<Shape>(b" {\"n\": 7}").expect("an object").n, 7);
    }

    fn policy(min_bytes_per_sec: u64) -> BodyPolicy {
        BodyPolicy {
            started: Instant::now(),
            deadline: Duration::from_secs(10),
            min_bytes_per_sec,
            grace: Duration::from_secs(5),
        }
    }

    /// The issue's stalled login (9 of 100 bytes) passes the grace period and is refused at its end as too
    /// slow; a body at the rate is refused only at the deadline; without a rate, only the deadline counts.
    #[tokio::test(start_paused = true)]
    async fn bodies_are_held_to_the_rate_after_the_grace_period_and_to_the_deadline() {
        let code = |verdict: Result<(), ApiError>| verdict.err().map(|e| e.code());
        let stalled = policy(240);
        let at = |secs: u64| stalled.started + Duration::from_secs(secs);
        assert_eq!(code(stalled.verdict(9, at(4))), None, "in the grace period");
        assert_eq!(code(stalled.verdict(9, at(5))), Some("body_too_slow"));
        assert_eq!(code(stalled.verdict(1200, at(5))), None, "240 bytes/s on average");
        assert_eq!(code(stalled.verdict(1_000_000, at(10))), Some("body_timeout"));
        let no_rate = policy(0);
        assert_eq!(code(no_rate.verdict(0, at(9))), None);
        assert_eq!(code(no_rate.verdict(0, at(10))), Some("body_timeout"));
        // Looked at again at the grace period's end, then every second, never after the deadline.
        assert_eq!(stalled.next_check(at(0)), at(5));
        assert_eq!(stalled.next_check(at(6)), at(7));
        assert_eq!(stalled.next_check(at(9) + Duration::from_millis(500)), at(10));
        assert_eq!(no_rate.next_check(at(0)), at(10));
        let slow = ApiError::SlowBody { code: "body_too_slow", detail: String::new() };
        assert_eq!(slow.status(), hyper::StatusCode::REQUEST_TIMEOUT);
    }
}
