//! Listing-form templates on the embedded profile (catalog seeded on first start): resolution with
//! inheritance and the engine block, the cascade runtime, and importing a set through the admin listener.

use serde_json::{Value, json};

use crate::helpers::{TestApp, access, assert_problem, json_of, spawn_app_with};

async fn spawn_app() -> TestApp {
    spawn_app_with("[catalog]\nseed_on_first_start = true").await
}

async fn get(app: &TestApp, path: &str) -> Value {
    json_of(app.get(path).send().await.expect("request"), 200).await
}

/// The id of the option called `name` of `kind` (under `parent`).
async fn id_of(app: &TestApp, kind: &str, parent: Option<&str>, name: &str) -> String {
    let path = match parent {
        Some(p) => format!("/v1/options/{kind}?parent_id={p}&limit=500"),
        None => format!("/v1/options/{kind}?limit=500"),
    };
    let page = get(app, &path).await;
    page["items"].as_array().expect("items").iter().find(|i| i["name"] == name).unwrap_or_else(|| panic!("{name}"))
        ["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

fn field_names(form: &Value) -> Vec<String> {
    form["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .flat_map(|b| b["fields"].as_array().expect("fields").iter())
        .map(|f| f["name"].as_str().expect("name").to_owned())
        .collect()
}

fn evaluate(app: &TestApp, category: &str, body: &Value) -> reqwest::RequestBuilder {
    app.client.post(format!("{}/v1/templates/{category}/evaluate", app.http)).json(body)
}

const ENGINE_FIELDS: [&str; 7] =
    ["fuel_type", "power_hp", "power_kw", "displacement_cm3", "emission_class", "cylinders", "transmission"];

/// A category's form has its own blocks and, for an engine category, the shared engine block; a category
/// without an engine has none of it. The form carries an `ETag` (304 when unchanged).
#[tokio::test]
async fn category_forms_follow_has_engine() {
    let app = spawn_app().await;
    let trucks = id_of(&app, "category", None, "Trucks").await;
    let form = get(&app, &format!("/v1/templates/{trucks}")).await;
    assert_eq!(form["source"], "category");
    assert_eq!(form["template"], "Trucks");
    let names = field_names(&form);
    for f in ENGINE_FIELDS.iter().chain(&["brand", "model", "mileage_km", "adr_classes"]) {
        assert!(names.iter().any(|n| n == f), "Trucks lack {f}: {names:?}");
    }
    let engine = form["blocks"].as_array().unwrap().iter().find(|b| b["name"] == "engine_block").expect("engine");
    assert_eq!(engine["shared"], true);
    let model = form["blocks"][0]["fields"].as_array().unwrap().iter().find(|f| f["name"] == "model").unwrap();
    assert_eq!(model["dataSource"], json!({"kind": "model", "parentField": "brand"}));

    let trailers = id_of(&app, "category", None, "Trailers").await;
    let names = field_names(&get(&app, &format!("/v1/templates/{trailers}")).await);
    assert!(names.iter().any(|n| n == "axles") && !names.iter().any(|n| n == "fuel_type"), "{names:?}");

    let response = app.get(&format!("/v1/templates/{trucks}")).send().await.expect("request");
    let etag = response.headers()["etag"].to_str().expect("ascii").to_owned();
    let again =
        app.get(&format!("/v1/templates/{trucks}")).header("if-none-match", &etag).send().await.expect("request");
    assert_eq!(again.status(), 304);
}

/// A subcategory with an override gets the category's form plus its own fields; a subcategory created a
/// moment ago through the options API gets every field of its category, engine fields included.
#[tokio::test]
async fn subcategories_inherit_and_new_ones_get_the_whole_category_form() {
    let app = spawn_app().await;
    let trucks = id_of(&app, "category", None, "Trucks").await;
    let category = field_names(&get(&app, &format!("/v1/templates/{trucks}")).await);
    let tipper = id_of(&app, "subcategory", Some(&trucks), "Tipper trucks").await;
    let form = get(&app, &format!("/v1/templates/{trucks}?subcategory_id={tipper}")).await;
    assert_eq!(form["source"], "subcategory");
    assert_eq!(form["template"], "Trucks / Tipper trucks");
    let names = field_names(&form);
    assert!(names.iter().any(|n| n == "tipping_direction"), "{names:?}");
    assert!(category.iter().all(|f| names.contains(f)), "the override lost fields of its category");

    app.register("seller@example.com").await;
    let token = access(&app.login("seller@example.com").await).to_owned();
    let created = app
        .client
        .post(format!("{}/v1/options/subcategory", app.http))
        .bearer_auth(&token)
        .json(&json!({"name": "Skip loader trucks", "parent_id": trucks}))
        .send()
        .await
        .expect("request");
    let sub = json_of(created, 201).await["id"].as_str().expect("id").to_owned();
    let form = get(&app, &format!("/v1/templates/{trucks}?subcategory_id={sub}")).await;
    assert_eq!(form["source"], "category");
    assert_eq!(field_names(&form), category, "the new subcategory's form is its category's, in order");
    for f in ENGINE_FIELDS {
        assert!(category.iter().any(|n| n == f), "{f} missing");
    }
}

/// Unknown categories are 404; a subcategory of another category is 422; malformed ids are refused.
#[tokio::test]
async fn unknown_categories_and_subcategories() {
    let app = spawn_app().await;
    let made_up = uuid::Uuid::now_v7();
    assert_problem(app.get(&format!("/v1/templates/{made_up}")).send().await.unwrap(), 404, "category_not_found").await;
    assert_problem(app.get("/v1/templates/not-a-uuid").send().await.unwrap(), 404, "category_not_found").await;
    let trucks = id_of(&app, "category", None, "Trucks").await;
    let vans = id_of(&app, "category", None, "Vans").await;
    let panel = id_of(&app, "subcategory", Some(&vans), "Panel vans").await;
    let body = assert_problem(
        app.get(&format!("/v1/templates/{trucks}?subcategory_id={panel}")).send().await.unwrap(),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "subcategory_id");
}

/// The cascade runtime: choosing another brand resets the model and names the list to load; a model of
/// another brand is refused; ADR classes become required for ADR trucks; an electric truck hides (and does
/// not require) the combustion fields; values are validated.
#[tokio::test]
async fn evaluate_runs_the_cascade() {
    let app = spawn_app().await;
    let trucks = id_of(&app, "category", None, "Trucks").await;
    let volvo = id_of(&app, "brand", None, "Volvo").await;
    let scania = id_of(&app, "brand", None, "Scania").await;
    let fh = id_of(&app, "model", Some(&volvo), "FH").await;

    let changed = evaluate(&app, &trucks, &json!({"values": {"brand": scania, "model": fh}, "changed": "brand"}));
    let result = json_of(changed.send().await.unwrap(), 200).await;
    assert_eq!(result["reset"], json!(["model"]));
    assert_eq!(result["options"], json!({"model": {"kind": "model", "parent_id": scania}}));
    assert!(result["required"].as_array().unwrap().contains(&json!("model")));

    let mismatched = evaluate(&app, &trucks, &json!({"values": {"brand": scania, "model": fh}}));
    let result = json_of(mismatched.send().await.unwrap(), 200).await;
    let errors = result["errors"].as_array().unwrap();
    assert!(errors.iter().any(|e| e["field"] == "model" && e["code"] == "unknown_option"), "{result}");
    assert!(!errors.iter().any(|e| e["field"] == "brand"), "Scania is a brand: {result}");

    let adr = json_of(evaluate(&app, &trucks, &json!({"values": {"adr": true}})).send().await.unwrap(), 200).await;
    assert!(adr["required"].as_array().unwrap().contains(&json!("adr_classes")));
    assert!(adr["errors"].as_array().unwrap().iter().any(|e| e["field"] == "adr_classes" && e["code"] == "required"));

    let electric = json!({"values": {"fuel_type": "electric", "year": 1800, "mileage_km": "many"}});
    let result = json_of(evaluate(&app, &trucks, &electric).send().await.unwrap(), 200).await;
    for hidden in ["emission_class", "displacement_cm3", "cylinders"] {
        assert!(!result["visible"].as_array().unwrap().contains(&json!(hidden)), "{hidden}: {result}");
    }
    let errors = result["errors"].as_array().unwrap();
    assert!(errors.iter().any(|e| e["field"] == "year" && e["code"] == "below_min"), "{result}");
    assert!(errors.iter().any(|e| e["field"] == "mileage_km" && e["code"] == "invalid_type"), "{result}");

    let unknown = evaluate(&app, &trucks, &json!({"values": {}, "changed": ["colour"]}));
    assert_problem(unknown.send().await.unwrap(), 422, "validation_failed").await;
}

/// Importing through the admin listener: a set with problems is refused with every problem named by template
/// and field, and nothing changes; a good set is stored, served at once, and changes the `ETag`.
#[tokio::test]
async fn import_checks_stores_and_serves() {
    let app = spawn_app().await;
    let trucks = id_of(&app, "category", None, "Trucks").await;
    let before = get(&app, &format!("/v1/templates/{trucks}")).await;

    let bad = json!({"templates": [{"category": "Trucks", "subcategory": "Box trucks", "blocks": [{"name": "box", "fields": [
        {"name": "box_height_mm", "type": "integer", "label": "Box height", "visibleIf": {"method": [{"var": "brand"}, "trim"]}},
        {"name": "tail_lift", "type": "boolean", "label": "Tail lift", "requiredIf": {"==": [{"var": "colour"}, "red"]}},
        {"name": "lift_brand", "type": "select", "label": "Lift brand", "dataSource": {"kind": "engine"}}
    ]}]}]});
    let refused = app.admin_post("/admin/templates").json(&bad).send().await.unwrap();
    let problem = assert_problem(refused, 422, "template_invalid").await;
    let problems = problem["problems"].as_array().expect("problems");
    for (field, code) in
        [("box_height_mm", "unsupported_operator"), ("tail_lift", "unknown_field"), ("lift_brand", "unknown_kind")]
    {
        assert!(
            problems.iter().any(|p| p["template"] == "Trucks / Box trucks" && p["field"] == field && p["code"] == code),
            "{field}/{code} not in {problems:?}"
        );
    }
    // The recorder is the process's: other tests' refused imports (the languages' in `i18n.rs`) count there too.
    let refusals = crate::prometheus::value_or_zero(
        &app.metrics().await,
        "gantry_template_validation_failures_total{stage=\"import\"}",
    );
    assert!(refusals >= 1.0, "{refusals}");
    assert_eq!(get(&app, &format!("/v1/templates/{trucks}")).await, before, "a refused import changes nothing");

    let good = json!({"templates": [{"category": "Trucks", "blocks": [{"name": "truck", "fields": [
        {"name": "sleeper_cab", "type": "boolean", "label": "Sleeper cab"}]}]}]});
    let stored = json_of(app.admin_post("/admin/templates").json(&good).send().await.unwrap(), 200).await;
    assert!(stored["version"].as_u64().unwrap() > before["version"].as_u64().unwrap());
    let after = get(&app, &format!("/v1/templates/{trucks}")).await;
    assert_eq!(
        field_names(&after),
        ["sleeper_cab"]
            .iter()
            .map(|s| s.to_string())
            .chain(ENGINE_FIELDS.iter().map(|s| s.to_string()))
            .collect::<Vec<_>>()
    );
    let vans = id_of(&app, "category", None, "Vans").await;
    assert!(
        field_names(&get(&app, &format!("/v1/templates/{vans}")).await).contains(&"seats".to_owned()),
        "merge keeps the other templates"
    );

    let export = json_of(app.admin_get("/admin/templates").send().await.unwrap(), 200).await;
    assert_eq!(export["origin"], "stored");
    assert!(export["set"]["templates"].as_array().unwrap().iter().any(|t| t["category"] == "Vans"));
    let unauthorized = app.client.get(format!("{}/admin/templates", app.admin)).send().await.unwrap();
    assert_eq!(unauthorized.status(), 401);
}

/// Stores a template for Vans made of `fields` (one block) through the admin listener.
async fn import_vans(app: &TestApp, fields: Value) -> reqwest::Response {
    let set = json!({"templates": [{"category": "Vans", "blocks": [{"name": "probe", "fields": fields}]}]});
    app.admin_post("/admin/templates").json(&set).send().await.expect("request")
}

/// The visible fields of Vans for `values`.
async fn visible_for(app: &TestApp, vans: &str, values: Value) -> Vec<String> {
    let result = json_of(evaluate(app, vans, &json!({"values": values})).send().await.unwrap(), 200).await;
    result["visible"].as_array().expect("visible").iter().map(|v| v.as_str().expect("name").to_owned()).collect()
}

/// Conditions answer as json-logic-js 2.0.5 does in the browser — the mismatches the issue lists: `null == 0`
/// is false, `"abc" != 10` true, `["a"] == "a"` true, `true == "true"` false, `"0" == false` true,
/// `true == "1"` true.
#[tokio::test]
async fn conditions_answer_as_json_logic_js() {
    let app = spawn_app().await;
    let vans = id_of(&app, "category", None, "Vans").await;
    let probe =
        |name: &str, condition: Value| json!({"name": name, "type": "boolean", "label": name, "visibleIf": condition});
    let fields = json!([
        {"name": "n", "type": "number", "label": "N"},
        {"name": "t", "type": "text", "label": "T"},
        {"name": "b", "type": "boolean", "label": "B"},
        {"name": "m", "type": "multiselect", "label": "M", "options": [{"value": "a", "label": "A"}]},
        probe("n_is_zero", json!({"==": [{"var": "n"}, 0]})),
        probe("n_is_false", json!({"==": [{"var": "n"}, false]})),
        probe("t_is_not_ten", json!({"!=": [{"var": "t"}, 10]})),
        probe("t_is_false", json!({"==": [{"var": "t"}, false]})),
        probe("t_is_null", json!({"==": [{"var": "t"}, null]})),
        probe("b_is_true_text", json!({"==": [{"var": "b"}, "true"]})),
        probe("m_is_a", json!({"==": [{"var": "m"}, "a"]})),
        probe("true_is_one", json!({"==": [true, "1"]})),
    ]);
    json_of(import_vans(&app, fields).await, 200).await;

    let empty = visible_for(&app, &vans, json!({})).await;
    for hidden in ["n_is_zero", "n_is_false"] {
        assert!(!empty.contains(&hidden.to_owned()), "null == 0 and null == false are false in JS: {empty:?}");
    }
    assert!(empty.contains(&"true_is_one".to_owned()), "true == \"1\" in JS: {empty:?}");
    let filled = visible_for(&app, &vans, json!({"t": "abc", "b": true, "m": ["a"]})).await;
    assert!(filled.contains(&"t_is_not_ten".to_owned()), "{filled:?}");
    assert!(filled.contains(&"m_is_a".to_owned()), "[\"a\"] == \"a\" in JS: {filled:?}");
    assert!(!filled.contains(&"b_is_true_text".to_owned()), "true != \"true\" in JS: {filled:?}");
    let zero_text = visible_for(&app, &vans, json!({"t": "0"})).await;
    assert!(zero_text.contains(&"t_is_false".to_owned()), "\"0\" == false in JS: {zero_text:?}");
    let empty_text = visible_for(&app, &vans, json!({"t": ""})).await;
    assert!(!empty_text.contains(&"t_is_null".to_owned()), "\"\" != null in JS: {empty_text:?}");
}

/// The whole json-logic-js language imports and evaluates through the API (issue 22): "required if year < 2015
/// and mileage / 1000 > 500" with arithmetic over the values as JS coerces them, `if`/`missing`, `cat`/`substr`
/// and `some` over a multiselect. (Refusals naming the path: `cli::templates_check_names_template_and_field`.)
#[tokio::test]
async fn full_json_logic_conditions_import_and_evaluate() {
    let app = spawn_app().await;
    let vans = id_of(&app, "category", None, "Vans").await;
    let fields = json!([
        {"name": "built", "type": "year", "label": "Year"},
        {"name": "mileage", "type": "integer", "label": "Mileage (km)"},
        {"name": "extras", "type": "multiselect", "label": "Extras",
         "options": [{"value": "crane", "label": "Crane"}, {"value": "tail_lift", "label": "Tail lift"}]},
        {"name": "inspection", "type": "text", "label": "Last inspection",
         "requiredIf": {"and": [{"<": [{"var": "built"}, 2015]}, {">": [{"/": [{"var": "mileage"}, 1000]}, 500]}]}},
        {"name": "decade", "type": "text", "label": "Decade note",
         "visibleIf": {"if": [{"missing": ["built"]}, false,
                              {"==": [{"substr": [{"cat": ["", {"var": "built"}]}, 0, 3]}, "201"]}, true, false]}},
        {"name": "crane_load", "type": "number", "label": "Crane load",
         "visibleIf": {"some": [{"var": "extras"}, {"===": [{"var": ""}, "crane"]}]}}
    ]);
    json_of(import_vans(&app, fields).await, 200).await;

    let required = |result: &Value| -> Vec<String> {
        result["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
    };
    for (values, expected) in [
        (json!({"built": 2010, "mileage": 600_000}), true),
        (json!({"built": 2016, "mileage": 600_000}), false),
        (json!({"built": 2010, "mileage": 400_000}), false),
        (json!({"built": 2010, "mileage": 500_000}), false),
        // JS coerces: "600000" / 1000 is 600, and "2010" < 2015.
        (json!({"built": "2010", "mileage": "600000"}), true),
        (json!({"built": 2010}), false),
    ] {
        let result = json_of(evaluate(&app, &vans, &json!({"values": values})).send().await.unwrap(), 200).await;
        assert_eq!(required(&result).contains(&"inspection".to_owned()), expected, "{values}: {result}");
    }
    let visible = visible_for(&app, &vans, json!({"built": 2012, "extras": ["tail_lift", "crane"]})).await;
    assert!(visible.contains(&"decade".to_owned()) && visible.contains(&"crane_load".to_owned()), "{visible:?}");
    let visible = visible_for(&app, &vans, json!({"built": 2009, "extras": ["tail_lift"]})).await;
    assert!(!visible.contains(&"decade".to_owned()) && !visible.contains(&"crane_load".to_owned()), "{visible:?}");
    assert!(!visible_for(&app, &vans, json!({})).await.contains(&"decade".to_owned()));
}

/// Hidden means absent: a hidden field's leftover value is invisible to every other condition (to a
/// fixpoint), so it cannot make another field visible and required, and it is never validated.
#[tokio::test]
async fn hidden_values_are_absent_for_other_conditions() {
    let app = spawn_app().await;
    let vans = id_of(&app, "category", None, "Vans").await;
    let fields = json!([
        {"name": "cooled", "type": "boolean", "label": "Cooled"},
        {"name": "unit", "type": "text", "label": "Unit", "validation": {"maxLength": 2},
         "visibleIf": {"!!": {"var": "cooled"}}},
        {"name": "unit_serial", "type": "text", "label": "Unit serial",
         "visibleIf": {"==": [{"var": "unit"}, "carrier"]}, "requiredIf": {"==": [{"var": "unit"}, "carrier"]}},
        {"name": "serial_note", "type": "text", "label": "Note", "visibleIf": {"!!": {"var": "unit_serial"}}}
    ]);
    json_of(import_vans(&app, fields).await, 200).await;

    let body = json!({"values": {"cooled": false, "unit": "carrier", "unit_serial": "X1"}});
    let result = json_of(evaluate(&app, &vans, &body).send().await.unwrap(), 200).await;
    let visible = result["visible"].as_array().unwrap();
    for hidden in ["unit", "unit_serial", "serial_note"] {
        assert!(!visible.contains(&json!(hidden)), "{hidden} should be hidden: {result}");
    }
    assert!(!result["required"].as_array().unwrap().contains(&json!("unit_serial")), "{result}");
    let probe_errors: Vec<&Value> = result["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| ["cooled", "unit", "unit_serial", "serial_note"].contains(&e["field"].as_str().unwrap()))
        .collect();
    assert!(probe_errors.is_empty(), "hidden values are neither required nor validated: {result}");

    let shown = json!({"values": {"cooled": true, "unit": "carrier"}});
    let result = json_of(evaluate(&app, &vans, &shown).send().await.unwrap(), 200).await;
    assert!(result["required"].as_array().unwrap().contains(&json!("unit_serial")), "{result}");
}

fn submit(app: &TestApp, category: &str, body: &Value) -> reqwest::RequestBuilder {
    app.client.post(format!("{}/v1/templates/{category}/submit", app.http)).json(body)
}

/// Submit is the final check a listing service stores: a complete form comes back clean — hidden fields
/// removed, numbers typed, option ids resolved to `{id, name}`, with the template version and subcategory it
/// was checked against; an incomplete or wrong one is a 422 naming every problem per field.
#[tokio::test]
async fn submit_returns_clean_values_or_every_problem() {
    let app = spawn_app().await;
    let trucks = id_of(&app, "category", None, "Trucks").await;
    let tipper = id_of(&app, "subcategory", Some(&trucks), "Tipper trucks").await;
    let volvo = id_of(&app, "brand", None, "Volvo").await;
    let scania = id_of(&app, "brand", None, "Scania").await;
    let fh = id_of(&app, "model", Some(&volvo), "FH").await;
    let germany = id_of(&app, "country", None, "Germany").await;
    let hamburg = id_of(&app, "city", Some(&germany), "Hamburg").await;
    let form = get(&app, &format!("/v1/templates/{trucks}?subcategory_id={tipper}")).await;

    let complete = json!({"subcategory_id": tipper, "values": {
        "brand": volvo, "model": fh, "year": 2019.0, "condition": "used", "country": germany, "city": hamburg,
        "fuel_type": "electric", "emission_class": "euro_4", "mileage_km": 120000, "adr": false,
        "tipping_direction": "rear", "body_volume_m3": 12.5, "price_eur": 45000
    }});
    let result = json_of(submit(&app, &trucks, &complete).send().await.unwrap(), 200).await;
    assert_eq!(result["subcategory_id"], json!(tipper));
    assert_eq!(result["template"], "Trucks / Tipper trucks");
    assert_eq!(result["version"], form["version"]);
    let values = &result["values"];
    assert_eq!(values["brand"], json!({"id": volvo, "name": "Volvo"}));
    assert_eq!(values["model"], json!({"id": fh, "name": "FH"}));
    assert_eq!(values["city"], json!({"id": hamburg, "name": "Hamburg"}));
    assert_eq!(values["year"].to_string(), "2019", "years are whole numbers: {values}");
    assert_eq!(values["body_volume_m3"], json!(12.5));
    assert_eq!(values["adr"], json!(false));
    assert_eq!(values["tipping_direction"], "rear");
    assert!(values.get("emission_class").is_none(), "hidden for an electric truck, so dropped: {values}");

    let wrong = json!({"values": {
        "brand": scania, "model": fh, "year": 1850, "condition": "used", "country": germany,
        "fuel_type": "steam", "colour": "red"
    }});
    let problem = assert_problem(submit(&app, &trucks, &wrong).send().await.unwrap(), 422, "validation_failed").await;
    let errors = problem["errors"].as_array().expect("errors");
    for (field, code) in [
        ("model", "unknown_option"),
        ("year", "below_min"),
        ("fuel_type", "unknown_option"),
        ("mileage_km", "required"),
        ("colour", "unknown_field"),
    ] {
        assert!(errors.iter().any(|e| e["field"] == field && e["code"] == code), "{field}/{code} not in {problem}");
    }
}

/// Text values are trimmed like option names are normalised: submit answers `"  Sisu timber truck  "` as
/// `"Sisu timber truck"`, `maxLength` counts the trimmed text, and a required text of only spaces is `required`.
#[tokio::test]
async fn text_values_are_trimmed() {
    let app = spawn_app().await;
    let trucks = id_of(&app, "category", None, "Trucks").await;
    let tipper = id_of(&app, "subcategory", Some(&trucks), "Tipper trucks").await;
    let volvo = id_of(&app, "brand", None, "Volvo").await;
    let fh = id_of(&app, "model", Some(&volvo), "FH").await;
    let germany = id_of(&app, "country", None, "Germany").await;
    let padded = json!({"subcategory_id": tipper, "values": {
        "brand": volvo, "model": fh, "year": 2019, "condition": "used", "country": germany,
        "fuel_type": "electric", "mileage_km": 120000, "adr": false, "tipping_direction": "rear",
        "body_volume_m3": 12.5, "price_eur": 45000, "description": "  Sisu timber truck  "
    }});
    let result = json_of(submit(&app, &trucks, &padded).send().await.unwrap(), 200).await;
    assert_eq!(result["values"]["description"], "Sisu timber truck", "{result}");

    let vans = id_of(&app, "category", None, "Vans").await;
    let fields = json!([
        {"name": "unit", "type": "text", "label": "Unit", "required": true},
        {"name": "serial", "type": "text", "label": "Serial", "validation": {"maxLength": 17}}
    ]);
    json_of(import_vans(&app, fields).await, 200).await;
    let body = json!({"values": {"unit": "   ", "serial": "  Sisu timber truck  "}});
    let result = json_of(evaluate(&app, &vans, &body).send().await.unwrap(), 200).await;
    let errors = result["errors"].as_array().expect("errors");
    assert!(errors.iter().any(|e| e["field"] == "unit" && e["code"] == "required"), "{result}");
    assert!(!errors.iter().any(|e| e["field"] == "serial"), "17 characters once trimmed: {result}");
}

/// A parent field holding an id that is not an option of the parent's kind (a country id as the brand) is an
/// error, and evaluate does not point the dependent list at it.
#[tokio::test]
async fn evaluate_never_points_a_dependent_list_at_an_invalid_parent() {
    let app = spawn_app().await;
    let trucks = id_of(&app, "category", None, "Trucks").await;
    let germany = id_of(&app, "country", None, "Germany").await;
    let volvo = id_of(&app, "brand", None, "Volvo").await;

    let body = json!({"values": {"brand": germany}, "changed": "brand"});
    let result = json_of(evaluate(&app, &trucks, &body).send().await.unwrap(), 200).await;
    assert!(result["options"].get("model").is_none(), "no model list under a country: {result}");
    let errors = result["errors"].as_array().unwrap();
    assert!(errors.iter().any(|e| e["field"] == "brand" && e["code"] == "unknown_option"), "{result}");

    let body = json!({"values": {"brand": volvo}, "changed": "brand"});
    let result = json_of(evaluate(&app, &trucks, &body).send().await.unwrap(), 200).await;
    assert_eq!(result["options"]["model"], json!({"kind": "model", "parent_id": volvo}));
}

/// Changing the category carries over the values of fields both forms have (same name, compatible type),
/// evaluates the new form with them, and says which values were dropped and why.
#[tokio::test]
async fn changing_the_category_carries_over_compatible_values() {
    let app = spawn_app().await;
    let trucks = id_of(&app, "category", None, "Trucks").await;
    let trailers = id_of(&app, "category", None, "Trailers").await;
    let volvo = id_of(&app, "brand", None, "Volvo").await;
    let fh = id_of(&app, "model", Some(&volvo), "FH").await;
    let values = json!({"brand": volvo, "model": fh, "year": 2019, "payload_kg": 12000, "fuel_type": "diesel",
        "axle_configuration": "6x4", "mileage_km": 100000, "gross_weight_kg": 26000, "condition": "used"});

    let body = json!({"values": values, "from": {"category_id": trucks}});
    let result = json_of(evaluate(&app, &trailers, &body).send().await.unwrap(), 200).await;
    let carried = &result["carried_over"];
    assert_eq!(
        carried["values"],
        json!({"brand": volvo, "model": fh, "year": 2019, "payload_kg": 12000, "gross_weight_kg": 26000,
            "condition": "used"}),
        "{result}"
    );
    let mut dropped: Vec<(String, String)> = carried["dropped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["field"].as_str().unwrap().to_owned(), d["reason"].as_str().unwrap().to_owned()))
        .collect();
    dropped.sort();
    assert_eq!(
        dropped,
        [
            ("axle_configuration", "not_in_new_form"),
            ("fuel_type", "not_in_new_form"),
            ("mileage_km", "not_in_new_form")
        ]
        .map(|(f, r)| (f.to_owned(), r.to_owned()))
    );
    assert!(!result["errors"].as_array().unwrap().iter().any(|e| e["code"] == "unknown_field"), "{result}");
    assert_eq!(result["options"]["model"], json!({"kind": "model", "parent_id": volvo}));

    // A field of the same name but another type, or fixed options without the value, is dropped.
    let fields = json!([
        {"name": "payload_kg", "type": "text", "label": "Payload"},
        {"name": "condition", "type": "select", "label": "Condition", "options": [{"value": "new", "label": "New"}]},
        {"name": "year", "type": "number", "label": "Year"}
    ]);
    json_of(import_vans(&app, fields).await, 200).await;
    let vans = id_of(&app, "category", None, "Vans").await;
    let body = json!({"values": values, "from": {"category_id": trucks}});
    let result = json_of(evaluate(&app, &vans, &body).send().await.unwrap(), 200).await;
    let dropped = result["carried_over"]["dropped"].as_array().unwrap();
    for (field, reason) in [("payload_kg", "incompatible_type"), ("condition", "not_an_option")] {
        assert!(dropped.contains(&json!({"field": field, "reason": reason})), "{field}: {result}");
    }
    assert_eq!(result["carried_over"]["values"]["year"], json!(2019), "a year fits a number field: {result}");

    let unknown = json!({"values": {}, "from": {"category_id": vans, "subcategory_id": trucks}});
    let problem = assert_problem(evaluate(&app, &vans, &unknown).send().await.unwrap(), 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "from.subcategory_id", "{problem}");
}

/// The attack: a form state of 0.6 MB of unknown field names, sent unauthenticated to `evaluate`, bought an
/// answer of 4.1 MB (one issue echoing each name). Now unknown values are ignored, the answer names only the
/// first five (cut to 64 characters) and counts the rest: the answer stays small whatever is sent, and `submit`
/// refuses the same state with an equally small 422.
#[tokio::test]
async fn unknown_fields_do_not_amplify_the_answer() {
    let app = spawn_app().await;
    let trucks = id_of(&app, "category", None, "Trucks").await;
    let mut values = serde_json::Map::new();
    for i in 0..30_000 {
        values.insert(format!("unknown_field_{i:06}"), json!(1));
    }
    values.insert(format!("long_{}", "x".repeat(500)), json!(1));
    let body = json!({"values": values});
    let sent = body.to_string().len();
    assert!(sent > 500_000, "{sent}");

    let answer = evaluate(&app, &trucks, &body).send().await.expect("request");
    assert_eq!(answer.status(), 200);
    let text = answer.text().await.expect("body");
    assert!(text.len() < 16 * 1024, "{} bytes answered for {sent} sent", text.len());
    let answer: Value = serde_json::from_str(&text).expect("json");
    let unknown: Vec<&Value> =
        answer["errors"].as_array().expect("errors").iter().filter(|e| e["code"] == "unknown_field").collect();
    assert_eq!(unknown.len(), 6, "five named, one counting the rest: {answer}");
    assert!(unknown.iter().any(|e| e["field"] == "values" && e["message"].as_str().unwrap().contains("29996")));
    assert!(unknown.iter().all(|e| e["field"].as_str().unwrap().chars().count() <= 65));

    let refused = app.client.post(format!("{}/v1/templates/{trucks}/submit", app.http)).json(&body).send().await;
    let refused = refused.expect("request");
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.expect("body").len() < 16 * 1024);
}

/// The attack (issue 20 item 9): `evaluate` with `from` turned a 1 MB request into a 2.75 MB answer, one
/// `carried_over.dropped` entry per value. Now `dropped` lists the first 50 (names cut to 64 characters) and
/// `dropped_unlisted` counts the rest: a request of ~1 MB of short keys and long names gets a small answer.
#[tokio::test]
async fn carried_over_values_do_not_amplify_the_answer() {
    let app = spawn_app().await;
    let trucks = id_of(&app, "category", None, "Trucks").await;
    let trailers = id_of(&app, "category", None, "Trailers").await;
    let mut values = serde_json::Map::new();
    for i in 0..80_000 {
        values.insert(format!("k{i}"), json!(0));
    }
    for i in 0..100 {
        values.insert(format!("long{i}_{}", "x".repeat(1000)), json!(0));
    }
    let body = json!({"values": values, "from": {"category_id": trucks}});
    let sent = body.to_string().len();
    assert!(sent > 900_000 && sent < 1_048_576, "{sent}");

    let answer = evaluate(&app, &trailers, &body).send().await.expect("request");
    assert_eq!(answer.status(), 200);
    let text = answer.text().await.expect("body");
    assert!(text.len() < 16 * 1024, "{} bytes answered for {sent} sent", text.len());
    let answer: Value = serde_json::from_str(&text).expect("json");
    let dropped = answer["carried_over"]["dropped"].as_array().expect("dropped");
    assert_eq!(dropped.len(), 50, "{answer}");
    assert!(dropped.iter().all(|d| d["field"].as_str().unwrap().chars().count() <= 65));
    assert_eq!(answer["carried_over"]["dropped_unlisted"], 80_100 - 50, "{answer}");
}
