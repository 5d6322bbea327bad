//! The ledger of the uploads in flight on this instance: who is uploading, from which address, how many bytes
//! arrived and when the last did, and the admission slot each holds. It is the upload pipeline's own state:
//! admission takes an entry (or refuses, at the instance's or the client's share), the receiving stream counts
//! every chunk into its entry without a lock or a mailbox (atomics), and the entry goes when its [`InFlight`]
//! guard drops — stored, refused, failed or cancelled alike. [`Ledger::snapshot`] reads it whole.
//!
//! It also keeps uploads moving: the rule [`MinRate`] (pure, no I/O) says when an upload is too slow — below
//! `uploads.min_bytes_per_sec` over a window, after a grace period — and, when every slot is taken, a newcomer
//! displaces the slowest upload that is under the rate ([`MinRate::displaceable`]): its entry is marked
//! displaced (it no longer counts against the instance's capacity, so the newcomer gets its place at once) and
//! its receiving stream is woken to end with 408. A trickle of a byte every few seconds cannot hold the slots.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use uuid::Uuid;

/// The minimum rate an upload keeps (`uploads.min_bytes_per_sec`, `uploads.rate_window_secs`,
/// `uploads.rate_grace_secs`): the shape of Kestrel's `MinRequestBodyDataRate`. Pure: it is given the counts
/// and the instants, and answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinRate {
    /// Bytes per second an upload must average over each window.
    pub bytes_per_sec: u64,
    /// The window the rate is averaged over (the first one ends at the grace period's end, or at one window
    /// after admission if that is later).
    pub window: Duration,
    /// No upload is too slow before this long after its admission (a connection warming up, a client
    /// computing a digest first).
    pub grace: Duration,
}

impl MinRate {
    /// When the rate is first checked, for an upload admitted at `started`.
    #[must_use]
    pub fn first_check(&self, started: Instant) -> Instant {
        started + self.grace.max(self.window)
    }

    /// Whether `bytes` arriving over `elapsed` (one window, or the time since admission for the first) is
    /// below the rate.
    #[must_use]
    pub fn too_slow(&self, bytes: u64, elapsed: Duration) -> bool {
        // bytes / secs < rate, without dividing (and without rounding a short window to zero).
        u128::from(bytes) * 1_000_000 < u128::from(self.bytes_per_sec) * elapsed.as_micros()
    }

    /// The slot of the upload a newcomer may displace when every slot is taken: among `uploads` past their
    /// grace period whose average since admission is below the rate, the slowest (the oldest of equals);
    /// `None` when every upload keeps the rate (the newcomer is refused instead).
    #[must_use]
    pub fn displaceable(&self, uploads: &[InFlightUpload], now: Instant) -> Option<u64> {
        uploads
            .iter()
            .filter_map(|u| {
                let elapsed = now.saturating_duration_since(u.started);
                (elapsed >= self.grace && self.too_slow(u.bytes, elapsed))
                    // Micro-bytes per second (bytes × 10¹² / µs): fine enough to order trickles of a byte a minute.
                    .then(|| (u128::from(u.bytes) * 1_000_000_000_000 / elapsed.as_micros().max(1), u.slot))
            })
            .min()
            .map(|(_, slot)| slot)
    }
}

/// Why the ledger has no room for an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// The uploader or the client address already has its share of the uploads in flight.
    Client,
    /// The instance has its most uploads in flight.
    Instance,
}

/// The uploads in flight (see the module docs). Shared (`Arc`) by the pipeline's handle and the request tasks.
#[derive(Debug)]
pub struct Ledger {
    /// Uploads in flight at once on this instance.
    max_in_flight: usize,
    /// Uploads in flight at once per uploader and per client address (each).
    per_client: usize,
    /// What progress instants are counted from (an entry stores them as nanoseconds since).
    epoch: Instant,
    /// The minimum rate, when uploads must keep one (`None`: only the idle timeout holds them to sending).
    min_rate: Option<MinRate>,
    /// The entries and the shares; held only to admit, remove or copy an entry, never across an await.
    inner: Mutex<Entries>,
}

/// The entries, by slot, and how many each share key (an uploader, `address:<ip>`) has.
#[derive(Debug, Default)]
struct Entries {
    next_slot: u64,
    by_slot: BTreeMap<u64, Arc<Progress>>,
    /// Entries displaced by a newcomer that have not ended yet: they no longer count against the capacity.
    displaced: usize,
    /// Only keys with an upload in flight have a count, so at most twice `max_in_flight` keys.
    shares: HashMap<String, usize>,
}

/// One upload's entry. The receiving stream updates it through [`Progress::advance`].
#[derive(Debug)]
pub struct Progress {
    /// Its admission slot: a number unique in this ledger's life.
    slot: u64,
    /// `user:<id>` or `guest:<id>`.
    uploader: String,
    /// The client address it comes from.
    address: String,
    /// Its upload id, once its record exists.
    upload: OnceLock<Uuid>,
    /// The ledger's epoch (to turn [`Self::last_progress`] back into an instant).
    epoch: Instant,
    /// When it was admitted.
    started: Instant,
    /// Bytes received so far.
    bytes: AtomicU64,
    /// Nanoseconds from the epoch to the last chunk (to the admission before the first).
    last_progress: AtomicU64,
    /// Set when a newcomer displaced this upload (it was the slowest under the rate with every slot taken).
    displaced: AtomicBool,
    /// Wakes the receiving stream when the upload is displaced.
    wake: Arc<Notify>,
}

fn nanos_since(epoch: Instant, at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch).as_nanos()).unwrap_or(u64::MAX)
}

fn share_keys(uploader: &str, address: &str) -> [String; 2] {
    [uploader.to_owned(), format!("address:{address}")]
}

impl Progress {
    /// Counts `bytes` more, arrived now.
    pub fn advance(&self, bytes: usize) {
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.last_progress.store(nanos_since(self.epoch, Instant::now()), Ordering::Relaxed);
    }

    /// Names the upload this entry is for (its record was just created); the first name stays.
    pub fn identify(&self, upload: Uuid) {
        let _ = self.upload.set(upload);
    }

    /// When the upload was admitted.
    #[must_use]
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Whether a newcomer displaced this upload: its stream ends it (408).
    #[must_use]
    pub fn is_displaced(&self) -> bool {
        self.displaced.load(Ordering::Acquire)
    }

    /// What the receiving stream waits on to learn of its displacement (`notify_one`: a wake is never lost).
    #[must_use]
    pub fn displacement(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    fn view(&self) -> InFlightUpload {
        let last = self.last_progress.load(Ordering::Relaxed);
        InFlightUpload {
            slot: self.slot,
            upload: self.upload.get().copied(),
            uploader: self.uploader.clone(),
            address: self.address.clone(),
            bytes: self.bytes.load(Ordering::Relaxed),
            started: self.started,
            last_progress: self.epoch + std::time::Duration::from_nanos(last),
        }
    }
}

/// One upload in flight, as a [`Ledger::snapshot`] saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlightUpload {
    /// Its admission slot.
    pub slot: u64,
    /// Its upload id (`None` while its record is being created).
    pub upload: Option<Uuid>,
    /// `user:<id>` or `guest:<id>`.
    pub uploader: String,
    /// The client address.
    pub address: String,
    /// Bytes received so far.
    pub bytes: u64,
    /// When it was admitted.
    pub started: Instant,
    /// When its last chunk arrived (its admission before the first).
    pub last_progress: Instant,
}

/// An admission: the newcomer's place, and the upload it displaced to get it (if it had to).
#[derive(Debug)]
pub struct Admitted {
    /// The newcomer's place.
    pub in_flight: InFlight,
    /// The upload displaced for it, as it was then.
    pub displaced: Option<InFlightUpload>,
}

/// An upload's place in the ledger. Dropping it removes the entry and gives its slot and shares back, however
/// the upload ends (stored, refused, failed, or its request dropped).
#[derive(Debug)]
pub struct InFlight {
    ledger: Arc<Ledger>,
    progress: Arc<Progress>,
}

impl InFlight {
    /// The entry the receiving stream updates.
    #[must_use]
    pub fn progress(&self) -> &Arc<Progress> {
        &self.progress
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut entries = self.ledger.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.by_slot.remove(&self.progress.slot).is_some() && self.progress.is_displaced() {
            entries.displaced = entries.displaced.saturating_sub(1);
        }
        for key in share_keys(&self.progress.uploader, &self.progress.address) {
            if let Some(n) = entries.shares.get_mut(&key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    entries.shares.remove(&key);
                }
            }
        }
    }
}

impl Ledger {
    /// An empty ledger admitting `max_in_flight` uploads at once, `per_client` of them per uploader and per
    /// client address (each at least 1).
    #[must_use]
    pub fn new(max_in_flight: usize, per_client: usize) -> Self {
        Self {
            max_in_flight: max_in_flight.max(1),
            per_client: per_client.max(1),
            epoch: Instant::now(),
            min_rate: None,
            inner: Mutex::default(),
        }
    }

    /// This ledger, with uploads held to `min_rate` (a newcomer may displace the slowest under it).
    #[must_use]
    pub fn with_min_rate(mut self, min_rate: Option<MinRate>) -> Self {
        self.min_rate = min_rate;
        self
    }

    /// The minimum rate uploads keep, if any.
    #[must_use]
    pub fn min_rate(&self) -> Option<MinRate> {
        self.min_rate
    }

    /// Enters an upload by `uploader` from `address`. The client's share is checked first: a client at its
    /// share is told so even when the instance has room. When every slot is taken, the slowest upload under
    /// the minimum rate (if any) is displaced to make room; its slot is named in [`Admitted::displaced`].
    ///
    /// # Errors
    /// [`Full::Client`] or [`Full::Instance`]; nothing is entered then.
    pub fn admit(self: &Arc<Self>, uploader: &str, address: &str) -> Result<InFlight, Full> {
        self.admit_displacing(uploader, address).map(|admitted| admitted.in_flight)
    }

    /// [`Self::admit`], also naming the upload displaced to make room.
    ///
    /// # Errors
    /// As [`Self::admit`].
    pub fn admit_displacing(self: &Arc<Self>, uploader: &str, address: &str) -> Result<Admitted, Full> {
        let keys = share_keys(uploader, address);
        let mut entries = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if keys.iter().any(|k| entries.shares.get(k).copied().unwrap_or(0) >= self.per_client) {
            return Err(Full::Client);
        }
        let mut displaced = None;
        if entries.by_slot.len() - entries.displaced >= self.max_in_flight {
            let rule = self.min_rate.ok_or(Full::Instance)?;
            let now = Instant::now();
            let candidates: Vec<InFlightUpload> =
                entries.by_slot.values().filter(|p| !p.is_displaced()).map(|p| p.view()).collect();
            let slot = rule.displaceable(&candidates, now).ok_or(Full::Instance)?;
            let victim = entries.by_slot.get(&slot).map(Arc::clone).ok_or(Full::Instance)?;
            victim.displaced.store(true, Ordering::Release);
            victim.wake.notify_one();
            entries.displaced += 1;
            displaced = candidates.into_iter().find(|u| u.slot == slot);
        }
        for key in keys {
            *entries.shares.entry(key).or_default() += 1;
        }
        let slot = entries.next_slot;
        entries.next_slot += 1;
        let now = Instant::now();
        let progress = Arc::new(Progress {
            slot,
            uploader: uploader.to_owned(),
            address: address.to_owned(),
            upload: OnceLock::new(),
            epoch: self.epoch,
            started: now,
            bytes: AtomicU64::new(0),
            last_progress: AtomicU64::new(nanos_since(self.epoch, now)),
            displaced: AtomicBool::new(false),
            wake: Arc::new(Notify::new()),
        });
        entries.by_slot.insert(slot, Arc::clone(&progress));
        Ok(Admitted { in_flight: InFlight { ledger: Arc::clone(self), progress }, displaced })
    }

    /// Uploads in flight now (displaced ones that have not ended yet excluded).
    #[must_use]
    pub fn len(&self) -> usize {
        let entries = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        entries.by_slot.len() - entries.displaced
    }

    /// Whether no upload is in flight.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every upload in flight, oldest admission first.
    #[must_use]
    pub fn snapshot(&self) -> Vec<InFlightUpload> {
        let entries: Vec<Arc<Progress>> =
            self.inner.lock().unwrap_or_else(PoisonError::into_inner).by_slot.values().cloned().collect();
        entries.iter().map(|p| p.view()).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// An admitted upload is in the snapshot until its guard drops, whichever way its request ends.
    #[test]
    fn entry_is_removed_when_its_guard_drops() {
        let ledger = Arc::new(Ledger::new(4, 4));
        let first = ledger.admit("user:a", "10.0.0.1").expect("room");
        let second = ledger.admit("user:b", "10.0.0.2").expect("room");
        assert_eq!(ledger.len(), 2);
        drop(first);
        let left = ledger.snapshot();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].uploader, "user:b");
        drop(second);
        assert!(ledger.is_empty());
    }

    /// A cancelled upload (its request task dropped mid-body) leaves no entry behind.
    #[tokio::test]
    async fn cancelled_upload_leaves_no_entry() {
        let ledger = Arc::new(Ledger::new(4, 4));
        let held = Arc::clone(&ledger);
        let task = tokio::spawn(async move {
            let _in_flight = held.admit("user:a", "10.0.0.1").expect("room");
            std::future::pending::<()>().await;
        });
        tokio::task::yield_now().await;
        while ledger.is_empty() {
            tokio::task::yield_now().await;
        }
        task.abort();
        let _ = task.await;
        assert!(ledger.is_empty());
    }

    /// Chunks are counted into the entry, with the instant of the last one.
    #[tokio::test(start_paused = true)]
    async fn bytes_and_last_progress_are_counted() {
        let ledger = Arc::new(Ledger::new(4, 4));
        let in_flight = ledger.admit("guest:t", "10.0.0.9").expect("room");
        in_flight.progress().identify(Uuid::nil());
        let admitted = ledger.snapshot()[0].clone();
        assert_eq!((admitted.bytes, admitted.last_progress), (0, admitted.started));
        tokio::time::advance(Duration::from_secs(3)).await;
        in_flight.progress().advance(1000);
        in_flight.progress().advance(24);
        let seen = ledger.snapshot().pop().expect("one entry");
        assert_eq!(seen.bytes, 1024);
        assert_eq!(seen.last_progress, admitted.started + Duration::from_secs(3));
        assert_eq!(seen.upload, Some(Uuid::nil()));
        assert_eq!((seen.uploader.as_str(), seen.address.as_str()), ("guest:t", "10.0.0.9"));
    }

    /// The client's share is refused before the instance's capacity; a freed place is taken again.
    #[test]
    fn shares_and_capacity_refuse_then_free() {
        let ledger = Arc::new(Ledger::new(2, 1));
        let first = ledger.admit("user:a", "10.0.0.1").expect("room");
        assert_eq!(ledger.admit("user:a", "10.0.0.2").err(), Some(Full::Client), "same uploader");
        assert_eq!(ledger.admit("user:b", "10.0.0.1").err(), Some(Full::Client), "same address");
        let _second = ledger.admit("user:b", "10.0.0.2").expect("room");
        assert_eq!(ledger.admit("user:c", "10.0.0.3").err(), Some(Full::Instance));
        drop(first);
        let _third = ledger.admit("user:a", "10.0.0.1").expect("the place is free again");
        let slots: Vec<u64> = ledger.snapshot().iter().map(|e| e.slot).collect();
        assert_eq!(slots, vec![1, 2]);
    }

    fn rule() -> MinRate {
        MinRate { bytes_per_sec: 100, window: Duration::from_secs(4), grace: Duration::from_secs(2) }
    }

    fn upload(slot: u64, started: Instant, bytes: u64) -> InFlightUpload {
        InFlightUpload {
            slot,
            upload: None,
            uploader: format!("user:{slot}"),
            address: "10.0.0.1".into(),
            bytes,
            started,
            last_progress: started,
        }
    }

    /// The rate is checked from the later of the grace period and one window; below it is too slow, at it not.
    #[tokio::test(start_paused = true)]
    async fn the_rate_is_a_threshold_after_the_grace_period() {
        let rule = rule();
        let now = Instant::now();
        assert_eq!(rule.first_check(now), now + Duration::from_secs(4));
        let longer_grace = MinRate { grace: Duration::from_secs(9), ..rule };
        assert_eq!(longer_grace.first_check(now), now + Duration::from_secs(9));
        assert!(rule.too_slow(399, Duration::from_secs(4)));
        assert!(!rule.too_slow(400, Duration::from_secs(4)));
        assert!(rule.too_slow(0, Duration::from_millis(1)));
        assert!(!rule.too_slow(1, Duration::from_millis(10)));
    }

    /// A newcomer may displace only an upload past its grace period and under the rate, and the slowest of
    /// those; uploads keeping the rate (or still in their grace period) are never displaced.
    #[tokio::test(start_paused = true)]
    async fn only_the_slowest_upload_under_the_rate_is_displaceable() {
        let rule = rule();
        let t0 = Instant::now();
        let now = t0 + Duration::from_secs(10);
        let fast = upload(1, t0, 5_000);
        let trickle = upload(2, t0, 5);
        let slower = upload(3, t0, 2);
        let young = upload(4, now - Duration::from_secs(1), 0);
        assert_eq!(rule.displaceable(&[fast.clone(), trickle.clone(), slower, young.clone()], now), Some(3));
        assert_eq!(rule.displaceable(&[fast.clone(), trickle, young.clone()], now), Some(2));
        assert_eq!(rule.displaceable(&[fast, young], now), None, "all keep the rate or are in their grace");
        // Equal rates: the oldest admission (lowest slot) goes.
        assert_eq!(rule.displaceable(&[upload(7, t0, 0), upload(6, t0, 0)], now), Some(6));
    }

    /// With every slot taken, a newcomer displaces the trickling upload: the trickler is marked and woken, the
    /// newcomer holds a slot at once, and the capacity counts the trickler out until its guard drops.
    #[tokio::test(start_paused = true)]
    async fn a_newcomer_displaces_a_trickler_when_the_slots_are_full() {
        let ledger = Arc::new(Ledger::new(2, 1).with_min_rate(Some(rule())));
        let steady = ledger.admit("user:a", "10.0.0.1").expect("room");
        let trickler = ledger.admit("user:b", "10.0.0.2").expect("room");
        let woken = trickler.progress().displacement();
        tokio::time::advance(Duration::from_secs(5)).await;
        steady.progress().advance(5_000);
        trickler.progress().advance(1);
        let admitted = ledger.admit_displacing("user:c", "10.0.0.3").expect("displaces the trickler");
        let displaced = admitted.displaced.expect("one was displaced");
        assert_eq!(displaced.uploader, "user:b");
        assert!(trickler.progress().is_displaced());
        assert!(!steady.progress().is_displaced());
        tokio::time::timeout(Duration::from_millis(1), woken.notified()).await.expect("the trickler is woken");
        assert_eq!(ledger.len(), 2, "the displaced upload no longer counts");
        // Nobody else under the rate: the next newcomer is refused.
        assert_eq!(ledger.admit("user:d", "10.0.0.4").err(), Some(Full::Instance));
        drop(trickler);
        assert_eq!(ledger.len(), 2);
        assert_eq!(ledger.snapshot().len(), 2);
    }

    /// Without a minimum rate a full ledger refuses as before, however slow its uploads are.
    #[tokio::test(start_paused = true)]
    async fn without_a_rate_nothing_is_displaced() {
        let ledger = Arc::new(Ledger::new(1, 1));
        let _slow = ledger.admit("user:a", "10.0.0.1").expect("room");
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(ledger.admit("user:b", "10.0.0.2").err(), Some(Full::Instance));
    }
}
