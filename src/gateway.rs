//! The hyper gateway: two listeners (public API, private admin), a thin router, and handlers that talk to
//! actors through typed handles and to ports through trait objects.
//!
//! - [`server`]: accept loop, connection limits, graceful drain, the per-request pipeline.
//! - [`router`]: method + path → [`router::Route`].
//! - [`problem`]: every error → `application/problem+json`, in one place.
//! - [`body`]: JSON bodies with size limits, response helpers.
//! - [`health`]: `/healthz`, `/readyz`.
//! - [`jobs`]: `/v1/jobs/{id}`, `/admin/jobs/{id}`.
//! - [`admin`]: admin authentication, `/metrics`, `/admin/secrets…`, `/admin/sessions…`.
//! - [`auth`]: register, login, refresh, logout, me, own sessions; the bearer-token check.
//! - [`options`]: the listing-form catalog (cached option lists, creating options).
//! - [`rotations`]: secret reload, rotation and rollback jobs, and their evidence (admin listener).
//! - [`templates`]: listing-form templates (resolved forms, the cascade runtime, importing a set).
//! - [`uploads`]: guest upload tokens, streaming uploads, downloads with ranges, deletion.

pub mod admin;
pub mod auth;
pub mod body;
pub mod health;
pub mod jobs;
pub mod options;
pub mod problem;
pub mod rotations;
pub mod router;
pub mod server;
pub mod templates;
pub mod uploads;

use std::sync::Arc;

use gantry_actors::accounts::limiter::FailureLimiter;
use gantry_actors::catalog::cache::OptionCacheHandle;
use gantry_actors::ports::accounts::AccountStore;
use gantry_actors::ports::bus::Bus;
use gantry_actors::ports::cache::Cache;
use gantry_actors::ports::jobs::JobStore;
use gantry_actors::ports::objects::ObjectStore;
use gantry_actors::ports::uploads::UploadStore;
use gantry_actors::secrets::store::SecretStoreHandle;
use gantry_actors::sessions::SessionRegistryHandle;
use gantry_actors::uploads::pipeline::UploadPipelineHandle;
use metrics_exporter_prometheus::PrometheusHandle;
use uuid::Uuid;

use crate::config::Settings;

/// What handlers can reach: settings, actor handles and ports. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The shared parts of [`AppState`].
pub struct Shared {
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// This instance's id.
    pub instance_id: Uuid,
    /// The secret store actor (and the published key ring).
    pub secrets: SecretStoreHandle,
    /// The session registry actor (and the published revocation view).
    pub sessions: SessionRegistryHandle,
    /// Secret rotations and rollbacks run by this instance.
    pub rotations: Arc<crate::rotation::Rotations>,
    /// Instance heartbeats.
    pub fleet: Arc<dyn gantry_actors::ports::rotations::Fleet>,
    /// This instance's heartbeat task (stopped at shutdown).
    pub heartbeat: tokio::task::JoinHandle<()>,
    /// Users, epochs, revocation notices.
    pub accounts: Arc<dyn AccountStore>,
    /// Login limiters, hashing slots, email cache.
    pub auth: auth::SharedGuards,
    /// Jobs.
    pub jobs: Arc<dyn JobStore>,
    /// Upload metadata.
    pub upload_store: Arc<dyn UploadStore>,
    /// Guest-token limits.
    pub uploads: Arc<uploads::UploadGuards>,
    /// The upload pipeline actor.
    pub pipeline: UploadPipelineHandle,
    /// The option cache actor.
    pub options: OptionCacheHandle,
    /// Option creates per user.
    pub option_writes: FailureLimiter,
    /// Shared cache.
    pub cache: Arc<dyn Cache>,
    /// Object store.
    pub objects: Arc<dyn ObjectStore>,
    /// Event bus.
    pub bus: Arc<dyn Bus>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
}

impl AppState {
    /// Wraps the shared parts.
    #[must_use]
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}
