//! Secret rotation as a runner job: the runbook (validate → stage on every instance → smoke test → promote on
//! every instance → force re-login → record evidence) run by whichever instance's job runner claims it, with the
//! secret store actor of every instance doing the version changes ([`SecretStep`] commands over the bus, each
//! acknowledged). Any failure after staging puts every instance back to the versions it had (`restore`), and
//! the job ends `discarded` with the step and the reason. One rotation (or rollback) at a time across the fleet:
//! the job holds the database's unique key [`FLEET_LOCK`], a second → 409.
//!
//! When the instance running it dies, its lease expires and another instance resumes the job from the steps
//! recorded so far (every step is safe to repeat), so the fleet ends fully promoted or fully restored.
//!
//! Progress is the job's (`GET /admin/jobs/{id}`): `{step, steps: [{name, state, started_at, finished_at,
//! detail, attempt}]}`. The evidence record (`GET /admin/rotations/{id}`) has the same id.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gantry_actors::jobs::runner::{Backoff, JobFailure, JobHandler, KindSpec};
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::accounts::AccountStore;
use gantry_actors::ports::bus::{Bus, BusSignal, Event};
use gantry_actors::ports::jobs::{Job, JobStore, JobUpdate, NewJob};
use gantry_actors::ports::objects::ObjectStore;
use gantry_actors::ports::rotations::{Fleet, RotationRecord, RotationStart, RotationStore};
use gantry_actors::ports::secrets::SecretSource;
use gantry_actors::secrets::Fingerprint;
use gantry_actors::secrets::keyring::{SecretOrigin, SecretVersion, VersionChange, Versions};
use gantry_actors::secrets::store::{ALREADY_CURRENT, SecretStoreHandle};
use gantry_actors::secrets::{KeyRing, SecretName, SecretStep};
use gantry_actors::sessions::SessionRegistryHandle;
use gantry_actors::sessions::registry::RevokeTarget;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

/// How long to wait for every instance's acknowledgement of a step, and how fresh a heartbeat must be.
#[derive(Debug, Clone)]
pub struct RotationSettings {
    /// Acknowledgement wait per step.
    pub ack_timeout: Duration,
    /// An instance whose last heartbeat is younger than this is expected to acknowledge.
    pub live_within: Duration,
    /// Token settings (to re-sign a smoke-test token with the pending key).
    pub tokens: gantry_actors::sessions::TokenSettings,
    /// Guest-token settings (to issue one with the pending upload secret).
    pub guest: gantry_actors::uploads::guest_token::GuestTokenSettings,
    /// Chaos builds only (`chaos_rotation_pause`): the step whose start a rotation's first attempt stops at,
    /// for the crash drills that kill its instance there.
    pub chaos_pause: Option<String>,
}

/// The live-uniqueness key of every rotation and rollback job: one at a time across the fleet.
pub const FLEET_LOCK: &str = "secrets.rotation";

/// What the runner needs.
#[derive(Clone)]
pub struct RotationDeps {
    /// This instance.
    pub instance_id: Uuid,
    /// Where this instance's public listener answers (the smoke test runs against it).
    pub public_url: String,
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

/// A failed step: its name and why.
#[derive(Debug, Clone)]
struct Failure {
    step: String,
    reason: String,
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
}

/// One rotation's progress and evidence as it runs.
struct Run {
    record: RotationRecord,
    /// Every step so far, the ones of earlier attempts included.
    steps: Vec<Value>,
    /// The steps recorded by earlier attempts (empty on the first).
    prior: Vec<Value>,
    /// This attempt's number.
    attempt: u32,
}

impl Run {
    fn detail(&mut self) -> &mut serde_json::Map<String, Value> {
        if !self.record.detail.is_object() {
            self.record.detail = json!({});
        }
        self.record.detail.as_object_mut().expect("made an object above")
    }

    /// The detail of step `name` as an earlier attempt completed it.
    fn done_before(&self, name: &str) -> Option<&Value> {
        self.prior.iter().rev().find(|s| s["name"] == name && s["state"] == "succeeded").map(|s| &s["detail"])
    }

    /// The failure an earlier attempt recorded (it was putting instances back when it stopped).
    fn failed_before(&self) -> Option<Failure> {
        self.prior.iter().find(|s| s["state"] == "failed" && s["name"] != "restore").map(|s| Failure {
            step: s["name"].as_str().unwrap_or("?").to_owned(),
            reason: s["detail"].as_str().map_or_else(|| s["detail"].to_string(), str::to_owned),
        })
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
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

/// The deployment id of the rotations a chaos build's `chaos_rotation_pause` stops (crash drills only).
pub const CHAOS_DEPLOYMENT: &str = "chaos-drill";

/// The runner's kinds for rotations and rollbacks (queue [`QUEUE`]).
#[must_use]
pub fn kinds(rotations: &Arc<Rotations>) -> Vec<KindSpec> {
    let spec = |kind| KindSpec {
        kind,
        queue: QUEUE,
        max_attempts: MAX_ATTEMPTS,
        backoff: Backoff { base: Duration::from_secs(1), max: Duration::from_secs(10) },
        // Every step waits at most the acknowledgement timeout; the smoke test takes seconds.
        timeout: Duration::from_secs(600),
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

    /// Writes this instance's heartbeat every `every` (rotations expect an acknowledgement from every instance
    /// seen alive). Failures are logged and counted; the next beat retries. Stopped by [`Rotations::leave`].
    pub fn start_heartbeat(&self, every: Duration) {
        let fleet = Arc::clone(&self.deps.fleet);
        let instance_id = self.deps.instance_id;
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = fleet.heartbeat(instance_id).await {
                    metrics::counter!("gantry_heartbeat_failures_total").increment(1);
                    tracing::warn!(event = "heartbeat_failed", error = %e, "instance heartbeat not recorded");
                }
            }
        });
        let previous = self.heartbeat.lock().unwrap_or_else(std::sync::PoisonError::into_inner).replace(task);
        if let Some(previous) = previous {
            previous.abort();
        }
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
        let args = RotationArgs { rollback, request, from, invalidate };
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
                gantry_actors::jobs::runner::count_enqueued(&job.kind, QUEUE);
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
        let mut run = Run { record, steps: prior.clone(), prior, attempt: job.attempt };
        let previous_runner = run.record.detail["instance"].as_str().and_then(|s| Uuid::parse_str(s).ok());
        run.detail().insert("instance".into(), json!(self.deps.instance_id));
        if !run.prior.is_empty() {
            self.resumed(&mut run, previous_runner).await;
        } else {
            self.save(&run).await;
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
        self.save(&run).await;
        let progress = json!({"step": "done", "steps": run.steps});
        let _ = self.deps.jobs.update(id, JobUpdate { progress: Some(progress), ..JobUpdate::default() }).await;
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

    /// Records that this attempt resumes an earlier one: the step it was in is marked `interrupted`, the
    /// evidence gets a `resumed` entry, and the log and `gantry_rotations_resumed_total` say so.
    async fn resumed(&self, run: &mut Run, previous_runner: Option<Uuid>) {
        let at = rfc3339(now());
        let mut interrupted = None;
        for step in &mut run.steps {
            if step["state"] == "running"
                && let Value::Object(step) = step
            {
                interrupted = step.get("name").and_then(Value::as_str).map(str::to_owned);
                step.insert("state".into(), json!("interrupted"));
                step.insert("finished_at".into(), json!(at));
                step.insert("detail".into(), json!("the instance running it stopped"));
            }
        }
        let entry = json!({"attempt": run.attempt, "instance": self.deps.instance_id, "previous_instance": previous_runner,
            "interrupted_step": interrupted, "at": at});
        match run.detail().get_mut("resumed") {
            Some(Value::Array(list)) => list.push(entry),
            _ => {
                run.detail().insert("resumed".into(), json!([entry]));
            }
        }
        metrics::counter!("gantry_rotations_resumed_total", "kind" => run.record.kind.clone()).increment(1);
        tracing::warn!(event = "rotation_resumed", rotation_id = %run.record.id, attempt = run.attempt,
            interrupted_step = ?interrupted, previous_instance = ?previous_runner,
            "resuming a rotation whose runner stopped");
        self.save(run).await;
    }

    /// Stores the evidence as it stands (after every step, so a resumed attempt finds the earlier ones').
    async fn save(&self, run: &Run) {
        let mut record = run.record.clone();
        if let Some(detail) = record.detail.as_object_mut() {
            detail.insert("steps".into(), Value::Array(run.steps.clone()));
        }
        if let Err(e) = self.deps.store.save_rotation(&record).await {
            tracing::error!(event = "rotation_evidence_lost", rotation_id = %run.record.id, error = %e,
                "could not store the evidence");
        }
    }

    /// Records a step's start in the job. In a chaos build, `chaos_rotation_pause` names a step the first
    /// attempt of a rotation with deployment id [`CHAOS_DEPLOYMENT`] stops in (until its process is killed),
    /// for the crash drills.
    async fn begin(&self, run: &mut Run, name: &'static str) {
        run.steps.push(json!({"name": name, "state": "running", "started_at": rfc3339(now()), "attempt": run.attempt}));
        let progress = json!({"step": name, "steps": run.steps});
        let _ =
            self.deps.jobs.update(run.record.id, JobUpdate { progress: Some(progress), ..JobUpdate::default() }).await;
        if gantry_actors::CHAOS
            && run.attempt == 1
            && self.deps.settings.chaos_pause.as_deref() == Some(name)
            && run.record.deployment_id.as_deref() == Some(CHAOS_DEPLOYMENT)
        {
            tracing::warn!(event = "rotation_paused", rotation_id = %run.record.id, step = name,
                "chaos drill: the rotation stops here until this process is killed");
            std::future::pending::<()>().await;
        }
    }

    /// Records a step's end.
    async fn end(&self, run: &mut Run, ok: bool, detail: Value) {
        if let Some(Value::Object(step)) = run.steps.last_mut() {
            step.insert("state".into(), json!(if ok { "succeeded" } else { "failed" }));
            step.insert("finished_at".into(), json!(rfc3339(now())));
            step.insert("detail".into(), detail);
        }
        let name = run.steps.last().and_then(|s| s["name"].as_str()).unwrap_or("").to_owned();
        let progress = json!({"step": name, "steps": run.steps});
        let _ =
            self.deps.jobs.update(run.record.id, JobUpdate { progress: Some(progress), ..JobUpdate::default() }).await;
        self.save(run).await;
    }

    async fn step<T>(
        &self,
        run: &mut Run,
        name: &'static str,
        outcome: Result<(T, Value), String>,
    ) -> Result<T, Failure> {
        match outcome {
            Ok((value, detail)) => {
                self.end(run, true, detail).await;
                Ok(value)
            }
            Err(reason) => {
                self.end(run, false, json!(reason)).await;
                Err(Failure { step: name.to_owned(), reason })
            }
        }
    }

    async fn rotate(&self, run: &mut Run, args: &RotationArgs, gone: Option<Uuid>) -> Result<(), Failure> {
        if let Some(failure) = run.failed_before() {
            // An earlier attempt failed a step and stopped while putting instances back: finish that.
            let expected = self.expected(gone).await;
            self.restore(run, &expected).await;
            return Err(failure);
        }
        let recorded = run.done_before("validate").and_then(|d| serde_json::from_value(d["changed"].clone()).ok());
        let wanted: BTreeMap<SecretName, Fingerprint> = match recorded {
            Some(wanted) => wanted,
            None => {
                self.begin(run, "validate").await;
                let validated = self.validate(&args.from);
                self.step(run, "validate", validated).await?
            }
        };
        let changed: BTreeSet<SecretName> = wanted.keys().copied().collect();
        let invalidate = args.request.invalidate_sessions.unwrap_or(changed.contains(&SecretName::JwtSecret));
        run.detail().insert("secrets".into(), json!(changed));
        run.detail().insert("invalidate_sessions".into(), json!(invalidate));

        let expected = self.expected(gone).await;
        // Everything after validate changes instances: any failure puts every one back, once, here. A resumed
        // attempt goes forward from stage again (every step is safe to repeat), so the fleet ends promoted.
        let message = args.request.user_message.clone();
        let outcome = self.stage_to_record(run, &wanted, invalidate, message, &expected).await;
        if outcome.is_err() {
            self.restore(run, &expected).await;
        }
        outcome
    }

    /// Stage, smoke, promote, invalidate (when asked) and record; the caller restores on failure.
    async fn stage_to_record(
        &self,
        run: &mut Run,
        wanted: &BTreeMap<SecretName, Fingerprint>,
        invalidate: bool,
        user_message: Option<String>,
        expected: &BTreeSet<Uuid>,
    ) -> Result<(), Failure> {
        self.begin(run, "stage").await;
        let staged = self.broadcast(run, SecretStep::Stage, expected).await.and_then(|(acks, detail)| {
            // Every instance must hold the values validated here — staged, or already current (one started
            // after the files changed, or a resumed rotation's repeated stage): one whose files were not
            // updated would acknowledge with nothing staged and keep its old keys.
            for (instance, changes) in &acks {
                for (name, fingerprint) in wanted {
                    let holds = changes.iter().any(|c| {
                        c.name == *name
                            && (c.action == "staged" || c.action == ALREADY_CURRENT)
                            && c.to.as_ref() == Some(fingerprint)
                    });
                    if !holds {
                        return Err(format!(
                            "instance {instance} did not stage the validated {name} ({}); its secret source holds another value",
                            fingerprint.as_str()
                        ));
                    }
                }
            }
            Ok(((), detail))
        });
        self.step(run, "stage", staged).await?;

        self.begin(run, "smoke").await;
        let smoke = self.smoke().await;
        run.detail().insert("smoke".into(), smoke.clone());
        let smoked = if smoke["ok"] == true { Ok(((), json!("passed"))) } else { Err(smoke_reason(&smoke)) };
        self.step(run, "smoke", smoked).await?;

        self.begin(run, "promote").await;
        let promoted = self.broadcast(run, SecretStep::Promote, expected).await.map(|(_, detail)| ((), detail));
        self.step(run, "promote", promoted).await?;

        if invalidate {
            self.begin(run, "invalidate").await;
            let reason = format!("secret rotation {}", run.record.id);
            let invalidated = self.invalidate(run, reason, user_message, expected).await;
            self.step(run, "invalidate", invalidated).await?;
        }
        self.begin(run, "record").await;
        self.end(run, true, json!("stored")).await;
        Ok(())
    }

    async fn rollback(&self, run: &mut Run, args: &RotationArgs, gone: Option<Uuid>) -> Result<(), Failure> {
        if let Some(failure) = run.failed_before() {
            return Err(failure);
        }
        let expected = self.expected(gone).await;
        if run.done_before("rollback").is_none() {
            self.begin(run, "rollback").await;
            let rolled = self.broadcast(run, SecretStep::Rollback, &expected).await.map(|(_, detail)| ((), detail));
            self.step(run, "rollback", rolled).await?;
        }
        if args.invalidate.or(args.request.invalidate_sessions).unwrap_or(false) {
            self.begin(run, "invalidate").await;
            let reason = format!("secret rollback {}", run.record.id);
            let invalidated = self.invalidate(run, reason, args.request.user_message.clone(), &expected).await;
            self.step(run, "invalidate", invalidated).await?;
        }
        self.begin(run, "record").await;
        self.end(run, true, json!("stored")).await;
        Ok(())
    }

    /// Validate: the source's values pass the start-up rules and at least one differs from the version in use
    /// when the job was accepted (`from`). Returns the new fingerprint of every secret that changes.
    fn validate(
        &self,
        from: &BTreeMap<SecretName, Fingerprint>,
    ) -> Result<(BTreeMap<SecretName, Fingerprint>, Value), String> {
        let set = self.deps.source.read().map_err(|problems| problems.join("; "))?;
        let changed: BTreeMap<SecretName, Fingerprint> = set
            .iter()
            .filter(|(name, (value, _))| from.get(*name) != Some(value.fingerprint()))
            .map(|(name, (value, _))| (*name, value.fingerprint().clone()))
            .collect();
        if changed.is_empty() {
            return Err(format!(
                "nothing to rotate: the secret source of instance {} holds the values in use",
                self.deps.instance_id
            ));
        }
        let detail = json!({"changed": changed});
        Ok((changed, detail))
    }

    /// The instances expected to acknowledge: every one seen alive, and this one; not `gone` (the runner of
    /// an earlier attempt, whose heartbeat may not have aged out yet).
    async fn expected(&self, gone: Option<Uuid>) -> BTreeSet<Uuid> {
        let mut expected: BTreeSet<Uuid> = self
            .deps
            .fleet
            .live_instances(self.deps.settings.live_within)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|i| Some(*i) != gone)
            .collect();
        expected.insert(self.deps.instance_id);
        expected
    }

    /// Publishes `step` and waits for every expected instance's acknowledgement; returns each instance's
    /// version changes.
    async fn broadcast(
        &self,
        run: &mut Run,
        step: SecretStep,
        expected: &BTreeSet<Uuid>,
    ) -> Result<(BTreeMap<Uuid, Vec<VersionChange>>, Value), String> {
        let rotation_id = run.record.id;
        let mut rx = self.deps.bus.subscribe();
        self.deps
            .bus
            .publish(Event::SecretsCommand { rotation_id, step })
            .await
            .map_err(|e| format!("the bus did not take the {} command: {e}", step.as_str()))?;
        let mut acks: BTreeMap<Uuid, Value> = BTreeMap::new();
        let mut changed: BTreeMap<Uuid, Vec<VersionChange>> = BTreeMap::new();
        let mut failed = Vec::new();
        let deadline = tokio::time::Instant::now() + self.deps.settings.ack_timeout;
        while !expected.iter().all(|i| acks.contains_key(i)) {
            let signal = match tokio::time::timeout_at(deadline, rx.recv()).await {
                Err(_) => break,
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => break,
                Ok(Ok(signal)) => signal,
            };
            let BusSignal::Message(envelope) = signal else { continue };
            if let Event::SecretsAck { rotation_id: r, step: s, instance_id, ok, detail, changes } = envelope.event
                && r == rotation_id
                && s == step
            {
                if !ok {
                    failed.push(format!("{instance_id}: {}", detail.clone().unwrap_or_default()));
                }
                let changes_json = serde_json::to_value(&changes).unwrap_or(Value::Null);
                if let Some(Value::Object(all)) = run.detail().get_mut("changes") {
                    let entry = all.entry(instance_id.to_string()).or_insert_with(|| json!([]));
                    if let Value::Array(list) = entry
                        && let Value::Array(more) = changes_json.clone()
                    {
                        list.extend(more);
                    }
                }
                acks.insert(instance_id, json!({"ok": ok, "detail": detail, "changes": changes_json}));
                changed.insert(instance_id, changes);
            }
        }
        let missing: Vec<String> = expected.iter().filter(|i| !acks.contains_key(i)).map(ToString::to_string).collect();
        let detail = json!({"expected": expected, "acks": acks});
        if !failed.is_empty() {
            return Err(format!("{} refused by {}", step.as_str(), failed.join("; ")));
        }
        if !missing.is_empty() {
            return Err(format!(
                "no {} acknowledgement within {} s from {}",
                step.as_str(),
                self.deps.settings.ack_timeout.as_secs(),
                missing.join(", ")
            ));
        }
        Ok((changed, detail))
    }

    /// Puts every instance back to what it had before this rotation's stage (best effort; recorded).
    async fn restore(&self, run: &mut Run, expected: &BTreeSet<Uuid>) {
        self.begin(run, "restore").await;
        let restored = self.broadcast(run, SecretStep::Restore, expected).await.map(|(_, detail)| ((), detail));
        let ok = restored.is_ok();
        let detail = restored.map_or_else(|reason| json!(reason), |(_, d)| d);
        self.end(run, ok, detail).await;
        tracing::warn!(event = "rotation_rolled_back", rotation_id = %run.record.id, ok, "rotation rolled back on every instance");
    }

    /// Forces everyone to log in again and ends the rotated-out `JWT_SECRET` on every instance: first every
    /// instance retires its previous key (acknowledged, so a token it signed — whatever its `sid`, even a
    /// made-up one the epoch cannot catch — is refused everywhere before the job succeeds), then the global
    /// epoch is raised. The grace window only applies to rotations without invalidation.
    async fn invalidate(
        &self,
        run: &mut Run,
        reason: String,
        user_message: Option<String>,
        expected: &BTreeSet<Uuid>,
    ) -> Result<((), Value), String> {
        let (_, retired) = self.broadcast(run, SecretStep::RetirePreviousJwt, expected).await?;
        run.detail().insert("previous_jwt_retired".into(), retired);
        let notice = self
            .deps
            .sessions
            .revoke(RevokeTarget::All, reason, format!("rotation:{}", run.record.requested_by), user_message)
            .await
            .map_err(|e| format!("revoke-all failed: {e}"))?;
        // The count of affected sessions is filled in after the O(1) revocation; wait a little for it.
        let mut notice = notice;
        for _ in 0..20 {
            if notice.active_sessions.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Ok(list) = self.deps.accounts.revocations(20).await
                && let Some(found) = list.into_iter().find(|n| n.id == notice.id)
            {
                notice = found;
            }
        }
        let notice = serde_json::to_value(&notice).unwrap_or(Value::Null);
        run.detail().insert("notice".into(), notice.clone());
        Ok(((), notice))
    }

    /// The runbook's smoke test against this instance, plus the pending keys: an access token signed with the
    /// pending `JWT_SECRET` must authenticate, a guest token of the pending upload secret must upload and
    /// download, the pending S3 credentials must pass `HeadBucket`.
    async fn smoke(&self) -> Value {
        let (account, ephemeral) = match &self.deps.smoke_account {
            Some((email, password)) => (
                crate::smoke::Account {
                    email: email.clone(),
                    password: secrecy::ExposeSecret::expose_secret(password).to_owned(),
                    register: false,
                },
                false,
            ),
            None => (crate::smoke::Account::ephemeral(), true),
        };
        let report = match crate::smoke::run(&self.deps.public_url, &account).await {
            Ok(report) => serde_json::to_value(&report).unwrap_or(Value::Null),
            Err(e) => json!({"ok": false, "error": e.to_string()}),
        };
        let pending = self.pending_checks(&account).await;
        if ephemeral && let Ok(Some(user)) = self.deps.accounts.user_by_email(&account.email).await {
            let _ = self.deps.accounts.delete_user(user.id).await;
        }
        let ok = report["ok"] == true && pending.iter().all(|c| c["ok"] == true);
        json!({"ok": ok, "runbook": report, "pending": pending})
    }

    async fn pending_checks(&self, account: &crate::smoke::Account) -> Vec<Value> {
        let ring = self.deps.secrets.keyring();
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap_or_default();
        let base = self.deps.public_url.trim_end_matches('/');
        let mut checks = Vec::new();
        if let Some(pending) = ring.pending(SecretName::JwtSecret) {
            let outcome = async {
                let creds = json!({"email": account.email, "password": account.password});
                let pair: Value = client
                    .post(format!("{base}/v1/auth/login"))
                    .json(&creds)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?
                    .json()
                    .await
                    .map_err(|e| e.to_string())?;
                let token = pair["access_token"].as_str().ok_or("login failed")?;
                let claims = gantry_actors::sessions::tokens::verify_access(token, &ring, &self.deps.settings.tokens)
                    .map_err(|e| format!("{e:?}"))?;
                let resigned = gantry_actors::sessions::tokens::sign_access(&claims, pending);
                let me = client
                    .get(format!("{base}/v1/auth/me"))
                    .bearer_auth(&resigned)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let status = me.status().as_u16();
                let _ = client.post(format!("{base}/v1/auth/logout")).bearer_auth(token).send().await;
                if status == 200 {
                    Ok(())
                } else {
                    Err(format!("GET /v1/auth/me with a token of the pending key: {status}"))
                }
            }
            .await;
            checks.push(json!({"name": "JWT_SECRET pending signs a token that authenticates", "ok": outcome.is_ok(), "detail": outcome.err()}));
        }
        if let Some(pending) = ring.pending(SecretName::UploadGuestTokenSecret) {
            let outcome = async {
                let only = KeyRing::new(BTreeMap::from([(
                    SecretName::UploadGuestTokenSecret,
                    Versions::only(SecretVersion::first(pending.clone(), SecretOrigin::File)),
                )]));
                let (token, _) = gantry_actors::uploads::guest_token::issue(&only, &self.deps.settings.guest, now());
                let body: Vec<u8> =
                    b"\x89PNG\r\n\x1a\n".iter().copied().chain((0..2040u32).map(|i| (i % 251) as u8)).collect();
                let up = client
                    .post(format!("{base}/v1/uploads"))
                    .header("x-upload-token", &token)
                    .header("content-type", "image/png")
                    .body(body.clone())
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if up.status().as_u16() != 201 {
                    return Err(format!("upload with a guest token of the pending key: {}", up.status()));
                }
                let created: Value = up.json().await.map_err(|e| e.to_string())?;
                let id = created["id"].as_str().ok_or("no upload id")?;
                let down = client
                    .get(format!("{base}/v1/uploads/{id}/content"))
                    .header("x-upload-token", &token)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let bytes = down.bytes().await.map_err(|e| e.to_string())?;
                let _ = client.delete(format!("{base}/v1/uploads/{id}")).header("x-upload-token", &token).send().await;
                if bytes.as_ref() == body.as_slice() { Ok(()) } else { Err("downloaded bytes differ".into()) }
            }
            .await;
            checks.push(json!({"name": "UPLOAD_GUEST_TOKEN_SECRET pending signs a guest token that uploads and downloads", "ok": outcome.is_ok(), "detail": outcome.err()}));
        }
        if ring.pending(SecretName::S3AccessKeyId).is_some() || ring.pending(SecretName::S3SecretAccessKey).is_some() {
            let key = ring.pending(SecretName::S3AccessKeyId).or_else(|| ring.current(SecretName::S3AccessKeyId));
            let secret =
                ring.pending(SecretName::S3SecretAccessKey).or_else(|| ring.current(SecretName::S3SecretAccessKey));
            let outcome = match (key, secret) {
                (Some(k), Some(s)) => self.deps.objects.check_credentials(k, s).await.map_err(|e| e.to_string()),
                _ => Err("incomplete S3 credentials".into()),
            };
            checks.push(json!({"name": "S3 pending credentials pass HeadBucket", "ok": outcome.is_ok(), "detail": outcome.err()}));
        }
        checks
    }
}

/// The first failed smoke step, as a reason.
fn smoke_reason(smoke: &Value) -> String {
    let runbook = smoke["runbook"]["steps"].as_array().into_iter().flatten();
    let pending = smoke["pending"].as_array().into_iter().flatten();
    runbook
        .chain(pending)
        .find(|s| s["ok"] == false)
        .map(|s| format!("{}: {}", s["name"].as_str().unwrap_or("?"), s["detail"].as_str().unwrap_or("failed")))
        .or_else(|| smoke["runbook"]["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "the smoke test failed".into())
}
