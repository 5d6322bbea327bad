//! `gantry secrets check|rotate|rollback` and `gantry rotations list|show`.

use std::process::ExitCode;

use super::target::admin_client;
use crate::cli::admin_client::types::{
    JobState, RotateRequest, RotationDetail, RotationProgress, RotationRecord, rfc3339,
};
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
    request: RotateRequest,
    rollback: bool,
    admin_url: Option<&str>,
) -> anyhow::Result<()> {
    let client = admin_client(settings, admin_url)?;
    let accepted = if rollback { client.rollback(&request).await? } else { client.rotate(&request).await? };
    let job_id = accepted.job_id;
    println!(
        "{} {job_id} started; following {}/admin/jobs/{job_id}",
        if rollback { "rollback" } else { "rotation" },
        client.base()
    );
    let mut shown: Vec<(String, String)> = Vec::new();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let job = client.job(job_id).await?.value.job;
        for step in RotationProgress::of(&job).steps {
            let name = step.name.clone().unwrap_or_else(|| "?".to_owned());
            let state = step.state.clone().unwrap_or_else(|| "?".to_owned());
            if shown.iter().any(|(n, s)| *n == name && *s == state) {
                continue;
            }
            let mark = match state.as_str() {
                "running" => "…",
                "succeeded" => "✓",
                _ => "✗",
            };
            let detail = match step.detail_text() {
                Some(text) if state != "running" => format!("  {text}"),
                _ => String::new(),
            };
            println!("  {mark} {name:<10} {state}{detail}");
            shown.retain(|(n, _)| *n != name);
            shown.push((name, state));
        }
        match job.state {
            JobState::Completed => {
                println!("succeeded; evidence: gantry rotations show {job_id}");
                return Ok(());
            }
            JobState::Discarded => {
                anyhow::bail!("{}; evidence: gantry rotations show {job_id}", job.error.as_deref().unwrap_or("failed"))
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
    let client = admin_client(settings, admin_url)?;
    let Some(id) = id else {
        let listed = client.rotations().await?;
        if json {
            println!("{}", listed.body);
        } else {
            println!("{}", rotations_header());
            for record in &listed.value.rotations {
                println!("{}", rotation_line(record));
            }
        }
        return Ok(());
    };
    let shown = client.rotation(id).await?;
    if json {
        println!("{}", shown.body);
    } else {
        println!("{}", rotations_header());
        print!("{}", rotation_evidence(&shown.value));
    }
    Ok(())
}

/// The head of the rotations table.
fn rotations_header() -> String {
    format!("{:<36}  {:<8}  {:<9}  {:<10}  {:<16}  started", "id", "kind", "outcome", "failed at", "deployment")
}

/// One rotation as a table row.
fn rotation_line(record: &RotationRecord) -> String {
    format!(
        "{:<36}  {:<8}  {:<9}  {:<10}  {:<16}  {}",
        record.id,
        record.kind,
        record.outcome,
        record.failed_step.as_deref().unwrap_or("-"),
        record.deployment_id.as_deref().unwrap_or("-"),
        rfc3339(record.started_at),
    )
}

/// One rotation's evidence, as `gantry rotations show` prints it under the header: its row, why it failed,
/// every version change, the smoke result and the session notice.
fn rotation_evidence(record: &RotationRecord) -> String {
    let mut out = format!("{}\n", rotation_line(record));
    if let Some(reason) = &record.reason {
        out.push_str(&format!("reason: {reason}\n"));
    }
    let detail = RotationDetail::of(record);
    for (instance, changes) in &detail.changes {
        for change in changes {
            out.push_str(&format!(
                "instance {instance}  {} {}  {} → {}  at {}\n",
                change.name.as_deref().unwrap_or(""),
                change.action.as_deref().unwrap_or(""),
                change.from.as_deref().unwrap_or("-"),
                change.to.as_deref().unwrap_or("-"),
                change.at.as_deref().unwrap_or(""),
            ));
        }
    }
    let passed = detail.smoke.is_some_and(|smoke| smoke.ok);
    out.push_str(&format!("smoke: {}\n", if passed { "passed" } else { "failed or not run" }));
    if let Some(notice) = &detail.notice
        && let Some(epoch) = notice.not_before_ms
    {
        out.push_str(&format!("sessions revoked before {epoch} ms (notice {})\n", notice.id.as_deref().unwrap_or("")));
    }
    out
}

#[cfg(test)]
mod tests;
