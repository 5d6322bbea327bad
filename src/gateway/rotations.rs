//! Secret rotation on the admin listener:
//!
//! | route | what |
//! |---|---|
//! | `POST /admin/secrets/reload` | re-read this instance's secret source and stage what changed (as SIGHUP) |
//! | `POST /admin/secrets/rotate` | start the rotation job → 202 `{job_id}`; 409 `rotation_in_progress` |
//! | `POST /admin/secrets/rollback` | start the runbook's rollback (previous → current everywhere) → 202 |
//! | `GET /admin/rotations` | the evidence records, newest first |
//! | `GET /admin/rotations/{id}` | one record |

use gantry_actors::secrets::SecretStep;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::json;
use uuid::Uuid;

use super::body::read_json;
use super::ctx::Ctx;
use super::problem::ApiError;
use super::respond::{Response, json_response};
use super::state::AppState;
use gantry_actors::secrets::rotation::RotateRequest;

use super::user_message;

/// `POST /admin/secrets/reload`: stages the changed values of this instance's secret source → 200
/// `{changes}` (empty when nothing changed).
///
/// # Errors
/// 422 `secret_validation_failed` naming every problem (never a value); 409 during a rotation; 503.
pub async fn reload(state: &AppState) -> Result<Response, ApiError> {
    if let Some(running) = state.rotations.running() {
        return Err(ApiError::RotationInProgress(running));
    }
    match state.secrets.step(Uuid::now_v7(), SecretStep::Stage).await? {
        Ok(changes) => {
            Ok(json_response(StatusCode::OK, &json!({ "instance_id": state.instance_id, "changes": changes })))
        }
        Err(reason) => Err(ApiError::SecretsRefused(reason)),
    }
}

/// `POST /admin/secrets/rotate {deployment_id, commit_sha, invalidate_sessions?}` and
/// `POST /admin/secrets/rollback {…}` → 202 `{job_id}`.
///
/// # Errors
/// 409 `rotation_in_progress`; 400 for a malformed body; 503 when the job cannot be stored.
pub async fn start(state: &AppState, req: Request<Incoming>, rollback: bool) -> Result<Response, ApiError> {
    let has_body = req.headers().get(hyper::header::CONTENT_LENGTH).is_some_and(|v| v != "0")
        || req.headers().contains_key(hyper::header::TRANSFER_ENCODING);
    let mut request: RotateRequest =
        if has_body { read_json(req, state.settings.http.max_body_bytes).await? } else { RotateRequest::default() };
    request.user_message = user_message::parse(request.user_message.take())?;
    let job_id = state.rotations.start(request, rollback).await?;
    Ok(json_response(StatusCode::ACCEPTED, &json!({ "job_id": job_id })))
}

/// `GET /admin/rotations` → `{rotations: [...]}`, newest first (at most 100).
///
/// # Errors
/// 503 when the database is unavailable.
pub async fn list(state: &AppState) -> Result<Response, ApiError> {
    let rotations = state.rotations.records(100).await?;
    Ok(json_response(StatusCode::OK, &json!({ "rotations": rotations })))
}

/// `GET /admin/rotations/{id}`.
///
/// # Errors
/// 404 `rotation_not_found`; 503.
pub async fn get(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    const NOT_FOUND: ApiError = ApiError::ResourceNotFound { code: "rotation_not_found", what: "rotation" };
    let id = ctx.params.get("id").and_then(|s| Uuid::parse_str(s).ok()).ok_or(NOT_FOUND)?;
    let record = state.rotations.record(id).await?.ok_or(NOT_FOUND)?;
    Ok(json_response(StatusCode::OK, &record))
}
