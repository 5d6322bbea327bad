//! A rotation's progress and evidence as it runs: every step's start and end go to the job's progress
//! (`{step, steps: [{name, state, started_at, finished_at, detail, attempt}]}`) and to the evidence record
//! (its `detail.steps`), after every step, so a resumed attempt finds the earlier ones'.

use std::sync::Arc;

use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ports::jobs::{JobStore, JobUpdate};
use crate::ports::rotations::{RotationRecord, RotationStore};

/// The deployment id of the rotations a chaos build's `chaos_rotation_pause` stops (crash drills only).
pub const CHAOS_DEPLOYMENT: &str = "chaos-drill";

/// A failed step: its name and why.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    pub(super) step: String,
    pub(super) reason: String,
}

pub(super) fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// One rotation's progress and evidence as it runs.
pub(super) struct Run {
    pub(super) record: RotationRecord,
    /// Every step so far, the ones of earlier attempts included.
    pub(super) steps: Vec<Value>,
    /// The steps recorded by earlier attempts (empty on the first).
    pub(super) prior: Vec<Value>,
    /// This attempt's number.
    pub(super) attempt: u32,
    /// Where the progress goes (the job).
    jobs: Arc<dyn JobStore>,
    /// Where the evidence goes.
    store: Arc<dyn RotationStore>,
    /// Chaos builds only: the step whose start a first attempt stops at (see [`Run::begin`]).
    chaos_pause: Option<String>,
}

impl Run {
    /// Attempt `attempt` of the rotation `record`, after the steps earlier attempts recorded (`prior`).
    pub(super) fn new(
        record: RotationRecord,
        prior: Vec<Value>,
        attempt: u32,
        jobs: Arc<dyn JobStore>,
        store: Arc<dyn RotationStore>,
        chaos_pause: Option<String>,
    ) -> Self {
        Self { record, steps: prior.clone(), prior, attempt, jobs, store, chaos_pause }
    }

    pub(super) fn detail(&mut self) -> &mut serde_json::Map<String, Value> {
        if !self.record.detail.is_object() {
            self.record.detail = json!({});
        }
        self.record.detail.as_object_mut().expect("made an object above")
    }

    /// The detail of step `name` as an earlier attempt completed it.
    pub(super) fn done_before(&self, name: &str) -> Option<&Value> {
        self.prior.iter().rev().find(|s| s["name"] == name && s["state"] == "succeeded").map(|s| &s["detail"])
    }

    /// The failure an earlier attempt recorded (it was putting instances back when it stopped).
    pub(super) fn failed_before(&self) -> Option<Failure> {
        self.prior.iter().find(|s| s["state"] == "failed" && s["name"] != "restore").map(|s| Failure {
            step: s["name"].as_str().unwrap_or("?").to_owned(),
            reason: s["detail"].as_str().map_or_else(|| s["detail"].to_string(), str::to_owned),
        })
    }

    /// Records that this attempt (run by `instance_id`) resumes an earlier one: the step it was in is marked
    /// `interrupted`, the evidence gets a `resumed` entry, and the log and `gantry_rotations_resumed_total`
    /// say so.
    pub(super) async fn resumed(&mut self, instance_id: Uuid, previous_runner: Option<Uuid>) {
        let at = rfc3339(now());
        let mut interrupted = None;
        for step in &mut self.steps {
            if step["state"] == "running"
                && let Value::Object(step) = step
            {
                interrupted = step.get("name").and_then(Value::as_str).map(str::to_owned);
                step.insert("state".into(), json!("interrupted"));
                step.insert("finished_at".into(), json!(at));
                step.insert("detail".into(), json!("the instance running it stopped"));
            }
        }
        let entry = json!({"attempt": self.attempt, "instance": instance_id, "previous_instance": previous_runner,
            "interrupted_step": interrupted, "at": at});
        match self.detail().get_mut("resumed") {
            Some(Value::Array(list)) => list.push(entry),
            _ => {
                self.detail().insert("resumed".into(), json!([entry]));
            }
        }
        metrics::counter!("gantry_rotations_resumed_total", "kind" => self.record.kind.clone()).increment(1);
        tracing::warn!(event = "rotation_resumed", rotation_id = %self.record.id, attempt = self.attempt,
            interrupted_step = ?interrupted, previous_instance = ?previous_runner,
            "resuming a rotation whose runner stopped");
        self.save().await;
    }

    /// Stores the evidence as it stands (after every step, so a resumed attempt finds the earlier ones').
    pub(super) async fn save(&self) {
        let mut record = self.record.clone();
        if let Some(detail) = record.detail.as_object_mut() {
            detail.insert("steps".into(), Value::Array(self.steps.clone()));
        }
        if let Err(e) = self.store.save_rotation(&record).await {
            tracing::error!(event = "rotation_evidence_lost", rotation_id = %self.record.id, error = %e,
                "could not store the evidence");
        }
    }

    /// Writes the job's progress (`{step, steps}`).
    pub(super) async fn progress(&self, step: &str) {
        let progress = json!({"step": step, "steps": self.steps});
        let _ = self.jobs.update(self.record.id, JobUpdate { progress: Some(progress), ..JobUpdate::default() }).await;
    }

    /// Records a step's start in the job. In a chaos build, `chaos_rotation_pause` names a step the first
    /// attempt of a rotation with deployment id [`CHAOS_DEPLOYMENT`] stops in (until its process is killed),
    /// for the crash drills.
    pub(super) async fn begin(&mut self, name: &'static str) {
        self.steps
            .push(json!({"name": name, "state": "running", "started_at": rfc3339(now()), "attempt": self.attempt}));
        self.progress(name).await;
        if crate::CHAOS
            && self.attempt == 1
            && self.chaos_pause.as_deref() == Some(name)
            && self.record.deployment_id.as_deref() == Some(CHAOS_DEPLOYMENT)
        {
            tracing::warn!(event = "rotation_paused", rotation_id = %self.record.id, step = name,
                "chaos drill: the rotation stops here until this process is killed");
            std::future::pending::<()>().await;
        }
    }

    /// Shows `detail` on the running step (progress while it runs: what it waits for).
    pub(super) async fn note(&mut self, detail: Value) {
        if let Some(Value::Object(step)) = self.steps.last_mut() {
            step.insert("detail".into(), detail);
        }
        let name = self.steps.last().and_then(|s| s["name"].as_str()).unwrap_or("").to_owned();
        self.progress(&name).await;
    }

    /// Records a step's end.
    pub(super) async fn end(&mut self, ok: bool, detail: Value) {
        if let Some(Value::Object(step)) = self.steps.last_mut() {
            step.insert("state".into(), json!(if ok { "succeeded" } else { "failed" }));
            step.insert("finished_at".into(), json!(rfc3339(now())));
            step.insert("detail".into(), detail);
        }
        let name = self.steps.last().and_then(|s| s["name"].as_str()).unwrap_or("").to_owned();
        self.progress(&name).await;
        self.save().await;
    }

    /// Records the end of step `name` from its outcome: its value, or the [`Failure`].
    pub(super) async fn step<T>(
        &mut self,
        name: &'static str,
        outcome: Result<(T, Value), String>,
    ) -> Result<T, Failure> {
        match outcome {
            Ok((value, detail)) => {
                self.end(true, detail).await;
                Ok(value)
            }
            Err(reason) => {
                self.end(false, json!(reason)).await;
                Err(Failure { step: name.to_owned(), reason })
            }
        }
    }
}
