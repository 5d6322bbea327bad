//! Every metric Gantry exports, in one table: its kind, its HELP text (described when the recorder is
//! installed) and the label values known up front (registered at zero at start-up, so `rate()` and
//! `increase()` see the first event instead of a series appearing from nothing).
//!
//! Adding a metric anywhere (gateway, adapters, actors) means adding one line to [`METRICS`]; the test
//! `every_metric_named_in_the_source_is_described` fails otherwise, and so does CI's `promtool check metrics`.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// What kind of series a metric is (decides which `describe_*` it gets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Buckets, sum and count.
    Histogram,
}

/// One exported metric.
#[derive(Debug)]
pub struct Metric {
    /// The Prometheus name.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: Kind,
    /// The `# HELP` line.
    pub help: &'static str,
}

const fn counter(name: &'static str, help: &'static str) -> Metric {
    Metric { name, kind: Kind::Counter, help }
}
const fn gauge(name: &'static str, help: &'static str) -> Metric {
    Metric { name, kind: Kind::Gauge, help }
}
const fn histogram(name: &'static str, help: &'static str) -> Metric {
    Metric { name, kind: Kind::Histogram, help }
}

/// Every metric, grouped as in docs/metrics.md. One line per metric.
pub const METRICS: &[Metric] = &[
    // Build and process.
    gauge("gantry_build_info", "Always 1; labels carry the Gantry version and the git commit it was built from."),
    // Gateway.
    counter("gantry_http_requests_total", "HTTP requests answered, by listener, route template, method and status."),
    histogram(
        "gantry_http_request_duration_seconds",
        "Time from request received to response ready, by listener, route template and status class.",
    ),
    counter("gantry_http_shed_total", "Requests refused with 503 overloaded because too many were in flight."),
    counter(
        "gantry_http_refusals_total",
        "Requests refused at the edge, by reason: in_flight_per_address (429, the address's share of requests in \
         flight), body_timeout (408, a JSON body not whole in time), body_too_slow (408, under the minimum rate).",
    ),
    counter(
        "gantry_http_connections_refused_total",
        "Connections closed at accept: the listener's connection limit was reached.",
    ),
    counter(
        "gantry_http_connections_refused_per_address_total",
        "Connections closed at accept: their client address already had http.max_connections_per_address open.",
    ),
    counter(
        "gantry_http_connections_closed_total",
        "Connections closed by their guard: no request head within the header timeout of accept (head_timeout), or no request in progress for the keep-alive idle time (idle).",
    ),
    counter(
        "gantry_shutdown_budget_exhausted_total",
        "Shutdown stages (listener drain, actors) that ran out of the shutdown budget.",
    ),
    counter("gantry_readiness_failures_total", "Readiness checks (/readyz) that found a component down, by component."),
    // Actors.
    counter("gantry_actor_messages_total", "Messages an actor handled."),
    histogram("gantry_actor_handle_seconds", "Time an actor spent handling one message."),
    gauge("gantry_actor_mailbox_depth", "Messages sent to an actor and not yet handled."),
    gauge("gantry_actor_mailbox_capacity", "The most messages that may wait in an actor's mailbox; more are refused."),
    counter("gantry_actor_restarts_total", "Actor restarts after a failure."),
    gauge("gantry_actor_up", "1 while the actor runs, 0 while it is down or restarting."),
    // Bus, cache, object store.
    gauge("gantry_bus_connected", "1 while this instance's bus consumer is connected and consuming, 0 otherwise."),
    counter("gantry_bus_reconnects_total", "Bus consumer reconnection attempts after the link went down."),
    counter("gantry_bus_publish_errors_total", "Bus publishes that failed (not confirmed by the broker)."),
    counter("gantry_bus_messages_received_total", "Bus messages received and decoded."),
    histogram(
        "gantry_bus_propagation_seconds",
        "Time from an event's publication to its being applied here, by event.",
    ),
    counter("gantry_cache_errors_total", "Shared cache (Redis) operations that failed, by operation."),
    counter("gantry_object_store_errors_total", "Object store operations that failed, by backend and operation."),
    // Accounts and sessions.
    counter("gantry_auth_logins_total", "Login attempts by outcome."),
    counter("gantry_auth_registrations_total", "Accounts registered over HTTP."),
    counter(
        "gantry_auth_registrations_rate_limited_total",
        "Registrations refused with 429 by the per-address registration limit.",
    ),
    counter(
        "gantry_auth_password_verifications_total",
        "Password verifications (argon2id) run for logins and password changes, dummy verifications of unknown emails included.",
    ),
    counter("gantry_auth_password_changes_total", "Passwords changed through POST /v1/auth/password."),
    counter(
        "gantry_auth_hashing_refused_total",
        "Logins, registrations and password changes answered 503 overloaded because no hashing slot could be expected within sessions.max_hash_wait_ms (shed: refused at once; timed_out: admitted, no slot in time).",
    ),
    counter(
        "gantry_auth_password_rehashes_total",
        "Password hashes made before NFKC normalisation replaced after a successful login.",
    ),
    counter(
        "gantry_sessions_store_data_loss_total",
        "Times this instance found the session store's continuity marker missing or replaced (data loss; treated as a mass invalidation).",
    ),
    counter("gantry_auth_refreshes_total", "Refresh token exchanges by outcome."),
    counter(
        "gantry_auth_refresh_reuse_total",
        "Refresh tokens presented again after rotation; each revoked its session.",
    ),
    counter(
        "gantry_sessions_revocations_total",
        "Revocations: sessions ended (scope session) or epochs raised (user, all).",
    ),
    counter("gantry_sessions_created_total", "Sessions created (logins)."),
    gauge("gantry_sessions_active", "Sessions the session store counts as live."),
    gauge("gantry_sessions_epoch_seconds", "The global revocation epoch this instance applies (Unix seconds)."),
    counter(
        "gantry_sessions_view_reload_failures_total",
        "Revocation view reloads that failed (the last view stays in use).",
    ),
    counter(
        "gantry_sessions_announce_failures_total",
        "Session revocation events that could not be published on the bus.",
    ),
    counter("gantry_session_store_errors_total", "Session store operations that failed, by backend and operation."),
    // Uploads.
    counter("gantry_uploads_total", "Uploads by outcome (stored, or why refused or failed)."),
    counter(
        "gantry_uploads_displaced_total",
        "Uploads under uploads.min_bytes_per_sec that gave their slot to a newcomer (every slot was taken).",
    ),
    counter("gantry_upload_bytes_total", "Bytes of stored uploads."),
    gauge("gantry_uploads_in_flight", "Uploads being received now."),
    histogram("gantry_upload_duration_seconds", "Time from upload request start to stored."),
    counter("gantry_upload_guest_tokens_total", "Guest upload tokens issued."),
    counter("gantry_uploads_deleted_total", "Uploads deleted by their owners."),
    counter(
        "gantry_upload_ends_deferred_total",
        "Upload ends this instance could not record (the database was away; the client was answered 503); the \
         upload is failed as soon as the database answers again.",
    ),
    counter(
        "gantry_photos_total",
        "Photo jobs by outcome: processed (variants written), discarded (a bomb or undecodable), retried.",
    ),
    histogram("gantry_photo_processing_seconds", "Time to decode a photo and encode its variants (CPU work)."),
    // Catalog.
    gauge("gantry_catalog_version", "The catalog version this instance's option cache is at."),
    counter("gantry_option_cache_hits_total", "Option list lookups served from the in-process cache, by kind."),
    counter("gantry_option_cache_misses_total", "Option list lookups that loaded the list, by kind."),
    counter("gantry_option_cache_shared_total", "Lookups in the shared (Redis) option cache tier, by result."),
    counter("gantry_option_invalidations_total", "Option or template change messages received, by kind."),
    counter(
        "gantry_locale_fallbacks_total",
        "Requests that asked for a language not served (?lang=, Accept-Language) and got the default locale.",
    ),
    counter("gantry_option_cache_flushes_total", "Whole option cache flushes, by reason."),
    counter("gantry_options_created_total", "New options created through the API on this instance, by kind."),
    counter(
        "gantry_breached_range_checks_total",
        "New passwords checked with the breached-password range service, by result (breached, clean).",
    ),
    counter(
        "gantry_breached_range_fallbacks_total",
        "Range service calls that failed or timed out, so the bundled breached-password list alone decided.",
    ),
    counter(
        "gantry_option_names_refused_total",
        "Option names refused by the name rules (create, rename), by reason (invisible_character, mixed_scripts, too_wide, …).",
    ),
    counter("gantry_option_announce_failures_total", "Catalog change events that could not be published on the bus."),
    counter("gantry_template_validation_failures_total", "Template sets or forms that failed their checks, by stage."),
    counter(
        "gantry_template_fallbacks_total",
        "Times the bundled template set was served because the stored one is invalid.",
    ),
    counter("gantry_templates_imported_total", "Template sets stored through this instance."),
    gauge(
        "gantry_templates_degraded",
        "Stored templates left out because they fail their checks against today's catalog (their category gets the default form).",
    ),
    counter(
        "gantry_catalog_moderations_total",
        "Catalog moderation changes asked of this instance, by action and result.",
    ),
    // Secrets and rotation.
    counter(
        "gantry_rotations_total",
        "Secret rotations and rollbacks run by this instance, by kind, outcome and failed step.",
    ),
    counter(
        "gantry_rotations_resumed_total",
        "Rotation and rollback attempts this instance resumed after the previous attempt's runner stopped, by kind.",
    ),
    counter("gantry_secret_version_changes_total", "Secret version changes this instance made, by secret and action."),
    gauge("gantry_secret_current_version_age_seconds", "How long ago each secret's current version became current."),
    gauge(
        "gantry_secret_fingerprint_info",
        "1 for each secret's current version fingerprint on this instance (0 for versions it no longer uses).",
    ),
    counter(
        "gantry_secret_grace_verifications_total",
        "Tokens verified with the previous key during its grace window.",
    ),
    counter(
        "gantry_access_token_cache_hits_total",
        "Access tokens answered from the verified-token cache (no signature check; revocation still checked).",
    ),
    counter("gantry_access_token_cache_misses_total", "Access tokens not in the verified-token cache (verified)."),
    counter(
        "gantry_access_token_cache_flushes_total",
        "Times the verified-token cache dropped the entries of keys that stopped being trusted (rotations).",
    ),
    gauge("gantry_access_token_cache_entries", "Entries in the verified-token cache (approximate)."),
    gauge("gantry_access_token_cache_bytes", "Approximate memory of the verified-token cache, bytes."),
    counter("gantry_heartbeat_failures_total", "Instance heartbeats that could not be written."),
    // Job runner.
    counter("gantry_jobs_enqueued_total", "Runner jobs enqueued through this instance, by kind and queue."),
    counter("gantry_jobs_started_total", "Job attempts this instance started, by kind and queue."),
    counter("gantry_jobs_completed_total", "Jobs this instance completed, by kind and queue."),
    counter(
        "gantry_jobs_retried_total",
        "Job attempts that failed on this instance and were scheduled again after a backoff, by kind and queue.",
    ),
    counter(
        "gantry_jobs_discarded_total",
        "Jobs this instance discarded (attempts spent or not retryable; the last error is kept), by kind and queue.",
    ),
    counter("gantry_jobs_cancelled_total", "Jobs cancelled by an operator through this instance, by kind and queue."),
    counter(
        "gantry_jobs_lease_lost_total",
        "Running jobs whose lease this instance lost (cancelled, or taken over after a stall); their worker stops.",
    ),
    counter(
        "gantry_jobs_wakeups_total",
        "Nudges sent to this instance's job runner because jobs became due (its own enqueues and other instances' \
         announcements, coalesced per queue).",
    ),
    counter(
        "gantry_jobs_wake_published_total",
        "Announcements (`jobs_enqueued`) this instance published on the bus after committing due jobs (coalesced).",
    ),
    counter(
        "gantry_jobs_wake_publish_errors_total",
        "Announcements of due jobs the bus did not take; the other instances find those jobs at their next poll.",
    ),
    counter("gantry_jobs_wake_received_total", "Announcements of due jobs received from other instances over the bus."),
    counter(
        "gantry_jobs_released_total",
        "Running jobs given back at shutdown (not finished within the budget), due at once on other instances.",
    ),
    counter(
        "gantry_jobs_rescued_total",
        "Running jobs whose lease had expired (their instance died or stalled) made due again by this instance.",
    ),
    counter("gantry_job_store_errors_total", "Job runner database operations that failed, by operation."),
    counter(
        "gantry_job_store_retries_total",
        "Batches of outcomes the database refused to break a deadlock, tried again, by operation.",
    ),
    gauge(
        "gantry_jobs_queue_depth",
        "Runner jobs waiting, by queue and state (available: due now; scheduled: due later or in backoff).",
    ),
    gauge("gantry_jobs_oldest_available_seconds", "Age of the oldest due job not yet claimed, by queue."),
    histogram("gantry_job_wait_seconds", "Time from a job being due to an attempt starting, by kind and queue."),
    histogram("gantry_job_run_seconds", "Time one job attempt ran, by kind and queue."),
];

/// Describes every metric in [`METRICS`] to the installed recorder (its `# HELP` line).
pub fn describe_all() {
    for m in METRICS {
        let unit = m.name.ends_with("_seconds").then_some(Unit::Seconds);
        match (m.kind, unit) {
            (Kind::Counter, _) => describe_counter!(m.name, m.help),
            (Kind::Gauge, Some(unit)) => describe_gauge!(m.name, unit, m.help),
            (Kind::Gauge, None) => describe_gauge!(m.name, m.help),
            (Kind::Histogram, Some(unit)) => describe_histogram!(m.name, unit, m.help),
            (Kind::Histogram, None) => describe_histogram!(m.name, m.help),
        }
    }
}

/// The backends in use, for the series whose `backend` label depends on them.
#[derive(Debug, Clone, Copy)]
pub struct BackendNames {
    /// The bus (`amqp`, or the in-process one).
    pub bus: &'static str,
    /// The shared cache (`redis`, or the in-process one).
    pub cache: &'static str,
    /// The object store (`s3` or `fs`).
    pub objects: &'static str,
    /// The session store (`redis`, `sqlite`, `postgres`).
    pub sessions: &'static str,
}

/// Readiness components (`/readyz`).
const COMPONENTS: &[&str] = &[
    "database",
    "cache",
    "object_store",
    "bus",
    "secret_store",
    "session_registry",
    "upload_pipeline",
    "option_cache",
];
const LOGIN_OUTCOMES: &[&str] = &["success", "invalid_credentials", "disabled", "rate_limited"];
const REFRESH_OUTCOMES: &[&str] = &["rotated", "reused", "revoked", "expired", "invalid", "unavailable", "abandoned"];
const REVOCATION_SCOPES: &[&str] = &["session", "user", "all"];
const UPLOAD_OUTCOMES: &[&str] = &[
    "stored",
    "photo_budget_exceeded",
    "payload_too_large",
    "quota_exceeded",
    "client_at_capacity",
    "body_timeout",
    "body_too_slow",
    "displaced",
    "active_content",
    "unreadable_pdf",
    "unsupported_media_type",
    "digest_mismatch",
    "client_aborted",
    "overloaded",
    "storage_unavailable",
    "abandoned",
    "database_unavailable",
];
const PROPAGATED_EVENTS: &[&str] = &["sessions_revoked", "session_revoked", "option_changed", "templates_changed"];
const FLUSH_REASONS: &[&str] = &["version_gap", "version_ahead", "version_check", "resync"];
const TEMPLATE_STAGES: &[&str] = &["load", "import", "resolve"];
const ROTATION_STEPS: &[&str] = &["validate", "stage", "smoke", "promote", "invalidate", "rollback"];
const SECRET_ACTIONS: &[&str] = &["staged", "promoted", "restored", "rolled_back", "republished"];
const OBJECT_OPS: &[&str] = &["put", "get", "delete", "health", "presign", "abort", "list_multipart"];
const CACHE_OPS: &[&str] = &["get", "set", "delete", "health"];
const SESSION_OPS: &[&str] = &[
    "insert",
    "get",
    "read",
    "replace_if",
    "revoke",
    "revoked_since",
    "count_active",
    "list_for_user",
    "health",
    "prune_expired",
];

fn zero(name: &'static str, labels: &[(&'static str, &'static str)]) {
    let labels: Vec<metrics::Label> = labels.iter().map(|(k, v)| metrics::Label::new(*k, *v)).collect();
    metrics::counter!(name, labels).absolute(0);
}

fn zero_each(name: &'static str, label: &'static str, values: &[&'static str]) {
    for value in values {
        zero(name, &[(label, value)]);
    }
}

fn empty_histogram(name: &'static str, labels: &[(&'static str, &'static str)]) {
    let labels: Vec<metrics::Label> = labels.iter().map(|(k, v)| metrics::Label::new(*k, *v)).collect();
    // Registering the handle is enough: the exporter renders a histogram with no samples as zeros.
    let _ = metrics::histogram!(name, labels);
}

/// Registers every counter and histogram whose label values are known before the first event, at zero.
/// Series labelled by route or actor are registered where those are known (the router, the mailboxes).
/// Registering again is harmless: `absolute(0)` never lowers a counter that already counted.
pub fn register_known_series(backends: BackendNames) {
    for name in [
        "gantry_http_shed_total",
        "gantry_uploads_displaced_total",
        "gantry_auth_registrations_total",
        "gantry_auth_registrations_rate_limited_total",
        "gantry_auth_password_verifications_total",
        "gantry_auth_password_changes_total",
        "gantry_auth_password_rehashes_total",
        "gantry_sessions_store_data_loss_total",
        "gantry_auth_refresh_reuse_total",
        "gantry_sessions_created_total",
        "gantry_sessions_view_reload_failures_total",
        "gantry_sessions_announce_failures_total",
        "gantry_upload_bytes_total",
        "gantry_upload_guest_tokens_total",
        "gantry_breached_range_fallbacks_total",
        "gantry_uploads_deleted_total",
        "gantry_upload_ends_deferred_total",
        "gantry_option_announce_failures_total",
        "gantry_template_fallbacks_total",
        "gantry_templates_imported_total",
        "gantry_heartbeat_failures_total",
        "gantry_access_token_cache_hits_total",
        "gantry_access_token_cache_misses_total",
        "gantry_access_token_cache_flushes_total",
    ] {
        zero(name, &[]);
    }
    zero_each("gantry_http_refusals_total", "reason", &["in_flight_per_address", "body_timeout", "body_too_slow"]);
    zero_each("gantry_http_connections_refused_total", "listener", &["public", "admin"]);
    zero_each("gantry_http_connections_refused_per_address_total", "listener", &["public", "admin"]);
    for listener in ["public", "admin"] {
        for reason in ["head_timeout", "idle"] {
            zero("gantry_http_connections_closed_total", &[("listener", listener), ("reason", reason)]);
        }
    }
    zero_each("gantry_shutdown_budget_exhausted_total", "stage", &["public", "admin", "actors", "jobs"]);
    zero_each("gantry_readiness_failures_total", "component", COMPONENTS);
    zero_each("gantry_auth_logins_total", "outcome", LOGIN_OUTCOMES);
    zero_each("gantry_auth_hashing_refused_total", "reason", &["shed", "timed_out"]);
    zero_each("gantry_auth_refreshes_total", "outcome", REFRESH_OUTCOMES);
    zero_each("gantry_sessions_revocations_total", "scope", REVOCATION_SCOPES);
    zero_each("gantry_uploads_total", "outcome", UPLOAD_OUTCOMES);
    zero_each("gantry_option_cache_flushes_total", "reason", FLUSH_REASONS);
    zero_each("gantry_template_validation_failures_total", "stage", TEMPLATE_STAGES);
    let kinds = gantry_actors::catalog::OptionKind::ALL.map(gantry_actors::catalog::OptionKind::as_str);
    zero_each("gantry_options_created_total", "kind", &kinds);
    zero_each(
        "gantry_option_names_refused_total",
        "reason",
        &["invisible_character", "mixed_scripts", "too_wide", "too_long", "empty", "control_characters"],
    );
    zero_each("gantry_option_invalidations_total", "kind", &kinds);
    zero("gantry_option_invalidations_total", &[("kind", "templates")]);
    zero_each("gantry_rotations_resumed_total", "kind", &["rotation", "rollback"]);
    for kind in ["rotation", "rollback"] {
        zero("gantry_rotations_total", &[("kind", kind), ("outcome", "succeeded"), ("step", "none")]);
        for step in ROTATION_STEPS {
            zero("gantry_rotations_total", &[("kind", kind), ("outcome", "failed"), ("step", step)]);
        }
    }
    for secret in gantry_actors::secrets::SecretName::ALL.map(gantry_actors::secrets::SecretName::env_var) {
        for action in SECRET_ACTIONS {
            zero("gantry_secret_version_changes_total", &[("secret", secret), ("action", action)]);
        }
    }
    zero("gantry_secret_grace_verifications_total", &[("secret", "JWT_SECRET")]);
    for op in OBJECT_OPS {
        zero("gantry_object_store_errors_total", &[("backend", backends.objects), ("op", op)]);
    }
    for op in SESSION_OPS {
        zero("gantry_session_store_errors_total", &[("backend", backends.sessions), ("op", op)]);
    }
    if backends.cache == "redis" {
        for op in CACHE_OPS {
            zero("gantry_cache_errors_total", &[("backend", "redis"), ("op", op)]);
        }
        zero_each("gantry_option_cache_shared_total", "result", &["hit", "miss", "error"]);
    }
    if backends.bus == "amqp" {
        for name in
            ["gantry_bus_reconnects_total", "gantry_bus_publish_errors_total", "gantry_bus_messages_received_total"]
        {
            zero(name, &[("backend", "amqp")]);
        }
    }
    for event in PROPAGATED_EVENTS {
        empty_histogram("gantry_bus_propagation_seconds", &[("event", event)]);
    }
    empty_histogram("gantry_upload_duration_seconds", &[]);
    zero_each("gantry_photos_total", "outcome", &["processed", "discarded", "retried"]);
    empty_histogram("gantry_photo_processing_seconds", &[]);
    // Moved by increments only: adding 0 registers it without disturbing an upload already counted.
    metrics::gauge!("gantry_uploads_in_flight").increment(0.0);
    metrics::gauge!("gantry_templates_degraded").increment(0.0);
    for action in ["rename", "merge", "hide", "unhide", "approve", "set_has_engine"] {
        for result in ["applied", "refused", "unavailable"] {
            zero("gantry_catalog_moderations_total", &[("action", action), ("result", result)]);
        }
    }
}

/// Job store operations of the runner that may fail (the `op` label of `gantry_job_store_errors_total`).
const JOB_STORE_OPS: &[&str] = &["claim", "rescue", "renew", "finish", "enqueue", "depths"];

/// Registers the job runner's series at zero for every `(kind, queue)` this instance runs.
pub fn register_job_series<'a>(kinds: impl IntoIterator<Item = (&'static str, &'static str)> + 'a) {
    let mut queues = Vec::new();
    for (kind, queue) in kinds {
        let labels = [("kind", kind), ("queue", queue)];
        for name in [
            "gantry_jobs_enqueued_total",
            "gantry_jobs_started_total",
            "gantry_jobs_completed_total",
            "gantry_jobs_retried_total",
            "gantry_jobs_discarded_total",
            "gantry_jobs_cancelled_total",
        ] {
            zero(name, &labels);
        }
        empty_histogram("gantry_job_wait_seconds", &labels);
        empty_histogram("gantry_job_run_seconds", &labels);
        if !queues.contains(&queue) {
            queues.push(queue);
        }
    }
    for queue in queues {
        zero("gantry_jobs_lease_lost_total", &[("queue", queue)]);
        for state in ["available", "scheduled"] {
            metrics::gauge!("gantry_jobs_queue_depth", "queue" => queue, "state" => state).increment(0.0);
        }
        metrics::gauge!("gantry_jobs_oldest_available_seconds", "queue" => queue).increment(0.0);
    }
    zero("gantry_jobs_released_total", &[]);
    zero("gantry_jobs_rescued_total", &[]);
    zero_each("gantry_job_store_errors_total", "op", JOB_STORE_OPS);
    zero("gantry_job_store_retries_total", &[("op", "finish_many"), ("reason", "deadlock")]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each metric is described once: two lines for one name would leave one HELP text unused.
    #[test]
    fn metric_names_are_unique_and_prometheus_shaped() {
        let mut seen = std::collections::HashSet::new();
        for m in METRICS {
            assert!(seen.insert(m.name), "{} listed twice", m.name);
            assert!(m.name.starts_with("gantry_"), "{}", m.name);
            assert!(!m.help.is_empty(), "{} has no HELP text", m.name);
            assert_eq!(m.kind == Kind::Counter, m.name.ends_with("_total"), "{}: only counters end in _total", m.name);
        }
    }
}
