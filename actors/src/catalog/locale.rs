//! Languages: locale tags (a small BCP 47 subset: `de`, `de-AT`, `sr-Latn-RS`, `es-419`), texts that are a
//! string or a map of locales ([`LocalizedText`]), the fallback chain a text is resolved along (`de-AT` →
//! `de` → the deployment's default) and the negotiation of a request's locale from `?lang=` and
//! `Accept-Language` against the locales the deployment serves (`catalog.locales`).
//!
//! Everything here is pure; the gateway reads the request, the catalog resolves texts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Why a locale tag was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a locale tag (language[-Script][-REGION], e.g. en, de-AT, sr-Latn)")]
pub struct BadTag(pub String);

/// Parses a locale tag into its canonical spelling: language lower-case (2–3 letters), an optional script in
/// title case (4 letters), an optional region upper-case (2 letters) or three digits (`419`). `_` counts as
/// `-` (`de_AT`, as some systems write it). Nothing else, whitespace included (the OpenAPI documents give the
/// same pattern).
///
/// # Errors
/// [`BadTag`]: anything else (extensions and private use are not served).
pub fn parse_tag(tag: &str) -> Result<String, BadTag> {
    let bad = || BadTag(tag.chars().take(40).collect());
    let mut parts = tag.split(['-', '_']);
    let language = parts.next().filter(|l| (2..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_alphabetic()));
    let mut out = language.ok_or_else(bad)?.to_ascii_lowercase();
    let mut rest: Vec<&str> = parts.collect();
    if let Some(script) = rest.first().filter(|s| s.len() == 4 && s.bytes().all(|b| b.is_ascii_alphabetic())) {
        out.push('-');
        out.push_str(&script[..1].to_ascii_uppercase());
        out.push_str(&script[1..].to_ascii_lowercase());
        rest.remove(0);
    }
    match rest.as_slice() {
        [] => {}
        [region] if region.len() == 2 && region.bytes().all(|b| b.is_ascii_alphabetic()) => {
            out.push('-');
            out.push_str(&region.to_ascii_uppercase());
        }
        [region] if region.len() == 3 && region.bytes().all(|b| b.is_ascii_digit()) => {
            out.push('-');
            out.push_str(region);
        }
        _ => return Err(bad()),
    }
    Ok(out)
}

/// The tags a text is looked up under for `tag`, most specific first: `sr-Latn-RS` → `sr-Latn-RS`, `sr-Latn`,
/// `sr` (the tag with its last subtag dropped, until only the language is left).
#[must_use]
pub fn truncations(tag: &str) -> Vec<String> {
    let mut out = vec![tag.to_owned()];
    let mut current = tag;
    while let Some((head, _)) = current.rsplit_once('-') {
        out.push(head.to_owned());
        current = head;
    }
    out
}

/// A request's locale: the tag the answer is in, and the chain texts are resolved along (the tag, its
/// truncations, the deployment's default).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Locale {
    /// The locale the answer is in (canonical tag; one of the deployment's locales).
    pub tag: String,
    /// Where a text is looked up, in order.
    chain: Vec<String>,
}

impl Locale {
    /// The locale `tag` (canonical) with `default` as the last resort.
    #[must_use]
    pub fn new(tag: &str, default: &str) -> Self {
        // The default ends the chain: what is less specific than the deployment's own language never beats it.
        let mut chain = truncations(tag);
        match chain.iter().position(|t| t == default) {
            Some(at) => chain.truncate(at + 1),
            None => chain.push(default.to_owned()),
        }
        Self { tag: tag.to_owned(), chain }
    }

    /// The chain texts are resolved along.
    #[must_use]
    pub fn chain(&self) -> &[String] {
        &self.chain
    }

    /// The deployment's default locale (the chain's last entry).
    #[must_use]
    pub fn default_tag(&self) -> &str {
        self.chain.last().map_or(self.tag.as_str(), String::as_str)
    }

    /// `map`'s entry for this locale along the chain, the default locale included; `None` when none of the
    /// chain's tags has one.
    #[must_use]
    pub fn pick<'a>(&self, map: &'a BTreeMap<String, String>) -> Option<&'a str> {
        self.chain.iter().find_map(|tag| map.get(tag)).map(String::as_str)
    }

    /// An option's name in this locale from its `translations`, along the chain up to (not including) the
    /// default locale: `None` means the option's own name, which is the default locale's name — so a request
    /// that reaches the default gets the own name even where a translation in the default's tag was stored.
    #[must_use]
    pub fn translation<'a>(&self, translations: &'a BTreeMap<String, String>) -> Option<&'a str> {
        let own = self.chain.len().saturating_sub(1);
        self.chain[..own].iter().find_map(|tag| translations.get(tag)).map(String::as_str)
    }
}

/// How a request's locale was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The locale.
    pub locale: Locale,
    /// `?lang=` or `Accept-Language` asked for something the deployment does not serve (or nothing that parses),
    /// and the default was used instead of what was asked (`false` also when nothing was asked).
    pub fell_back: bool,
}

/// Negotiates the locale of a request: `lang` (the `?lang=` parameter) wins over `accept_language` (the header,
/// by q-value, ties in order; `*` and `q=0` entries ignored). A wanted tag matches the first served locale
/// along its truncations (`de-AT` → `de`); nothing served → `default`. `served` holds canonical tags and
/// includes `default`.
#[must_use]
pub fn negotiate(lang: Option<&str>, accept_language: Option<&str>, served: &[String], default: &str) -> Negotiated {
    let (found, asked) = negotiate_index(lang, accept_language, served);
    match found {
        Some(at) => Negotiated { locale: Locale::new(&served[at], default), fell_back: false },
        None => Negotiated { locale: Locale::new(default, default), fell_back: asked },
    }
}

/// [`negotiate`] as a position in `served` (`None`: the default) and whether anything was asked for: what a
/// server that resolved its served locales once looks up per request, without building a [`Locale`]. A request
/// asking for nothing costs no allocation; each wanted tag costs its canonical spelling.
#[must_use]
pub fn negotiate_index(lang: Option<&str>, accept_language: Option<&str>, served: &[String]) -> (Option<usize>, bool) {
    let serve = |wanted: &str| -> Option<usize> {
        let tag = parse_tag(wanted.trim()).ok()?;
        let mut current = tag.as_str();
        loop {
            if let Some(at) = served.iter().position(|s| s == current) {
                return Some(at);
            }
            current = current.rsplit_once('-')?.0;
        }
    };
    let lang = lang.filter(|l| !l.trim().is_empty());
    let accept_language = accept_language.filter(|h| h.split(',').any(|e| !e.trim().is_empty()));
    let asked = lang.is_some() || accept_language.is_some();
    let found = match lang {
        Some(lang) => serve(lang),
        None => accept_language.and_then(|header| {
            let mut wanted: Vec<(u16, usize, &str)> = header
                .split(',')
                .enumerate()
                .filter_map(|(i, entry)| {
                    let mut parts = entry.split(';');
                    let tag = parts.next()?.trim();
                    let q = parts
                        .find_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
                        .map_or(Some(1000), parse_q)?;
                    (q > 0 && !tag.is_empty() && tag != "*").then_some((q, i, tag))
                })
                .take(32)
                .collect();
            wanted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            wanted.into_iter().find_map(|(_, _, tag)| serve(tag))
        }),
    };
    (found, asked)
}

/// A q-value in thousandths (`0.8` → 800); `None` when it does not parse (the entry is ignored).
fn parse_q(q: &str) -> Option<u16> {
    let value: f32 = q.trim().parse().ok()?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    (0.0..=1.0).contains(&value).then(|| (value * 1000.0).round() as u16)
}

/// A text shown to users: one string (in the deployment's default locale), or a map of locale tags to
/// strings. Serialises as it was written, so a template document round-trips.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LocalizedText {
    /// One string for every locale.
    Plain(String),
    /// A string per locale (`{"en": "Brand", "de": "Marke"}`).
    Map(BTreeMap<String, String>),
}

impl Default for LocalizedText {
    fn default() -> Self {
        Self::Plain(String::new())
    }
}

impl From<&str> for LocalizedText {
    fn from(text: &str) -> Self {
        Self::Plain(text.to_owned())
    }
}

impl PartialEq<&str> for LocalizedText {
    fn eq(&self, other: &&str) -> bool {
        matches!(self, Self::Plain(text) if text == other)
    }
}

impl LocalizedText {
    /// The text in `locale`: the first entry along its chain, else (a map stored before the default locale
    /// changed) the map's first entry.
    #[must_use]
    pub fn resolve(&self, locale: &Locale) -> &str {
        match self {
            Self::Plain(text) => text,
            Self::Map(map) => locale.pick(map).or_else(|| map.values().next().map(String::as_str)).unwrap_or_default(),
        }
    }

    /// The text in `default` only (messages for operators, titles).
    #[must_use]
    pub fn in_default(&self, default: &str) -> &str {
        self.resolve(&Locale::new(default, default))
    }

    /// This text as a plain string in `locale` (what a front end receives).
    #[must_use]
    pub fn localized(&self, locale: &Locale) -> Self {
        Self::Plain(self.resolve(locale).to_owned())
    }

    /// Whether the text (or one of its translations) is empty.
    #[must_use]
    pub fn is_blank(&self) -> bool {
        match self {
            Self::Plain(text) => text.trim().is_empty(),
            Self::Map(map) => map.is_empty() || map.values().any(|t| t.trim().is_empty()),
        }
    }

    /// The problems of this text for a template check, each with its code: `invalid_locale` for a tag that
    /// does not parse or is not spelled canonically (the message names it), `missing_default_locale` for a map
    /// without `default`.
    #[must_use]
    pub fn problems(&self, default: &str) -> Vec<(&'static str, String)> {
        let Self::Map(map) = self else { return Vec::new() };
        let mut out = Vec::new();
        for tag in map.keys() {
            match parse_tag(tag) {
                Err(e) => out.push(("invalid_locale", e.to_string())),
                Ok(canonical) if canonical != *tag => {
                    out.push(("invalid_locale", format!("locale {tag:?} is spelled {canonical:?}")));
                }
                Ok(_) => {}
            }
        }
        if !map.contains_key(default) {
            out.push((
                "missing_default_locale",
                format!("a map of locales must include the default locale {default:?}"),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served() -> Vec<String> {
        ["en", "de", "pl", "ru", "de-AT"].map(String::from).to_vec()
    }

    /// Tags are canonicalised; anything beyond language, script and region is refused.
    #[test]
    fn tags_parse_to_their_canonical_spelling() {
        assert_eq!(parse_tag("DE-at").unwrap(), "de-AT");
        assert_eq!(parse_tag("de_at").unwrap(), "de-AT");
        assert_eq!(parse_tag("sr-latn-rs").unwrap(), "sr-Latn-RS");
        assert_eq!(parse_tag("es-419").unwrap(), "es-419");
        for bad in ["", "d", "german", "de-AT-x", "de-", "1e", "en-US-u-ca-gregory", "*", " de"] {
            assert!(parse_tag(bad).is_err(), "{bad}");
        }
    }

    /// `?lang=` wins over the header; the header's q-values order it; a region falls back to its language, and
    /// what is not served to the default, which is reported as a fallback.
    #[test]
    fn negotiation_order_and_fallback_chain() {
        let n = |lang, header| negotiate(lang, header, &served(), "en");
        assert_eq!(n(Some("pl"), Some("de")).locale.tag, "pl");
        assert_eq!(n(None, Some("fr;q=1, de;q=0.5, ru;q=0.9")).locale.tag, "ru");
        assert_eq!(n(None, Some("de-CH, en;q=0.1")).locale.tag, "de");
        assert_eq!(n(None, Some("de-AT")).locale.tag, "de-AT");
        assert_eq!(n(None, Some("de-AT")).locale.chain(), ["de-AT", "de", "en"]);
        let fallback = n(None, Some("fr, it;q=0.5"));
        assert_eq!((fallback.locale.tag.as_str(), fallback.fell_back), ("en", true));
        let nothing = n(None, None);
        assert_eq!((nothing.locale.tag.as_str(), nothing.fell_back), ("en", false));
        assert_eq!(n(None, Some("ru;q=0, pl")).locale.tag, "pl", "q=0 means not wanted");
        assert_eq!(n(Some("xx-invalid-tag"), Some("de")).locale.tag, "en", "a bad ?lang= is not the header");
    }

    /// An option's translation is looked up only before the default: the default's name is the option's own.
    #[test]
    fn translations_stop_before_the_default() {
        let names: BTreeMap<String, String> =
            [("de", "Deutschland"), ("pl", "Niemcy")].map(|(k, v)| (k.to_owned(), v.to_owned())).into();
        assert_eq!(Locale::new("de-AT", "en").translation(&names), Some("Deutschland"));
        assert_eq!(Locale::new("en", "de").translation(&names), None, "English asks past the default: own name");
        assert_eq!(Locale::new("de", "de").translation(&names), None);
        assert_eq!(Locale::new("sr-Latn-RS", "sr-Latn").chain(), ["sr-Latn-RS", "sr-Latn"], "the default ends it");
    }

    /// A text resolves along the chain: the exact tag, its language, the default, then any entry.
    #[test]
    fn texts_resolve_along_the_chain() {
        let text: LocalizedText = serde_json::from_str(r#"{"en": "Brand", "de": "Marke"}"#).unwrap();
        assert_eq!(text.resolve(&Locale::new("de-AT", "en")), "Marke");
        assert_eq!(text.resolve(&Locale::new("pl", "en")), "Brand");
        let no_default: LocalizedText = serde_json::from_str(r#"{"de": "Marke"}"#).unwrap();
        assert_eq!(no_default.resolve(&Locale::new("pl", "en")), "Marke");
        assert_eq!(LocalizedText::from("Brand").resolve(&Locale::new("de", "en")), "Brand");
        assert_eq!(serde_json::to_string(&text).unwrap(), r#"{"de":"Marke","en":"Brand"}"#);
    }

    /// A map is checked for bad tags (named) and for the default locale.
    #[test]
    fn maps_need_good_tags_and_the_default() {
        let text: LocalizedText = serde_json::from_str(r#"{"de": "Marke", "english": "Brand"}"#).unwrap();
        let problems = text.problems("en");
        assert!(problems.iter().any(|(c, p)| *c == "invalid_locale" && p.contains("\"english\"")), "{problems:?}");
        assert!(problems.iter().any(|(c, _)| *c == "missing_default_locale"), "{problems:?}");
        assert!(LocalizedText::from("Brand").problems("en").is_empty());
    }
}
