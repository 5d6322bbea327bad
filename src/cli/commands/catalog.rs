//! `gantry options …`, `gantry templates check|import` and `gantry seed`.

use super::target::{admin_client, id_arg};
use crate::cli::admin_client::types::{
    CreateOption, MergeOption, RecentOptions, RenameOption, RequestedBy, SetEngine, SetTranslation,
};
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
    let client = admin_client(settings, admin_url)?;
    let who = RequestedBy { requested_by: by };
    let answer = match action {
        OptionsCommand::Recent { created_by, since, limit } => {
            let created_by = created_by.map(|user| id_arg("created-by", &user)).transpose()?;
            if let Some(since) = &since {
                time::OffsetDateTime::parse(since, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| anyhow::anyhow!("--since must be an RFC 3339 time"))?;
            }
            client.recent_options(&RecentOptions { created_by, since: since.as_deref(), limit }).await
        }
        OptionsCommand::Audit { limit } => client.option_audit(limit).await,
        OptionsCommand::Rename { id, name } => {
            client.rename_option(id_arg("id", &id)?, &RenameOption { name: &name, requested_by: by }).await
        }
        OptionsCommand::Merge { id, into } => {
            let into = id_arg("into", &into)?;
            client.merge_option(id_arg("id", &id)?, &MergeOption { into, requested_by: by }).await
        }
        OptionsCommand::Hide { id } => client.hide_option(id_arg("id", &id)?, &who).await,
        OptionsCommand::Unhide { id } => client.unhide_option(id_arg("id", &id)?, &who).await,
        OptionsCommand::Approve { id } => client.approve_option(id_arg("id", &id)?, &who).await,
        OptionsCommand::Create { kind, name, parent_id, has_engine } => {
            let parent_id = parent_id.map(|parent| id_arg("parent-id", &parent)).transpose()?;
            let request = CreateOption { kind: &kind, name: &name, parent_id, has_engine, requested_by: by };
            client.create_option(&request).await
        }
        OptionsCommand::Translate { id, locale, name } => {
            let locale = locale_arg(&locale)?;
            client.set_translation(id_arg("id", &id)?, &locale, &SetTranslation { name: &name, requested_by: by }).await
        }
        OptionsCommand::Untranslate { id, locale } => {
            client.remove_translation(id_arg("id", &id)?, &locale_arg(&locale)?, &who).await
        }
        OptionsCommand::SetEngine { id, has_engine, force } => {
            client.set_engine(id_arg("id", &id)?, &SetEngine { has_engine, force, requested_by: by }).await
        }
    };
    println!("{}", answer?);
    Ok(())
}

/// A `--locale` argument as its canonical tag.
fn locale_arg(locale: &str) -> anyhow::Result<String> {
    gantry_actors::catalog::locale::parse_tag(locale).map_err(|e| anyhow::anyhow!("--locale: {e}"))
}

/// Reads and parses a template file (the parse error says where).
fn read_template_file(file: &std::path::Path) -> anyhow::Result<gantry_actors::catalog::templates::TemplateSet> {
    use anyhow::Context;
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    gantry_actors::catalog::templates::TemplateSet::from_json(&text)
        .with_context(|| format!("{} is not a template set", file.display()))
}

/// `gantry templates check FILE`: the set merged over the bundled one, checked offline (categories are
/// unknown here, so each is checked with the engine block attached), and the file's texts checked for their
/// languages (locale tags, `catalog.default_locale` in every map). Exit 1 listing every problem.
///
/// # Errors
/// The file cannot be read or parsed, or the set fails its checks.
pub(super) fn templates_check(settings: &Settings, file: &std::path::Path) -> anyhow::Result<()> {
    use gantry_actors::catalog::templates::{TemplateSet, check, check_locales, document::BUNDLED};
    let mut set = TemplateSet::from_json(BUNDLED)?;
    let own = read_template_file(file)?;
    let languages = check_locales(&own, &settings.catalog.default_locale);
    set.merge(own);
    let checked = match (check(&set, &|_| None), languages.is_empty()) {
        (Ok(()), true) => Ok(()),
        (Ok(()), false) => Err(languages),
        (Err(mut issues), _) => {
            issues.extend(languages);
            Err(issues)
        }
    };
    match checked {
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
    let client = admin_client(settings, admin_url)?;
    let problem = match client.import_templates(&set, replace).await {
        Ok(stored) => {
            println!("{stored}");
            return Ok(());
        }
        Err(problem) => problem,
    };
    if let Some(problems) = problem.document().and_then(|document| document.problems.as_ref()) {
        for p in problems {
            let field = p.field.as_deref().map(|f| format!(", field \"{f}\"")).unwrap_or_default();
            eprintln!(
                "template \"{}\"{field}: {} [{}]",
                p.template.as_deref().unwrap_or("?"),
                p.message.as_deref().unwrap_or("?"),
                p.code.as_deref().unwrap_or("?"),
            );
        }
        anyhow::bail!("the instance refused the template set ({} problems)", problems.len());
    }
    Err(problem.into())
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
    println!(
        "{}",
        serde_json::json!({ "created": report.created, "existing": report.existing, "translated": report.translated })
    );
    Ok(())
}
