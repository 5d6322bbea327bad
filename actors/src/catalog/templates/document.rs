//! The template document operators write and import: shared blocks and templates, each made of blocks of
//! fields. The same shape (camelCase keys) is what `GET /v1/templates/…` returns once resolved, so a front
//! end reads one format.
//!
//! ```json
//! {
//!   "sharedBlocks": [{ "name": "engine_block", "label": "Engine", "fields": [ … ] }],
//!   "templates": [
//!     { "category": "Trucks", "blocks": [{ "use": "listing_block" }, { "name": "truck", "label": "Truck", "fields": [ … ] }] },
//!     { "category": "Trucks", "subcategory": "Tipper trucks", "blocks": [{ "name": "tipper", "label": "Tipper", "fields": [ … ] }] }
//!   ]
//! }
//! ```
//!
//! Categories and subcategories are named (not by id: ids differ between deployments) and matched by their
//! identity key, as option names are. `"category": "*"` is the default template for categories without one.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::locale::{Locale, LocalizedText};
use crate::catalog::names;

/// The name of the shared block attached to every category whose `has_engine` is true.
pub const ENGINE_BLOCK: &str = "engine_block";

/// The category name of the default template.
pub const DEFAULT_CATEGORY: &str = "*";

/// A whole template set: what is stored, imported and exported.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateSet {
    /// Blocks templates attach by name (`{"use": name}`); `engine_block` is attached to engine categories.
    #[serde(default)]
    pub shared_blocks: Vec<Block>,
    /// Category templates and subcategory overrides.
    #[serde(default)]
    pub templates: Vec<Template>,
}

/// A category's template, or a subcategory's override of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Template {
    /// The category's name (`*`: the default template).
    pub category: String,
    /// The subcategory's name, for an override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subcategory: Option<String>,
    /// Blocks, in form order: inline blocks and `{"use": shared block}` attachments.
    #[serde(default)]
    pub blocks: Vec<Block>,
}

/// A named group of fields, or (`use`) an attachment of a shared block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Block {
    /// The block's name (inline blocks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The shared block this entry attaches (instead of `name`/`fields`).
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub uses: Option<String>,
    /// Heading shown above the block (a string or a map of locales).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<LocalizedText>,
    /// Whether the block came from a shared block (set by resolution; ignored on input).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shared: bool,
    /// The fields, in form order.
    #[serde(default)]
    pub fields: Vec<Field>,
}

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// Free text.
    Text,
    /// Any number.
    Number,
    /// A whole number.
    Integer,
    /// A year (a whole number; default range 1900 to next year).
    Year,
    /// One option (from `dataSource` or `options`).
    Select,
    /// Several options.
    Multiselect,
    /// Yes or no.
    Boolean,
}

impl FieldType {
    /// Whether the field's values are options.
    #[must_use]
    pub fn is_choice(self) -> bool {
        matches!(self, Self::Select | Self::Multiselect)
    }

    /// Whether `min`/`max` apply.
    #[must_use]
    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Number | Self::Integer | Self::Year)
    }
}

/// One form field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Field {
    /// Identifier (`[a-z][a-z0-9_]*`), unique in a resolved template; the key in `values`.
    pub name: String,
    /// What it holds.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// Shown to the user (a string or a map of locales).
    pub label: LocalizedText,
    /// A hint shown with the field (a string or a map of locales).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<LocalizedText>,
    /// Always required (when visible).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    /// Options from the catalog, cascading from another field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source: Option<DataSource>,
    /// Fixed options (selects without a data source).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<Choice>,
    /// Fields whose change resets this one (with `resetOnChange`); `dataSource.parentField` counts too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// JsonLogic: shown only when truthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visible_if: Option<Value>,
    /// JsonLogic: required when truthy (and visible).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_if: Option<Value>,
    /// Whether a change of a field it depends on clears it (default: true when it depends on anything).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_on_change: Option<bool>,
    /// Value rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<Validation>,
}

impl Field {
    /// The fields this one depends on: `dependsOn` and the data source's parent field.
    pub fn dependencies(&self) -> impl Iterator<Item = &str> {
        self.depends_on
            .iter()
            .map(String::as_str)
            .chain(self.data_source.as_ref().and_then(|d| d.parent_field.as_deref()))
    }

    /// Whether a change of a dependency clears this field.
    #[must_use]
    pub fn resets_on_change(&self) -> bool {
        self.reset_on_change.unwrap_or(true)
    }
}

/// Where a field's options come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataSource {
    /// The option kind (`brand`, `model`, …).
    pub kind: String,
    /// The field holding the parent option's id (e.g. `brand` for `model`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_field: Option<String>,
}

/// A fixed option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// Stored value.
    pub value: String,
    /// Shown to the user (a string or a map of locales).
    pub label: LocalizedText,
}

/// Value rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Validation {
    /// Smallest number (numeric fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest number (numeric fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Regular expression the whole text must match (text fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Most characters (text fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// The field's own messages, by issue code (`required`, `below_min`, …): a string or a map of locales,
    /// with the placeholders `{label}`, `{min}`, `{max}` (see `templates::messages`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub messages: std::collections::BTreeMap<String, LocalizedText>,
}

impl Block {
    /// This block with every text resolved to `locale` (what a front end receives: strings, never maps).
    #[must_use]
    pub fn localized(&self, locale: &Locale) -> Self {
        Self {
            label: self.label.as_ref().map(|l| l.localized(locale)),
            fields: self.fields.iter().map(|f| f.localized(locale)).collect(),
            ..self.clone()
        }
    }
}

impl Field {
    /// This field with its label, help, fixed options' labels and messages resolved to `locale`.
    #[must_use]
    pub fn localized(&self, locale: &Locale) -> Self {
        Self {
            label: self.label.localized(locale),
            help: self.help.as_ref().map(|h| h.localized(locale)),
            options: self
                .options
                .iter()
                .map(|c| Choice { value: c.value.clone(), label: c.label.localized(locale) })
                .collect(),
            validation: self.validation.as_ref().map(|v| Validation {
                messages: v.messages.iter().map(|(code, m)| (code.clone(), m.localized(locale))).collect(),
                ..v.clone()
            }),
            ..self.clone()
        }
    }

    /// Every text of the field with where it is (`label`, `help`, `options[2].label`, `validation.messages.required`).
    #[must_use]
    pub fn texts(&self) -> Vec<(String, &LocalizedText)> {
        let mut out = vec![("label".to_owned(), &self.label)];
        out.extend(self.help.iter().map(|h| ("help".to_owned(), h)));
        out.extend(self.options.iter().enumerate().map(|(i, c)| (format!("options[{i}].label"), &c.label)));
        if let Some(v) = &self.validation {
            out.extend(v.messages.iter().map(|(code, m)| (format!("validation.messages.{code}"), m)));
        }
        out
    }
}

/// The identity key of a category or subcategory name in a template (as option names compare).
#[must_use]
pub fn name_key(name: &str) -> String {
    names::normalize(name).map_or_else(|_| name.trim().to_lowercase(), |n| n.key)
}

impl Template {
    /// How messages name the template: `Trucks` or `Trucks / Tipper trucks`.
    #[must_use]
    pub fn title(&self) -> String {
        match &self.subcategory {
            Some(sub) => format!("{} / {sub}", self.category),
            None => self.category.clone(),
        }
    }

    /// The (category key, subcategory key) the template is found by.
    #[must_use]
    pub fn key(&self) -> (String, Option<String>) {
        (name_key(&self.category), self.subcategory.as_deref().map(name_key))
    }
}

impl TemplateSet {
    /// Parses a document.
    ///
    /// # Errors
    /// Not JSON, or not of this shape (the message says where).
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The shared block called `name`.
    #[must_use]
    pub fn shared_block(&self, name: &str) -> Option<&Block> {
        self.shared_blocks.iter().find(|b| b.name.as_deref() == Some(name))
    }

    /// The template for (category key, subcategory key).
    #[must_use]
    pub fn template(&self, category_key: &str, subcategory_key: Option<&str>) -> Option<&Template> {
        self.templates.iter().find(|t| {
            let (c, s) = t.key();
            c == category_key && s.as_deref() == subcategory_key
        })
    }

    /// Adds `other` to this set: shared blocks replace the ones of the same name, templates the ones for the
    /// same (category, subcategory); everything else is kept (`gantry templates import` without `--replace`).
    pub fn merge(&mut self, other: Self) {
        for block in other.shared_blocks {
            match self.shared_blocks.iter_mut().find(|b| b.name == block.name) {
                Some(existing) => *existing = block,
                None => self.shared_blocks.push(block),
            }
        }
        for template in other.templates {
            let key = template.key();
            match self.templates.iter_mut().find(|t| t.key() == key) {
                Some(existing) => *existing = template,
                None => self.templates.push(template),
            }
        }
    }
}

/// The template set Gantry ships: used until operators store their own (`gantry templates import`).
pub const BUNDLED: &str = include_str!("bundled.json");

#[cfg(test)]
mod tests {
    use super::*;

    /// Importing a set replaces templates and shared blocks by identity and keeps the rest.
    #[test]
    fn merge_replaces_by_identity_and_keeps_the_rest() {
        let mut base = TemplateSet::from_json(BUNDLED).unwrap();
        let before = base.templates.len();
        let import = TemplateSet::from_json(
            r#"{"templates": [
                {"category": " TRUCKS ", "blocks": [{"name": "only", "fields": []}]},
                {"category": "Gliders", "blocks": []}
            ]}"#,
        )
        .unwrap();
        base.merge(import);
        assert_eq!(base.templates.len(), before + 1, "Trucks replaced, Gliders added");
        let trucks = base.template("trucks", None).unwrap();
        assert_eq!(trucks.blocks.len(), 1);
        assert_eq!(trucks.blocks[0].name.as_deref(), Some("only"));
        assert!(base.template("trucks", Some("tipper trucks")).is_some(), "overrides are kept");
        assert!(base.shared_block(ENGINE_BLOCK).is_some());
    }

    /// Unknown keys are refused, with the place named, so typos never silently drop a rule.
    #[test]
    fn unknown_keys_are_refused() {
        let err = TemplateSet::from_json(
            r#"{"templates": [{"category": "Trucks", "blocks": [{"name": "b", "fields": [
                {"name": "x", "type": "text", "label": "X", "visibleIff": true}]}]}]}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("visibleIff"), "{err}");
    }
}
