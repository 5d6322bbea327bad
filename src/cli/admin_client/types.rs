//! What the admin routes the CLI calls take and answer, as serde types. Where the server's own type is
//! `Deserialize` it is reused (a job, its attempts, a rotation record, the rotate request), so both ends read
//! one definition; the others mirror the JSON the handlers in `src/gateway/` write. Free-form JSON inside
//! them (a rotation job's progress, a rotation record's detail) is read through small views that, like the
//! printers always did, take what they find and leave an odd or missing field blank rather than fail.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

pub use gantry_actors::ports::jobs::{Attempt, Job, JobState};
pub use gantry_actors::ports::rotations::RotationRecord;
pub use gantry_actors::secrets::rotation::RotateRequest;

/// The problem+json document (RFC 9457) an admin route refuses with (written by `src/gateway/problem.rs`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ProblemDocument {
    /// The problem type URI.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The short human summary of the type.
    pub title: Option<String>,
    /// The HTTP status, repeated.
    pub status: Option<u16>,
    /// What went wrong this time.
    pub detail: Option<String>,
    /// The stable machine-readable code (`job_not_found`, `template_invalid`, …).
    pub code: Option<String>,
    /// `template_invalid`: every problem of the refused set.
    pub problems: Option<Vec<TemplateProblem>>,
}

/// One problem of a refused template set (the server's `TemplateIssue`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct TemplateProblem {
    /// The template or shared block.
    pub template: Option<String>,
    /// The field, when the problem is a field's.
    pub field: Option<String>,
    /// The stable code.
    pub code: Option<String>,
    /// What is wrong.
    pub message: Option<String>,
}

/// `POST /admin/secrets/rotate|rollback` → 202: the job that runs it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Accepted {
    /// The rotation's job (also the evidence record's id).
    pub job_id: Uuid,
}

/// `GET /admin/rotations` → the newest evidence records.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RotationList {
    /// Newest first.
    pub rotations: Vec<RotationRecord>,
}

/// The filter of `GET /admin/jobs` (the instance checks the state's spelling).
#[derive(Debug, Clone, Copy)]
pub struct JobQuery<'a> {
    /// Only jobs in this state.
    pub state: Option<&'a str>,
    /// Only jobs of this kind.
    pub kind: Option<&'a str>,
    /// At most this many.
    pub limit: u32,
}

/// `GET /admin/jobs?…` → the newest jobs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct JobList {
    /// Newest first.
    pub jobs: Vec<Job>,
}

/// `GET /admin/jobs/{id}`: a job with its finished attempts (the server's `gantry_actors::jobs::JobDetail`,
/// which only serializes).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct JobDetail {
    /// The job.
    #[serde(flatten)]
    pub job: Job,
    /// Its finished attempts, in order.
    pub attempts: Vec<Attempt>,
}

/// `GET /admin/users?email=` → the account.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UserFound {
    /// Its id.
    pub id: Uuid,
    /// Its email, normalised.
    pub email: String,
    /// When it registered.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When an operator disabled it (`None`: enabled).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub disabled_at: Option<OffsetDateTime>,
}

/// `POST /admin/users` → the account created.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UserCreated {
    /// Its id.
    pub user_id: Uuid,
    /// Its email, normalised.
    pub email: String,
}

/// `DELETE /admin/users/{id}` → what was done.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UserDeleted {
    /// The account.
    pub user_id: Uuid,
    /// Always `true`.
    pub deleted: bool,
    /// The revocation of its sessions (a job id).
    pub revocation_job_id: Uuid,
}

/// `POST /admin/sessions/revoke-all` and `POST /admin/users/{id}/revoke-sessions` body (openapi's
/// `RevokeRequest`).
#[derive(Debug, Clone, Serialize)]
pub struct RevokeRequest<'a> {
    /// Why (recorded in the notice).
    pub reason: &'a str,
    /// Who asks.
    pub requested_by: &'a str,
    /// Shown to every user it logs out; left out when not given (the instance reads absent as `null`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_message: Option<&'a str>,
}

/// `POST /admin/sessions/revoke-all|/admin/users/{id}/revoke-sessions` → 202.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RevokeAccepted {
    /// The revocation (a job id).
    pub job_id: Uuid,
    /// Sessions created before this are revoked.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// The same, in milliseconds since the epoch.
    pub not_before_ms: i64,
}

/// The filter of `GET /admin/options` (recently created options).
#[derive(Debug, Clone, Copy)]
pub struct RecentOptions<'a> {
    /// Only those created by this account.
    pub created_by: Option<Uuid>,
    /// Only those created since this RFC 3339 time.
    pub since: Option<&'a str>,
    /// At most this many.
    pub limit: u32,
}

/// `PATCH /admin/options/{id}` renaming an option.
#[derive(Debug, Clone, Serialize)]
pub struct RenameOption<'a> {
    /// The new name.
    pub name: &'a str,
    /// Who asks (audit).
    pub requested_by: &'a str,
}

/// `PUT /admin/options/{id}/translations/{locale}`.
#[derive(Debug, Clone, Serialize)]
pub struct SetTranslation<'a> {
    /// The option's name in the locale.
    pub name: &'a str,
    /// Who asks (audit).
    pub requested_by: &'a str,
}

/// `POST /admin/options/{id}/merge`.
#[derive(Debug, Clone, Serialize)]
pub struct MergeOption<'a> {
    /// The option that stays.
    pub into: Uuid,
    /// Who asks (audit).
    pub requested_by: &'a str,
}

/// `POST /admin/options/{id}/hide|unhide|approve`.
#[derive(Debug, Clone, Serialize)]
pub struct RequestedBy<'a> {
    /// Who asks (audit).
    pub requested_by: &'a str,
}

/// `POST /admin/options`: an operator's create.
#[derive(Debug, Clone, Serialize)]
pub struct CreateOption<'a> {
    /// The kind (`category`, …).
    pub kind: &'a str,
    /// The name.
    pub name: &'a str,
    /// The parent (subcategories, models, cities).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<Uuid>,
    /// Categories: whether their listings have an engine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_engine: Option<bool>,
    /// Who asks (audit).
    pub requested_by: &'a str,
}

/// `PATCH /admin/options/{id}` setting whether a category's listings have an engine.
#[derive(Debug, Clone, Serialize)]
pub struct SetEngine<'a> {
    /// Whether they have one.
    pub has_engine: bool,
    /// Apply even when it takes fields from forms.
    pub force: bool,
    /// Who asks (audit).
    pub requested_by: &'a str,
}

/// A rotation job's `progress` (`{step, steps}`), as `gantry secrets rotate` follows it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct RotationProgress {
    /// The steps begun so far, in order.
    #[serde(default, deserialize_with = "lenient")]
    pub steps: Vec<ProgressStep>,
}

impl RotationProgress {
    /// The progress `job` reports (none while it has reported nothing).
    #[must_use]
    pub fn of(job: &Job) -> Self {
        serde_json::from_value(job.progress.clone()).unwrap_or_default()
    }
}

/// One step of a rotation job's progress.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ProgressStep {
    /// `validate`, `stage`, `smoke`, `promote`, …
    #[serde(default, deserialize_with = "lenient")]
    pub name: Option<String>,
    /// `running`, `succeeded`, `failed`, `interrupted`.
    #[serde(default, deserialize_with = "lenient")]
    pub state: Option<String>,
    /// What it found: a sentence, or a document (acknowledgements) the follower does not show.
    #[serde(default)]
    pub detail: serde_json::Value,
}

impl ProgressStep {
    /// The step's detail when it is a sentence.
    #[must_use]
    pub fn detail_text(&self) -> Option<&str> {
        self.detail.as_str()
    }
}

/// What `gantry rotations show` reads of a rotation record's `detail`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct RotationDetail {
    /// The version changes, by instance id.
    #[serde(default, deserialize_with = "lenient")]
    pub changes: BTreeMap<String, Vec<VersionChange>>,
    /// The smoke step's report.
    #[serde(default, deserialize_with = "lenient")]
    pub smoke: Option<SmokeOutcome>,
    /// The session-invalidation notice.
    #[serde(default, deserialize_with = "lenient")]
    pub notice: Option<NoticeSummary>,
}

impl RotationDetail {
    /// The detail of `record`.
    #[must_use]
    pub fn of(record: &RotationRecord) -> Self {
        serde_json::from_value(record.detail.clone()).unwrap_or_default()
    }
}

/// One version change an instance acknowledged (fingerprints, never values).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct VersionChange {
    /// The secret.
    #[serde(default, deserialize_with = "lenient")]
    pub name: Option<String>,
    /// `staged`, `promoted`, `discarded`, `rolled_back`, …
    #[serde(default, deserialize_with = "lenient")]
    pub action: Option<String>,
    /// The fingerprint before.
    #[serde(default, deserialize_with = "lenient")]
    pub from: Option<String>,
    /// The fingerprint after.
    #[serde(default, deserialize_with = "lenient")]
    pub to: Option<String>,
    /// When (RFC 3339).
    #[serde(default, deserialize_with = "lenient")]
    pub at: Option<String>,
}

/// Whether the rotation's smoke step passed.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct SmokeOutcome {
    /// Every check passed.
    #[serde(default, deserialize_with = "lenient")]
    pub ok: bool,
}

/// The revocation notice a rotation's invalidation recorded.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct NoticeSummary {
    /// The notice (and its job).
    #[serde(default, deserialize_with = "lenient")]
    pub id: Option<String>,
    /// Sessions created before this epoch (ms) are revoked.
    #[serde(default, deserialize_with = "lenient")]
    pub not_before_ms: Option<i64>,
}

/// An instant as the instance writes it: RFC 3339 (parsed and formatted by the same rules, so the text a
/// command prints is the text the instance sent).
#[must_use]
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// Reads a free-form field as `T`, or `T::default()` when it holds something else.
fn lenient<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).unwrap_or_default())
}

#[cfg(test)]
mod tests;
