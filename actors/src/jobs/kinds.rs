//! The job kinds the runner knows: their names, queues, attempts, backoff, timeouts, periods, and what each
//! does. Start-up builds the table ([`standard`], plus [`drills`] in chaos builds) from the settings.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::runner::{Backoff, JobFailure, JobHandler, KindSpec};
use crate::ports::jobs::{Job, JobStore};
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
    /// What photo processing reads and writes.
    pub photo: PhotoDeps,
}

/// Housekeeping backoff: a few seconds, then up to a minute.
const HOUSEKEEPING_BACKOFF: Backoff = Backoff { base: Duration::from_secs(5), max: Duration::from_secs(60) };

/// The kinds every instance runs.
#[must_use]
pub fn standard(deps: &KindDeps) -> Vec<KindSpec> {
    vec![
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
            kind: PHOTO,
            queue: MEDIA_QUEUE,
            max_attempts: photo::MAX_ATTEMPTS,
            backoff: Backoff { base: Duration::from_secs(2), max: Duration::from_secs(60) },
            // A 50 MP photo takes seconds; a stuck store call is cut off here.
            timeout: Duration::from_secs(300),
            every: None,
            handler: Arc::new(PhotoJob::new(deps.photo.clone())),
        },
    ]
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
