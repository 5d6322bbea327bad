//! Logs (tracing) and metrics (Prometheus). The metrics recorder is process-global (the `metrics` facade
//! allows one), installed once, with explicit histogram buckets and a background upkeep thread so
//! unscraped histograms do not grow. Every metric's HELP text is in [`registry::METRICS`], described here at
//! install; [`render`] adds the `process_*` metrics.

pub mod process;
pub mod registry;

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Latency buckets, seconds: 100 µs to 30 s.
const SECONDS_BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The git commit this binary was built from (`build.rs`; `unknown` outside a git checkout).
pub const BUILD_COMMIT: &str = env!("GANTRY_BUILD_COMMIT");

/// The `/metrics` body: everything recorded through the `metrics` facade, then the process metrics.
#[must_use]
pub fn render(handle: &PrometheusHandle) -> String {
    let mut text = handle.render();
    if !text.is_empty() && !text.ends_with("\n\n") {
        text.push('\n');
    }
    text.push_str(&process::render());
    text
}

/// Installs the log subscriber (`GANTRY_LOG` or `RUST_LOG` filter, default `info`). A second call is a no-op.
pub fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_env("GANTRY_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// The process's Prometheus handle, installing the recorder on first use.
///
/// # Panics
/// If another recorder was installed by someone else (a bug).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .expect("bucket list is not empty")
                .install_recorder()
                .expect("no other metrics recorder is installed");
            let upkeep = handle.clone();
            // A plain thread: the recorder lives as long as the process, so does its upkeep.
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                })
                .expect("spawning the upkeep thread");
            registry::describe_all();
            metrics::gauge!("gantry_build_info", "version" => env!("CARGO_PKG_VERSION"), "commit" => BUILD_COMMIT)
                .set(1.0);
            handle
        })
        .clone()
}
