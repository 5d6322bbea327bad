//! The ledger of the uploads in flight on this instance: who is uploading, from which address, how many bytes
//! arrived and when the last did, and the admission slot each holds. It is the upload pipeline's own state:
//! admission takes an entry (or refuses, at the instance's or the client's share), the receiving stream counts
//! every chunk into its entry without a lock or a mailbox (atomics), and the entry goes when its [`InFlight`]
//! guard drops — stored, refused, failed or cancelled alike. [`Ledger::snapshot`] reads it whole (the eviction
//! of slow uploads will).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tokio::time::Instant;
use uuid::Uuid;

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
    /// The entries and the shares; held only to admit, remove or copy an entry, never across an await.
    inner: Mutex<Entries>,
}

/// The entries, by slot, and how many each share key (an uploader, `address:<ip>`) has.
#[derive(Debug, Default)]
struct Entries {
    next_slot: u64,
    by_slot: BTreeMap<u64, Arc<Progress>>,
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
        entries.by_slot.remove(&self.progress.slot);
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
            inner: Mutex::default(),
        }
    }

    /// Enters an upload by `uploader` from `address`. The client's share is checked first: a client at its
    /// share is told so even when the instance has room.
    ///
    /// # Errors
    /// [`Full::Client`] or [`Full::Instance`]; nothing is entered then.
    pub fn admit(self: &Arc<Self>, uploader: &str, address: &str) -> Result<InFlight, Full> {
        let keys = share_keys(uploader, address);
        let mut entries = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if keys.iter().any(|k| entries.shares.get(k).copied().unwrap_or(0) >= self.per_client) {
            return Err(Full::Client);
        }
        if entries.by_slot.len() >= self.max_in_flight {
            return Err(Full::Instance);
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
        });
        entries.by_slot.insert(slot, Arc::clone(&progress));
        Ok(InFlight { ledger: Arc::clone(self), progress })
    }

    /// Uploads in flight now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).by_slot.len()
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
}
