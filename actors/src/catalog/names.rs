//! Option names: one normal form, one identity key, one search key.
//!
//! - display: Unicode NFKC, trimmed, runs of whitespace collapsed to one space (what is stored and shown);
//! - key: the identity ([`identity_key`]): case, accents, punctuation and spacing variants ignored, so
//!   "Scània" = "Scania", "München" = "Munchen" and "Liebherr-Nova" = "Liebherr Nova" = "Liebherr‐Nova"
//!   (U+2010) — two names with the same key are the same option, and the first spelling stays the display;
//! - search: the key with accents removed (NFKD, combining marks dropped), so `q=sko` finds "Škoda" and
//!   `q=muen` does not pretend to find "München" but `q=mun` does.
//!
//! A name is what it looks like (UTS #39, UTR #36): invisible characters (default-ignorable code points,
//! format characters, blank letters such as the Hangul fillers and the braille blank) are refused, naming the
//! code point; a name's letters must fit UTS #39's "moderately restrictive" profile ([`check_scripts`], asked
//! only of names that would become new options); the key folds every non-ASCII character to its UTS #39
//! confusable prototype, so "Vоlvo" (Cyrillic о) and "Vοlvo" (Greek ο) are "Volvo"; and the display width
//! is bounded ([`MAX_NAME_WIDTH`]).

use std::collections::HashMap;
use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;
use unicode_security::{RestrictionLevel, RestrictionLevelDetection};
use unicode_width::UnicodeWidthChar;

pub use crate::ports::catalog::OptionName;

/// Longest option name, in characters.
pub const MAX_NAME_CHARS: usize = 80;

/// Widest name, in terminal columns (Unicode East Asian Width: most characters 1, wide ones 2, and the
/// few glyphs that span many ems counted as drawn, see [`display_width`]). 80 Latin letters fit; so do 50
/// CJK ideographs; 80 × U+FDFD (one glyph as wide as a sentence) does not.
pub const MAX_NAME_WIDTH: usize = 100;

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
    /// Contains a character that shows as nothing (or as a blank that is not a space): a default-ignorable
    /// or format character, a blank letter. The first one, as the client sent it.
    #[error("the name contains the invisible character U+{:04X}; names must be what they look like", u32::from(*.0))]
    InvisibleCharacter(char),
    /// Its letters mix scripts beyond UTS #39's "moderately restrictive" profile (Latin with Cyrillic or
    /// Greek, two non-Latin scripts, …).
    #[error("the name mixes scripts (for example Latin with Cyrillic or Greek letters); write it in one script")]
    MixedScripts,
    /// Wider than [`MAX_NAME_WIDTH`] columns.
    #[error("the name is wider than 100 columns")]
    TooWide,
}

impl NameError {
    /// Stable code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::TooLong => "too_long",
            Self::ControlCharacters => "control_characters",
            Self::InvisibleCharacter(_) => "invisible_character",
            Self::MixedScripts => "mixed_scripts",
            Self::TooWide => "too_wide",
        }
    }

    /// The offending code point as `U+XXXX`, for the invisible-character refusal.
    #[must_use]
    pub fn code_point(self) -> Option<String> {
        match self {
            Self::InvisibleCharacter(c) => Some(format!("U+{:04X}", u32::from(c))),
            _ => None,
        }
    }
}

/// Whether `c` shows as nothing, or as a blank that is not a space, so a name with it looks like one
/// without it: every default-ignorable code point (Unicode `Default_Ignorable_Code_Point`: zero-width space,
/// joiner and non-joiner, word joiner, soft hyphen, bidi marks and overrides, invisible operators, variation
/// selectors, the Hangul fillers, tag characters, …), every format character (general category `Cf`, the
/// same table emails refuse, e.g. the Mongolian vowel separator and U+FEFF), and the blank letters that are
/// neither (the braille pattern blank U+2800 and the Khitan filler U+16FE4). White space is not here: it
/// collapses to one space.
#[must_use]
pub fn is_invisible(c: char) -> bool {
    crate::accounts::password::is_default_ignorable(c)
        || crate::accounts::email::is_format_char(c)
        || matches!(c, '\u{2800}' | '\u{16FE4}')
}

/// Glyphs much wider than one column that East Asian Width calls narrow, counted as the columns they take
/// (the Arabic ligatures of whole phrases, the two- and three-em dashes). Everything else is
/// `unicode-width`'s answer.
fn extra_wide(c: char) -> Option<usize> {
    match c {
        '\u{FDFD}' => Some(12),
        '\u{FDFA}' | '\u{FDFB}' => Some(8),
        '\u{FDF2}'..='\u{FDF9}' | '\u{FDFC}' | '\u{FDFE}'..='\u{FDFF}' => Some(3),
        '\u{2E3A}' => Some(2),
        '\u{2E3B}' => Some(3),
        '\u{A9C5}' | '\u{102A}' | '\u{0BF5}' | '\u{0BF8}' | '\u{0BFA}' => Some(2),
        '\u{12000}'..='\u{1254F}' => Some(3),
        _ => None,
    }
}

/// The columns `text` takes on a screen: `unicode-width` per character, [`extra_wide`] for the glyphs it
/// under-counts.
#[must_use]
pub fn display_width(text: &str) -> usize {
    text.chars().map(|c| extra_wide(c).unwrap_or_else(|| c.width().unwrap_or(0))).sum()
}

/// Whether a name's letters and digits fit UTS #39's "moderately restrictive" profile: one script, or
/// Latin with Han/Hiragana/Katakana or Han/Hangul, or Latin with one other recommended script that is not
/// Cyrillic or Greek — and only characters the general security profile allows in identifiers. Asked of a
/// name that would become a new option; a mixed name whose key is an existing option's (a look-alike)
/// resolves to that option instead.
///
/// # Errors
/// [`NameError::MixedScripts`].
pub fn check_scripts(display: &str) -> Result<(), NameError> {
    let letters: String = display.chars().filter(|c| c.is_alphanumeric()).collect();
    if letters.as_str().detect_restriction_level() > RestrictionLevel::ModeratelyRestrictive {
        return Err(NameError::MixedScripts);
    }
    Ok(())
}

/// Whether a stored name passes today's rules (no invisible character, one script, width within bounds):
/// when the identity upgrade merges look-alikes, such a name survives over one that does not.
#[must_use]
pub fn is_well_formed(display: &str) -> bool {
    normalize(display).is_ok_and(|n| n.display == display) && check_scripts(display).is_ok()
}

/// The search form of any text (names and queries alike).
#[must_use]
pub fn search_form(text: &str) -> String {
    text.nfkd().filter(|c| !is_combining_mark(*c)).collect::<String>().to_lowercase()
}

/// The version of [`identity_key`] stored keys are computed with (`catalog_meta.identity_version`): the
/// start-up upgrade recomputes every key and merges the duplicates when the stored mark is lower.
/// Version 2 added the confusable fold (and drops invisible characters from keys).
pub const IDENTITY_VERSION: i64 = 2;

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
/// form, so no valid name has an empty key. Before the split, [`fold_confusables`] (non-ASCII look-alikes
/// of ASCII letters and digits become them). Idempotent: the key of a key is itself.
#[must_use]
pub fn identity_key(text: &str) -> String {
    // Invisible characters first: a name stored before they were refused meets its visible spelling.
    let visible: String = text.chars().filter(|c| !is_invisible(*c)).collect();
    let text = visible.as_str();
    let mut folded = String::with_capacity(text.len());
    for c in text.nfkd().filter(|c| !is_combining_mark(*c)).flat_map(char::to_lowercase) {
        fold_latin(c, &mut folded);
    }
    let folded = fold_confusables(&folded);
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

/// The ASCII letters and digits by their UTS #39 skeleton, one table per case (letters before digits, so
/// the skeleton `l` of `1`, `I` and `l` names the letter of that case).
static ASCII_TWINS: LazyLock<[HashMap<String, char>; 2]> = LazyLock::new(|| {
    let table = |chars: &str| {
        let mut twins = HashMap::new();
        for a in chars.chars() {
            twins.entry(skeleton_of(a)).or_insert(a);
        }
        twins
    };
    [table("abcdefghijklmnopqrstuvwxyz0123456789"), table("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")]
});

/// The UTS #39 skeleton of one character.
fn skeleton_of(c: char) -> String {
    let mut buf = [0u8; 4];
    unicode_security::skeleton(c.encode_utf8(&mut buf)).collect()
}

/// The ASCII letter or digit a non-ASCII letter is confusable with, lower-cased: its lower-case form's
/// twin among the lower-case ASCII characters, else its upper-case form's among the upper-case ones (so
/// Cyrillic `в`/`В` → `b`, `о`/`О` → `o`, `і`/`І` → `i`, Greek `ο`/`Ο` → `o`, `ν` → `v`). Both cases of a
/// letter give the same answer, so identity stays case-insensitive. `None`: no ASCII look-alike.
fn ascii_twin(c: char) -> Option<char> {
    let single = |mut it: std::char::ToLowercase| it.next().filter(|_| it.next().is_none());
    let lower = single(c.to_lowercase())?;
    let mut upper_it = c.to_uppercase();
    let upper = upper_it.next().filter(|_| upper_it.next().is_none());
    let [lower_twins, upper_twins] = &*ASCII_TWINS;
    lower_twins
        .get(&skeleton_of(lower))
        .copied()
        .or_else(|| upper.and_then(|u| upper_twins.get(&skeleton_of(u))).map(char::to_ascii_lowercase))
}

/// The confusable fold of a lower-cased name: each non-ASCII character with an ASCII look-alike (by UTS #39
/// skeletons, [`ascii_twin`]) replaced by it, so "vоlvo" (Cyrillic о) = "vοlvo" (Greek ο) = "volvo" and
/// "Москва" meets the Latin "MOCKBA" it looks like in capitals. ASCII stays as typed: "0"/"O", "1"/"l" and
/// "rn"/"m" remain distinct (model numbers use them). Letters without a look-alike keep themselves.
fn fold_confusables(lowered: &str) -> String {
    lowered.chars().map(|c| if c.is_ascii() { c } else { ascii_twin(c).unwrap_or(c) }).collect()
}

/// The current key of a key stored by an earlier [`IDENTITY_VERSION`] (alias records keep only the key, not
/// the name it came from): the key of the stored key, since [`identity_key`] is idempotent.
#[must_use]
pub fn upgrade_key(stored: &str) -> String {
    identity_key(stored)
}

/// Validates and normalises a name.
///
/// # Errors
/// [`NameError`] for empty, over-long, over-wide, control- or invisible-character names. The scripts are
/// checked apart ([`check_scripts`]): a look-alike of an existing option resolves to it.
pub fn normalize(raw: &str) -> Result<OptionName, NameError> {
    if let Some(c) = raw.chars().find(|c| is_invisible(*c)) {
        return Err(NameError::InvisibleCharacter(c));
    }
    let nfkc: String = raw.nfkc().collect();
    if let Some(c) = nfkc.chars().find(|c| is_invisible(*c)) {
        return Err(NameError::InvisibleCharacter(c));
    }
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
    if display_width(&display) > MAX_NAME_WIDTH {
        return Err(NameError::TooWide);
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
        assert_eq!(key("Москва"), key("МОСКВА"));
        assert_eq!(key("Москва"), key("MOCKBA"), "they look alike in capitals");
        assert!(key("Ёлка").contains('л'), "{}", key("Ёлка"));
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

    /// Every invisible character class of issue 20 is refused with `invisible_character`, naming the code
    /// point as the client sent it — the look-alikes of "Volvo" an attacker would create.
    #[test]
    fn invisible_characters_are_refused_naming_the_code_point() {
        let cases: &[(&str, u32)] = &[
            ("Vol\u{200B}vo", 0x200B),            // zero-width space
            ("Vol\u{200D}vo", 0x200D),            // zero-width joiner
            ("Vol\u{200C}vo", 0x200C),            // zero-width non-joiner
            ("Vol\u{2060}vo", 0x2060),            // word joiner
            ("Vol\u{00AD}vo", 0x00AD),            // soft hyphen
            ("\u{202E}ovloV", 0x202E),            // right-to-left override
            ("Volvo\u{200E}", 0x200E),            // left-to-right mark
            ("Volvo\u{2066}", 0x2066),            // left-to-right isolate
            ("Vol\u{2063}vo", 0x2063),            // invisible separator
            ("Volvo\u{3164}", 0x3164),            // Hangul filler
            ("Volvo\u{FFA0}", 0xFFA0),            // half-width Hangul filler
            ("\u{115F}Volvo", 0x115F),            // Hangul choseong filler
            ("Volvo\u{2800}", 0x2800),            // braille pattern blank
            ("Vol\u{180E}vo", 0x180E),            // Mongolian vowel separator
            ("Volvo\u{E0056}\u{E006F}", 0xE0056), // tag characters
            ("Volvo\u{E007F}", 0xE007F),          // cancel tag
            ("\u{FEFF}Volvo", 0xFEFF),            // byte order mark
            ("Volvo\u{FE0F}", 0xFE0F),            // variation selector
            ("Vol\u{034F}vo", 0x034F),            // combining grapheme joiner
            ("Vol\u{061C}vo", 0x061C),            // Arabic letter mark
        ];
        for (name, code_point) in cases {
            let err = normalize(name).expect_err(name);
            let expected = char::from_u32(*code_point).expect("a char");
            assert_eq!(err, NameError::InvisibleCharacter(expected), "{name:?}");
            assert_eq!(err.code(), "invisible_character");
            let shown = format!("U+{code_point:04X}");
            assert_eq!(err.code_point().as_deref(), Some(shown.as_str()));
            assert!(err.to_string().contains(&shown), "{err}");
        }
        // White space (no-break, ideographic) is not invisible: it collapses to one space.
        assert_eq!(normalize("Mercedes\u{00A0}Benz").expect("valid").display, "Mercedes Benz");
        assert_eq!(normalize("Mercedes\u{3000}Benz").expect("valid").display, "Mercedes Benz");
    }

    /// Cyrillic and Greek look-alikes of Latin letters have the Latin name's key, so they resolve to it.
    #[test]
    fn confusable_look_alikes_share_the_key() {
        let key = |n: &str| normalize(n).expect("valid").key;
        assert_eq!(key("V\u{043E}lvo"), "volvo"); // Cyrillic о
        assert_eq!(key("V\u{03BF}lvo"), "volvo"); // Greek ο
        assert_eq!(key("\u{0412}\u{041E}LVO"), key("BOLVO")); // Cyrillic В, О look like B, O
        assert_eq!(key("\u{0432}olvo"), key("bolvo")); // and so does the lower-case в, as a letter
        assert_eq!(key("\u{03BD}olvo"), "volvo"); // Greek ν
        assert_eq!(key("R\u{0435}n\u{0430}ult"), key("Renault")); // Cyrillic е, а
        assert_eq!(key("\u{0420}eugeot"), key("Peugeot")); // Cyrillic Р looks like P
        assert_eq!(key("Scania"), "scania");
        // ASCII stays as typed: model numbers keep 0/O and 1/l apart.
        assert_ne!(key("R 410"), key("R 4l0"));
        assert_ne!(key("Volvo"), key("V0lvo"));
        // A stored name with an invisible character meets its visible spelling at the upgrade.
        assert_eq!(identity_key("Vol\u{200B}vo"), "volvo");
    }

    /// The key of a key is itself, so stored version-1 keys (aliases) upgrade to the current ones.
    #[test]
    fn identity_key_is_idempotent() {
        let names = ["Vоlvo", "Москва", "Αθήνα", "小松", "Ёлка-Трак", "Scània", "XG+", "ǅemal", "C & A", "---", "Łódź"];
        for name in names.into_iter().chain(crate::catalog::seed::OPTIONS.iter().map(|o| o.name)) {
            let key = normalize(name).expect("valid").key;
            assert_eq!(identity_key(&key), key, "{name:?}");
            assert_eq!(upgrade_key(&key), key, "{name:?}");
        }
        assert_eq!(upgrade_key("v\u{043E}lvo"), "volvo");
    }

    /// Letters mixing scripts beyond "moderately restrictive" are refused; one script, Latin with Han or
    /// Kana, and digits and symbols with anything pass.
    #[test]
    fn mixed_scripts_are_refused() {
        assert_eq!(check_scripts("V\u{043E}lvo"), Err(NameError::MixedScripts));
        assert_eq!(check_scripts("V\u{03BF}lvo"), Err(NameError::MixedScripts));
        assert_eq!(check_scripts("Αθήνα Москва"), Err(NameError::MixedScripts));
        assert_eq!(NameError::MixedScripts.code(), "mixed_scripts");
        for ok in ["Volvo FH16", "Москва", "КамАЗ 5490", "Αθήνα", "小松 PC210", "いすゞ Elf", "Škoda", "C&A", "XG+"]
        {
            assert_eq!(check_scripts(ok), Ok(()), "{ok:?}");
        }
        assert!(is_well_formed("Volvo"));
        assert!(!is_well_formed("V\u{043E}lvo"));
        assert!(!is_well_formed("Vol\u{200B}vo"));
    }

    /// The display width is bounded: 80 × U+FDFD (a glyph as wide as a sentence) is refused, 80 letters and
    /// 50 ideographs pass.
    #[test]
    fn display_width_is_bounded() {
        assert_eq!(normalize(&"\u{FDFD}".repeat(80)), Err(NameError::TooWide));
        assert_eq!(normalize(&"\u{FDFD}".repeat(9)), Err(NameError::TooWide));
        assert!(normalize("\u{FDFD} Volvo").is_ok());
        assert!(normalize(&"x".repeat(80)).is_ok());
        assert!(normalize(&"松".repeat(50)).is_ok());
        assert_eq!(normalize(&"松".repeat(51)), Err(NameError::TooWide));
        assert_eq!(display_width("Volvo"), 5);
        assert_eq!(NameError::TooWide.code(), "too_wide");
    }
}
