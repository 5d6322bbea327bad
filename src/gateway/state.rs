//! [`AppState`]: what handlers can reach — settings, actor handles, owners and read-only views. No storage
//! port: every piece of state is reached through its owner (an upload's bytes too: the upload pipeline streams
//! them into and out of the object store).

use std::sync::Arc;

use gantry_actors::accounts::Accounts;
use gantry_actors::catalog::handle::CatalogHandle;
use gantry_actors::jobs::Jobs;
use gantry_actors::readiness::Readiness;
use gantry_actors::secrets::store::SecretStoreHandle;
use gantry_actors::sessions::SessionRegistryHandle;
use gantry_actors::uploads::handle::UploadPipelineHandle;
use hyper::header::HeaderValue;
use metrics_exporter_prometheus::PrometheusHandle;
use uuid::Uuid;

use super::lane::PasswordLane;
use super::language::Languages;
use crate::config::Settings;
use gantry_actors::secrets::rotation::Rotations;

/// What handlers can reach. Cheap to clone.
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
    /// Secret rotations and rollbacks run by this instance, their evidence, and this instance's heartbeat.
    pub rotations: Arc<Rotations>,
    /// The accounts owner: registration, login checks and limits, user look-ups.
    pub accounts: Accounts,
    /// The runtime the password routes run on, apart from the one serving every connection.
    pub passwords: PasswordLane,
    /// The jobs owner (job reads).
    pub jobs: Jobs,
    /// The upload owner: receiving and opening uploads (their bytes too), admission, records and jobs,
    /// guest-token limits.
    pub pipeline: UploadPipelineHandle,
    /// The catalog service: option lists, moderation, templates and forms, and the per-user create limit.
    pub catalog: CatalogHandle,
    /// The readiness owner (backend probes).
    pub readiness: Readiness,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// The served locales, resolved once (`catalog.default_locale`, `catalog.locales`).
    pub languages: Languages,
    /// `Cache-Control` of option lists that hold nothing personal (`public, max-age=` from
    /// `catalog.list_max_age_secs`), made once.
    pub list_cache_control: HeaderValue,
    /// `Strict-Transport-Security` of every response (`max-age=` from `http.hsts_max_age_secs`; `None` when 0),
    /// made once.
    pub hsts: Option<HeaderValue>,
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
