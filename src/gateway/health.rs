//! `/healthz` (the process is alive) and `/readyz` (each component's status; 503 while a required one is
//! down). Required: the database, the cache and the actors. Reported but not required: the object store
//! (only uploads need it) and the bus (an instance without it still serves; it resyncs on reconnect) —
//! `status` is then `degraded` with 200, so one broken dependency does not take every instance out of the
//! load balancer.

use std::time::Duration;

use hyper::StatusCode;
use serde::Serialize;

use super::AppState;
use super::body::{Response, json_response};
use super::server::text;
use gantry_actors::ports::Unavailable;

/// Each readiness check gets this long.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /healthz`.
#[must_use]
pub fn healthz(_state: &AppState) -> Response {
    text(StatusCode::OK, "text/plain; charset=utf-8", "ok\n")
}

#[derive(Serialize)]
struct Component {
    backend: &'static str,
    status: &'static str,
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

async fn check<F>(backend: &'static str, required: bool, fut: F) -> Component
where
    F: Future<Output = Result<(), Unavailable>>,
{
    let outcome = match tokio::time::timeout(CHECK_TIMEOUT, fut).await {
        Ok(result) => result,
        Err(_) => Err(Unavailable::new(format!("no answer within {}s", CHECK_TIMEOUT.as_secs()))),
    };
    match outcome {
        Ok(()) => Component { backend, status: "up", required, error: None },
        Err(e) => Component { backend, status: "down", required, error: Some(e.0) },
    }
}

/// `GET /readyz`.
pub async fn readyz(state: &AppState) -> Response {
    let actor = |running: bool| {
        if running {
            Component { backend: "actor", status: "up", required: true, error: None }
        } else {
            Component { backend: "actor", status: "down", required: true, error: Some("restarting".into()) }
        }
    };
    let session_registry = actor(state.sessions.is_running());
    let upload_pipeline = actor(state.pipeline.is_running());
    let option_cache = actor(state.options.is_running());
    let (database, cache, objects, bus, secret_store) = tokio::join!(
        check(state.jobs.backend(), true, state.jobs.health()),
        check(state.cache.backend(), true, state.cache.health()),
        check(state.objects.backend(), false, async {
            state.objects.health().await.map_err(|e| Unavailable::new(e.to_string()))
        }),
        check(state.bus.backend(), false, state.bus.health()),
        check("actor", true, async {
            state.secrets.status().await.map(|_| ()).map_err(|e| Unavailable::new(e.to_string()))
        }),
    );
    let components = std::collections::BTreeMap::from([
        ("database", database),
        ("cache", cache),
        ("object_store", objects),
        ("bus", bus),
        ("secret_store", secret_store),
        ("session_registry", session_registry),
        ("upload_pipeline", upload_pipeline),
        ("option_cache", option_cache),
    ]);
    let required_down = components.values().any(|c| c.required && c.status == "down");
    let any_down = components.values().any(|c| c.status == "down");
    for (name, c) in &components {
        if let Some(error) = &c.error {
            metrics::counter!("gantry_readiness_failures_total", "component" => *name).increment(1);
            tracing::warn!(component = *name, backend = c.backend, %error, "component not ready");
        }
    }
    let status = if required_down {
        "not_ready"
    } else if any_down {
        "degraded"
    } else {
        "ready"
    };
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
