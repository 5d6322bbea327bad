//! The catalog actor's template work: the set in use (the stored one checked against today's catalog, its
//! failing templates left out, else the bundled one), the forms resolved from it, imports (checked, stored,
//! announced as `templates_changed`), and the forms a category's engine flag change would take fields from.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use uuid::Uuid;

use super::{CatalogState, NAME};
use crate::catalog::error::CacheError;
use crate::catalog::forms::{Form, FormTarget, Imported, LoadedSet, TemplateOrigin, bundled, degrade};
use crate::catalog::lists::MAX_ENTRIES;
use crate::catalog::templates::{self, CompiledTemplate, TemplateIssue, TemplateSet};
use crate::ports::bus::Event;
use crate::ports::catalog::{BrokenForm, ModerationError, OptionKind};

impl CatalogState {
    /// The forms the category `id`'s engine flag set to `has_engine` would take fields from, in the set in use
    /// (stored or bundled): the fields each of its forms would lose (the engine block goes with the flag),
    /// and the fields of stored templates that pass their checks now and would fail them then. Each form with
    /// its fields, by form name.
    pub(super) async fn forms_broken_by_engine(
        &mut self,
        id: Uuid,
        has_engine: bool,
    ) -> Result<Vec<BrokenForm>, ModerationError> {
        let unavailable = |e: CacheError| ModerationError::Unavailable(e.to_string());
        let categories = self.load_now((OptionKind::Category, None)).await.map_err(unavailable)?;
        let Some(category) = categories.items.iter().find(|c| c.id == id).cloned() else { return Ok(Vec::new()) };
        if category.has_engine == has_engine {
            return Ok(Vec::new());
        }
        let loaded = self.template_set().await.map_err(unavailable)?;
        let mut broken: BTreeMap<String, Vec<String>> =
            templates::fields_lost(&loaded.set, &category.name, category.has_engine, has_engine).into_iter().collect();
        let now: HashMap<String, bool> = categories.items.iter().map(|c| (c.name_key.clone(), c.has_engine)).collect();
        let mut then = now.clone();
        then.insert(category.name_key.clone(), has_engine);
        let failing = |engines: &HashMap<String, bool>| -> Vec<(String, Option<String>)> {
            match templates::check(&loaded.set, &|key| engines.get(key).copied()) {
                Ok(()) => Vec::new(),
                Err(issues) => issues.into_iter().map(|i| (i.template, i.field)).collect(),
            }
        };
        let before: Vec<String> = failing(&now).into_iter().map(|(template, _)| template).collect();
        for (template, field) in failing(&then).into_iter().filter(|(t, _)| !before.contains(t)) {
            let fields = broken.entry(template).or_default();
            if let Some(field) = field.filter(|f| !fields.contains(f)) {
                fields.push(field);
            }
        }
        Ok(broken.into_iter().map(|(form, fields)| BrokenForm { form, fields }).collect())
    }

    /// Whether each category (by identity key) has an engine, for the template checks.
    async fn engines(&mut self) -> Result<HashMap<String, bool>, CacheError> {
        let categories = self.load_now((OptionKind::Category, None)).await?;
        Ok(categories.items.iter().map(|c| (c.name_key.clone(), c.has_engine)).collect())
    }

    pub(super) async fn template_set(&mut self) -> Result<LoadedSet, CacheError> {
        if let Some(loaded) = &self.deps.templates.read().unwrap_or_else(std::sync::PoisonError::into_inner).set {
            return Ok(loaded.clone());
        }
        let version = self.bounded(self.deps.store.catalog_version()).await?;
        let stored = self.bounded(self.deps.store.load_templates()).await?;
        let engines = self.engines().await?;
        let has_engine = |key: &str| engines.get(key).copied();
        let checked = stored.map(|text| {
            let set = TemplateSet::from_json(&text).map_err(|e| {
                vec![TemplateIssue {
                    template: "(document)".into(),
                    field: None,
                    code: "invalid_document",
                    message: e.to_string(),
                }]
            })?;
            match templates::check(&set, &has_engine) {
                Ok(()) => Ok((set, Vec::new())),
                Err(issues) => {
                    metrics::counter!("gantry_template_validation_failures_total", "stage" => "load").increment(1);
                    degrade(&set, issues.clone(), &has_engine).ok_or(issues)
                }
            }
        });
        let (set, origin, degraded) = match checked {
            Some(Ok((set, degraded))) => {
                for d in &degraded {
                    tracing::error!(event = "template_degraded", template = %d.template, problems = d.problems.len(),
                        first = %d.problems[0], "a stored template fails its checks; its category gets the default form");
                }
                (set, TemplateOrigin::Stored, degraded)
            }
            Some(Err(issues)) => {
                // Never an empty form: serve the bundled set, loudly, until operators import a fixed one.
                let summary: Vec<String> = issues.iter().take(10).map(ToString::to_string).collect();
                tracing::error!(event = "templates_invalid", problems = issues.len(), first = ?summary,
                    "the stored template set fails its checks beyond single templates; serving the bundled set (fallback)");
                metrics::counter!("gantry_template_fallbacks_total").increment(1);
                (bundled(), TemplateOrigin::Bundled, Vec::new())
            }
            None => (bundled(), TemplateOrigin::Bundled, Vec::new()),
        };
        metrics::gauge!("gantry_templates_degraded").set(degraded.len() as f64);
        let loaded = LoadedSet { set: Arc::new(set), origin, version, degraded: Arc::new(degraded) };
        let mut cache = self.templates();
        cache.set = Some(loaded.clone());
        cache.forms.clear();
        Ok(loaded)
    }

    pub(super) async fn load_form(&mut self, target: FormTarget) -> Result<Form, CacheError> {
        if let Some(form) =
            self.deps.templates.read().unwrap_or_else(std::sync::PoisonError::into_inner).forms.get(&target.key)
        {
            return Ok(form.clone());
        }
        let loaded = self.template_set().await?;
        let resolved =
            templates::resolve(&loaded.set, &target.category, target.has_engine, target.subcategory.as_deref())
                .ok_or(CacheError::NoTemplate)?;
        let template = CompiledTemplate::compile(resolved).map_err(|issues| {
            metrics::counter!("gantry_template_validation_failures_total", "stage" => "resolve").increment(1);
            tracing::error!(event = "template_invalid", category = %target.category, problems = issues.len(),
                first = %issues[0], "a resolved form fails its checks");
            CacheError::InvalidTemplates(issues)
        })?;
        let form = Form { template: Arc::new(template), version: loaded.version, rendered: Arc::default() };
        let mut cache = self.templates();
        if cache.forms.len() >= MAX_ENTRIES {
            cache.forms.clear();
        }
        cache.forms.insert(target.key, form.clone());
        Ok(form)
    }

    pub(super) async fn import(&mut self, set: TemplateSet, replace: bool) -> Result<Imported, CacheError> {
        let mut merged = if replace {
            TemplateSet::default()
        } else {
            match self.bounded(self.deps.store.load_templates()).await? {
                // A stored set that fails to parse is replaced by the import over the bundled one.
                Some(text) => TemplateSet::from_json(&text).unwrap_or_else(|_| bundled()),
                None => bundled(),
            }
        };
        let before = merged.clone();
        let imported: Vec<String> = set.templates.iter().map(templates::document::Template::title).collect();
        merged.merge(set);
        let engines = self.engines().await?;
        let has_engine = |key: &str| engines.get(key).copied();
        // Templates already degraded in the stored set (not part of this import) stay degraded, flagged on
        // `/admin/templates`; they do not block an import of other templates.
        let degraded_before: Vec<String> = templates::check(&before, &has_engine)
            .err()
            .map(|issues| issues.into_iter().map(|i| i.template).collect())
            .unwrap_or_default();
        let mut blocking = templates::check(&merged, &has_engine).err().map(|issues| {
            issues
                .into_iter()
                .filter(|i| imported.contains(&i.template) || !degraded_before.contains(&i.template))
                .collect::<Vec<_>>()
        });
        // The languages of what is imported (a set stored earlier is not re-judged by today's default locale).
        let imported_set = TemplateSet {
            shared_blocks: merged
                .shared_blocks
                .iter()
                .filter(|b| before.shared_block(b.name.as_deref().unwrap_or_default()) != Some(b))
                .cloned()
                .collect(),
            templates: merged.templates.iter().filter(|t| imported.contains(&t.title())).cloned().collect(),
        };
        let languages = templates::check_locales(&imported_set, &self.deps.default_locale);
        if !languages.is_empty() {
            blocking.get_or_insert_with(Vec::new).extend(languages);
        }
        if let Some(issues) = blocking.filter(|issues| !issues.is_empty()) {
            metrics::counter!("gantry_template_validation_failures_total", "stage" => "import").increment(1);
            tracing::warn!(event = "templates_rejected", problems = issues.len(), first = %issues[0], "template import refused");
            return Err(CacheError::InvalidTemplates(issues));
        }
        let document = serde_json::to_string(&merged).map_err(|e| CacheError::Unavailable(e.to_string()))?;
        let version = self.deps.store.save_templates(&document).await?;
        self.advance(version, Self::drop_templates);
        metrics::counter!("gantry_templates_imported_total").increment(1);
        tracing::info!(
            event = "templates_imported",
            version,
            templates = merged.templates.len(),
            "template set stored"
        );
        let bus = Arc::clone(&self.deps.bus);
        tokio::spawn(async move {
            if let Err(err) = bus.publish(Event::TemplatesChanged { version }).await {
                metrics::counter!("gantry_option_announce_failures_total").increment(1);
                tracing::warn!(event = "bus_publish_failed", actor = NAME, error = %err, "relying on the version check");
            }
        });
        Ok(Imported { version, templates: merged.templates.len(), shared_blocks: merged.shared_blocks.len() })
    }
}
