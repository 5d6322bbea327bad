//! Password-hashing slots with admission control: the bound in front of argon2.
//!
//! A slot is held for one password operation (the account look-up and the hash or verification it needs).
//! Under a storm — everybody logging in again after a revoke-all — a plain semaphore with a timeout queues
//! every request and serves them oldest first: each waits nearly the whole timeout, and the clients have given
//! up by the time their hash is computed, so the server works at full speed for nobody. Here a request is
//! admitted only if it can expect to *start* within `max_wait`: the expected wait is the number of requests
//! already waiting, divided by the number of slots, times the average time a slot is held (a moving average of
//! what it really took, contention included). The rest are refused at once, before the account is looked up or
//! anything is hashed, so every slot-second goes to a client that is still there.
//!
//! Written here rather than taken from a crate: what it needs is a tokio `Semaphore` plus one counter and one
//! moving average; the load-shedding crates (tower's `load_shed`, concurrency limiters) decide on the number in
//! flight, not on the wait a newcomer can expect.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// What a slot is assumed to be held for until one has been measured (an argon2id verification on a busy
/// core, with its account look-up).
const INITIAL_HOLD: Duration = Duration::from_millis(40);
/// Weight of the newest measurement in the moving average, as a right shift (1/8).
const SMOOTHING_SHIFT: u32 = 3;

/// Why no slot was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The expected wait was already longer than allowed: refused without waiting.
    Shed,
    /// Admitted, but no slot freed up within the allowed wait.
    TimedOut,
}

/// The hashing slots (see the module docs). Cheap to clone.
#[derive(Debug, Clone)]
pub struct HashingSlots(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// One permit per slot.
    permits: Arc<Semaphore>,
    /// How many slots there are.
    slots: u64,
    /// Requests admitted and waiting for a permit.
    waiting: AtomicUsize,
    /// Moving average of how long a slot is held, microseconds.
    hold_micros: AtomicU64,
    /// The longest wait a request is admitted for.
    max_wait: Duration,
}

/// A held slot; dropping it frees the slot and records how long it was held. It can move into the blocking
/// task that hashes, so the slot is freed the moment the hash is done, not when the async caller next runs.
#[derive(Debug)]
pub struct Slot {
    /// The permit itself.
    _permit: OwnedSemaphorePermit,
    /// The slots it came from (for the moving average).
    owner: Arc<Inner>,
    /// When it was taken.
    since: Instant,
}

/// Takes one off the waiting count when the wait ends, however it ends (including the caller going away).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl HashingSlots {
    /// `slots` slots (at least one); requests are admitted for at most `max_wait` of waiting.
    #[must_use]
    pub fn new(slots: usize, max_wait: Duration) -> Self {
        let slots = slots.max(1);
        Self(Arc::new(Inner {
            permits: Arc::new(Semaphore::new(slots)),
            slots: slots as u64,
            waiting: AtomicUsize::new(0),
            hold_micros: AtomicU64::new(micros(INITIAL_HOLD)),
            max_wait,
        }))
    }

    /// How long a newcomer can expect to wait for a slot now.
    #[must_use]
    pub fn expected_wait(&self) -> Duration {
        let ahead = self.0.waiting.load(Ordering::Acquire) as u64;
        expected_wait(ahead, self.0.slots, self.0.hold_micros.load(Ordering::Relaxed))
    }

    /// Slots free right now.
    #[must_use]
    pub fn available(&self) -> usize {
        self.0.permits.available_permits()
    }

    /// A slot: at once if one is free; after waiting if the expected wait is within `max_wait`; otherwise
    /// [`Refusal::Shed`] without waiting.
    ///
    /// # Errors
    /// [`Refusal::Shed`] or [`Refusal::TimedOut`].
    pub async fn acquire(&self) -> Result<Slot, Refusal> {
        let inner = &self.0;
        if let Ok(permit) = Arc::clone(&inner.permits).try_acquire_owned() {
            return Ok(self.slot(permit));
        }
        let ahead = inner.waiting.fetch_add(1, Ordering::AcqRel) as u64;
        let waiting = Waiting(&inner.waiting);
        // This request waits behind `ahead` others and for a slot to free up: (ahead + 1) holds spread over
        // the slots.
        if expected_wait(ahead + 1, inner.slots, inner.hold_micros.load(Ordering::Relaxed)) > inner.max_wait {
            return Err(Refusal::Shed);
        }
        let permit = tokio::time::timeout(inner.max_wait, Arc::clone(&inner.permits).acquire_owned())
            .await
            .map_err(|_| Refusal::TimedOut)?
            // The semaphore is never closed.
            .map_err(|_| Refusal::TimedOut)?;
        drop(waiting);
        Ok(self.slot(permit))
    }

    fn slot(&self, permit: OwnedSemaphorePermit) -> Slot {
        Slot { _permit: permit, owner: Arc::clone(&self.0), since: Instant::now() }
    }
}

impl Inner {
    fn record_hold(&self, held: Duration) {
        let sample = micros(held);
        // A lost update under a race only skips one sample of an average; no lock is worth that.
        let old = self.hold_micros.load(Ordering::Relaxed);
        let new = old - (old >> SMOOTHING_SHIFT) + (sample >> SMOOTHING_SHIFT);
        self.hold_micros.store(new.max(1), Ordering::Relaxed);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.owner.record_hold(self.since.elapsed());
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn expected_wait(holds: u64, slots: u64, hold_micros: u64) -> Duration {
    Duration::from_micros(holds.saturating_mul(hold_micros) / slots.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Free slots are given at once, and a request that would have to wait longer than allowed is refused at
    /// once instead of queueing (the storm case), while one that can expect to start in time waits its turn.
    #[tokio::test(start_paused = true)]
    async fn refuses_what_cannot_start_in_time_and_queues_what_can() {
        let slots = HashingSlots::new(2, Duration::from_millis(100));
        let a = slots.acquire().await.unwrap();
        let _b = slots.acquire().await.unwrap();
        assert_eq!(slots.available(), 0);
        // Nobody waits: one hold (40 ms initial estimate) over two slots is 20 ms ≤ 100 ms: admitted.
        let release = async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            drop(a);
        };
        let (got, ()) = tokio::join!(slots.acquire(), release);
        let _c = got.expect("admitted and served when a slot freed up");
        // Fill the queue until the expected wait passes 100 ms: 2 slots × 100 ms / ~40 ms per hold ≈ 5 waiters.
        let mut queued = Vec::new();
        let refused = loop {
            let mut fut = Box::pin(slots.acquire());
            match futures_poll_once(&mut fut).await {
                Some(Err(refusal)) => break refusal,
                Some(Ok(_)) => panic!("no slot should be free"),
                None => queued.push(fut),
            }
            assert!(queued.len() < 50, "never refused");
        };
        assert_eq!(refused, Refusal::Shed);
        assert!((3..=6).contains(&queued.len()), "{} admitted to wait", queued.len());
        assert!(slots.expected_wait() <= Duration::from_millis(100) + Duration::from_millis(40));
        // The queued ones that do not get a slot within max_wait time out; the waiting count comes back to 0.
        for fut in queued {
            assert_eq!(fut.await.map(|_| ()), Err(Refusal::TimedOut));
        }
        assert_eq!(slots.expected_wait(), Duration::ZERO);
    }

    /// Polls a future once: its output if ready.
    async fn futures_poll_once<F: std::future::Future + Unpin>(fut: &mut F) -> Option<F::Output> {
        std::future::poll_fn(|cx| match std::pin::Pin::new(&mut *fut).poll(cx) {
            std::task::Poll::Ready(out) => std::task::Poll::Ready(Some(out)),
            std::task::Poll::Pending => std::task::Poll::Ready(None),
        })
        .await
    }

    /// The moving average follows what holding a slot really costs, so the admission adapts to the machine.
    #[test]
    fn hold_average_moves_toward_measurements() {
        let slots = HashingSlots::new(1, Duration::from_secs(1));
        for _ in 0..64 {
            slots.0.record_hold(Duration::from_millis(200));
        }
        let avg = Duration::from_micros(slots.0.hold_micros.load(Ordering::Relaxed));
        assert!(avg > Duration::from_millis(190) && avg <= Duration::from_millis(200), "{avg:?}");
    }
}
