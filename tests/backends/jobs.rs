//! The job runner across real processes on Postgres: two `gantry` processes share one database (and the
//! production profile's other services), run drill kinds (compiled in with the `chaos` feature, which test
//! builds enable) and are killed with SIGKILL mid-job. Each process has a fixed `GANTRY_INSTANCE_ID`, as operators
//! set them, and a killed one comes back under the same id. Part of the `production` suite.

use std::path::Path;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Duration;

use gantry::adapters::postgres::PostgresDb;
use gantry_actors::ports::jobs::{AttemptOutcome, Job, JobFilter, JobState, JobStore, NewJob};
use secrecy::SecretString;
use serde_json::json;
use uuid::Uuid;

use crate::eventually::{Deadline, eventually, settled};
use crate::production::{ADMIN, Backends, backends, free_port, production_command};
use crate::support::with_fresh_database;

/// One `gantry` process.
struct Instance {
    id: Uuid,
    child: Child,
    admin: String,
}

impl Instance {
    /// Starts a production-profile process on a new instance id with a short lease and quick polling, plus
    /// `extra` settings; returns once `/healthz` answers.
    async fn start(database: &SecretString, b: &Backends, bucket: &str, extra: &[(&str, &str)]) -> Self {
        Self::start_as(Uuid::now_v7(), database, b, bucket, extra).await
    }

    /// [`Instance::start`] under the fixed instance id `id` (a restarted pod keeps its id).
    async fn start_as(id: Uuid, database: &SecretString, b: &Backends, bucket: &str, extra: &[(&str, &str)]) -> Self {
        let (port, admin_port) = (free_port(), free_port());
        let exchange = format!("gantry.events.test-{}", Uuid::new_v4().simple());
        let mut command = production_command(database, b, (port, admin_port), &exchange, bucket);
        command
            .env("GANTRY_INSTANCE_ID", id.to_string())
            .env("GANTRY_JOBS__LEASE_SECS", "2")
            .env("GANTRY_JOBS__POLL_MS", "50");
        for (key, value) in extra {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("gantry binary");
        let healthz = async || {
            let answered = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await.is_ok();
            assert!(answered || child.try_wait().expect("status").is_none(), "the instance exited at start-up");
            answered
        };
        settled(Deadline::ms(30_000, 100), healthz, |answered| *answered).await;
        Self { id, child, admin: format!("http://127.0.0.1:{admin_port}") }
    }

    /// `kill -9`.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The job store on the test's database (what the tests enqueue through and inspect).
async fn store(database: &SecretString) -> Arc<dyn JobStore> {
    PostgresDb::connect(database, 4).await.expect("postgres").ports().jobs
}

/// Polls job `id` until `done` accepts it (at most ~30 s).
async fn wait_for(jobs: &Arc<dyn JobStore>, id: Uuid, what: &str, done: impl Fn(&Job) -> bool) -> Job {
    let job = async || jobs.get(id).await.expect("get");
    let what = format!("job never became {what}");
    let found = eventually(&what, Deadline::ms(30_000, 50), job, |job| job.as_ref().is_some_and(&done)).await;
    found.expect("checked")
}

fn bucket() -> String {
    format!("gantry-jobs-{}", Uuid::new_v4().simple())
}

/// `gantry jobs …` against `admin`; returns the exit status and what it printed (stdout, then stderr).
fn cli(admin: &str, args: &[&str], dir: &Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_gantry"))
        .env_clear()
        .env("GANTRY_DATA_DIR", dir)
        .env("GANTRY_ADMIN_TOKEN", ADMIN)
        .env("GANTRY_LOG", "error")
        .arg("jobs")
        .args(args)
        .args(["--admin-url", admin])
        .output()
        .expect("gantry cli");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// `kill -9` of the instance running a job mid-job, restarted at once under the same instance id: the restarted
/// process does not keep the dead process's lease alive (issue 25 item 1), so once the lease expires the job
/// runs again — on the other instance or on the restarted one — and completes; its effect (a line in the
/// marker file) happens exactly once, and the attempts say who ran what.
#[tokio::test]
async fn a_job_on_a_killed_instance_completes_once_on_the_other() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let bucket = bucket();
        // A lease longer than a restart takes, as in production (30 s): the restarted process is up while the
        // dead one's lease still holds, and must not renew it.
        let lease = [("GANTRY_JOBS__LEASE_SECS", "10")];
        let mut a = Instance::start(&database, &b, &bucket, &lease).await;
        let mut c = Instance::start(&database, &b, &bucket, &lease).await;
        let jobs = store(&database).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let marker = dir.path().join("effects");
        let args = json!({"ms": 1500, "marker": marker.display().to_string()});
        let job = NewJob { max_attempts: 3, ..NewJob::new("drill.sleep", "default", args) };
        jobs.enqueue(&job).await.expect("enqueue");

        let running = wait_for(&jobs, job.id, "running", |j| j.state == JobState::Running).await;
        let (victim, survivor) = if running.lease_owner == Some(a.id) { (&mut a, &c) } else { (&mut c, &a) };
        let (victim_id, survivor_id) = (victim.id, survivor.id);
        victim.kill();
        let _restarted = Instance::start_as(victim_id, &database, &b, &bucket, &lease).await;

        let done = wait_for(&jobs, job.id, "completed", |j| j.state.is_terminal()).await;
        assert_eq!(done.state, JobState::Completed, "{done:?}");
        assert_eq!(done.attempt, 2, "the killed attempt counts");
        let attempts = jobs.attempts(job.id).await.expect("attempts");
        // The dead attempt is recorded too (issue 25 item 6), naming the killed instance.
        let who: Vec<_> = attempts.iter().map(|a| (a.attempt, a.instance_id, a.outcome)).collect();
        assert_eq!(who.len(), 2, "{attempts:?}");
        assert_eq!(who[0], (1, victim_id, AttemptOutcome::LeaseExpired), "{attempts:?}");
        assert!(
            who[1].0 == 2 && [survivor_id, victim_id].contains(&who[1].1) && who[1].2 == AttemptOutcome::Completed,
            "{attempts:?}"
        );
        let effects = std::fs::read_to_string(&marker).expect("marker");
        assert_eq!(effects.lines().collect::<Vec<_>>(), vec![job.id.to_string()], "the effect happened once");
    })
    .await;
}

/// With two instances up and a one-second pruning period, each period gets one `jobs.prune` job across the
/// fleet, not one per instance.
#[tokio::test]
async fn a_periodic_job_runs_once_per_period_with_two_instances() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let bucket = bucket();
        let fast = [("GANTRY_JOBS__PRUNE_EVERY_SECS", "1"), ("GANTRY_JOBS__MAINTAIN_MS", "100")];
        let started = std::time::Instant::now();
        let a = Instance::start(&database, &b, &bucket, &fast).await;
        let c = Instance::start(&database, &b, &bucket, &fast).await;
        let jobs = store(&database).await;
        tokio::time::sleep(Duration::from_secs(4)).await;
        drop((a, c));
        // Periods touched between the first start and the last stop (partial ones at both ends included).
        let elapsed_periods = started.elapsed().as_secs() + 2;

        let filter = JobFilter { kind: Some("jobs.prune".into()), limit: 100, ..JobFilter::default() };
        let prunes = jobs.list(&filter).await.expect("list");
        let mut periods: Vec<_> = prunes.iter().map(|j| j.period_key.clone().expect("periodic")).collect();
        periods.sort();
        periods.dedup();
        assert_eq!(periods.len(), prunes.len(), "one job per period");
        assert!(prunes.len() >= 3, "a job every period: {prunes:?}");
        assert!(u64::try_from(prunes.len()).expect("small") <= elapsed_periods + 1, "not one per instance: {prunes:?}");
        let completed = prunes.iter().filter(|j| j.state == JobState::Completed).count();
        assert!(completed + 1 >= prunes.len(), "all but the newest ran: {prunes:?}");
        for prune in prunes.iter().filter(|j| j.state == JobState::Completed) {
            assert_eq!(jobs.attempts(prune.id).await.expect("attempts").len(), 1, "ran once: {prune:?}");
        }
    })
    .await;
}

/// A job that keeps failing is retried with backoff, then discarded with its last error; the CLI shows its
/// attempts, retries it (one more attempt, discarded again) and cancels a scheduled job (a second cancel and
/// unknown ids are refused with their codes).
#[tokio::test]
async fn retries_then_discard_and_cli_retry_and_cancel() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let instance = Instance::start(&database, &b, &bucket(), &[]).await;
        let jobs = store(&database).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let failing = NewJob { max_attempts: 3, ..NewJob::new("drill.fail", "default", json!({"fail_times": 99})) };
        jobs.enqueue(&failing).await.expect("enqueue");

        let discarded = wait_for(&jobs, failing.id, "discarded", |j| j.state == JobState::Discarded).await;
        assert_eq!(discarded.error.as_deref(), Some("drill failure on attempt 3"));
        let attempts = jobs.attempts(failing.id).await.expect("attempts");
        assert_eq!(attempts.iter().map(|a| a.attempt).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(attempts.windows(2).all(|w| w[1].started_at > w[0].finished_at), "each retry waited: {attempts:?}");

        let (ok, shown) = cli(&instance.admin, &["show", &failing.id.to_string()], dir.path());
        assert!(ok, "{shown}");
        assert!(shown.contains("discarded") && shown.contains("drill failure on attempt 2"), "{shown}");

        let (ok, out) = cli(&instance.admin, &["retry", &failing.id.to_string()], dir.path());
        assert!(ok, "{out}");
        let again =
            wait_for(&jobs, failing.id, "discarded again", |j| j.state == JobState::Discarded && j.attempt == 4).await;
        assert_eq!(again.error.as_deref(), Some("drill failure on attempt 4"));

        let later = NewJob {
            run_at: time::OffsetDateTime::now_utc() + Duration::from_secs(3600),
            ..NewJob::new("drill.noop", "default", json!(null))
        };
        jobs.enqueue(&later).await.expect("enqueue");
        let (ok, out) = cli(&instance.admin, &["cancel", &later.id.to_string()], dir.path());
        assert!(ok, "{out}");
        assert_eq!(jobs.get(later.id).await.expect("get").expect("job").state, JobState::Cancelled);
        let (ok, out) = cli(&instance.admin, &["cancel", &later.id.to_string()], dir.path());
        assert!(!ok && out.contains("job_not_cancellable"), "{out}");
        let (ok, out) = cli(&instance.admin, &["retry", &Uuid::now_v7().to_string()], dir.path());
        assert!(!ok && out.contains("job_not_found"), "{out}");
        let (ok, listed) = cli(&instance.admin, &["list", "--state", "cancelled"], dir.path());
        assert!(ok && listed.contains(&later.id.to_string()) && !listed.contains(&failing.id.to_string()), "{listed}");
    })
    .await;
}

/// A graceful stop (SIGTERM) with a job still running past the shutdown budget gives the job back: another
/// instance claims it at once (well before its 30 s lease would have expired) as the same attempt number.
#[tokio::test]
async fn graceful_shutdown_gives_running_jobs_back() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let bucket = bucket();
        let settings = [("GANTRY_JOBS__LEASE_SECS", "30"), ("GANTRY_HTTP__SHUTDOWN_GRACE_SECS", "2")];
        let mut first = Instance::start(&database, &b, &bucket, &settings).await;
        let jobs = store(&database).await;
        let job = NewJob { max_attempts: 3, ..NewJob::new("drill.sleep", "default", json!({"ms": 600_000})) };
        jobs.enqueue(&job).await.expect("enqueue");
        wait_for(&jobs, job.id, "running on the first", |j| j.lease_owner == Some(first.id)).await;

        let second = Instance::start(&database, &b, &bucket, &settings).await;
        let status = Command::new("kill").args(["-TERM", &first.child.id().to_string()]).status().expect("kill");
        assert!(status.success());
        let exited = first.child.wait().expect("wait");
        assert!(exited.success(), "a graceful stop exits 0: {exited:?}");

        let moved = wait_for(&jobs, job.id, "running on the second", |j| j.lease_owner == Some(second.id)).await;
        assert_eq!(moved.attempt, 1, "the interrupted attempt was given back, not spent");
        assert!(jobs.attempts(job.id).await.expect("attempts").is_empty());
    })
    .await;
}
