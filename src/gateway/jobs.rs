//! `GET /v1/jobs/{id}` and `GET /admin/jobs/{id}`: a job's state, progress and outcome; the admin listener
//! also lists jobs (`GET /admin/jobs?state=&kind=&limit=`), counts them per queue, kind and state
//! (`GET /admin/jobs/counts`: every stored job, where the list is a page), shows each one's attempts (errors, timings), and
//! retries (`POST /admin/jobs/{id}/retry`: discarded, cancelled or retryable) or cancels
//! (`POST /admin/jobs/{id}/cancel`: not finished) a runner job. Any other state is 409
//! `job_not_retryable` / `job_not_cancellable`; a record-only job (run inline, not by the runner) is too. A
//! retry that would make a second live job with the same unique key is 409 `job_key_taken`, naming the holder.
//!
//! The public listener shows a job only to its owner: the caller's access token (`user:<id>`) or upload token
//! (`guest:<id>`) must name the job's owner. Operator jobs (rotations, revoke-all: owned by `admin`, `cli`, …)
//! are readable only on the admin listener. A job that is not the caller's, an unknown id, a malformed id and a
//! request without credentials all answer the same 404 `job_not_found`, so nothing can be learned by probing;
//! a credential that is sent but refused is 401 as everywhere else. The public view hides the owner.

use gantry_actors::jobs::{JobError, MAX_LIST};
use gantry_actors::ports::jobs::{JobFilter, JobState};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use uuid::Uuid;

use super::access::Caller;
use super::ctx::Ctx;
use super::problem::ApiError;
use super::respond::{Response, json_response};
use super::state::AppState;

/// Who is looking: the public view hides the owner.
#[derive(Debug, Clone)]
pub enum View {
    /// `GET /v1/jobs/{id}`, by the caller whose credential (if any) the access check accepted.
    Public(Option<Caller>),
    /// `GET /admin/jobs/{id}`.
    Admin,
}

const NOT_FOUND: ApiError = super::problem::JOB_NOT_FOUND;

/// Looks the job up.
///
/// # Errors
/// 404 `job_not_found` (also for another owner's job); 503 when the database is unavailable. (A refused
/// credential is 401 before this runs, whatever the id.)
pub async fn get(state: &AppState, ctx: &Ctx, view: View) -> Result<Response, ApiError> {
    let owner = match view {
        View::Public(caller) => Some(caller.map(|c| c.owner())),
        View::Admin => None,
    };
    let id = job_id(ctx)?;
    if owner.is_none() {
        return Ok(json_response(StatusCode::OK, &state.jobs.detail(id).await?));
    }
    let job = state.jobs.get(id).await?.ok_or(NOT_FOUND)?;
    if let Some(caller) = owner
        && (caller.is_none() || job.owner != caller)
    {
        return Err(NOT_FOUND);
    }
    Ok(json_response(StatusCode::OK, &PublicJob::from(job)))
}

/// What the public listener shows of a job: what the owner asked for and how it went — not the runner's
/// internals (its input, queue, uniqueness keys, which instance holds its lease), nor the owner itself.
#[derive(Debug, serde::Serialize)]
struct PublicJob {
    id: Uuid,
    kind: String,
    state: JobState,
    progress: serde_json::Value,
    result: Option<serde_json::Value>,
    error: Option<String>,
    attempt: u32,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    finished_at: Option<time::OffsetDateTime>,
}

impl From<gantry_actors::ports::jobs::Job> for PublicJob {
    fn from(job: gantry_actors::ports::jobs::Job) -> Self {
        Self {
            id: job.id,
            kind: job.kind,
            state: job.state,
            progress: job.progress,
            result: job.result,
            error: job.error,
            attempt: job.attempt,
            created_at: job.created_at,
            updated_at: job.updated_at,
            finished_at: job.finished_at,
        }
    }
}

/// The `{id}` path parameter; a malformed id is as unknown as a missing one.
fn job_id(ctx: &Ctx) -> Result<Uuid, ApiError> {
    ctx.params.get("id").and_then(|s| Uuid::parse_str(s).ok()).ok_or(NOT_FOUND)
}

/// `GET /admin/jobs?state=&kind=&limit=`: jobs newest first (at most `limit`, default 100, at most 500).
///
/// # Errors
/// 422 for an unknown state or a bad limit; 503 when the database is unavailable.
pub async fn list(state: &AppState, req: &Request<Incoming>) -> Result<Response, ApiError> {
    let mut filter = JobFilter { limit: 100, ..JobFilter::default() };
    for (key, value) in req.uri().query().unwrap_or("").split('&').filter_map(|pair| pair.split_once('=')) {
        let value = crate::gateway::ctx::percent_decode(value);
        if value.is_empty() {
            continue;
        }
        match key {
            "state" => {
                filter.state = Some(JobState::parse(&value).ok_or_else(|| {
                    ApiError::field(
                        "state",
                        "invalid",
                        "one of scheduled, available, running, retryable, completed, discarded, cancelled",
                    )
                })?);
            }
            "kind" => filter.kind = Some(value.into_owned()),
            "limit" => {
                filter.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIST).contains(n))
                    .ok_or_else(|| ApiError::field("limit", "invalid", "a number from 1 to 500"))?;
            }
            _ => {}
        }
    }
    let jobs = state.jobs.list(filter).await?;
    Ok(json_response(StatusCode::OK, &serde_json::json!({ "jobs": jobs })))
}

/// `GET /admin/jobs/counts`: how many jobs there are per queue, kind and state (the combinations that have any),
/// and in all.
///
/// # Errors
/// 503 when the database is unavailable.
pub async fn counts(state: &AppState) -> Result<Response, ApiError> {
    let counts = state.jobs.counts().await?;
    let total: u64 = counts.iter().map(|c| c.count).sum();
    Ok(json_response(StatusCode::OK, &serde_json::json!({ "counts": counts, "total": total })))
}

/// `POST /admin/jobs/{id}/retry`: a discarded, cancelled or retryable runner job becomes due now.
///
/// # Errors
/// 404 `job_not_found`; 409 `job_not_retryable` for any other state; 409 `job_key_taken` (with
/// `holding_job_id`) while another live job holds the job's unique key; 503 when the database is unavailable.
pub async fn retry(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let job = state.jobs.retry(job_id(ctx)?).await.map_err(|e| wrong_state(e, "job_not_retryable", RETRY))?;
    Ok(json_response(StatusCode::OK, &job))
}

/// `POST /admin/jobs/{id}/cancel`: a runner job that has not finished is cancelled (a running one stops at
/// its next lease renewal).
///
/// # Errors
/// 404 `job_not_found`; 409 `job_not_cancellable` for a finished or record-only job; 503 when the database
/// is unavailable.
pub async fn cancel(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let job = state.jobs.cancel(job_id(ctx)?).await.map_err(|e| wrong_state(e, "job_not_cancellable", CANCEL))?;
    Ok(json_response(StatusCode::OK, &job))
}

const RETRY: &str = "only a discarded, cancelled or retryable runner job can be retried";
const CANCEL: &str = "only a runner job that has not finished can be cancelled";

/// A wrong-state error as the operation's own 409 code; other errors as usual.
fn wrong_state(err: JobError, code: &'static str, message: &'static str) -> ApiError {
    match err {
        JobError::WrongState(_) => ApiError::Conflict { code, message },
        other => other.into(),
    }
}
