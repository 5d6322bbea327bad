//! Every label in the buyer's language (issue 22): the locale negotiated from `?lang=` and `Accept-Language`
//! with its fallback chain, forms and evaluations in that locale, option names and search in every language,
//! identity across languages, moderators' translations (admin API and CLI), template imports with maps of
//! locales, and the bundled crane form's `dependsOn` / `resetOnChange: false`.

use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, TestApp, access, assert_problem, json_of, spawn_app_with};

async fn spawn_app() -> TestApp {
    spawn_app_with("[catalog]\nseed_on_first_start = true").await
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get(name).map(|v| v.to_str().expect("ascii").to_owned())
}

/// The id of the option called `name` (in English) of `kind` (under `parent`).
async fn id_of(app: &TestApp, kind: &str, parent: Option<&str>, name: &str) -> String {
    let path = match parent {
        Some(p) => format!("/v1/options/{kind}?parent_id={p}&limit=500&lang=en"),
        None => format!("/v1/options/{kind}?limit=500&lang=en"),
    };
    let page = json_of(app.get(&path).send().await.expect("request"), 200).await;
    page["items"].as_array().expect("items").iter().find(|i| i["name"] == name).unwrap_or_else(|| panic!("{name}"))
        ["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// The field `name` of a served form.
fn field<'a>(form: &'a Value, name: &str) -> &'a Value {
    form["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .flat_map(|b| b["fields"].as_array().expect("fields").iter())
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no field {name}"))
}

/// Whether a JSON value holds a map of locales anywhere (a label, help or message still unresolved).
fn holds_a_locale_map(value: &Value) -> bool {
    match value {
        Value::Object(map) => {
            (map.contains_key("en") && map.contains_key("de")) || map.values().any(holds_a_locale_map)
        }
        Value::Array(items) => items.iter().any(holds_a_locale_map),
        _ => false,
    }
}

fn admin_put(app: &TestApp, path: &str) -> reqwest::RequestBuilder {
    app.client.put(format!("{}{path}", app.admin)).bearer_auth(ADMIN_TOKEN)
}

fn admin_delete(app: &TestApp, path: &str) -> reqwest::RequestBuilder {
    app.client.delete(format!("{}{path}", app.admin)).bearer_auth(ADMIN_TOKEN)
}

/// A form is served in the negotiated locale: `Accept-Language` by q-value, `de-AT` falling back to `de`, a
/// language not served to the default (`en`), `?lang=` overriding the header; the answer names its locale in
/// `locale` and `Content-Language`, varies with `Accept-Language`, and holds strings only (never maps).
#[tokio::test]
async fn forms_follow_the_negotiated_locale_and_its_fallback_chain() {
    let app = spawn_app().await;
    let trucks = id_of(&app, "category", None, "Trucks").await;
    let form_in = async |query: &str, accept: Option<&str>| {
        let mut request = app.get(&format!("/v1/templates/{trucks}{query}"));
        if let Some(accept) = accept {
            request = request.header("accept-language", accept);
        }
        let response = request.send().await.expect("request");
        let language = header(&response, "content-language");
        let vary = header(&response, "vary");
        (json_of(response, 200).await, language, vary)
    };

    let (german, language, vary) = form_in("", Some("fr;q=0.9, de-AT, en;q=0.2")).await;
    assert_eq!((german["locale"].as_str(), language.as_deref()), (Some("de"), Some("de")), "de-AT → de");
    assert_eq!(vary.as_deref(), Some("Accept-Language"));
    assert_eq!(field(&german, "brand")["label"], "Marke");
    assert_eq!(field(&german, "condition")["options"][2]["label"], "Beschädigt");
    assert_eq!(field(&german, "vin")["help"], "17 Zeichen: Ziffern und Großbuchstaben außer I, O und Q");
    assert!(!holds_a_locale_map(&german), "a front end never sees maps: {german}");
    // The built-in message texts of the locale ride along (a front end checking values itself writes them), and
    // the language a submit names options in.
    assert_eq!(german["messages"]["required"], "{label} ist ein Pflichtfeld", "{german}");
    assert_eq!(german["messages"]["below_min"], "{label} muss mindestens {min} sein");
    assert_eq!(german["default_locale"], "en");

    let (polish, language, _) = form_in("?lang=pl", Some("de")).await;
    assert_eq!((polish["locale"].as_str(), language.as_deref()), (Some("pl"), Some("pl")), "?lang= wins");
    assert_eq!(field(&polish, "brand")["label"], "Marka");
    assert_eq!(polish["messages"]["required"], "Pole „{label}” jest wymagane");
    let (russian, _, _) = form_in("?lang=ru-RU", None).await;
    assert_eq!(
        (russian["locale"].as_str(), field(&russian, "year")["label"].as_str()),
        (Some("ru"), Some("Год выпуска"))
    );
    let (fallback, language, _) = form_in("", Some("fr-CA, it;q=0.5")).await;
    assert_eq!((fallback["locale"].as_str(), language.as_deref()), (Some("en"), Some("en")), "not served → default");
    assert_eq!(field(&fallback, "brand")["label"], "Brand");
    assert_eq!(fallback["messages"]["more_unknown_fields"], "{count} more values name no field of this form");
    assert!(!holds_a_locale_map(&fallback));

    let bad = app.get(&format!("/v1/templates/{trucks}?lang=not-a-tag-at-all")).send().await.expect("request");
    let problem = assert_problem(bad, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "lang", "{problem}");
    let counted = app.metrics().await;
    assert!(
        counted.lines().any(|l| l.starts_with("gantry_locale_fallbacks_total ") && !l.ends_with(" 0")),
        "{counted}"
    );
}

/// Each locale is its own representation: the form's and the option list's `ETag` differ per locale, and an
/// `If-None-Match` gives 304 only in the locale it was issued for; the list keeps its caching rules
/// (`public, max-age`) and varies with both `Authorization` and `Accept-Language`.
#[tokio::test]
async fn etags_differ_per_locale_and_revalidate_only_in_their_own() {
    let app = spawn_app().await;
    let trucks = id_of(&app, "category", None, "Trucks").await;
    for path in [format!("/v1/templates/{trucks}"), "/v1/options/country".to_owned()] {
        let german = app.get(&path).header("accept-language", "de").send().await.expect("request");
        let german_tag = header(&german, "etag").expect("an ETag");
        let polish = app.get(&format!("{path}?lang=pl")).send().await.expect("request");
        let polish_tag = header(&polish, "etag").expect("an ETag");
        assert_ne!(german_tag, polish_tag, "{path}");

        let same = app.get(&path).header("accept-language", "de").header("if-none-match", &german_tag).send().await;
        let same = same.expect("request");
        assert_eq!(same.status(), 304, "{path}");
        assert_eq!(header(&same, "content-language").as_deref(), Some("de"));
        assert!(header(&same, "vary").is_some_and(|v| v.contains("Accept-Language")));
        let other = app.get(&path).header("accept-language", "pl").header("if-none-match", &german_tag).send().await;
        let other = other.expect("request");
        assert_eq!(other.status(), 200, "{path}: another locale's ETag is no match");
        assert_eq!(header(&other, "content-language").as_deref(), Some("pl"));
    }
    let list = app.get("/v1/options/country?lang=ru").send().await.expect("request");
    assert_eq!(header(&list, "cache-control").as_deref(), Some("public, max-age=60"));
    assert_eq!(header(&list, "vary").as_deref(), Some("Authorization, Accept-Language"));
}

/// Option lists give names in the locale with the same ids; `q=` matches a name in any language whatever the
/// locale served (`Deutschland` and `Герм` find Germany); brands keep one name.
#[tokio::test]
async fn option_names_follow_the_locale_and_search_finds_any_translation() {
    let app = spawn_app().await;
    let germany = id_of(&app, "country", None, "Germany").await;
    let poland = id_of(&app, "country", None, "Poland").await;
    let app = &app;
    let page = async |path: String| json_of(app.get(&path).send().await.expect("request"), 200).await;
    let name_in = |page: &Value, id: &str| {
        page["items"].as_array().expect("items").iter().find(|i| i["id"] == id).map(|i| i["name"].clone())
    };

    let german = page("/v1/options/country?lang=de&limit=500".into()).await;
    assert_eq!(german["locale"], "de");
    assert_eq!(name_in(&german, &germany), Some(json!("Deutschland")));
    let russian = page("/v1/options/country?lang=ru&limit=500".into()).await;
    assert_eq!(name_in(&russian, &germany), Some(json!("Германия")));

    for q in ["Deutschland", "deutsch", "Niemcy", "%D0%93%D0%B5%D1%80%D0%BC"] {
        let found = page(format!("/v1/options/country?q={q}")).await;
        assert_eq!(name_in(&found, &germany), Some(json!("Germany")), "q={q}: {found}");
    }
    let found = page("/v1/options/country?q=Deutschland&lang=pl".into()).await;
    assert_eq!(name_in(&found, &germany), Some(json!("Niemcy")), "found by German, named in Polish");

    let cities = page(format!("/v1/options/city?parent_id={poland}&lang=de&q=warschau")).await;
    assert_eq!(cities["items"][0]["name"], "Warschau");
    let categories = page("/v1/options/category?lang=ru&limit=500".into()).await;
    assert!(categories["items"].as_array().unwrap().iter().any(|c| c["name"] == "Грузовики"), "{categories}");
    let brands = page("/v1/options/brand?lang=de&limit=500".into()).await;
    assert!(brands["items"].as_array().unwrap().iter().any(|b| b["name"] == "Mercedes-Benz"), "brands keep one name");
    let one = page(format!("/v1/options/country/{germany}?lang=pl")).await;
    assert_eq!(one["name"], "Niemcy");
}

/// Identity holds across languages: a user creating "Deutschland" gets Germany (200, no new option), and a
/// suggestion for "Niemcy" names Germany as the exact match.
#[tokio::test]
async fn a_translation_is_the_options_identity() {
    let app = spawn_app().await;
    let germany = id_of(&app, "country", None, "Germany").await;
    app.register("buyer@example.com").await;
    let token = access(&app.login("buyer@example.com").await).to_owned();
    let create = |name: &str| {
        app.client
            .post(format!("{}/v1/options/country?lang=de", app.http))
            .bearer_auth(&token)
            .json(&json!({"name": name}))
    };
    let existing = json_of(create("  DEUTSCHLAND ").send().await.expect("request"), 200).await;
    assert_eq!((existing["id"].as_str(), existing["name"].as_str()), (Some(germany.as_str()), Some("Deutschland")));
    let suggested = json_of(app.get("/v1/options/country/suggestions?name=Niemcy").send().await.unwrap(), 200).await;
    assert_eq!(suggested["exact"]["id"], germany.as_str());
    let listed = json_of(app.get("/v1/options/country?limit=500").send().await.unwrap(), 200).await;
    assert_eq!(listed["items"].as_array().unwrap().iter().filter(|c| c["id"] == germany.as_str()).count(), 1);
    assert!(!listed.to_string().contains("DEUTSCHLAND"), "no second option: {listed}");
}

/// Moderators add a translation: audited (`translate`, who asked), the catalog version raised and the cached
/// list dropped (the old `ETag` no longer matches, the new name is listed and searchable); refusals are
/// problem+json: a name another option has in some language (409 `name_taken` with its id), a brand
/// (`not_translatable`), a locale not served, the default locale, a malformed tag. Removing it restores the
/// own name.
#[tokio::test]
async fn moderators_translate_options_with_audit_and_invalidation() {
    let app = spawn_app().await;
    let poland = id_of(&app, "country", None, "Poland").await;
    let szczecin = id_of(&app, "city", Some(&poland), "Szczecin").await;
    let warszawa = id_of(&app, "city", Some(&poland), "Warszawa").await;
    let list = format!("/v1/options/city?parent_id={poland}&lang=de&limit=500");
    let before = app.get(&list).send().await.expect("request");
    let before_tag = header(&before, "etag").expect("an ETag");

    let path = format!("/admin/options/{szczecin}/translations/de");
    let changed = admin_put(&app, &path).json(&json!({"name": "Stettin", "requested_by": "maria"})).send().await;
    let changed = json_of(changed.expect("request"), 200).await;
    assert_eq!(changed["option"]["translations"]["de"], "Stettin");
    assert_eq!(
        (changed["audit"]["action"].as_str(), changed["audit"]["actor"].as_str()),
        (Some("translate"), Some("maria"))
    );
    assert_eq!(changed["audit"]["detail"]["locale"], "de");

    let after = app.get(&list).header("if-none-match", &before_tag).send().await.expect("request");
    assert_eq!(after.status(), 200, "the list was dropped: the old ETag is stale");
    let after = json_of(after, 200).await;
    assert!(after["items"].as_array().unwrap().iter().any(|c| c["id"] == szczecin.as_str() && c["name"] == "Stettin"));
    let found =
        json_of(app.get(&format!("/v1/options/city?parent_id={poland}&q=stett")).send().await.unwrap(), 200).await;
    assert_eq!(found["items"][0]["name"], "Szczecin", "found by its German name, named in English");
    let audit = json_of(app.admin_get("/admin/options/audit?limit=5").send().await.unwrap(), 200).await;
    assert_eq!(audit["items"][0]["action"], "translate");
    assert_eq!(audit["items"][0]["option_id"], szczecin.as_str());

    let taken = admin_put(&app, &path).json(&json!({"name": "Warschau"})).send().await.expect("request");
    let taken = assert_problem(taken, 409, "name_taken").await;
    assert_eq!(taken["existing_id"], warszawa.as_str());
    let volvo = id_of(&app, "brand", None, "Volvo").await;
    let brand = admin_put(&app, &format!("/admin/options/{volvo}/translations/de")).json(&json!({"name": "Wolwo"}));
    let brand = assert_problem(brand.send().await.expect("request"), 422, "validation_failed").await;
    assert_eq!(brand["errors"][0]["code"], "not_translatable", "{brand}");
    for (locale, code) in [("fr", "unsupported_locale"), ("en", "default_locale"), ("x1", "invalid")] {
        let path = format!("/admin/options/{szczecin}/translations/{locale}");
        let refused = admin_put(&app, &path).json(&json!({"name": "Szczecin"})).send().await.expect("request");
        let refused = assert_problem(refused, 422, "validation_failed").await;
        assert_eq!(
            (refused["errors"][0]["field"].as_str(), refused["errors"][0]["code"].as_str()),
            (Some("locale"), Some(code))
        );
    }

    let removed = json_of(admin_delete(&app, &path).send().await.expect("request"), 200).await;
    assert_eq!(removed["audit"]["action"], "remove_translation");
    assert!(removed["option"]["translations"].is_null(), "{removed}");
    let restored = json_of(app.get(&list).send().await.expect("request"), 200).await;
    assert!(restored["items"].as_array().unwrap().iter().any(|c| c["name"] == "Szczecin"));
}

/// `gantry options translate` and `untranslate` go through a running instance's admin listener (audited with
/// `--by`); a malformed `--locale` is refused before anything is sent.
#[tokio::test]
async fn options_cli_translates_through_the_running_instance() {
    let app = spawn_app().await;
    let austria = id_of(&app, "country", None, "Austria").await;
    let graz = id_of(&app, "city", Some(&austria), "Graz").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| crate::helpers::admin_cli(&app, dir.path(), args);
    let translated = run(&["options", "translate", "--id", &graz, "--locale", "RU", "--name", "Грац", "--by", "olga"])
        .await
        .expect("join");
    assert_eq!(translated.status.code(), Some(0), "{}", String::from_utf8_lossy(&translated.stderr));
    let body: Value = serde_json::from_slice(&translated.stdout).expect("JSON");
    assert_eq!(
        (body["audit"]["actor"].as_str(), body["option"]["translations"]["ru"].as_str()),
        (Some("olga"), Some("Грац"))
    );
    let listed =
        json_of(app.get(&format!("/v1/options/city?parent_id={austria}&lang=ru")).send().await.unwrap(), 200).await;
    assert!(listed["items"].as_array().unwrap().iter().any(|c| c["name"] == "Грац"), "{listed}");

    let bad = run(&["options", "untranslate", "--id", &graz, "--locale", "russian!"]).await.expect("join");
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--locale"));
    let removed = run(&["options", "untranslate", "--id", &graz, "--locale", "ru"]).await.expect("join");
    assert_eq!(removed.status.code(), Some(0), "{}", String::from_utf8_lossy(&removed.stderr));
}

/// A template import takes labels, help texts, fixed options and validation messages as maps of locales: the
/// set round-trips through the export as written, and the form is served resolved in each locale. A map with
/// a malformed tag or without the default locale is refused (422 `template_invalid`), naming the template, the
/// field, the text's path and the tag.
#[tokio::test]
async fn template_imports_take_maps_of_locales_and_refuse_bad_tags() {
    let app = spawn_app().await;
    let cranes = id_of(&app, "category", None, "Cranes").await;
    let tower = id_of(&app, "subcategory", Some(&cranes), "Tower cranes").await;
    let set = json!({"templates": [{"category": "Cranes", "subcategory": "Tower cranes", "blocks": [
        {"name": "tower", "label": {"en": "Tower", "de": "Turm", "pl": "Wieża", "ru": "Башня"}, "fields": [
            {"name": "tower_height_m", "type": "number",
             "label": {"en": "Tower height (m)", "de": "Turmhöhe (m)", "pl": "Wysokość wieży (m)", "ru": "Высота башни (м)"},
             "help": {"en": "Under the hook", "de": "Unter dem Haken"},
             "validation": {"min": 5, "max": 300, "messages": {
                 "below_min": {"en": "{label}: at least {min}", "de": "{label}: mindestens {min}"}}}},
            {"name": "slewing", "type": "select", "label": "Slewing",
             "options": [{"value": "top", "label": {"en": "Top slewing", "de": "Obendreher"}},
                         {"value": "bottom", "label": {"en": "Bottom slewing", "de": "Untendreher"}}]}]}]}]});
    let imported = app.admin_post("/admin/templates").json(&set).send().await.expect("request");
    json_of(imported, 200).await;

    let exported = json_of(app.admin_get("/admin/templates").send().await.unwrap(), 200).await;
    let stored = exported["set"]["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["subcategory"] == "Tower cranes")
        .expect("the override is stored");
    let (stored, sent) = (&stored["blocks"][0], &set["templates"][0]["blocks"][0]);
    assert_eq!(stored["label"], sent["label"], "maps round-trip as written");
    for key in ["label", "help"] {
        assert_eq!(stored["fields"][0][key], sent["fields"][0][key], "{key}");
    }
    assert_eq!(stored["fields"][0]["validation"]["messages"], sent["fields"][0]["validation"]["messages"]);
    assert_eq!(stored["fields"][1]["options"], sent["fields"][1]["options"]);

    let path = format!("/v1/templates/{cranes}?subcategory_id={tower}&lang=de");
    let form = json_of(app.get(&path).send().await.unwrap(), 200).await;
    let height = field(&form, "tower_height_m");
    assert_eq!((height["label"].as_str(), height["help"].as_str()), (Some("Turmhöhe (m)"), Some("Unter dem Haken")));
    assert_eq!(height["validation"]["messages"]["below_min"], "{label}: mindestens {min}");
    assert_eq!(field(&form, "slewing")["options"][0]["label"], "Obendreher");
    let evaluated = app
        .client
        .post(format!("{}/v1/templates/{cranes}/evaluate?lang=de", app.http))
        .json(&json!({"subcategory_id": tower, "values": {"tower_height_m": 2}}))
        .send()
        .await
        .unwrap();
    let evaluated = json_of(evaluated, 200).await;
    let error = evaluated["errors"].as_array().unwrap().iter().find(|e| e["field"] == "tower_height_m").expect("error");
    assert_eq!(error["message"], "Turmhöhe (m): mindestens 5");
    let polish = json_of(app.get(&path.replace("lang=de", "lang=pl")).send().await.unwrap(), 200).await;
    assert_eq!(field(&polish, "tower_height_m")["help"], "Under the hook", "pl → the default");

    let bad = json!({"templates": [{"category": "Cranes", "subcategory": "Mobile cranes", "blocks": [
        {"name": "mobile", "fields": [
            {"name": "axles", "type": "integer", "label": {"en": "Axles", "deutsch": "Achsen"}},
            {"name": "outriggers", "type": "boolean", "label": "Outriggers", "help": {"de": "Nur Deutsch"}}]}]}]});
    let refused = app.admin_post("/admin/templates").json(&bad).send().await.expect("request");
    let refused = assert_problem(refused, 422, "template_invalid").await;
    let problems = refused["problems"].as_array().expect("problems");
    let named = |field: &str, code: &str, text: &str| {
        problems.iter().any(|p| {
            p["template"] == "Cranes / Mobile cranes"
                && p["field"] == field
                && p["code"] == code
                && p["message"].as_str().is_some_and(|m| m.contains(text))
        })
    };
    assert!(named("axles", "invalid_locale", "label: \"deutsch\""), "{problems:?}");
    assert!(named("outriggers", "missing_default_locale", "help: "), "{problems:?}");
}

/// Evaluate answers in the negotiated locale — built-in messages (`Marke ist ein Pflichtfeld`) and a field's own
/// (`{label} darf nicht später als {max} sein`) — with codes unchanged, `locale` and `Content-Language`; submit
/// stays language-neutral (ids and values) while its refusal's messages follow the locale.
#[tokio::test]
async fn evaluate_answers_messages_in_german() {
    let app = spawn_app().await;
    let trucks = id_of(&app, "category", None, "Trucks").await;
    let next_year = time::OffsetDateTime::now_utc().year() + 1;
    let body = json!({"values": {"year": next_year + 5, "vin": "not a vin"}});
    let response = app
        .client
        .post(format!("{}/v1/templates/{trucks}/evaluate", app.http))
        .header("accept-language", "de-DE,de;q=0.9,en;q=0.8")
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(header(&response, "content-language").as_deref(), Some("de"));
    let evaluated = json_of(response, 200).await;
    assert_eq!(evaluated["locale"], "de");
    let message = |field: &str| {
        evaluated["errors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["field"] == field)
            .map(|e| (e["code"].clone(), e["message"].clone()))
    };
    assert_eq!(message("brand"), Some((json!("required"), json!("Marke ist ein Pflichtfeld"))));
    assert_eq!(
        message("year"),
        Some((json!("above_max"), json!(format!("Baujahr darf nicht später als {next_year} sein"))))
    );
    assert_eq!(
        message("vin"),
        Some((
            json!("pattern_mismatch"),
            json!("Fahrgestellnummer (FIN) besteht aus 17 Zeichen: Ziffern und Großbuchstaben außer I, O und Q")
        ))
    );

    let submitted = app
        .client
        .post(format!("{}/v1/templates/{trucks}/submit?lang=ru", app.http))
        .json(&json!({"values": {}}))
        .send()
        .await
        .expect("request");
    let problem = assert_problem(submitted, 422, "validation_failed").await;
    let brand = problem["errors"].as_array().unwrap().iter().find(|e| e["field"] == "brand").expect("brand");
    assert_eq!(brand["message"], "Поле «Марка» обязательно для заполнения");
}

/// The bundled crane form uses the whole runtime: the jib length shows and is required only with a jib, and is
/// cleared when the jib changes (`dependsOn`); the hook height depends on boom and jib but keeps its value when
/// they change (`resetOnChange: false`); its messages come in Polish too.
#[tokio::test]
async fn the_bundled_crane_form_uses_depends_on_and_keeps_values() {
    let app = spawn_app().await;
    let cranes = id_of(&app, "category", None, "Cranes").await;
    let evaluate = async |body: Value| {
        let request = app.client.post(format!("{}/v1/templates/{cranes}/evaluate?lang=pl", app.http)).json(&body);
        json_of(request.send().await.expect("request"), 200).await
    };
    let has = |list: &Value, name: &str| list.as_array().unwrap().iter().any(|v| v == name);

    let without = evaluate(json!({"values": {"jib": false, "jib_length_m": 12}})).await;
    assert!(!has(&without["visible"], "jib_length_m"), "hidden without a jib: {without}");
    let with = evaluate(json!({"values": {"jib": true}})).await;
    assert!(has(&with["visible"], "jib_length_m") && has(&with["required"], "jib_length_m"), "{with}");
    let jib_error = with["errors"].as_array().unwrap().iter().find(|e| e["field"] == "jib_length_m").expect("required");
    assert_eq!(jib_error["message"], "Podaj długość wysięgnika pomocniczego albo odznacz pole „Wysięgnik pomocniczy”");

    let jib_changed =
        evaluate(json!({"values": {"jib": false, "jib_length_m": 12, "max_hook_height_m": 60}, "changed": "jib"}))
            .await;
    assert!(has(&jib_changed["reset"], "jib_length_m"), "{jib_changed}");
    assert!(!has(&jib_changed["reset"], "max_hook_height_m"), "resetOnChange: false keeps it: {jib_changed}");
    let boom_changed =
        evaluate(json!({"values": {"boom_length_m": 40, "max_hook_height_m": 60}, "changed": ["boom_length_m"]})).await;
    assert_eq!(boom_changed["reset"], json!([]), "{boom_changed}");

    let form = json_of(app.get(&format!("/v1/templates/{cranes}?lang=ru")).send().await.unwrap(), 200).await;
    let hook = field(&form, "max_hook_height_m");
    assert_eq!(
        (hook["dependsOn"].clone(), hook["resetOnChange"].clone()),
        (json!(["boom_length_m", "jib_length_m"]), json!(false))
    );
    assert_eq!(hook["label"], "Макс. высота подъёма крюка (м)");
}

/// `gantry templates check FILE` checks the file's languages offline against `catalog.default_locale`: a malformed
/// tag and a map without the default are each named with the template, the field and the text's path (exit 1);
/// a file whose maps are right passes.
#[test]
fn templates_check_names_bad_locale_tags_offline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"templates": [{"category": "Cranes", "subcategory": "Tower cranes", "blocks": [{"name": "tower", "fields": [
            {"name": "tower_height_m", "type": "number", "label": {"en": "Tower height", "de_at": "Turmhöhe"}},
            {"name": "slewing", "type": "select", "label": "Slewing",
             "options": [{"value": "top", "label": {"de": "Obendreher"}}]}]}]}]}"#,
    )
    .expect("write");
    let (code, text) =
        crate::helpers::output_of(crate::helpers::gantry_cli(dir.path()).args(["templates", "check"]).arg(&bad));
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(r#"template "Cranes / Tower cranes", field "tower_height_m": label: locale "de_at" is spelled "de-AT" [invalid_locale]"#),
        "{text}"
    );
    assert!(
        text.contains(r#"field "slewing": options[0].label: a map of locales must include the default locale "en" [missing_default_locale]"#),
        "{text}"
    );

    let good = dir.path().join("good.json");
    std::fs::write(
        &good,
        std::fs::read_to_string(&bad)
            .unwrap()
            .replace("de_at", "de-AT")
            .replace(r#"{"de": "Obendreher"}"#, r#"{"en": "Top slewing", "de": "Obendreher"}"#),
    )
    .expect("write");
    let (code, text) =
        crate::helpers::output_of(crate::helpers::gantry_cli(dir.path()).args(["templates", "check"]).arg(&good));
    assert_eq!(code, 0, "{text}");
}
