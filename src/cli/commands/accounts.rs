//! `gantry users add|find|delete|disable|enable|revoke-sessions` and `gantry sessions revoke-all`.

use hyper::StatusCode;

use super::target::{admin_client, id_arg};
use crate::cli::admin_client::types::RevokeRequest;
use crate::cli::args::Revocation;
use crate::config::Settings;
use crate::config::secrets;

/// `gantry users add --email E [--password-file F]`.
///
/// # Errors
/// The password is unreadable, breaks the policy, or the database refuses the user.
pub(super) async fn users_add(
    settings: &Settings,
    email: &str,
    password_file: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    use gantry_actors::accounts::{Accounts, owner};
    let password_text = match password_file {
        Some(path) => secrets::read_file(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?,
        None => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
            line.trim_end_matches(['\n', '\r']).to_owned()
        }
    };
    // Refuse a broken registration before touching the database (the owner checks again when registering).
    owner::validate_registration(email, &password_text).map_err(registration_refused)?;
    let storage = crate::startup::Storage::connect(settings).await?;
    // The same owner, rules and hashing as `POST /v1/auth/register`.
    let accounts = Accounts::new(storage.ports.accounts, &crate::startup::account_settings(settings));
    let registered = accounts.register(email, password_text, None).await;
    storage.database.close().await;
    let user = registered.map_err(registration_refused)?;
    println!("{}", serde_json::json!({ "user_id": user.id, "email": user.email }));
    Ok(())
}

/// A refused registration as the CLI reports it: each broken rule on its own line, with the field, the code and
/// the message the HTTP API gives in its 422 `errors`.
fn registration_refused(err: gantry_actors::accounts::owner::AccountError) -> anyhow::Error {
    use gantry_actors::accounts::owner::AccountError;
    match err {
        AccountError::Invalid(violations) => {
            let lines: Vec<String> =
                violations.iter().map(|v| format!("  - {}: {} ({})", v.field, v.message, v.code)).collect();
            anyhow::anyhow!("validation failed: the account breaks {} rule(s):\n{}", violations.len(), lines.join("\n"))
        }
        other => anyhow::anyhow!("{other}"),
    }
}

/// `gantry users find --email E`: asks a running instance's admin listener; prints `{id, email, created_at}`.
///
/// # Errors
/// No such account, or the instance cannot be reached or refuses the request.
pub(super) async fn users_find(settings: &Settings, email: &str, admin_url: Option<&str>) -> anyhow::Result<()> {
    let client = admin_client(settings, admin_url)?;
    match client.find_user(email).await {
        Ok(found) => {
            println!("{}", found.body);
            Ok(())
        }
        Err(problem) if problem.status() == Some(StatusCode::NOT_FOUND) => {
            anyhow::bail!("no account with the email {email:?}")
        }
        Err(problem) => Err(problem.into()),
    }
}

/// What `gantry users delete|disable|enable` asks of the admin listener.
#[derive(Debug, Clone, Copy)]
pub(super) enum UserAction {
    /// `DELETE /admin/users/{id}`: the instance revokes the account's sessions everywhere, then deletes it.
    Delete,
    /// `POST /admin/users/{id}/disable`: no more logins; its sessions revoked everywhere.
    Disable,
    /// `POST /admin/users/{id}/enable`.
    Enable,
}

/// `gantry users delete|disable|enable --id ID`, through a running instance's admin listener. Prints the
/// answer (delete) or what was done (disable, enable: 204).
///
/// # Errors
/// No such account, or the instance cannot be reached or refuses the request.
pub(super) async fn users_act(
    settings: &Settings,
    id: &str,
    action: UserAction,
    admin_url: Option<&str>,
) -> anyhow::Result<()> {
    let client = admin_client(settings, admin_url)?;
    let id = uuid::Uuid::parse_str(id.trim()).map_err(|_| anyhow::anyhow!("--id must be a user id (a UUID)"))?;
    let done = match action {
        UserAction::Delete => client.delete_user(id).await.map(|deleted| deleted.body),
        UserAction::Disable => {
            client.disable_user(id).await.map(|()| serde_json::json!({ "user_id": id, "disabled": true }).to_string())
        }
        UserAction::Enable => {
            client.enable_user(id).await.map(|()| serde_json::json!({ "user_id": id, "disabled": false }).to_string())
        }
    };
    match done {
        Ok(line) => {
            println!("{line}");
            Ok(())
        }
        Err(problem) if problem.status() == Some(StatusCode::NOT_FOUND) => {
            anyhow::bail!("no account with the id {id}")
        }
        Err(problem) => Err(problem.into()),
    }
}

/// `gantry sessions revoke-all --reason R …` (`user: None`) and `gantry users revoke-sessions --id ID --reason R
/// …`: asks a running instance's admin listener; prints the 202 body.
///
/// # Errors
/// A malformed or unknown user id, or the instance cannot be reached or refuses the request.
pub(super) async fn revoke(
    settings: &Settings,
    user: Option<&str>,
    revocation: &Revocation,
    admin_url: Option<&str>,
) -> anyhow::Result<()> {
    let client = admin_client(settings, admin_url)?;
    let request = RevokeRequest {
        reason: &revocation.reason,
        requested_by: &revocation.requested_by,
        user_message: revocation.user_message.as_deref(),
    };
    let accepted = match user {
        None => client.revoke_all(&request).await?,
        Some(id) => {
            let id = id_arg("id", id)?;
            match client.revoke_user(id, &request).await {
                Err(problem) if problem.status() == Some(StatusCode::NOT_FOUND) => {
                    anyhow::bail!("no account with the id {id}")
                }
                answer => answer?,
            }
        }
    };
    println!("{}", accepted.body);
    Ok(())
}
