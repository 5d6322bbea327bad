//! `gantry options …`, `gantry templates check|import` and `gantry seed`.

use super::target::{admin_target, id_arg};
use crate::cli::args::OptionsCommand;
use crate::config::Settings;

/// `gantry options …`: one call to a running instance's admin listener; prints the JSON answer.
///
/// # Errors
/// A malformed argument, or the instance cannot be reached or refuses the change (its problem is printed).
pub(super) async fn options(
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
        None => crate::cli::admin_client::get(&url, &token).await?,
        Some(body) => crate::cli::admin_client::send_json(method, &url, &token, body.to_string()).await?,
    };
    if status.is_success() {
        println!("{text}");
        Ok(())
    } else {
        anyhow::bail!("the instance answered {status}: {text}")
    }
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
pub(super) fn templates_check(file: &std::path::Path) -> anyhow::Result<()> {
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
pub(super) async fn templates_import(
    settings: &Settings,
    file: &std::path::Path,
    replace: bool,
    admin_url: Option<&str>,
) -> anyhow::Result<()> {
    let set = read_template_file(file)?;
    let (base, token) = admin_target(settings, admin_url)?;
    let url = format!("{base}/admin/templates{}", if replace { "?replace=true" } else { "" });
    let (status, text) = crate::cli::admin_client::post_json(&url, &token, serde_json::to_string(&set)?).await?;
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
pub(super) async fn seed(settings: &Settings) -> anyhow::Result<()> {
    let storage = crate::startup::Storage::connect(settings).await?;
    let seeded = gantry_actors::catalog::seed::seed(storage.ports.catalog.as_ref()).await;
    storage.database.close().await;
    let report = seeded.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{}", serde_json::json!({ "created": report.created, "existing": report.existing }));
    Ok(())
}
