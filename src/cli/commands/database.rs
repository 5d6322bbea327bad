//! `gantry migrate`.

use crate::config::Settings;

/// `gantry migrate`: applies migrations of the profile's database and exits.
///
/// # Errors
/// The database cannot be reached or a migration fails.
pub(super) async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    crate::startup::Storage::connect(settings).await?.database.close().await;
    tracing::info!(event = "migrated", profile = settings.profile.as_str(), "migrations applied");
    Ok(())
}
