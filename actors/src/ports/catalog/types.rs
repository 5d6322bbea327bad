//! The catalog's shared data types: what an option is and how it is named, and the moderation changes the
//! store applies with what they report. They sit in the port layer so that the store's contract and the
//! domain rules above it (`catalog::names`, `catalog::moderation`, the catalog actor) share them without
//! the port importing upward; the domain re-exports them where its callers always found them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ports::Unavailable;

/// What an option is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptionKind {
    /// A listing category (trucks, tractors, …); carries `has_engine`.
    Category,
    /// A subcategory of a category.
    Subcategory,
    /// A brand.
    Brand,
    /// A model of a brand.
    Model,
    /// A country.
    Country,
    /// A city of a country.
    City,
}

impl OptionKind {
    /// Every kind.
    pub const ALL: [Self; 6] = [Self::Category, Self::Subcategory, Self::Brand, Self::Model, Self::Country, Self::City];

    /// The kind's name in URLs and storage.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Category => "category",
            Self::Subcategory => "subcategory",
            Self::Brand => "brand",
            Self::Model => "model",
            Self::Country => "country",
            Self::City => "city",
        }
    }

    /// Parses a kind's name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The kind whose options have options of this kind as parents, if any.
    #[must_use]
    pub fn child_kind(self) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.parent_kind() == Some(self))
    }

    /// The kind a parent must have, if options of this kind have one.
    #[must_use]
    pub fn parent_kind(self) -> Option<Self> {
        match self {
            Self::Subcategory => Some(Self::Category),
            Self::Model => Some(Self::Brand),
            Self::City => Some(Self::Country),
            Self::Category | Self::Brand | Self::Country => None,
        }
    }
}

/// One option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogOption {
    /// Id (UUID v7).
    pub id: Uuid,
    /// Kind.
    pub kind: OptionKind,
    /// Parent option (subcategory → category, model → brand, city → country).
    pub parent_id: Option<Uuid>,
    /// Display name (normalised, see `catalog::names`).
    pub name: String,
    /// Identity key (lower-cased); unique per (kind, parent).
    pub name_key: String,
    /// Search key (lower-cased, accents removed).
    pub search_key: String,
    /// Categories only: whether listings of it have an engine.
    pub has_engine: bool,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The account that created it (`None`: seeded, or created before accounts were recorded).
    #[serde(default)]
    pub created_by: Option<Uuid>,
    /// Hidden by an operator: not listed, not accepted in new forms; its id still resolves.
    #[serde(default)]
    pub hidden: bool,
    /// Created by a new account and not yet approved: listed only to its creator.
    #[serde(default)]
    pub pending: bool,
    /// Its name in other locales (canonical tag → display name, normalised); categories, subcategories,
    /// countries and cities only. `name` is the name in the deployment's default locale.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub translations: BTreeMap<String, String>,
}

impl CatalogOption {
    /// Whether options of this kind carry translations (brands and models keep one name).
    #[must_use]
    pub fn translatable(kind: OptionKind) -> bool {
        matches!(kind, OptionKind::Category | OptionKind::Subcategory | OptionKind::Country | OptionKind::City)
    }
}

/// An option an id resolved to, and the merged id it was reached through, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The option the id stands for now.
    pub option: CatalogOption,
    /// The id asked for, when it was merged into `option`.
    pub merged_from: Option<Uuid>,
}

/// What `create_option` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The option as stored (the existing one when it was already there).
    pub option: CatalogOption,
    /// Whether this call created it.
    pub created: bool,
    /// The catalog version after the call (raised by one only when created).
    pub version: u64,
}

/// A validated, normalised option name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionName {
    /// Shown and stored.
    pub display: String,
    /// Identity (case-, accent-, punctuation- and spacing-insensitive; see `catalog::names::identity_key`).
    pub key: String,
    /// Prefix search (case- and accent-insensitive).
    pub search: String,
}

/// One moderation change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moderation {
    /// A new display name (and with it a new identity key); refused when another option under the same
    /// parent already has that identity.
    Rename {
        /// The option.
        id: Uuid,
        /// The new name, normalised.
        name: OptionName,
    },
    /// `from` is merged into `into` (same kind): `from`'s id and name resolve to `into` from now on, its
    /// children move to `into` (children with the same identity are merged in turn).
    Merge {
        /// The option that goes.
        from: Uuid,
        /// The option that stays.
        into: Uuid,
    },
    /// Hides (or shows again) an option: hidden options are not listed nor accepted in forms; ids resolve.
    SetHidden {
        /// The option.
        id: Uuid,
        /// Hidden or not.
        hidden: bool,
    },
    /// Approves an option created by a new account: everyone sees it from now on.
    Approve {
        /// The option.
        id: Uuid,
    },
    /// Sets whether listings of a category have an engine.
    SetEngine {
        /// The category.
        id: Uuid,
        /// The new flag.
        has_engine: bool,
        /// The forms the change takes fields from, applied anyway (`force`): recorded in the audit record.
        /// Empty when nothing breaks (the catalog actor fills it in; callers leave it empty).
        overrides: Vec<BrokenForm>,
    },
    /// Sets the name of an option in one locale (categories, subcategories, countries and cities); refused
    /// when another option under the same parent has that name (in any language), or for an option that is not
    /// of a translatable kind. `name: None` removes the translation.
    Translate {
        /// The option.
        id: Uuid,
        /// The locale (canonical tag, not the default locale).
        locale: String,
        /// The name in that locale, normalised; `None` removes it.
        name: Option<OptionName>,
    },
    /// Creates an option as an operator: public at once, recorded in the audit table; refused when an option
    /// of the same identity is already there (or the name was merged into one). Other users' pending options
    /// of that identity are merged into it.
    Create {
        /// The option, its name normalised, not pending.
        option: CatalogOption,
    },
}

impl Moderation {
    /// The action's name in the audit table and metrics.
    #[must_use]
    pub fn action(&self) -> &'static str {
        match self {
            Self::Rename { .. } => "rename",
            Self::Merge { .. } => "merge",
            Self::SetHidden { hidden: true, .. } => "hide",
            Self::SetHidden { hidden: false, .. } => "unhide",
            Self::Approve { .. } => "approve",
            Self::SetEngine { .. } => "set_has_engine",
            Self::Translate { name: Some(_), .. } => "translate",
            Self::Translate { name: None, .. } => "remove_translation",
            Self::Create { .. } => "create",
        }
    }

    /// The option the change is about (for a merge, the one that goes).
    #[must_use]
    pub fn option_id(&self) -> Uuid {
        match self {
            Self::Rename { id, .. }
            | Self::SetHidden { id, .. }
            | Self::Approve { id }
            | Self::SetEngine { id, .. }
            | Self::Translate { id, .. } => *id,
            Self::Merge { from, .. } => *from,
            Self::Create { option } => option.id,
        }
    }
}

/// What a moderation change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moderated {
    /// The option after the change (for a merge: the one that stayed).
    pub option: CatalogOption,
    /// The catalog version after the change.
    pub version: u64,
    /// The lists (kind, parent) whose content changed.
    pub affected: Vec<(OptionKind, Option<Uuid>)>,
    /// The audit record written with it.
    pub audit: AuditEntry,
}

/// Why a moderation change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModerationError {
    /// No option with this id (or the `into` of a merge does not exist).
    #[error("no such option")]
    NotFound,
    /// Another option under the same parent already has this identity.
    #[error("another option already has this name")]
    NameTaken {
        /// That option.
        existing: Uuid,
    },
    /// A merge of two options of different kinds.
    #[error("options of different kinds cannot be merged")]
    KindMismatch,
    /// A merge of an option into itself.
    #[error("an option cannot be merged into itself")]
    SameOption,
    /// `has_engine` on something other than a category.
    #[error("only categories have an engine flag")]
    NotCategory,
    /// The change would take fields from forms (each form with its fields); retry with `force` to apply it
    /// and flag them.
    #[error("the change would take fields from {} form(s)", .0.len())]
    WouldBreakTemplates(Vec<BrokenForm>),
    /// A translation of a brand or a model (they keep one name).
    #[error("options of this kind keep one name")]
    NotTranslatable,
    /// The parent of an option an operator creates is missing, hidden or of another kind.
    #[error("no such parent")]
    UnknownParent,
    /// The store is unreachable.
    #[error("catalog unavailable: {0}")]
    Unavailable(String),
}

impl From<Unavailable> for ModerationError {
    fn from(e: Unavailable) -> Self {
        Self::Unavailable(e.0)
    }
}

/// A form a catalog change takes fields from (or makes fail its checks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenForm {
    /// The form: the category's name, or `Category / Subcategory` for a subcategory's override.
    pub form: String,
    /// The fields it would lose (or that would fail their checks), in form order.
    pub fields: Vec<String>,
}

/// One audit record: who changed what, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// The record's id.
    pub id: Uuid,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who (the operator's `requested_by`, `cli`, or `identity_upgrade`).
    pub actor: String,
    /// What ([`Moderation::action`], or `identity_merge`).
    pub action: String,
    /// The option.
    pub option_id: Uuid,
    /// The details (old and new values).
    pub detail: serde_json::Value,
    /// The catalog version after the change.
    pub version: u64,
}

/// What the identity upgrade did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdentityReport {
    /// (merged id, surviving id).
    pub merged: Vec<(Uuid, Uuid)>,
    /// Options whose key changed.
    pub rekeyed: usize,
    /// The catalog version after it.
    pub version: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kinds round-trip through their names, and only the three child kinds have parents.
    #[test]
    fn kinds_and_parents() {
        for kind in OptionKind::ALL {
            assert_eq!(OptionKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(OptionKind::parse("engine"), None);
        assert_eq!(OptionKind::Model.parent_kind(), Some(OptionKind::Brand));
        assert_eq!(OptionKind::City.parent_kind(), Some(OptionKind::Country));
        assert_eq!(OptionKind::Subcategory.parent_kind(), Some(OptionKind::Category));
        assert_eq!(OptionKind::Brand.parent_kind(), None);
    }
}
