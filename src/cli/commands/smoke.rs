//! `gantry smoke`: the runbook's smoke tests against any deployment, and the ephemeral account's deletion.

use std::process::ExitCode;

use gantry_actors::ports::smoke::SmokeAccount;

use super::target::admin_client;
use crate::adapters::smoke::{Report, Step};
use crate::cli::admin_client::Problem;
use crate::config::Settings;
use crate::config::secrets;

/// The smoke run's last step for an ephemeral account: delete it through the admin listener at `admin_url`
/// (its sessions are revoked first). Without an admin URL the account stays, and the step says so (it passes:
/// the public API cannot delete accounts).
async fn delete_ephemeral(settings: &Settings, email: &str, admin_url: Option<&str>) -> Step {
    let started = std::time::Instant::now();
    let step = |ok: bool, detail: String| Step {
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
        let client = admin_client(settings, Some(admin_url))?;
        let found = client.find_user(email).await.map_err(|problem| answered("finding it", problem))?;
        let id = found.value.id;
        client.delete_user(id).await.map_err(|problem| answered("deleting it", problem))?;
        anyhow::Ok(id)
    };
    match outcome.await {
        Ok(id) => step(true, format!("deleted {id}; its sessions revoked")),
        Err(e) => step(false, format!("{e:#}")),
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
            Ok(password) => SmokeAccount { email, password, register: false },
            Err(e) => {
                eprintln!("gantry: cannot read {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        },
        _ => SmokeAccount::ephemeral(),
    };
    match crate::adapters::smoke::run(base_url, &account).await {
        Ok(mut report) => {
            if account.register {
                report.steps.push(delete_ephemeral(settings, &account.email, admin_url).await);
                report.ok = report.steps.iter().all(|s| s.ok);
            }
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
