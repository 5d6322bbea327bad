//! `GET /v1/jobs/{id}` and `GET /admin/jobs/{id}`: a job's state, progress and outcome.
//!
//! Job ids are UUID v7 (74 random bits); knowing the id is what grants access to the public view, which
//! hides the owner (per-owner checks arrive with user-facing jobs such as uploads). An
//! unknown and a malformed id both answer 404 `job_not_found`, so ids cannot be probed for shape.

use hyper::StatusCode;
use uuid::Uuid;

use super::ctx::Ctx;
use super::problem::ApiError;
use super::respond::{Response, json_response};
use super::state::AppState;

/// Who is looking: the public view hides the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// `GET /v1/jobs/{id}`.
    Public,
    /// `GET /admin/jobs/{id}`.
    Admin,
}

const NOT_FOUND: ApiError = ApiError::ResourceNotFound { code: "job_not_found", what: "job" };

/// Looks the job up.
///
/// # Errors
/// 404 `job_not_found`; 503 when the database is unavailable.
pub async fn get(state: &AppState, ctx: &Ctx, view: View) -> Result<Response, ApiError> {
    let id = ctx.params.get("id").and_then(|s| Uuid::parse_str(s).ok()).ok_or(NOT_FOUND)?;
    let mut job = state.jobs.get(id).await?.ok_or(NOT_FOUND)?;
    if view == View::Public {
        job.owner = None;
    }
    Ok(json_response(StatusCode::OK, &job))
}
