//! `gantry jobs list|show|retry|cancel`.

use super::target::admin_client;
use crate::cli::admin_client::Problem;
use crate::cli::admin_client::types::{Attempt, Job, JobDetail, JobQuery, rfc3339};
use crate::cli::args::JobsCommand;
use crate::config::Settings;

/// `gantry jobs list|show|retry|cancel`: asks a running instance's admin listener.
///
/// # Errors
/// The instance cannot be reached; no such job (404); the job is in the wrong state (409).
pub(super) async fn jobs(settings: &Settings, command: JobsCommand) -> anyhow::Result<()> {
    let (admin_url, json) = match &command {
        JobsCommand::List { admin_url, json, .. } | JobsCommand::Show { admin_url, json, .. } => (admin_url, *json),
        JobsCommand::Retry { admin_url, .. } | JobsCommand::Cancel { admin_url, .. } => (admin_url, true),
    };
    let client = admin_client(settings, admin_url.as_deref())?;
    let job_id = |id: &str| uuid::Uuid::parse_str(id.trim()).map_err(|_| anyhow::anyhow!("the job id must be a UUID"));
    match &command {
        JobsCommand::List { state, kind, limit, .. } => {
            let query = JobQuery { state: state.as_deref(), kind: kind.as_deref(), limit: *limit };
            let listed = client.jobs(&query).await.map_err(refused)?;
            if json {
                println!("{}", listed.body);
            } else {
                println!("{}", jobs_header());
                for job in &listed.value.jobs {
                    println!("{}", job_line(job));
                }
            }
        }
        JobsCommand::Show { id, .. } => {
            let shown = client.job(job_id(id)?).await.map_err(refused)?;
            if json {
                println!("{}", shown.body);
            } else {
                println!("{}", jobs_header());
                print!("{}", job_detail(&shown.value));
            }
        }
        JobsCommand::Retry { id, .. } => println!("{}", client.retry_job(job_id(id)?).await.map_err(refused)?.body),
        JobsCommand::Cancel { id, .. } => println!("{}", client.cancel_job(job_id(id)?).await.map_err(refused)?.body),
    }
    Ok(())
}

/// A refusal as `gantry jobs` reports it: `code: detail` from the problem document (the job commands' callers
/// match on the code), else as the problem says it.
fn refused(problem: Problem) -> anyhow::Error {
    let coded = problem.document().and_then(|document| {
        let code = document.code.as_deref()?;
        Some(format!("{code}: {}", document.detail.as_deref().unwrap_or("refused")))
    });
    coded.map_or_else(|| problem.into(), anyhow::Error::msg)
}

/// The head of the jobs table.
fn jobs_header() -> String {
    format!("{:<36}  {:<18}  {:<11}  {:<9}  {:>7}  {:<27}  error", "id", "kind", "queue", "state", "tries", "created")
}

/// One job as a table row. The tries (`attempt/max_attempts`) are not padded: the table has always printed
/// them as the JSON numbers they were, which ignore a width.
fn job_line(job: &Job) -> String {
    format!(
        "{:<36}  {:<18}  {:<11}  {:<9}  {}/{}  {:<27}  {}",
        job.id,
        job.kind,
        job.queue,
        job.state.as_str(),
        job.attempt,
        job.max_attempts,
        rfc3339(job.created_at),
        job.error.as_deref().unwrap_or(""),
    )
}

/// One job as `gantry jobs show` prints it under the header: its row, then a line per finished attempt (the
/// attempt number unpadded, as in [`job_line`]).
fn job_detail(detail: &JobDetail) -> String {
    let mut out = format!("{}\n", job_line(&detail.job));
    for attempt in &detail.attempts {
        out.push_str(&attempt_line(attempt));
        out.push('\n');
    }
    out
}

/// One finished attempt.
fn attempt_line(attempt: &Attempt) -> String {
    format!(
        "  attempt {}  {:<13}  instance {}  {} → {}  {}",
        attempt.attempt,
        attempt.outcome.as_str(),
        attempt.instance_id,
        rfc3339(attempt.started_at),
        rfc3339(attempt.finished_at),
        attempt.error.as_deref().unwrap_or(""),
    )
}

#[cfg(test)]
mod tests;
