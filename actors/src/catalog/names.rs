//! Option names: one normal form, one identity key, one search key.
//!
//! - display: Unicode NFKC, trimmed, runs of whitespace collapsed to one space (what is stored and shown);
//! - key: the identity ([`identity_key`]): case, accents, punctuation and spacing variants ignored, so
//!   "Scània" = "Scania", "München" = "Munchen" and "Liebherr-Nova" = "Liebherr Nova" = "Liebherr‐Nova"
//!   (U+2010) — two names with the same key are the same option, and the first spelling stays the display;
//! - search: the key with accents removed (NFKD, combining marks dropped), so `q=sko` finds "Škoda" and
//!   `q=muen` does not pretend to find "München" but `q=mun` does.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

pub use crate::ports::catalog::OptionName;

/// Longest option name, in characters.
pub const MAX_NAME_CHARS: usize = 80;

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

/// The version of [`identity_key`] stored keys are computed with (`catalog_meta.identity_version`): the
/// start-up upgrade recomputes every key and merges the duplicates when the stored mark is lower.
pub const IDENTITY_VERSION: i64 = 1;

/// Latin letters that Unicode does not decompose into a base letter and a mark, folded as a reader would
/// ("Łódź" = "Lodz", "Ørsta" = "Orsta", "Straße" = "Strasse"). `deunicode`/`any_ascii` would also do this,
/// but they transliterate every script (Cyrillic names would collide with their Latin spellings); this
/// table touches Latin only and every other script keeps its letters.
fn fold_latin(c: char, out: &mut String) {
    match c {
        'ß' => out.push_str("ss"),
        'æ' => out.push_str("ae"),
        'œ' => out.push_str("oe"),
        'þ' => out.push_str("th"),
        'ł' => out.push('l'),
        'ø' => out.push('o'),
        'đ' | 'ð' => out.push('d'),
        'ħ' => out.push('h'),
        'ı' => out.push('i'),
        _ => out.push(c),
    }
}

/// Whether `c` only separates words in a name (spaces, hyphens and dashes of every kind, dots, commas,
/// apostrophes, quotes, slashes, brackets…): "Liebherr-Nova", "Liebherr Nova" and "Liebherr‐Nova" are one
/// name. Symbols that tell models apart stay ("XG" and "XG+" are two DAF models). A short list rather than a
/// Unicode-category crate: these are the characters people type between the words of a name; NFKD has
/// already turned their compatibility forms (non-breaking hyphen, ellipsis, full-width) into these.
fn separates(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '\u{2010}'..='\u{2015}'
                | '\u{2212}'
                | '.'
                | ','
                | '\''
                | '\u{2018}'..='\u{201F}'
                | '`'
                | '\u{00B4}'
                | '"'
                | '_'
                | '/'
                | '\\'
                | '\u{00B7}'
                | ':'
                | ';'
                | '('
                | ')'
                | '['
                | ']'
                | '{'
                | '}'
                | '!'
                | '?'
                | '\u{00A1}'
                | '\u{00BF}'
                | '\u{00AB}'
                | '\u{00BB}'
                | '\u{2039}'
                | '\u{203A}'
                | '\u{30FB}'
                | '\u{3001}'
                | '\u{3002}'
        )
}

/// The identity of a name: NFKD, combining marks dropped, lower-cased, the Latin letters Unicode does not
/// decompose folded ([`fold_latin`]); then split into words of letters and digits, with each other symbol
/// (`+`, `&`…) a word of its own and the [`separates`] characters dropped, joined by one space — so spacing
/// and punctuation variants meet ("C&A" = "C & A", "XG+" = "XG +", but "XG+" ≠ "XG"). Letters of every
/// script stay (Cyrillic, Greek, CJK): only marks go. A name made only of separators keeps its lower-cased
/// form, so no valid name has an empty key.
#[must_use]
pub fn identity_key(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for c in text.nfkd().filter(|c| !is_combining_mark(*c)).flat_map(char::to_lowercase) {
        fold_latin(c, &mut folded);
    }
    let mut words: Vec<String> = Vec::new();
    let mut in_word = false;
    for c in folded.chars() {
        if c.is_alphanumeric() {
            if !in_word {
                words.push(String::new());
                in_word = true;
            }
            words.last_mut().expect("a word was just pushed").push(c);
        } else {
            in_word = false;
            if !separates(c) {
                words.push(c.to_string());
            }
        }
    }
    if words.is_empty() { text.to_lowercase() } else { words.join(" ") }
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
    let key = identity_key(&display);
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

    /// Accents, punctuation and spacing variants are one identity; the display keeps the spelling given.
    #[test]
    fn accent_punctuation_and_spacing_variants_share_a_key() {
        let key = |n: &str| normalize(n).expect("valid").key;
        assert_eq!(key("Scània"), key("Scania"));
        assert_eq!(key("München"), key("Munchen"));
        assert_eq!(key("Liebherr-Nova"), key("Liebherr Nova"));
        assert_eq!(key("Liebherr\u{2010}Nova"), key("Liebherr Nova"));
        assert_eq!(key("Liebherr \u{2014} Nova"), key("liebherr nova"));
        assert_eq!(key("J.C.B."), key("J C B"));
        assert_eq!(key("C&A"), key("C & A"));
        assert_eq!(key("XG+"), key("XG +"));
        assert_ne!(key("XG+"), key("XG"));
        assert_eq!(key("Łódź"), key("Lodz"));
        assert_eq!(key("Straße"), key("STRASSE"));
        assert_ne!(key("Liebherr Nova"), key("LiebherrNova"));
        assert_eq!(normalize("Scània").expect("valid").display, "Scània");
    }

    /// Non-Latin scripts keep their letters (no collapse to empty, no collision with a transliteration).
    #[test]
    fn other_scripts_keep_their_letters() {
        let key = |n: &str| normalize(n).expect("valid").key;
        assert_eq!(key("Москва"), "москва");
        assert_ne!(key("Москва"), key("Moskva"));
        assert_eq!(key("Ёлка-Трак"), key("ЕЛКА ТРАК"));
        assert_eq!(key("Αθήνα"), key("ΑΘΗΝΑ"));
        assert_eq!(key("小松"), "小松");
        assert_eq!(key("---"), "---");
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
