//! The listing-form templates as this instance serves them: the set in use (the stored one, else the bundled
//! one) with the stored templates left out because they fail their checks, and the forms resolved and
//! compiled from it per (category, subcategory). Request tasks read the cache without the actor; the actor
//! fills it and drops it whole on every change that can alter a form (a category's, a template import, a
//! version gap).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use uuid::Uuid;

use super::templates::{self, CompiledTemplate, TemplateIssue, TemplateSet};

/// A form key: the category and the subcategory (`None`: the category's own form).
pub type FormKey = (Uuid, Option<Uuid>);

/// Where the template set in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateOrigin {
    /// Operators stored it (`gantry templates import`, `POST /admin/templates`).
    Stored,
    /// The set Gantry ships (nothing stored yet, or the stored one failed its checks).
    Bundled,
}

/// The template set in use.
#[derive(Debug, Clone)]
pub struct LoadedSet {
    /// The set served (a stored set without its degraded templates).
    pub set: Arc<TemplateSet>,
    /// Where it came from.
    pub origin: TemplateOrigin,
    /// The catalog version it was loaded at.
    pub version: u64,
    /// Stored templates that fail their checks against today's catalog (a category created or changed after
    /// the set was stored): each is left out on its own, so its category is served the default form, and
    /// every other template stays in use.
    pub degraded: Arc<Vec<DegradedTemplate>>,
}

/// A stored template left out because it fails its checks.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DegradedTemplate {
    /// Its title (`Trucks`, `Trucks / Tipper trucks`).
    pub template: String,
    /// Why.
    pub problems: Vec<TemplateIssue>,
    /// The template as stored (to fix and re-import).
    pub definition: templates::document::Template,
}

/// Splits a stored set that fails its checks: when every problem is a template's own (no shared block's),
/// the failing templates are left out and the rest is checked again. `None` when that does not give a valid
/// set (the caller falls back to the bundled one).
pub(super) fn degrade(
    set: &TemplateSet,
    issues: Vec<TemplateIssue>,
    has_engine: &dyn Fn(&str) -> Option<bool>,
) -> Option<(TemplateSet, Vec<DegradedTemplate>)> {
    let titles: Vec<String> = set.templates.iter().map(templates::document::Template::title).collect();
    if issues.iter().any(|i| !titles.contains(&i.template)) {
        return None;
    }
    let mut kept = set.clone();
    let mut degraded = Vec::new();
    kept.templates.retain(|t| {
        let title = t.title();
        let problems: Vec<TemplateIssue> = issues.iter().filter(|i| i.template == title).cloned().collect();
        if problems.is_empty() {
            return true;
        }
        degraded.push(DegradedTemplate { template: title, problems, definition: t.clone() });
        false
    });
    templates::check(&kept, has_engine).ok().map(|()| (kept, degraded))
}

/// A resolved, compiled form.
#[derive(Debug, Clone)]
pub struct Form {
    /// The form.
    pub template: Arc<CompiledTemplate>,
    /// The catalog version its set was loaded at (the `ETag`).
    pub version: u64,
    /// The form as the gateway serves it, rendered once per cached form and locale (a form is cached per
    /// (category, subcategory), so a rendering never changes while the form is cached).
    pub rendered: Arc<super::lists::Rendered>,
}

/// Templates and resolved forms, read by request tasks, written only by the actor.
#[derive(Debug, Default)]
pub struct TemplateCache {
    /// The set in use, once loaded.
    pub(super) set: Option<LoadedSet>,
    /// The forms resolved from it.
    pub(super) forms: HashMap<FormKey, Form>,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Imported {
    /// The catalog version after it.
    pub version: u64,
    /// Templates in the stored set.
    pub templates: usize,
    /// Shared blocks in the stored set.
    pub shared_blocks: usize,
}

/// What the form needs to know of the category and subcategory (names: templates are matched by name).
#[derive(Debug, Clone)]
pub struct FormTarget {
    /// Category and subcategory ids.
    pub key: FormKey,
    /// The category's name.
    pub category: String,
    /// Whether the category has an engine.
    pub has_engine: bool,
    /// The subcategory's name.
    pub subcategory: Option<String>,
}

/// A fresh, empty template cache for [`super::actor::CatalogDeps::templates`].
#[must_use]
pub fn empty_templates() -> Arc<RwLock<TemplateCache>> {
    Arc::new(RwLock::new(TemplateCache::default()))
}

/// The bundled template set (checked by the crate's tests).
pub(super) fn bundled() -> TemplateSet {
    TemplateSet::from_json(templates::document::BUNDLED).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::templates::document::Template;

    /// Every category counts as known and engine-less except the default template's.
    fn engines(_: &str) -> Option<bool> {
        None
    }

    fn template(json: serde_json::Value) -> Template {
        serde_json::from_value(json).expect("a valid template document")
    }

    /// A stored template that fails its own checks is left out alone: the others stay in use, and the one
    /// left out is reported with its problems and its definition (to fix and re-import).
    #[test]
    fn a_failing_template_is_left_out_and_the_rest_stays() {
        let mut set = bundled();
        let kept_before = set.templates.len();
        set.templates.push(template(serde_json::json!({"category": "Zeppelins", "blocks": [{"use": "nowhere"}]})));
        let issues = templates::check(&set, &engines).expect_err("the extra template fails");
        let (kept, degraded) = degrade(&set, issues, &engines).expect("only a template's own problems");
        assert_eq!(kept.templates.len(), kept_before);
        assert_eq!(degraded.len(), 1);
        assert_eq!(degraded[0].template, "Zeppelins");
        assert!(degraded[0].problems.iter().any(|p| p.code == "unknown_block"));
        assert_eq!(degraded[0].definition.category, "Zeppelins");
    }

    /// A problem in a shared block is not one template's: nothing is left out, the caller falls back to the
    /// bundled set.
    #[test]
    fn a_shared_block_problem_is_no_degraded_template() {
        let mut set = bundled();
        let duplicate = set.shared_blocks.first().cloned().expect("the bundled set has shared blocks");
        set.shared_blocks.push(duplicate);
        let issues = templates::check(&set, &engines).expect_err("a shared block is defined twice");
        assert!(degrade(&set, issues, &engines).is_none());
    }

    /// The bundled set passes its checks (it is what a catalog without a stored set serves).
    #[test]
    fn the_bundled_set_is_valid() {
        assert!(!bundled().templates.is_empty());
        assert_eq!(templates::check(&bundled(), &engines), Ok(()));
    }
}
