//! `/metrics` as Prometheus and `promtool` read it: every metric described, known series present from start-up,
//! build and process metrics, the status class on request durations.

use std::collections::BTreeSet;
use std::path::Path;

use gantry::telemetry::registry::METRICS;

use crate::helpers::spawn_app;
use crate::prometheus::{typed_and_described, value};

/// Every metric rendered after some traffic has a `# HELP` line (promtool's "no help text" problem).
#[tokio::test]
async fn every_rendered_metric_has_help_text() {
    let app = spawn_app().await;
    app.get("/healthz").send().await.expect("request");
    app.get("/no-such-route").send().await.expect("request");
    app.get("/readyz").send().await.expect("request");
    app.register("help-text@example.com").await;
    let text = app.metrics().await;
    let (typed, described) = typed_and_described(&text);
    assert!(typed.len() > 40, "expected the full metric set, got {typed:?}");
    let missing: Vec<_> = typed.difference(&described).collect();
    assert!(missing.is_empty(), "rendered without # HELP: {missing:?} (add a line to telemetry::registry::METRICS)");
}

/// Every `"gantry_…"` name written in the sources (both crates) has a line in the one metrics table, so a metric
/// added anywhere without a description fails here even when no test makes it emit.
#[test]
fn every_metric_named_in_the_source_is_described() {
    let described: BTreeSet<&str> = METRICS.iter().map(|m| m.name).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut undescribed = BTreeSet::new();
    let mut stack = vec![root.join("src"), root.join("actors/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("source folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let source = std::fs::read_to_string(&path).expect("source file");
                for (i, _) in source.match_indices("\"gantry_") {
                    let name: String = source[i + 1..]
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                        .collect();
                    // `"gantry_"` alone is a prefix check, not a metric.
                    if name.len() > "gantry_".len() && !described.contains(name.as_str()) {
                        undescribed.insert(format!("{name} ({})", path.display()));
                    }
                }
            }
        }
    }
    assert!(undescribed.is_empty(), "metrics without a line in telemetry::registry::METRICS: {undescribed:?}");
}

/// Error and outcome counters exist at 0 before their first event, so `rate()` and alerts see the first one.
#[tokio::test]
async fn known_counters_exist_at_zero_from_start_up() {
    let app = spawn_app().await;
    let text = app.metrics().await;
    for series in [
        "gantry_http_shed_total",
        "gantry_http_connections_refused_total{listener=\"public\"}",
        "gantry_readiness_failures_total{component=\"database\"}",
        "gantry_auth_logins_total{outcome=\"invalid_credentials\"}",
        "gantry_auth_refreshes_total{outcome=\"reused\"}",
        "gantry_sessions_revocations_total{scope=\"all\"}",
        "gantry_uploads_total{outcome=\"storage_unavailable\"}",
        "gantry_object_store_errors_total{backend=\"fs\",op=\"put\"}",
        "gantry_session_store_errors_total{backend=\"sqlite\",op=\"insert\"}",
        "gantry_template_fallbacks_total",
        "gantry_rotations_total{kind=\"rotation\",outcome=\"failed\",step=\"promote\"}",
        "gantry_shutdown_budget_exhausted_total{stage=\"actors\"}",
        "gantry_heartbeat_failures_total",
        "gantry_sessions_view_reload_failures_total",
    ] {
        assert!(value(&text, series).is_some(), "{series} is not exported before its first event");
    }
    for series in [
        "gantry_bus_propagation_seconds_count{event=\"option_changed\"}",
        "gantry_upload_duration_seconds_count",
        "gantry_actor_messages_total{actor=\"option_cache\"}",
    ] {
        assert!(value(&text, series).is_some(), "{series} is not exported before its first event");
    }
}

/// `gantry_build_info` carries the version and a commit; the process metrics are there.
#[tokio::test]
async fn build_info_and_process_metrics_are_exported() {
    let app = spawn_app().await;
    let text = app.metrics().await;
    let build = text.lines().find(|l| l.starts_with("gantry_build_info{")).expect("gantry_build_info");
    assert!(build.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))), "{build}");
    assert!(build.contains("commit=\""), "{build}");
    assert!(build.ends_with(" 1"), "{build}");
    for name in ["process_resident_memory_bytes", "process_open_fds", "process_cpu_seconds_total", "process_max_fds"] {
        assert!(value(&text, name).is_some_and(|v| v >= 0.0), "{name} missing");
    }
    assert!(value(&text, "process_resident_memory_bytes").is_some_and(|v| v > 1_000_000.0), "RSS under 1 MB?");
}

/// Request durations are split by status class, so a slow error path does not hide in the success latency.
#[tokio::test]
async fn request_duration_has_a_status_class() {
    let app = spawn_app().await;
    app.get("/healthz").send().await.expect("request");
    app.get("/no-such-route").send().await.expect("request");
    let text = app.metrics().await;
    for series in [
        "gantry_http_request_duration_seconds_count{listener=\"public\",route=\"/healthz\",status_class=\"2xx\"}",
        "gantry_http_request_duration_seconds_count{listener=\"public\",route=\"unmatched\",status_class=\"4xx\"}",
    ] {
        assert!(value(&text, series).is_some_and(|v| v >= 1.0), "{series} missing");
    }
}

/// The alert rules and the dashboard use only metrics Gantry exports: renaming a metric breaks this test, not a
/// silent panel or an alert that can never fire.
#[test]
fn alerts_and_dashboard_use_only_exported_metrics() {
    let described: BTreeSet<&str> = METRICS.iter().map(|m| m.name).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut unknown = BTreeSet::new();
    for file in ["deploy/prometheus/alerts.yml", "deploy/grafana/dashboards/gantry.json"] {
        let text = std::fs::read_to_string(root.join(file)).expect("deploy file");
        let mut used = 0;
        for (i, _) in text.match_indices("gantry_") {
            // A metric name starts the word (not `job="gantry"` or a uid).
            if text[..i].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let name: String =
                text[i..].chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_').collect();
            let base = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix).filter(|b| described.contains(b)))
                .unwrap_or(&name);
            used += 1;
            if !described.contains(base) {
                unknown.insert(format!("{name} ({file})"));
            }
        }
        assert!(used > 10, "{file}: expected metric names, found {used}");
    }
    assert!(unknown.is_empty(), "not exported by Gantry: {unknown:?}");
}
