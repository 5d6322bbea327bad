//! The subcommands: [`run`] dispatches each (serving is `startup::serve`); each returns the process exit code.
//!
//! - `secrets`: `secrets check|rotate|rollback`, `rotations list|show`.
//! - `accounts`: `users …` (`revoke-sessions` included), `sessions revoke-all`.
//! - `catalog`: `options …`, `templates check|import`, `seed`.
//! - `jobs`: `jobs list|show|retry|cancel`.
//! - `smoke`: `smoke`.
//! - `database`: `migrate`.
//! - `target`: the admin client (URL and token) the admin-API commands call, and their id arguments.

mod accounts;
mod catalog;
mod database;
mod jobs;
mod secrets;
mod smoke;
mod target;

use std::process::ExitCode;

use crate::cli::admin_client::types::RotateRequest;
use crate::cli::args::{
    Command, RotationEvidence, RotationsCommand, SecretsCommand, SessionsCommand, TemplatesCommand, UsersCommand,
};
use crate::config::Settings;

/// Runs one subcommand (`serve` included) to completion on `runtime` and returns the process exit code.
#[must_use]
pub fn run(command: Command, settings: Settings, runtime: &tokio::runtime::Runtime) -> ExitCode {
    match command {
        Command::Secrets { action: SecretsCommand::Check { json } } => secrets::secrets_check(&settings, json),
        Command::Secrets { action: SecretsCommand::Rotate { evidence, invalidate_sessions, admin_url } } => {
            let request = rotate_request(evidence, invalidate_sessions);
            exit_with(runtime.block_on(secrets::secrets_rotate(&settings, request, false, admin_url.as_deref())))
        }
        Command::Secrets { action: SecretsCommand::Rollback { evidence, invalidate_sessions, admin_url } } => {
            let request = rotate_request(evidence, invalidate_sessions);
            exit_with(runtime.block_on(secrets::secrets_rotate(&settings, request, true, admin_url.as_deref())))
        }
        Command::Rotations { action: RotationsCommand::List { json, admin_url } } => {
            exit_with(runtime.block_on(secrets::rotations(&settings, None, json, admin_url.as_deref())))
        }
        Command::Rotations { action: RotationsCommand::Show { id, json, admin_url } } => {
            exit_with(runtime.block_on(secrets::rotations(&settings, Some(&id), json, admin_url.as_deref())))
        }
        Command::Jobs { action } => exit_with(runtime.block_on(jobs::jobs(&settings, action))),
        Command::Migrate => match runtime.block_on(database::migrate(&settings)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                tracing::error!(event = "migrate_failed", error = format!("{err:#}"), "migration failed");
                ExitCode::FAILURE
            }
        },
        Command::Serve => runtime.block_on(crate::startup::serve(settings)),
        Command::Seed => exit_with(runtime.block_on(catalog::seed(&settings))),
        Command::Smoke { base_url, email, password_file, json, admin_url } => runtime.block_on(smoke::smoke(
            &settings,
            &base_url,
            email,
            password_file.as_deref(),
            json,
            admin_url.as_deref(),
        )),
        Command::Users { action: UsersCommand::Add { email, password_file } } => {
            exit_with(runtime.block_on(accounts::users_add(&settings, &email, password_file.as_deref())))
        }
        Command::Users { action: UsersCommand::Find { email, admin_url } } => {
            exit_with(runtime.block_on(accounts::users_find(&settings, &email, admin_url.as_deref())))
        }
        Command::Users { action: UsersCommand::Delete { id, admin_url } } => exit_with(
            runtime.block_on(accounts::users_act(&settings, &id, accounts::UserAction::Delete, admin_url.as_deref())),
        ),
        Command::Users { action: UsersCommand::RevokeSessions { id, revocation, admin_url } } => {
            exit_with(runtime.block_on(accounts::revoke(&settings, Some(&id), &revocation, admin_url.as_deref())))
        }
        Command::Users { action: UsersCommand::Disable { id, admin_url } } => exit_with(
            runtime.block_on(accounts::users_act(&settings, &id, accounts::UserAction::Disable, admin_url.as_deref())),
        ),
        Command::Users { action: UsersCommand::Enable { id, admin_url } } => exit_with(
            runtime.block_on(accounts::users_act(&settings, &id, accounts::UserAction::Enable, admin_url.as_deref())),
        ),
        Command::Sessions { action: SessionsCommand::RevokeAll { revocation, admin_url } } => {
            exit_with(runtime.block_on(accounts::revoke(&settings, None, &revocation, admin_url.as_deref())))
        }
        Command::Templates { action: TemplatesCommand::Check { file } } => {
            exit_with(catalog::templates_check(&settings, &file))
        }
        Command::Templates { action: TemplatesCommand::Import { file, replace, admin_url } } => {
            exit_with(runtime.block_on(catalog::templates_import(&settings, &file, replace, admin_url.as_deref())))
        }
        Command::Options { action, admin_url, by } => {
            exit_with(runtime.block_on(catalog::options(&settings, action, &by, admin_url.as_deref())))
        }
    }
}

/// The body of `POST /admin/secrets/rotate|rollback` from the command's flags (an absent flag is left out).
fn rotate_request(evidence: RotationEvidence, invalidate_sessions: Option<bool>) -> RotateRequest {
    let RotationEvidence { deployment_id, commit_sha, requested_by, user_message } = evidence;
    RotateRequest { deployment_id, commit_sha, invalidate_sessions, requested_by: Some(requested_by), user_message }
}

/// The exit code for a subcommand's outcome (the error chain printed on stderr).
fn exit_with(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gantry: {err:#}");
            ExitCode::FAILURE
        }
    }
}
