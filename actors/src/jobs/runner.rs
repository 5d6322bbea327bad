//! The job runner: one actor per instance that claims due jobs from the job store with a lease, runs each
//! on a task it owns (at most the queue's concurrency at once), renews every lease it holds in one statement
//! while they run, and records each attempt's outcome — completed, retryable after an exponential backoff
//! with jitter, or discarded with the last error once the kind's attempts are spent. Outcomes go through one
//! finisher task that records whatever has arrived in one batch (one commit), so a busy runner pays one
//! commit per batch instead of two per job. A job whose lease
//! expired (its instance died) is claimed again by whichever instance polls next.
//!
//! It also makes jobs whose lease expired due again, enqueues the periodic kinds once per period (the period start is the job's unique period key, so
//! every instance tries and the database keeps one), and publishes the queue depth gauges.
//!
//! Shutdown ([`JobRunnerHandle::drain`]): stop claiming, let running jobs finish within the budget, then
//! abort the rest and give their leases back so another instance claims them at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::handle::{ActorSlot, CallError};
use crate::ports::jobs::{Attempt, AttemptOutcome, Enqueued, Finish, FinishItem, Job, JobStore, NewJob};
use crate::supervisor::ChildSpec;
use crate::telemetry::Mailbox;

/// The actor's label in metrics and logs.
pub const NAME: &str = "job_runner";

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobFailure {
    /// Worth another attempt (after the backoff) while attempts remain.
    #[error("{0}")]
    Retry(String),
    /// Never worth another attempt (bad input, a decompression bomb): discarded at once.
    #[error("{0}")]
    Discard(String),
}

/// What a kind does with a claimed job. The error text is kept on the job: no secrets, no SQL.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// Runs one attempt of `job`; `Ok` carries the job's result.
    ///
    /// # Errors
    /// [`JobFailure`] when the attempt failed.
    async fn run(&self, job: &Job) -> Result<Option<serde_json::Value>, JobFailure>;

    /// Called when the runner discards `job` without its handler having answered: the last attempt ran past
    /// the kind's timeout, or its instance died during it. A kind that shows clients a state of its own (a
    /// photo's pending variants) ends it here; `error` is what the job keeps. Best effort; nothing by default.
    async fn discarded(&self, job: &Job, error: &str) {
        let _ = (job, error);
    }
}

/// Exponential backoff: attempt `n` waits `base · 2^(n-1)`, at most `max`, with up to a quarter of random
/// jitter either way (so jobs that failed together do not retry together).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Backoff {
    /// The delay after failed attempt `attempt` (1-based), before jitter.
    #[must_use]
    pub fn nominal(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The delay after failed attempt `attempt`, with jitter in [-25 %, +25 %].
    #[must_use]
    pub fn delay(&self, attempt: u32) -> Duration {
        let nominal = self.nominal(attempt);
        let jitter: f64 = rand::random_range(-0.25..=0.25);
        nominal.mul_f64(1.0 + jitter)
    }
}

/// Everything the runner needs to know about one kind.
#[derive(Clone)]
pub struct KindSpec {
    /// The kind's name (`jobs.prune`, `uploads.sweep`, …).
    pub kind: &'static str,
    /// The queue its jobs go to.
    pub queue: &'static str,
    /// The most attempts a job gets.
    pub max_attempts: u32,
    /// The delay between attempts.
    pub backoff: Backoff,
    /// How long one attempt may run before it counts as failed.
    pub timeout: Duration,
    /// `Some(period)`: enqueued once per period across the fleet.
    pub every: Option<Duration>,
    /// What it does.
    pub handler: Arc<dyn JobHandler>,
}

impl std::fmt::Debug for KindSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KindSpec")
            .field("kind", &self.kind)
            .field("queue", &self.queue)
            .field("max_attempts", &self.max_attempts)
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

impl KindSpec {
    /// A job of this kind with `args`, due now, with the kind's attempts.
    #[must_use]
    pub fn job(&self, args: serde_json::Value) -> NewJob {
        NewJob { max_attempts: self.max_attempts, ..NewJob::new(self.kind, self.queue, args) }
    }

    /// This kind's job for the period containing `now` (`None` for a kind that is not periodic): due at the
    /// period start, unique per period.
    #[must_use]
    pub fn periodic_job(&self, now: OffsetDateTime) -> Option<NewJob> {
        let every = i128::try_from(self.every?.as_nanos()).ok().filter(|n| *n > 0)?;
        let nanos = now.unix_timestamp_nanos();
        let start = OffsetDateTime::from_unix_timestamp_nanos(nanos - nanos.rem_euclid(every)).ok()?;
        let key = start.format(&time::format_description::well_known::Rfc3339).ok()?;
        Some(NewJob { run_at: start, period_key: Some(key), ..self.job(serde_json::Value::Null) })
    }
}

/// The runner's settings.
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// This instance (the lease owner it writes).
    pub instance: Uuid,
    /// How long a lease holds without renewal; renewed every third of it.
    pub lease: Duration,
    /// How often each queue is polled when idle.
    pub poll_every: Duration,
    /// How often expired leases are rescued, the periodic kinds enqueued and the queue depths published.
    pub maintain_every: Duration,
    /// Queues this instance works, with their concurrency.
    pub queues: Vec<(String, usize)>,
}

/// The runner's dependencies (its `Arguments`).
#[derive(Clone)]
pub struct RunnerDeps {
    /// Where the jobs are.
    pub store: Arc<dyn JobStore>,
    /// The kinds this instance can run.
    pub kinds: Arc<HashMap<&'static str, KindSpec>>,
    /// Settings.
    pub settings: RunnerSettings,
    /// The mailbox counter.
    pub mailbox: Arc<Mailbox>,
}

/// Messages of the runner.
pub enum JobRunnerMsg {
    /// Claim what the queues have room for (timer, or a worker finished after a full claim).
    Poll,
    /// Renew every lease this instance holds.
    Renew,
    /// Rescue expired leases, enqueue the periodic kinds and publish queue depths.
    Maintain,
    /// A worker task ended (its outcome is recorded already).
    Finished(Uuid),
    /// Stop claiming; answer when every running job ended, or when `within` is spent (the rest is aborted
    /// and given back).
    Drain {
        /// The runner's share of the shutdown budget.
        within: Duration,
        /// Answered with how many jobs were given back.
        reply: RpcReplyPort<u64>,
    },
    /// The drain's time is up.
    DrainDeadline,
    /// Ask the queues now (a job was enqueued on this instance).
    Nudge,
}

/// A job this instance is running.
struct Running {
    queue: String,
    task: JoinHandle<()>,
}

/// The runner's state.
pub struct RunnerState {
    deps: RunnerDeps,
    tickers: Vec<JoinHandle<()>>,
    /// Where workers hand their outcomes to the finisher task, which records them in batches.
    outcomes: mpsc::Sender<Outcome>,
    /// The finisher task (aborted when the actor stops).
    finisher: JoinHandle<()>,
    running: HashMap<Uuid, Running>,
    /// Running jobs per queue.
    busy: HashMap<String, usize>,
    /// Whether the last claim of a queue filled all it asked for (more may be waiting).
    more: HashMap<String, bool>,
    /// The periods already enqueued by this instance, per kind (saves the database a conflicting insert).
    enqueued_periods: HashMap<&'static str, String>,
    draining: Option<RpcReplyPort<u64>>,
    stopping: bool,
}

/// The runner actor.
#[derive(Debug, Default)]
pub struct JobRunner;

impl RunnerState {
    async fn poll(&mut self, myself: &ActorRef<JobRunnerMsg>) {
        if self.stopping {
            return;
        }
        let queues = self.deps.settings.queues.clone();
        for (queue, concurrency) in queues {
            let busy = self.busy.get(&queue).copied().unwrap_or(0);
            let room = concurrency.saturating_sub(busy);
            if room == 0 {
                continue;
            }
            let limit = u32::try_from(room).unwrap_or(u32::MAX);
            let now = OffsetDateTime::now_utc();
            let claimed = match self
                .deps
                .store
                .claim(&queue, self.deps.settings.instance, limit, now, self.deps.settings.lease)
                .await
            {
                Ok(jobs) => jobs,
                Err(err) => {
                    metrics::counter!("gantry_job_store_errors_total", "op" => "claim").increment(1);
                    tracing::warn!(queue, error = %err, "claiming jobs failed; retrying at the next poll");
                    continue;
                }
            };
            self.more.insert(queue.clone(), claimed.len() == room);
            for job in claimed {
                self.start(myself, job, now);
            }
        }
    }

    /// Spawns the worker task of a claimed job.
    fn start(&mut self, myself: &ActorRef<JobRunnerMsg>, job: Job, claimed_at: OffsetDateTime) {
        let id = job.id;
        let queue = job.queue.clone();
        *self.busy.entry(queue.clone()).or_default() += 1;
        let spec = self.deps.kinds.get(job.kind.as_str()).cloned();
        let store = Arc::clone(&self.deps.store);
        let instance = self.deps.settings.instance;
        let lease = self.deps.settings.lease;
        let myself = myself.clone();
        let outcomes = self.outcomes.clone();
        let task = tokio::spawn(async move {
            match run_attempt(store.as_ref(), spec, job, instance, claimed_at, lease).await {
                // The finisher records it and then reports the job finished.
                Some(outcome) => {
                    if let Err(mpsc::error::SendError(outcome)) = outcomes.send(outcome).await {
                        // The finisher is gone (the actor is stopping): record it here.
                        finish_batch(store.as_ref(), instance, vec![outcome], &myself).await;
                    }
                }
                None => {
                    let _ = myself.cast(JobRunnerMsg::Finished(id));
                }
            }
        });
        self.running.insert(id, Running { queue, task });
    }

    /// Whether `queue` probably has due jobs (its last claim was full) and half its places are free.
    fn worth_claiming(&self, queue: &str) -> bool {
        let concurrency =
            self.deps.settings.queues.iter().find(|(q, _)| q == queue).map_or(0, |(_, concurrency)| *concurrency);
        let busy = self.busy.get(queue).copied().unwrap_or(0);
        self.more.get(queue).copied().unwrap_or(false) && concurrency.saturating_sub(busy) * 2 >= concurrency
    }

    fn finished(&mut self, id: Uuid) -> Option<String> {
        let running = self.running.remove(&id)?;
        if let Some(n) = self.busy.get_mut(&running.queue) {
            *n = n.saturating_sub(1);
        }
        Some(running.queue)
    }

    async fn renew(&mut self) {
        // Also when idle: a lease this instance holds may belong to a job it runs inline (an older version's
        // rotation).
        let until = OffsetDateTime::now_utc() + self.deps.settings.lease;
        let held = match self.deps.store.renew(self.deps.settings.instance, until).await {
            Ok(held) => held,
            Err(err) => {
                metrics::counter!("gantry_job_store_errors_total", "op" => "renew").increment(1);
                tracing::warn!(error = %err, "renewing job leases failed; retrying at the next renewal");
                return;
            }
        };
        // A job not held any more was cancelled (or, after a long stall, taken over): stop working on it.
        let lost: Vec<Uuid> = self.running.keys().filter(|id| !held.contains(id)).copied().collect();
        for id in lost {
            if let Some(running) = self.running.get(&id) {
                running.task.abort();
                metrics::counter!("gantry_jobs_lease_lost_total", "queue" => running.queue.clone()).increment(1);
                tracing::warn!(job_id = %id, "job lease lost (cancelled or taken over); its worker stopped");
            }
            self.finished(id);
        }
    }

    async fn maintain(&mut self) {
        let now = OffsetDateTime::now_utc();
        match self.deps.store.rescue_expired(now).await {
            Ok(0) => {}
            Ok(n) => {
                metrics::counter!("gantry_jobs_rescued_total").increment(n);
                tracing::warn!(rescued = n, "jobs whose instance stopped holding the lease are due again");
            }
            Err(err) => {
                metrics::counter!("gantry_job_store_errors_total", "op" => "rescue").increment(1);
                tracing::warn!(error = %err, "rescuing expired job leases failed; retrying");
            }
        }
        let kinds: Vec<KindSpec> = self.deps.kinds.values().filter(|k| k.every.is_some()).cloned().collect();
        for spec in kinds {
            let Some(job) = spec.periodic_job(now) else { continue };
            let period = job.period_key.clone().unwrap_or_default();
            if self.enqueued_periods.get(spec.kind) == Some(&period) {
                continue;
            }
            match self.deps.store.enqueue(&job).await {
                Ok(outcome) => {
                    if outcome == Enqueued::Created(job.id) {
                        count_enqueued(spec.kind, spec.queue);
                    }
                    self.enqueued_periods.insert(spec.kind, period);
                }
                Err(err) => {
                    metrics::counter!("gantry_job_store_errors_total", "op" => "enqueue").increment(1);
                    tracing::warn!(kind = spec.kind, error = %err, "enqueueing a periodic job failed; retrying");
                }
            }
        }
        match self.deps.store.depths(now).await {
            Ok(depths) => {
                let mut seen: HashMap<String, bool> =
                    self.deps.settings.queues.iter().map(|(q, _)| (q.clone(), false)).collect();
                for depth in depths {
                    seen.insert(depth.queue.clone(), true);
                    let oldest = depth.oldest_available.map_or(0.0, |t| (now - t).as_seconds_f64().max(0.0));
                    publish_depth(&depth.queue, depth.available, depth.scheduled, oldest);
                }
                for (queue, _) in seen.into_iter().filter(|(_, seen)| !seen) {
                    publish_depth(&queue, 0, 0, 0.0);
                }
            }
            Err(err) => {
                metrics::counter!("gantry_job_store_errors_total", "op" => "depths").increment(1);
                tracing::warn!(error = %err, "reading queue depths failed");
            }
        }
    }

    /// Aborts every running job and gives the leases back.
    async fn abandon_running(&mut self) -> u64 {
        for running in self.running.values() {
            running.task.abort();
        }
        self.running.clear();
        self.busy.clear();
        match self.deps.store.release(self.deps.settings.instance).await {
            Ok(n) => {
                if n > 0 {
                    tracing::warn!(released = n, "gave running jobs back for other instances");
                }
                metrics::counter!("gantry_jobs_released_total").increment(n);
                n
            }
            Err(err) => {
                tracing::warn!(error = %err, "giving jobs back failed; their leases expire instead");
                0
            }
        }
    }
}

/// Publishes the depth gauges of `queue`.
fn publish_depth(queue: &str, available: u64, scheduled: u64, oldest_seconds: f64) {
    #[allow(clippy::cast_precision_loss)] // Gauges are f64; queue depths stay far below 2^52.
    let (available, scheduled) = (available as f64, scheduled as f64);
    metrics::gauge!("gantry_jobs_queue_depth", "queue" => queue.to_owned(), "state" => "available").set(available);
    metrics::gauge!("gantry_jobs_queue_depth", "queue" => queue.to_owned(), "state" => "scheduled").set(scheduled);
    metrics::gauge!("gantry_jobs_oldest_available_seconds", "queue" => queue.to_owned()).set(oldest_seconds);
}

/// Counts one job enqueued.
pub fn count_enqueued(kind: &str, queue: &str) {
    metrics::counter!("gantry_jobs_enqueued_total", "kind" => kind.to_owned(), "queue" => queue.to_owned())
        .increment(1);
}

/// A finished attempt on its way to the job store.
struct Outcome {
    job: Job,
    attempt: Attempt,
    finish: Finish,
}

/// The most outcomes recorded in one batch.
const MAX_BATCH: usize = 256;

/// Records the workers' outcomes: takes what has arrived (at least one, at most [`MAX_BATCH`]) and records it in
/// one [`JobStore::finish_many`] (one commit), then reports each job finished. Under load the outcomes queue
/// up while a batch commits, so batches grow with the load; alone, an outcome is recorded at once.
async fn finisher(
    store: Arc<dyn JobStore>,
    instance: Uuid,
    mut outcomes: mpsc::Receiver<Outcome>,
    runner: ActorRef<JobRunnerMsg>,
) {
    while let Some(first) = outcomes.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match outcomes.try_recv() {
                Ok(outcome) => batch.push(outcome),
                Err(_) => break,
            }
        }
        finish_batch(store.as_ref(), instance, batch, &runner).await;
    }
}

/// Records `batch`, counts each recorded outcome, and reports every job finished.
async fn finish_batch(store: &dyn JobStore, instance: Uuid, batch: Vec<Outcome>, runner: &ActorRef<JobRunnerMsg>) {
    let items: Vec<FinishItem> = batch
        .iter()
        .map(|o| FinishItem { id: o.job.id, attempt: o.attempt.clone(), finish: o.finish.clone() })
        .collect();
    let recorded = match store.finish_many(instance, &items).await {
        Ok(recorded) => recorded,
        Err(err) => {
            // The leases expire and the jobs run again elsewhere: at-least-once, as for a crash.
            metrics::counter!("gantry_job_store_errors_total", "op" => "finish").increment(1);
            tracing::warn!(jobs = batch.len(), error = %err, "recording job outcomes failed");
            vec![false; batch.len()]
        }
    };
    for (outcome, recorded) in batch.iter().zip(recorded) {
        let job = &outcome.job;
        if recorded {
            let labels = [("kind", job.kind.clone()), ("queue", job.queue.clone())];
            let counter = match &outcome.finish {
                Finish::Complete(_) => Some("gantry_jobs_completed_total"),
                Finish::Retry { .. } => Some("gantry_jobs_retried_total"),
                Finish::Discard { .. } => Some("gantry_jobs_discarded_total"),
                Finish::Snooze { .. } => None,
            };
            if let Some(counter) = counter {
                metrics::counter!(counter, &labels).increment(1);
            }
            if let Finish::Discard { error } = &outcome.finish {
                tracing::warn!(job_id = %job.id, kind = job.kind, attempt = job.attempt, error, "job discarded");
            }
        } else {
            tracing::warn!(job_id = %job.id, kind = job.kind, "job outcome dropped: its lease is gone");
        }
        let _ = runner.cast(JobRunnerMsg::Finished(job.id));
    }
}

/// Runs one attempt of `job`; returns its outcome for the finisher (`None` when it was given back here
/// already: no worker for its kind).
async fn run_attempt(
    store: &dyn JobStore,
    spec: Option<KindSpec>,
    job: Job,
    instance: Uuid,
    claimed_at: OffsetDateTime,
    lease: Duration,
) -> Option<Outcome> {
    let (kind, queue) = (job.kind.clone(), job.queue.clone());
    let Some(spec) = spec else {
        // A kind this version does not know (a newer instance enqueued it during a rolling deploy): given
        // back uncounted for an instance that knows it.
        let finish = Finish::Snooze { at: OffsetDateTime::now_utc() + lease };
        let attempt = attempt_record(&job, instance, claimed_at, AttemptOutcome::Failed, None);
        tracing::warn!(job_id = %job.id, kind, "no worker for this job kind here; given back");
        record(store, &job, instance, &attempt, &finish).await;
        return None;
    };
    let labels = [("kind", kind.clone()), ("queue", queue.clone())];
    metrics::counter!("gantry_jobs_started_total", &labels).increment(1);
    if let Some(due) = job.run_at {
        metrics::histogram!("gantry_job_wait_seconds", &labels).record((claimed_at - due).as_seconds_f64().max(0.0));
    }
    let (outcome, finish, error) = if job.attempt > job.max_attempts {
        // The previous attempt was the last one and its instance died mid-job.
        let error = job.error.clone().unwrap_or_else(|| "lease expired".to_owned());
        spec.handler.discarded(&job, &error).await;
        (AttemptOutcome::LeaseExpired, Finish::Discard { error: error.clone() }, Some(error))
    } else {
        let started = std::time::Instant::now();
        let result = tokio::time::timeout(spec.timeout, spec.handler.run(&job)).await;
        metrics::histogram!("gantry_job_run_seconds", &labels).record(started.elapsed().as_secs_f64());
        let failed = |outcome, error: String, permanent: bool| {
            let finish = if permanent || job.attempt >= job.max_attempts {
                Finish::Discard { error: error.clone() }
            } else {
                Finish::Retry { error: error.clone(), at: OffsetDateTime::now_utc() + spec.backoff.delay(job.attempt) }
            };
            (outcome, finish, Some(error))
        };
        match result {
            Ok(Ok(value)) => (AttemptOutcome::Completed, Finish::Complete(value), None),
            Ok(Err(JobFailure::Retry(e))) => failed(AttemptOutcome::Failed, e, false),
            Ok(Err(JobFailure::Discard(e))) => failed(AttemptOutcome::Failed, e, true),
            Err(_) => {
                let timed_out =
                    failed(AttemptOutcome::TimedOut, format!("timed out after {}s", spec.timeout.as_secs_f64()), false);
                if let Finish::Discard { error } = &timed_out.1 {
                    spec.handler.discarded(&job, error).await;
                }
                timed_out
            }
        }
    };
    let attempt = attempt_record(&job, instance, claimed_at, outcome, error);
    Some(Outcome { job, attempt, finish })
}

fn attempt_record(
    job: &Job,
    instance: Uuid,
    started_at: OffsetDateTime,
    outcome: AttemptOutcome,
    error: Option<String>,
) -> Attempt {
    Attempt {
        attempt: job.attempt,
        instance_id: instance,
        started_at,
        finished_at: OffsetDateTime::now_utc(),
        outcome,
        error,
    }
}

/// Records an outcome; `false` when the lease was gone (the outcome is dropped: someone else owns the job).
async fn record(store: &dyn JobStore, job: &Job, instance: Uuid, attempt: &Attempt, finish: &Finish) -> bool {
    match store.finish(job.id, instance, attempt, finish).await {
        Ok(true) => true,
        Ok(false) => {
            tracing::warn!(job_id = %job.id, kind = job.kind, "job outcome dropped: its lease is gone");
            false
        }
        Err(err) => {
            // The lease expires and the job runs again elsewhere: at-least-once, as for a crash.
            metrics::counter!("gantry_job_store_errors_total", "op" => "finish").increment(1);
            tracing::warn!(job_id = %job.id, kind = job.kind, error = %err, "recording a job outcome failed");
            false
        }
    }
}

impl Actor for JobRunner {
    type Msg = JobRunnerMsg;
    type State = RunnerState;
    type Arguments = RunnerDeps;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        deps: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        deps.mailbox.reset();
        let settings = &deps.settings;
        let renew_every = (settings.lease / 3).max(Duration::from_millis(100));
        let tickers = vec![
            myself.send_interval(settings.poll_every, || JobRunnerMsg::Poll),
            myself.send_interval(renew_every, || JobRunnerMsg::Renew),
            myself.send_interval(settings.maintain_every, || JobRunnerMsg::Maintain),
        ];
        let _ = myself.cast(JobRunnerMsg::Maintain);
        let (outcomes, received) = mpsc::channel(4 * MAX_BATCH);
        let finisher =
            tokio::spawn(finisher(Arc::clone(&deps.store), deps.settings.instance, received, myself.clone()));
        Ok(RunnerState {
            deps,
            tickers,
            outcomes,
            finisher,
            running: HashMap::new(),
            busy: HashMap::new(),
            more: HashMap::new(),
            enqueued_periods: HashMap::new(),
            draining: None,
            stopping: false,
        })
    }

    async fn post_stop(&self, _myself: ActorRef<Self::Msg>, state: &mut Self::State) -> Result<(), ActorProcessingErr> {
        for ticker in &state.tickers {
            ticker.abort();
        }
        state.finisher.abort();
        state.abandon_running().await;
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            JobRunnerMsg::Poll => {
                let _h = state.deps.mailbox.begin_internal();
                state.poll(&myself).await;
            }
            JobRunnerMsg::Nudge => {
                let _h = state.deps.mailbox.begin_handling();
                state.poll(&myself).await;
            }
            JobRunnerMsg::Renew => {
                let _h = state.deps.mailbox.begin_internal();
                state.renew().await;
            }
            JobRunnerMsg::Maintain => {
                let _h = state.deps.mailbox.begin_internal();
                if !state.stopping {
                    state.maintain().await;
                }
            }
            JobRunnerMsg::Finished(id) => {
                let _h = state.deps.mailbox.begin_internal();
                let queue = state.finished(id);
                if state.stopping {
                    if state.running.is_empty()
                        && let Some(reply) = state.draining.take()
                    {
                        let _ = reply.send(0);
                    }
                } else if queue.is_some_and(|q| state.worth_claiming(&q)) {
                    // The last claim was full, so more jobs are probably due: claim again without waiting for the
                    // timer once half the queue's places are free (claims stay batches, not one per job).
                    state.poll(&myself).await;
                }
            }
            JobRunnerMsg::Drain { within, reply } => {
                let _h = state.deps.mailbox.begin_handling();
                state.stopping = true;
                if state.running.is_empty() {
                    let _ = reply.send(0);
                } else {
                    tracing::info!(running = state.running.len(), "waiting for running jobs to finish");
                    state.draining = Some(reply);
                    myself.send_after(within, || JobRunnerMsg::DrainDeadline);
                }
            }
            JobRunnerMsg::DrainDeadline => {
                let _h = state.deps.mailbox.begin_internal();
                if let Some(reply) = state.draining.take() {
                    metrics::counter!("gantry_shutdown_budget_exhausted_total", "stage" => "jobs").increment(1);
                    let released = state.abandon_running().await;
                    let _ = reply.send(released);
                }
            }
        }
        Ok(())
    }
}

/// The typed handle of the runner.
#[derive(Clone)]
pub struct JobRunnerHandle {
    slot: Arc<ActorSlot<JobRunnerMsg>>,
    deps: RunnerDeps,
}

impl std::fmt::Debug for JobRunnerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobRunnerHandle").field("slot", &self.slot).finish_non_exhaustive()
    }
}

impl JobRunnerHandle {
    /// A handle for a runner with `deps`, started by the supervisor from [`Self::child_spec`].
    #[must_use]
    pub fn new(mut deps: RunnerDeps, mailbox_capacity: usize, call_timeout: Duration) -> Self {
        let slot = ActorSlot::new(NAME, mailbox_capacity, call_timeout);
        deps.mailbox = slot.mailbox();
        Self { slot, deps }
    }

    /// How the supervisor starts it.
    #[must_use]
    pub fn child_spec(&self) -> ChildSpec {
        self.slot.child_spec::<JobRunner>(self.deps.clone())
    }

    /// Asks the queues now instead of at the next poll (best effort).
    pub fn nudge(&self) {
        let _ = self.slot.cast(JobRunnerMsg::Nudge);
    }

    /// Stops claiming and waits (at most `within`) for running jobs; the rest are given back. Returns how
    /// many were given back.
    ///
    /// # Errors
    /// [`CallError`] when the runner is not running or does not answer.
    pub async fn drain(&self, within: Duration) -> Result<u64, CallError> {
        let actor = self.slot.current().ok_or(CallError::NotRunning(NAME))?;
        match actor.call(|reply| JobRunnerMsg::Drain { within, reply }, Some(within + Duration::from_secs(2))).await {
            Ok(ractor::rpc::CallResult::Success(n)) => Ok(n),
            Ok(ractor::rpc::CallResult::Timeout) => Err(CallError::Timeout(NAME)),
            _ => Err(CallError::NotRunning(NAME)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each failed attempt doubles the delay up to the cap, and jitter stays within a quarter either way.
    #[test]
    fn backoff_doubles_up_to_the_cap_with_bounded_jitter() {
        let backoff = Backoff { base: Duration::from_secs(1), max: Duration::from_secs(10) };
        assert_eq!(backoff.nominal(1), Duration::from_secs(1));
        assert_eq!(backoff.nominal(2), Duration::from_secs(2));
        assert_eq!(backoff.nominal(4), Duration::from_secs(8));
        assert_eq!(backoff.nominal(5), Duration::from_secs(10));
        assert_eq!(backoff.nominal(200), Duration::from_secs(10));
        for attempt in 1..6 {
            let delay = backoff.delay(attempt);
            let nominal = backoff.nominal(attempt);
            assert!(delay >= nominal.mul_f64(0.75) && delay <= nominal.mul_f64(1.25), "{delay:?} vs {nominal:?}");
        }
    }

    /// A periodic kind's job is due at the start of the current period and keyed by it, so every instance
    /// computes the same key within one period and a different one in the next.
    #[test]
    fn periodic_jobs_are_keyed_by_their_period_start() {
        struct Nothing;
        #[async_trait]
        impl JobHandler for Nothing {
            async fn run(&self, _job: &Job) -> Result<Option<serde_json::Value>, JobFailure> {
                Ok(None)
            }
        }
        let spec = KindSpec {
            kind: "jobs.prune",
            queue: "maintenance",
            max_attempts: 3,
            backoff: Backoff { base: Duration::from_secs(1), max: Duration::from_secs(1) },
            timeout: Duration::from_secs(1),
            every: Some(Duration::from_secs(60)),
            handler: Arc::new(Nothing),
        };
        let at = time::macros::datetime!(2026-11-27 10:15:42 UTC);
        let job = spec.periodic_job(at).unwrap();
        assert_eq!(job.run_at, time::macros::datetime!(2026-11-27 10:15:00 UTC));
        assert_eq!(job.period_key.as_deref(), Some("2026-11-27T10:15:00Z"));
        let same = spec.periodic_job(at + Duration::from_secs(17)).unwrap();
        assert_eq!(same.period_key, job.period_key);
        let next = spec.periodic_job(at + Duration::from_secs(18)).unwrap();
        assert_eq!(next.period_key.as_deref(), Some("2026-11-27T10:16:00Z"));
    }
}
