//! A resolved form made ready to evaluate (conditions compiled, patterns built, the dependency graph laid
//! out), and the cascade runtime: which fields are visible and required, which values a change resets, what
//! is wrong with the values, and which option lists to load next. Compiling (the whole-form checks and the
//! dependency graph) is in `compiled/build.rs`.

mod build;

use serde::Serialize;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use uuid::Uuid;

use super::document::{Field, FieldType};
use super::logic;
use super::messages::{Text, render};
use super::resolve::Resolved;
use crate::catalog::OptionKind;
use crate::catalog::locale::Locale;

/// Years are accepted from this one unless the field says otherwise.
const FIRST_YEAR: f64 = 1900.0;

struct CompiledField {
    field: Field,
    kind: Option<OptionKind>,
    /// Checked conditions, evaluated by [`super::logic`] as json-logic-js evaluates them.
    visible_if: Option<Value>,
    required_if: Option<Value>,
    pattern: Option<regex::Regex>,
    /// Fields that depend on this one and reset when it changes.
    resets: Vec<usize>,
    /// Fields whose values `visible_if` reads.
    visible_reads: Vec<usize>,
    /// The fields it depends on (`dependsOn` and the data source's parent field).
    deps: Vec<usize>,
    /// The data source's parent field.
    parent: Option<usize>,
}

/// A resolved form, ready to evaluate.
pub struct CompiledTemplate {
    /// The form as served by `GET /v1/templates/…`.
    pub resolved: Resolved,
    fields: Vec<CompiledField>,
    /// Field index by name. Looked up with names from requests, but never filled from them (it is the
    /// template's), so a fast hash that is not DoS-resistant is safe here.
    by_name: HashMap<String, usize, foldhash::fast::RandomState>,
}

impl std::fmt::Debug for CompiledTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledTemplate").field("title", &self.resolved.title).finish_non_exhaustive()
    }
}

/// A problem with one value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValueIssue {
    /// The field.
    pub field: String,
    /// Stable code: `required`, `invalid_type`, `below_min`, `above_max`, `too_long`, `pattern_mismatch`,
    /// `unknown_option`, `parent_missing`, `unknown_field`.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
}

/// An option list to load: `GET /v1/options/{kind}?parent_id=…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OptionList {
    /// The kind.
    pub kind: OptionKind,
    /// The parent (`None` for kinds without parents).
    pub parent_id: Option<Uuid>,
}

/// A catalog lookup the caller must make: is `id` an option of `kind` under `parent_id`?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionCheck {
    /// The field holding it.
    pub field: String,
    /// Where it must be.
    pub list: OptionList,
    /// The option id.
    pub id: Uuid,
}

/// What the form looks like for some values. Field names are the template's (`'t`), borrowed: an evaluation
/// names most of a form's fields, and copying each name was a tenth of an `evaluate` request's work.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Evaluation<'t> {
    /// Visible fields, in form order.
    pub visible: Vec<&'t str>,
    /// Required fields (visible ones only), in form order.
    pub required: Vec<&'t str>,
    /// Fields cleared because something they depend on changed.
    pub reset: Vec<&'t str>,
    /// Problems with the values (hidden fields are not checked).
    pub errors: Vec<ValueIssue>,
    /// Option lists to load next, by field.
    pub options: BTreeMap<&'t str, OptionList>,
}

/// What [`CompiledTemplate::check_values`] found.
#[derive(Debug, Clone, Default)]
pub struct Checked<'t> {
    /// What the form looks like.
    pub evaluation: Evaluation<'t>,
    /// The catalog look-ups the caller must make.
    pub checks: Vec<OptionCheck>,
    /// The values of visible fields that passed their checks, typed; option ids as ids.
    pub values: Map<String, Value>,
}

/// The values carried over from another form ([`CompiledTemplate::carry_over`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CarryOver {
    /// The values kept: the new form state.
    pub values: Map<String, Value>,
    /// The values dropped, and why: the first [`DROPPED_LISTED`], their names cut short like unknown
    /// fields' (one entry per value would let a small request buy a large answer).
    pub dropped: Vec<Dropped>,
    /// How many more values were dropped than `dropped` lists (absent when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub dropped_unlisted: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A value that was not carried over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dropped {
    /// The field.
    pub field: String,
    /// `not_in_new_form`, `not_in_previous_form`, `incompatible_type` or `not_an_option`.
    pub reason: &'static str,
}

/// Why `value` of the field `old` does not fit the field `new` of the same name, if it does not.
fn compatibility(old: &Field, new: &Field, value: &Value) -> Option<&'static str> {
    let (a, b) = (old.field_type, new.field_type);
    if a.is_numeric() && b.is_numeric() {
        let fits = value.as_f64().is_some_and(|n| b == FieldType::Number || n.fract() == 0.0);
        return (!fits).then_some("incompatible_type");
    }
    if a != b {
        return Some("incompatible_type");
    }
    if !a.is_choice() {
        return None;
    }
    match (&old.data_source, &new.data_source) {
        (Some(x), Some(y)) if x.kind == y.kind => None,
        (None, None) => {
            let known = |v: &Value| v.as_str().is_some_and(|v| new.options.iter().any(|o| o.value == v));
            let all_known = match value {
                Value::Array(items) => items.iter().all(known),
                single => known(single),
            };
            (!all_known).then_some("not_an_option")
        }
        _ => Some("incompatible_type"),
    }
}

/// A checked value in its type: integers and years as whole numbers (`2019`, not `2019.0`).
fn typed(field_type: FieldType, value: &Value) -> Value {
    match (field_type, value.as_f64()) {
        #[allow(clippy::cast_possible_truncation)]
        (FieldType::Integer | FieldType::Year, Some(n)) if n.abs() < 9_007_199_254_740_992.0 => Value::from(n as i64),
        _ => value.clone(),
    }
}

/// How many dropped values a carry-over lists one by one (more than any real form has fields); the rest are
/// counted in `dropped_unlisted`.
pub const DROPPED_LISTED: usize = 50;

/// How many unknown value names an answer lists one by one; the rest are counted in one more issue.
const UNKNOWN_FIELDS_LISTED: usize = 5;

/// Longest unknown field name echoed back, in characters.
const ECHOED_NAME_CHARS: usize = 64;

/// `name` as echoed in an answer: at most [`ECHOED_NAME_CHARS`] characters (an ellipsis marks a cut).
#[must_use]
pub fn shorten_name(name: &str) -> String {
    match name.char_indices().nth(ECHOED_NAME_CHARS) {
        Some((cut, _)) => format!("{}…", &name[..cut]),
        None => name.to_owned(),
    }
}

/// The message of `code` for `field` in `locale`: the field's own (`validation.messages`) or the built-in
/// `text`, with `{label}` (the field's label in `locale`) and `args` filled in.
fn message(field: &Field, text: Text, code: &str, locale: &Locale, args: &[(&str, &str)]) -> String {
    let mut all = vec![("label", field.label.resolve(locale))];
    all.extend_from_slice(args);
    render(text, code, field.validation.as_ref().map(|v| &v.messages), locale, &all)
}

/// Whether a value counts as not given.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// `value` as the form reads it: a text field's value without leading and trailing whitespace, so that
/// conditions, `required`, `maxLength`, `pattern` and the submitted answer all see the same text.
fn trimmed(field_type: FieldType, value: &Value) -> Value {
    match (field_type, value) {
        (FieldType::Text, Value::String(s)) => Value::String(s.trim().to_owned()),
        _ => value.clone(),
    }
}

/// [`trimmed`] of a value owned: moved, and copied only when there is something to trim.
fn trimmed_owned(field_type: FieldType, value: Value) -> Value {
    match (field_type, value) {
        (FieldType::Text, Value::String(s)) if s.trim().len() != s.len() => Value::String(s.trim().to_owned()),
        (_, value) => value,
    }
}

impl CompiledTemplate {
    /// Evaluates the form for `values` after the fields in `changed` changed. Returns the evaluation and the
    /// option-membership lookups the caller must make (their failures are `unknown_option` errors).
    #[must_use]
    pub fn evaluate(
        &self,
        values: &Map<String, Value>,
        changed: &[String],
        this_year: i32,
    ) -> (Evaluation<'_>, Vec<OptionCheck>) {
        self.evaluate_in(Cow::Borrowed(values), changed, this_year, &Locale::new("en", "en"))
    }

    /// [`Self::evaluate`] with the messages in `locale`: [`Self::check_values_in`] without building the clean
    /// values, which an evaluation does not answer. Values given owned are moved into the evaluation's data
    /// instead of copied (a request's body is not needed after).
    #[must_use]
    pub fn evaluate_in(
        &self,
        values: Cow<'_, Map<String, Value>>,
        changed: &[String],
        this_year: i32,
        locale: &Locale,
    ) -> (Evaluation<'_>, Vec<OptionCheck>) {
        let checked = self.check(values, changed, this_year, locale, false);
        (checked.evaluation, checked.checks)
    }

    /// [`Self::check_values_in`] with the messages in English.
    #[must_use]
    pub fn check_values(&self, values: &Map<String, Value>, changed: &[String], this_year: i32) -> Checked<'_> {
        self.check_values_in(values, changed, this_year, &Locale::new("en", "en"))
    }

    /// [`Self::evaluate`], plus the clean values: those of visible fields that passed their checks, typed
    /// (integers and years as whole numbers), hidden and reset fields dropped. Option ids stay ids here; the
    /// caller, which can see the catalog, resolves them. Messages are in `locale` (codes are the same in every
    /// language).
    #[must_use]
    pub fn check_values_in(
        &self,
        values: &Map<String, Value>,
        changed: &[String],
        this_year: i32,
        locale: &Locale,
    ) -> Checked<'_> {
        self.check(Cow::Borrowed(values), changed, this_year, locale, true)
    }

    /// The checks of [`Self::check_values_in`]; the clean values only when `clean`.
    fn check(
        &self,
        values: Cow<'_, Map<String, Value>>,
        changed: &[String],
        this_year: i32,
        locale: &Locale,
        clean: bool,
    ) -> Checked<'_> {
        let mut cleaned = Map::new();
        let mut eval = Evaluation::default();
        let mut checks = Vec::new();
        // Resets: everything downstream of a change, through fields that reset.
        let mut reset = vec![false; self.fields.len()];
        let mut queue: VecDeque<usize> = changed.iter().filter_map(|c| self.by_name.get(c).copied()).collect();
        let origins: HashSet<usize> = queue.iter().copied().collect();
        let mut is_changed = vec![false; self.fields.len()];
        for &i in &queue {
            is_changed[i] = true;
        }
        while let Some(i) = queue.pop_front() {
            for &d in &self.fields[i].resets {
                if !reset[d] && !origins.contains(&d) {
                    reset[d] = true;
                    queue.push_back(d);
                }
            }
        }
        let mut data = Map::new();
        let mut unknown = 0usize;
        // The field a value is for, unless it was reset; an unknown one is counted (and named, the first few).
        let mut kept = |name: &str| match self.by_name.get(name) {
            Some(&i) => (!reset[i]).then_some(self.fields[i].field.field_type),
            None => {
                // Unknown values are ignored. The answer names only the first few (their names cut short):
                // one issue per unknown key would let a small request buy a large answer.
                unknown += 1;
                if unknown <= UNKNOWN_FIELDS_LISTED {
                    eval.errors.push(ValueIssue {
                        field: shorten_name(name),
                        code: "unknown_field",
                        message: render(Text::UnknownField, "unknown_field", None, locale, &[]),
                    });
                }
                None
            }
        };
        match values {
            Cow::Borrowed(values) => {
                for (name, value) in values {
                    if let Some(field_type) = kept(name) {
                        data.insert(name.clone(), trimmed(field_type, value));
                    }
                }
            }
            Cow::Owned(values) => {
                for (name, value) in values {
                    if let Some(field_type) = kept(&name) {
                        data.insert(name, trimmed_owned(field_type, value));
                    }
                }
            }
        }
        if unknown > UNKNOWN_FIELDS_LISTED {
            eval.errors.push(ValueIssue {
                field: "values".into(),
                code: "unknown_field",
                message: render(
                    Text::MoreUnknownFields,
                    "unknown_field",
                    None,
                    locale,
                    &[("count", &(unknown - UNKNOWN_FIELDS_LISTED).to_string())],
                ),
            });
        }
        let (visible, data) = self.visibility(data);
        // Each field's value (visible, not reset), by index: one look-up per value instead of one per field.
        let mut slots: Vec<Option<&Value>> = vec![None; self.fields.len()];
        for (name, value) in &data {
            if let Some(&i) = self.by_name.get(name) {
                slots[i] = Some(value);
            }
        }
        let holds = |logic: &Option<Value>, default: bool| logic.as_ref().map_or(default, |l| logic::holds(l, &data));
        for (i, cf) in self.fields.iter().enumerate() {
            let name = &cf.field.name;
            if reset[i] {
                eval.reset.push(name);
            }
            if !visible[i] {
                continue;
            }
            eval.visible.push(name);
            let required = cf.field.required || holds(&cf.required_if, false);
            if required {
                eval.required.push(name);
            }
            let value = slots[i].filter(|v| !is_empty(v));
            // The option list this field loads, once its parent is chosen.
            let list = cf.kind.and_then(|kind| match cf.parent {
                None => Some(OptionList { kind, parent_id: None }),
                Some(p) => {
                    let parent = slots[p].and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok())?;
                    Some(OptionList { kind, parent_id: Some(parent) })
                }
            });
            let wanted = changed.is_empty() || reset[i] || cf.deps.iter().any(|&d| is_changed[d]);
            if let Some(list) = list
                && wanted
            {
                eval.options.insert(name, list);
            }
            match value {
                None if required => eval.errors.push(ValueIssue {
                    field: name.clone(),
                    code: "required",
                    message: message(&cf.field, Text::Required, "required", locale, &[]),
                }),
                None => {}
                Some(value) => match self.check_value(cf, value, list, this_year, locale, &mut checks) {
                    Err((code, message)) => eval.errors.push(ValueIssue { field: name.clone(), code, message }),
                    Ok(()) if clean => {
                        cleaned.insert(name.clone(), typed(cf.field.field_type, value));
                    }
                    Ok(()) => {}
                },
            }
        }
        Checked { evaluation: eval, checks, values: cleaned }
    }

    /// Which fields show for `data`, and the data without the hidden fields' values. Hidden means absent: a
    /// hidden field's value is invisible to every condition, so visibility is evaluated to a fixpoint — from
    /// every field shown, each pass evaluates every `visibleIf` against the values of the fields the previous
    /// pass showed. `visibleIf` reads form no cycle (checked at compile), so a field at depth `d` of that graph
    /// is settled after `d + 1` passes and the loop ends within `fields + 1` passes.
    ///
    /// A condition reads only the fields named by its paths (`visible_reads`, checked at import), so after the
    /// first pass only the conditions reading a field whose visibility just changed are evaluated again (the
    /// others would give the answer they gave), and a value is moved out of the data while its field is hidden
    /// and back when it shows again, never copied.
    fn visibility(&self, data: Map<String, Value>) -> (Vec<bool>, Map<String, Value>) {
        let mut visible = vec![true; self.fields.len()];
        let mut shown = data;
        let mut hidden: Vec<(String, Value)> = Vec::new();
        let mut stale = vec![true; self.fields.len()];
        for _ in 0..=self.fields.len() {
            // Every stale condition against the same data (a pass sees the previous pass's visibility).
            let flipped: Vec<usize> = (0..self.fields.len())
                .filter(|&i| {
                    stale[i] && self.fields[i].visible_if.as_ref().is_none_or(|l| logic::holds(l, &shown)) != visible[i]
                })
                .collect();
            if flipped.is_empty() {
                break;
            }
            for &i in &flipped {
                visible[i] = !visible[i];
                let name = &self.fields[i].field.name;
                if visible[i] {
                    if let Some(at) = hidden.iter().position(|(hid, _)| hid == name) {
                        let (name, value) = hidden.swap_remove(at);
                        shown.insert(name, value);
                    }
                } else if let Some(entry) = shown.remove_entry(name) {
                    hidden.push(entry);
                }
            }
            for (i, cf) in self.fields.iter().enumerate() {
                stale[i] = cf.visible_reads.iter().any(|read| flipped.contains(read));
            }
        }
        (visible, shown)
    }

    #[allow(clippy::too_many_lines)]
    fn check_value(
        &self,
        cf: &CompiledField,
        value: &Value,
        list: Option<OptionList>,
        this_year: i32,
        locale: &Locale,
        checks: &mut Vec<OptionCheck>,
    ) -> Result<(), (&'static str, String)> {
        let f = &cf.field;
        // Borrowed, not cloned: a field's rules carry its messages in every language.
        let rules = f.validation.as_ref();
        let fail =
            |code: &'static str, text: Text, args: &[(&str, &str)]| Err((code, message(f, text, code, locale, args)));
        let type_error = |text: Text| fail("invalid_type", text, &[]);
        match f.field_type {
            FieldType::Text => {
                let Some(text) = value.as_str() else { return type_error(Text::NotText) };
                if let Some(max) = rules.and_then(|r| r.max_length)
                    && text.chars().count() > max
                {
                    return fail("too_long", Text::TooLong, &[("max", &max.to_string())]);
                }
                if let Some(pattern) = &cf.pattern
                    && !pattern.is_match(text)
                {
                    return fail("pattern_mismatch", Text::Pattern, &[]);
                }
            }
            FieldType::Boolean => {
                if !value.is_boolean() {
                    return type_error(Text::NotBoolean);
                }
            }
            FieldType::Number | FieldType::Integer | FieldType::Year => {
                let Some(n) = value.as_f64() else { return type_error(Text::NotNumber) };
                if f.field_type != FieldType::Number && n.fract() != 0.0 {
                    return type_error(Text::NotWhole);
                }
                let (min, max) = if f.field_type == FieldType::Year {
                    let (min, max) = (rules.and_then(|r| r.min), rules.and_then(|r| r.max));
                    (min.or(Some(FIRST_YEAR)), max.or(Some(f64::from(this_year + 1))))
                } else {
                    (rules.and_then(|r| r.min), rules.and_then(|r| r.max))
                };
                if let Some(min) = min
                    && n < min
                {
                    return fail("below_min", Text::BelowMin, &[("min", &min.to_string())]);
                }
                if let Some(max) = max
                    && n > max
                {
                    return fail("above_max", Text::AboveMax, &[("max", &max.to_string())]);
                }
            }
            FieldType::Select | FieldType::Multiselect => {
                let items: Vec<&Value> = match (f.field_type, value) {
                    (FieldType::Select, v) => vec![v],
                    (_, Value::Array(a)) => a.iter().collect(),
                    _ => return type_error(Text::NotList),
                };
                for item in items {
                    let Some(text) = item.as_str() else { return type_error(Text::NotOption) };
                    if cf.kind.is_some() {
                        let Ok(id) = Uuid::parse_str(text) else {
                            return fail("unknown_option", Text::NotAnId, &[]);
                        };
                        let Some(list) = list else {
                            let parent =
                                f.data_source.as_ref().and_then(|d| d.parent_field.clone()).unwrap_or_default();
                            let parent_label = self
                                .by_name
                                .get(&parent)
                                .map_or(parent.as_str(), |&p| self.fields[p].field.label.resolve(locale));
                            // Not a field's own message: the parent's label is the subject.
                            let text = render(Text::ParentMissing, "", None, locale, &[("parent", parent_label)]);
                            return Err(("parent_missing", text));
                        };
                        checks.push(OptionCheck { field: f.name.clone(), list, id });
                    } else if !f.options.iter().any(|o| o.value == text) {
                        return fail("unknown_option", Text::NotAChoice, &[("value", &format!("{text:?}"))]);
                    }
                }
            }
        }
        Ok(())
    }

    /// Carries `values`, filled in the form `previous`, over to this form (the user changed the category or
    /// subcategory): a value is kept when a field of the same name exists in both forms with a compatible type
    /// — the same type; numbers between number, integer and year when the value fits (whole for integers and
    /// years); selects of the same option kind, or of fixed options that include the value. Everything else is
    /// dropped, with the reason.
    #[must_use]
    pub fn carry_over(&self, previous: &CompiledTemplate, values: &Map<String, Value>) -> CarryOver {
        let mut carried = CarryOver::default();
        for (name, value) in values {
            let reason = match (previous.field(name), self.field(name)) {
                (_, None) => Some("not_in_new_form"),
                (None, Some(_)) => Some("not_in_previous_form"),
                (Some(old), Some(new)) => compatibility(old, new, value),
            };
            match reason {
                None => {
                    carried.values.insert(name.clone(), value.clone());
                }
                Some(_) if carried.dropped.len() >= DROPPED_LISTED => carried.dropped_unlisted += 1,
                Some(reason) => carried.dropped.push(Dropped { field: shorten_name(name), reason }),
            }
        }
        carried
    }

    /// The field called `name`.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.by_name.get(name).map(|&i| &self.fields[i].field)
    }
}

#[cfg(test)]
mod tests;
