//! The upload pipeline actor: the single writer of upload records and their jobs. It records each admitted
//! upload and its job, finishes them (stored, or failed with a reason and the object removed by a job stored
//! with the failure), deletes uploads, and sweeps uploads left `receiving` by a crash.
//!
//! It also tidies up after itself: an upload this instance received whose request has ended (it is no longer in
//! the ledger) but that is still `receiving` — its end could not be recorded because the database was away, so
//! its client was answered 503, or a previous process under the same instance id died with it — is failed as
//! soon as the database answers again (`database_unavailable` for the former, `abandoned` for the latter), not
//! after the hour of the backstop. The sweep of other instances' uploads waits, after a database outage this
//! instance saw, until their heartbeats had time to resume ([`crate::liveness`]).
//!
//! Its mailbox serialises the database writes only: the bytes never pass through it (the request task
//! streams them, see [`super::receive`]), and admission (the ledger of uploads in flight) and the reads live
//! in its handle ([`super::handle`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::handle::{CallError, Envelope};
use crate::liveness::Continuity;
use crate::ports::Unavailable;
use crate::ports::jobs::{Job, JobState, JobStore, JobUpdate};
use crate::ports::objects::{ObjectKey, ObjectStore};
use crate::ports::rotations::Fleet;
use crate::ports::uploads::UploadStore;
pub use crate::ports::uploads::{UploadRecord, UploadStatus, VariantRecord, VariantState};
use crate::telemetry::Mailbox;
use crate::uploads::ledger::{InFlightUpload, Ledger, Progress};
use crate::uploads::photo::{self, PhotoSettings};

/// The actor's label in metrics and logs.
pub const NAME: &str = "upload_pipeline";

/// Why the pipeline refused or failed an operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PipelineError {
    /// Too many uploads in progress on this instance.
    #[error("too many uploads in progress")]
    AtCapacity,
    /// This uploader or client address already has its share of the uploads in progress.
    #[error("too many uploads in progress for this client")]
    ClientAtCapacity,
    /// The metadata or job store is unreachable.
    #[error("upload metadata unavailable: {0}")]
    Unavailable(String),
    /// The object store failed.
    #[error("object store unavailable: {0}")]
    Storage(String),
    /// The guest token's file quota is used up (deleting a file does not give it back).
    #[error("this upload token has reached its number of files")]
    QuotaExceeded,
    /// This client address asked for too many guest upload tokens.
    #[error("too many guest upload tokens; retry in {}s", .retry_after.as_secs())]
    GuestTokenLimit {
        /// When the address's window closes.
        retry_after: Duration,
    },
    /// The upload had ended before this instance could record it stored: the sweep failed it as abandoned
    /// (this instance was taken for dead); its bytes are removed by the failure's job.
    #[error("the upload was failed as abandoned before it could be recorded; upload it again")]
    Abandoned,
    /// The actor could not be reached.
    #[error(transparent)]
    Call(#[from] CallError),
}

impl From<Unavailable> for PipelineError {
    fn from(e: Unavailable) -> Self {
        Self::Unavailable(e.0)
    }
}

/// How an upload ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored.
    Stored {
        /// Bytes.
        size: u64,
        /// Hex SHA-256.
        sha256: String,
        /// The media type decided from the bytes.
        content_type: String,
    },
    /// Refused or aborted; `remove_object` when bytes may have reached the store (a digest mismatch).
    Failed {
        /// Stable reason (`payload_too_large`, `unsupported_media_type`, `digest_mismatch`, …).
        code: String,
        /// Delete the object.
        remove_object: bool,
    },
}

/// Messages of the pipeline.
pub enum UploadPipelineMsg {
    /// Records a new upload and its job.
    Begin {
        /// `user:<id>` or `guest:<id>`.
        owner: String,
        /// Display filename.
        filename: Option<String>,
        /// The owner's file quota (guest tokens), reserved atomically before the upload is recorded.
        max_files: Option<u32>,
        /// Its ledger entry, named after the record as soon as the record exists (so the tidying, which runs
        /// in this mailbox too, never takes a just-recorded upload for a leftover).
        progress: Arc<Progress>,
        /// The record.
        reply: RpcReplyPort<Result<(UploadRecord, ObjectKey), PipelineError>>,
    },
    /// Finishes an upload.
    Finish {
        /// The record as admitted.
        record: UploadRecord,
        /// How it ended.
        outcome: Outcome,
        /// Give the owner's reserved file back if the upload failed.
        reserved: bool,
        /// The record as stored.
        reply: RpcReplyPort<Result<UploadRecord, PipelineError>>,
    },
    /// Deletes an upload's object and record.
    Delete {
        /// The upload.
        record: UploadRecord,
        /// Done.
        reply: RpcReplyPort<Result<(), PipelineError>>,
    },
    /// Fails uploads left `receiving` by a crash (the fleet-wide periodic `uploads.sweep` job asks).
    Sweep {
        /// How many were failed.
        reply: RpcReplyPort<Result<usize, PipelineError>>,
    },
    /// Fails this instance's uploads whose request ended without their end recorded (timer; see the module
    /// docs).
    Tidy,
    /// The uploads in flight on this instance now, from the ledger the pipeline owns.
    InFlight {
        /// Who, from where, how far.
        reply: RpcReplyPort<Vec<InFlightUpload>>,
    },
    /// Fault injection for supervision tests and chaos drills.
    #[cfg(any(test, feature = "chaos"))]
    InjectPanic,
}

/// What the pipeline needs; shared by every (re)start.
#[derive(Clone)]
pub struct PipelineDeps {
    /// Upload metadata.
    pub uploads: Arc<dyn UploadStore>,
    /// Jobs.
    pub jobs: Arc<dyn JobStore>,
    /// Objects.
    pub objects: Arc<dyn ObjectStore>,
    /// An upload still `receiving` after this long is considered abandoned by the sweep (the backstop).
    pub abandon_after: Duration,
    /// Instance heartbeats: an upload `receiving` on an instance not among the live ones is abandoned.
    pub fleet: Arc<dyn Fleet>,
    /// This instance (recorded as the receiver of the uploads it admits).
    pub instance: Uuid,
    /// An instance is live while its last heartbeat is younger than this (`rotation.live_within_secs`).
    pub live_within: Duration,
    /// What this instance saw of the database: after an outage, others' stale heartbeats wait `live_within`.
    pub continuity: Arc<Continuity>,
    /// How often this instance's own leftovers are looked for while there may be some.
    pub tidy_every: Duration,
    /// Uploads in progress at once per uploader and per client address (each).
    pub max_in_flight_per_client: usize,
    /// How long an upload's body may send nothing before it is refused (`uploads.body_idle_timeout_secs`).
    pub body_idle_timeout: Duration,
    /// The rate an upload must keep (`uploads.min_bytes_per_sec` over `uploads.rate_window_secs`, after
    /// `uploads.rate_grace_secs`); `None` when `uploads.min_bytes_per_sec` is 0.
    pub min_rate: Option<crate::uploads::ledger::MinRate>,
    /// Which stored uploads get photo variants (and which).
    pub photos: Arc<PhotoSettings>,
    /// Checks uploaded PDFs whole for active content (`uploads.pdf_max_bytes`).
    pub pdf: Arc<super::pdf::PdfInspector>,
    /// Mailbox counter shared with the handle.
    pub mailbox: Arc<Mailbox>,
}

/// The actor.
#[derive(Debug, Default)]
pub struct UploadPipeline;

/// The actor's state.
pub struct PipelineState {
    deps: PipelineDeps,
    /// The uploads in flight on this instance. The pipeline owns it: it is made with the pipeline and lives
    /// across the actor's restarts, so an upload admitted before a restart keeps its place (and its slot) until
    /// its stream ends. Request tasks count into their own entries without a message (bytes never cross the
    /// mailbox); admission takes and gives back entries synchronously.
    ledger: Arc<Ledger>,
    /// Whether some upload of this instance may have been left `receiving` (a write failed; and at every
    /// start, for what a previous process or start left): the next tidy looks.
    untidy: bool,
    /// The uploads whose end this actor could not record (their clients were answered 503).
    refused: HashSet<Uuid>,
}

/// What the supervisor starts the pipeline with: its dependencies and the ledger it owns.
#[derive(Clone)]
pub struct PipelineArgs {
    /// The stores, settings and mailbox counter.
    pub deps: PipelineDeps,
    /// The uploads in flight, shared with the handle's admission.
    pub ledger: Arc<Ledger>,
}

/// Counts an upload's outcome (`gantry_uploads_total`).
pub(crate) fn count(outcome: &str) {
    metrics::counter!("gantry_uploads_total", "outcome" => outcome.to_owned()).increment(1);
}

impl PipelineState {
    async fn begin(
        &mut self,
        owner: String,
        filename: Option<String>,
        max_files: Option<u32>,
        progress: &Progress,
    ) -> Result<(UploadRecord, ObjectKey), PipelineError> {
        if let Some(max_files) = max_files
            && !self.deps.uploads.reserve_file(&owner, max_files).await?
        {
            count("quota_exceeded");
            return Err(PipelineError::QuotaExceeded);
        }
        let id = Uuid::now_v7();
        let key = ObjectKey::parse(format!("uploads/{id}")).map_err(|e| PipelineError::Storage(e.to_string()))?;
        let record = UploadRecord {
            id,
            owner: owner.clone(),
            object_key: key.as_str().to_owned(),
            filename,
            content_type: "application/octet-stream".into(),
            size: 0,
            sha256: String::new(),
            status: UploadStatus::Receiving,
            error: None,
            created_at: OffsetDateTime::now_utc(),
            received_by: Some(self.deps.instance),
        };
        self.deps.uploads.create_upload(&record).await?;
        progress.identify(id);
        // Run inline by this request: its one attempt starts now (the store stamps `finished_at` at its end).
        let job = Job {
            id,
            state: JobState::Running,
            attempt: 1,
            started_at: Some(OffsetDateTime::now_utc()),
            ..Job::new("upload", Some(owner))
        };
        if let Err(e) = self.deps.jobs.create(&job).await {
            // The record exists and its request ends here: the next tidy fails it.
            self.left_receiving(id);
            return Err(PipelineError::Unavailable(e.to_string()));
        }
        Ok((record, key))
    }

    /// Notes that upload `id` may be left `receiving` (its end could not be recorded): the tidy fails it.
    fn left_receiving(&mut self, id: Uuid) {
        self.refused.insert(id);
        self.untidy = true;
        metrics::counter!("gantry_upload_ends_deferred_total").increment(1);
        tracing::warn!(event = "upload_end_deferred", upload_id = %id,
            "the upload's end could not be recorded; it is failed when the database answers again");
    }

    /// Fails the uploads this instance received that are still `receiving` although their request ended (not
    /// in the ledger): `database_unavailable` for those whose end this actor could not record, `abandoned` for
    /// what an earlier process under this instance id left. Returns how many.
    async fn tidy(&mut self) -> Result<usize, PipelineError> {
        if !self.untidy {
            return Ok(0);
        }
        // Begin names the ledger entry in this mailbox, so every recorded upload still in flight is named here.
        let in_flight: HashSet<Uuid> = self.ledger.snapshot().into_iter().filter_map(|u| u.upload).collect();
        let receiving = self.deps.uploads.stale_uploads(OffsetDateTime::now_utc(), 1000).await?;
        let mut failed = 0;
        for record in receiving {
            if record.received_by != Some(self.deps.instance) || in_flight.contains(&record.id) {
                continue;
            }
            let code = if self.refused.contains(&record.id) { "database_unavailable" } else { "abandoned" };
            tracing::warn!(event = "upload_left_receiving", upload_id = %record.id, code,
                "failing an upload of this instance whose request ended without its end recorded");
            // Bytes may be in the store (the request may have stored them before its write failed).
            self.finish(record, Outcome::Failed { code: code.into(), remove_object: true }, false).await?;
            failed += 1;
        }
        self.untidy = false;
        self.refused.clear();
        Ok(failed)
    }

    async fn finish(
        &self,
        mut record: UploadRecord,
        outcome: Outcome,
        reserved: bool,
    ) -> Result<UploadRecord, PipelineError> {
        if reserved
            && matches!(outcome, Outcome::Failed { .. })
            && let Err(e) = self.deps.uploads.release_file(&record.owner).await
        {
            tracing::warn!(upload_id = %record.id, error = %e, "could not give a failed upload's file back to its quota");
        }
        let update = match outcome {
            Outcome::Stored { size, sha256, content_type } => {
                record.status = UploadStatus::Stored;
                record.size = size;
                record.sha256 = sha256;
                // The name's extension follows the bytes, so a download saved as `photo.html` cannot hold PNG
                // bytes (or the reverse) and be opened as the wrong thing.
                if let Some(media) = crate::uploads::media::MediaType::parse_mime(&content_type) {
                    record.filename =
                        record.filename.take().map(|name| crate::uploads::names::with_matching_extension(&name, media));
                }
                record.content_type = content_type;
                if !self.record_stored(&record).await? {
                    // The sweep failed it first (its job removes the bytes): the client hears it was not kept.
                    tracing::warn!(event = "upload_ended_meanwhile", upload_id = %record.id,
                        "the upload was failed as abandoned before it could be recorded stored");
                    // That failure's removal job may have run (woken at its commit) before these bytes were all
                    // written: one more removal, now that they are.
                    let removal = ObjectKey::parse(record.object_key.clone())
                        .map(|key| crate::uploads::removal::remove_object_job(&key, record.id));
                    if let Ok(job) = removal
                        && let Err(e) = self.deps.jobs.enqueue(&job).await
                    {
                        metrics::counter!("gantry_job_store_errors_total", "op" => "enqueue").increment(1);
                        tracing::warn!(upload_id = %record.id, error = %e,
                            "could not enqueue the removal of an abandoned upload's bytes; the sweep's job may have missed them");
                    }
                    return Err(PipelineError::Abandoned);
                }
                count("stored");
                metrics::counter!("gantry_upload_bytes_total").increment(size);
                JobUpdate {
                    state: Some(JobState::Completed),
                    result: Some(serde_json::json!({"upload_id": record.id, "size": size, "sha256": record.sha256})),
                    ..JobUpdate::default()
                }
            }
            Outcome::Failed { code, remove_object } => {
                record.status = UploadStatus::Failed;
                record.error = Some(code.clone());
                let ended = if remove_object {
                    // The object goes in a retried job stored with the failure, so a store that is down right
                    // now (or this instance dying) cannot leave the bytes behind for good.
                    let key = ObjectKey::parse(record.object_key.clone())
                        .map_err(|e| PipelineError::Storage(e.to_string()))?;
                    let job = super::removal::remove_object_job(&key, record.id);
                    self.deps.uploads.update_upload_enqueueing(&record, &job).await?
                } else {
                    self.deps.uploads.update_upload(&record).await?
                };
                if !ended {
                    // Its own instance recorded it first (the sweep took that instance for dead): it stands.
                    tracing::info!(upload_id = %record.id, code, "the upload had ended already; its end stands");
                    return Ok(record);
                }
                count(&code);
                JobUpdate { state: Some(JobState::Discarded), error: Some(code), ..JobUpdate::default() }
            }
        };
        if let Err(e) = self.deps.jobs.update(record.id, update).await {
            tracing::warn!(upload_id = %record.id, error = %e, "could not record the upload job's end");
        }
        Ok(record)
    }

    /// Writes a stored upload's record. An image (decided from its bytes) of an accepted photo type also gets
    /// its variants recorded as pending and its `uploads.photo` job enqueued, in the same transaction. `false`
    /// (nothing written) when the upload had ended already (failed by the sweep).
    async fn record_stored(&self, record: &UploadRecord) -> Result<bool, PipelineError> {
        let is_photo = crate::uploads::media::MediaType::parse_mime(&record.content_type)
            .is_some_and(|media| self.deps.photos.accepts(media));
        if is_photo {
            let job = photo::job(record.id, &record.owner);
            Ok(self.deps.uploads.store_with_variants(record, &self.deps.photos.variant_names(), &job).await?)
        } else {
            Ok(self.deps.uploads.update_upload(record).await?)
        }
    }

    /// Removes the objects of an upload's photo variants, best effort: their rows go with the record, and a
    /// variant object the store refuses to delete now stays behind (logged; a known gap, unlike the original,
    /// whose removal is a retried job).
    async fn remove_variants(&self, record: &UploadRecord) -> Result<(), PipelineError> {
        for variant in self.deps.uploads.variants(record.id).await? {
            let Ok(key) = photo::variant_key(record.id, &variant.name) else { continue };
            if let Err(e) = self.deps.objects.delete(&key).await {
                tracing::warn!(upload_id = %record.id, variant = %variant.name, error = %e, "could not remove a photo variant's object");
            }
        }
        Ok(())
    }

    async fn delete(&self, record: &UploadRecord) -> Result<(), PipelineError> {
        let key = ObjectKey::parse(record.object_key.clone()).map_err(|e| PipelineError::Storage(e.to_string()))?;
        self.remove_variants(record).await?;
        match self.deps.objects.delete(&key).await {
            Ok(()) => self.deps.uploads.delete_upload(record.id).await?,
            Err(e) => {
                // The owner asked for the upload to go, and it goes now; its bytes follow when the store is
                // back, by a retried job stored with the deletion (both or neither).
                tracing::warn!(upload_id = %record.id, error = %e, "object store refused a delete; removing the object by a job");
                let job = super::removal::remove_object_job(&key, record.id);
                self.deps.uploads.delete_upload_enqueueing(record.id, &job).await?;
            }
        }
        metrics::counter!("gantry_uploads_deleted_total").increment(1);
        Ok(())
    }

    async fn sweep(&self) -> Result<usize, PipelineError> {
        let now = OffsetDateTime::now_utc();
        let mut abandoned = self.orphans(now).await?;
        // The backstop: whatever is still `receiving` past the deadline (uploads recorded without their
        // instance, or whose instance came back under the same id).
        let cutoff = now - self.deps.abandon_after;
        for record in self.deps.uploads.stale_uploads(cutoff, 100).await? {
            if !abandoned.iter().any(|r| r.id == record.id) {
                abandoned.push(record);
            }
        }
        let n = abandoned.len();
        for record in abandoned {
            tracing::warn!(event = "upload_abandoned", upload_id = %record.id, received_by = ?record.received_by, "failing an upload left receiving");
            // An abandoned upload keeps its quota reservation (which upload reserved is not recorded; erring on the
            // side of the quota).
            self.finish(record, Outcome::Failed { code: "abandoned".into(), remove_object: true }, false).await?;
        }
        Ok(n)
    }

    /// Uploads `receiving` on an instance that stopped heart-beating: nobody will finish them. Only uploads
    /// older than one heartbeat window count (an instance that just started may not have beaten yet), and none
    /// when this instance is not among the live ones itself (the heartbeats are not being written, so their
    /// absence says nothing) or saw the database away within the window (nor could the others write theirs).
    async fn orphans(&self, now: OffsetDateTime) -> Result<Vec<UploadRecord>, PipelineError> {
        if !self.deps.continuity.trusts_silence_over(self.deps.live_within) {
            // Every heartbeat is stale after an outage this instance saw: the live instances get a whole window
            // to beat again before their silence means anything.
            tracing::info!(
                event = "orphan_sweep_deferred",
                "the database answered again only recently; orphaned uploads wait for the heartbeats to resume"
            );
            return Ok(Vec::new());
        }
        let live = self.deps.fleet.live_instances(self.deps.live_within).await?;
        if !live.contains(&self.deps.instance) {
            tracing::debug!("this instance has no recent heartbeat; orphaned uploads wait for the deadline");
            return Ok(Vec::new());
        }
        // Receiving uploads are at most `uploads.max_in_flight` per instance, so one page holds them all.
        let candidates = self.deps.uploads.stale_uploads(now - self.deps.live_within, 1000).await?;
        Ok(candidates.into_iter().filter(|r| r.received_by.is_some_and(|i| !live.contains(&i))).collect())
    }
}

impl Actor for UploadPipeline {
    type Msg = Envelope<UploadPipelineMsg>;
    type State = PipelineState;
    type Arguments = PipelineArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        args.deps.mailbox.reset();
        // One timer at a time (re-armed after each tidy), so an outage cannot pile ticks up in the mailbox.
        myself.send_after(args.deps.tidy_every, || Envelope::internal(UploadPipelineMsg::Tidy));
        // Untidy at every start: a previous process under this instance id (or a previous start of this actor)
        // may have left uploads `receiving`.
        Ok(PipelineState { deps: args.deps, ledger: args.ledger, untidy: true, refused: HashSet::new() })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        envelope: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let (message, _handling) = envelope.open(&state.deps.mailbox);
        match message {
            UploadPipelineMsg::Begin { owner, filename, max_files, progress, reply } => {
                let _ = reply.send(state.begin(owner, filename, max_files, &progress).await);
            }
            UploadPipelineMsg::Finish { record, outcome, reserved, reply } => {
                let id = record.id;
                let finished = state.finish(record, outcome, reserved).await;
                if matches!(finished, Err(PipelineError::Unavailable(_))) {
                    // Its request answers 503 and leaves the ledger: the upload must not stay `receiving`.
                    state.left_receiving(id);
                }
                let _ = reply.send(finished);
            }
            UploadPipelineMsg::Tidy => {
                match state.tidy().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(failed = n, "failed uploads of this instance left receiving"),
                    Err(e) => tracing::debug!(error = %e, "tidying uploads left receiving failed; retrying"),
                }
                myself.send_after(state.deps.tidy_every, || Envelope::internal(UploadPipelineMsg::Tidy));
            }
            UploadPipelineMsg::Delete { record, reply } => {
                let _ = reply.send(state.delete(&record).await);
            }
            UploadPipelineMsg::Sweep { reply } => {
                let swept = state.sweep().await;
                if let Ok(n @ 1..) = swept {
                    tracing::info!(abandoned = n, "swept abandoned uploads");
                }
                let _ = reply.send(swept);
            }
            UploadPipelineMsg::InFlight { reply } => {
                let _ = reply.send(state.ledger.snapshot());
            }
            #[cfg(any(test, feature = "chaos"))]
            UploadPipelineMsg::InjectPanic => {
                panic!("fault injected into {NAME}");
            }
        }
        Ok(())
    }
}
