//! Secret rotation as a runner job: the runbook (validate → stage on every instance → smoke test → promote on
//! every instance → force re-login → record evidence) run by whichever instance's job runner claims it, with the
//! secret store actor of every instance doing the version changes ([`SecretStep`](crate::secrets::SecretStep) commands over the bus, each
//! acknowledged). Any failure after staging puts every instance back to the versions it had (`restore`), and
//! the job ends `discarded` with the step and the reason. One rotation (or rollback) at a time across the fleet:
//! the job holds the database's unique key [`FLEET_LOCK`], a second → 409.
//!
//! When the instance running it dies, its lease expires and another instance resumes the job from the steps
//! recorded so far (every step is safe to repeat), so the fleet ends fully promoted or fully restored.
//!
//! Progress is the job's (`GET /admin/jobs/{id}`): `{step, steps: [{name, state, started_at, finished_at,
//! detail, attempt}]}`. The evidence record (`GET /admin/rotations/{id}`) has the same id.
//!
//! - this file: the runner ([`Rotations`]: accept, run one attempt, heartbeat) and its job kinds;
//! - `steps`: the runbook's steps, the bus broadcast and the restore;
//! - `evidence`: progress and evidence as the steps go;
//! - `smoke`: the smoke step through the [`SmokeCheck`] port (`gantry` implements it over HTTP).
//! - `signing_keys`: the signing key's part: the fleet's record of public keys after every step, and the wait
//!   before a never-published key signs (a rotation's, or the key a rollback goes back to).

mod evidence;
mod signing_keys;
mod smoke;
mod steps;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

pub use evidence::CHAOS_DEPLOYMENT;
use evidence::{Run, now};

use crate::jobs::runner::{Backoff, JobFailure, JobHandler, KindSpec};
use crate::ports::Unavailable;
use crate::ports::accounts::AccountStore;
use crate::ports::bus::Bus;
use crate::ports::jobs::{Job, JobStore, NewJob};
use crate::ports::objects::ObjectStore;
use crate::ports::rotations::{Fleet, InstanceReport, RotationRecord, RotationStart, RotationStore, SeenInstance};
use crate::ports::secrets::SecretSource;
use crate::ports::smoke::SmokeCheck;
use crate::secrets::store::SecretStoreHandle;
use crate::secrets::{Fingerprint, SecretName};
use crate::sessions::SessionRegistryHandle;

/// How long to wait for every instance's acknowledgement of a step, and how fresh a heartbeat must be.
#[derive(Debug, Clone)]
pub struct RotationSettings {
    /// Acknowledgement wait per step.
    pub ack_timeout: Duration,
    /// An instance whose last heartbeat is younger than this is expected to acknowledge.
    pub live_within: Duration,
    /// Token settings (to re-sign a smoke-test token with the pending key).
    pub tokens: crate::sessions::TokenSettings,
    /// Guest-token settings (to issue one with the pending upload secret).
    pub guest: crate::uploads::guest_token::GuestTokenSettings,
    /// Chaos builds only (`chaos_rotation_pause`): the step whose start a rotation's first attempt stops at,
    /// for the crash drills that kill its instance there.
    pub chaos_pause: Option<String>,
}

/// Builds this instance's heartbeat report (its readiness is probed each time; `startup` provides it, since the
/// readiness of the actors and backends is composed there).
pub type Reporter = Arc<dyn Fn() -> std::pin::Pin<Box<dyn Future<Output = InstanceReport> + Send>> + Send + Sync>;

/// The live-uniqueness key of every rotation and rollback job: one at a time across the fleet.
pub const FLEET_LOCK: &str = "secrets.rotation";

/// What the runner needs.
#[derive(Clone)]
pub struct RotationDeps {
    /// This instance.
    pub instance_id: Uuid,
    /// The smoke test against this instance's public listener.
    pub smoke: Arc<dyn SmokeCheck>,
    /// The secret store (key ring reads).
    pub secrets: SecretStoreHandle,
    /// Where new values come from (validate).
    pub source: Arc<dyn SecretSource>,
    /// Sessions (force re-login).
    pub sessions: SessionRegistryHandle,
    /// Accounts (the ephemeral smoke-test account is deleted afterwards).
    pub accounts: Arc<dyn AccountStore>,
    /// Jobs (progress).
    pub jobs: Arc<dyn JobStore>,
    /// Evidence.
    pub store: Arc<dyn RotationStore>,
    /// Running instances.
    pub fleet: Arc<dyn Fleet>,
    /// Commands and acknowledgements.
    pub bus: Arc<dyn Bus>,
    /// The object store (the pending S3 credentials are checked in the smoke step).
    pub objects: Arc<dyn ObjectStore>,
    /// The smoke-test account (`GANTRY_SMOKE_EMAIL`, `GANTRY_SMOKE_PASSWORD[_FILE]`), if configured.
    pub smoke_account: Option<(String, secrecy::SecretString)>,
    /// Timeouts and token settings.
    pub settings: RotationSettings,
    /// What this instance saw of the database (every heartbeat reports to it).
    pub continuity: Arc<crate::liveness::Continuity>,
}

/// `POST /admin/secrets/rotate` and `POST /admin/secrets/rollback` bodies.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// The deployment this belongs to.
    #[serde(default)]
    pub deployment_id: Option<String>,
    /// The commit deployed.
    #[serde(default)]
    pub commit_sha: Option<String>,
    /// Force every user to log in again (default: when `JWT_SECRET` changes; always for a rollback of it).
    #[serde(default)]
    pub invalidate_sessions: Option<bool>,
    /// Who asks (evidence).
    #[serde(default)]
    pub requested_by: Option<String>,
    /// With invalidation: the message shown to users in every 401 `session_revoked` it causes.
    #[serde(default)]
    pub user_message: Option<String>,
}

/// Why a rotation could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Another rotation or rollback runs (its job id).
    #[error("rotation {0} is in progress")]
    InProgress(Uuid),
    /// The job could not be recorded.
    #[error("the job store is unavailable: {0}")]
    Unavailable(String),
}

/// The rotation runner of this instance; it also owns this instance's place in the fleet (the heartbeat
/// rotations count acknowledgements against) and the evidence records.
pub struct Rotations {
    deps: RotationDeps,
    /// The rotation or rollback this instance's job runner is running now, if any.
    running: Mutex<Option<Uuid>>,
    /// The heartbeat task, once started (stopped by [`Rotations::leave`]).
    heartbeat: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// What a rotation or rollback job carries (its `args`): the request, and what the accepting instance had in
/// use when it was accepted, so every attempt (a resumed one on another instance too) validates against the
/// same baseline.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RotationArgs {
    /// Rollback (`true`) or rotation.
    pub rollback: bool,
    /// The request as accepted.
    pub request: RotateRequest,
    /// The fingerprints of the current versions when the job was accepted.
    #[serde(default)]
    pub from: BTreeMap<SecretName, Fingerprint>,
    /// A rollback's session invalidation as decided at acceptance (`invalidate_sessions`, else whether
    /// `JWT_SECRET` had a previous version to go back to).
    #[serde(default)]
    pub invalidate: Option<bool>,
    /// The `kid`s of the key set when the job was accepted: a signing key among them was seen by every
    /// verifier that honours the max-age, so it signs without a wait.
    #[serde(default)]
    pub published: Vec<String>,
}

/// The kind of rotation jobs.
pub const ROTATE_KIND: &str = "secrets.rotate";
/// The kind of rollback jobs.
pub const ROLLBACK_KIND: &str = "secrets.rollback";
/// The queue rotations and rollbacks run on (one at a time per instance; the fleet lock makes it one at a
/// time across the fleet).
pub const QUEUE: &str = "secrets";
/// Attempts of a rotation job: each one after the first resumes where the previous (its instance died, or
/// it ran past the timeout) stopped.
const MAX_ATTEMPTS: u32 = 5;

/// The runner's kinds for rotations and rollbacks (queue [`QUEUE`]).
#[must_use]
pub fn kinds(rotations: &Arc<Rotations>) -> Vec<KindSpec> {
    // A rotation to a never-published signing key (or a rollback to one that left the key set) waits the key
    // set's max-age on top of its steps.
    let timeout = Duration::from_secs(600) + rotations.deps.settings.tokens.key_set_max_age;
    let spec = |kind| KindSpec {
        kind,
        queue: QUEUE,
        max_attempts: MAX_ATTEMPTS,
        backoff: Backoff { base: Duration::from_secs(1), max: Duration::from_secs(10) },
        // Every step waits at most the acknowledgement timeout; the smoke test takes seconds.
        timeout,
        every: None,
        handler: Arc::new(RotationJob(Arc::clone(rotations))) as Arc<dyn JobHandler>,
    };
    vec![spec(ROTATE_KIND), spec(ROLLBACK_KIND)]
}

/// A rotation or rollback job, as the job runner runs it.
struct RotationJob(Arc<Rotations>);

#[async_trait::async_trait]
impl JobHandler for RotationJob {
    async fn run(&self, job: &Job) -> Result<Option<Value>, JobFailure> {
        self.0.run_job(job).await
    }
}

/// Aborts a task when dropped (the heartbeat's report refresher goes with the heartbeat).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Clears [`Rotations::running`] when the attempt ends, however it ends (an aborted worker included).
struct RunningGuard<'a>(&'a Mutex<Option<Uuid>>);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}

impl Rotations {
    /// A runner.
    #[must_use]
    pub fn new(deps: RotationDeps) -> Arc<Self> {
        Arc::new(Self { deps, running: Mutex::new(None), heartbeat: Mutex::new(None) })
    }

    /// The newest `limit` evidence records, newest first.
    ///
    /// # Errors
    /// The rotation store is unavailable.
    pub async fn records(&self, limit: u32) -> Result<Vec<RotationRecord>, Unavailable> {
        self.deps.store.rotations(limit).await
    }

    /// Evidence record `id`, if there is one.
    ///
    /// # Errors
    /// The rotation store is unavailable.
    pub async fn record(&self, id: Uuid) -> Result<Option<RotationRecord>, Unavailable> {
        self.deps.store.rotation(id).await
    }

    /// Writes this instance's heartbeat every `every`, with the latest report `report` built for it (rotations
    /// expect an acknowledgement from every instance seen alive; `GET /admin/fleet` shows the reports). The
    /// report is rebuilt beside the beats, every `every` too, so a slow readiness probe (up to its 2 s timeout)
    /// never delays a beat. Failures are logged and counted; the next beat retries. Stopped by
    /// [`Rotations::leave`].
    pub fn start_heartbeat(&self, every: Duration, report: Reporter) {
        let fleet = Arc::clone(&self.deps.fleet);
        let continuity = Arc::clone(&self.deps.continuity);
        let instance_id = self.deps.instance_id;
        let task = tokio::spawn(async move {
            let (latest, reports) = tokio::sync::watch::channel(report().await);
            // Stopped with the heartbeat: aborting this task drops the guard, which aborts the refresher.
            let _refresher = AbortOnDrop(tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    if latest.send(report().await).is_err() {
                        break;
                    }
                }
            }));
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let report = reports.borrow().clone();
                match fleet.heartbeat(instance_id, &report).await {
                    Ok(()) => continuity.reached(),
                    Err(e) => {
                        continuity.missed();
                        metrics::counter!("gantry_heartbeat_failures_total").increment(1);
                        tracing::warn!(event = "heartbeat_failed", error = %e, "instance heartbeat not recorded");
                    }
                }
            }
        });
        let previous = self.heartbeat.lock().unwrap_or_else(std::sync::PoisonError::into_inner).replace(task);
        if let Some(previous) = previous {
            previous.abort();
        }
    }

    /// The instances seen within `rotation.live_within_secs` (the ones a rotation waits for), with their
    /// reports, in id order.
    ///
    /// # Errors
    /// The database is unavailable.
    pub async fn fleet(&self) -> Result<Vec<SeenInstance>, Unavailable> {
        self.deps.fleet.seen(self.deps.settings.live_within).await
    }

    /// Stops the heartbeat and removes this instance from the fleet (shutdown).
    pub async fn leave(&self) {
        let task = self.heartbeat.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(task) = task {
            task.abort();
        }
        if let Err(e) = self.deps.fleet.leave(self.deps.instance_id).await {
            tracing::warn!(error = %e, "could not remove this instance's heartbeat");
        }
    }

    /// The rotation or rollback this instance is running now, if any.
    #[must_use]
    pub fn running(&self) -> Option<Uuid> {
        *self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Accepts a rotation (`rollback` = false) or the runbook's rollback: its evidence record and its runner
    /// job in one transaction, the job holding the fleet-wide lock. Whichever instance's runner claims it runs
    /// it. Returns the job id.
    ///
    /// # Errors
    /// [`StartError::InProgress`] while another runs anywhere; [`StartError::Unavailable`] when the job cannot
    /// be stored.
    pub async fn start(&self, request: RotateRequest, rollback: bool) -> Result<Uuid, StartError> {
        let ring = self.deps.secrets.keyring();
        let from: BTreeMap<SecretName, Fingerprint> =
            SecretName::ALL.into_iter().filter_map(|n| Some((n, ring.current(n)?.fingerprint().clone()))).collect();
        let invalidate = if rollback {
            let jwt_back = ring.versions(SecretName::JwtSecret).is_some_and(|v| v.previous.is_some());
            Some(request.invalidate_sessions.unwrap_or(jwt_back))
        } else {
            None
        };
        let record = RotationRecord {
            id: Uuid::now_v7(),
            kind: if rollback { "rollback" } else { "rotation" }.into(),
            deployment_id: request.deployment_id.clone(),
            commit_sha: request.commit_sha.clone(),
            requested_by: request.requested_by.clone().unwrap_or_else(|| "admin".into()),
            outcome: "running".into(),
            failed_step: None,
            reason: None,
            detail: json!({"accepted_by": self.deps.instance_id, "steps": [], "changes": {}, "from": from}),
            started_at: now(),
            finished_at: None,
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let published = crate::sessions::tokens::published_keys(&ring, &self.deps.settings.tokens, now)
            .into_iter()
            .map(|p| p.key.kid)
            .collect();
        let args = RotationArgs { rollback, request, from, invalidate, published };
        let job = NewJob {
            id: record.id,
            owner: Some("admin".into()),
            max_attempts: MAX_ATTEMPTS,
            unique_key: Some(FLEET_LOCK.into()),
            ..NewJob::new(
                if rollback { ROLLBACK_KIND } else { ROTATE_KIND },
                QUEUE,
                serde_json::to_value(&args).unwrap_or(Value::Null),
            )
        };
        // The record and the job in one transaction; the job's unique key is the fleet-wide lock the database
        // enforces, so two instances accepting within milliseconds store one.
        match self.deps.store.start_rotation(&record, &job).await {
            Ok(RotationStart::Started) => {
                crate::jobs::runner::count_enqueued(&job.kind, QUEUE);
                Ok(record.id)
            }
            Ok(RotationStart::InProgress(other)) => Err(StartError::InProgress(other)),
            Err(Unavailable(reason)) => Err(StartError::Unavailable(reason)),
        }
    }

    /// Runs one attempt of a rotation or rollback job. An attempt after the first resumes: it finishes a
    /// restore an earlier attempt began, or goes forward from the first step not completed (the steps are
    /// safe to repeat: a repeated stage keeps the first snapshot, promote and rollback do nothing twice).
    async fn run_job(&self, job: &Job) -> Result<Option<Value>, JobFailure> {
        let args: RotationArgs = serde_json::from_value(job.args.clone())
            .map_err(|e| JobFailure::Discard(format!("the job's arguments are not a rotation: {e}")))?;
        let record = match self.deps.store.rotation(job.id).await {
            Ok(Some(record)) => record,
            Ok(None) => return Err(JobFailure::Discard("the rotation's evidence record is missing".into())),
            Err(Unavailable(reason)) => return Err(JobFailure::Retry(format!("rotation store unavailable: {reason}"))),
        };
        *self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(job.id);
        let _running = RunningGuard(&self.running);
        let prior: Vec<Value> = job.progress["steps"].as_array().cloned().unwrap_or_default();
        let mut run = Run::new(
            record,
            prior,
            job.attempt,
            Arc::clone(&self.deps.jobs),
            Arc::clone(&self.deps.store),
            self.deps.settings.chaos_pause.clone(),
        );
        let previous_runner = run.record.detail["instance"].as_str().and_then(|s| Uuid::parse_str(s).ok());
        run.detail().insert("instance".into(), json!(self.deps.instance_id));
        if !run.prior.is_empty() {
            run.resumed(self.deps.instance_id, previous_runner).await;
        } else {
            run.save().await;
        }
        let id = job.id;
        tracing::info!(event = "rotation_started", rotation_id = %id, kind = %run.record.kind, attempt = job.attempt,
            "secret rotation running");
        // An earlier attempt's runner is gone: it is not waited for (its heartbeat may still look alive).
        let gone = previous_runner.filter(|p| *p != self.deps.instance_id);
        let outcome = if args.rollback {
            self.rollback(&mut run, &args, gone).await
        } else {
            self.rotate(&mut run, &args, gone).await
        };
        run.record.finished_at = Some(now());
        match &outcome {
            Ok(()) => run.record.outcome = "succeeded".into(),
            Err(f) => {
                run.record.outcome = "failed".into();
                run.record.failed_step = Some(f.step.clone());
                run.record.reason = Some(f.reason.clone());
            }
        }
        metrics::counter!("gantry_rotations_total", "kind" => run.record.kind.clone(), "outcome" => run.record.outcome.clone(),
            "step" => run.record.failed_step.clone().unwrap_or_else(|| "none".into()))
        .increment(1);
        run.save().await;
        run.progress("done").await;
        match outcome {
            Ok(()) => {
                tracing::info!(event = "rotation_succeeded", rotation_id = %id, "secret rotation succeeded");
                Ok(Some(json!({"rotation_id": id, "outcome": "succeeded"})))
            }
            Err(f) => {
                tracing::warn!(event = "rotation_failed", rotation_id = %id, step = %f.step, reason = %f.reason,
                    "secret rotation failed");
                Err(JobFailure::Discard(format!("{} failed: {}", f.step, f.reason)))
            }
        }
    }
}
