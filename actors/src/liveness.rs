//! What this instance itself saw of the database, for judging whether other instances are alive (issue 25 item
//! 5). Another instance's stale heartbeat or expired lease means it died only if it could have written them:
//! after a database outage every instance's heartbeats and leases are stale, the live ones included. So the
//! judges — the job runner's rescue of expired leases and the upload sweep's orphans — first ask
//! [`Continuity::steady_for`]: how long this instance has reached the database without a miss. They act only
//! once that covers the window in which a live instance shows itself again (a lease period, `live_within`),
//! i.e. several beats or renewals after the database came back. An instance that never saw the database fail
//! judges at once.
//!
//! The heartbeat, the runner's claims, renewals and rescues report every round trip here ([`Continuity::reached`],
//! [`Continuity::missed`]), so an outage is seen within a poll.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// This instance's view of its own database connection (see the module docs). Shared (`Arc`) by the heartbeat,
/// the job runner and the upload pipeline.
#[derive(Debug, Default)]
pub struct Continuity {
    /// Held only to read or update two instants, never across an await.
    seen: Mutex<Seen>,
}

/// The last miss and the first answer after it.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    /// When the database last did not answer.
    last_miss: Option<Instant>,
    /// When it first answered after that miss (`None` while it has not).
    back_since: Option<Instant>,
}

impl Continuity {
    /// No outage seen yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The database answered a round trip.
    pub fn reached(&self) {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if let (Some(miss), None) = (seen.last_miss, seen.back_since) {
            seen.back_since = Some(now);
            drop(seen);
            tracing::info!(
                event = "database_back",
                outage_ms = u64::try_from((now - miss).as_millis()).unwrap_or(u64::MAX),
                "the database answers again; other instances are not taken for dead until it has answered for a while"
            );
        }
    }

    /// The database did not answer a round trip (unreachable, or failing).
    pub fn missed(&self) {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let was_steady = seen.last_miss.is_none() || seen.back_since.is_some();
        seen.last_miss = Some(now);
        seen.back_since = None;
        drop(seen);
        if was_steady {
            tracing::warn!(
                event = "database_away",
                "the database does not answer this instance; stale heartbeats and leases of others are not trusted until it does again for a while"
            );
        }
    }

    /// How long the database has answered without a miss: [`Duration::MAX`] if it never missed, zero while it
    /// does not answer.
    #[must_use]
    pub fn steady_for(&self) -> Duration {
        let seen = *self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        match (seen.last_miss, seen.back_since) {
            (None, _) => Duration::MAX,
            (Some(_), None) => Duration::ZERO,
            (Some(_), Some(back)) => back.elapsed(),
        }
    }

    /// Whether another instance's silence over `window` says something: this instance has reached the database
    /// for at least that long, so a live instance had the whole window to write.
    #[must_use]
    pub fn trusts_silence_over(&self, window: Duration) -> bool {
        self.steady_for() >= window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without an outage silence is trusted at once; during one never; after one only once the database has
    /// answered for the whole window, and a new miss starts the wait again.
    #[tokio::test(start_paused = true)]
    async fn silence_is_trusted_only_after_the_database_answered_for_the_window() {
        let window = Duration::from_secs(15);
        let continuity = Continuity::new();
        continuity.reached();
        assert!(continuity.trusts_silence_over(window), "no outage seen");

        continuity.missed();
        tokio::time::advance(Duration::from_secs(20)).await;
        continuity.missed();
        assert!(!continuity.trusts_silence_over(window), "during the outage");
        continuity.reached();
        tokio::time::advance(Duration::from_secs(10)).await;
        continuity.reached();
        assert!(!continuity.trusts_silence_over(window), "10 s after it came back");
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(continuity.trusts_silence_over(window), "a whole window after it came back");

        continuity.missed();
        continuity.reached();
        assert!(!continuity.trusts_silence_over(window), "a new miss starts the wait again");
        assert!(continuity.steady_for() < window);
    }
}
