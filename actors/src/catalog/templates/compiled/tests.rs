//! The cascade runtime and compiling, on the bundled set and on small forms.

use serde_json::json;

use super::super::document::{BUNDLED, TemplateSet};
use super::super::issues::TemplateIssue;
use super::super::resolve::resolve;
use super::*;

/// The bundled truck form, compiled once (an evaluation borrows its field names).
fn trucks() -> &'static CompiledTemplate {
    static TRUCKS: std::sync::LazyLock<CompiledTemplate> = std::sync::LazyLock::new(|| {
        let set = TemplateSet::from_json(BUNDLED).unwrap();
        CompiledTemplate::compile(resolve(&set, "Trucks", true, None).unwrap()).unwrap()
    });
    &TRUCKS
}

fn values(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn codes<'e>(e: &'e Evaluation<'_>) -> Vec<(&'e str, &'static str)> {
    e.errors.iter().map(|i| (i.field.as_str(), i.code)).collect()
}

/// Changing the brand resets the model and says to load the new brand's models; nothing else is listed.
#[test]
fn changing_the_brand_resets_the_model() {
    let brand = Uuid::now_v7();
    let model = Uuid::now_v7();
    let (e, checks) = trucks().evaluate(
        &values(json!({"brand": brand.to_string(), "model": model.to_string()})),
        &["brand".into()],
        2026,
    );
    assert_eq!(e.reset, ["model"]);
    assert_eq!(e.options.len(), 1, "{:?}", e.options);
    assert_eq!(e.options["model"], OptionList { kind: OptionKind::Model, parent_id: Some(brand) });
    assert!(codes(&e).contains(&("model", "required")), "the reset model is required again: {:?}", e.errors);
    assert_eq!(checks.len(), 1, "only the brand is looked up: {checks:?}");
    assert_eq!(checks[0].list, OptionList { kind: OptionKind::Brand, parent_id: None });
}

/// Without `changed`, every loadable list is named; a model without a brand is `parent_missing`.
#[test]
fn lists_to_load_and_missing_parents() {
    let (e, _) = trucks().evaluate(&values(json!({"model": Uuid::now_v7().to_string()})), &[], 2026);
    assert_eq!(e.options.get("brand").map(|l| l.kind), Some(OptionKind::Brand));
    assert!(!e.options.contains_key("model"), "no brand, no model list");
    assert!(codes(&e).contains(&("model", "parent_missing")), "{:?}", e.errors);
}

/// Conditions: ADR classes show and become required only for ADR trucks; an electric engine hides the
/// combustion fields, and hidden fields are neither required nor checked.
#[test]
fn visibility_and_requiredness_follow_the_values() {
    let t = trucks();
    let (plain, _) = t.evaluate(&values(json!({})), &[], 2026);
    assert!(!plain.visible.contains(&"adr_classes"));
    let (adr, _) = t.evaluate(&values(json!({"adr": true})), &[], 2026);
    assert!(adr.visible.contains(&"adr_classes"));
    assert!(adr.required.contains(&"adr_classes"));
    assert!(codes(&adr).contains(&("adr_classes", "required")));
    let (diesel, _) = t.evaluate(&values(json!({"fuel_type": "diesel"})), &[], 2026);
    assert!(diesel.visible.contains(&"emission_class"));
    let (electric, _) = t.evaluate(&values(json!({"fuel_type": "electric", "emission_class": "made-up"})), &[], 2026);
    assert!(!electric.visible.contains(&"emission_class"));
    assert!(!electric.required.contains(&"emission_class"));
    assert!(!codes(&electric).iter().any(|(f, _)| *f == "emission_class"), "{:?}", electric.errors);
}

/// Values are validated: type, range, year range, pattern, length, fixed options, unknown fields.
#[test]
fn values_are_validated() {
    let (e, _) = trucks().evaluate(
        &values(json!({
            "year": 1850, "mileage_km": -5, "power_hp": 12.5, "vin": "not a vin",
            "fuel_type": "steam", "description": "x".repeat(5001), "colour": "red", "adr": "yes"
        })),
        &[],
        2026,
    );
    let c = codes(&e);
    for expected in [
        ("year", "below_min"),
        ("mileage_km", "below_min"),
        ("power_hp", "invalid_type"),
        ("vin", "pattern_mismatch"),
        ("fuel_type", "unknown_option"),
        ("description", "too_long"),
        ("colour", "unknown_field"),
        ("adr", "invalid_type"),
    ] {
        assert!(c.contains(&expected), "{expected:?} missing from {c:?}");
    }
    let (next_year, _) = trucks().evaluate(&values(json!({"year": 2028})), &[], 2026);
    assert!(codes(&next_year).contains(&("year", "above_max")));
}

/// Text is read trimmed: the clean value has no outer whitespace, and `maxLength` and `pattern` see the
/// trimmed text.
#[test]
fn text_values_are_trimmed() {
    let checked = trucks().check_values(
        &values(json!({"description": "  Sisu timber truck  ", "vin": " YV2RT40A8LB123456 "})),
        &[],
        2026,
    );
    assert_eq!(checked.values["description"], "Sisu timber truck");
    assert_eq!(checked.values["vin"], "YV2RT40A8LB123456");
    let c = codes(&checked.evaluation);
    assert!(!c.iter().any(|(field, _)| *field == "vin" || *field == "description"), "{c:?}");
}

fn form_of(fields: &str) -> Result<CompiledTemplate, Vec<TemplateIssue>> {
    let json =
        format!(r#"{{"templates": [{{"category": "Vans", "blocks": [{{"name": "b", "fields": [{fields}]}}]}}]}}"#);
    let set = TemplateSet::from_json(&json).unwrap();
    CompiledTemplate::compile(resolve(&set, "Vans", false, None).unwrap())
}

/// Visibility that depends on itself, directly or through another field, is refused: hidden means absent,
/// so it would have no answer.
#[test]
fn visible_if_cycles_are_refused() {
    let issues = form_of(
        r#"{"name": "a", "type": "boolean", "label": "A", "visibleIf": {"!": {"var": "b"}}},
           {"name": "b", "type": "boolean", "label": "B", "visibleIf": {"!": {"var": "a"}}}"#,
    )
    .unwrap_err();
    assert!(issues.iter().any(|i| i.code == "dependency_cycle" && i.message.contains("visibleIf cycle")), "{issues:?}");
    let own = form_of(r#"{"name": "a", "type": "boolean", "label": "A", "visibleIf": {"!!": {"var": "a"}}}"#);
    assert!(own.is_err(), "a field whose visibility reads its own value");
}

/// Hidden means absent, through a chain: `h1` false hides `h2`, whose value then counts as absent, which hides
/// `h3` (it asked for `h2 == "x"`) and shows `f` (it asked for no `h2`) — whose own value then shows `g`; the
/// clean values keep only what shows, and a field hidden at first but shown at the end keeps its value.
#[test]
fn hiding_cascades_through_the_fields_that_read_a_hidden_value() {
    let form = form_of(
        r#"{"name": "h1", "type": "boolean", "label": "H1"},
           {"name": "h2", "type": "text", "label": "H2", "visibleIf": {"var": "h1"}},
           {"name": "h3", "type": "text", "label": "H3", "visibleIf": {"==": [{"var": "h2"}, "x"]}},
           {"name": "f", "type": "text", "label": "F", "visibleIf": {"!": {"var": "h2"}}},
           {"name": "g", "type": "text", "label": "G", "visibleIf": {"==": [{"var": "f"}, "y"]}},
           {"name": "k", "type": "text", "label": "K", "visibleIf": {"!": {"var": "h3"}}}"#,
    )
    .unwrap();
    let state = values(json!({"h1": false, "h2": "x", "h3": "z", "f": "y", "g": "w", "k": "v"}));
    let checked = form.check_values(&state, &[], 2026);
    assert_eq!(checked.evaluation.visible, ["h1", "f", "g", "k"]);
    let kept: Vec<&str> = checked.values.keys().map(String::as_str).collect();
    assert_eq!(kept, ["f", "g", "h1", "k"]);
    // With h1 true nothing hides but f (h2 holds "x"), and so g and k hide too.
    let shown = values(json!({"h1": true, "h2": "x", "h3": "z", "f": "y", "g": "w", "k": "v"}));
    assert_eq!(form.check_values(&shown, &[], 2026).evaluation.visible, ["h1", "h2", "h3"]);
}

/// Carrying values over keeps same-named fields of compatible types and names the reason for the others.
#[test]
fn carry_over_keeps_compatible_values() {
    let old = form_of(
        r#"{"name": "n", "type": "number", "label": "N"},
           {"name": "y", "type": "year", "label": "Y"},
           {"name": "s", "type": "select", "label": "S", "options": [{"value": "x", "label": "X"}]},
           {"name": "t", "type": "text", "label": "T"},
           {"name": "gone", "type": "text", "label": "G"}"#,
    )
    .unwrap();
    let new = form_of(
        r#"{"name": "n", "type": "integer", "label": "N"},
           {"name": "y", "type": "number", "label": "Y"},
           {"name": "s", "type": "select", "label": "S", "options": [{"value": "z", "label": "Z"}]},
           {"name": "t", "type": "boolean", "label": "T"}"#,
    )
    .unwrap();
    let carried = new.carry_over(&old, &values(json!({"n": 2.5, "y": 2019, "s": "x", "t": "hi", "gone": "g"})));
    assert_eq!(carried.values, values(json!({"y": 2019})));
    let mut dropped: Vec<_> = carried.dropped.iter().map(|d| (d.field.as_str(), d.reason)).collect();
    dropped.sort_unstable();
    assert_eq!(
        dropped,
        [("gone", "not_in_new_form"), ("n", "incompatible_type"), ("s", "not_an_option"), ("t", "incompatible_type")]
    );
}

/// `evaluate` skips building the clean values; what it answers is what the full check answers, for states
/// that exercise resets, hidden fields, unknown names, bad values, option look-ups and trimmed text.
#[test]
fn evaluate_answers_what_the_full_check_answers() {
    let t = trucks();
    let (brand, model) = (Uuid::now_v7().to_string(), Uuid::now_v7().to_string());
    let states = [
        (json!({}), vec![]),
        (json!({"brand": brand, "model": model, "year": 2019, "adr": true}), vec!["brand".to_owned()]),
        (json!({"brand": brand, "model": model, "adr": false, "adr_classes": ["3"]}), vec!["adr".to_owned()]),
        (json!({"fuel_type": "electric", "emission_class": "euro_6", "nope": 1, "year": 1492}), vec![]),
        (json!({"model": model, "mileage_km": "far", "payload_kg": -1}), vec!["model".to_owned()]),
        (json!({"brand": "not-an-id", "condition": "used", "title": "  Volvo FH  "}), vec!["brand".to_owned()]),
    ];
    let locale = Locale::new("de", "en");
    for (state, changed) in states {
        let full = t.check_values_in(&values(state.clone()), &changed, 2026, &locale);
        let (evaluation, checks) = t.evaluate_in(Cow::Owned(values(state.clone())), &changed, 2026, &locale);
        assert_eq!(evaluation, full.evaluation, "{state}");
        assert_eq!(checks, full.checks, "{state}");
        // Values lent are evaluated as values given.
        let lent = values(state.clone());
        assert_eq!(t.evaluate_in(Cow::Borrowed(&lent), &changed, 2026, &locale), (evaluation, checks), "{state}");
    }
}
