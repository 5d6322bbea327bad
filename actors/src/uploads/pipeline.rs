//! The upload pipeline actor: the single writer of upload records and their jobs. It records each admitted
//! upload and its job, finishes them (stored, or failed with a reason and the object removed by a job stored
//! with the failure), deletes uploads, and sweeps uploads left `receiving` by a crash.
//!
//! Its mailbox serialises the database writes only: the bytes never pass through it (the request task
//! streams them, see [`super::receive`]), and admission (the ledger of uploads in flight) and the reads live
//! in its handle ([`super::handle`]).

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::handle::{CallError, Envelope};
use crate::ports::Unavailable;
use crate::ports::jobs::{Job, JobState, JobStore, JobUpdate};
use crate::ports::objects::{ObjectKey, ObjectStore};
use crate::ports::rotations::Fleet;
use crate::ports::uploads::UploadStore;
pub use crate::ports::uploads::{UploadRecord, UploadStatus, VariantRecord, VariantState};
use crate::telemetry::Mailbox;
use crate::uploads::ledger::{InFlightUpload, Ledger};
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
    /// Uploads in progress at once per uploader and per client address (each).
    pub max_in_flight_per_client: usize,
    /// How long an upload's body may send nothing before it is refused (`uploads.body_idle_timeout_secs`).
    pub body_idle_timeout: Duration,
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
        &self,
        owner: String,
        filename: Option<String>,
        max_files: Option<u32>,
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
        // Run inline by this request: its one attempt starts now (the store stamps `finished_at` at its end).
        let job = Job {
            id,
            state: JobState::Running,
            attempt: 1,
            started_at: Some(OffsetDateTime::now_utc()),
            ..Job::new("upload", Some(owner))
        };
        self.deps.jobs.create(&job).await.map_err(|e| PipelineError::Unavailable(e.to_string()))?;
        Ok((record, key))
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
    /// absence says nothing).
    async fn orphans(&self, now: OffsetDateTime) -> Result<Vec<UploadRecord>, PipelineError> {
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
        _myself: ActorRef<Self::Msg>,
        args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        args.deps.mailbox.reset();
        Ok(PipelineState { deps: args.deps, ledger: args.ledger })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        envelope: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let (message, _handling) = envelope.open(&state.deps.mailbox);
        match message {
            UploadPipelineMsg::Begin { owner, filename, max_files, reply } => {
                let _ = reply.send(state.begin(owner, filename, max_files).await);
            }
            UploadPipelineMsg::Finish { record, outcome, reserved, reply } => {
                let _ = reply.send(state.finish(record, outcome, reserved).await);
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
