//! Failed-login limits: a fixed window of attempts per key, with a bounded number of keys.
//!
//! Login keeps three limiters: per (account, address) pair, tight (one address guessing one account's password);
//! per account across addresses, loose (a distributed guess at one account, without letting a third party lock
//! the user out of their own address with a handful of failures from elsewhere); per address (one address
//! spraying many accounts). A key's window opens at its first attempt and lasts `window`.
//!
//! Login counts an attempt *before* the password is verified ([`FailureLimiter::try_acquire`]: check and count
//! in one critical section), so simultaneous attempts cannot all pass the check before any is counted; a success
//! gives its attempt back ([`FailureLimiter::release`]) or clears the key ([`FailureLimiter::reset`]).
//!
//! Time is passed in, so callers use `Instant::now()` and tests move the clock by hand.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Counts failures per key in fixed windows and says when a key must wait.
///
/// Memory is bounded by `max_keys`: when a new key arrives and the table is full, closed windows are dropped first,
/// and if every window is still open the oldest is evicted. Under a spray of distinct keys that evicts real counters
/// early, which loosens the limit for those keys but keeps memory bounded; the other limiter (by address or by
/// email) still applies.
#[derive(Debug)]
pub struct FailureLimiter {
    /// Failures allowed in one window; the key is refused once it has this many.
    max_failures: u32,
    /// How long a window lasts, from the key's first failure in it.
    window: Duration,
    /// Most keys tracked at once.
    max_keys: usize,
    /// Open (and not yet swept) windows by key. A std `Mutex` suffices: it is never held across an `.await`, and
    /// each critical section is a hash-map operation (a linear sweep only when the table is full), far shorter than
    /// the password hash that accompanies every failure.
    windows: Mutex<HashMap<String, Window>>,
}

/// One key's current window.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// When the window opened (the first failure in it).
    started: Instant,
    /// Failures recorded since `started`.
    failures: u32,
}

impl Window {
    /// How long this window has been open at `now` (zero if `now` is earlier than its start).
    fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started)
    }
}

impl FailureLimiter {
    /// A limiter refusing a key after `max_failures` failures within `window`, tracking at most `max_keys` keys.
    ///
    /// # Panics
    /// If `max_failures` or `max_keys` is zero, or `window` is zero: a limiter that blocks nothing or everything is
    /// a configuration mistake, to be caught when settings are validated at start-up.
    #[must_use]
    pub fn new(max_failures: u32, window: Duration, max_keys: usize) -> Self {
        assert!(max_failures > 0, "max_failures must be at least 1");
        assert!(!window.is_zero(), "window must be longer than zero");
        assert!(max_keys > 0, "max_keys must be at least 1");
        Self { max_failures, window, max_keys, windows: Mutex::new(HashMap::new()) }
    }

    /// Whether `key` may try to log in at `now`.
    ///
    /// # Errors
    /// The time until the key's window closes, when it already holds `max_failures` failures (for `Retry-After`).
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let windows = self.lock();
        match windows.get(key) {
            Some(window) if window.failures >= self.max_failures => {
                let age = window.age(now);
                if age < self.window { Err(self.window - age) } else { Ok(()) }
            }
            _ => Ok(()),
        }
    }

    /// Checks and counts an attempt for `key` at `now` in one step: refused (with the time until the window
    /// closes) when the window already holds `max_failures` attempts, else counted. Concurrent callers are
    /// serialised by the lock, so at most `max_failures` of them pass per window.
    ///
    /// # Errors
    /// The time until the key's window closes (for `Retry-After`).
    pub fn try_acquire(&self, key: &str, now: Instant) -> Result<(), Duration> {
        {
            let mut windows = self.lock();
            if let Some(window) = windows.get_mut(key)
                && window.age(now) < self.window
            {
                if window.failures >= self.max_failures {
                    return Err(self.window - window.age(now));
                }
                window.failures += 1;
                return Ok(());
            }
        }
        self.record_failure(key, now);
        Ok(())
    }

    /// Gives back one attempt counted by [`Self::try_acquire`] (the attempt succeeded, or was never tried).
    pub fn release(&self, key: &str) {
        let mut windows = self.lock();
        if let Some(window) = windows.get_mut(key) {
            window.failures = window.failures.saturating_sub(1);
            if window.failures == 0 {
                windows.remove(key);
            }
        }
    }

    /// Counts a failed login for `key` at `now`, opening a new window if none is open.
    pub fn record_failure(&self, key: &str, now: Instant) {
        let mut windows = self.lock();
        if let Some(window) = windows.get_mut(key) {
            if window.age(now) < self.window {
                window.failures = window.failures.saturating_add(1);
            } else {
                *window = Window { started: now, failures: 1 };
            }
            return;
        }
        if windows.len() >= self.max_keys {
            windows.retain(|_, window| window.age(now) < self.window);
        }
        if windows.len() >= self.max_keys {
            let oldest = windows.iter().min_by_key(|(_, window)| window.started).map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                windows.remove(&oldest);
            }
        }
        windows.insert(key.to_owned(), Window { started: now, failures: 1 });
    }

    /// Forgets `key`'s failures, after a successful login.
    pub fn reset(&self, key: &str) {
        self.lock().remove(key);
    }

    /// How many keys are tracked now (for a gauge, and to show the bound holds).
    #[must_use]
    pub fn tracked_keys(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Window>> {
        // Nothing in a critical section panics, and the map holds plain counters that are valid after any partial
        // update, so a poisoned lock is safe to keep using.
        self.windows.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(15 * 60);

    /// A key is allowed until its `max_failures`-th failure, then refused until its window (from the first failure)
    /// closes; other keys are unaffected.
    #[test]
    fn blocks_after_max_failures_with_retry_after_until_window_end() {
        let limiter = FailureLimiter::new(3, WINDOW, 100);
        let start = Instant::now();

        limiter.record_failure("volvo@example.com", start);
        limiter.record_failure("volvo@example.com", start + Duration::from_secs(60));
        assert_eq!(limiter.check("volvo@example.com", start + Duration::from_secs(61)), Ok(()));

        limiter.record_failure("volvo@example.com", start + Duration::from_secs(120));
        let retry_after = limiter.check("volvo@example.com", start + Duration::from_secs(180));

        assert_eq!(retry_after, Err(WINDOW - Duration::from_secs(180)));
        assert_eq!(limiter.check("scania@example.com", start + Duration::from_secs(180)), Ok(()));
    }

    /// Once the window has closed the key is allowed again, and its next failure starts a fresh count.
    #[test]
    fn window_expiry_unblocks_and_restarts_the_count() {
        let limiter = FailureLimiter::new(2, WINDOW, 100);
        let start = Instant::now();
        limiter.record_failure("10.0.0.1", start);
        limiter.record_failure("10.0.0.1", start);
        assert!(limiter.check("10.0.0.1", start + WINDOW - Duration::from_secs(1)).is_err());

        assert_eq!(limiter.check("10.0.0.1", start + WINDOW), Ok(()));
        limiter.record_failure("10.0.0.1", start + WINDOW);
        assert_eq!(limiter.check("10.0.0.1", start + WINDOW), Ok(()));
    }

    /// A successful login's reset clears a blocked key at once.
    #[test]
    fn reset_clears_failures() {
        let limiter = FailureLimiter::new(2, WINDOW, 100);
        let now = Instant::now();
        limiter.record_failure("volvo@example.com", now);
        limiter.record_failure("volvo@example.com", now);
        assert!(limiter.check("volvo@example.com", now).is_err());

        limiter.reset("volvo@example.com");

        assert_eq!(limiter.check("volvo@example.com", now), Ok(()));
        assert_eq!(limiter.tracked_keys(), 0);
    }

    /// Ten times `max_keys` distinct keys never grow the table past `max_keys`; the newest keys are the ones kept.
    #[test]
    fn key_bound_holds_under_a_spray_of_distinct_keys() {
        let limiter = FailureLimiter::new(1, WINDOW, 64);
        let start = Instant::now();

        for i in 0..640u64 {
            limiter.record_failure(&format!("spray-{i}@example.com"), start + Duration::from_millis(i));
            assert!(limiter.tracked_keys() <= 64);
        }

        let now = start + Duration::from_secs(1);
        assert_eq!(limiter.tracked_keys(), 64);
        assert!(limiter.check("spray-639@example.com", now).is_err());
        assert!(limiter.check("spray-576@example.com", now).is_err());
        assert_eq!(limiter.check("spray-575@example.com", now), Ok(()));
    }

    /// `try_acquire` lets exactly `max_failures` attempts through per window, however they interleave, and a
    /// released attempt can be taken again.
    #[test]
    fn try_acquire_counts_before_the_attempt_and_release_gives_it_back() {
        let limiter = std::sync::Arc::new(FailureLimiter::new(5, WINDOW, 100));
        let now = Instant::now();
        let passed: usize = (0..8)
            .map(|_| {
                let limiter = std::sync::Arc::clone(&limiter);
                std::thread::spawn(move || (0..25).filter(|_| limiter.try_acquire("pair", now).is_ok()).count())
            })
            .map(|t| t.join().expect("thread"))
            .sum();
        assert_eq!(passed, 5);
        limiter.release("pair");
        assert_eq!(limiter.try_acquire("pair", now), Ok(()));
        assert!(limiter.try_acquire("pair", now).is_err());
        assert_eq!(limiter.try_acquire("pair", now + WINDOW), Ok(()), "a new window");
    }

    /// When the table is full, closed windows are dropped before any open one is evicted.
    #[test]
    fn full_table_drops_expired_windows_before_evicting_open_ones() {
        let limiter = FailureLimiter::new(1, WINDOW, 3);
        let start = Instant::now();
        limiter.record_failure("old-a", start);
        limiter.record_failure("old-b", start);
        limiter.record_failure("live", start + WINDOW / 2);

        let later = start + WINDOW + Duration::from_secs(1);
        limiter.record_failure("new", later);

        assert_eq!(limiter.tracked_keys(), 2);
        assert!(limiter.check("live", later).is_err());
        assert!(limiter.check("new", later).is_err());
    }
}
