//! Shutdown signals, in one place.

/// Completes on the first SIGTERM (orchestrators stopping the container) or SIGINT (Ctrl-C in a terminal).
///
/// # Panics
/// If the signal handlers cannot be installed (the process cannot be stopped cleanly then).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c().await.expect("installing the Ctrl-C handler");
    };
    #[cfg(unix)]
    let terminate = async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler")
            .recv()
            .await;
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!(signal = "SIGINT", "shutdown requested"),
        () = terminate => tracing::info!(signal = "SIGTERM", "shutdown requested"),
    }
}

/// On every SIGHUP, re-reads the secret source and stages what changed on this instance (as
/// `POST /admin/secrets/reload`); the outcome is logged (names and fingerprints, never values).
pub async fn reload_on_hangup(secrets: gantry_actors::secrets::store::SecretStoreHandle) {
    #[cfg(unix)]
    {
        let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
            tracing::warn!("cannot install the SIGHUP handler; reload with POST /admin/secrets/reload");
            return;
        };
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
    }
    #[cfg(not(unix))]
    {
        let _ = secrets;
        std::future::pending::<()>().await;
    }
}
