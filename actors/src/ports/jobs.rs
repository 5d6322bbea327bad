//! The job store port and the job type. Jobs are rows in the profile's database: the runner
//! ([`crate::jobs::runner`]) claims due ones with a lease, renews it while working and records the outcome;
//! long-running work that runs inline (mass logout, uploads, rotations) is recorded as a job too, so clients
//! and operators follow both at `GET /v1/jobs/{id}`. A record-only job has no `run_at` and is never claimed.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::Unavailable;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for its `run_at`.
    Scheduled,
    /// Due (or, for a record-only job, accepted and not started).
    Available,
    /// Leased by an instance (or, for a record-only job, started).
    Running,
    /// An attempt failed; due again at `run_at`.
    Retryable,
    /// Finished successfully; `result` holds the outcome.
    Completed,
    /// Finished unsuccessfully for good (out of attempts, or not retryable); `error` keeps the last error.
    Discarded,
    /// Cancelled by an operator.
    Cancelled,
}

impl JobState {
    /// Every state, in life order.
    pub const ALL: [Self; 7] = [
        Self::Scheduled,
        Self::Available,
        Self::Running,
        Self::Retryable,
        Self::Completed,
        Self::Discarded,
        Self::Cancelled,
    ];

    /// The stored spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Available => "available",
            Self::Running => "running",
            Self::Retryable => "retryable",
            Self::Completed => "completed",
            Self::Discarded => "discarded",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses the stored spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }

    /// Whether the job has ended.
    #[must_use]
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Discarded | Self::Cancelled)
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Server-generated (UUID v7, so ids sort by creation).
    pub id: Uuid,
    /// What kind of work (`sessions.revoke_all`, `upload`, `secrets.rotate`, `jobs.prune`, …).
    pub kind: String,
    /// Current state.
    pub state: JobState,
    /// Free-form progress (current step, percentages); `null` until the job reports any.
    pub progress: serde_json::Value,
    /// The outcome of a completed job.
    pub result: Option<serde_json::Value>,
    /// The reason the last attempt failed; safe to show (no secrets, no SQL).
    pub error: Option<String>,
    /// Who asked for it (a user id, `admin`, `guest:<token id>`), for access checks.
    pub owner: Option<String>,
    /// When it was accepted.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// The worker pool that runs it.
    pub queue: String,
    /// The kind's input.
    pub args: serde_json::Value,
    /// Attempts started so far.
    pub attempt: u32,
    /// The most attempts it gets.
    pub max_attempts: u32,
    /// When it is due; `None` for a record-only job.
    #[serde(with = "time::serde::rfc3339::option")]
    pub run_at: Option<OffsetDateTime>,
    /// Its live-uniqueness key (one live job per kind and key).
    pub unique_key: Option<String>,
    /// Its period key (one job ever per kind and period).
    pub period_key: Option<String>,
    /// When its latest attempt started.
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    /// When it finished.
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// The instance holding its lease (running jobs only).
    pub lease_owner: Option<Uuid>,
    /// Until when the lease holds.
    #[serde(with = "time::serde::rfc3339::option")]
    pub lease_expires_at: Option<OffsetDateTime>,
}

impl Job {
    /// A new record-only job of `kind` owned by `owner`: accepted, never claimed by the runner.
    #[must_use]
    pub fn new(kind: impl Into<String>, owner: Option<String>) -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            id: Uuid::now_v7(),
            kind: kind.into(),
            state: JobState::Available,
            progress: serde_json::Value::Null,
            result: None,
            error: None,
            owner,
            created_at: now,
            updated_at: now,
            queue: DEFAULT_QUEUE.to_owned(),
            args: serde_json::Value::Null,
            attempt: 0,
            max_attempts: 1,
            run_at: None,
            unique_key: None,
            period_key: None,
            started_at: None,
            finished_at: None,
            lease_owner: None,
            lease_expires_at: None,
        }
    }
}

/// The queue of jobs that do not name one.
pub const DEFAULT_QUEUE: &str = "default";

/// A job to enqueue for the runner.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// Its id (UUID v7).
    pub id: Uuid,
    /// Its kind.
    pub kind: String,
    /// Its queue.
    pub queue: String,
    /// Its input.
    pub args: serde_json::Value,
    /// Who asked for it.
    pub owner: Option<String>,
    /// The most attempts it gets (at least 1).
    pub max_attempts: u32,
    /// When it is due (`scheduled` while in the future, else `available`).
    pub run_at: OffsetDateTime,
    /// One live job per kind and key.
    pub unique_key: Option<String>,
    /// One job ever per kind and period.
    pub period_key: Option<String>,
}

impl NewJob {
    /// A job of `kind` on `queue` with `args`, due now, one attempt, no uniqueness.
    #[must_use]
    pub fn new(kind: impl Into<String>, queue: impl Into<String>, args: serde_json::Value) -> Self {
        Self {
            id: Uuid::now_v7(),
            kind: kind.into(),
            queue: queue.into(),
            args,
            owner: None,
            max_attempts: 1,
            run_at: OffsetDateTime::now_utc(),
            unique_key: None,
            period_key: None,
        }
    }
}

/// How far apart one owner's live jobs of one queue are placed in the claim order ([`fair_place`]).
pub const FAIR_SPACING: Duration = Duration::from_secs(60);

/// Where a new job of an owner goes in its queue's claim order (the "fair place", a virtual due time; jobs are
/// claimed smallest place first): its `run_at`, or [`FAIR_SPACING`] after the latest place among the same
/// owner's live jobs (waiting or running) of that queue, whichever is later. A burst of one owner's jobs is
/// spread a minute apart, so another owner's job that arrives during the burst is claimed before the
/// burst's second job still waiting: it waits only for the jobs already running (one per worker slot). Start-
/// time fair queueing with the clock as virtual time: an owner's backlog never waits forever, since every
/// newcomer's place is its own arrival. Jobs without an owner (periodic maintenance) keep their `run_at`.
#[must_use]
pub fn fair_place(run_at: OffsetDateTime, owners_latest: Option<OffsetDateTime>) -> OffsetDateTime {
    owners_latest.map_or(run_at, |latest| run_at.max(latest + FAIR_SPACING))
}

/// What an enqueue did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// The job was stored.
    Created(Uuid),
    /// A job with the same uniqueness (live key or period) exists; nothing was stored.
    Duplicate,
}

/// How a finished attempt ended, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The handler succeeded.
    Completed,
    /// The handler failed.
    Failed,
    /// The handler ran past the kind's timeout.
    TimedOut,
    /// The instance running it stopped holding the lease (it died): recorded when another instance rescued
    /// the job, and again as the claim that discards a job whose attempts were all spent that way.
    LeaseExpired,
}

impl AttemptOutcome {
    /// The stored spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::LeaseExpired => "lease_expired",
        }
    }

    /// Parses the stored spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Completed, Self::Failed, Self::TimedOut, Self::LeaseExpired].into_iter().find(|o| o.as_str() == s)
    }
}

/// One finished attempt of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// Its number (1 for the first).
    pub attempt: u32,
    /// The instance that ran it.
    pub instance_id: Uuid,
    /// When it started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// When it ended.
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
    /// How.
    pub outcome: AttemptOutcome,
    /// Its error, if it failed.
    pub error: Option<String>,
}

/// What happens to a claimed job after an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Finish {
    /// `completed` with this result.
    Complete(Option<serde_json::Value>),
    /// `retryable`, due again at this instant; `error` kept.
    Retry {
        /// The attempt's error.
        error: String,
        /// When it is due again.
        at: OffsetDateTime,
    },
    /// `discarded`; `error` kept.
    Discard {
        /// The last error.
        error: String,
    },
    /// Back to `available` at this instant without spending the attempt (no worker for its kind here).
    Snooze {
        /// When it is due again.
        at: OffsetDateTime,
    },
}

/// One outcome for [`JobStore::finish_many`].
#[derive(Debug, Clone, PartialEq)]
pub struct FinishItem {
    /// The job.
    pub id: Uuid,
    /// The attempt as it ended.
    pub attempt: Attempt,
    /// What happens to the job.
    pub finish: Finish,
}

/// Who holds a lease: the instance (what operators see as `lease_owner`, and what an attempt names) and the
/// token of the runner that claimed the job. A token is drawn by each runner when it starts, so it names one
/// process's runner, never an instance id: an instance restarted under the same `GANTRY_INSTANCE_ID` gets a new
/// token and cannot renew, finish or give back a job its predecessor claimed (issue 25 item 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LeaseHolder {
    /// The instance (`lease_owner`).
    pub instance: Uuid,
    /// The claiming runner's token (`lease_token`): the guard of every later write under the lease.
    pub token: Uuid,
}

impl LeaseHolder {
    /// A holder for `instance` with a fresh random token (a runner that just started).
    #[must_use]
    pub fn new(instance: Uuid) -> Self {
        Self { instance, token: Uuid::new_v4() }
    }
}

/// Which jobs an operator lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only this state.
    pub state: Option<JobState>,
    /// Only this kind.
    pub kind: Option<String>,
    /// At most this many, newest first.
    pub limit: u32,
}

/// The depth of one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDepth {
    /// The queue.
    pub queue: String,
    /// Due jobs waiting for a worker.
    pub available: u64,
    /// Jobs due later (scheduled, or retryable in their backoff).
    pub scheduled: u64,
    /// When the oldest due job became due.
    pub oldest_available: Option<OffsetDateTime>,
}

/// How many jobs of one queue and kind are in one state (`GET /admin/jobs/counts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobCount {
    /// The worker pool.
    pub queue: String,
    /// What kind of work.
    pub kind: String,
    /// The state.
    pub state: JobState,
    /// How many stored jobs are in it.
    pub count: u64,
}

/// A change to a stored job: the fields that are `Some` are replaced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobUpdate {
    /// New state.
    pub state: Option<JobState>,
    /// New progress.
    pub progress: Option<serde_json::Value>,
    /// New result.
    pub result: Option<serde_json::Value>,
    /// New error.
    pub error: Option<String>,
}

/// Errors of the job store.
#[derive(Debug, thiserror::Error)]
pub enum JobStoreError {
    /// No job has that id.
    #[error("job {0} not found")]
    NotFound(Uuid),
    /// The job is in a state the operation does not apply to.
    #[error("job {id} is {}", state.as_str())]
    WrongState {
        /// The job.
        id: Uuid,
        /// Its state.
        state: JobState,
    },
    /// A retry would make the job live while another live job holds its unique key (the database's unique
    /// index refused it): a conflict to wait out, not an outage.
    #[error("job {id}'s unique key is held by another live job ({holder:?})")]
    KeyTaken {
        /// The job that was to be retried.
        id: Uuid,
        /// The live job holding the key; `None` only if it kept finishing while we looked (rare churn).
        holder: Option<Uuid>,
    },
    /// The database is unreachable.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// The job store capability.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Stores a new record-only job.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn create(&self, job: &Job) -> Result<(), JobStoreError>;

    /// The job with `id`, if any.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn get(&self, id: Uuid) -> Result<Option<Job>, JobStoreError>;

    /// Applies `update` and returns the job as stored afterwards.
    ///
    /// # Errors
    /// [`JobStoreError::NotFound`] for an unknown id; the database is unreachable.
    async fn update(&self, id: Uuid, update: JobUpdate) -> Result<Job, JobStoreError>;

    /// Enqueues `job` for the runner unless a job with the same live key or period exists (the database's
    /// unique indexes decide, so two instances enqueueing at once store one). A job with an owner gets its
    /// place in the claim order ([`fair_place`]) from that owner's live jobs of the same queue.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn enqueue(&self, job: &NewJob) -> Result<Enqueued, JobStoreError>;

    /// Leases up to `limit` due jobs of `queue` to `holder` until `now + lease`, counting an attempt each,
    /// in fair order (the smallest [`fair_place`] first: round robin between owners). Two runners never get
    /// the same job.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn claim(
        &self,
        queue: &str,
        holder: LeaseHolder,
        limit: u32,
        now: OffsetDateTime,
        lease: Duration,
    ) -> Result<Vec<Job>, JobStoreError>;

    /// Makes every running job whose lease expired before `now` (its instance died or stalled) due again at
    /// once, keeping its attempt count and saying why in its error, and records the dead attempt once (outcome
    /// [`AttemptOutcome::LeaseExpired`], the instance that held the lease); returns how many.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn rescue_expired(&self, now: OffsetDateTime) -> Result<u64, JobStoreError>;

    /// Extends to `until` the leases `holder` holds on `jobs` (the jobs its runner is running, and only
    /// those: a job whose outcome could not be recorded is left to expire); returns the ids it still holds (a
    /// job cancelled or taken over meanwhile is not among them).
    ///
    /// # Errors
    /// The database is unreachable.
    async fn renew(
        &self,
        holder: LeaseHolder,
        jobs: &[Uuid],
        until: OffsetDateTime,
    ) -> Result<Vec<Uuid>, JobStoreError>;

    /// Records `attempt` of job `id` and moves the job as `finish` says, if `holder` still holds its lease.
    /// Returns `false` (and records nothing) when it does not (cancelled, or its lease expired and another
    /// runner claimed it).
    ///
    /// # Errors
    /// The database is unreachable.
    async fn finish(
        &self,
        id: Uuid,
        holder: LeaseHolder,
        attempt: &Attempt,
        finish: &Finish,
    ) -> Result<bool, JobStoreError>;

    /// Records several outcomes of `holder`'s attempts at once, each as [`JobStore::finish`] would, in one
    /// transaction where the backend has them (one commit for the batch: the runner's throughput is bounded
    /// by commits, not by statements). Returns, in order, whether each was recorded.
    ///
    /// # Errors
    /// The database is unreachable (nothing is recorded, or — without a transaction — a prefix).
    async fn finish_many(&self, holder: LeaseHolder, items: &[FinishItem]) -> Result<Vec<bool>, JobStoreError> {
        let mut recorded = Vec::with_capacity(items.len());
        for item in items {
            recorded.push(self.finish(item.id, holder, &item.attempt, &item.finish).await?);
        }
        Ok(recorded)
    }

    /// Gives back every lease `holder` holds (graceful shutdown): the jobs are due at once elsewhere and the
    /// interrupted attempts are not counted. Returns how many.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn release(&self, holder: LeaseHolder) -> Result<u64, JobStoreError>;

    /// Jobs matching `filter`, newest first.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn list(&self, filter: &JobFilter) -> Result<Vec<Job>, JobStoreError>;

    /// The finished attempts of job `id`, in order.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn attempts(&self, id: Uuid) -> Result<Vec<Attempt>, JobStoreError>;

    /// Makes a discarded, cancelled or retryable runner job due now (with one more attempt if it had used
    /// them all).
    ///
    /// # Errors
    /// [`JobStoreError::NotFound`]; [`JobStoreError::WrongState`] for any other state or a record-only job;
    /// [`JobStoreError::KeyTaken`] (the job unchanged) while another live job holds its unique key; the
    /// database is unreachable.
    async fn retry(&self, id: Uuid, now: OffsetDateTime) -> Result<Job, JobStoreError>;

    /// Cancels a runner job that has not finished (a running one loses its lease; its worker stops at the
    /// next renewal).
    ///
    /// # Errors
    /// [`JobStoreError::NotFound`]; [`JobStoreError::WrongState`] for a finished or record-only job; the
    /// database is unreachable.
    async fn cancel(&self, id: Uuid, now: OffsetDateTime) -> Result<Job, JobStoreError>;

    /// The depth of every queue with waiting runner jobs.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn depths(&self, now: OffsetDateTime) -> Result<Vec<QueueDepth>, JobStoreError>;

    /// How many stored jobs there are per queue, kind and state (only the combinations that have any),
    /// ordered by queue, kind and state.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn counts(&self) -> Result<Vec<JobCount>, JobStoreError>;

    /// Deletes runner jobs that finished before `before` (with their attempts); returns how many.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn prune_finished(&self, before: OffsetDateTime) -> Result<u64, JobStoreError>;

    /// Round-trips to the database.
    ///
    /// # Errors
    /// Why the database is not usable.
    async fn health(&self) -> Result<(), Unavailable>;

    /// The backend's name for `/readyz` (`sqlite`, `postgres`).
    fn backend(&self) -> &'static str;
}

/// Told when jobs became due because a write committed (an enqueue, alone or inside a domain write's
/// transaction, or an operator's retry): the job runners' wake-up (`jobs/waker.rs`). Called
/// after the commit, never inside it; it must not block or fail (the runners' poll is the fallback).
pub trait JobsDue: Send + Sync + 'static {
    /// Jobs of `queue` are due now.
    fn due(&self, queue: &str);
}

/// The seam the stores that enqueue jobs tell [`JobsDue`] through, attached once start-up has built the
/// wake-up (a command-line tool that never attaches one leaves its jobs to the runners' poll).
#[derive(Default)]
pub struct DueSignal {
    /// Whom to tell, once attached (replaced when an application is built again on the same stores).
    to: arc_swap::ArcSwapOption<Box<dyn JobsDue>>,
}

impl std::fmt::Debug for DueSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DueSignal").field("attached", &self.to.load().is_some()).finish()
    }
}

impl DueSignal {
    /// Tells `to` from now on (instead of whatever was attached before).
    pub fn attach(&self, to: Box<dyn JobsDue>) {
        self.to.store(Some(std::sync::Arc::new(to)));
    }

    /// After the commit that stored `job` (`created`: not refused as a duplicate): tells the wake-up if the
    /// job is due now. A job scheduled for later is left to the poll, which claims it once due.
    pub fn enqueued(&self, job: &NewJob, created: bool) {
        if created && job.run_at <= OffsetDateTime::now_utc() {
            self.due(&job.queue);
        }
    }

    /// After a commit that made jobs of `queue` due.
    pub fn due(&self, queue: &str) {
        if let Some(to) = self.to.load().as_ref() {
            to.due(queue);
        }
    }
}
