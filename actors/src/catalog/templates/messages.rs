//! The validation messages of the form runtime in the languages Gantry ships (English, German, Polish,
//! Russian), and how a message is chosen: the field's own message for the code (`validation.messages`, a string
//! or a map of locales) first, else the built-in text, each in the request's locale along its fallback chain.
//! Placeholders: `{label}` (the field's label in that locale), `{min}`, `{max}`, `{value}`, `{parent}`,
//! `{count}`. Codes stay language-neutral; only `message` is translated.

use std::collections::BTreeMap;

use crate::catalog::locale::{Locale, LocalizedText};

/// One built-in message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    /// `required`.
    Required,
    /// `invalid_type`: not text.
    NotText,
    /// `invalid_type`: not a boolean.
    NotBoolean,
    /// `invalid_type`: not a number.
    NotNumber,
    /// `invalid_type`: not a whole number.
    NotWhole,
    /// `invalid_type`: a multiselect's value is not a list.
    NotList,
    /// `invalid_type`: an item is not an option value.
    NotOption,
    /// `too_long` (`{max}`).
    TooLong,
    /// `pattern_mismatch`.
    Pattern,
    /// `below_min` (`{min}`).
    BelowMin,
    /// `above_max` (`{max}`).
    AboveMax,
    /// `unknown_option`: not an id.
    NotAnId,
    /// `parent_missing` (`{parent}`).
    ParentMissing,
    /// `unknown_option` of fixed options (`{value}`).
    NotAChoice,
    /// `unknown_option` of a top-level list.
    NoSuchOption,
    /// `unknown_option` under a parent.
    NoSuchOptionUnderParent,
    /// `unknown_field`.
    UnknownField,
    /// `unknown_field`, the ones not listed (`{count}`).
    MoreUnknownFields,
}

/// The languages with built-in messages.
pub const LANGUAGES: [&str; 4] = ["en", "de", "pl", "ru"];

impl Text {
    /// Every message (the translation tests walk them).
    pub const ALL: [Self; 18] = [
        Self::Required,
        Self::NotText,
        Self::NotBoolean,
        Self::NotNumber,
        Self::NotWhole,
        Self::NotList,
        Self::NotOption,
        Self::TooLong,
        Self::Pattern,
        Self::BelowMin,
        Self::AboveMax,
        Self::NotAnId,
        Self::ParentMissing,
        Self::NotAChoice,
        Self::NoSuchOption,
        Self::NoSuchOptionUnderParent,
        Self::UnknownField,
        Self::MoreUnknownFields,
    ];

    /// The message's key in a form's `messages` (what a front end renders errors from).
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::NotText => "not_text",
            Self::NotBoolean => "not_boolean",
            Self::NotNumber => "not_number",
            Self::NotWhole => "not_whole",
            Self::NotList => "not_list",
            Self::NotOption => "not_option",
            Self::TooLong => "too_long",
            Self::Pattern => "pattern_mismatch",
            Self::BelowMin => "below_min",
            Self::AboveMax => "above_max",
            Self::NotAnId => "not_an_id",
            Self::ParentMissing => "parent_missing",
            Self::NotAChoice => "not_a_choice",
            Self::NoSuchOption => "no_such_option",
            Self::NoSuchOptionUnderParent => "no_such_option_under_parent",
            Self::UnknownField => "unknown_field",
            Self::MoreUnknownFields => "more_unknown_fields",
        }
    }

    /// The text in `language` (one of [`LANGUAGES`]), `[en, de, pl, ru]`.
    #[must_use]
    #[allow(clippy::too_many_lines)]
    fn texts(self) -> [&'static str; 4] {
        match self {
            Self::Required => [
                "{label} is required",
                "{label} ist ein Pflichtfeld",
                "Pole „{label}” jest wymagane",
                "Поле «{label}» обязательно для заполнения",
            ],
            Self::NotText => [
                "{label} must be text",
                "{label} muss ein Text sein",
                "Pole „{label}” musi być tekstem",
                "Поле «{label}» должно быть текстом",
            ],
            Self::NotBoolean => [
                "{label} must be true or false",
                "{label} muss Ja oder Nein sein",
                "Pole „{label}” musi mieć wartość tak lub nie",
                "Поле «{label}» должно иметь значение «да» или «нет»",
            ],
            Self::NotNumber => [
                "{label} must be a number",
                "{label} muss eine Zahl sein",
                "Pole „{label}” musi być liczbą",
                "Поле «{label}» должно быть числом",
            ],
            Self::NotWhole => [
                "{label} must be a whole number",
                "{label} muss eine ganze Zahl sein",
                "Pole „{label}” musi być liczbą całkowitą",
                "Поле «{label}» должно быть целым числом",
            ],
            Self::NotList => [
                "{label} must be a list of options",
                "{label} muss eine Liste von Optionen sein",
                "Pole „{label}” musi być listą opcji",
                "Поле «{label}» должно быть списком вариантов",
            ],
            Self::NotOption => [
                "{label} must be an option",
                "{label} muss eine der Optionen sein",
                "Pole „{label}” musi być jedną z opcji",
                "Поле «{label}» должно быть одним из вариантов",
            ],
            Self::TooLong => [
                "{label} is longer than {max} characters",
                "{label} ist länger als {max} Zeichen",
                "Pole „{label}” jest za długie (najwyżej {max} zn.)",
                "Поле «{label}» слишком длинное (не более {max} симв.)",
            ],
            Self::Pattern => [
                "{label} is not in the expected format",
                "{label} hat nicht das erwartete Format",
                "Pole „{label}” ma nieprawidłowy format",
                "Поле «{label}» заполнено в неверном формате",
            ],
            Self::BelowMin => [
                "{label} must be at least {min}",
                "{label} muss mindestens {min} sein",
                "Pole „{label}” musi wynosić co najmniej {min}",
                "Значение поля «{label}» должно быть не меньше {min}",
            ],
            Self::AboveMax => [
                "{label} must be at most {max}",
                "{label} darf höchstens {max} sein",
                "Pole „{label}” może wynosić najwyżej {max}",
                "Значение поля «{label}» должно быть не больше {max}",
            ],
            Self::NotAnId => [
                "{label} is not an option id",
                "{label} ist keine gültige Options-ID",
                "Pole „{label}” nie zawiera prawidłowego identyfikatora opcji",
                "Поле «{label}» не содержит идентификатор варианта",
            ],
            Self::ParentMissing => [
                "choose {parent} first",
                "bitte zuerst {parent} wählen",
                "najpierw wybierz pole „{parent}”",
                "сначала выберите значение поля «{parent}»",
            ],
            Self::NotAChoice => [
                "{value} is not an option of {label}",
                "{value} ist keine Option von {label}",
                "{value} nie jest opcją pola „{label}”",
                "{value} не является вариантом поля «{label}»",
            ],
            Self::NoSuchOption => [
                "{label}: no such option",
                "{label}: diese Option gibt es nicht",
                "{label}: nie ma takiej opcji",
                "{label}: такого варианта нет",
            ],
            Self::NoSuchOptionUnderParent => [
                "{label}: no such option under the chosen parent",
                "{label}: diese Option gibt es für die getroffene Auswahl nicht",
                "{label}: nie ma takiej opcji dla dokonanego wyboru",
                "{label}: для выбранного значения такого варианта нет",
            ],
            Self::UnknownField => [
                "this form has no such field",
                "dieses Formular hat kein solches Feld",
                "ten formularz nie ma takiego pola",
                "в этой форме нет такого поля",
            ],
            Self::MoreUnknownFields => [
                "{count} more values name no field of this form",
                "{count} weitere Werte gehören zu keinem Feld dieses Formulars",
                "kolejne wartości ({count}) nie należą do żadnego pola tego formularza",
                "ещё несколько значений ({count}) не относятся ни к одному полю этой формы",
            ],
        }
    }
}

/// The built-in text of `text` in `locale`: the first shipped language along its chain, else English.
#[must_use]
pub fn builtin(text: Text, locale: &Locale) -> &'static str {
    let index = locale.chain().iter().find_map(|tag| LANGUAGES.iter().position(|l| l == tag)).unwrap_or(0);
    text.texts()[index]
}

/// Every built-in text in `locale`, by [`Text::key`], placeholders unfilled: the `messages` of a served form, so
/// that a front end renders the server's messages without a copy of this table.
#[must_use]
pub fn table(locale: &Locale) -> BTreeMap<&'static str, &'static str> {
    Text::ALL.iter().map(|t| (t.key(), builtin(*t, locale))).collect()
}

/// The message for `code`: the field's own (`custom`, by code) or the built-in `text`, in `locale`, with the
/// placeholders filled in.
#[must_use]
pub fn render(
    text: Text,
    code: &str,
    custom: Option<&BTreeMap<String, LocalizedText>>,
    locale: &Locale,
    args: &[(&str, &str)],
) -> String {
    let template = custom.and_then(|m| m.get(code)).map_or_else(|| builtin(text, locale), |t| t.resolve(locale));
    let mut out = template.to_owned();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message is translated (no language repeats the English text, placeholders are kept) and a regional
    /// locale finds its language.
    #[test]
    fn every_message_in_every_language() {
        for text in Text::ALL {
            let [en, rest @ ..] = text.texts();
            for other in rest {
                assert_ne!(en, other, "{text:?}");
                for placeholder in ["{label}", "{min}", "{max}", "{value}", "{parent}", "{count}"] {
                    assert_eq!(en.contains(placeholder), other.contains(placeholder), "{text:?} {other}");
                }
            }
        }
        let de_at = Locale::new("de-AT", "en");
        assert_eq!(
            render(Text::Required, "required", None, &de_at, &[("label", "Marke")]),
            "Marke ist ein Pflichtfeld"
        );
        assert_eq!(table(&de_at)["required"], "{label} ist ein Pflichtfeld");
        assert_eq!(table(&de_at).len(), Text::ALL.len());
        let fr = Locale::new("fr", "en");
        assert_eq!(render(Text::Required, "required", None, &fr, &[("label", "Brand")]), "Brand is required");
    }

    /// A field's own message wins, in the locale, with the placeholders filled.
    #[test]
    fn a_custom_message_wins() {
        let custom: BTreeMap<String, LocalizedText> = serde_json::from_str(
            r#"{"below_min": {"en": "{label}: {min} or more", "de": "{label}: mindestens {min}"}}"#,
        )
        .unwrap();
        let de = Locale::new("de", "en");
        let message = render(Text::BelowMin, "below_min", Some(&custom), &de, &[("label", "Leistung"), ("min", "5")]);
        assert_eq!(message, "Leistung: mindestens 5");
    }
}
