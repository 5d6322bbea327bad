//! One attempt of a claimed job, and the finisher: a worker runs its kind's handler under the timeout and turns
//! the answer into an outcome (complete, retry after the backoff, discard) and hands it to the finisher task,
//! which records the outcomes that have arrived in one batch (one commit) and reports them recorded.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use metrics::{Counter, Histogram};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::kind::{JobFailure, KindSpec};
use crate::ports::jobs::{Attempt, AttemptOutcome, Finish, FinishItem, Job, JobStore, LeaseHolder};

/// A finished attempt on its way to the job store.
pub(super) struct Outcome {
    job: Job,
    attempt: Attempt,
    finish: Finish,
    metrics: Arc<KindMetrics>,
}

/// The per-job metrics of one kind on one queue, registered once (a busy runner starts and finishes thousands
/// of jobs a second: looking a labelled metric up, with its label strings allocated, for each would cost more
/// than the no-op job itself).
pub(super) struct KindMetrics {
    started: Counter,
    completed: Counter,
    retried: Counter,
    discarded: Counter,
    wait: Histogram,
    run: Histogram,
}

impl KindMetrics {
    fn new(kind: &str, queue: &str) -> Self {
        let labels = [("kind", kind.to_owned()), ("queue", queue.to_owned())];
        Self {
            started: metrics::counter!("gantry_jobs_started_total", &labels),
            completed: metrics::counter!("gantry_jobs_completed_total", &labels),
            retried: metrics::counter!("gantry_jobs_retried_total", &labels),
            discarded: metrics::counter!("gantry_jobs_discarded_total", &labels),
            wait: metrics::histogram!("gantry_job_wait_seconds", &labels),
            run: metrics::histogram!("gantry_job_run_seconds", &labels),
        }
    }
}

/// The runner's [`KindMetrics`], per kind and queue (a handful: kinds are compiled in).
#[derive(Default)]
pub(super) struct MetricsByKind(HashMap<String, HashMap<String, Arc<KindMetrics>>>);

impl MetricsByKind {
    /// The metrics of `kind` on `queue`, registered at the first use.
    pub(super) fn of(&mut self, kind: &str, queue: &str) -> Arc<KindMetrics> {
        if let Some(found) = self.0.get(kind).and_then(|queues| queues.get(queue)) {
            return Arc::clone(found);
        }
        let made = Arc::new(KindMetrics::new(kind, queue));
        self.0.entry(kind.to_owned()).or_default().insert(queue.to_owned(), Arc::clone(&made));
        made
    }
}

/// The most outcomes recorded in one batch.
pub(super) const MAX_BATCH: usize = 256;

/// Records the workers' outcomes: takes what has arrived (at least one, at most [`MAX_BATCH`]) and records it in
/// one [`JobStore::finish_many`] (one commit), then reports the batch `recorded`. Under load the outcomes queue
/// up while a batch commits, so batches grow with the load; alone, an outcome is recorded at once.
pub(super) async fn finisher(
    store: Arc<dyn JobStore>,
    holder: LeaseHolder,
    mut outcomes: mpsc::Receiver<Outcome>,
    recorded: impl Fn(Vec<Uuid>) + Send + 'static,
) {
    while let Some(first) = outcomes.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match outcomes.try_recv() {
                Ok(outcome) => batch.push(outcome),
                Err(_) => break,
            }
        }
        let ids = finish_batch(store.as_ref(), holder, batch).await;
        recorded(ids);
    }
}

/// Records `batch` and counts each recorded outcome; returns the batch's job ids (its outcomes are recorded,
/// or dropped because the lease was gone or the store failed: the runner stops renewing them either way).
pub(super) async fn finish_batch(store: &dyn JobStore, holder: LeaseHolder, batch: Vec<Outcome>) -> Vec<Uuid> {
    let items: Vec<FinishItem> = batch
        .iter()
        .map(|o| FinishItem { id: o.job.id, attempt: o.attempt.clone(), finish: o.finish.clone() })
        .collect();
    let recorded = match store.finish_many(holder, &items).await {
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
            match &outcome.finish {
                Finish::Complete(_) => outcome.metrics.completed.increment(1),
                Finish::Retry { .. } => outcome.metrics.retried.increment(1),
                Finish::Discard { error } => {
                    outcome.metrics.discarded.increment(1);
                    tracing::warn!(job_id = %job.id, kind = job.kind, attempt = job.attempt, error, "job discarded");
                }
                Finish::Snooze { .. } => {}
            }
        } else {
            lease_gone(job);
        }
    }
    batch.iter().map(|outcome| outcome.job.id).collect()
}

/// Runs one attempt of `job` with its kind's spec and metrics; returns its outcome for the finisher (`None`
/// when it was given back here already: no worker for its kind).
pub(super) async fn run_attempt(
    store: &dyn JobStore,
    spec: Option<(KindSpec, Arc<KindMetrics>)>,
    job: Job,
    holder: LeaseHolder,
    claimed_at: OffsetDateTime,
    lease: Duration,
) -> Option<Outcome> {
    let instance = holder.instance;
    let Some((spec, metrics)) = spec else {
        // A kind this version does not know (a newer instance enqueued it during a rolling deploy): given
        // back uncounted for an instance that knows it.
        let finish = Finish::Snooze { at: OffsetDateTime::now_utc() + lease };
        let attempt = attempt_record(&job, instance, claimed_at, AttemptOutcome::Failed, None);
        tracing::warn!(job_id = %job.id, kind = job.kind, "no worker for this job kind here; given back");
        record(store, &job, holder, &attempt, &finish).await;
        return None;
    };
    metrics.started.increment(1);
    if let Some(due) = job.run_at {
        metrics.wait.record((claimed_at - due).as_seconds_f64().max(0.0));
    }
    let (outcome, finish, error) = if job.attempt > job.max_attempts {
        // The previous attempt was the last one and its instance died mid-job.
        let error = job.error.clone().unwrap_or_else(|| "lease expired".to_owned());
        spec.handler.discarded(&job, &error).await;
        (AttemptOutcome::LeaseExpired, Finish::Discard { error: error.clone() }, Some(error))
    } else {
        let started = std::time::Instant::now();
        let result = tokio::time::timeout(spec.timeout, spec.handler.run(&job)).await;
        metrics.run.record(started.elapsed().as_secs_f64());
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
    Some(Outcome { job, attempt, finish, metrics })
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

/// Logs and counts an outcome dropped because this runner no longer held the job's lease (cancelled, or its
/// lease expired and the job was rescued for another runner).
fn lease_gone(job: &Job) {
    metrics::counter!("gantry_jobs_lease_lost_total", "queue" => job.queue.clone()).increment(1);
    tracing::warn!(event = "job_lease_lost", job_id = %job.id, kind = job.kind,
        "job outcome dropped: its lease is gone (cancelled or taken over)");
}

/// Records an outcome; `false` when the lease was gone (the outcome is dropped: someone else owns the job).
async fn record(store: &dyn JobStore, job: &Job, holder: LeaseHolder, attempt: &Attempt, finish: &Finish) -> bool {
    match store.finish(job.id, holder, attempt, finish).await {
        Ok(true) => true,
        Ok(false) => {
            lease_gone(job);
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
