//! `GET /v1/jobs/{id}` and `GET /admin/jobs/{id}`: a job's state, progress and outcome.
//!
//! The public listener shows a job only to its owner: the caller's access token (`user:<id>`) or upload token
//! (`guest:<id>`) must name the job's owner. Operator jobs (rotations, revoke-all: owned by `admin`, `cli`, …)
//! are readable only on the admin listener. A job that is not the caller's, an unknown id, a malformed id and a
//! request without credentials all answer the same 404 `job_not_found`, so nothing can be learned by probing;
//! a credential that is sent but refused is 401 as everywhere else. The public view hides the owner.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use uuid::Uuid;

use super::auth::caller;
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
/// 404 `job_not_found` (also for another owner's job); 401 for a refused credential; 503 when the database is
/// unavailable.
pub async fn get(state: &AppState, ctx: &Ctx, req: &Request<Incoming>, view: View) -> Result<Response, ApiError> {
    // The credential is checked before the id, so a refused token is 401 whatever the id.
    let owner = match view {
        View::Public => Some(caller(state, req)?.map(|c| c.owner())),
        View::Admin => None,
    };
    let id = ctx.params.get("id").and_then(|s| Uuid::parse_str(s).ok()).ok_or(NOT_FOUND)?;
    let mut job = state.jobs.get(id).await?.ok_or(NOT_FOUND)?;
    if let Some(caller) = owner {
        if caller.is_none() || job.owner != caller {
            return Err(NOT_FOUND);
        }
        job.owner = None;
    }
    Ok(json_response(StatusCode::OK, &job))
}
