//! One option per real thing, curated: identity rules, near matches, moderation on the admin listener
//! (rename, merge, hide, approve, engine flags, review list, audit) and new accounts' options pending review.

use serde_json::{Value, json};

use crate::helpers::{TestApp, access, assert_problem, json_of, spawn_app_with};

async fn spawn_app() -> TestApp {
    spawn_app_with("[catalog]\nseed_on_first_start = true").await
}

async fn get(app: &TestApp, path: &str) -> Value {
    json_of(app.get(path).send().await.expect("request"), 200).await
}

async fn user(app: &TestApp, email: &str) -> String {
    app.register(email).await;
    access(&app.login(email).await).to_owned()
}

fn create(app: &TestApp, kind: &str, token: &str, body: &Value) -> reqwest::RequestBuilder {
    app.client.post(format!("{}/v1/options/{kind}", app.http)).bearer_auth(token).json(body)
}

fn names(page: &Value) -> Vec<String> {
    page["items"].as_array().expect("items").iter().map(|i| i["name"].as_str().expect("name").to_owned()).collect()
}

fn id_in(page: &Value, name: &str) -> String {
    page["items"].as_array().expect("items").iter().find(|i| i["name"] == name).unwrap_or_else(|| panic!("{name}"))
        ["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

fn admin(app: &TestApp, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    app.client.request(method, format!("{}{path}", app.admin)).bearer_auth(crate::helpers::ADMIN_TOKEN)
}

/// "Scània", "SCANIA" and "Scania" are one brand, as are "Liebherr-Nova", "Liebherr Nova" and "Liebherr‐Nova"
/// (U+2010): the later spellings answer 200 with the first one's id and display name.
#[tokio::test]
async fn accents_punctuation_and_spacing_variants_are_one_option() {
    let app = spawn_app().await;
    let token = user(&app, "identity@example.com").await;
    let scania = id_in(&get(&app, "/v1/options/brand?limit=500").await, "Scania");

    for spelling in ["Scània", "SCANIA", " scania "] {
        let same = json_of(create(&app, "brand", &token, &json!({"name": spelling})).send().await.unwrap(), 200).await;
        assert_eq!((same["id"].as_str(), same["name"].as_str()), (Some(scania.as_str()), Some("Scania")), "{spelling}");
    }
    let nova =
        json_of(create(&app, "brand", &token, &json!({"name": "Liebherr-Nova"})).send().await.unwrap(), 201).await;
    for spelling in ["Liebherr Nova", "Liebherr\u{2010}Nova", "liebherr  -  nova"] {
        let same = json_of(create(&app, "brand", &token, &json!({"name": spelling})).send().await.unwrap(), 200).await;
        assert_eq!(same["id"], nova["id"], "{spelling}");
        assert_eq!(same["name"], "Liebherr-Nova");
    }
    let germany = id_in(&get(&app, "/v1/options/country?limit=500").await, "Germany");
    let munchen = json_of(
        create(&app, "city", &token, &json!({"name": "Munchen", "parent_id": germany})).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(munchen["name"], "München");
    let moscow = json_of(create(&app, "brand", &token, &json!({"name": "Москва"})).send().await.unwrap(), 201).await;
    assert_eq!(moscow["name"], "Москва", "other scripts keep their letters");
}

/// A new but close name is created and answered with near matches; `suggestions` asks before creating: the
/// option of the same identity (`exact`) and the close ones.
#[tokio::test]
async fn near_matches_suggest_the_existing_spelling() {
    let app = spawn_app().await;
    let token = user(&app, "near@example.com").await;

    let ask = get(&app, "/v1/options/brand/suggestions?name=Scanja").await;
    assert!(ask["exact"].is_null(), "{ask}");
    assert_eq!(ask["near_matches"][0]["name"], "Scania", "{ask}");
    let exact = get(&app, "/v1/options/brand/suggestions?name=SC%C3%80NIA").await;
    assert_eq!(exact["exact"]["name"], "Scania", "{exact}");

    let created = json_of(create(&app, "brand", &token, &json!({"name": "Scanja"})).send().await.unwrap(), 201).await;
    assert_eq!(created["name"], "Scanja");
    assert_eq!(created["pending"], false);
    let near: Vec<&str> =
        created["near_matches"].as_array().expect("near").iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert!(near.contains(&"Scania"), "{created}");
    let unrelated =
        json_of(create(&app, "brand", &token, &json!({"name": "Qwertzuiop"})).send().await.unwrap(), 201).await;
    assert_eq!(unrelated["near_matches"], json!([]));
    let no_name = app.get("/v1/options/brand/suggestions").send().await.unwrap();
    assert_problem(no_name, 422, "validation_failed").await;
}

/// Merge A into B on the admin listener: A is no longer listed, A's models move to B, A's id resolves to B
/// (also in a submitted form), creating A's name again gives B, and the change is audited with who asked.
#[tokio::test]
async fn merge_keeps_ids_resolvable_and_names_pointing_at_the_survivor() {
    let app = spawn_app().await;
    let token = user(&app, "merge@example.com").await;
    let ginaf = json_of(create(&app, "brand", &token, &json!({"name": "Ginaf"})).send().await.unwrap(), 201).await;
    let ginaff = json_of(create(&app, "brand", &token, &json!({"name": "Ginnaf"})).send().await.unwrap(), 201).await;
    let model = json!({"name": "X 3232 S", "parent_id": ginaff["id"]});
    let x3232 = json_of(create(&app, "model", &token, &model).send().await.unwrap(), 201).await;
    let before = get(&app, "/v1/options/brand?limit=500").await;

    let merge = admin(&app, reqwest::Method::POST, &format!("/admin/options/{}/merge", ginaff["id"].as_str().unwrap()))
        .json(&json!({"into": ginaf["id"], "requested_by": "alice"}));
    let merged = json_of(merge.send().await.unwrap(), 200).await;

    assert_eq!(merged["option"]["id"], ginaf["id"]);
    assert!(merged["version"].as_u64().unwrap() > before["version"].as_u64().unwrap());
    let brands = get(&app, "/v1/options/brand?limit=500").await;
    assert!(!names(&brands).contains(&"Ginnaf".to_owned()), "{brands}");
    let models = get(&app, &format!("/v1/options/model?parent_id={}", ginaf["id"].as_str().unwrap())).await;
    assert_eq!(names(&models), ["X 3232 S"]);
    let resolved = get(&app, &format!("/v1/options/brand/{}", ginaff["id"].as_str().unwrap())).await;
    assert_eq!((&resolved["id"], &resolved["merged_from"]), (&ginaf["id"], &ginaff["id"]));
    let again = json_of(create(&app, "brand", &token, &json!({"name": "GINNAF"})).send().await.unwrap(), 200).await;
    assert_eq!(again["id"], ginaf["id"]);
    let audit = json_of(admin(&app, reqwest::Method::GET, "/admin/options/audit").send().await.unwrap(), 200).await;
    assert_eq!(audit["items"][0]["action"], "merge");
    assert_eq!(audit["items"][0]["actor"], "alice");
    assert_eq!(audit["items"][0]["option_id"], ginaff["id"]);

    // A form submitted with the merged brand id is checked and cleaned as the survivor.
    let categories = get(&app, "/v1/options/category?limit=500").await;
    let trucks = id_in(&categories, "Trucks");
    let values = json!({"values": {"brand": ginaff["id"], "model": x3232["id"]}});
    let evaluated = json_of(
        app.client.post(format!("{}/v1/templates/{trucks}/evaluate", app.http)).json(&values).send().await.unwrap(),
        200,
    )
    .await;
    let brand_errors: Vec<&Value> =
        evaluated["errors"].as_array().expect("errors").iter().filter(|e| e["field"] == "brand").collect();
    assert!(brand_errors.is_empty(), "a merged id is still a valid brand: {evaluated}");
    assert!(
        !evaluated["errors"].as_array().unwrap().iter().any(|e| e["field"] == "model"),
        "the model is checked under the survivor: {evaluated}"
    );
    assert_eq!(evaluated["options"]["model"]["parent_id"], ginaf["id"], "{evaluated}");
    let refused =
        admin(&app, reqwest::Method::POST, &format!("/admin/options/{}/merge", ginaf["id"].as_str().unwrap()))
            .json(&json!({"into": x3232["id"]}));
    assert_problem(refused.send().await.unwrap(), 409, "kind_mismatch").await;
    let unauthorized = app
        .client
        .post(format!("{}/admin/options/{}/hide", app.admin, ginaf["id"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
}

/// Hidden options are not listed nor accepted in forms, their id still resolves, their name cannot be
/// created again; unhide shows them again. Rename changes the display name and refuses a taken one.
#[tokio::test]
async fn hide_unhide_and_rename() {
    let app = spawn_app().await;
    let token = user(&app, "hide@example.com").await;
    let volvo = id_in(&get(&app, "/v1/options/brand?limit=500").await, "Volvo");
    let trucks = id_in(&get(&app, "/v1/options/category?limit=500").await, "Trucks");
    let spam =
        json_of(create(&app, "brand", &token, &json!({"name": "Cheap Trucks Spam"})).send().await.unwrap(), 201).await;
    let spam_id = spam["id"].as_str().unwrap().to_owned();

    json_of(admin(&app, reqwest::Method::POST, &format!("/admin/options/{spam_id}/hide")).send().await.unwrap(), 200)
        .await;

    let brands = get(&app, "/v1/options/brand?limit=500").await;
    assert!(!names(&brands).contains(&"Cheap Trucks Spam".to_owned()));
    let resolved = get(&app, &format!("/v1/options/brand/{spam_id}")).await;
    assert_eq!(resolved["hidden"], true);
    let recreate = create(&app, "brand", &token, &json!({"name": "cheap trucks spam"})).send().await.unwrap();
    assert_problem(recreate, 422, "validation_failed").await;
    let values = json!({"values": {"brand": spam_id}});
    let submitted = app.client.post(format!("{}/v1/templates/{trucks}/submit", app.http)).json(&values);
    let problem = assert_problem(submitted.send().await.unwrap(), 422, "validation_failed").await;
    assert!(
        problem["errors"].as_array().unwrap().iter().any(|e| e["field"] == "brand" && e["code"] == "unknown_option"),
        "{problem}"
    );

    json_of(admin(&app, reqwest::Method::POST, &format!("/admin/options/{spam_id}/unhide")).send().await.unwrap(), 200)
        .await;
    assert!(names(&get(&app, "/v1/options/brand?limit=500").await).contains(&"Cheap Trucks Spam".to_owned()));

    let rename =
        admin(&app, reqwest::Method::PATCH, &format!("/admin/options/{spam_id}")).json(&json!({"name": "Cheap"}));
    assert_eq!(json_of(rename.send().await.unwrap(), 200).await["option"]["name"], "Cheap");
    assert!(names(&get(&app, "/v1/options/brand?limit=500").await).contains(&"Cheap".to_owned()));
    let taken =
        admin(&app, reqwest::Method::PATCH, &format!("/admin/options/{spam_id}")).json(&json!({"name": "VOLVO"}));
    let problem = assert_problem(taken.send().await.unwrap(), 409, "name_taken").await;
    assert_eq!(problem["existing_id"], volvo.as_str());
    let unknown = admin(&app, reqwest::Method::POST, &format!("/admin/options/{}/hide", uuid::Uuid::now_v7()));
    assert_problem(unknown.send().await.unwrap(), 404, "option_not_found").await;
}

/// `has_engine` off on a category whose stored form reads `fuel_type` is refused with the forms it would
/// break; with `force` it is applied and the forms are named as flagged. On a brand it is a 422.
#[tokio::test]
async fn engine_flag_changes_that_break_forms_are_refused_or_forced() {
    let app = spawn_app().await;
    let categories = get(&app, "/v1/options/category?limit=500").await;
    let trucks = id_in(&categories, "Trucks");
    let volvo = id_in(&get(&app, "/v1/options/brand?limit=500").await, "Volvo");
    let set = json!({"templates": [{"category": "Trucks", "blocks": [{"name": "truck", "fields": [
        {"name": "euro_6_retrofit", "type": "boolean", "label": "Retrofit",
         "visibleIf": {"==": [{"var": "fuel_type"}, "diesel"]}}]}]}]});
    json_of(app.admin_post("/admin/templates").json(&set).send().await.unwrap(), 200).await;

    let off =
        admin(&app, reqwest::Method::PATCH, &format!("/admin/options/{trucks}")).json(&json!({"has_engine": false}));
    let problem = assert_problem(off.send().await.unwrap(), 409, "would_break_templates").await;
    assert!(problem["forms"].as_array().unwrap().contains(&json!("Trucks")), "{problem}");
    assert_eq!(id_in(&get(&app, "/v1/options/category?limit=500").await, "Trucks"), trucks);
    let still = get(&app, "/v1/options/category?limit=500").await;
    assert!(still["items"].as_array().unwrap().iter().any(|c| c["name"] == "Trucks" && c["has_engine"] == true));

    let forced = admin(&app, reqwest::Method::PATCH, &format!("/admin/options/{trucks}"))
        .json(&json!({"has_engine": false, "force": true}));
    let forced = json_of(forced.send().await.unwrap(), 200).await;
    assert!(forced["flagged"].as_array().unwrap().contains(&json!("Trucks")), "{forced}");
    let after = get(&app, "/v1/options/category?limit=500").await;
    assert!(after["items"].as_array().unwrap().iter().any(|c| c["name"] == "Trucks" && c["has_engine"] == false));
    let export = json_of(app.admin_get("/admin/templates").send().await.unwrap(), 200).await;
    assert_eq!(export["origin"], "stored", "one broken form never knocks out the stored set");
    let trucks_state = export["status"].as_array().unwrap().iter().find(|s| s["template"] == "Trucks").cloned();
    assert_eq!(trucks_state.expect("Trucks has a state")["status"], "degraded", "{}", export["status"]);
    let form = get(&app, &format!("/v1/templates/{trucks}")).await;
    assert!(!form.to_string().contains("euro_6_retrofit"), "the degraded form is not served: {form}");

    let brand =
        admin(&app, reqwest::Method::PATCH, &format!("/admin/options/{volvo}")).json(&json!({"has_engine": true}));
    assert_problem(brand.send().await.unwrap(), 422, "validation_failed").await;
}

/// A category created after the template set was stored, whose stored form reads `fuel_type` but which has
/// no engine, degrades its own form only: the stored set stays in use for every other category, and
/// `/admin/templates` names the degraded form with its problem.
#[tokio::test]
async fn a_new_category_degrades_only_its_own_form() {
    let app = spawn_app().await;
    let token = user(&app, "sweepers@example.com").await;
    let set = json!({"templates": [
        {"category": "Road sweepers", "blocks": [{"name": "sweeper", "fields": [
            {"name": "brush_count", "type": "integer", "label": "Brushes",
             "visibleIf": {"==": [{"var": "fuel_type"}, "diesel"]}}]}]},
        {"category": "Vans", "blocks": [{"name": "van", "fields": [
            {"name": "sliding_doors", "type": "integer", "label": "Sliding doors"}]}]}]});
    json_of(app.admin_post("/admin/templates").json(&set).send().await.unwrap(), 200).await;

    let category = json!({"name": "Road sweepers", "has_engine": false});
    let sweepers = json_of(create(&app, "category", &token, &category).send().await.unwrap(), 201).await;

    let export = json_of(app.admin_get("/admin/templates").send().await.unwrap(), 200).await;
    assert_eq!(export["origin"], "stored");
    let state = |name: &str| {
        export["status"].as_array().unwrap().iter().find(|s| s["template"] == name).cloned().unwrap_or(Value::Null)
    };
    assert_eq!(state("Road sweepers")["status"], "degraded", "{}", export["status"]);
    assert_eq!(state("Road sweepers")["problems"][0]["field"], "brush_count");
    assert_eq!(state("Vans")["status"], "ok");
    let vans = id_in(&get(&app, "/v1/options/category?limit=500").await, "Vans");
    assert!(get(&app, &format!("/v1/templates/{vans}")).await.to_string().contains("sliding_doors"));
    let form = get(&app, &format!("/v1/templates/{}", sweepers["id"].as_str().unwrap())).await;
    assert!(!form.to_string().contains("brush_count"), "{form}");
    assert!(app.metrics().await.contains("gantry_templates_degraded 1"));
}

/// With review on, a new account's option is listed only to its creator (and accepted only in its forms),
/// shows in the review list with its creator, and is listed to everyone once approved.
#[tokio::test]
async fn new_accounts_options_wait_for_review() {
    let app = spawn_app_with("[catalog]\nseed_on_first_start = true\nnew_account_review_age_secs = 86400").await;
    let alice = user(&app, "alice@example.com").await;
    let bob = user(&app, "bob@example.com").await;
    let created =
        json_of(create(&app, "brand", &alice, &json!({"name": "Brand New Brand"})).send().await.unwrap(), 201).await;
    assert_eq!(created["pending"], true);
    let id = created["id"].as_str().unwrap().to_owned();
    let listed_to = |token: Option<&str>| {
        let mut request = app.get("/v1/options/brand?limit=500");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { names(&json_of(request.send().await.unwrap(), 200).await).contains(&"Brand New Brand".to_owned()) }
    };

    assert!(listed_to(Some(&alice)).await, "the creator sees it");
    assert!(!listed_to(Some(&bob)).await, "others do not");
    assert!(!listed_to(None).await, "anonymous callers do not");
    let review = json_of(admin(&app, reqwest::Method::GET, "/admin/options?limit=10").send().await.unwrap(), 200).await;
    let item = review["items"].as_array().unwrap().iter().find(|i| i["id"] == id.as_str()).expect("in review");
    assert_eq!(item["pending"], true);
    assert!(item["created_by"].is_string());
    let by_alice = format!("/admin/options?created_by={}", item["created_by"].as_str().unwrap());
    let by_alice = json_of(admin(&app, reqwest::Method::GET, &by_alice).send().await.unwrap(), 200).await;
    assert_eq!(by_alice["items"].as_array().unwrap().len(), 1);

    json_of(admin(&app, reqwest::Method::POST, &format!("/admin/options/{id}/approve")).send().await.unwrap(), 200)
        .await;
    assert!(listed_to(None).await, "approved: everyone sees it");
    assert!(listed_to(Some(&bob)).await);
}
