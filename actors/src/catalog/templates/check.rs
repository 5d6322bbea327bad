//! Template checks, run when a set is loaded or saved: every problem is reported at once, each naming the
//! template (or shared block) and the field.
//!
//! Conditions (`visibleIf`, `requiredIf`) are checked by [`super::logic::check`]: operators json-logic-js
//! knows, with the right number of arguments, paths that start with a field, within the size bounds; anything
//! else is refused, naming the path inside the condition.

use std::collections::HashSet;

use super::compiled::CompiledTemplate;
use super::document::{Block, DEFAULT_CATEGORY, Field, FieldType, TemplateSet, name_key};
pub use super::issues::TemplateIssue;
use super::issues::{Issues, valid_name};
pub use super::logic::OPERATORS;
use super::resolve::resolve;
use crate::catalog::OptionKind;

/// Checks a whole set. `has_engine` tells whether a category (by identity key) has an engine, `None` for a
/// category the catalog does not have (yet): such templates are checked with the engine block attached.
///
/// # Errors
/// Every problem found.
pub fn check(set: &TemplateSet, has_engine: &dyn Fn(&str) -> Option<bool>) -> Result<(), Vec<TemplateIssue>> {
    let mut out = Vec::new();
    let mut seen_blocks = HashSet::new();
    for block in &set.shared_blocks {
        let title = format!("shared block {}", block.name.as_deref().unwrap_or("(unnamed)"));
        let mut issues = Issues { template: &title, out: &mut out };
        match (&block.name, &block.uses) {
            (Some(name), None) => {
                if !seen_blocks.insert(name.clone()) {
                    issues.push(None, "duplicate_block", format!("shared block {name} is defined twice"));
                }
            }
            _ => issues.push(None, "invalid_block", "a shared block needs a name and cannot use another block"),
        }
        check_fields(block, &mut issues);
    }
    let mut seen_templates = HashSet::new();
    for template in &set.templates {
        let title = template.title();
        let mut issues = Issues { template: &title, out: &mut out };
        if name_key(&template.category).is_empty() {
            issues.push(None, "invalid_template", "the category name is empty");
        }
        if template.category.trim() == DEFAULT_CATEGORY && template.subcategory.is_some() {
            issues.push(None, "invalid_template", "the default template (*) has no subcategory overrides");
        }
        if !seen_templates.insert(template.key()) {
            issues.push(None, "duplicate_template", "this template is defined twice");
        }
        for block in &template.blocks {
            match (&block.name, &block.uses) {
                (None, Some(name)) => {
                    if set.shared_block(name).is_none() {
                        issues.push(
                            None,
                            "unknown_block",
                            format!("uses the shared block {name}, which does not exist"),
                        );
                    }
                    if !block.fields.is_empty() {
                        issues.push(None, "invalid_block", format!("the entry that uses {name} cannot have fields"));
                    }
                }
                (Some(_), None) => check_fields(block, &mut issues),
                _ => issues.push(None, "invalid_block", "a block has either a name (and fields) or \"use\""),
            }
        }
    }
    // The resolved forms: names, references, cascades and cycles across blocks.
    for template in &set.templates {
        let category_key = name_key(&template.category);
        let engine = if category_key == DEFAULT_CATEGORY { Some(true) } else { has_engine(&category_key) };
        if let Some(resolved) =
            resolve(set, &template.category, engine.unwrap_or(true), template.subcategory.as_deref())
            && let Err(issues) = CompiledTemplate::compile(resolved)
        {
            for issue in issues {
                if !out.iter().any(|o| o.field == issue.field && o.code == issue.code && o.message == issue.message) {
                    out.push(issue);
                }
            }
        }
    }
    if out.is_empty() { Ok(()) } else { Err(out) }
}

/// Checks of one block's fields on their own (the resolved form is checked by [`CompiledTemplate::compile`]).
/// Checks the languages of a set's texts: every map of locales (block labels, field labels and help, fixed
/// options' labels, validation messages) has tags that parse and the deployment's `default` locale. Each
/// problem names the template, the field and the path of the text (`label`, `options[1].label`, …). Run on
/// import and by `gantry templates check`, not at load: a stored set stays served when the default changes
/// (a text without the default falls back to any language it has).
#[must_use]
pub fn check_locales(set: &TemplateSet, default: &str) -> Vec<TemplateIssue> {
    let mut out = Vec::new();
    let blocks = set
        .shared_blocks
        .iter()
        .map(|b| (format!("shared block {}", b.name.as_deref().unwrap_or("(unnamed)")), b))
        .chain(set.templates.iter().flat_map(|t| t.blocks.iter().map(move |b| (t.title(), b))));
    for (title, block) in blocks {
        let mut issues = Issues { template: &title, out: &mut out };
        let block_name = block.name.as_deref().or(block.uses.as_deref()).unwrap_or("(unnamed)");
        for (code, message) in block.label.iter().flat_map(|l| l.problems(default)) {
            issues.push(None, code, format!("block {block_name}, label: {message}"));
        }
        for field in &block.fields {
            for (path, text) in field.texts() {
                for (code, message) in text.problems(default) {
                    issues.push(Some(&field.name), code, format!("{path}: {message}"));
                }
            }
        }
    }
    out
}

/// The issue codes a field may have its own message for (`validation.messages`).
pub const MESSAGE_CODES: [&str; 7] =
    ["required", "invalid_type", "below_min", "above_max", "too_long", "pattern_mismatch", "unknown_option"];

fn check_fields(block: &Block, issues: &mut Issues<'_>) {
    for field in &block.fields {
        check_field(field, issues);
    }
}

fn check_field(field: &Field, issues: &mut Issues<'_>) {
    let name = Some(field.name.as_str());
    if !valid_name(&field.name) {
        issues.push(name, "invalid_name", "field names are [a-z][a-z0-9_]*, at most 64 characters");
    }
    if field.label.is_blank() {
        issues.push(name, "missing_label", "the label is empty");
    }
    for code in field.validation.iter().flat_map(|v| v.messages.keys()) {
        if !MESSAGE_CODES.contains(&code.as_str()) {
            issues.push(
                name,
                "unknown_message",
                format!("validation.messages.{code}: no such issue code (codes: {})", MESSAGE_CODES.join(", ")),
            );
        }
    }
    match (&field.data_source, field.field_type.is_choice()) {
        (Some(_), false) => {
            issues.push(name, "invalid_data_source", "only select and multiselect fields have a dataSource")
        }
        (Some(source), true) => match OptionKind::parse(&source.kind) {
            None => issues.push(
                name,
                "unknown_kind",
                format!(
                    "dataSource kind {:?} does not exist (kinds: category, subcategory, brand, model, country, city)",
                    source.kind
                ),
            ),
            Some(kind) => match (kind.parent_kind(), &source.parent_field) {
                (Some(parent), None) => issues.push(
                    name,
                    "missing_parent_field",
                    format!("{} options need a parentField holding the {}", kind.as_str(), parent.as_str()),
                ),
                (None, Some(_)) => issues.push(
                    name,
                    "invalid_parent_field",
                    format!("{} options have no parent; remove parentField", kind.as_str()),
                ),
                _ => {}
            },
        },
        (None, true) if field.options.is_empty() => {
            issues.push(name, "no_options", "a select needs a dataSource or fixed options");
        }
        (None, _) => {}
    }
    if !field.options.is_empty() {
        if !field.field_type.is_choice() || field.data_source.is_some() {
            issues.push(name, "invalid_options", "fixed options belong to selects without a dataSource");
        }
        let mut values = HashSet::new();
        if field.options.iter().any(|o| !values.insert(o.value.as_str())) {
            issues.push(name, "invalid_options", "two options share a value");
        }
    }
    if let Some(rules) = &field.validation {
        if (rules.min.is_some() || rules.max.is_some()) && !field.field_type.is_numeric() {
            issues.push(name, "invalid_validation", "min and max apply to number, integer and year fields");
        }
        if let (Some(min), Some(max)) = (rules.min, rules.max)
            && min > max
        {
            issues.push(name, "invalid_range", format!("min {min} is above max {max}"));
        }
        if (rules.pattern.is_some() || rules.max_length.is_some()) && field.field_type != FieldType::Text {
            issues.push(name, "invalid_validation", "pattern and maxLength apply to text fields");
        }
        if rules.max_length == Some(0) {
            issues.push(name, "invalid_validation", "maxLength must be at least 1");
        }
        if let Some(pattern) = &rules.pattern
            && regex::Regex::new(pattern).is_err()
        {
            issues.push(name, "invalid_pattern", format!("pattern {pattern:?} is not a valid regular expression"));
        }
    }
    for (label, logic) in [("visibleIf", &field.visible_if), ("requiredIf", &field.required_if)] {
        if let Some(logic) = logic {
            let mut vars = Vec::new();
            super::logic::check(logic, label, &mut vars, &mut |code, message| issues.push(name, code, message));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::templates::document::BUNDLED;

    fn issues_of(json: &str) -> Vec<TemplateIssue> {
        check(&TemplateSet::from_json(json).unwrap(), &|_| Some(false)).unwrap_err()
    }

    fn one_field(field: &str) -> String {
        format!(
            r#"{{"templates": [{{"category": "Trucks", "blocks": [{{"name": "b", "fields": [
            {{"name": "brand", "type": "select", "label": "Brand", "dataSource": {{"kind": "brand"}}}},
            {field}]}}]}}]}}"#
        )
    }

    /// The bundled set passes its own checks, for engine and non-engine categories alike.
    #[test]
    fn bundled_set_is_valid() {
        let set = TemplateSet::from_json(BUNDLED).unwrap();
        check(&set, &|_| Some(true)).unwrap();
        check(&set, &|_| Some(false)).unwrap();
        check(&set, &|_| None).unwrap();
    }

    /// An operator json-logic-js does not know is refused, naming the template and the field.
    #[test]
    fn unknown_operator() {
        let issues = issues_of(&one_field(
            r#"{"name": "x", "type": "text", "label": "X", "visibleIf": {"method": [{"var": "brand"}, "trim"]}}"#,
        ));
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].code, "unsupported_operator");
        assert_eq!(issues[0].to_string().split(':').next().unwrap(), r#"template "Trucks", field "x""#);
        assert!(issues[0].message.contains("method"), "{}", issues[0].message);
    }

    /// The whole json-logic-js language imports: arithmetic, `if`, `missing`, strings, iteration — and a `var`
    /// path's first part must still be a field of the form.
    #[test]
    fn the_full_operator_set_imports() {
        let set = one_field(
            r#"{"name": "year", "type": "year", "label": "Year"},
               {"name": "mileage", "type": "integer", "label": "Mileage"},
               {"name": "x", "type": "text", "label": "X",
                "requiredIf": {"and": [{"<": [{"var": "year"}, 2015]}, {">": [{"/": [{"var": "mileage"}, 1000]}, 500]}]},
                "visibleIf": {"if": [{"missing": ["brand"]}, false,
                    {"in": [{"substr": [{"cat": ["", {"var": "year"}]}, 0, 2]}, ["19", "20"]]}, true, false]}}"#,
        );
        check(&TemplateSet::from_json(&set).unwrap(), &|_| Some(false)).unwrap();
        let issues = issues_of(&one_field(
            r#"{"name": "x", "type": "text", "label": "X", "visibleIf": {"missing": ["brand", "colour.name"]}}"#,
        ));
        assert_eq!((issues[0].code, issues[0].field.as_deref()), ("unknown_field", Some("x")), "{issues:?}");
        assert!(issues[0].message.contains("colour"));
    }

    /// A `var` naming a field the form does not have is refused.
    #[test]
    fn var_naming_an_unknown_field() {
        let issues = issues_of(&one_field(
            r#"{"name": "x", "type": "text", "label": "X", "requiredIf": {"!!": {"var": "colour"}}}"#,
        ));
        assert_eq!((issues[0].code, issues[0].field.as_deref()), ("unknown_field", Some("x")), "{issues:?}");
        assert!(issues[0].message.contains("colour"));
    }

    /// A `dependsOn` cycle is refused with the cycle spelled out.
    #[test]
    fn depends_on_cycle() {
        let issues = issues_of(&one_field(
            r#"{"name": "a", "type": "text", "label": "A", "dependsOn": ["b"]},
               {"name": "b", "type": "text", "label": "B", "dependsOn": ["a"]}"#,
        ));
        let cycle = issues.iter().find(|i| i.code == "dependency_cycle").expect("a cycle issue");
        assert!(cycle.message.contains("a → b → a") || cycle.message.contains("b → a → b"), "{}", cycle.message);
    }

    /// A data source of a kind that does not exist is refused.
    #[test]
    fn unknown_data_source_kind() {
        let issues =
            issues_of(&one_field(r#"{"name": "x", "type": "select", "label": "X", "dataSource": {"kind": "engine"}}"#));
        assert_eq!((issues[0].code, issues[0].field.as_deref()), ("unknown_kind", Some("x")));
        assert!(issues[0].to_string().contains(r#"template "Trucks", field "x""#));
    }

    /// A model list must cascade from a brand field; a cascade from a field of another kind is refused.
    #[test]
    fn cascades_must_follow_the_parent_kind() {
        let missing = issues_of(&one_field(
            r#"{"name": "model", "type": "select", "label": "M", "dataSource": {"kind": "model"}}"#,
        ));
        assert_eq!(missing[0].code, "missing_parent_field");
        let wrong = issues_of(&one_field(
            r#"{"name": "country", "type": "select", "label": "C", "dataSource": {"kind": "country"}},
               {"name": "model", "type": "select", "label": "M", "dataSource": {"kind": "model", "parentField": "country"}}"#,
        ));
        assert_eq!((wrong[0].code, wrong[0].field.as_deref()), ("invalid_parent_field", Some("model")), "{wrong:?}");
    }

    /// Several problems are reported together; bad patterns, ranges and unknown shared blocks too.
    #[test]
    fn every_problem_at_once() {
        let issues = issues_of(
            r#"{"templates": [{"category": "Vans", "blocks": [{"use": "nope"}, {"name": "b", "fields": [
                {"name": "vin", "type": "text", "label": "VIN", "validation": {"pattern": "([A-Z"}},
                {"name": "power", "type": "number", "label": "P", "validation": {"min": 10, "max": 1}},
                {"name": "Bad Name", "type": "boolean", "label": "?"}]}]}]}"#,
        );
        let codes: Vec<_> = issues.iter().map(|i| i.code).collect();
        for code in ["unknown_block", "invalid_pattern", "invalid_range", "invalid_name"] {
            assert!(codes.contains(&code), "{code} missing from {codes:?}");
        }
    }
}
