//! The listing-form catalog: option kinds and their parents, and how option names are normalised so that
//! "Volvo", " volvo " and "VOLVO" are one option.
//!
//! - [`cache`]: the option cache actor (per-instance cache, invalidation on every instance over the bus).
//! - [`moderation`]: operators' changes (rename, merge, hide, approve, engine flag), the audit record, the
//!   identity upgrade's plan and near matches.
//! - [`names`]: normalisation (NFKC, trimmed, spaces collapsed), the case-insensitive key, the accent- and
//!   case-insensitive search key, and the name rules (not empty, at most 80 characters, no control characters).
//! - [`seed`]: the starter catalog of a European machinery marketplace and the idempotent loader for it.

pub mod cache;
pub mod moderation;
pub mod names;
pub mod seed;
pub mod templates;

use serde::{Deserialize, Serialize};

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
