//! The job runner: one actor per instance that claims due jobs from the job store with a lease, runs each
//! on a task it owns (at most the queue's concurrency at once), renews the leases of the jobs it is running in
//! one statement while they run, and records each attempt's outcome — completed, retryable after an exponential backoff
//! with jitter, or discarded with the last error once the kind's attempts are spent. Outcomes go through one
//! finisher task that records whatever has arrived in one batch (one statement, one commit), so a busy runner
//! pays one commit per batch instead of two per job. A job's place in its queue frees up as soon as its
//! handler has answered and the outcome is with the finisher: the next claim does not wait for the previous
//! batch's commit (the lease is still renewed until the outcome is recorded). A job whose lease
//! expired (its instance died) is claimed again by whichever instance polls next.
//!
//! A lease belongs to the runner that claimed it, not to the instance id: each runner draws a token when it
//! starts ([`LeaseHolder`]) and every write under a lease is guarded by it, so a process restarted under the
//! same `GANTRY_INSTANCE_ID` never keeps alive, finishes or gives back a job its predecessor was running. A
//! lease found gone (cancelled, or taken over) is logged and counted (`gantry_jobs_lease_lost_total`).
//!
//! It also makes jobs whose lease expired due again — only once this instance has reached the database for a
//! whole lease period (after an outage every lease looks expired, the live holders' included: they get that
//! period to renew; see [`crate::liveness`]) — enqueues the periodic kinds once per period (the period start is the job's unique period key, so
//! every instance tries and the database keeps one), and publishes the queue depth gauges.
//!
//! Shutdown ([`JobRunnerHandle::drain`]): stop claiming, let running jobs finish within the budget, then
//! abort the rest and give their leases back so another instance claims them at once.
//!
//! - `kind`: the kind contract ([`KindSpec`], [`JobHandler`], [`JobFailure`], [`Backoff`]).
//! - `attempt`: one attempt of a claimed job and the finisher task that records outcomes in batches.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

mod attempt;
mod kind;

use attempt::{MAX_BATCH, MetricsByKind, Outcome, finish_batch, finisher, run_attempt};
pub use kind::{Backoff, JobFailure, JobHandler, KindSpec};

use crate::handle::{ActorSlot, CallError, Envelope};
use crate::liveness::Continuity;
use crate::ports::jobs::{Enqueued, Job, JobStore, LeaseHolder};
use crate::supervisor::ChildSpec;
use crate::telemetry::Mailbox;

/// The actor's label in metrics and logs.
pub const NAME: &str = "job_runner";

/// The runner's settings.
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// This instance (the lease owner it writes; each start of the runner adds a token of its own).
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
    /// What this instance saw of the database (fed by the runner's round trips; rescues wait for it).
    pub continuity: Arc<Continuity>,
}

/// Messages of the runner.
pub enum JobRunnerMsg {
    /// Claim what the queues have room for (timer, or a worker finished after a full claim).
    Poll,
    /// Renew every lease this instance holds.
    Renew,
    /// Rescue expired leases, enqueue the periodic kinds and publish queue depths.
    Maintain,
    /// A worker task ended: its place is free. Its outcome is with the finisher, or `recorded` already (or
    /// dropped: nothing to record).
    Finished {
        /// The job.
        id: Uuid,
        /// Whether the outcome needs no recording by the finisher any more.
        recorded: bool,
    },
    /// The finisher recorded these jobs' outcomes (or dropped them: lease gone, store failed): stop renewing.
    Recorded(Vec<Uuid>),
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
    /// Claim from `queue` now if there is room, else as soon as a place frees up (jobs of it became due:
    /// see [`super::waker`]).
    Nudge {
        /// The queue (ignored unless this instance works it).
        queue: String,
    },
}

/// A job this instance is running.
struct Running {
    queue: String,
    task: JoinHandle<()>,
}

/// The runner's state.
pub struct RunnerState {
    deps: RunnerDeps,
    /// This runner's leases: the instance and the token drawn when this runner started.
    holder: LeaseHolder,
    tickers: Vec<JoinHandle<()>>,
    /// Where workers hand their outcomes to the finisher task, which records them in batches.
    outcomes: mpsc::Sender<Outcome>,
    /// The finisher task (aborted when the actor stops).
    finisher: JoinHandle<()>,
    running: HashMap<Uuid, Running>,
    /// Jobs whose handler answered and whose outcome waits in the finisher: their leases are still renewed.
    recording: HashSet<Uuid>,
    /// Jobs the finisher reported before their worker's `Finished` arrived (the two race through the mailbox).
    recorded_early: HashSet<Uuid>,
    /// The per-job metrics, per kind and queue.
    metrics: MetricsByKind,
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
    async fn poll(&mut self, myself: &ActorRef<Envelope<JobRunnerMsg>>) {
        if self.stopping {
            return;
        }
        let queues = self.deps.settings.queues.clone();
        for (queue, concurrency) in queues {
            self.claim(myself, queue, concurrency).await;
        }
    }

    /// Jobs of `queue` became due: claims them now if there is room; otherwise marks the queue so the next
    /// finished job claims again (see [`Self::worth_claiming`]) instead of waiting for the poll.
    async fn nudged(&mut self, myself: &ActorRef<Envelope<JobRunnerMsg>>, queue: String) {
        let Some(concurrency) = self.deps.settings.queues.iter().find(|(q, _)| *q == queue).map(|(_, c)| *c) else {
            return;
        };
        if self.stopping {
            return;
        }
        if self.busy.get(&queue).copied().unwrap_or(0) >= concurrency {
            self.more.insert(queue, true);
            return;
        }
        self.claim(myself, queue, concurrency).await;
    }

    /// Claims what `queue` has room for and starts it.
    async fn claim(&mut self, myself: &ActorRef<Envelope<JobRunnerMsg>>, queue: String, concurrency: usize) {
        let busy = self.busy.get(&queue).copied().unwrap_or(0);
        let room = concurrency.saturating_sub(busy);
        if room == 0 {
            return;
        }
        let limit = u32::try_from(room).unwrap_or(u32::MAX);
        let now = OffsetDateTime::now_utc();
        let claimed = match self.deps.store.claim(&queue, self.holder, limit, now, self.deps.settings.lease).await {
            Ok(jobs) => {
                self.deps.continuity.reached();
                jobs
            }
            Err(err) => {
                self.deps.continuity.missed();
                metrics::counter!("gantry_job_store_errors_total", "op" => "claim").increment(1);
                tracing::warn!(queue, error = %err, "claiming jobs failed; retrying at the next poll");
                return;
            }
        };
        self.more.insert(queue, claimed.len() == room);
        for job in claimed {
            self.start(myself, job, now);
        }
    }

    /// Spawns the worker task of a claimed job.
    fn start(&mut self, myself: &ActorRef<Envelope<JobRunnerMsg>>, job: Job, claimed_at: OffsetDateTime) {
        let id = job.id;
        let queue = job.queue.clone();
        *self.busy.entry(queue.clone()).or_default() += 1;
        let spec = self.deps.kinds.get(job.kind.as_str()).cloned().map(|spec| {
            let metrics = self.metrics.of(&job.kind, &job.queue);
            (spec, metrics)
        });
        let store = Arc::clone(&self.deps.store);
        let holder = self.holder;
        let lease = self.deps.settings.lease;
        let myself = myself.clone();
        let outcomes = self.outcomes.clone();
        let task = tokio::spawn(async move {
            let recorded = match run_attempt(store.as_ref(), spec, job, holder, claimed_at, lease).await {
                // The finisher records it and reports it recorded; the place is free now.
                Some(outcome) => match outcomes.send(outcome).await {
                    Ok(()) => false,
                    Err(mpsc::error::SendError(outcome)) => {
                        // The finisher is gone (the actor is stopping): record it here.
                        finish_batch(store.as_ref(), holder, vec![outcome]).await;
                        true
                    }
                },
                None => true,
            };
            let _ = myself.cast(Envelope::internal(JobRunnerMsg::Finished { id, recorded }));
        });
        self.running.insert(id, Running { queue, task });
    }

    /// Claims again from `queue` (a worker of it ended and [`Self::worth_claiming`] said so).
    async fn claim_more(&mut self, myself: &ActorRef<Envelope<JobRunnerMsg>>, queue: String) {
        let concurrency = self.deps.settings.queues.iter().find(|(q, _)| *q == queue).map_or(0, |(_, c)| *c);
        self.claim(myself, queue, concurrency).await;
    }

    /// While draining: answers the drain once nothing is running or waiting to be recorded.
    fn drained(&mut self) {
        if self.idle()
            && let Some(reply) = self.draining.take()
        {
            let _ = reply.send(0);
        }
    }

    /// Whether `queue` probably has due jobs (its last claim was full) and half its places are free.
    fn worth_claiming(&self, queue: &str) -> bool {
        let concurrency =
            self.deps.settings.queues.iter().find(|(q, _)| q == queue).map_or(0, |(_, concurrency)| *concurrency);
        let busy = self.busy.get(queue).copied().unwrap_or(0);
        self.more.get(queue).copied().unwrap_or(false) && concurrency.saturating_sub(busy) * 2 >= concurrency
    }

    /// A worker ended (see [`JobRunnerMsg::Finished`]): frees its place; returns its queue.
    fn finished(&mut self, id: Uuid, recorded: bool) -> Option<String> {
        let running = self.running.remove(&id)?;
        if let Some(n) = self.busy.get_mut(&running.queue) {
            *n = n.saturating_sub(1);
        }
        if !recorded && !self.recorded_early.remove(&id) {
            self.recording.insert(id);
        }
        Some(running.queue)
    }

    /// The finisher recorded (or dropped) these outcomes.
    fn recorded(&mut self, ids: Vec<Uuid>) {
        for id in ids {
            if !self.recording.remove(&id) && self.running.contains_key(&id) {
                self.recorded_early.insert(id);
            }
        }
    }

    /// Whether nothing of this runner's is running or waiting to be recorded.
    fn idle(&self) -> bool {
        self.running.is_empty() && self.recording.is_empty()
    }

    async fn renew(&mut self) {
        // Only the jobs this runner is running or recording: a job whose outcome could not be recorded (its
        // worker ended, the finisher gave up on it) is left to expire and run again elsewhere, as after a crash.
        let mine: Vec<Uuid> = self.running.keys().chain(self.recording.iter()).copied().collect();
        if mine.is_empty() {
            return;
        }
        let until = OffsetDateTime::now_utc() + self.deps.settings.lease;
        let held = match self.deps.store.renew(self.holder, &mine, until).await {
            Ok(held) => {
                self.deps.continuity.reached();
                held
            }
            Err(err) => {
                self.deps.continuity.missed();
                metrics::counter!("gantry_job_store_errors_total", "op" => "renew").increment(1);
                tracing::warn!(error = %err, "renewing job leases failed; retrying at the next renewal");
                return;
            }
        };
        // A job not held any more was cancelled (or, after a long stall, taken over): stop working on it. A
        // worker that has ended already (or a job being recorded) is not one: its outcome may have been recorded
        // (which ends the lease) while this renewal ran; the finisher tells if it was not.
        let lost: Vec<Uuid> = mine
            .into_iter()
            .filter(|id| !held.contains(id) && self.running.get(id).is_some_and(|r| !r.task.is_finished()))
            .collect();
        for id in lost {
            if let Some(running) = self.running.get(&id) {
                running.task.abort();
                metrics::counter!("gantry_jobs_lease_lost_total", "queue" => running.queue.clone()).increment(1);
                tracing::warn!(event = "job_lease_lost", job_id = %id, instance_id = %self.holder.instance,
                    "job lease lost (cancelled or taken over); its worker stopped");
            }
            self.finished(id, true);
        }
    }

    /// Rescues expired leases, unless this instance's own view of the database is too fresh to tell a dead
    /// holder from one that could not renew through the same outage (see [`crate::liveness`]).
    async fn rescue(&mut self, now: OffsetDateTime) {
        if !self.deps.continuity.trusts_silence_over(self.deps.settings.lease) {
            tracing::debug!(
                "the database answered again only recently; expired leases get a lease period to be renewed"
            );
            return;
        }
        match self.deps.store.rescue_expired(now).await {
            Ok(0) => self.deps.continuity.reached(),
            Ok(n) => {
                self.deps.continuity.reached();
                metrics::counter!("gantry_jobs_rescued_total").increment(n);
                tracing::warn!(
                    event = "job_leases_taken_over",
                    rescued = n,
                    "jobs whose instance stopped renewing the lease are due again (their dead attempts are recorded)"
                );
            }
            Err(err) => {
                self.deps.continuity.missed();
                metrics::counter!("gantry_job_store_errors_total", "op" => "rescue").increment(1);
                tracing::warn!(error = %err, "rescuing expired job leases failed; retrying");
            }
        }
    }

    async fn maintain(&mut self) {
        let now = OffsetDateTime::now_utc();
        self.rescue(now).await;
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
        self.recording.clear();
        self.recorded_early.clear();
        match self.deps.store.release(self.holder).await {
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

impl Actor for JobRunner {
    type Msg = Envelope<JobRunnerMsg>;
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
            myself.send_interval(settings.poll_every, || Envelope::internal(JobRunnerMsg::Poll)),
            myself.send_interval(renew_every, || Envelope::internal(JobRunnerMsg::Renew)),
            myself.send_interval(settings.maintain_every, || Envelope::internal(JobRunnerMsg::Maintain)),
        ];
        let _ = myself.cast(Envelope::internal(JobRunnerMsg::Maintain));
        let (outcomes, received) = mpsc::channel(4 * MAX_BATCH);
        let runner = myself.clone();
        let recorded = move |ids| {
            let _ = runner.cast(Envelope::internal(JobRunnerMsg::Recorded(ids)));
        };
        // A token per start of the runner: a restarted process (or a restarted runner) holds none of the
        // leases taken before it.
        let holder = LeaseHolder::new(deps.settings.instance);
        let finisher = tokio::spawn(finisher(Arc::clone(&deps.store), holder, received, recorded));
        Ok(RunnerState {
            deps,
            holder,
            tickers,
            outcomes,
            finisher,
            running: HashMap::new(),
            recording: HashSet::new(),
            recorded_early: HashSet::new(),
            metrics: MetricsByKind::default(),
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
        envelope: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let (message, _handling) = envelope.open(&state.deps.mailbox);
        match message {
            JobRunnerMsg::Poll => {
                state.poll(&myself).await;
            }
            JobRunnerMsg::Nudge { queue } => {
                state.nudged(&myself, queue).await;
            }
            JobRunnerMsg::Renew => {
                state.renew().await;
            }
            JobRunnerMsg::Maintain => {
                if !state.stopping {
                    state.maintain().await;
                }
            }
            JobRunnerMsg::Finished { id, recorded } => {
                let queue = state.finished(id, recorded);
                if state.stopping {
                    state.drained();
                } else if let Some(queue) = queue.filter(|q| state.worth_claiming(q)) {
                    // The last claim was full, so more jobs are probably due: claim again without waiting for the
                    // timer once half the queue's places are free (claims stay batches, not one per job).
                    state.claim_more(&myself, queue).await;
                }
            }
            JobRunnerMsg::Recorded(ids) => {
                state.recorded(ids);
                if state.stopping {
                    state.drained();
                }
            }
            JobRunnerMsg::Drain { within, reply } => {
                state.stopping = true;
                if state.idle() {
                    let _ = reply.send(0);
                } else {
                    tracing::info!(
                        running = state.running.len(),
                        recording = state.recording.len(),
                        "waiting for running jobs to finish"
                    );
                    state.draining = Some(reply);
                    myself.send_after(within, || Envelope::internal(JobRunnerMsg::DrainDeadline));
                }
            }
            JobRunnerMsg::DrainDeadline => {
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

    /// Claims from `queue` now instead of at the next poll (best effort: a full mailbox or a stopped runner
    /// leaves it to the poll).
    pub fn nudge(&self, queue: &str) {
        if self.slot.cast(JobRunnerMsg::Nudge { queue: queue.to_owned() }).is_ok() {
            metrics::counter!("gantry_jobs_wakeups_total").increment(1);
        }
    }

    /// Stops claiming and waits (at most `within`) for running jobs; the rest are given back. Returns how
    /// many were given back.
    ///
    /// # Errors
    /// [`CallError`] when the runner is not running or does not answer.
    pub async fn drain(&self, within: Duration) -> Result<u64, CallError> {
        let actor = self.slot.current().ok_or(CallError::NotRunning(NAME))?;
        // A call of its own (not through the slot): its timeout is the drain's, and it reserves no mailbox place.
        let drain = |reply| Envelope::internal(JobRunnerMsg::Drain { within, reply });
        match actor.call(drain, Some(within + Duration::from_secs(2))).await {
            Ok(ractor::rpc::CallResult::Success(n)) => Ok(n),
            Ok(ractor::rpc::CallResult::Timeout) => Err(CallError::Timeout(NAME)),
            _ => Err(CallError::NotRunning(NAME)),
        }
    }
}
