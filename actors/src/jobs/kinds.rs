//! The job kinds the runner knows: their names, queues, attempts, backoff, timeouts, periods, and what each
//! does. Start-up builds the table ([`standard`], plus [`drills`] in chaos builds) from the settings.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::runner::{Backoff, JobFailure, JobHandler, KindSpec};
use crate::ports::accounts::{AccountStore, RevocationNotice};
use crate::ports::jobs::{Job, JobStore, NewJob};
use crate::ports::objects::ObjectKey;
use crate::ports::sessions::SessionStore;
use crate::uploads::photo::{self, PhotoDeps, PhotoJob};
use crate::uploads::pipeline::UploadPipelineHandle;

/// The queue of housekeeping kinds (sweeps and pruning), so they never wait behind user work.
pub const MAINTENANCE_QUEUE: &str = "maintenance";

/// Prunes finished jobs (periodic).
pub const PRUNE_JOBS: &str = "jobs.prune";
/// Fails uploads abandoned by a crashed instance (periodic).
pub const SWEEP_UPLOADS: &str = "uploads.sweep";
/// Writes an image upload's variants (enqueued with the write that marks the upload stored).
pub const PHOTO: &str = photo::KIND;
/// The queue of photo jobs (CPU-heavy; its own, small concurrency).
pub const MEDIA_QUEUE: &str = photo::QUEUE;

/// Removes a failed or deleted upload's object (and any unfinished multipart upload of its key), retried
/// through an object store outage: enqueued in the same transaction as the write that fails or deletes the
/// upload.
pub const REMOVE_OBJECT: &str = "uploads.remove_object";
/// `uploads.remove_object`'s attempts: with [`REMOVE_OBJECT_BACKOFF`] they span about 25 minutes of outage.
pub const REMOVE_OBJECT_ATTEMPTS: u32 = 10;
/// `uploads.remove_object`'s backoff: 10 s doubling up to 5 minutes.
pub const REMOVE_OBJECT_BACKOFF: Backoff = Backoff { base: Duration::from_secs(10), max: Duration::from_secs(300) };

/// The `uploads.remove_object` job for the object under `key` of upload `upload_id`.
#[must_use]
pub fn remove_object_job(key: &ObjectKey, upload_id: uuid::Uuid) -> NewJob {
    let args = serde_json::json!({ "key": key.as_str(), "upload_id": upload_id });
    NewJob { max_attempts: REMOVE_OBJECT_ATTEMPTS, ..NewJob::new(REMOVE_OBJECT, MAINTENANCE_QUEUE, args) }
}

/// Aborts unfinished writes in the object store (S3 multipart uploads, temporary files) older than the
/// upload abandon deadline, which a crash mid-upload leaves (periodic, every `uploads.sweep_secs`).
pub const ABORT_INCOMPLETE: &str = "uploads.abort_incomplete";

/// Prunes ended sessions and per-user revocation epochs that can no longer reject anything (periodic, every
/// `jobs.prune_every_secs`).
pub const PRUNE_SESSIONS: &str = "sessions.prune";

/// Completes the evidence of a revoke-all: counts the sessions it affected into its notice's
/// `active_sessions` (enqueued in the same transaction as the revocation).
pub const REVOKE_ALL: &str = "sessions.revoke_all";
/// The same for one user's sessions.
pub const REVOKE_USER: &str = "sessions.revoke_user";
/// The revocation evidence kinds' attempts and backoff: a second, doubling to 30 s (the rotation waits for the
/// count).
const EVIDENCE_ATTEMPTS: u32 = 5;
const EVIDENCE_BACKOFF: Backoff = Backoff { base: Duration::from_secs(1), max: Duration::from_secs(30) };

/// The runner job completing `notice`'s evidence: the notice's id (so `GET /admin/jobs/{id}` follows it), its
/// requester as owner, on the default queue.
#[must_use]
pub fn revocation_evidence_job(notice: &RevocationNotice) -> NewJob {
    let kind = if notice.user_id.is_some() { REVOKE_USER } else { REVOKE_ALL };
    let args = serde_json::json!({
        "notice_id": notice.id,
        "user_id": notice.user_id,
        "not_before_ms": notice.not_before_ms,
    });
    NewJob {
        id: notice.id,
        owner: Some(notice.requested_by.clone()),
        max_attempts: EVIDENCE_ATTEMPTS,
        ..NewJob::new(kind, crate::ports::jobs::DEFAULT_QUEUE, args)
    }
}

/// What the standard kinds need.
#[derive(Clone)]
pub struct KindDeps {
    /// The job store (pruning).
    pub jobs: Arc<dyn JobStore>,
    /// The upload pipeline (the sweep).
    pub pipeline: UploadPipelineHandle,
    /// Finished jobs older than this are pruned.
    pub keep_finished: Duration,
    /// How often finished jobs are pruned.
    pub prune_every: Duration,
    /// How often abandoned uploads are swept.
    pub sweep_every: Duration,
    /// Sessions (pruning).
    pub sessions: Arc<dyn SessionStore>,
    /// Users and their epochs (pruning).
    pub accounts: Arc<dyn AccountStore>,
    /// The longest a session's tokens can be accepted after it was created (absolute lifetime plus one
    /// access token's lifetime): an epoch older than this rejects nothing more.
    pub session_lifetime: Duration,
    /// What photo processing reads and writes.
    pub photo: PhotoDeps,
}

/// Housekeeping backoff: a few seconds, then up to a minute.
const HOUSEKEEPING_BACKOFF: Backoff = Backoff { base: Duration::from_secs(5), max: Duration::from_secs(60) };

/// The kinds every instance runs.
#[must_use]
pub fn standard(deps: &KindDeps) -> Vec<KindSpec> {
    let mut kinds = vec![
        KindSpec {
            kind: PRUNE_JOBS,
            queue: MAINTENANCE_QUEUE,
            max_attempts: 3,
            backoff: HOUSEKEEPING_BACKOFF,
            timeout: Duration::from_secs(120),
            every: Some(deps.prune_every),
            handler: Arc::new(PruneJobs { jobs: Arc::clone(&deps.jobs), keep: deps.keep_finished }),
        },
        KindSpec {
            kind: SWEEP_UPLOADS,
            queue: MAINTENANCE_QUEUE,
            max_attempts: 3,
            backoff: HOUSEKEEPING_BACKOFF,
            timeout: Duration::from_secs(120),
            every: Some(deps.sweep_every),
            handler: Arc::new(SweepUploads { pipeline: deps.pipeline.clone() }),
        },
        KindSpec {
            kind: REMOVE_OBJECT,
            queue: MAINTENANCE_QUEUE,
            max_attempts: REMOVE_OBJECT_ATTEMPTS,
            backoff: REMOVE_OBJECT_BACKOFF,
            timeout: Duration::from_secs(60),
            every: None,
            handler: Arc::new(RemoveObject { pipeline: deps.pipeline.clone() }),
        },
        KindSpec {
            kind: ABORT_INCOMPLETE,
            queue: MAINTENANCE_QUEUE,
            max_attempts: 3,
            backoff: HOUSEKEEPING_BACKOFF,
            timeout: Duration::from_secs(120),
            every: Some(deps.sweep_every),
            handler: Arc::new(AbortIncomplete { pipeline: deps.pipeline.clone() }),
        },
        KindSpec {
            kind: PRUNE_SESSIONS,
            queue: MAINTENANCE_QUEUE,
            max_attempts: 3,
            backoff: HOUSEKEEPING_BACKOFF,
            timeout: Duration::from_secs(120),
            every: Some(deps.prune_every),
            handler: Arc::new(PruneSessions {
                sessions: Arc::clone(&deps.sessions),
                accounts: Arc::clone(&deps.accounts),
                lifetime: deps.session_lifetime,
            }),
        },
        KindSpec {
            kind: PHOTO,
            queue: MEDIA_QUEUE,
            max_attempts: photo::MAX_ATTEMPTS,
            backoff: Backoff { base: Duration::from_secs(2), max: Duration::from_secs(60) },
            // A 50 MP photo takes seconds; a stuck store call is cut off here.
            timeout: Duration::from_secs(300),
            every: None,
            handler: Arc::new(PhotoJob::new(deps.photo.clone())),
        },
    ];
    for kind in [REVOKE_ALL, REVOKE_USER] {
        kinds.push(KindSpec {
            kind,
            queue: crate::ports::jobs::DEFAULT_QUEUE,
            max_attempts: EVIDENCE_ATTEMPTS,
            backoff: EVIDENCE_BACKOFF,
            timeout: Duration::from_secs(60),
            every: None,
            handler: Arc::new(RevocationEvidence {
                sessions: Arc::clone(&deps.sessions),
                accounts: Arc::clone(&deps.accounts),
            }),
        });
    }
    kinds
}

/// The kinds as the runner's table.
#[must_use]
pub fn table(kinds: Vec<KindSpec>) -> HashMap<&'static str, KindSpec> {
    kinds.into_iter().map(|k| (k.kind, k)).collect()
}

/// `jobs.prune`: deletes finished jobs older than the retention.
struct PruneJobs {
    jobs: Arc<dyn JobStore>,
    keep: Duration,
}

#[async_trait]
impl JobHandler for PruneJobs {
    async fn run(&self, _job: &Job) -> Result<Option<serde_json::Value>, JobFailure> {
        let before = OffsetDateTime::now_utc() - self.keep;
        let pruned = self.jobs.prune_finished(before).await.map_err(|e| JobFailure::Retry(e.to_string()))?;
        Ok(Some(serde_json::json!({ "pruned": pruned })))
    }
}

/// `uploads.sweep`: fails uploads left `receiving` past the abandon deadline.
struct SweepUploads {
    pipeline: UploadPipelineHandle,
}

#[async_trait]
impl JobHandler for SweepUploads {
    async fn run(&self, _job: &Job) -> Result<Option<serde_json::Value>, JobFailure> {
        let swept = self.pipeline.sweep().await.map_err(|e| JobFailure::Retry(e.to_string()))?;
        Ok(Some(serde_json::json!({ "abandoned": swept })))
    }
}

/// `uploads.remove_object`: deletes the object under `args.key` (absent is done), retried while the store
/// fails.
struct RemoveObject {
    pipeline: UploadPipelineHandle,
}

#[async_trait]
impl JobHandler for RemoveObject {
    async fn run(&self, job: &Job) -> Result<Option<serde_json::Value>, JobFailure> {
        let key = job.args["key"]
            .as_str()
            .and_then(|k| ObjectKey::parse(k).ok())
            .ok_or_else(|| JobFailure::Discard("the job names no valid object key".to_owned()))?;
        let upload = job.args["upload_id"].as_str().and_then(|id| uuid::Uuid::parse_str(id).ok());
        let removed = self.pipeline.remove_object(&key, upload).await.map_err(|e| JobFailure::Retry(e.to_string()))?;
        Ok(Some(serde_json::json!({ "key": key.as_str(), "removed": removed })))
    }
}

/// `sessions.prune`: deletes ended sessions (and their revocation entries) and the per-user epochs older
/// than a session's whole life.
struct PruneSessions {
    sessions: Arc<dyn SessionStore>,
    accounts: Arc<dyn AccountStore>,
    lifetime: Duration,
}

#[async_trait]
impl JobHandler for PruneSessions {
    async fn run(&self, _job: &Job) -> Result<Option<serde_json::Value>, JobFailure> {
        let now = OffsetDateTime::now_utc();
        let now_ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        let sessions = self.sessions.prune_expired(now_ms).await.map_err(|e| JobFailure::Retry(e.to_string()))?;
        let lifetime_ms = i64::try_from(self.lifetime.as_millis()).unwrap_or(i64::MAX);
        let epochs = self
            .accounts
            .prune_epochs(now_ms.saturating_sub(lifetime_ms))
            .await
            .map_err(|e| JobFailure::Retry(e.to_string()))?;
        Ok(Some(serde_json::json!({ "sessions": sessions, "epochs": epochs })))
    }
}

/// `sessions.revoke_all` / `sessions.revoke_user`: counts the sessions the revocation affected (the user's,
/// or all) into its notice: those created before the revocation and not expired when counted (on Redis, which
/// does not index creation times, every active one: logins since the revocation are counted too).
struct RevocationEvidence {
    sessions: Arc<dyn SessionStore>,
    accounts: Arc<dyn AccountStore>,
}

#[async_trait]
impl JobHandler for RevocationEvidence {
    async fn run(&self, job: &Job) -> Result<Option<serde_json::Value>, JobFailure> {
        let notice = job.args["notice_id"]
            .as_str()
            .and_then(|id| uuid::Uuid::parse_str(id).ok())
            .ok_or_else(|| JobFailure::Discard("the job names no revocation notice".to_owned()))?;
        let user = job.args["user_id"].as_str().and_then(|id| uuid::Uuid::parse_str(id).ok());
        let now_ms = i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        // The sessions the revocation ended: created before it (a login since is not among them).
        let before_ms = job.args["not_before_ms"].as_i64().unwrap_or(now_ms);
        let count = match user {
            Some(user) => self
                .sessions
                .list_for_user(user, now_ms)
                .await
                .map(|v| v.iter().filter(|s| s.created_at_ms < before_ms).count() as u64),
            None => self.sessions.count_active_created_before(now_ms, before_ms).await,
        }
        .map_err(|e| JobFailure::Retry(format!("count unavailable: {e}")))?;
        self.accounts.set_revocation_count(notice, count).await.map_err(|e| JobFailure::Retry(e.to_string()))?;
        let not_before = job.args["not_before_ms"]
            .as_i64()
            .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok())
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok());
        Ok(Some(serde_json::json!({ "not_before": not_before, "active_sessions": count })))
    }
}

/// `uploads.abort_incomplete`: aborts the object store's unfinished writes older than the abandon deadline.
struct AbortIncomplete {
    pipeline: UploadPipelineHandle,
}

#[async_trait]
impl JobHandler for AbortIncomplete {
    async fn run(&self, _job: &Job) -> Result<Option<serde_json::Value>, JobFailure> {
        let aborted = self.pipeline.abort_incomplete().await.map_err(|e| JobFailure::Retry(e.to_string()))?;
        if aborted > 0 {
            tracing::info!(aborted, "aborted unfinished uploads in the object store");
        }
        Ok(Some(serde_json::json!({ "aborted": aborted })))
    }
}

/// Drill kinds for tests and benchmarks; compiled only with the `chaos` feature (never in a release binary
/// unless asked for), so nothing outside a drill can enqueue work that sleeps or fails on purpose.
#[cfg(any(test, feature = "chaos"))]
pub mod drill {
    use super::{Arc, Backoff, Duration, Job, JobFailure, JobHandler, KindSpec, async_trait};

    /// Does nothing (benchmarks).
    pub const NOOP: &str = "drill.noop";
    /// Sleeps `args.ms`, then appends the job id to the file `args.marker` (the effect a test counts).
    pub const SLEEP: &str = "drill.sleep";
    /// Fails while `attempt <= args.fail_times`, then succeeds (retries, backoff, discard).
    pub const FAIL: &str = "drill.fail";

    /// The drill kinds: 3 attempts, 200 ms doubling backoff capped at 1 s, 30 s timeout.
    #[must_use]
    pub fn kinds() -> Vec<KindSpec> {
        let spec = |kind, handler: Arc<dyn JobHandler>| KindSpec {
            kind,
            queue: crate::ports::jobs::DEFAULT_QUEUE,
            max_attempts: 3,
            backoff: Backoff { base: Duration::from_millis(200), max: Duration::from_secs(1) },
            timeout: Duration::from_secs(30),
            every: None,
            handler,
        };
        vec![spec(NOOP, Arc::new(Noop)), spec(SLEEP, Arc::new(Sleep)), spec(FAIL, Arc::new(Fail))]
    }

    struct Noop;

    #[async_trait]
    impl JobHandler for Noop {
        async fn run(&self, _job: &Job) -> Result<Option<serde_json::Value>, JobFailure> {
            Ok(None)
        }
    }

    struct Sleep;

    #[async_trait]
    impl JobHandler for Sleep {
        async fn run(&self, job: &Job) -> Result<Option<serde_json::Value>, JobFailure> {
            let ms = job.args["ms"].as_u64().unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            if let Some(marker) = job.args["marker"].as_str() {
                use tokio::io::AsyncWriteExt;
                let mut file = tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(marker)
                    .await
                    .map_err(|e| JobFailure::Retry(format!("marker: {}", e.kind())))?;
                file.write_all(format!("{}\n", job.id).as_bytes())
                    .await
                    .map_err(|e| JobFailure::Retry(format!("marker: {}", e.kind())))?;
            }
            Ok(Some(serde_json::json!({ "slept_ms": ms })))
        }
    }

    struct Fail;

    #[async_trait]
    impl JobHandler for Fail {
        async fn run(&self, job: &Job) -> Result<Option<serde_json::Value>, JobFailure> {
            let fail_times = job.args["fail_times"].as_u64().unwrap_or(u64::MAX);
            if u64::from(job.attempt) <= fail_times {
                return Err(JobFailure::Retry(format!("drill failure on attempt {}", job.attempt)));
            }
            Ok(None)
        }
    }
}

/// The drill kinds in a chaos build; none otherwise.
#[must_use]
pub fn drills() -> Vec<KindSpec> {
    #[cfg(any(test, feature = "chaos"))]
    {
        drill::kinds()
    }
    #[cfg(not(any(test, feature = "chaos")))]
    {
        Vec::new()
    }
}
