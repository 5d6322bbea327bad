//! The subcommands: [`run`] dispatches each (serving is `startup::serve`); each returns the process exit code.

use std::process::ExitCode;

use gantry_actors::ports::smoke::SmokeAccount;

use crate::cli::{
    Command, JobsCommand, OptionsCommand, RotationsCommand, SecretsCommand, SessionsCommand, TemplatesCommand,
    UsersCommand,
};
use crate::config::Settings;
use crate::config::secrets::{self, SecretEnv};

/// Runs one subcommand (`serve` included) to completion on `runtime` and returns the process exit code.
#[must_use]
pub fn run(command: Command, settings: Settings, runtime: &tokio::runtime::Runtime) -> ExitCode {
    match command {
        Command::Secrets { action: SecretsCommand::Check { json } } => secrets_check(&settings, json),
        Command::Secrets {
            action: SecretsCommand::Rotate { deployment_id, commit_sha, invalidate_sessions, admin_url },
        } => {
            let body = serde_json::json!({"deployment_id": deployment_id, "commit_sha": commit_sha,
                "invalidate_sessions": invalidate_sessions, "requested_by": "cli"});
            exit_with(runtime.block_on(secrets_rotate(&settings, body, false, admin_url.as_deref())))
        }
        Command::Secrets { action: SecretsCommand::Rollback { deployment_id, commit_sha, admin_url } } => {
            let body =
                serde_json::json!({"deployment_id": deployment_id, "commit_sha": commit_sha, "requested_by": "cli"});
            exit_with(runtime.block_on(secrets_rotate(&settings, body, true, admin_url.as_deref())))
        }
        Command::Rotations { action: RotationsCommand::List { json, admin_url } } => {
            exit_with(runtime.block_on(rotations(&settings, None, json, admin_url.as_deref())))
        }
        Command::Rotations { action: RotationsCommand::Show { id, json, admin_url } } => {
            exit_with(runtime.block_on(rotations(&settings, Some(&id), json, admin_url.as_deref())))
        }
        Command::Jobs { action } => exit_with(runtime.block_on(jobs(&settings, action))),
        Command::Migrate => match runtime.block_on(migrate(&settings)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                tracing::error!(event = "migrate_failed", error = format!("{err:#}"), "migration failed");
                ExitCode::FAILURE
            }
        },
        Command::Serve => runtime.block_on(crate::startup::serve(settings)),
        Command::Seed => exit_with(runtime.block_on(seed(&settings))),
        Command::Smoke { base_url, email, password_file, json, admin_url } => {
            runtime.block_on(smoke(&settings, &base_url, email, password_file.as_deref(), json, admin_url.as_deref()))
        }
        Command::Users { action: UsersCommand::Add { email, password_file } } => {
            exit_with(runtime.block_on(users_add(&settings, &email, password_file.as_deref())))
        }
        Command::Users { action: UsersCommand::Find { email, admin_url } } => {
            exit_with(runtime.block_on(users_find(&settings, &email, admin_url.as_deref())))
        }
        Command::Users { action: UsersCommand::Delete { id, admin_url } } => {
            exit_with(runtime.block_on(users_act(&settings, &id, UserAction::Delete, admin_url.as_deref())))
        }
        Command::Users { action: UsersCommand::Disable { id, admin_url } } => {
            exit_with(runtime.block_on(users_act(&settings, &id, UserAction::Disable, admin_url.as_deref())))
        }
        Command::Users { action: UsersCommand::Enable { id, admin_url } } => {
            exit_with(runtime.block_on(users_act(&settings, &id, UserAction::Enable, admin_url.as_deref())))
        }
        Command::Sessions { action: SessionsCommand::RevokeAll { reason, user_message, admin_url } } => exit_with(
            runtime.block_on(sessions_revoke_all(&settings, &reason, user_message.as_deref(), admin_url.as_deref())),
        ),
        Command::Templates { action: TemplatesCommand::Check { file } } => exit_with(templates_check(&file)),
        Command::Templates { action: TemplatesCommand::Import { file, replace, admin_url } } => {
            exit_with(runtime.block_on(templates_import(&settings, &file, replace, admin_url.as_deref())))
        }
        Command::Options { action, admin_url, by } => {
            exit_with(runtime.block_on(options(&settings, action, &by, admin_url.as_deref())))
        }
    }
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
        report.log_failure();
        ExitCode::FAILURE
    }
}

/// `gantry migrate`: applies migrations of the profile's database and exits.
///
/// # Errors
/// The database cannot be reached or a migration fails.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    crate::startup::Storage::connect(settings).await?.database.close().await;
    tracing::info!(event = "migrated", profile = settings.profile.as_str(), "migrations applied");
    Ok(())
}

/// `gantry users add --email E [--password-file F]`.
///
/// # Errors
/// The password is unreadable, breaks the policy, or the database refuses the user.
pub async fn users_add(
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

/// The smoke run's last step for an ephemeral account: delete it through the admin listener at `admin_url`
/// (its sessions are revoked first). Without an admin URL the account stays, and the step says so (it passes:
/// the public API cannot delete accounts).
async fn delete_ephemeral(settings: &Settings, email: &str, admin_url: Option<&str>) -> crate::smoke::Step {
    let started = std::time::Instant::now();
    let step = |ok: bool, detail: String| crate::smoke::Step {
        name: "delete ephemeral account",
        ok,
        ms: started.elapsed().as_millis(),
        detail,
    };
    let Some(admin_url) = admin_url else {
        return step(
            true,
            format!("skipped: no --admin-url; delete {email} with `gantry users find` and `users delete`"),
        );
    };
    let outcome = async {
        let (base, token) = admin_target(settings, Some(admin_url))?;
        let (status, text) =
            crate::admin_client::get(&format!("{base}/admin/users?email={}", email.replace('@', "%40")), &token)
                .await?;
        anyhow::ensure!(status.is_success(), "finding it answered {status}: {text}");
        let id = serde_json::from_str::<serde_json::Value>(&text)?["id"].as_str().unwrap_or_default().to_owned();
        let (status, text) = crate::admin_client::delete(&format!("{base}/admin/users/{id}"), &token).await?;
        anyhow::ensure!(status.is_success(), "deleting it answered {status}: {text}");
        anyhow::Ok(id)
    };
    match outcome.await {
        Ok(id) => step(true, format!("deleted {id}; its sessions revoked")),
        Err(e) => step(false, format!("{e:#}")),
    }
}

/// `gantry users find --email E`: asks a running instance's admin listener; prints `{id, email, created_at}`.
///
/// # Errors
/// No such account, or the instance cannot be reached or refuses the request.
pub async fn users_find(settings: &Settings, email: &str, admin_url: Option<&str>) -> anyhow::Result<()> {
    let (base, token) = admin_target(settings, admin_url)?;
    let query = percent_encode(email);
    let (status, text) = crate::admin_client::get(&format!("{base}/admin/users?email={query}"), &token).await?;
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
pub enum UserAction {
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
pub async fn users_act(
    settings: &Settings,
    id: &str,
    action: UserAction,
    admin_url: Option<&str>,
) -> anyhow::Result<()> {
    let (base, token) = admin_target(settings, admin_url)?;
    let id = uuid::Uuid::parse_str(id.trim()).map_err(|_| anyhow::anyhow!("--id must be a user id (a UUID)"))?;
    let url = format!("{base}/admin/users/{id}");
    let (status, text) = match action {
        UserAction::Delete => crate::admin_client::delete(&url, &token).await?,
        UserAction::Disable => crate::admin_client::post_json(&format!("{url}/disable"), &token, String::new()).await?,
        UserAction::Enable => crate::admin_client::post_json(&format!("{url}/enable"), &token, String::new()).await?,
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
pub async fn sessions_revoke_all(
    settings: &Settings,
    reason: &str,
    user_message: Option<&str>,
    admin_url: Option<&str>,
) -> anyhow::Result<()> {
    let (base, token) = admin_target(settings, admin_url)?;
    let body = serde_json::json!({ "reason": reason, "requested_by": "cli", "user_message": user_message }).to_string();
    let (status, text) =
        crate::admin_client::post_json(&format!("{base}/admin/sessions/revoke-all"), &token, body).await?;
    if status.is_success() {
        println!("{text}");
        Ok(())
    } else {
        anyhow::bail!("the instance answered {status}: {text}")
    }
}

/// An id argument, checked before anything is sent.
fn id_arg(flag: &str, value: &str) -> anyhow::Result<uuid::Uuid> {
    uuid::Uuid::parse_str(value.trim()).map_err(|_| anyhow::anyhow!("--{flag} must be an id (a UUID)"))
}

/// `gantry options …`: one call to a running instance's admin listener; prints the JSON answer.
///
/// # Errors
/// A malformed argument, or the instance cannot be reached or refuses the change (its problem is printed).
pub async fn options(
    settings: &Settings,
    action: OptionsCommand,
    by: &str,
    admin_url: Option<&str>,
) -> anyhow::Result<()> {
    use hyper::Method;
    let (base, token) = admin_target(settings, admin_url)?;
    let who = serde_json::json!({ "requested_by": by });
    let (method, path, body) = match action {
        OptionsCommand::Recent { created_by, since, limit } => {
            let mut query = format!("limit={limit}");
            if let Some(user) = created_by {
                query.push_str(&format!("&created_by={}", id_arg("created-by", &user)?));
            }
            if let Some(since) = since {
                time::OffsetDateTime::parse(&since, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| anyhow::anyhow!("--since must be an RFC 3339 time"))?;
                query.push_str(&format!("&since={}", since.replace('+', "%2B").replace(':', "%3A")));
            }
            (Method::GET, format!("/admin/options?{query}"), None)
        }
        OptionsCommand::Audit { limit } => (Method::GET, format!("/admin/options/audit?limit={limit}"), None),
        OptionsCommand::Rename { id, name } => {
            let body = serde_json::json!({ "name": name, "requested_by": by });
            (Method::PATCH, format!("/admin/options/{}", id_arg("id", &id)?), Some(body))
        }
        OptionsCommand::Merge { id, into } => {
            let body = serde_json::json!({ "into": id_arg("into", &into)?, "requested_by": by });
            (Method::POST, format!("/admin/options/{}/merge", id_arg("id", &id)?), Some(body))
        }
        OptionsCommand::Hide { id } => (Method::POST, format!("/admin/options/{}/hide", id_arg("id", &id)?), Some(who)),
        OptionsCommand::Unhide { id } => {
            (Method::POST, format!("/admin/options/{}/unhide", id_arg("id", &id)?), Some(who))
        }
        OptionsCommand::Approve { id } => {
            (Method::POST, format!("/admin/options/{}/approve", id_arg("id", &id)?), Some(who))
        }
        OptionsCommand::SetEngine { id, has_engine, force } => {
            let body = serde_json::json!({ "has_engine": has_engine, "force": force, "requested_by": by });
            (Method::PATCH, format!("/admin/options/{}", id_arg("id", &id)?), Some(body))
        }
    };
    let url = format!("{base}{path}");
    let (status, text) = match body {
        None => crate::admin_client::get(&url, &token).await?,
        Some(body) => crate::admin_client::send_json(method, &url, &token, body.to_string()).await?,
    };
    if status.is_success() {
        println!("{text}");
        Ok(())
    } else {
        anyhow::bail!("the instance answered {status}: {text}")
    }
}

/// The admin base URL (`--admin-url`, else the configured admin address) and the admin token.
fn admin_target(settings: &Settings, admin_url: Option<&str>) -> anyhow::Result<(String, String)> {
    use anyhow::Context;
    let token = secrets::admin_token(settings, &SecretEnv::from_process())
        .context("no admin token: set GANTRY_ADMIN_TOKEN or GANTRY_ADMIN_TOKEN_FILE")?;
    let base = match admin_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let mut addr = settings.admin_addr;
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            format!("http://{addr}")
        }
    };
    Ok((base, token))
}

/// `gantry secrets rotate …` / `gantry secrets rollback …`: starts the job on a running instance and follows
/// it, printing each step as it starts and ends.
///
/// # Errors
/// The instance cannot be reached, refuses (409 while another rotation runs), or the job failed.
pub async fn secrets_rotate(
    settings: &Settings,
    body: serde_json::Value,
    rollback: bool,
    admin_url: Option<&str>,
) -> anyhow::Result<()> {
    let (base, token) = admin_target(settings, admin_url)?;
    let path = if rollback { "rollback" } else { "rotate" };
    let (status, text) =
        crate::admin_client::post_json(&format!("{base}/admin/secrets/{path}"), &token, body.to_string()).await?;
    if status != hyper::StatusCode::ACCEPTED {
        anyhow::bail!("the instance answered {status}: {text}");
    }
    let accepted: serde_json::Value = serde_json::from_str(&text)?;
    let job_id = accepted["job_id"].as_str().unwrap_or_default().to_owned();
    println!(
        "{} {job_id} started; following {base}/admin/jobs/{job_id}",
        if rollback { "rollback" } else { "rotation" }
    );
    let mut shown: Vec<(String, String)> = Vec::new();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let (status, text) = crate::admin_client::get(&format!("{base}/admin/jobs/{job_id}"), &token).await?;
        anyhow::ensure!(status.is_success(), "the instance answered {status}: {text}");
        let job: serde_json::Value = serde_json::from_str(&text)?;
        for step in job["progress"]["steps"].as_array().into_iter().flatten() {
            let name = step["name"].as_str().unwrap_or("?").to_owned();
            let state = step["state"].as_str().unwrap_or("?").to_owned();
            if shown.iter().any(|(n, s)| *n == name && *s == state) {
                continue;
            }
            let mark = match state.as_str() {
                "running" => "…",
                "succeeded" => "✓",
                _ => "✗",
            };
            let detail = match &step["detail"] {
                serde_json::Value::String(s) if state != "running" => format!("  {s}"),
                _ => String::new(),
            };
            println!("  {mark} {name:<10} {state}{detail}");
            shown.retain(|(n, _)| *n != name);
            shown.push((name, state));
        }
        match job["state"].as_str() {
            Some("completed") => {
                println!("succeeded; evidence: gantry rotations show {job_id}");
                return Ok(());
            }
            Some("discarded") => {
                anyhow::bail!("{}; evidence: gantry rotations show {job_id}", job["error"].as_str().unwrap_or("failed"))
            }
            _ => {}
        }
    }
}

/// `gantry rotations list [--json]` and `gantry rotations show ID [--json]`.
///
/// # Errors
/// The instance cannot be reached or answers with an error (404 for an unknown id).
pub async fn rotations(
    settings: &Settings,
    id: Option<&str>,
    json: bool,
    admin_url: Option<&str>,
) -> anyhow::Result<()> {
    let (base, token) = admin_target(settings, admin_url)?;
    let url = match id {
        Some(id) => format!("{base}/admin/rotations/{id}"),
        None => format!("{base}/admin/rotations"),
    };
    let (status, text) = crate::admin_client::get(&url, &token).await?;
    anyhow::ensure!(status.is_success(), "the instance answered {status}: {text}");
    if json {
        println!("{text}");
        return Ok(());
    }
    let value: serde_json::Value = serde_json::from_str(&text)?;
    let line = |r: &serde_json::Value| {
        format!(
            "{:<36}  {:<8}  {:<9}  {:<10}  {:<16}  {}",
            r["id"].as_str().unwrap_or(""),
            r["kind"].as_str().unwrap_or(""),
            r["outcome"].as_str().unwrap_or(""),
            r["failed_step"].as_str().unwrap_or("-"),
            r["deployment_id"].as_str().unwrap_or("-"),
            r["started_at"].as_str().unwrap_or(""),
        )
    };
    println!("{:<36}  {:<8}  {:<9}  {:<10}  {:<16}  started", "id", "kind", "outcome", "failed at", "deployment");
    if id.is_some() {
        println!("{}", line(&value));
        if let Some(reason) = value["reason"].as_str() {
            println!("reason: {reason}");
        }
        for change in value["detail"]["changes"].as_object().into_iter().flat_map(|m| m.iter()) {
            for c in change.1.as_array().into_iter().flatten() {
                println!(
                    "instance {}  {} {}  {} → {}  at {}",
                    change.0,
                    c["name"].as_str().unwrap_or(""),
                    c["action"].as_str().unwrap_or(""),
                    c["from"].as_str().unwrap_or("-"),
                    c["to"].as_str().unwrap_or("-"),
                    c["at"].as_str().unwrap_or("")
                );
            }
        }
        println!("smoke: {}", if value["detail"]["smoke"]["ok"] == true { "passed" } else { "failed or not run" });
        if let Some(epoch) = value["detail"]["notice"]["not_before_ms"].as_i64() {
            println!(
                "sessions revoked before {epoch} ms (notice {})",
                value["detail"]["notice"]["id"].as_str().unwrap_or("")
            );
        }
    } else {
        for r in value["rotations"].as_array().into_iter().flatten() {
            println!("{}", line(r));
        }
    }
    Ok(())
}

/// `gantry jobs list|show|retry|cancel`: asks a running instance's admin listener.
///
/// # Errors
/// The instance cannot be reached; no such job (404); the job is in the wrong state (409).
pub async fn jobs(settings: &Settings, command: JobsCommand) -> anyhow::Result<()> {
    use crate::admin_client::{get, post_json};
    let (admin_url, json) = match &command {
        JobsCommand::List { admin_url, json, .. } | JobsCommand::Show { admin_url, json, .. } => (admin_url, *json),
        JobsCommand::Retry { admin_url, .. } | JobsCommand::Cancel { admin_url, .. } => (admin_url, true),
    };
    let (base, token) = admin_target(settings, admin_url.as_deref())?;
    let job_url = |id: &str, tail: &str| -> anyhow::Result<String> {
        let id = uuid::Uuid::parse_str(id.trim()).map_err(|_| anyhow::anyhow!("the job id must be a UUID"))?;
        Ok(format!("{base}/admin/jobs/{id}{tail}"))
    };
    let (status, text) = match &command {
        JobsCommand::List { state, kind, limit, .. } => {
            let mut url = format!("{base}/admin/jobs?limit={limit}");
            for (key, value) in [("state", state), ("kind", kind)] {
                if let Some(value) = value {
                    url.push_str(&format!("&{key}={}", percent_encode(value)));
                }
            }
            get(&url, &token).await?
        }
        JobsCommand::Show { id, .. } => get(&job_url(id, "")?, &token).await?,
        JobsCommand::Retry { id, .. } => post_json(&job_url(id, "/retry")?, &token, "{}".into()).await?,
        JobsCommand::Cancel { id, .. } => post_json(&job_url(id, "/cancel")?, &token, "{}".into()).await?,
    };
    if !status.is_success() {
        let problem: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        match problem["code"].as_str() {
            Some(code) => anyhow::bail!("{code}: {}", problem["detail"].as_str().unwrap_or("refused")),
            None => anyhow::bail!("the instance answered {status}: {text}"),
        }
    }
    if json {
        println!("{text}");
        return Ok(());
    }
    let value: serde_json::Value = serde_json::from_str(&text)?;
    let line = |j: &serde_json::Value| {
        format!(
            "{:<36}  {:<18}  {:<11}  {:<9}  {:>3}/{:<3}  {:<27}  {}",
            j["id"].as_str().unwrap_or(""),
            j["kind"].as_str().unwrap_or(""),
            j["queue"].as_str().unwrap_or(""),
            j["state"].as_str().unwrap_or(""),
            j["attempt"],
            j["max_attempts"],
            j["created_at"].as_str().unwrap_or(""),
            j["error"].as_str().unwrap_or(""),
        )
    };
    println!("{:<36}  {:<18}  {:<11}  {:<9}  {:>7}  {:<27}  error", "id", "kind", "queue", "state", "tries", "created");
    if let JobsCommand::Show { .. } = command {
        println!("{}", line(&value));
        for a in value["attempts"].as_array().into_iter().flatten() {
            println!(
                "  attempt {:>3}  {:<13}  instance {}  {} → {}  {}",
                a["attempt"],
                a["outcome"].as_str().unwrap_or(""),
                a["instance_id"].as_str().unwrap_or(""),
                a["started_at"].as_str().unwrap_or(""),
                a["finished_at"].as_str().unwrap_or(""),
                a["error"].as_str().unwrap_or(""),
            );
        }
    } else {
        for j in value["jobs"].as_array().into_iter().flatten() {
            println!("{}", line(j));
        }
    }
    Ok(())
}

/// `value` percent-encoded for a query string.
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Reads and parses a template file (the parse error says where).
fn read_template_file(file: &std::path::Path) -> anyhow::Result<gantry_actors::catalog::templates::TemplateSet> {
    use anyhow::Context;
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    gantry_actors::catalog::templates::TemplateSet::from_json(&text)
        .with_context(|| format!("{} is not a template set", file.display()))
}

/// `gantry templates check FILE`: the set merged over the bundled one, checked offline (categories are
/// unknown here, so each is checked with the engine block attached). Exit 1 listing every problem.
///
/// # Errors
/// The file cannot be read or parsed, or the set fails its checks.
pub fn templates_check(file: &std::path::Path) -> anyhow::Result<()> {
    use gantry_actors::catalog::templates::{TemplateSet, check, document::BUNDLED};
    let mut set = TemplateSet::from_json(BUNDLED)?;
    set.merge(read_template_file(file)?);
    match check(&set, &|_| None) {
        Ok(()) => {
            println!(
                "{}: {} templates, {} shared blocks, no problems",
                file.display(),
                set.templates.len(),
                set.shared_blocks.len()
            );
            Ok(())
        }
        Err(issues) => {
            for issue in &issues {
                eprintln!("{issue} [{}]", issue.code);
            }
            anyhow::bail!("{} problems in {}", issues.len(), file.display())
        }
    }
}

/// `gantry templates import FILE [--replace]`: asks a running instance's admin listener to check and store
/// the set.
///
/// # Errors
/// The file cannot be read, the instance cannot be reached, or it refuses the set (every problem printed).
pub async fn templates_import(
    settings: &Settings,
    file: &std::path::Path,
    replace: bool,
    admin_url: Option<&str>,
) -> anyhow::Result<()> {
    let set = read_template_file(file)?;
    let (base, token) = admin_target(settings, admin_url)?;
    let url = format!("{base}/admin/templates{}", if replace { "?replace=true" } else { "" });
    let (status, text) = crate::admin_client::post_json(&url, &token, serde_json::to_string(&set)?).await?;
    if status.is_success() {
        println!("{text}");
        return Ok(());
    }
    if let Ok(problem) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(problems) = problem.get("problems").and_then(serde_json::Value::as_array)
    {
        for p in problems {
            let field = p
                .get("field")
                .and_then(serde_json::Value::as_str)
                .map(|f| format!(", field \"{f}\""))
                .unwrap_or_default();
            eprintln!(
                "template \"{}\"{field}: {} [{}]",
                p.get("template").and_then(serde_json::Value::as_str).unwrap_or("?"),
                p.get("message").and_then(serde_json::Value::as_str).unwrap_or("?"),
                p.get("code").and_then(serde_json::Value::as_str).unwrap_or("?"),
            );
        }
        anyhow::bail!("the instance refused the template set ({} problems)", problems.len());
    }
    anyhow::bail!("the instance answered {status}: {text}")
}

/// `gantry seed`: loads the bundled seed catalog into the profile's database (idempotent).
///
/// # Errors
/// The database cannot be reached.
pub async fn seed(settings: &Settings) -> anyhow::Result<()> {
    let storage = crate::startup::Storage::connect(settings).await?;
    let seeded = gantry_actors::catalog::seed::seed(storage.ports.catalog.as_ref()).await;
    storage.database.close().await;
    let report = seeded.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{}", serde_json::json!({ "created": report.created, "existing": report.existing }));
    Ok(())
}

/// `gantry smoke --base-url URL [--email E --password-file F] [--json]`: exit 0 when every step passed.
#[must_use]
pub async fn smoke(
    settings: &Settings,
    base_url: &str,
    email: Option<String>,
    password_file: Option<&std::path::Path>,
    json: bool,
    admin_url: Option<&str>,
) -> ExitCode {
    let account = match (email, password_file) {
        (Some(email), Some(path)) => match secrets::read_file(path) {
            Ok(password) => SmokeAccount { email, password, register: false },
            Err(e) => {
                eprintln!("gantry: cannot read {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        },
        _ => SmokeAccount::ephemeral(),
    };
    match crate::smoke::run(base_url, &account).await {
        Ok(mut report) => {
            if account.register {
                report.steps.push(delete_ephemeral(settings, &account.email, admin_url).await);
                report.ok = report.steps.iter().all(|s| s.ok);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
            } else {
                print!("{}", crate::smoke::table(&report));
            }
            if report.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(e) => {
            eprintln!("gantry: {e:#}");
            ExitCode::FAILURE
        }
    }
}
