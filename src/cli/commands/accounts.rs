//! `gantry users add|find|delete|disable|enable` and `gantry sessions revoke-all`.

use super::target::{admin_target, percent_encode};
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
    let (base, token) = admin_target(settings, admin_url)?;
    let query = percent_encode(email);
    let (status, text) = crate::cli::admin_client::get(&format!("{base}/admin/users?email={query}"), &token).await?;
    if status.is_success() {
        println!("{text}");
        Ok(())
    } else if status == hyper::StatusCode::NOT_FOUND {
        anyhow::bail!("no account with the email {email:?}")
    } else {
        anyhow::bail!("the instance answered {status}: {text}")
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
    let (base, token) = admin_target(settings, admin_url)?;
    let id = uuid::Uuid::parse_str(id.trim()).map_err(|_| anyhow::anyhow!("--id must be a user id (a UUID)"))?;
    let url = format!("{base}/admin/users/{id}");
    let (status, text) = match action {
        UserAction::Delete => crate::cli::admin_client::delete(&url, &token).await?,
        UserAction::Disable => {
            crate::cli::admin_client::post_json(&format!("{url}/disable"), &token, String::new()).await?
        }
        UserAction::Enable => {
            crate::cli::admin_client::post_json(&format!("{url}/enable"), &token, String::new()).await?
        }
    };
    if status.is_success() {
        match action {
            UserAction::Delete => println!("{text}"),
            UserAction::Disable => println!("{}", serde_json::json!({ "user_id": id, "disabled": true })),
            UserAction::Enable => println!("{}", serde_json::json!({ "user_id": id, "disabled": false })),
        }
        Ok(())
    } else if status == hyper::StatusCode::NOT_FOUND {
        anyhow::bail!("no account with the id {id}")
    } else {
        anyhow::bail!("the instance answered {status}: {text}")
    }
}

/// `gantry sessions revoke-all --reason R`: asks a running instance's admin listener.
///
/// # Errors
/// The instance cannot be reached or refuses the request.
pub(super) async fn sessions_revoke_all(
    settings: &Settings,
    reason: &str,
    user_message: Option<&str>,
    admin_url: Option<&str>,
) -> anyhow::Result<()> {
    let (base, token) = admin_target(settings, admin_url)?;
    let body = serde_json::json!({ "reason": reason, "requested_by": "cli", "user_message": user_message }).to_string();
    let (status, text) =
        crate::cli::admin_client::post_json(&format!("{base}/admin/sessions/revoke-all"), &token, body).await?;
    if status.is_success() {
        println!("{text}");
        Ok(())
    } else {
        anyhow::bail!("the instance answered {status}: {text}")
    }
}
