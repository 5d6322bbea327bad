//! The subcommands other than `serve`: each returns the process exit code.

use std::process::ExitCode;

use crate::config::secrets::{self, SecretEnv, SecretReport};
use crate::config::{Profile, Settings};

/// Logs the one structured event operators grep for: `event="secret_validation_failed"`, with every
/// problem (variable and rule, never a value).
pub fn log_secret_failure(report: &SecretReport) {
    let lines = report.lines();
    tracing::error!(
        event = "secret_validation_failed",
        count = lines.len(),
        violations = lines.join("; "),
        "secret validation failed"
    );
}

/// `gantry secrets check [--json]`: validates without starting anything or generating files.
#[must_use]
pub fn secrets_check(settings: &Settings, json: bool) -> ExitCode {
    let (_, report) = secrets::load(settings, &SecretEnv::from_process(), false);
    if json {
        let body = serde_json::json!({
            "valid": report.is_ok(),
            "profile": settings.profile.as_str(),
            "problems": report.lines(),
            "violations": report.violations,
            "source_problems": report.source_problems,
            "would_generate": report.would_generate,
        });
        println!("{body:#}");
    } else if report.is_ok() {
        println!("secrets: ok ({} profile)", settings.profile.as_str());
        for name in &report.would_generate {
            println!("  - {name} is not set; the local profile will generate it on first start");
        }
    } else {
        println!("secrets: invalid ({} profile)", settings.profile.as_str());
        for line in report.lines() {
            println!("  - {line}");
        }
    }
    if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        log_secret_failure(&report);
        ExitCode::FAILURE
    }
}

/// `gantry migrate`: applies migrations of the profile's database and exits.
///
/// # Errors
/// The database cannot be reached or a migration fails.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    use anyhow::Context;
    match settings.profile {
        Profile::Local => {
            crate::adapters::sqlite::SqliteDb::open(&settings.sqlite_path()).await.context("migrating SQLite")?;
        }
        Profile::Production => {
            let url = settings.database_url.as_ref().context("GANTRY_DATABASE_URL is not set")?;
            crate::adapters::postgres::PostgresDb::connect(url, 2).await.context("migrating Postgres")?;
        }
    }
    tracing::info!(event = "migrated", profile = settings.profile.as_str(), "migrations applied");
    Ok(())
}
