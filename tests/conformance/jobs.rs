//! The `JobStore` contract.

use std::sync::Arc;

use std::collections::HashSet;
use std::time::Duration;

use gantry_actors::ports::jobs::{
    Attempt, AttemptOutcome, Enqueued, Finish, FinishItem, Job, JobFilter, JobState, JobStore, JobStoreError,
    JobUpdate, LeaseHolder, NewJob,
};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

/// Timestamps as both databases keep them (microseconds), for comparing a created job with its stored copy.
fn stored(mut job: Job) -> Job {
    let truncate = |t: OffsetDateTime| {
        t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000).expect("a truncated nanosecond is in range")
    };
    job.created_at = truncate(job.created_at);
    job.updated_at = truncate(job.updated_at);
    job
}

/// A created job reads back unchanged, and an update replaces exactly its `Some` fields (JSON included)
/// and bumps `updated_at`; a final state stamps `finished_at`.
pub async fn create_get_update_round_trip_keeps_json_and_applies_only_some_fields(jobs: Arc<dyn JobStore>) {
    let job = Job::new("sessions.revoke_all", Some("user-1".to_owned()));

    jobs.create(&job).await.expect("create");
    let fetched = jobs.get(job.id).await.expect("get").expect("job exists");
    assert_eq!(fetched, stored(job.clone()));

    let progress = json!({"step": "revoking", "done": 3, "of": [1, 2.5, null]});
    let running = jobs
        .update(
            job.id,
            JobUpdate { state: Some(JobState::Running), progress: Some(progress.clone()), ..JobUpdate::default() },
        )
        .await
        .expect("update to running");
    assert_eq!(running.state, JobState::Running);
    assert_eq!(running.progress, progress);
    assert_eq!(running.result, None);
    assert_eq!(running.finished_at, None, "a running job has not finished");
    assert!(running.updated_at >= fetched.updated_at);

    let result = json!({"revoked": 42, "note": "naïve ✓"});
    let done = jobs
        .update(
            job.id,
            JobUpdate { state: Some(JobState::Completed), result: Some(result.clone()), ..JobUpdate::default() },
        )
        .await
        .expect("update to succeeded");
    assert_eq!(done.state, JobState::Completed);
    assert_eq!(done.progress, progress, "progress was not part of the update");
    assert_eq!(done.result, Some(result));
    assert_eq!(done.error, None);
    assert_eq!(done.finished_at, Some(done.updated_at), "a job put in a final state gets its finished_at");
    assert_eq!(done.kind, job.kind);
    assert_eq!(done.owner, job.owner);
    assert_eq!(done.created_at, fetched.created_at);
    assert_eq!(jobs.get(job.id).await.expect("get").as_ref(), Some(&done));
    assert!(jobs.get(Uuid::now_v7()).await.expect("get").is_none());
}

/// Updating an id that was never created is `NotFound`, and creates nothing.
pub async fn update_of_unknown_id_is_not_found(jobs: Arc<dyn JobStore>) {
    let id = Uuid::now_v7();

    let err = jobs
        .update(
            id,
            JobUpdate { state: Some(JobState::Discarded), error: Some("boom".to_owned()), ..JobUpdate::default() },
        )
        .await
        .expect_err("unknown id");

    assert!(matches!(err, JobStoreError::NotFound(missing) if missing == id));
    assert!(jobs.get(id).await.expect("get").is_none());
}

/// Two tasks updating different fields of one job at the same time both land: the final row holds the last
/// progress of one and the last result of the other (no lost update).
pub async fn concurrent_updates_from_two_tasks_both_land(jobs: Arc<dyn JobStore>) {
    let job = Job::new("upload", None);
    jobs.create(&job).await.expect("create");
    let id = job.id;
    const ROUNDS: i64 = 25;

    let progress_writer = {
        let jobs = Arc::clone(&jobs);
        tokio::spawn(async move {
            for i in 0..ROUNDS {
                let update = JobUpdate {
                    state: Some(JobState::Running),
                    progress: Some(json!({"part": i})),
                    ..JobUpdate::default()
                };
                jobs.update(id, update).await.expect("progress update");
            }
        })
    };
    let result_writer = {
        let jobs = Arc::clone(&jobs);
        tokio::spawn(async move {
            for i in 0..ROUNDS {
                let update = JobUpdate { result: Some(json!({"checksum": i})), ..JobUpdate::default() };
                jobs.update(id, update).await.expect("result update");
            }
        })
    };
    progress_writer.await.expect("progress task");
    result_writer.await.expect("result task");

    let last = ROUNDS - 1;
    let stored = jobs.get(id).await.expect("get").expect("job exists");
    assert_eq!(stored.state, JobState::Running);
    assert_eq!(stored.progress, json!({"part": last}));
    assert_eq!(stored.result, Some(json!({"checksum": last})));
    assert!(stored.updated_at > stored.created_at);
}

const LEASE: Duration = Duration::from_secs(30);

/// A runner job of `kind` due now with three attempts.
fn runner_job(kind: &str) -> NewJob {
    NewJob { max_attempts: 3, ..NewJob::new(kind, "default", json!({"n": 1})) }
}

/// The runner of a new process on a new instance.
fn holder() -> LeaseHolder {
    LeaseHolder::new(Uuid::now_v7())
}

/// The attempt record of a claimed job.
fn attempt(job: &Job, holder: LeaseHolder, outcome: AttemptOutcome, error: Option<&str>) -> Attempt {
    Attempt {
        attempt: job.attempt,
        instance_id: holder.instance,
        started_at: job.started_at.expect("claimed jobs have started"),
        finished_at: OffsetDateTime::now_utc(),
        outcome,
        error: error.map(str::to_owned),
    }
}

/// An enqueued job is claimed once (running, attempt 1, leased to the claimer; a second claim gets nothing),
/// its completion is recorded with the attempt, and a second completion by anyone is refused.
pub async fn enqueued_job_is_claimed_once_and_completed_once(jobs: Arc<dyn JobStore>) {
    let (a, b) = (holder(), holder());
    let new = runner_job("test.once");
    assert_eq!(jobs.enqueue(&new).await.expect("enqueue"), Enqueued::Created(new.id));
    assert_eq!(jobs.get(new.id).await.expect("get").expect("stored").state, JobState::Available);

    let now = OffsetDateTime::now_utc();
    let claimed = jobs.claim("default", a, 10, now, LEASE).await.expect("claim");
    assert_eq!(claimed.len(), 1);
    let job = &claimed[0];
    assert_eq!((job.id, job.state, job.attempt, job.lease_owner), (new.id, JobState::Running, 1, Some(a.instance)));
    assert_eq!(job.args, json!({"n": 1}));
    assert!(jobs.claim("default", b, 10, now, LEASE).await.expect("claim").is_empty(), "leased to a");
    assert!(jobs.claim("other", a, 10, now, LEASE).await.expect("claim").is_empty(), "another queue");

    let done = Finish::Complete(Some(json!({"ok": true})));
    assert!(jobs.finish(job.id, a, &attempt(job, a, AttemptOutcome::Completed, None), &done).await.expect("finish"));
    assert!(!jobs.finish(job.id, b, &attempt(job, b, AttemptOutcome::Completed, None), &done).await.expect("finish"));
    assert!(!jobs.finish(job.id, a, &attempt(job, a, AttemptOutcome::Completed, None), &done).await.expect("finish"));

    let stored = jobs.get(job.id).await.expect("get").expect("stored");
    assert_eq!(
        (stored.state, stored.result, stored.lease_owner),
        (JobState::Completed, Some(json!({"ok": true})), None)
    );
    assert!(stored.finished_at.is_some());
    let attempts = jobs.attempts(job.id).await.expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        (attempts[0].attempt, attempts[0].instance_id, attempts[0].outcome),
        (1, a.instance, AttemptOutcome::Completed)
    );
}

/// Two instances claiming the same queue at the same time never get the same job, and between them get
/// every due job.
pub async fn concurrent_claims_never_share_a_job(jobs: Arc<dyn JobStore>) {
    const N: usize = 60;
    for _ in 0..N {
        jobs.enqueue(&runner_job("test.share")).await.expect("enqueue");
    }
    let claimer = |instance: LeaseHolder| {
        let jobs = Arc::clone(&jobs);
        tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = jobs.claim("default", instance, 7, OffsetDateTime::now_utc(), LEASE).await.expect("claim");
                if batch.is_empty() {
                    return got;
                }
                got.extend(batch.into_iter().map(|j| j.id));
            }
        })
    };
    let (a, b) = (claimer(holder()), claimer(holder()));
    let (a, b) = (a.await.expect("task a"), b.await.expect("task b"));
    let all: HashSet<Uuid> = a.iter().chain(&b).copied().collect();
    assert_eq!(a.len() + b.len(), N, "each job claimed once");
    assert_eq!(all.len(), N);
}

/// Two enqueues of one unique key at the same time store exactly one job; the key is free again once that
/// job finished. A period key is never stored twice, even after its job finished.
pub async fn unique_keys_are_enforced_by_the_database(jobs: Arc<dyn JobStore>) {
    let unique = || NewJob { unique_key: Some("fleet".into()), ..runner_job("test.unique") };
    let (first, second) = (unique(), unique());
    let (x, y) = {
        let (j1, j2) = (Arc::clone(&jobs), Arc::clone(&jobs));
        let (f, s) = (first.clone(), second.clone());
        tokio::join!(async move { j1.enqueue(&f).await }, async move { j2.enqueue(&s).await })
    };
    let outcomes = [x.expect("enqueue"), y.expect("enqueue")];
    assert_eq!(outcomes.iter().filter(|o| matches!(o, Enqueued::Created(_))).count(), 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| **o == Enqueued::Duplicate).count(), 1);
    let filter = JobFilter { kind: Some("test.unique".into()), limit: 10, ..JobFilter::default() };
    assert_eq!(jobs.list(&filter).await.expect("list").len(), 1);

    let instance = holder();
    let job = jobs.claim("default", instance, 1, OffsetDateTime::now_utc(), LEASE).await.expect("claim").remove(0);
    let done = Finish::Complete(None);
    assert!(
        jobs.finish(job.id, instance, &attempt(&job, instance, AttemptOutcome::Completed, None), &done)
            .await
            .expect("finish")
    );
    assert!(matches!(jobs.enqueue(&unique()).await.expect("enqueue"), Enqueued::Created(_)), "key free again");

    let periodic = || NewJob { period_key: Some("2026-11-27T10:00:00Z".into()), ..runner_job("test.periodic") };
    assert!(matches!(jobs.enqueue(&periodic()).await.expect("enqueue"), Enqueued::Created(_)));
    jobs.cancel(
        jobs.list(&JobFilter { kind: Some("test.periodic".into()), limit: 1, ..JobFilter::default() })
            .await
            .expect("list")[0]
            .id,
        OffsetDateTime::now_utc(),
    )
    .await
    .expect("cancel");
    assert_eq!(jobs.enqueue(&periodic()).await.expect("enqueue"), Enqueued::Duplicate, "one job per period, ever");
}

/// A job whose lease expired (its instance died) is claimed by another instance as a new attempt that says
/// why; the dead attempt is recorded once as `lease_expired` naming its instance, which can no longer record
/// an outcome for it.
pub async fn expired_lease_is_claimed_again_by_another_instance(jobs: Arc<dyn JobStore>) {
    let (dead, alive) = (holder(), holder());
    let new = runner_job("test.lease");
    jobs.enqueue(&new).await.expect("enqueue");
    let now = OffsetDateTime::now_utc();
    let first = jobs.claim("default", dead, 1, now, Duration::from_secs(5)).await.expect("claim").remove(0);
    assert!(jobs.claim("default", alive, 1, now + Duration::from_secs(4), LEASE).await.expect("claim").is_empty());

    assert_eq!(jobs.rescue_expired(now + Duration::from_secs(4)).await.expect("rescue"), 0, "lease still valid");
    let later = now + Duration::from_secs(6);
    assert_eq!(jobs.rescue_expired(later).await.expect("rescue"), 1);
    // The dead attempt is recorded once, naming the instance that held it; a second rescue adds nothing.
    assert_eq!(jobs.rescue_expired(later + Duration::from_secs(1)).await.expect("rescue"), 0);
    let recorded = jobs.attempts(new.id).await.expect("attempts");
    assert_eq!(
        recorded.iter().map(|a| (a.attempt, a.instance_id, a.outcome)).collect::<Vec<_>>(),
        vec![(1, dead.instance, AttemptOutcome::LeaseExpired)],
        "{recorded:?}"
    );
    assert_eq!(recorded[0].finished_at.unix_timestamp(), later.unix_timestamp());
    assert!(recorded[0].error.as_deref().is_some_and(|e| e.contains(&dead.instance.to_string())), "{recorded:?}");
    let second = jobs.claim("default", alive, 1, later, LEASE).await.expect("claim").remove(0);
    assert_eq!((second.id, second.attempt, second.lease_owner), (new.id, 2, Some(alive.instance)));
    assert!(second.error.as_deref().is_some_and(|e| e.contains("lease expired")), "{:?}", second.error);

    let done = Finish::Complete(None);
    assert!(
        !jobs
            .finish(first.id, dead, &attempt(&first, dead, AttemptOutcome::Completed, None), &done)
            .await
            .expect("finish")
    );
    assert!(
        jobs.finish(second.id, alive, &attempt(&second, alive, AttemptOutcome::Completed, None), &done)
            .await
            .expect("finish")
    );
    let attempts = jobs.attempts(new.id).await.expect("attempts");
    assert_eq!(
        attempts.iter().map(|a| (a.attempt, a.instance_id, a.outcome)).collect::<Vec<_>>(),
        vec![(1, dead.instance, AttemptOutcome::LeaseExpired), (2, alive.instance, AttemptOutcome::Completed)]
    );

    // A record-only job with a lease (a rotation run inline) whose instance died is discarded, never run by
    // the runner, and its unique key is free again; a job holding the key is reported as its holder until then.
    let locked = Job {
        state: JobState::Running,
        unique_key: Some("test.fleet-lock".into()),
        lease_owner: Some(dead.instance),
        lease_expires_at: Some(now + Duration::from_secs(5)),
        ..Job::new("secrets.rotate", Some("admin".into()))
    };
    jobs.create(&locked).await.expect("create");
    let again = Job { unique_key: Some("test.fleet-lock".into()), ..Job::new("secrets.rotate", None) };
    assert!(jobs.create(&again).await.is_err(), "the key is held");
    assert_eq!(jobs.rescue_expired(now + Duration::from_secs(6)).await.expect("rescue"), 1);
    let orphan = jobs.get(locked.id).await.expect("get").expect("stored");
    assert_eq!(orphan.state, JobState::Discarded);
    assert!(orphan.error.as_deref().is_some_and(|e| e.contains("lease expired")), "{orphan:?}");
    assert!(jobs.claim("default", alive, 10, later, LEASE).await.expect("claim").is_empty());
    jobs.create(&again).await.expect("the key is free");
}

/// A failed attempt makes the job `retryable` until its backoff ends (not claimed before, claimed after);
/// discarding keeps the last error; renew reports the leases still held; release gives a job back uncounted.
pub async fn retries_wait_for_their_backoff_and_discard_keeps_the_error(jobs: Arc<dyn JobStore>) {
    let instance = holder();
    let new = runner_job("test.retry");
    jobs.enqueue(&new).await.expect("enqueue");
    let now = OffsetDateTime::now_utc();
    let job = jobs.claim("default", instance, 1, now, LEASE).await.expect("claim").remove(0);
    assert_eq!(jobs.renew(instance, &[job.id], now + LEASE).await.expect("renew"), vec![job.id]);

    let at = now + Duration::from_secs(60);
    let retry = Finish::Retry { error: "boom 1".into(), at };
    assert!(
        jobs.finish(job.id, instance, &attempt(&job, instance, AttemptOutcome::Failed, Some("boom 1")), &retry)
            .await
            .expect("finish")
    );
    let stored = jobs.get(job.id).await.expect("get").expect("stored");
    assert_eq!((stored.state, stored.error.as_deref()), (JobState::Retryable, Some("boom 1")));
    assert!(jobs.renew(instance, &[job.id], now + LEASE).await.expect("renew").is_empty());
    assert!(jobs.claim("default", instance, 1, now + Duration::from_secs(59), LEASE).await.expect("claim").is_empty());

    let job = jobs.claim("default", instance, 1, now + Duration::from_secs(61), LEASE).await.expect("claim").remove(0);
    assert_eq!(job.attempt, 2);
    assert_eq!(jobs.release(instance).await.expect("release"), 1);
    let job = jobs.claim("default", instance, 1, now + Duration::from_secs(62), LEASE).await.expect("claim").remove(0);
    assert_eq!(job.attempt, 2, "a released attempt is not counted");

    let discard = Finish::Discard { error: "boom 2".into() };
    assert!(
        jobs.finish(job.id, instance, &attempt(&job, instance, AttemptOutcome::Failed, Some("boom 2")), &discard)
            .await
            .expect("finish")
    );
    let stored = jobs.get(job.id).await.expect("get").expect("stored");
    assert_eq!((stored.state, stored.error.as_deref()), (JobState::Discarded, Some("boom 2")));
    let attempts = jobs.attempts(job.id).await.expect("attempts");
    let seen: Vec<_> = attempts.iter().map(|a| (a.attempt, a.error.as_deref())).collect();
    assert_eq!(seen, vec![(1, Some("boom 1")), (2, Some("boom 2"))]);
}

/// Enqueues `new` (the only due job), claims it as `instance` and discards it after one failed attempt.
async fn discarded(jobs: &Arc<dyn JobStore>, new: &NewJob, instance: LeaseHolder) -> Job {
    jobs.enqueue(new).await.expect("enqueue");
    let job = jobs.claim("default", instance, 1, OffsetDateTime::now_utc(), LEASE).await.expect("claim").remove(0);
    assert_eq!(job.id, new.id, "the only due job");
    let discard = Finish::Discard { error: "bad".into() };
    jobs.finish(job.id, instance, &attempt(&job, instance, AttemptOutcome::Failed, Some("bad")), &discard)
        .await
        .expect("finish");
    job
}

/// An operator retries a discarded job (due now, with an attempt to spend) and cancels a waiting or
/// running one (whose lease is gone); other states are refused with the state, unknown ids are not found,
/// and a record-only job is never touched.
pub async fn retry_and_cancel_apply_only_to_their_states(jobs: Arc<dyn JobStore>) {
    let instance = holder();
    let now = OffsetDateTime::now_utc();
    let job = discarded(&jobs, &NewJob { max_attempts: 1, ..runner_job("test.control") }, instance).await;
    assert!(matches!(
        jobs.cancel(job.id, now).await,
        Err(JobStoreError::WrongState { state: JobState::Discarded, .. })
    ));

    let retried = jobs.retry(job.id, now).await.expect("retry");
    assert_eq!((retried.state, retried.attempt, retried.max_attempts), (JobState::Available, 1, 2));
    assert!(matches!(jobs.retry(job.id, now).await, Err(JobStoreError::WrongState { state: JobState::Available, .. })));
    let job = jobs.claim("default", instance, 1, now, LEASE).await.expect("claim").remove(0);
    assert_eq!(job.attempt, 2);

    let cancelled = jobs.cancel(job.id, now).await.expect("cancel running");
    assert_eq!((cancelled.state, cancelled.lease_owner), (JobState::Cancelled, None));
    assert!(
        jobs.renew(instance, &[job.id], now + LEASE).await.expect("renew").is_empty(),
        "the worker learns it lost the job"
    );
    let done = Finish::Complete(None);
    assert!(
        !jobs
            .finish(job.id, instance, &attempt(&job, instance, AttemptOutcome::Completed, None), &done)
            .await
            .expect("finish")
    );
    assert_eq!(jobs.get(job.id).await.expect("get").expect("stored").state, JobState::Cancelled);

    let unknown = Uuid::now_v7();
    assert!(matches!(jobs.retry(unknown, now).await, Err(JobStoreError::NotFound(id)) if id == unknown));
    assert!(matches!(jobs.cancel(unknown, now).await, Err(JobStoreError::NotFound(id)) if id == unknown));
    let record = Job::new("upload", None);
    jobs.create(&record).await.expect("create");
    assert!(matches!(jobs.cancel(record.id, now).await, Err(JobStoreError::WrongState { .. })));
    assert!(
        jobs.claim("default", instance, 10, now, LEASE).await.expect("claim").is_empty(),
        "record-only jobs never run"
    );
}

/// Retrying a discarded job whose unique key another live job now holds is the conflict naming that job (not
/// an outage), and changes nothing; once the holder has finished, the same retry succeeds.
pub async fn retry_while_another_live_job_holds_the_key_names_the_holder(jobs: Arc<dyn JobStore>) {
    let keyed = || NewJob { unique_key: Some("test.keyed:1".into()), max_attempts: 1, ..runner_job("test.keyed") };
    let first = keyed();
    let now = OffsetDateTime::now_utc();
    discarded(&jobs, &first, holder()).await;
    let holder = keyed();
    assert_eq!(jobs.enqueue(&holder).await.expect("enqueue"), Enqueued::Created(holder.id), "the key is free");

    let refused = jobs.retry(first.id, now).await;
    assert!(
        matches!(refused, Err(JobStoreError::KeyTaken { id, holder: Some(h) }) if id == first.id && h == holder.id),
        "{refused:?}"
    );
    let unchanged = jobs.get(first.id).await.expect("get").expect("stored");
    assert_eq!((unchanged.state, unchanged.max_attempts), (JobState::Discarded, 1));

    jobs.cancel(holder.id, now).await.expect("cancel the holder");
    let retried = jobs.retry(first.id, now).await.expect("retry once the key is free");
    assert_eq!(retried.state, JobState::Available);
}

/// Queue depths count due and later jobs per queue with the oldest due time; listing filters by state and
/// kind; pruning deletes finished jobs older than the cut-off and nothing else.
pub async fn depths_list_and_prune(jobs: Arc<dyn JobStore>) {
    let now = OffsetDateTime::now_utc();
    let due = runner_job("test.depth");
    let later = NewJob { run_at: now + Duration::from_secs(600), ..runner_job("test.depth") };
    jobs.enqueue(&due).await.expect("enqueue");
    jobs.enqueue(&later).await.expect("enqueue");
    assert_eq!(jobs.get(later.id).await.expect("get").expect("stored").state, JobState::Scheduled);
    let depths = jobs.depths(now + Duration::from_secs(1)).await.expect("depths");
    assert_eq!(depths.len(), 1);
    assert_eq!((depths[0].queue.as_str(), depths[0].available, depths[0].scheduled), ("default", 1, 1));
    assert!(depths[0].oldest_available.is_some());

    let scheduled = JobFilter { state: Some(JobState::Scheduled), kind: Some("test.depth".into()), limit: 10 };
    assert_eq!(jobs.list(&scheduled).await.expect("list").iter().map(|j| j.id).collect::<Vec<_>>(), vec![later.id]);
    let newest_first = jobs.list(&JobFilter { limit: 10, ..JobFilter::default() }).await.expect("list");
    assert_eq!(newest_first.iter().map(|j| j.id).collect::<Vec<_>>(), vec![later.id, due.id]);

    jobs.cancel(due.id, now).await.expect("cancel");
    assert_eq!(jobs.prune_finished(now - Duration::from_secs(60)).await.expect("prune"), 0, "too recent");
    assert_eq!(jobs.prune_finished(now + Duration::from_secs(60)).await.expect("prune"), 1);
    assert!(jobs.get(due.id).await.expect("get").is_none());
    assert!(jobs.get(later.id).await.expect("get").is_some(), "unfinished jobs stay");
}

/// Counts cover every stored job per queue, kind and state, not a page of them: only the combinations that
/// have jobs appear, ordered by queue, kind and state, record-only jobs included.
pub async fn counts_cover_every_job_per_queue_kind_and_state(jobs: Arc<dyn JobStore>) {
    assert!(jobs.counts().await.expect("counts").is_empty(), "a fresh store has no jobs");
    let now = OffsetDateTime::now_utc();
    for _ in 0..3 {
        jobs.enqueue(&runner_job("test.count")).await.expect("enqueue");
    }
    let later = NewJob { run_at: now + Duration::from_secs(600), ..NewJob::new("test.count", "photos", json!({})) };
    jobs.enqueue(&later).await.expect("enqueue");
    let cancelled = runner_job("test.other");
    jobs.enqueue(&cancelled).await.expect("enqueue");
    jobs.cancel(cancelled.id, now).await.expect("cancel");
    jobs.create(&Job::new("sessions.revoke_all", None)).await.expect("a record-only job");
    let claimed = jobs.claim("default", holder(), 1, now + Duration::from_secs(1), LEASE).await.expect("claim");
    assert_eq!(claimed.len(), 1);

    let counts = jobs.counts().await.expect("counts");

    let seen: Vec<(&str, &str, JobState, u64)> =
        counts.iter().map(|c| (c.queue.as_str(), c.kind.as_str(), c.state, c.count)).collect();
    assert_eq!(
        seen,
        vec![
            ("default", "sessions.revoke_all", JobState::Available, 1),
            ("default", "test.count", JobState::Available, 2),
            ("default", "test.count", JobState::Running, 1),
            ("default", "test.other", JobState::Cancelled, 1),
            ("photos", "test.count", JobState::Scheduled, 1),
        ]
    );
    let page = jobs.list(&JobFilter { limit: 2, ..JobFilter::default() }).await.expect("list");
    assert_eq!((page.len(), counts.iter().map(|c| c.count).sum::<u64>()), (2, 6), "a page, but every job counted");
}

/// A batch of outcomes is recorded as each would be alone: completions (with their results and attempts), a
/// retry and a discard land; an outcome for a job whose lease is gone (cancelled meanwhile, or leased to
/// another instance) is refused and changes nothing; the answer says which were recorded, in order.
pub async fn a_batch_of_outcomes_is_recorded_as_each_alone(jobs: Arc<dyn JobStore>) {
    let (a, b) = (holder(), holder());
    for _ in 0..6 {
        jobs.enqueue(&runner_job("test.batch")).await.expect("enqueue");
    }
    let now = OffsetDateTime::now_utc();
    let mut claimed = jobs.claim("default", a, 5, now, LEASE).await.expect("claim");
    let other = jobs.claim("default", b, 5, now, LEASE).await.expect("claim").pop().expect("b has one");
    assert_eq!(claimed.len(), 5);
    claimed.sort_by_key(|j| j.id);
    let cancelled = &claimed[4];
    jobs.cancel(cancelled.id, now).await.expect("cancel");
    let later = now + Duration::from_secs(60);
    let done = |job: &Job, n: i64| FinishItem {
        id: job.id,
        attempt: attempt(job, a, AttemptOutcome::Completed, None),
        finish: Finish::Complete(Some(json!({"n": n}))),
    };
    let items = vec![
        done(&claimed[0], 0),
        FinishItem { finish: Finish::Complete(None), ..done(&claimed[1], 1) },
        FinishItem {
            attempt: attempt(&claimed[2], a, AttemptOutcome::Failed, Some("flaky")),
            finish: Finish::Retry { error: "flaky".into(), at: later },
            ..done(&claimed[2], 2)
        },
        FinishItem {
            attempt: attempt(&claimed[3], a, AttemptOutcome::Failed, Some("bad input")),
            finish: Finish::Discard { error: "bad input".into() },
            ..done(&claimed[3], 3)
        },
        done(cancelled, 4),
        done(&other, 5),
    ];

    let recorded = jobs.finish_many(a, &items).await.expect("finish_many");

    assert_eq!(recorded, vec![true, true, true, true, false, false]);
    let get = |id| {
        let jobs = Arc::clone(&jobs);
        async move { jobs.get(id).await.expect("get").expect("stored") }
    };
    let first = get(claimed[0].id).await;
    assert_eq!((first.state, first.result, first.lease_owner), (JobState::Completed, Some(json!({"n": 0})), None));
    assert!(first.finished_at.is_some());
    let second = get(claimed[1].id).await;
    assert_eq!((second.state, second.result), (JobState::Completed, None));
    let retried = get(claimed[2].id).await;
    assert_eq!((retried.state, retried.error.as_deref()), (JobState::Retryable, Some("flaky")));
    let discarded = get(claimed[3].id).await;
    assert_eq!((discarded.state, discarded.error.as_deref()), (JobState::Discarded, Some("bad input")));
    assert_eq!(get(cancelled.id).await.state, JobState::Cancelled, "a cancelled job stays cancelled");
    let still = get(other.id).await;
    assert_eq!((still.state, still.lease_owner), (JobState::Running, Some(b.instance)), "b's lease is untouched");
    for (job, outcome) in [(&claimed[0], AttemptOutcome::Completed), (&claimed[2], AttemptOutcome::Failed)] {
        let attempts = jobs.attempts(job.id).await.expect("attempts");
        assert_eq!(attempts.len(), 1, "one attempt row for {}", job.id);
        assert_eq!((attempts[0].attempt, attempts[0].instance_id, attempts[0].outcome), (1, a.instance, outcome));
    }
    assert!(jobs.attempts(cancelled.id).await.expect("attempts").is_empty(), "no attempt without the lease");
    assert!(jobs.attempts(other.id).await.expect("attempts").is_empty());
    assert!(jobs.finish_many(a, &[]).await.expect("an empty batch").is_empty());
}

/// Leases belong to the runner that claimed them, not to the instance id (issue 25 item 1): a process restarted
/// under the same instance id (a new token) cannot renew, finish or give back its predecessor's job, so the
/// lease expires and the job is rescued and claimed again; and a runner renews only the jobs it names (the
/// ones it is running), leaving another of its leases to expire.
pub async fn a_restarted_process_with_the_same_id_holds_none_of_its_predecessors_leases(jobs: Arc<dyn JobStore>) {
    let instance = Uuid::now_v7();
    let (before, after) = (LeaseHolder::new(instance), LeaseHolder::new(instance));
    let new = runner_job("test.restart");
    jobs.enqueue(&new).await.expect("enqueue");
    let now = OffsetDateTime::now_utc();
    let job = jobs.claim("default", before, 1, now, Duration::from_secs(5)).await.expect("claim").remove(0);
    assert_eq!(job.lease_owner, Some(instance), "operators see the instance");

    assert!(jobs.renew(after, &[job.id], now + LEASE).await.expect("renew").is_empty(), "not the restarted one's");
    assert_eq!(jobs.release(after).await.expect("release"), 0);
    let done = Finish::Complete(None);
    let by_after = attempt(&job, after, AttemptOutcome::Completed, None);
    assert!(!jobs.finish(job.id, after, &by_after, &done).await.expect("finish"));
    let stored = jobs.get(job.id).await.expect("get").expect("stored");
    assert_eq!(
        stored.lease_expires_at.map(|t| t.unix_timestamp()),
        Some((now + Duration::from_secs(5)).unix_timestamp())
    );

    let later = now + Duration::from_secs(6);
    assert_eq!(jobs.rescue_expired(later).await.expect("rescue"), 1, "nobody kept the dead process's lease alive");
    let again = jobs.claim("default", after, 1, later, LEASE).await.expect("claim").remove(0);
    assert_eq!((again.id, again.attempt, again.lease_owner), (new.id, 2, Some(instance)));
    let by_before = attempt(&job, before, AttemptOutcome::Completed, None);
    assert!(!jobs.finish(job.id, before, &by_before, &done).await.expect("finish"), "the old process lost it");
    assert!(
        jobs.finish(again.id, after, &attempt(&again, after, AttemptOutcome::Completed, None), &done)
            .await
            .expect("finish")
    );

    // Only the named leases are renewed.
    let (one, two) = (runner_job("test.renew"), runner_job("test.renew"));
    jobs.enqueue(&one).await.expect("enqueue");
    jobs.enqueue(&two).await.expect("enqueue");
    let claimed = jobs.claim("default", after, 2, later, Duration::from_secs(5)).await.expect("claim");
    assert_eq!(claimed.len(), 2);
    let (kept, left) = (claimed[0].id, claimed[1].id);
    assert_eq!(jobs.renew(after, &[kept], later + LEASE).await.expect("renew"), vec![kept]);
    assert!(jobs.renew(after, &[], later + LEASE).await.expect("renew").is_empty());
    let expires = |id| {
        let jobs = Arc::clone(&jobs);
        async move { jobs.get(id).await.expect("get").expect("stored").lease_expires_at.expect("leased").unix_timestamp() }
    };
    assert_eq!(expires(kept).await, (later + LEASE).unix_timestamp());
    assert_eq!(expires(left).await, (later + Duration::from_secs(5)).unix_timestamp(), "not renewed");
}

/// Claims go round robin by owner: a burst of one owner's jobs is interleaved with the jobs other owners
/// queue after it (each is claimed right after the burst's first), an owner's own jobs keep their order,
/// and a batch claim takes the first ones in that order. Issue 20: a guest's burst does not starve the queue.
pub async fn claims_go_round_robin_by_owner(jobs: Arc<dyn JobStore>) {
    let job = |owner: &str| NewJob { owner: Some(owner.to_owned()), ..NewJob::new("test.fair", "fair", json!({})) };
    let burst: Vec<NewJob> = (0..4).map(|_| job("guest:burst")).collect();
    for new in &burst {
        jobs.enqueue(new).await.expect("enqueue");
    }
    let (bob, carol) = (job("user:bob"), job("user:carol"));
    jobs.enqueue(&bob).await.expect("enqueue");
    jobs.enqueue(&carol).await.expect("enqueue");
    let system = NewJob::new("test.fair", "fair", json!({}));
    jobs.enqueue(&system).await.expect("enqueue");

    let (instance, now) = (holder(), OffsetDateTime::now_utc());
    // A batch is a set (an `UPDATE … RETURNING` has no order); which jobs it takes is the fair order's.
    let first: HashSet<Uuid> =
        jobs.claim("fair", instance, 3, now, LEASE).await.expect("claim").iter().map(|j| j.id).collect();
    assert_eq!(first, HashSet::from([burst[0].id, bob.id, carol.id]), "one of the burst, then the others' jobs");
    let mut rest = Vec::new();
    loop {
        let batch = jobs.claim("fair", instance, 1, now, LEASE).await.expect("claim");
        let Some(job) = batch.first() else { break };
        rest.push(job.id);
    }
    assert_eq!(rest, [system.id, burst[1].id, burst[2].id, burst[3].id], "the burst's rest in its own order");

    // The burst's next job, queued while its others run, still goes after a newcomer's.
    let (late, dave) = (job("guest:burst"), job("user:dave"));
    jobs.enqueue(&late).await.expect("enqueue");
    jobs.enqueue(&dave).await.expect("enqueue");
    let next = jobs.claim("fair", instance, 1, OffsetDateTime::now_utc(), LEASE).await.expect("claim");
    assert_eq!(next.iter().map(|j| j.id).collect::<Vec<_>>(), [dave.id]);
}

/// A runner renews the leases of the jobs it runs while its finished ones are completed in batches: the two
/// touch the same rows at the same time, in whatever order their lists come. Neither may fail (a deadlock
/// between them was a refused batch: completed work reported as an outage and run again): every batch and
/// every renewal lands, and every job ends completed with one attempt.
pub async fn renewals_and_batch_completions_of_the_same_jobs_never_deadlock(jobs: Arc<dyn JobStore>) {
    // Whether the two meet head-on is a matter of timing (without the fix, one round in three met): four rounds.
    for _ in 0..4 {
        renew_while_completing(&jobs).await;
    }
}

async fn renew_while_completing(jobs: &Arc<dyn JobStore>) {
    const N: usize = 240;
    const BATCH: usize = 40;
    let a = holder();
    for _ in 0..N {
        jobs.enqueue(&runner_job("test.overlap")).await.expect("enqueue");
    }
    let now = OffsetDateTime::now_utc();
    let mut claimed = Vec::new();
    while claimed.len() < N {
        let got = jobs.claim("default", a, 100, now, LEASE).await.expect("claim");
        assert!(!got.is_empty(), "all {N} jobs are due");
        claimed.extend(got);
    }
    // Renewals name the jobs in ascending id order, the batches complete them in descending order: the two
    // lock orders that met head-on.
    let mut ids: Vec<Uuid> = claimed.iter().map(|j| j.id).collect();
    ids.sort();
    let renewer = {
        let (jobs, ids) = (Arc::clone(jobs), ids.clone());
        tokio::spawn(async move {
            for round in 0..30u64 {
                let until = OffsetDateTime::now_utc() + LEASE + Duration::from_secs(round);
                jobs.renew(a, &ids, until).await.expect("a renewal is never refused");
                tokio::task::yield_now().await;
            }
        })
    };
    claimed.sort_by_key(|j| std::cmp::Reverse(j.id));
    let mut completers = Vec::new();
    for chunk in claimed.chunks(BATCH) {
        let items: Vec<FinishItem> = chunk
            .iter()
            .map(|job| FinishItem {
                id: job.id,
                attempt: attempt(job, a, AttemptOutcome::Completed, None),
                finish: Finish::Complete(None),
            })
            .collect();
        let jobs = Arc::clone(jobs);
        completers.push(tokio::spawn(async move {
            jobs.finish_many(a, &items).await.expect("a batch of completions is never refused")
        }));
    }
    for completer in completers {
        let recorded = completer.await.expect("completer");
        assert!(recorded.iter().all(|&done| done), "every completion lands: {recorded:?}");
    }
    renewer.await.expect("renewer");
    for id in ids {
        let job = jobs.get(id).await.expect("get").expect("stored");
        assert_eq!((job.state, job.lease_owner), (JobState::Completed, None), "job {id}");
        assert_eq!(jobs.attempts(id).await.expect("attempts").len(), 1, "one attempt for {id}");
    }
}

sql_cases!(
    jobs: create_get_update_round_trip_keeps_json_and_applies_only_some_fields,
    update_of_unknown_id_is_not_found,
    concurrent_updates_from_two_tasks_both_land,
    enqueued_job_is_claimed_once_and_completed_once,
    concurrent_claims_never_share_a_job,
    unique_keys_are_enforced_by_the_database,
    expired_lease_is_claimed_again_by_another_instance,
    retries_wait_for_their_backoff_and_discard_keeps_the_error,
    retry_and_cancel_apply_only_to_their_states,
    retry_while_another_live_job_holds_the_key_names_the_holder,
    depths_list_and_prune,
    counts_cover_every_job_per_queue_kind_and_state,
    a_batch_of_outcomes_is_recorded_as_each_alone,
    a_restarted_process_with_the_same_id_holds_none_of_its_predecessors_leases,
    claims_go_round_robin_by_owner,
    renewals_and_batch_completions_of_the_same_jobs_never_deadlock,
);
