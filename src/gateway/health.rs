//! `/healthz` (the process is alive) and `/readyz` (each component's status; 503 while a required one is
//! down). Required: the database, the cache and the actors. Reported but not required: the object store
//! (only uploads need it) and the bus (an instance without it still serves; it resyncs on reconnect) —
//! `status` is then `degraded` with 200, so one broken dependency does not take every instance out of the
//! load balancer.
//!
//! The backends are probed by the readiness owner (`gantry_actors::readiness`, each probe bounded); the
//! actors answer through their handles.

use std::time::Duration;

use gantry_actors::readiness::Probe;
use hyper::StatusCode;
use serde::Serialize;

use super::respond::{Response, json_response, text};
use super::state::AppState;

/// The secret store's status call gets this long (as each backend probe).
const CHECK_TIMEOUT: Duration = gantry_actors::readiness::CHECK_TIMEOUT;

/// `GET /healthz`.
#[must_use]
pub fn healthz(_state: &AppState) -> Response {
    text(StatusCode::OK, "text/plain; charset=utf-8", "ok\n")
}

/// One component of `/readyz`.
#[derive(Serialize)]
pub struct Component {
    backend: &'static str,
    /// `up` or `down`.
    pub status: &'static str,
    required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    profile: &'static str,
    instance_id: uuid::Uuid,
    version: &'static str,
    components: std::collections::BTreeMap<&'static str, Component>,
}

impl Component {
    fn of(probe: Probe, required: bool) -> Self {
        match probe.outcome {
            Ok(()) => Self { backend: probe.backend, status: "up", required, error: None },
            Err(e) => Self { backend: probe.backend, status: "down", required, error: Some(e) },
        }
    }
}

/// Every component's status, and the overall one (`ready`, `degraded`, `not_ready`): what `/readyz` answers
/// and what each heartbeat reports to the fleet. Logs and counts nothing (`/readyz` does).
pub async fn check(state: &AppState) -> (&'static str, std::collections::BTreeMap<&'static str, Component>) {
    let actor = |running: bool| {
        if running {
            Component { backend: "actor", status: "up", required: true, error: None }
        } else {
            Component { backend: "actor", status: "down", required: true, error: Some("restarting".into()) }
        }
    };
    let session_registry = actor(state.sessions.is_running());
    let upload_pipeline = actor(state.pipeline.is_running());
    let catalog = actor(state.catalog.is_running());
    let (backends, secret_store) = tokio::join!(state.readiness.check(), async {
        let outcome = match tokio::time::timeout(CHECK_TIMEOUT, state.secrets.status()).await {
            Ok(result) => result.map(|_| ()).map_err(|e| e.to_string()),
            Err(_) => Err(format!("no answer within {}s", CHECK_TIMEOUT.as_secs())),
        };
        Component::of(Probe { backend: "actor", outcome }, true)
    });
    let database = Component::of(backends.database, true);
    let cache = Component::of(backends.cache, true);
    let objects = Component::of(backends.objects, false);
    let bus = Component::of(backends.bus, false);
    let components = std::collections::BTreeMap::from([
        ("database", database),
        ("cache", cache),
        ("object_store", objects),
        ("bus", bus),
        ("secret_store", secret_store),
        ("session_registry", session_registry),
        ("upload_pipeline", upload_pipeline),
        ("option_cache", catalog),
    ]);
    let required_down = components.values().any(|c| c.required && c.status == "down");
    let any_down = components.values().any(|c| c.status == "down");
    let status = if required_down {
        "not_ready"
    } else if any_down {
        "degraded"
    } else {
        "ready"
    };
    (status, components)
}

/// `GET /readyz`.
pub async fn readyz(state: &AppState) -> Response {
    let (status, components) = check(state).await;
    for (name, c) in &components {
        if let Some(error) = &c.error {
            metrics::counter!("gantry_readiness_failures_total", "component" => *name).increment(1);
            tracing::warn!(component = *name, backend = c.backend, %error, "component not ready");
        }
    }
    let required_down = status == "not_ready";
    let body = Readiness {
        status,
        profile: state.settings.profile.as_str(),
        instance_id: state.instance_id,
        version: env!("CARGO_PKG_VERSION"),
        components,
    };
    let code = if required_down { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    let mut response = json_response(code, &body);
    if required_down {
        response.headers_mut().insert(hyper::header::RETRY_AFTER, hyper::header::HeaderValue::from_static("5"));
    }
    response
}
