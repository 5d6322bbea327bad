//! `gantry secrets check|rotate|rollback` and `gantry rotations list|show`.

use std::process::ExitCode;

use super::target::admin_target;
use crate::config::Settings;
use crate::config::secrets::{self, SecretEnv};

/// `gantry secrets check [--json]`: validates without starting anything or generating files.
#[must_use]
pub(super) fn secrets_check(settings: &Settings, json: bool) -> ExitCode {
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

/// `gantry secrets rotate …` / `gantry secrets rollback …`: starts the job on a running instance and follows
/// it, printing each step as it starts and ends.
///
/// # Errors
/// The instance cannot be reached, refuses (409 while another rotation runs), or the job failed.
pub(super) async fn secrets_rotate(
    settings: &Settings,
    body: serde_json::Value,
    rollback: bool,
    admin_url: Option<&str>,
) -> anyhow::Result<()> {
    let (base, token) = admin_target(settings, admin_url)?;
    let path = if rollback { "rollback" } else { "rotate" };
    let (status, text) =
        crate::cli::admin_client::post_json(&format!("{base}/admin/secrets/{path}"), &token, body.to_string()).await?;
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
        let (status, text) = crate::cli::admin_client::get(&format!("{base}/admin/jobs/{job_id}"), &token).await?;
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
pub(super) async fn rotations(
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
    let (status, text) = crate::cli::admin_client::get(&url, &token).await?;
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
