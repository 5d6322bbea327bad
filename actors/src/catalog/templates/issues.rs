//! What the template checks and the compiler share: the issue type, the collector that names the template,
//! and field names (the condition language is in `logic`). Below both `check` and `compiled` (each imports it; it
//! imports neither), so the two do not import each other in a circle.

use std::fmt;

use serde::Serialize;

/// One problem with a template set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateIssue {
    /// The template (`Trucks / Tipper trucks`) or shared block (`shared block engine_block`).
    pub template: String,
    /// The field, when the problem is a field's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Stable code (`unknown_field`, `dependency_cycle`, `unsupported_operator`, `unknown_kind`, …).
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for TemplateIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "template \"{}\", field \"{field}\": {}", self.template, self.message),
            None => write!(f, "template \"{}\": {}", self.template, self.message),
        }
    }
}

/// Collects issues for one template or block.
pub(super) struct Issues<'a> {
    pub(super) template: &'a str,
    pub(super) out: &'a mut Vec<TemplateIssue>,
}

impl Issues<'_> {
    pub(super) fn push(&mut self, field: Option<&str>, code: &'static str, message: impl Into<String>) {
        let issue = TemplateIssue {
            template: self.template.to_owned(),
            field: field.map(str::to_owned),
            code,
            message: message.into(),
        };
        if !self.out.contains(&issue) {
            self.out.push(issue);
        }
    }
}

/// Whether `name` is a field identifier.
pub(super) fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 64
}
