//! The one retry loop of the test suites (included by each with `#[path]`): poll a probe until its value is
//! accepted or a deadline passes, then hand back that value, or the last one seen.

use std::fmt::Debug;
use std::time::Duration;

use tokio::time::Instant;

/// How long to keep polling, and how long to wait between two probes.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    /// Time from the first probe after which a rejected value ends the polling.
    pub within: Duration,
    /// Pause between two probes.
    pub every: Duration,
}

impl Deadline {
    /// Poll for `within`, probing every `every`.
    pub const fn new(within: Duration, every: Duration) -> Self {
        Self { within, every }
    }

    /// `within` milliseconds, probing every `every` milliseconds.
    pub const fn ms(within: u64, every: u64) -> Self {
        Self::new(Duration::from_millis(within), Duration::from_millis(every))
    }
}

/// Probes until `accept` takes the value (`Ok`) or `deadline.within` has passed (`Err` with the last value
/// seen). The clock is Tokio's, so a test with a paused clock polls on its virtual time; a probe that ends
/// after the deadline is still judged, so a condition met in time is never missed.
pub async fn poll<T>(
    deadline: Deadline,
    mut probe: impl AsyncFnMut() -> T,
    mut accept: impl FnMut(&T) -> bool,
) -> Result<T, T> {
    let started = Instant::now();
    loop {
        let value = probe().await;
        if accept(&value) {
            return Ok(value);
        }
        if started.elapsed() >= deadline.within {
            return Err(value);
        }
        tokio::time::sleep(deadline.every).await;
    }
}

/// Like [`poll`], returning the accepted value or the last one seen alike: for callers whose assertions
/// after the wait say more than a timeout would.
pub async fn settled<T>(deadline: Deadline, probe: impl AsyncFnMut() -> T, accept: impl FnMut(&T) -> bool) -> T {
    poll(deadline, probe, accept).await.unwrap_or_else(|last| last)
}

/// Like [`poll`], but a value never accepted fails the test with `what` and the last value seen.
pub async fn eventually<T: Debug>(
    what: &str,
    deadline: Deadline,
    probe: impl AsyncFnMut() -> T,
    accept: impl FnMut(&T) -> bool,
) -> T {
    match poll(deadline, probe, accept).await {
        Ok(value) => value,
        Err(last) => panic!("{what}: not within {:?}; last seen: {last:?}", deadline.within),
    }
}
