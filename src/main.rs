//! The `gantry` binary: parse the command line, load settings, run the subcommand.

use std::process::ExitCode;

use clap::Parser;
use gantry::cli::{Cli, Command, RotationsCommand, SecretsCommand, SessionsCommand, TemplatesCommand, UsersCommand};
use gantry::config::secrets::{self, SecretEnv};
use gantry::config::{LogFormat, Settings};
use gantry::startup::Application;
use gantry::{commands, signals, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.profile) {
        Ok(settings) => settings,
        Err(err) => {
            telemetry::init_tracing(LogFormat::Text);
            tracing::error!(event = "config_invalid", problems = err.problems.join("; "), "invalid configuration");
            eprintln!("gantry: {err}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init_tracing(settings.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("gantry: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Secrets { action: SecretsCommand::Check { json } } => commands::secrets_check(&settings, json),
        Command::Secrets {
            action: SecretsCommand::Rotate { deployment_id, commit_sha, invalidate_sessions, admin_url },
        } => {
            let body = serde_json::json!({"deployment_id": deployment_id, "commit_sha": commit_sha,
                "invalidate_sessions": invalidate_sessions, "requested_by": "cli"});
            exit_with(runtime.block_on(commands::secrets_rotate(&settings, body, false, admin_url.as_deref())))
        }
        Command::Secrets { action: SecretsCommand::Rollback { deployment_id, commit_sha, admin_url } } => {
            let body =
                serde_json::json!({"deployment_id": deployment_id, "commit_sha": commit_sha, "requested_by": "cli"});
            exit_with(runtime.block_on(commands::secrets_rotate(&settings, body, true, admin_url.as_deref())))
        }
        Command::Rotations { action: RotationsCommand::List { json, admin_url } } => {
            exit_with(runtime.block_on(commands::rotations(&settings, None, json, admin_url.as_deref())))
        }
        Command::Rotations { action: RotationsCommand::Show { id, json, admin_url } } => {
            exit_with(runtime.block_on(commands::rotations(&settings, Some(&id), json, admin_url.as_deref())))
        }
        Command::Migrate => match runtime.block_on(commands::migrate(&settings)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                tracing::error!(event = "migrate_failed", error = format!("{err:#}"), "migration failed");
                ExitCode::FAILURE
            }
        },
        Command::Serve => runtime.block_on(serve(settings)),
        Command::Seed => exit_with(runtime.block_on(commands::seed(&settings))),
        Command::Smoke { base_url, email, password_file, json } => {
            runtime.block_on(commands::smoke(&base_url, email, password_file.as_deref(), json))
        }
        Command::Users { action: UsersCommand::Add { email, password_file } } => {
            exit_with(runtime.block_on(commands::users_add(&settings, &email, password_file.as_deref())))
        }
        Command::Sessions { action: SessionsCommand::RevokeAll { reason, admin_url } } => {
            exit_with(runtime.block_on(commands::sessions_revoke_all(&settings, &reason, admin_url.as_deref())))
        }
        Command::Templates { action: TemplatesCommand::Check { file } } => exit_with(commands::templates_check(&file)),
        Command::Templates { action: TemplatesCommand::Import { file, replace, admin_url } } => {
            exit_with(runtime.block_on(commands::templates_import(&settings, &file, replace, admin_url.as_deref())))
        }
    }
}

fn exit_with(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gantry: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> ExitCode {
    let (keyring, report) = secrets::load(&settings, &SecretEnv::from_process(), true);
    let Some(keyring) = keyring else {
        commands::log_secret_failure(&report);
        eprintln!("gantry: secret validation failed:");
        for line in report.lines() {
            eprintln!("  - {line}");
        }
        return ExitCode::FAILURE;
    };
    let app = match Application::build(settings, keyring).await {
        Ok(app) => app,
        Err(err) => {
            tracing::error!(event = "startup_failed", error = format!("{err:#}"), "gantry could not start");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(http = %app.http_addr(), admin = %app.admin_addr(), "listening");
    let reloads = tokio::spawn(signals::reload_on_hangup(app.state().secrets.clone()));
    let outcome = app.run_until_stopped(signals::shutdown_signal()).await;
    reloads.abort();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(event = "fatal", error = format!("{err:#}"), "gantry is exiting after a fatal failure");
            ExitCode::FAILURE
        }
    }
}
