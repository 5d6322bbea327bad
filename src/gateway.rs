//! The hyper gateway: two listeners (public API, private admin), a thin router, and handlers that reach state
//! only through its owners: actor handles, owner objects and read-only views held in [`AppState`] (an
//! upload's bytes too: `uploads.rs` hands the body stream to the upload owner, which streams it to the store).
//!
//! Imports run one way, top to bottom (no module imports one that imports it):
//!
//! - [`server`]: accept loop, connection limits, graceful drain, the per-request pipeline.
//! - [`conn`]: connection guards of the accept loop (per-address cap, first-head deadline, idle keep-alive).
//! - [`dispatch`]: route → handler; the only module that knows every handler (imported only by `server`).
//! - handlers:
//!   - [`console`]: the operators' console on the admin listener (`/console/`, its pages and embedded assets).
//!   - [`health`]: `/healthz`, `/readyz`.
//!   - [`key_set`]: `/.well-known/jwks.json`, the published key set.
//!   - [`jobs`]: `/v1/jobs/{id}`, `/admin/jobs/{id}`.
//!   - [`moderation`]: catalog moderation on the admin listener (rename, merge, hide, approve, audit).
//!   - [`openapi`]: `/openapi.json` on each listener (the documents in `openapi/`, embedded).
//!   - [`admin`]: `/metrics`, `/admin/secrets…`, `/admin/sessions…`, `/admin/users…`.
//!   - [`auth`]: register, login, refresh, logout, me, own sessions.
//!   - [`options`]: the listing-form catalog (cached option lists, creating options).
//!   - [`rotations`]: secret reload, rotation and rollback jobs, and their evidence (admin listener).
//!   - [`templates`]: listing-form templates (resolved forms, the cascade runtime, importing a set).
//!   - [`uploads`]: guest upload tokens, streaming uploads, downloads with ranges, deletion.
//! - below the handlers, importing none of them:
//!   - [`access`]: the one check of each route's declared access (admin token, access token, upload token),
//!     run by `dispatch` before the handler; the optional catalog viewer.
//!   - [`language`]: the locale a request is answered in (`?lang=`, `Accept-Language`) and the headers that
//!     say so (`Content-Language`, `Vary`).
//!   - [`state`]: [`AppState`], what handlers can reach.
//!   - [`body`]: JSON request bodies with size limits.
//!   - [`problem`]: every error → `application/problem+json`, and every domain error → [`problem::ApiError`].
//!   - `unavailable_log`: the 503 log, one line per code per interval (below `problem`).
//!   - `user_message`: the users' message of a mass invalidation (revocations, rotations).
//!   - [`respond`]: the response body type and small response builders.
//!   - [`ctx`]: the per-request context handlers get.
//!   - [`router`]: method + path → [`router::Route`]; the route table; each route's [`router::Access`].

pub mod access;
pub mod admin;
pub mod auth;
pub mod body;
pub mod conn;
pub mod console;
pub mod ctx;
pub mod dispatch;
pub mod health;
pub mod jobs;
pub mod key_set;
pub mod lane;
pub mod language;
pub mod moderation;
pub mod openapi;
pub mod options;
pub mod problem;
pub mod respond;
pub mod rotations;
pub mod router;
pub mod server;
pub mod state;
pub mod templates;
mod unavailable_log;
pub mod uploads;
mod user_message;

pub use state::{AppState, Shared};
