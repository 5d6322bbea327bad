//! The contract between the runner and a job kind: what a kind's handler answers ([`JobFailure`]), how a
//! kind is declared ([`KindSpec`]: queue, attempts, backoff, timeout, period) and its retry delays.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::ports::jobs::{Job, NewJob};

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobFailure {
    /// Worth another attempt (after the backoff) while attempts remain.
    #[error("{0}")]
    Retry(String),
    /// Never worth another attempt (bad input, a decompression bomb): discarded at once.
    #[error("{0}")]
    Discard(String),
}

/// What a kind does with a claimed job. The error text is kept on the job: no secrets, no SQL.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// Runs one attempt of `job`; `Ok` carries the job's result.
    ///
    /// # Errors
    /// [`JobFailure`] when the attempt failed.
    async fn run(&self, job: &Job) -> Result<Option<serde_json::Value>, JobFailure>;

    /// Called when the runner discards `job` without its handler having answered: the last attempt ran past
    /// the kind's timeout, or its instance died during it. A kind that shows clients a state of its own (a
    /// photo's pending variants) ends it here; `error` is what the job keeps. Best effort; nothing by default.
    async fn discarded(&self, job: &Job, error: &str) {
        let _ = (job, error);
    }
}

/// Exponential backoff: attempt `n` waits `base · 2^(n-1)`, at most `max`, with up to a quarter of random
/// jitter either way (so jobs that failed together do not retry together).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Backoff {
    /// The delay after failed attempt `attempt` (1-based), before jitter.
    #[must_use]
    pub fn nominal(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The delay after failed attempt `attempt`, with jitter in [-25 %, +25 %].
    #[must_use]
    pub fn delay(&self, attempt: u32) -> Duration {
        let nominal = self.nominal(attempt);
        let jitter: f64 = rand::random_range(-0.25..=0.25);
        nominal.mul_f64(1.0 + jitter)
    }
}

/// Everything the runner needs to know about one kind.
#[derive(Clone)]
pub struct KindSpec {
    /// The kind's name (`jobs.prune`, `uploads.sweep`, …).
    pub kind: &'static str,
    /// The queue its jobs go to.
    pub queue: &'static str,
    /// The most attempts a job gets.
    pub max_attempts: u32,
    /// The delay between attempts.
    pub backoff: Backoff,
    /// How long one attempt may run before it counts as failed.
    pub timeout: Duration,
    /// `Some(period)`: enqueued once per period across the fleet.
    pub every: Option<Duration>,
    /// What it does.
    pub handler: Arc<dyn JobHandler>,
}

impl std::fmt::Debug for KindSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KindSpec")
            .field("kind", &self.kind)
            .field("queue", &self.queue)
            .field("max_attempts", &self.max_attempts)
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

impl KindSpec {
    /// A job of this kind with `args`, due now, with the kind's attempts.
    #[must_use]
    pub fn job(&self, args: serde_json::Value) -> NewJob {
        NewJob { max_attempts: self.max_attempts, ..NewJob::new(self.kind, self.queue, args) }
    }

    /// This kind's job for the period containing `now` (`None` for a kind that is not periodic): due at the
    /// period start, unique per period.
    #[must_use]
    pub fn periodic_job(&self, now: OffsetDateTime) -> Option<NewJob> {
        let every = i128::try_from(self.every?.as_nanos()).ok().filter(|n| *n > 0)?;
        let nanos = now.unix_timestamp_nanos();
        let start = OffsetDateTime::from_unix_timestamp_nanos(nanos - nanos.rem_euclid(every)).ok()?;
        let key = start.format(&time::format_description::well_known::Rfc3339).ok()?;
        Some(NewJob { run_at: start, period_key: Some(key), ..self.job(serde_json::Value::Null) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each failed attempt doubles the delay up to the cap, and jitter stays within a quarter either way.
    #[test]
    fn backoff_doubles_up_to_the_cap_with_bounded_jitter() {
        let backoff = Backoff { base: Duration::from_secs(1), max: Duration::from_secs(10) };
        assert_eq!(backoff.nominal(1), Duration::from_secs(1));
        assert_eq!(backoff.nominal(2), Duration::from_secs(2));
        assert_eq!(backoff.nominal(4), Duration::from_secs(8));
        assert_eq!(backoff.nominal(5), Duration::from_secs(10));
        assert_eq!(backoff.nominal(200), Duration::from_secs(10));
        for attempt in 1..6 {
            let delay = backoff.delay(attempt);
            let nominal = backoff.nominal(attempt);
            assert!(delay >= nominal.mul_f64(0.75) && delay <= nominal.mul_f64(1.25), "{delay:?} vs {nominal:?}");
        }
    }

    /// A periodic kind's job is due at the start of the current period and keyed by it, so every instance
    /// computes the same key within one period and a different one in the next.
    #[test]
    fn periodic_jobs_are_keyed_by_their_period_start() {
        struct Nothing;
        #[async_trait]
        impl JobHandler for Nothing {
            async fn run(&self, _job: &Job) -> Result<Option<serde_json::Value>, JobFailure> {
                Ok(None)
            }
        }
        let spec = KindSpec {
            kind: "jobs.prune",
            queue: "maintenance",
            max_attempts: 3,
            backoff: Backoff { base: Duration::from_secs(1), max: Duration::from_secs(1) },
            timeout: Duration::from_secs(1),
            every: Some(Duration::from_secs(60)),
            handler: Arc::new(Nothing),
        };
        let at = time::macros::datetime!(2026-11-27 10:15:42 UTC);
        let job = spec.periodic_job(at).unwrap();
        assert_eq!(job.run_at, time::macros::datetime!(2026-11-27 10:15:00 UTC));
        assert_eq!(job.period_key.as_deref(), Some("2026-11-27T10:15:00Z"));
        let same = spec.periodic_job(at + Duration::from_secs(17)).unwrap();
        assert_eq!(same.period_key, job.period_key);
        let next = spec.periodic_job(at + Duration::from_secs(18)).unwrap();
        assert_eq!(next.period_key.as_deref(), Some("2026-11-27T10:16:00Z"));
    }
}
