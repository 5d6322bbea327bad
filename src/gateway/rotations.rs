//! Secret rotation on the admin listener:
//!
//! | route | what |
//! |---|---|
//! | `POST /admin/secrets/reload` | re-read this instance's secret source and stage what changed (as SIGHUP) |
//! | `POST /admin/secrets/rotate` | start the rotation job → 202 `{job_id}`; 409 `rotation_in_progress` |
//! | `POST /admin/secrets/rollback` | start the runbook's rollback (previous → current everywhere) → 202 |
//! | `GET /admin/rotations` | the evidence records, newest first |
//! | `GET /admin/rotations/{id}` | one record |
//! | `GET /admin/fleet` | every instance seen within `rotation.live_within_secs`, and whether they agree |

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

#[derive(serde::Serialize)]
struct InstanceView {
    id: Uuid,
    /// Whether it is the instance that answers.
    this_instance: bool,
    version: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    started_at: Option<time::OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    last_heartbeat: time::OffsetDateTime,
    heartbeat_age_ms: i64,
    status: Option<String>,
    components: std::collections::BTreeMap<String, String>,
    secrets: Vec<gantry_actors::ports::rotations::ReportedSecret>,
}

/// `GET /admin/fleet` → `{instance_id, live_within_secs, agrees, instances, disagreements, unreported}`: every
/// instance seen within `rotation.live_within_secs` (the ones a rotation waits for) with what its last
/// heartbeat reported — version, start, readiness per component, the fingerprint of every secret version —,
/// and whether they all hold the same fingerprints.
///
/// # Errors
/// 503 when the database is unavailable.
pub async fn fleet(state: &AppState) -> Result<Response, ApiError> {
    let seen = state.rotations.fleet().await?;
    let agreement = gantry_actors::secrets::fleet::compare(&seen);
    let instances: Vec<InstanceView> = seen
        .into_iter()
        .map(|i| {
            let report = i.report;
            InstanceView {
                id: i.id,
                this_instance: i.id == state.instance_id,
                version: report.as_ref().map(|r| r.version.clone()),
                started_at: report.as_ref().map(|r| r.started_at),
                last_heartbeat: i.last_heartbeat,
                heartbeat_age_ms: i.age_ms,
                status: report.as_ref().map(|r| r.status.clone()),
                components: report.as_ref().map(|r| r.components.clone()).unwrap_or_default(),
                secrets: report.map(|r| r.secrets).unwrap_or_default(),
            }
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "instance_id": state.instance_id,
            "live_within_secs": state.settings.rotation.live_within_secs,
            "agrees": agreement.agrees,
            "instances": instances,
            "disagreements": agreement.disagreements,
            "unreported": agreement.unreported,
        }),
    ))
}
