//! Route → handler: the one module that knows every handler. Imported only by `server.rs`; handlers never
//! import it (nor the server), so the gateway's imports run one way: server → dispatch → handlers → (access,
//! ctx, respond, body, problem, state).
//!
//! Each route's access (`Route::access`, declared in the router) is checked here once, before the handler:
//! the credential it asks for is verified by `access::check` and handed to the handler (a user's claims, a
//! user or guest caller). A route's handler is reached only through the match of its declared access, so a
//! route listed under another access than it declares answers 500 (a bug any test of it shows), never
//! without its check.
//!
//! A handler whose future is large (over ~1 KiB: uploads, moderation, password routes, `evaluate`, `submit`)
//! is awaited boxed (`Box::pin`). An `async fn`'s future is as large as the largest one it may await, and every
//! request's future is moved by value through each level (the connection, `server::handle`, `run`, the
//! deadline, `dispatch`, the route group), so one large handler made every request, `/healthz` included,
//! copy kilobytes: 8.4 KiB at the top before (`-Zprint-type-sizes`); boxing them saved ~720 instructions of every
//! `/healthz` (callgrind, docs/benchmarks.md). A boxed handler costs its own request one allocation.
//!
//! For the same reason the levels a request passes through (here and in `server.rs`) are functions returning an
//! `async move` block, not `async fn`s: an `async fn` keeps each parameter twice in its future, as it was
//! passed and as the local it is moved into, so the request (264 bytes), its context (152) and the access
//! granted (176) were held twice at every level: 1.5 KiB of the 5.3 KiB every request's future was. A block
//! uses what it captured in place.

use gantry_actors::sessions::AccessClaims;
use hyper::Request;
use hyper::body::Incoming;

use super::access::{self, Caller, Granted};
use super::ctx::Ctx;
use super::problem::ApiError;
use super::respond::Response;
use super::router::{Listener, Route};
use super::state::AppState;
use super::{admin, auth, console, health, jobs, key_set, moderation, openapi, options, rotations, templates, uploads};

/// Checks the access `route` declares, then runs its handler — a password route's on the password lane
/// (`lane.rs`), every other one here.
///
/// # Errors
/// 401 when the credential the route asks for is missing or refused; otherwise whatever the handler answers.
#[allow(clippy::manual_async_fn)] // The parameters held once (see the module's documentation).
pub(super) fn dispatch(
    state: &AppState,
    route: Route,
    ctx: Ctx,
    req: Request<Incoming>,
) -> impl Future<Output = Result<Response, ApiError>> {
    async move {
        let granted = access::check(state, route.access(), &req)?;
        if route.hashes_passwords() {
            let lane_state = state.clone();
            // Boxed: the lane's future would otherwise carry every route's future inline (see `boxed`).
            let work = Box::pin(async move { granted_routes(&lane_state, route, granted, ctx, req).await });
            return state.passwords.run(work).await;
        }
        granted_routes(state, route, granted, ctx, req).await
    }
}

/// Runs the handler of `route` under the access `granted`.
#[allow(clippy::manual_async_fn)] // The parameters held once (see the module's documentation).
fn granted_routes(
    state: &AppState,
    route: Route,
    granted: Granted,
    ctx: Ctx,
    req: Request<Incoming>,
) -> impl Future<Output = Result<Response, ApiError>> {
    async move {
        match granted {
            Granted::Public => public_routes(state, route, &ctx, req).await,
            Granted::OptionalCaller(caller) => match route {
                Route::GetJob => jobs::get(state, &ctx, jobs::View::Public(caller)).await,
                other => Err(misrouted(other)),
            },
            Granted::User(claims) => user_routes(state, route, &ctx, &claims, req).await,
            Granted::Guest(caller) => guest_routes(state, route, &ctx, caller, req).await,
            Granted::Admin => admin_routes(state, route, &ctx, req).await,
        }
    }
}

/// A route whose arm sits under another access than it declares (a bug).
fn misrouted(route: Route) -> ApiError {
    ApiError::Internal(anyhow::anyhow!(
        "{route:?} declares {:?} access but is dispatched under another",
        route.access()
    ))
}

/// The routes anyone may call.
#[allow(clippy::manual_async_fn)] // The parameters held once (see the module's documentation).
fn public_routes(
    state: &AppState,
    route: Route,
    ctx: &Ctx,
    req: Request<Incoming>,
) -> impl Future<Output = Result<Response, ApiError>> {
    async move {
        match route {
            Route::Healthz => Ok(health::healthz(state)),
            Route::Readyz => Ok(Box::pin(health::readyz(state)).await),
            Route::Jwks => Ok(key_set::jwks(state, &req)),
            Route::PublicOpenApi => Ok(openapi::document(Listener::Public)),
            Route::AdminOpenApi => Ok(openapi::document(Listener::Admin)),
            Route::Metrics => Ok(admin::metrics(state)),
            Route::Register => Box::pin(auth::register(state, ctx, req)).await,
            Route::Login => Box::pin(auth::login(state, ctx, req)).await,
            Route::Refresh => Box::pin(auth::refresh(state, req)).await,
            Route::GuestToken => uploads::guest_token(state, ctx),
            Route::ListOptions => options::list(state, ctx, &req).await,
            Route::GetOption => options::get(state, ctx, &req).await,
            Route::SuggestOptions => options::suggest(state, ctx, &req).await,
            Route::GetTemplate => templates::get(state, ctx, &req).await,
            Route::EvaluateTemplate => Box::pin(templates::evaluate(state, ctx, req)).await,
            Route::SubmitTemplate => Box::pin(templates::submit(state, ctx, req)).await,
            Route::ConsoleRedirect => Ok(console::redirect()),
            Route::ConsoleIndex | Route::ConsolePage => console::page(ctx),
            Route::ConsoleAsset => console::asset(ctx),
            other => Err(misrouted(other)),
        }
    }
}

/// The routes that need a user's access token.
#[allow(clippy::manual_async_fn)] // The parameters held once (see the module's documentation).
fn user_routes(
    state: &AppState,
    route: Route,
    ctx: &Ctx,
    claims: &AccessClaims,
    req: Request<Incoming>,
) -> impl Future<Output = Result<Response, ApiError>> {
    async move {
        match route {
            Route::Logout => Box::pin(auth::logout(state, claims, req)).await,
            Route::ChangePassword => Box::pin(auth::change_password(state, ctx, claims, req)).await,
            Route::Me => auth::me(state, claims).await,
            Route::Sessions => auth::sessions(state, claims).await,
            Route::DeleteSession => auth::delete_session(state, ctx, claims).await,
            Route::CreateOption => Box::pin(options::create(state, ctx, claims, req)).await,
            other => Err(misrouted(other)),
        }
    }
}

/// The routes that need a user's access token or a guest's upload token.
#[allow(clippy::manual_async_fn)] // The parameters held once (see the module's documentation).
fn guest_routes(
    state: &AppState,
    route: Route,
    ctx: &Ctx,
    caller: Caller,
    req: Request<Incoming>,
) -> impl Future<Output = Result<Response, ApiError>> {
    async move {
        match route {
            Route::Upload => Box::pin(uploads::upload(state, ctx, caller, req)).await,
            Route::UploadMetadata => uploads::metadata(state, ctx, caller).await,
            Route::UploadContent => uploads::content(state, ctx, caller, &req).await,
            Route::DeleteUpload => Box::pin(uploads::delete(state, ctx, caller)).await,
            other => Err(misrouted(other)),
        }
    }
}

/// The routes that need the admin token.
#[allow(clippy::manual_async_fn)] // The parameters held once (see the module's documentation).
fn admin_routes(
    state: &AppState,
    route: Route,
    ctx: &Ctx,
    req: Request<Incoming>,
) -> impl Future<Output = Result<Response, ApiError>> {
    async move {
        match route {
            Route::AdminSecrets => admin::secrets(state).await,
            Route::AdminValidateSecrets => Box::pin(admin::validate_secrets(state, req)).await,
            Route::AdminGetJob => jobs::get(state, ctx, jobs::View::Admin).await,
            Route::AdminListJobs => jobs::list(state, &req).await,
            Route::AdminJobCounts => jobs::counts(state).await,
            Route::AdminRetryJob => jobs::retry(state, ctx).await,
            Route::AdminCancelJob => jobs::cancel(state, ctx).await,
            Route::AdminRevokeAll => Box::pin(admin::revoke_all(state, req)).await,
            Route::AdminRevokeUser => Box::pin(admin::revoke_user(state, ctx, req)).await,
            Route::AdminCreateUser => Box::pin(admin::create_user(state, req)).await,
            Route::AdminFindUser => admin::find_user(state, &req).await,
            Route::AdminDeleteUser => admin::delete_user(state, ctx).await,
            Route::AdminDisableUser => admin::set_disabled(state, ctx, true).await,
            Route::AdminEnableUser => admin::set_disabled(state, ctx, false).await,
            Route::AdminRevocations => admin::revocations(state).await,
            Route::AdminTemplates => templates::export(state).await,
            Route::AdminImportTemplates => Box::pin(templates::import(state, req)).await,
            // The form preview's copies of the public routes: the same handlers, so the same answers.
            Route::AdminFormTemplate => templates::get(state, ctx, &req).await,
            Route::AdminFormEvaluate => Box::pin(templates::evaluate(state, ctx, req)).await,
            Route::AdminFormOptions => options::list(state, ctx, &req).await,
            Route::AdminFormOption => options::get(state, ctx, &req).await,
            Route::AdminReloadSecrets => rotations::reload(state).await,
            Route::AdminRotate => Box::pin(rotations::start(state, req, false)).await,
            Route::AdminRollback => Box::pin(rotations::start(state, req, true)).await,
            Route::AdminRotations => rotations::list(state).await,
            Route::AdminRotation => rotations::get(state, ctx).await,
            Route::AdminFleet => rotations::fleet(state).await,
            Route::AdminRecentOptions => moderation::recent(state, &req).await,
            Route::AdminCreateOption => Box::pin(moderation::create(state, req)).await,
            Route::AdminOptionsAudit => moderation::audit(state, &req).await,
            Route::AdminOptionDuplicates => moderation::duplicates(state, &req).await,
            Route::AdminPatchOption => Box::pin(moderation::patch(state, ctx, req)).await,
            Route::AdminMergeOption => Box::pin(moderation::merge(state, ctx, req)).await,
            Route::AdminHideOption => Box::pin(moderation::flag(state, ctx, req, moderation::Flag::Hide)).await,
            Route::AdminUnhideOption => Box::pin(moderation::flag(state, ctx, req, moderation::Flag::Unhide)).await,
            Route::AdminApproveOption => Box::pin(moderation::flag(state, ctx, req, moderation::Flag::Approve)).await,
            Route::AdminSetTranslation => Box::pin(moderation::translate(state, ctx, req)).await,
            Route::AdminRemoveTranslation => Box::pin(moderation::untranslate(state, ctx, req)).await,
            other => Err(misrouted(other)),
        }
    }
}
