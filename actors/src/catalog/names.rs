//! Option names: one normal form, one identity key, one search key.
//!
//! - display: Unicode NFKC, trimmed, runs of whitespace collapsed to one space (what is stored and shown);
//! - key: the display form lower-cased — two names with the same key are the same option;
//! - search: the key with accents removed (NFKD, combining marks dropped), so `q=sko` finds "Škoda" and
//!   `q=muen` does not pretend to find "München" but `q=mun` does.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Longest option name, in characters.
pub const MAX_NAME_CHARS: usize = 80;

/// A validated, normalised option name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionName {
    /// Shown and stored.
    pub display: String,
    /// Identity (case-insensitive).
    pub key: String,
    /// Prefix search (case- and accent-insensitive).
    pub search: String,
}

/// Why a name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing left after trimming.
    #[error("the name is empty")]
    Empty,
    /// Over [`MAX_NAME_CHARS`].
    #[error("the name is longer than 80 characters")]
    TooLong,
    /// Contains control characters.
    #[error("the name contains control characters")]
    ControlCharacters,
}

impl NameError {
    /// Stable code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::TooLong => "too_long",
            Self::ControlCharacters => "control_characters",
        }
    }
}

/// The search form of any text (names and queries alike).
#[must_use]
pub fn search_form(text: &str) -> String {
    text.nfkd().filter(|c| !is_combining_mark(*c)).collect::<String>().to_lowercase()
}

/// Validates and normalises a name.
///
/// # Errors
/// [`NameError`] for empty, over-long or control-character names.
pub fn normalize(raw: &str) -> Result<OptionName, NameError> {
    let nfkc: String = raw.nfkc().collect();
    if nfkc.chars().any(|c| c.is_control() && !c.is_whitespace()) || nfkc.contains(['\n', '\r', '\t']) {
        return Err(NameError::ControlCharacters);
    }
    let display = nfkc.split_whitespace().collect::<Vec<_>>().join(" ");
    if display.is_empty() {
        return Err(NameError::Empty);
    }
    if display.chars().count() > MAX_NAME_CHARS {
        return Err(NameError::TooLong);
    }
    let key = display.to_lowercase();
    let search = search_form(&display);
    Ok(OptionName { display, key, search })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "Volvo", " volvo " and "VOLVO" are one option; inner spaces collapse; the first spelling is kept for
    /// display by whoever creates it.
    #[test]
    fn case_and_spacing_variants_share_a_key() {
        let keys: Vec<String> =
            ["Volvo", " volvo ", "VOLVO", "vOlVo"].iter().map(|n| normalize(n).expect("valid").key).collect();
        assert!(keys.iter().all(|k| k == "volvo"), "{keys:?}");
        assert_eq!(normalize("  Mercedes   Benz  ").expect("valid").display, "Mercedes Benz");
    }

    /// NFKC folds compatibility forms (full-width letters, ligatures) into one spelling.
    #[test]
    fn compatibility_forms_fold() {
        assert_eq!(normalize("ＭＡＮ").expect("valid").key, "man");
        assert_eq!(normalize("ﬁat").expect("valid").key, "fiat");
    }

    /// Search ignores case and accents.
    #[test]
    fn search_ignores_accents() {
        assert_eq!(normalize("Škoda").expect("valid").search, "skoda");
        assert!(normalize("München").expect("valid").search.starts_with(&search_form("MUN")));
    }

    /// Empty, over-long and control-character names are refused with stable codes.
    #[test]
    fn bad_names_are_refused() {
        assert_eq!(normalize("   "), Err(NameError::Empty));
        assert_eq!(normalize(&"x".repeat(81)), Err(NameError::TooLong));
        assert!(normalize(&"x".repeat(80)).is_ok());
        assert_eq!(normalize("Vol\u{0007}vo"), Err(NameError::ControlCharacters));
        assert_eq!(normalize("Vol\nvo"), Err(NameError::ControlCharacters));
        assert_eq!(NameError::TooLong.code(), "too_long");
    }
}
