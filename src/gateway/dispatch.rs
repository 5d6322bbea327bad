//! Route → handler: the one module that knows every handler. Imported only by `server.rs`; handlers never
//! import it (nor the server), so the gateway's imports run one way: server → dispatch → handlers → (ctx,
//! respond, body, problem, state).

use hyper::Request;
use hyper::body::Incoming;

use super::ctx::Ctx;
use super::problem::ApiError;
use super::respond::Response;
use super::router::{Listener, Route};
use super::state::AppState;
use super::{admin, auth, health, jobs, moderation, openapi, options, rotations, templates, uploads};

/// Runs the handler of `route` (admin routes check the admin token first).
///
/// # Errors
/// Whatever the handler answers with.
pub(super) async fn dispatch(
    state: &AppState,
    route: Route,
    ctx: Ctx,
    req: Request<Incoming>,
) -> Result<Response, ApiError> {
    match route {
        Route::Healthz => Ok(health::healthz(state)),
        Route::Readyz => Ok(health::readyz(state).await),
        Route::PublicOpenApi => Ok(openapi::document(Listener::Public)),
        Route::AdminOpenApi => Ok(openapi::document(Listener::Admin)),
        Route::GetJob => jobs::get(state, &ctx, &req, jobs::View::Public).await,
        Route::Metrics => Ok(admin::metrics(state)),
        Route::AdminSecrets => {
            admin::authorize(state, &req)?;
            admin::secrets(state).await
        }
        Route::AdminValidateSecrets => {
            admin::authorize(state, &req)?;
            admin::validate_secrets(state, req).await
        }
        Route::AdminGetJob => {
            admin::authorize(state, &req)?;
            jobs::get(state, &ctx, &req, jobs::View::Admin).await
        }
        Route::AdminListJobs => {
            admin::authorize(state, &req)?;
            jobs::list(state, &req).await
        }
        Route::AdminRetryJob => {
            admin::authorize(state, &req)?;
            jobs::retry(state, &ctx).await
        }
        Route::AdminCancelJob => {
            admin::authorize(state, &req)?;
            jobs::cancel(state, &ctx).await
        }
        Route::Register => auth::register(state, &ctx, req).await,
        Route::Login => auth::login(state, &ctx, req).await,
        Route::Refresh => auth::refresh(state, req).await,
        Route::Logout => auth::logout(state, req).await,
        Route::ChangePassword => auth::change_password(state, &ctx, req).await,
        Route::Me => auth::me(state, &req).await,
        Route::Sessions => auth::sessions(state, &req).await,
        Route::DeleteSession => auth::delete_session(state, &ctx, &req).await,
        Route::AdminRevokeAll => {
            admin::authorize(state, &req)?;
            admin::revoke_all(state, req).await
        }
        Route::AdminRevokeUser => {
            admin::authorize(state, &req)?;
            admin::revoke_user(state, &ctx, req).await
        }
        Route::AdminFindUser => {
            admin::authorize(state, &req)?;
            admin::find_user(state, &req).await
        }
        Route::AdminDeleteUser => {
            admin::authorize(state, &req)?;
            admin::delete_user(state, &ctx).await
        }
        Route::AdminDisableUser => {
            admin::authorize(state, &req)?;
            admin::set_disabled(state, &ctx, true).await
        }
        Route::AdminEnableUser => {
            admin::authorize(state, &req)?;
            admin::set_disabled(state, &ctx, false).await
        }
        Route::AdminRevocations => {
            admin::authorize(state, &req)?;
            admin::revocations(state).await
        }
        Route::GuestToken => uploads::guest_token(state, &ctx),
        Route::Upload => uploads::upload(state, &ctx, req).await,
        Route::UploadMetadata => uploads::metadata(state, &ctx, &req).await,
        Route::UploadContent => uploads::content(state, &ctx, &req).await,
        Route::DeleteUpload => uploads::delete(state, &ctx, &req).await,
        Route::ListOptions => options::list(state, &ctx, &req).await,
        Route::CreateOption => options::create(state, &ctx, req).await,
        Route::GetTemplate => templates::get(state, &ctx, &req).await,
        Route::EvaluateTemplate => templates::evaluate(state, &ctx, req).await,
        Route::SubmitTemplate => templates::submit(state, &ctx, req).await,
        Route::AdminTemplates => {
            admin::authorize(state, &req)?;
            templates::export(state).await
        }
        Route::AdminReloadSecrets => {
            admin::authorize(state, &req)?;
            rotations::reload(state).await
        }
        Route::AdminRotate => {
            admin::authorize(state, &req)?;
            rotations::start(state, req, false).await
        }
        Route::AdminRollback => {
            admin::authorize(state, &req)?;
            rotations::start(state, req, true).await
        }
        Route::AdminRotations => {
            admin::authorize(state, &req)?;
            rotations::list(state).await
        }
        Route::AdminRotation => {
            admin::authorize(state, &req)?;
            rotations::get(state, &ctx).await
        }
        Route::AdminImportTemplates => {
            admin::authorize(state, &req)?;
            templates::import(state, req).await
        }
        Route::GetOption => options::get(state, &ctx).await,
        Route::SuggestOptions => options::suggest(state, &ctx, &req).await,
        Route::AdminRecentOptions => {
            admin::authorize(state, &req)?;
            moderation::recent(state, &req).await
        }
        Route::AdminOptionsAudit => {
            admin::authorize(state, &req)?;
            moderation::audit(state, &req).await
        }
        Route::AdminPatchOption => {
            admin::authorize(state, &req)?;
            moderation::patch(state, &ctx, req).await
        }
        Route::AdminMergeOption => {
            admin::authorize(state, &req)?;
            moderation::merge(state, &ctx, req).await
        }
        Route::AdminHideOption => {
            admin::authorize(state, &req)?;
            moderation::flag(state, &ctx, req, moderation::Flag::Hide).await
        }
        Route::AdminUnhideOption => {
            admin::authorize(state, &req)?;
            moderation::flag(state, &ctx, req, moderation::Flag::Unhide).await
        }
        Route::AdminApproveOption => {
            admin::authorize(state, &req)?;
            moderation::flag(state, &ctx, req, moderation::Flag::Approve).await
        }
    }
}
