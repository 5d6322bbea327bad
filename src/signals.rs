//! Signals, in one place. Every handler is installed when its function is CALLED, not when the returned future
//! is first polled: a signal that arrives between "listening" and the first poll would otherwise meet the
//! default action (SIGHUP and SIGTERM terminate the process).

use std::future::Future;

/// Installs the SIGTERM (orchestrators stopping the container) and SIGINT (Ctrl-C) handlers now; the returned
/// future completes on the first of them.
///
/// # Panics
/// If the signal handlers cannot be installed (the process cannot be stopped cleanly then).
pub fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    let (mut terminate, mut interrupt) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).expect("installing the SIGTERM handler"),
            signal(SignalKind::interrupt()).expect("installing the SIGINT handler"),
        )
    };
    async move {
        #[cfg(unix)]
        tokio::select! {
            _ = interrupt.recv() => tracing::info!(signal = "SIGINT", "shutdown requested"),
            _ = terminate.recv() => tracing::info!(signal = "SIGTERM", "shutdown requested"),
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await.expect("installing the Ctrl-C handler");
            tracing::info!(signal = "SIGINT", "shutdown requested");
        }
    }
}

/// Installs the SIGHUP handler now and spawns its loop: on every SIGHUP, re-reads the secret source and stages
/// what changed on this instance (as `POST /admin/secrets/reload`); the outcome is logged (names and
/// fingerprints, never values). The caller aborts the returned task at shutdown.
#[must_use]
pub fn reload_on_hangup(secrets: gantry_actors::secrets::store::SecretStoreHandle) -> tokio::task::JoinHandle<()> {
    #[cfg(unix)]
    {
        let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
            tracing::warn!("cannot install the SIGHUP handler; reload with POST /admin/secrets/reload");
            return tokio::spawn(async {});
        };
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                match secrets.step(uuid::Uuid::now_v7(), gantry_actors::secrets::SecretStep::Stage).await {
                    Ok(Ok(changes)) => tracing::info!(
                        event = "secrets_reloaded",
                        signal = "SIGHUP",
                        staged = changes.len(),
                        "secret source re-read"
                    ),
                    Ok(Err(reason)) => tracing::warn!(
                        event = "secrets_reload_refused",
                        signal = "SIGHUP",
                        reason,
                        "secret source re-read; nothing staged"
                    ),
                    Err(e) => {
                        tracing::warn!(event = "secrets_reload_failed", signal = "SIGHUP", error = %e, "secret store unreachable")
                    }
                }
            }
        })
    }
    #[cfg(not(unix))]
    {
        let _ = secrets;
        tokio::spawn(async {})
    }
}
