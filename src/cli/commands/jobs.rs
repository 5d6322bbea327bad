//! `gantry jobs list|show|retry|cancel`.

use super::target::{admin_target, percent_encode};
use crate::cli::args::JobsCommand;
use crate::config::Settings;

/// `gantry jobs list|show|retry|cancel`: asks a running instance's admin listener.
///
/// # Errors
/// The instance cannot be reached; no such job (404); the job is in the wrong state (409).
pub(super) async fn jobs(settings: &Settings, command: JobsCommand) -> anyhow::Result<()> {
    use crate::cli::admin_client::{get, post_json};
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
