//! Checking a form's values against the catalog: the option ids a form holds must be in their lists (under
//! the right parent, visible to the caller, merged ids counted as their survivor), and the dependent lists a
//! form names follow what the look-ups found. Evaluation (`…/evaluate`) reports; submission (`…/submit`)
//! returns the clean values with options resolved to `{id, name}`.

use std::borrow::Cow;
use std::collections::HashMap;

use time::OffsetDateTime;
use uuid::Uuid;

use super::CatalogHandle;
use crate::catalog::error::CacheError;
use crate::catalog::forms::Form;
use crate::catalog::lists::visible_to;
use crate::catalog::locale::Locale;
use crate::catalog::templates::messages::{Text, render};
use crate::catalog::templates::{self, CompiledTemplate, Evaluation, ValueIssue};
use crate::ports::Unavailable;
use crate::ports::catalog::CatalogOption;

impl CatalogHandle {
    /// Evaluates `form` for `values` (moved into the evaluation when owned) after `changed` changed, including
    /// the catalog look-ups: an option id that is not under the right parent is an `unknown_option` error, and
    /// a dependent list is named only when its parent field holds a valid option of the parent's kind.
    ///
    /// # Errors
    /// The store or the actor is unavailable.
    pub async fn evaluate<'f>(
        &self,
        form: &'f Form,
        values: Cow<'_, serde_json::Map<String, serde_json::Value>>,
        changed: &[String],
        viewer: Option<Uuid>,
        locale: &Locale,
    ) -> Result<Evaluation<'f>, CacheError> {
        let this_year = OffsetDateTime::now_utc().year();
        let (mut evaluation, checks) = form.template.evaluate_in(values, changed, this_year, locale);
        self.look_up(form, checks, &mut evaluation, viewer, locale).await?;
        Ok(evaluation)
    }

    /// The final check of a complete form (`POST …/submit`): the clean values — hidden fields dropped, numbers
    /// and booleans typed, option ids checked against their parents and resolved to `{id, name}`.
    ///
    /// # Errors
    /// [`CacheError::InvalidValues`] with every problem, per field; the store or the actor is unavailable.
    pub async fn submit(
        &self,
        form: &Form,
        values: &serde_json::Map<String, serde_json::Value>,
        viewer: Option<Uuid>,
        locale: &Locale,
    ) -> Result<serde_json::Map<String, serde_json::Value>, CacheError> {
        let this_year = OffsetDateTime::now_utc().year();
        let checked = form.template.check_values_in(values, &[], this_year, locale);
        let mut evaluation = checked.evaluation;
        let names = self.look_up(form, checked.checks, &mut evaluation, viewer, locale).await?;
        if !evaluation.errors.is_empty() {
            return Err(CacheError::InvalidValues(evaluation.errors));
        }
        let resolve = |value: &serde_json::Value| {
            let id = value.as_str().and_then(|s| Uuid::parse_str(s).ok());
            match id.and_then(|id| names.get(&id)) {
                Some((id, name)) => serde_json::json!({"id": id, "name": name}),
                None => value.clone(),
            }
        };
        let mut clean = checked.values;
        for (name, value) in &mut clean {
            if form.template.field(name).is_some_and(|f| f.data_source.is_some()) {
                let resolved = match &*value {
                    serde_json::Value::Array(items) => items.iter().map(resolve).collect(),
                    single => resolve(single),
                };
                *value = resolved;
            }
        }
        Ok(clean)
    }

    /// Looks up `checks` in the cached lists: a miss is an `unknown_option` error in `evaluation`; a list whose
    /// parent field failed its look-up is not named. A pending option counts only for its creator (`viewer`);
    /// a merged id counts as the option it was merged into when that one is in the list. Returns, per id
    /// asked, the option found (id and name).
    async fn look_up(
        &self,
        form: &Form,
        checks: Vec<templates::OptionCheck>,
        evaluation: &mut Evaluation<'_>,
        viewer: Option<Uuid>,
        locale: &Locale,
    ) -> Result<HashMap<Uuid, (Uuid, String)>, CacheError> {
        let mut names = HashMap::new();
        let visible = |o: &CatalogOption| visible_to(o, viewer);
        for check in checks {
            let list = match self.list((check.list.kind, check.list.parent_id)).await {
                Ok(list) => Some(list),
                // A parent merged away: its children are under the option it was merged into.
                Err(CacheError::UnknownParent) => match check.list.parent_id {
                    Some(parent) => match self.merged_into(parent).await? {
                        Some(survivor) => self.list((check.list.kind, Some(survivor))).await.ok(),
                        None => None,
                    },
                    None => None,
                },
                Err(e) => return Err(e),
            };
            let found = match list {
                Some(list) => match list.items.iter().find(|o| o.id == check.id && visible(o)) {
                    Some(o) => Some((o.id, o.name.clone())),
                    None => self
                        .merged_into(check.id)
                        .await?
                        .and_then(|target| list.items.iter().find(|o| o.id == target && visible(o)))
                        .map(|o| (o.id, o.name.clone())),
                },
                None => None,
            };
            if let Some(found) = found {
                names.insert(check.id, found);
                continue;
            }
            let field = form.template.field(&check.field);
            let label = field.map_or(check.field.as_str(), |f| f.label.resolve(locale));
            let text = if check.list.parent_id.is_some() { Text::NoSuchOptionUnderParent } else { Text::NoSuchOption };
            let custom = field.and_then(|f| f.validation.as_ref()).map(|v| &v.messages);
            let message = render(text, "unknown_option", custom, locale, &[("label", label)]);
            if !evaluation.errors.iter().any(|e| e.field == check.field) {
                evaluation.errors.push(ValueIssue { field: check.field, code: "unknown_option", message });
            }
        }
        settle_lists(&form.template, evaluation, &names);
        Ok(names)
    }

    /// The option a merged id now stands for (`None`: not a merged id), read from the store within the I/O
    /// timeout — only ids missing from their list get here.
    async fn merged_into(&self, id: Uuid) -> Result<Option<Uuid>, CacheError> {
        let resolved = tokio::time::timeout(self.deps.io_timeout, self.deps.store.resolve_option(id))
            .await
            .unwrap_or_else(|_| Err(Unavailable::new("the catalog did not answer in time")))?;
        Ok(resolved.filter(|r| r.merged_from.is_some()).map(|r| r.option.id))
    }
}

/// The dependent lists an evaluation names, once the look-ups are done: a list whose parent field holds a
/// merged id is the survivor's list, and a list whose parent field failed its look-up is not named (a brand
/// field holding a country's id must not point the model list at that country). `names`: per id looked up,
/// the option found.
fn settle_lists(template: &CompiledTemplate, evaluation: &mut Evaluation<'_>, names: &HashMap<Uuid, (Uuid, String)>) {
    // A dependent list whose parent field holds a merged id is the survivor's list.
    for list in evaluation.options.values_mut() {
        if let Some((survivor, _)) = list.parent_id.and_then(|parent| names.get(&parent)) {
            list.parent_id = Some(*survivor);
        }
    }
    // A brand field holding a country's id must not point the model list at that country.
    let failed: Vec<String> = evaluation.errors.iter().map(|e| e.field.clone()).collect();
    evaluation.options.retain(|name, list| {
        list.parent_id.is_none()
            || template
                .field(name)
                .and_then(|f| f.data_source.as_ref()?.parent_field.as_ref())
                .is_none_or(|parent| !failed.contains(parent))
    });
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::catalog::OptionKind;
    use crate::catalog::templates::document::{BUNDLED, TemplateSet};
    use crate::catalog::templates::{OptionList, resolve};

    fn trucks() -> CompiledTemplate {
        let set = TemplateSet::from_json(BUNDLED).expect("the bundled set parses");
        CompiledTemplate::compile(resolve(&set, "Trucks", true, None).expect("trucks resolve")).expect("compiles")
    }

    fn evaluation_with_brand(template: &CompiledTemplate, brand: Uuid) -> Evaluation<'_> {
        let values = json!({"brand": brand.to_string()});
        template.evaluate(values.as_object().expect("an object"), &["brand".into()], 2026).0
    }

    /// A brand merged into another: the model list named is the survivor's.
    #[test]
    fn a_merged_parent_names_the_survivors_list() {
        let template = trucks();
        let (merged, survivor) = (Uuid::now_v7(), Uuid::now_v7());
        let mut evaluation = evaluation_with_brand(&template, merged);
        let names = HashMap::from([(merged, (survivor, "Scania".to_owned()))]);
        settle_lists(&template, &mut evaluation, &names);
        assert_eq!(evaluation.options["model"], OptionList { kind: OptionKind::Model, parent_id: Some(survivor) });
    }

    /// A brand that failed its look-up names no model list; a brand found keeps it as it is.
    #[test]
    fn a_failed_parent_names_no_dependent_list() {
        let template = trucks();
        let brand = Uuid::now_v7();
        let mut failed = evaluation_with_brand(&template, brand);
        failed.errors.push(ValueIssue { field: "brand".into(), code: "unknown_option", message: "Brand: no".into() });
        settle_lists(&template, &mut failed, &HashMap::new());
        assert!(!failed.options.contains_key("model"), "{:?}", failed.options);

        let mut found = evaluation_with_brand(&template, brand);
        settle_lists(&template, &mut found, &HashMap::from([(brand, (brand, "Volvo".to_owned()))]));
        assert_eq!(found.options["model"], OptionList { kind: OptionKind::Model, parent_id: Some(brand) });
    }
}
