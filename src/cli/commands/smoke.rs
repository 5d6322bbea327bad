//! `gantry smoke`: the runbook's smoke tests against any deployment, with the ephemeral account created and
//! deleted through the admin listener.

use std::process::ExitCode;

use gantry_actors::ports::smoke::SmokeAccount;

use super::target::admin_client;
use crate::adapters::smoke::{Report, Step};
use crate::cli::admin_client::{AdminClient, Problem};
use crate::config::Settings;
use crate::config::secrets;

/// A step's outcome, timed from `started`.
fn step(name: &'static str, started: std::time::Instant, ok: bool, detail: String) -> Step {
    Step { name, ok, ms: started.elapsed().as_millis(), detail }
}

/// The smoke run's first step for an ephemeral account: create it through the admin listener (`POST
/// /admin/users`, as the operator: never counted against the public registration limit).
async fn create_ephemeral(client: &AdminClient, account: &SmokeAccount) -> Step {
    let started = std::time::Instant::now();
    match client.create_user(&account.email, &account.password).await {
        Ok(created) => step("create ephemeral account", started, true, format!("201 {}", created.value.user_id)),
        Err(problem) => {
            step("create ephemeral account", started, false, format!("{:#}", answered("creating it", problem)))
        }
    }
}

/// The smoke run's last step for an ephemeral account: delete it through the admin listener (its sessions are
/// revoked first).
async fn delete_ephemeral(client: &AdminClient, email: &str) -> Step {
    let started = std::time::Instant::now();
    let outcome = async {
        let found = client.find_user(email).await.map_err(|problem| answered("finding it", problem))?;
        let id = found.value.id;
        client.delete_user(id).await.map_err(|problem| answered("deleting it", problem))?;
        anyhow::Ok(id)
    };
    match outcome.await {
        Ok(id) => step("delete ephemeral account", started, true, format!("deleted {id}; its sessions revoked")),
        Err(e) => step("delete ephemeral account", started, false, format!("{e:#}")),
    }
}

/// A refusal as the deletion step words it (`finding it answered 503 …`); other problems as they are.
fn answered(what: &str, problem: Problem) -> anyhow::Error {
    match problem {
        Problem::Refused { status, body, .. } => anyhow::anyhow!("{what} answered {status}: {body}"),
        other => other.into(),
    }
}

/// `gantry smoke --base-url URL [--email E --password-file F] [--json]`: exit 0 when every step passed.
#[must_use]
pub(super) async fn smoke(
    settings: &Settings,
    base_url: &str,
    email: Option<String>,
    password_file: Option<&std::path::Path>,
    json: bool,
    admin_url: Option<&str>,
) -> ExitCode {
    let account = match (email, password_file) {
        (Some(email), Some(path)) => match secrets::read_file(path) {
            Ok(password) => SmokeAccount { email, password, ephemeral: false },
            Err(e) => {
                eprintln!("gantry: cannot read {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        },
        _ => SmokeAccount::ephemeral(),
    };
    // The ephemeral account is created and deleted through the admin listener (`--admin-url`, else the
    // configured admin address, as the other admin commands).
    let admin = if account.ephemeral {
        match admin_client(settings, admin_url) {
            Ok(client) => Some(client),
            Err(e) => {
                eprintln!("gantry: {e:#}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let created = match &admin {
        Some(client) => Some(create_ephemeral(client, &account).await),
        None => None,
    };
    let outcome = match created {
        Some(failed) if !failed.ok => Ok(Report {
            ok: false,
            base_url: base_url.trim_end_matches('/').to_owned(),
            email: account.email.clone(),
            started_at: time::OffsetDateTime::now_utc(),
            steps: vec![failed],
        }),
        created => crate::adapters::smoke::run(base_url, &account).await.map(|mut report| {
            report.steps.splice(0..0, created);
            report
        }),
    };
    match outcome {
        Ok(mut report) => {
            if let Some(client) = &admin
                && report.steps.first().is_some_and(|s| s.ok)
            {
                report.steps.push(delete_ephemeral(client, &account.email).await);
            }
            report.ok = report.steps.iter().all(|s| s.ok);
            if json {
                println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
            } else {
                print!("{}", table(&report));
            }
            if report.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(e) => {
            eprintln!("gantry: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The report as a terminal table.
fn table(report: &Report) -> String {
    let mut out = format!("smoke tests against {} as {}\n", report.base_url, report.email);
    for step in &report.steps {
        out.push_str(&format!(
            "  {:<4} {:<38} {:>6} ms  {}\n",
            if step.ok { "ok" } else { "FAIL" },
            step.name,
            step.ms,
            step.detail
        ));
    }
    out.push_str(if report.ok { "all passed\n" } else { "FAILED\n" });
    out
}
