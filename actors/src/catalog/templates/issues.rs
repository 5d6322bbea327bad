//! What the template checks and the compiler share: the issue type, the collector that names the template,
//! and the walk over a condition's JsonLogic subset. Below both `check` and `compiled` (each imports it; it
//! imports neither), so the two do not import each other in a circle.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

/// The JsonLogic operators conditions may use.
pub const OPERATORS: [&str; 12] = ["and", "or", "!", "!!", "==", "!=", "in", "<", "<=", ">", ">=", "var"];

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

/// Walks a condition: reports operators outside the subset and malformed `var`s, collects the field names
/// it reads.
pub(super) fn walk_logic(logic: &Value, vars: &mut Vec<String>, report: &mut dyn FnMut(&'static str, String)) {
    match logic {
        Value::Array(items) => items.iter().for_each(|item| walk_logic(item, vars, report)),
        Value::Object(map) => {
            let mut entries = map.iter();
            let (Some((op, args)), None) = (entries.next(), entries.next()) else {
                report("invalid_condition", "an operation is an object with exactly one key".into());
                return;
            };
            if !OPERATORS.contains(&op.as_str()) {
                report(
                    "unsupported_operator",
                    format!("operator {op:?} is not in the supported subset ({})", OPERATORS.join(", ")),
                );
                return;
            }
            if op == "var" {
                let name = match args {
                    Value::String(s) => Some(s.as_str()),
                    Value::Array(a) if (1..=2).contains(&a.len()) && a.get(1).is_none_or(|d| !d.is_object()) => {
                        a[0].as_str()
                    }
                    _ => None,
                };
                match name {
                    Some(n) if valid_name(n) => vars.push(n.to_owned()),
                    Some(n) => report("invalid_var", format!("var {n:?} is not a field name (no paths)")),
                    None => report("invalid_var", "var takes a field name, or [name, default]".into()),
                }
            } else {
                walk_logic(args, vars, report);
            }
        }
        _ => {}
    }
}
