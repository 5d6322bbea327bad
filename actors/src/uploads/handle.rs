//! The upload pipeline's handle: the front door of the upload owner. It holds the pipeline's own state — the
//! [`Ledger`] of uploads in flight (admission: at most `max_in_flight` per instance and a share per uploader
//! and per client address, the rest refused) — and the per-address limit on guest upload tokens; it answers
//! the reads of upload records straight from the store, and sends the writes to the actor
//! ([`super::pipeline`]), whose mailbox serialises them. Receiving an upload ([`super::receive`]) and opening a
//! download ([`super::download`]) run in the caller's task through it: bytes never cross the mailbox.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use uuid::Uuid;

use super::ledger::{Full, InFlight, InFlightUpload, Ledger, Progress};
use super::pipeline::{
    NAME, Outcome, PipelineArgs, PipelineDeps, PipelineError, UploadPipeline, UploadPipelineMsg, count,
};
use super::pixel_budget::PixelBudget;
use crate::accounts::limiter::FailureLimiter;
use crate::handle::{ActorSlot, CallError};
use crate::ports::objects::ObjectKey;
use crate::ports::uploads::{UploadRecord, UploadStatus, VariantRecord};
use crate::supervisor::ChildSpec;

/// An admitted upload: its record (status `receiving`), its object key and its entry in the ledger (its
/// slot, given back when this drops, whatever happens to the request).
#[derive(Debug)]
pub(crate) struct Admission {
    /// The upload's record.
    pub(crate) record: UploadRecord,
    /// Where its bytes go.
    pub(crate) key: ObjectKey,
    /// Whether a file of the owner's quota was reserved for it (given back if the upload fails).
    reserved: bool,
    /// Its place in the ledger.
    in_flight: InFlight,
}

impl Admission {
    /// Its ledger entry, which the receiving stream counts into.
    pub(crate) fn progress(&self) -> &Arc<Progress> {
        self.in_flight.progress()
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        // Also when the request is dropped mid-upload (deadline, shutdown): the gauge goes back with the slot.
        metrics::gauge!("gantry_uploads_in_flight").decrement(1.0);
    }
}

/// The typed handle the gateway holds.
#[derive(Clone)]
pub struct UploadPipelineHandle {
    slot: Arc<ActorSlot<UploadPipelineMsg>>,
    deps: PipelineDeps,
    /// The uploads in flight on this instance (admission, progress).
    ledger: Arc<Ledger>,
    /// Guest tokens issued per client address (per hour).
    guest_tokens: Arc<FailureLimiter>,
    /// Guests' photo pixels per hour (per guest and per address); `None` charges nobody.
    pixel_budget: Option<Arc<PixelBudget>>,
}

impl std::fmt::Debug for UploadPipelineHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadPipelineHandle").field("slot", &self.slot).finish_non_exhaustive()
    }
}

impl UploadPipelineHandle {
    /// A handle admitting at most `max_in_flight` uploads at once and issuing at most
    /// `guest_tokens_per_hour` guest tokens per client address; the actor is started by the supervisor
    /// from [`Self::child_spec`]. `deps.mailbox` is replaced by the slot's.
    ///
    /// # Panics
    /// If `guest_tokens_per_hour` is zero (settings validation refuses that at start-up).
    #[must_use]
    pub fn new(
        mut deps: PipelineDeps,
        max_in_flight: usize,
        guest_tokens_per_hour: u32,
        mailbox_capacity: usize,
        call_timeout: Duration,
    ) -> Self {
        let slot = ActorSlot::new(NAME, mailbox_capacity, call_timeout);
        deps.mailbox = slot.mailbox();
        let ledger = Arc::new(Ledger::new(max_in_flight, deps.max_in_flight_per_client).with_min_rate(deps.min_rate));
        let guest_tokens = Arc::new(FailureLimiter::new(guest_tokens_per_hour, Duration::from_secs(3600), 100_000));
        Self { slot, deps, ledger, guest_tokens, pixel_budget: None }
    }

    /// This handle, charging guests' photos against `per_hour` pixels per guest and per client address
    /// (`uploads.guest_pixels_per_hour`; 0 charges nobody).
    #[must_use]
    pub fn with_guest_pixel_budget(mut self, per_hour: u64) -> Self {
        self.pixel_budget = (per_hour > 0).then(|| Arc::new(PixelBudget::new(per_hour, 100_000)));
        self
    }

    /// The guests' pixel budget, when there is one.
    pub(crate) fn pixel_budget(&self) -> Option<&PixelBudget> {
        self.pixel_budget.as_deref()
    }

    /// Counts a guest token for `address`, or refuses it when the address has had its share this hour.
    ///
    /// # Errors
    /// [`PipelineError::GuestTokenLimit`].
    pub fn allow_guest_token(&self, address: &str) -> Result<(), PipelineError> {
        let now = std::time::Instant::now();
        self.guest_tokens.check(address, now).map_err(|retry_after| PipelineError::GuestTokenLimit { retry_after })?;
        // The limiter counts "failures"; here every issued token counts against the address's window.
        self.guest_tokens.record_failure(address, now);
        Ok(())
    }

    /// Upload `id`'s record, if there is one.
    ///
    /// # Errors
    /// [`PipelineError::Unavailable`].
    pub async fn get(&self, id: Uuid) -> Result<Option<UploadRecord>, PipelineError> {
        Ok(self.deps.uploads.get_upload(id).await?)
    }

    /// Upload `id` if it is `owner`'s and stored; another owner's, a failed or an unknown one is `None` (the
    /// caller answers all three alike, so nobody learns which ids exist).
    ///
    /// # Errors
    /// [`PipelineError::Unavailable`].
    pub async fn owned(&self, id: Uuid, owner: &str) -> Result<Option<UploadRecord>, PipelineError> {
        Ok(self.get(id).await?.filter(|r| r.owner == owner && r.status == UploadStatus::Stored))
    }

    /// The variants of upload `id` (none for a non-image).
    ///
    /// # Errors
    /// [`PipelineError::Unavailable`].
    pub async fn variants(&self, id: Uuid) -> Result<Vec<VariantRecord>, PipelineError> {
        Ok(self.deps.uploads.variants(id).await?)
    }

    /// Admits an upload: takes its entry in the ledger (or refuses at the client's share, then at the
    /// instance's capacity), reserves one file of `max_files` (a guest token's quota; atomically, so concurrent
    /// uploads of one token cannot overshoot) and records it with its job.
    ///
    /// # Errors
    /// [`PipelineError::ClientAtCapacity`], [`PipelineError::AtCapacity`], [`PipelineError::QuotaExceeded`], or
    /// the stores / actor are unavailable.
    pub(crate) async fn admit(
        &self,
        owner: String,
        address: &str,
        filename: Option<String>,
        max_files: Option<u32>,
    ) -> Result<Admission, PipelineError> {
        let admitted = self.ledger.admit_displacing(&owner, address).map_err(|full| match full {
            Full::Client => {
                count("client_at_capacity");
                PipelineError::ClientAtCapacity
            }
            Full::Instance => {
                count("overloaded");
                PipelineError::AtCapacity
            }
        })?;
        if let Some(displaced) = &admitted.displaced {
            metrics::counter!("gantry_uploads_displaced_total").increment(1);
            tracing::info!(
                slot = displaced.slot,
                upload = ?displaced.upload,
                address = %displaced.address,
                bytes = displaced.bytes,
                secs = displaced.started.elapsed().as_secs(),
                "a slow upload gave its slot to a newcomer (every upload slot was taken)"
            );
        }
        let in_flight = admitted.in_flight;
        let progress = Arc::clone(in_flight.progress());
        let (record, key) =
            self.slot.call(|reply| UploadPipelineMsg::Begin { owner, filename, max_files, progress, reply }).await??;
        metrics::gauge!("gantry_uploads_in_flight").increment(1.0);
        Ok(Admission { record, key, reserved: max_files.is_some(), in_flight })
    }

    /// Finishes an admitted upload (its slot is given back when `admission` drops, here).
    ///
    /// # Errors
    /// The stores or the actor are unavailable.
    pub(crate) async fn finish(&self, admission: Admission, outcome: Outcome) -> Result<UploadRecord, PipelineError> {
        let record = admission.record.clone();
        let reserved = admission.reserved;
        let result = self.slot.call(|reply| UploadPipelineMsg::Finish { record, outcome, reserved, reply }).await?;
        drop(admission);
        result
    }

    /// Deletes an upload's object and record.
    ///
    /// # Errors
    /// The stores or the actor are unavailable.
    pub async fn delete(&self, record: UploadRecord) -> Result<(), PipelineError> {
        self.slot.call(|reply| UploadPipelineMsg::Delete { record, reply }).await?
    }

    /// Fails the uploads left `receiving` longer than the abandon deadline; returns how many.
    ///
    /// # Errors
    /// [`PipelineError`] when the stores fail, or [`CallError`]-derived errors when the actor is down.
    pub async fn sweep(&self) -> Result<usize, PipelineError> {
        self.slot.call(|reply| UploadPipelineMsg::Sweep { reply }).await?
    }

    /// Removes the object under `key` of upload `upload` (the `uploads.remove_object` job): straight to the
    /// object store, not through the mailbox, as the job runner already bounds how many run at once. Returns
    /// `false` and keeps the object when the upload is `stored` after all (an instance taken for dead by the
    /// sweep finished it meanwhile).
    ///
    /// # Errors
    /// [`PipelineError::Storage`] when the store failed, [`PipelineError::Unavailable`] when the record cannot
    /// be read (the job retries).
    pub async fn remove_object(&self, key: &ObjectKey, upload: Option<Uuid>) -> Result<bool, PipelineError> {
        if let Some(id) = upload
            && let Some(record) = self.deps.uploads.get_upload(id).await?
            && record.status == UploadStatus::Stored
        {
            return Ok(false);
        }
        let storage = |e: crate::ports::objects::ObjectStoreError| PipelineError::Storage(e.to_string());
        // A `put` cut off by the outage may have left an unfinished multipart upload of the key.
        self.deps.objects.abort_incomplete_of(key).await.map_err(storage)?;
        self.deps.objects.delete(key).await.map_err(storage)?;
        Ok(true)
    }

    /// Aborts the unfinished writes in the object store older than the abandon deadline (the periodic
    /// `uploads.abort_incomplete` job): no upload runs that long, so a crash left them. Returns how many.
    ///
    /// # Errors
    /// [`PipelineError::Storage`] when the store failed (the job retries).
    pub async fn abort_incomplete(&self) -> Result<u64, PipelineError> {
        let cutoff = OffsetDateTime::now_utc() - self.deps.abandon_after;
        self.deps.objects.abort_incomplete(cutoff).await.map_err(|e| PipelineError::Storage(e.to_string()))
    }

    /// Uploads in progress now.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.ledger.len()
    }

    /// The uploads in progress on this instance now: who, from where, how far (the pipeline answers from the
    /// ledger it owns, see [`Ledger::snapshot`]).
    ///
    /// # Errors
    /// [`CallError`] when the pipeline is not running, overloaded or too slow.
    pub async fn in_flight_uploads(&self) -> Result<Vec<InFlightUpload>, CallError> {
        self.slot.call(|reply| UploadPipelineMsg::InFlight { reply }).await
    }

    /// The pipeline's settings and ports (for the receiving and download paths of this module).
    pub(crate) fn deps(&self) -> &PipelineDeps {
        &self.deps
    }

    /// Whether the actor runs right now (readiness).
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.slot.current().is_some()
    }

    /// Makes the actor panic (supervision tests, chaos drills).
    ///
    /// # Errors
    /// The actor is not running or overloaded.
    #[cfg(any(test, feature = "chaos"))]
    pub fn inject_panic(&self) -> Result<(), CallError> {
        self.slot.cast(UploadPipelineMsg::InjectPanic)
    }

    /// How the supervisor starts (and restarts) the actor.
    #[must_use]
    pub fn child_spec(&self) -> ChildSpec {
        self.slot
            .child_spec::<UploadPipeline>(PipelineArgs { deps: self.deps.clone(), ledger: Arc::clone(&self.ledger) })
    }
}
