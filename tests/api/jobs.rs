//! The job runner on the local profile (SQLite) through the admin API: jobs run and show their attempts,
//! retry and cancel answer with their problem codes, and the runner's metrics exist from start-up.

use std::time::Duration;

use gantry_actors::ports::jobs::{Job, NewJob};
use serde_json::{Value, json};

use crate::eventually::{Deadline, eventually, settled};
use crate::helpers::{TestApp, assert_problem, json_of, spawn_app, spawn_app_with};

/// Polls `GET /admin/jobs/{id}` until `done` accepts the body.
async fn wait_for(app: &TestApp, id: uuid::Uuid, done: impl Fn(&Value) -> bool) -> Value {
    let probe = async || json_of(app.admin_get(&format!("/admin/jobs/{id}")).send().await.expect("request"), 200).await;
    eventually("job never got there", Deadline::ms(10_000, 50), probe, |job| done(job)).await
}

/// A failing drill job is retried, then discarded with its last error and every attempt listed; `retry`
/// runs it again (200 with the job) and `cancel` of a finished job is 409 `job_not_cancellable`.
#[tokio::test]
async fn failing_job_is_discarded_with_its_attempts_then_retried_on_request() {
    let app = spawn_app().await;
    let job = NewJob { max_attempts: 2, ..NewJob::new("drill.fail", "default", json!({"fail_times": 2})) };
    app.backends.jobs.enqueue(&job).await.expect("enqueue");

    let discarded = wait_for(&app, job.id, |j| j["state"] == "discarded").await;
    assert_eq!(discarded["error"], "drill failure on attempt 2");
    let attempts: Vec<_> =
        discarded["attempts"].as_array().expect("attempts").iter().map(|a| a["outcome"].clone()).collect();
    assert_eq!(attempts, [json!("failed"), json!("failed")]);
    assert_eq!(discarded["attempts"][0]["error"], "drill failure on attempt 1");
    assert_problem(
        app.admin_post(&format!("/admin/jobs/{}/cancel", job.id)).send().await.expect("request"),
        409,
        "job_not_cancellable",
    )
    .await;

    let retried =
        json_of(app.admin_post(&format!("/admin/jobs/{}/retry", job.id)).send().await.expect("request"), 200).await;
    assert_eq!(retried["state"], "available");
    let completed = wait_for(&app, job.id, |j| j["state"] == "completed").await;
    assert_eq!(completed["attempt"], 3, "the third attempt succeeds (fail_times = 2)");
    assert_problem(
        app.admin_post(&format!("/admin/jobs/{}/retry", job.id)).send().await.expect("request"),
        409,
        "job_not_retryable",
    )
    .await;
}

/// Unknown and malformed ids are 404 `job_not_found` for show, retry and cancel; a record-only job (run inline
/// by an actor) cannot be cancelled; the list filters by state and kind and refuses an unknown state; the
/// routes need the admin token.
#[tokio::test]
async fn admin_job_routes_answer_with_their_codes() {
    let app = spawn_app().await;
    let unknown = uuid::Uuid::now_v7();
    for path in [format!("/admin/jobs/{unknown}"), "/admin/jobs/not-a-uuid".to_owned()] {
        assert_problem(app.admin_get(&path).send().await.expect("request"), 404, "job_not_found").await;
    }
    for action in ["retry", "cancel"] {
        let response = app.admin_post(&format!("/admin/jobs/{unknown}/{action}")).send().await.expect("request");
        assert_problem(response, 404, "job_not_found").await;
    }
    let record = Job::new("upload", None);
    app.backends.jobs.create(&record).await.expect("create");
    let response = app.admin_post(&format!("/admin/jobs/{}/cancel", record.id)).send().await.expect("request");
    assert_problem(response, 409, "job_not_cancellable").await;

    let later = NewJob {
        run_at: time::OffsetDateTime::now_utc() + Duration::from_secs(3600),
        ..NewJob::new("drill.noop", "default", json!(null))
    };
    app.backends.jobs.enqueue(&later).await.expect("enqueue");
    let listed =
        json_of(app.admin_get("/admin/jobs?state=scheduled&kind=drill.noop").send().await.expect("request"), 200).await;
    let ids: Vec<_> = listed["jobs"].as_array().expect("jobs").iter().map(|j| j["id"].clone()).collect();
    assert_eq!(ids, [json!(later.id.to_string())]);
    let cancelled =
        json_of(app.admin_post(&format!("/admin/jobs/{}/cancel", later.id)).send().await.expect("request"), 200).await;
    assert_eq!(cancelled["state"], "cancelled");
    assert_problem(
        app.admin_get("/admin/jobs?state=finished").send().await.expect("request"),
        422,
        "validation_failed",
    )
    .await;

    let anonymous = app.client.get(format!("{}/admin/jobs", app.admin)).send().await.expect("request");
    assert_problem(anonymous, 401, "unauthorized").await;
}

/// `GET /admin/jobs/counts` counts every job per queue, kind and state, beyond the 500 a list can show: 505
/// scheduled jobs count as 505, one cancelled moves to `cancelled`, `total` is the sum; the admin token is needed.
#[tokio::test]
async fn job_counts_cover_every_job_beyond_a_list_page() {
    let app = spawn_app().await;
    let later = time::OffsetDateTime::now_utc() + Duration::from_secs(3600);
    let mut ids = Vec::new();
    for _ in 0..505 {
        let job = NewJob { run_at: later, ..NewJob::new("drill.noop", "default", json!(null)) };
        app.backends.jobs.enqueue(&job).await.expect("enqueue");
        ids.push(job.id);
    }
    app.admin_post(&format!("/admin/jobs/{}/cancel", ids[0])).send().await.expect("request");

    let counts = json_of(app.admin_get("/admin/jobs/counts").send().await.expect("request"), 200).await;

    let count_of = |state: &str| {
        counts["counts"]
            .as_array()
            .expect("counts")
            .iter()
            .find(|c| c["queue"] == "default" && c["kind"] == "drill.noop" && c["state"] == state)
            .map(|c| c["count"].clone())
    };
    assert_eq!((count_of("scheduled"), count_of("cancelled")), (Some(json!(504)), Some(json!(1))), "{counts}");
    let sum: u64 = counts["counts"].as_array().expect("counts").iter().map(|c| c["count"].as_u64().expect("n")).sum();
    assert_eq!(counts["total"].as_u64(), Some(sum));
    let page =
        json_of(app.admin_get("/admin/jobs?kind=drill.noop&limit=500").send().await.expect("request"), 200).await;
    assert_eq!(page["jobs"].as_array().expect("jobs").len(), 500, "a list shows a page of them");
    let anonymous = app.client.get(format!("{}/admin/jobs/counts", app.admin)).send().await.expect("request");
    assert_problem(anonymous, 401, "unauthorized").await;
}

/// Retrying a cancelled job while another live job holds its unique key is 409 `job_key_taken` naming the
/// holder in `holding_job_id` (not 503 `database_unavailable`); the job stays cancelled.
#[tokio::test]
async fn retry_while_another_live_job_holds_the_key_is_a_conflict_naming_it() {
    let app = spawn_app().await;
    let later = time::OffsetDateTime::now_utc() + Duration::from_secs(3600);
    let keyed = || NewJob {
        run_at: later,
        unique_key: Some("drill.keyed:1".into()),
        ..NewJob::new("drill.noop", "default", json!(null))
    };
    let first = keyed();
    app.backends.jobs.enqueue(&first).await.expect("enqueue");
    json_of(app.admin_post(&format!("/admin/jobs/{}/cancel", first.id)).send().await.expect("request"), 200).await;
    let holder = keyed();
    app.backends.jobs.enqueue(&holder).await.expect("enqueue the holder");

    let response = app.admin_post(&format!("/admin/jobs/{}/retry", first.id)).send().await.expect("request");
    let problem = assert_problem(response, 409, "job_key_taken").await;
    assert_eq!(problem["holding_job_id"], json!(holder.id.to_string()), "{problem}");
    assert!(problem["detail"].as_str().expect("detail").contains(&holder.id.to_string()), "{problem}");
    let stored = json_of(app.admin_get(&format!("/admin/jobs/{}", first.id)).send().await.expect("request"), 200).await;
    assert_eq!(stored["state"], "cancelled");
}

/// The runner's series exist at zero from start-up, per kind and queue, and count what ran.
#[tokio::test]
async fn runner_metrics_exist_from_start_and_count_jobs() {
    let app = spawn_app().await;
    let metrics = app.metrics().await;
    for series in [
        "gantry_jobs_completed_total{kind=\"jobs.prune\",queue=\"maintenance\"}",
        "gantry_jobs_discarded_total{kind=\"uploads.sweep\",queue=\"maintenance\"}",
        "gantry_jobs_queue_depth{queue=\"default\",state=\"available\"}",
        "gantry_jobs_oldest_available_seconds{queue=\"default\"}",
    ] {
        assert!(metrics.contains(series), "{series} missing");
    }
    let job = NewJob::new("drill.noop", "default", json!(null));
    app.backends.jobs.enqueue(&job).await.expect("enqueue");
    wait_for(&app, job.id, |j| j["state"] == "completed").await;
    let metrics = app.metrics().await;
    let series = "gantry_jobs_completed_total{kind=\"drill.noop\",queue=\"default\"}";
    assert_eq!(crate::prometheus::value_or_zero(&metrics, series), 1.0);
    assert!(
        metrics.contains("gantry_job_run_seconds_count{kind=\"drill.noop\",queue=\"default\"} 1"),
        "run time recorded"
    );
}

/// The periodic `sessions.prune` job deletes a session past its absolute expiry and an epoch older than a
/// session's whole life, and keeps a live session and the global epoch.
#[tokio::test]
async fn sessions_prune_job_removes_ended_sessions_and_old_epochs() {
    use gantry_actors::ports::jobs::{JobFilter, JobState};
    use gantry_actors::ports::sessions::SessionRecord;
    let app = crate::helpers::spawn_app_with("[jobs]\nprune_every_secs = 1\nmaintain_ms = 100").await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let session = |absolute_expires_at_ms: i64| SessionRecord {
        id: uuid::Uuid::now_v7(),
        user_id: uuid::Uuid::now_v7(),
        created_at_ms: now - 1000,
        last_used_at_ms: now - 1000,
        refresh_expires_at_ms: absolute_expires_at_ms.min(now + 3_600_000),
        absolute_expires_at_ms,
        user_agent: None,
        address: None,
        refresh_hash: "a".repeat(64),
        generation: 0,
        last_rotation: None,
        revoked_at_ms: None,
        refresh_mac_key: None,
    };
    let (ended, live) = (session(now - 500), session(now + 86_400_000));
    app.backends.sessions.insert(&ended).await.expect("insert");
    app.backends.sessions.insert(&live).await.expect("insert");
    let (old_user, recent_user) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    app.backends.accounts.raise_epoch(Some(old_user), 1_000).await.expect("old epoch");
    app.backends.accounts.raise_epoch(Some(recent_user), now).await.expect("recent epoch");
    app.backends.accounts.raise_epoch(None, 1_000).await.expect("global epoch");

    let filter = JobFilter { kind: Some("sessions.prune".into()), limit: 50, ..JobFilter::default() };
    let pruning_done = |jobs: &Vec<gantry_actors::ports::jobs::Job>| {
        let done = |field: &str| {
            jobs.iter()
                .filter(|j| j.state == JobState::Completed)
                .filter_map(|j| j.result.as_ref()?[field].as_u64())
                .sum::<u64>()
        };
        done("sessions") >= 1 && done("epochs") >= 1
    };
    let jobs =
        settled(Deadline::ms(10_000, 100), async || app.backends.jobs.list(&filter).await.expect("list"), pruning_done)
            .await;
    let pruned: (Vec<_>, Vec<_>) =
        (jobs.iter().map(|j| j.state).collect(), jobs.iter().map(|j| j.result.clone()).collect());
    assert!(app.backends.sessions.get(ended.id).await.expect("get").is_none(), "{pruned:?}");
    assert_eq!(app.backends.sessions.get(live.id).await.expect("get"), Some(live));
    let epochs = app.backends.accounts.epochs().await.expect("epochs");
    assert_eq!(epochs.global_ms, 1_000);
    assert_eq!(epochs.users.keys().collect::<Vec<_>>(), vec![&recent_user], "{pruned:?}");
}

/// A job whose last attempt runs past its kind's timeout is discarded by the runner with the timeout as its
/// error, and the kind hears of it (`JobHandler::discarded`), so what it shows clients (a photo's pending
/// variants) does not stay pending for ever. A runner actor on a fresh SQLite store with one slow kind.
#[tokio::test]
async fn a_timed_out_last_attempt_is_discarded_and_its_kind_told() {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use gantry_actors::jobs::runner::{
        Backoff, JobFailure, JobHandler, JobRunner, KindSpec, RunnerDeps, RunnerSettings,
    };
    use gantry_actors::ports::jobs::{JobState, JobStore};

    struct Slow {
        told: Arc<Mutex<Vec<(uuid::Uuid, String)>>>,
    }
    #[async_trait]
    impl JobHandler for Slow {
        async fn run(&self, _job: &Job) -> Result<Option<Value>, JobFailure> {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(None)
        }
        async fn discarded(&self, job: &Job, error: &str) {
            self.told.lock().expect("lock").push((job.id, error.to_owned()));
        }
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let db = gantry::adapters::sqlite::SqliteDb::open(&dir.path().join("gantry.db")).await.expect("sqlite");
    let jobs: Arc<dyn JobStore> = db.ports().jobs;
    let told = Arc::new(Mutex::new(Vec::new()));
    let kind = KindSpec {
        kind: "test.slow",
        queue: "default",
        max_attempts: 1,
        backoff: Backoff { base: Duration::from_millis(10), max: Duration::from_millis(10) },
        timeout: Duration::from_millis(200),
        every: None,
        handler: Arc::new(Slow { told: Arc::clone(&told) }),
    };
    let deps = RunnerDeps {
        store: Arc::clone(&jobs),
        kinds: Arc::new(HashMap::from([("test.slow", kind.clone())])),
        settings: RunnerSettings {
            instance: uuid::Uuid::now_v7(),
            lease: Duration::from_secs(5),
            poll_every: Duration::from_millis(20),
            maintain_every: Duration::from_secs(1),
            queues: vec![("default".to_owned(), 2)],
        },
        mailbox: gantry_actors::telemetry::Mailbox::new("job_runner", 64),
        continuity: Arc::default(),
    };
    let (runner, _join) = ractor::Actor::spawn(None, JobRunner, deps).await.expect("runner starts");
    let new = kind.job(json!({}));
    jobs.enqueue(&new).await.expect("enqueue");

    let job = settled(
        Deadline::ms(4_000, 20),
        async || jobs.get(new.id).await.expect("get"),
        |job| job.as_ref().is_some_and(|j| j.state.is_terminal()),
    )
    .await;
    let job = job.expect("stored");
    assert_eq!(job.state, JobState::Discarded, "{job:?}");
    let error = job.error.clone().expect("the error is kept");
    assert!(error.contains("timed out"), "{error}");
    assert_eq!(*told.lock().expect("lock"), vec![(new.id, error)], "the kind was told once, with the job's error");
    runner.stop(None);
}

/// With the poll an hour away in effect (60 s), a job enqueued through the job store starts at once: the
/// committed enqueue nudges this instance's runner (the local profile's wake-up), well within 10 s.
#[tokio::test]
async fn an_enqueued_job_starts_without_waiting_for_the_poll() {
    let app = spawn_app_with("[jobs]\npoll_ms = 60000\n").await;
    // Past the start-up: the runner is idle and its first poll is a minute away.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Not `drill.noop`: another test counts those in this process's metrics.
    let job = NewJob::new("drill.sleep", "default", json!({"ms": 0}));
    app.backends.jobs.enqueue(&job).await.expect("enqueue");

    let done = wait_for(&app, job.id, |j| j["state"] == "completed").await;
    assert_eq!(done["attempts"].as_array().map(Vec::len), Some(1), "{done}");
}

/// A job's place frees up as soon as its handler has answered, not once its outcome is recorded (issue 24: the
/// next claim does not wait for the previous batch's commit), and its lease is still renewed while the outcome
/// waits: with one place, the second job starts while the first's outcome cannot be recorded (the store holds
/// every `finish_many` for 1.5 s, five lease periods of 300 ms), and the first completes with its one attempt —
/// neither rescued as a dead lease nor run again. A runner actor on a fresh SQLite store behind that gate.
#[tokio::test]
async fn a_place_frees_when_the_handler_answers_and_the_lease_holds_until_the_outcome_is_recorded() {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use gantry_actors::jobs::runner::{
        Backoff, JobFailure, JobHandler, JobRunner, KindSpec, RunnerDeps, RunnerSettings,
    };
    use gantry_actors::ports::Unavailable;
    use gantry_actors::ports::jobs::{
        Attempt, Enqueued, Finish, FinishItem, JobCount, JobFilter, JobState, JobStore, JobStoreError, JobUpdate,
        LeaseHolder, QueueDepth,
    };
    use time::OffsetDateTime;
    use tokio::sync::Semaphore;
    use uuid::Uuid;

    /// The SQLite store, except that recording a batch of outcomes waits for a permit of `gate`.
    struct Gated {
        inner: Arc<dyn JobStore>,
        gate: Arc<Semaphore>,
    }
    #[async_trait]
    impl JobStore for Gated {
        async fn create(&self, job: &Job) -> Result<(), JobStoreError> {
            self.inner.create(job).await
        }
        async fn get(&self, id: Uuid) -> Result<Option<Job>, JobStoreError> {
            self.inner.get(id).await
        }
        async fn update(&self, id: Uuid, update: JobUpdate) -> Result<Job, JobStoreError> {
            self.inner.update(id, update).await
        }
        async fn enqueue(&self, job: &NewJob) -> Result<Enqueued, JobStoreError> {
            self.inner.enqueue(job).await
        }
        async fn claim(
            &self,
            queue: &str,
            holder: LeaseHolder,
            limit: u32,
            now: OffsetDateTime,
            lease: Duration,
        ) -> Result<Vec<Job>, JobStoreError> {
            self.inner.claim(queue, holder, limit, now, lease).await
        }
        async fn rescue_expired(&self, now: OffsetDateTime) -> Result<u64, JobStoreError> {
            self.inner.rescue_expired(now).await
        }
        async fn renew(
            &self,
            holder: LeaseHolder,
            jobs: &[Uuid],
            until: OffsetDateTime,
        ) -> Result<Vec<Uuid>, JobStoreError> {
            self.inner.renew(holder, jobs, until).await
        }
        async fn finish(
            &self,
            id: Uuid,
            holder: LeaseHolder,
            attempt: &Attempt,
            finish: &Finish,
        ) -> Result<bool, JobStoreError> {
            self.inner.finish(id, holder, attempt, finish).await
        }
        async fn finish_many(&self, holder: LeaseHolder, items: &[FinishItem]) -> Result<Vec<bool>, JobStoreError> {
            let _permit = self.gate.acquire().await.expect("the gate stays open");
            self.inner.finish_many(holder, items).await
        }
        async fn release(&self, holder: LeaseHolder) -> Result<u64, JobStoreError> {
            self.inner.release(holder).await
        }
        async fn list(&self, filter: &JobFilter) -> Result<Vec<Job>, JobStoreError> {
            self.inner.list(filter).await
        }
        async fn attempts(&self, id: Uuid) -> Result<Vec<Attempt>, JobStoreError> {
            self.inner.attempts(id).await
        }
        async fn retry(&self, id: Uuid, now: OffsetDateTime) -> Result<Job, JobStoreError> {
            self.inner.retry(id, now).await
        }
        async fn cancel(&self, id: Uuid, now: OffsetDateTime) -> Result<Job, JobStoreError> {
            self.inner.cancel(id, now).await
        }
        async fn depths(&self, now: OffsetDateTime) -> Result<Vec<QueueDepth>, JobStoreError> {
            self.inner.depths(now).await
        }
        async fn counts(&self) -> Result<Vec<JobCount>, JobStoreError> {
            self.inner.counts().await
        }
        async fn prune_finished(&self, before: OffsetDateTime) -> Result<u64, JobStoreError> {
            self.inner.prune_finished(before).await
        }
        async fn health(&self) -> Result<(), Unavailable> {
            self.inner.health().await
        }
        fn backend(&self) -> &'static str {
            self.inner.backend()
        }
    }

    /// Notes when each job's handler started.
    struct Quick {
        started: Arc<Mutex<Vec<Uuid>>>,
    }
    #[async_trait]
    impl JobHandler for Quick {
        async fn run(&self, job: &Job) -> Result<Option<Value>, JobFailure> {
            self.started.lock().expect("lock").push(job.id);
            Ok(None)
        }
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let db = gantry::adapters::sqlite::SqliteDb::open(&dir.path().join("gantry.db")).await.expect("sqlite");
    let sqlite: Arc<dyn JobStore> = db.ports().jobs;
    let gate = Arc::new(Semaphore::new(0));
    let jobs: Arc<dyn JobStore> = Arc::new(Gated { inner: Arc::clone(&sqlite), gate: Arc::clone(&gate) });
    let started = Arc::new(Mutex::new(Vec::new()));
    let kind = KindSpec {
        kind: "test.quick",
        queue: "default",
        max_attempts: 3,
        backoff: Backoff { base: Duration::from_millis(10), max: Duration::from_millis(10) },
        timeout: Duration::from_secs(5),
        every: None,
        handler: Arc::new(Quick { started: Arc::clone(&started) }),
    };
    let deps = RunnerDeps {
        store: Arc::clone(&jobs),
        kinds: Arc::new(HashMap::from([("test.quick", kind.clone())])),
        settings: RunnerSettings {
            instance: Uuid::now_v7(),
            lease: Duration::from_millis(300),
            poll_every: Duration::from_millis(20),
            maintain_every: Duration::from_millis(50),
            queues: vec![("default".to_owned(), 1)],
        },
        mailbox: gantry_actors::telemetry::Mailbox::new("job_runner", 64),
        continuity: Arc::default(),
    };
    let (first, second) = (kind.job(json!({})), kind.job(json!({})));
    jobs.enqueue(&first).await.expect("enqueue");
    jobs.enqueue(&second).await.expect("enqueue");
    let (runner, _join) = ractor::Actor::spawn(None, JobRunner, deps).await.expect("runner starts");

    let both = settled(Deadline::ms(1_000, 10), async || started.lock().expect("lock").len(), |n| *n == 2).await;
    assert_eq!(both, 2, "the second job started while the first's outcome waited to be recorded");
    // Five lease periods with both outcomes waiting: renewed, not rescued.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    gate.add_permits(1_000);
    for new in [&first, &second] {
        let job = settled(
            Deadline::ms(4_000, 20),
            async || sqlite.get(new.id).await.expect("get"),
            |job| job.as_ref().is_some_and(|j| j.state.is_terminal()),
        )
        .await
        .expect("stored");
        assert_eq!(job.state, JobState::Completed, "{job:?}");
        let attempts = sqlite.attempts(new.id).await.expect("attempts");
        assert_eq!(attempts.len(), 1, "one attempt, recorded once: {attempts:?}");
    }
    assert_eq!(started.lock().expect("lock").len(), 2, "no job ran twice");
    runner.stop(None);
}
