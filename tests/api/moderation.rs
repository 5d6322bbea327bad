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
    let set = json!({"templates": [
        {"category": "Road sweepers", "blocks": [{"name": "sweeper", "fields": [
            {"name": "brush_count", "type": "integer", "label": "Brushes",
             "visibleIf": {"==": [{"var": "fuel_type"}, "diesel"]}}]}]},
        {"category": "Vans", "blocks": [{"name": "van", "fields": [
            {"name": "sliding_doors", "type": "integer", "label": "Sliding doors"}]}]}]});
    json_of(app.admin_post("/admin/templates").json(&set).send().await.unwrap(), 200).await;

    let category = json!({"kind": "category", "name": "Road sweepers", "has_engine": false});
    let created = admin(&app, reqwest::Method::POST, "/admin/options").json(&category).send().await.unwrap();
    let sweepers = json_of(created, 201).await["option"].clone();

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

/// The review queue's data: `GET /admin/options` names each user-created option's creator (email, account age,
/// whether the account is new), `null` for the seed's; `GET /admin/options/duplicates` groups two new accounts'
/// pending twins by identity and a typo with the seed's spelling by near match, oldest first, with creators; once
/// approving one twin merged the other, their group is gone.
#[tokio::test]
async fn review_queue_shows_creators_and_groups_duplicates_by_identity_and_near_match() {
    let app = spawn_app_with("[catalog]\nseed_on_first_start = true\nnew_account_review_age_secs = 86400").await;
    let alice = user(&app, "alice.review@example.com").await;
    let carol = user(&app, "carol.review@example.com").await;
    let bob = established_user(&app, "bob.review@example.com").await;
    let twin = json_of(create(&app, "brand", &alice, &json!({"name": "Terex Nova"})).send().await.unwrap(), 201).await;
    let other_twin =
        json_of(create(&app, "brand", &carol, &json!({"name": "terex-nova"})).send().await.unwrap(), 201).await;
    let typo = json_of(create(&app, "brand", &bob, &json!({"name": "Scanja"})).send().await.unwrap(), 201).await;
    let scania = id_in(&get(&app, "/v1/options/brand?q=scania").await, "Scania");
    let get_admin =
        async |path: &str| json_of(admin(&app, reqwest::Method::GET, path).send().await.unwrap(), 200).await;

    let review = get_admin("/admin/options?limit=1000").await;
    let item = |id: &str| review["items"].as_array().unwrap().iter().find(|i| i["id"] == id).cloned().expect("listed");
    let alices = item(twin["id"].as_str().unwrap());
    assert_eq!(alices["creator"]["email"], "alice.review@example.com");
    assert_eq!(alices["creator"]["new_account"], true);
    assert!(alices["creator"]["account_age_secs"].as_u64().is_some_and(|s| s < 600), "{alices}");
    let bobs = item(typo["id"].as_str().unwrap());
    assert_eq!(
        (&bobs["creator"]["email"], &bobs["creator"]["new_account"]),
        (&json!("bob.review@example.com"), &json!(false))
    );
    assert!(bobs["creator"]["account_age_secs"].as_u64().is_some_and(|s| s > 364 * 86_400), "{bobs}");
    assert!(item(&scania)["creator"].is_null(), "the seed's options have no creator");

    let duplicates = get_admin("/admin/options/duplicates?limit=10").await;
    let groups = duplicates["groups"].as_array().expect("groups");
    let group_of = |id: &Value| groups.iter().find(|g| g["options"].as_array().unwrap().iter().any(|o| o["id"] == *id));
    let ids = |group: &Value| group["options"].as_array().unwrap().iter().map(|o| o["id"].clone()).collect::<Vec<_>>();
    let twins = group_of(&twin["id"]).expect("the twins are grouped");
    assert_eq!((twins["match"].as_str(), twins["kind"].as_str()), (Some("identity"), Some("brand")));
    assert_eq!(ids(twins), [twin["id"].clone(), other_twin["id"].clone()], "oldest first");
    assert_eq!(twins["options"][1]["creator"]["email"], "carol.review@example.com");
    let near = group_of(&typo["id"]).expect("the typo is grouped with the original");
    assert_eq!(near["match"], "near");
    assert_eq!(ids(near), [json!(scania), typo["id"].clone()]);
    assert_eq!(groups[0]["options"][1]["id"], typo["id"], "the group with the newest option first");

    let approve = format!("/admin/options/{}/approve", twin["id"].as_str().unwrap());
    json_of(admin(&app, reqwest::Method::POST, &approve).send().await.unwrap(), 200).await;
    let after = get_admin("/admin/options/duplicates?limit=10").await;
    assert!(!after.to_string().contains(twin["id"].as_str().unwrap()), "merged twins are one option: {after}");
    assert_problem(
        admin(&app, reqwest::Method::GET, "/admin/options/duplicates?limit=0").send().await.unwrap(),
        422,
        "validation_failed",
    )
    .await;
}

/// An account that has been there for a year (its id, a UUID v7, carries its creation time): established, so
/// its options are public at once even with review on. Returns its access token.
async fn established_user(app: &TestApp, email: &str) -> String {
    let year_ago = time::OffsetDateTime::now_utc() - time::Duration::days(365);
    let seconds = u64::try_from(year_ago.unix_timestamp()).expect("after 1970");
    let user = gantry_actors::ports::accounts::User {
        id: uuid::Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, seconds, 0)),
        email: email.into(),
        password_hash: gantry_actors::accounts::password::hash_password(crate::helpers::PASSWORD).expect("hash"),
        created_at: year_ago,
        disabled_at: None,
    };
    app.backends.accounts.create_user(&user).await.expect("an established account");
    access(&app.login(email).await).to_owned()
}

/// The problems `evaluate` reports on `field` for a Trucks form with `values`, asked with `token`.
async fn errors_on(app: &TestApp, trucks: &str, token: &str, values: Value, field: &str) -> Vec<Value> {
    let url = format!("{}/v1/templates/{trucks}/evaluate", app.http);
    let request = app.client.post(url).bearer_auth(token).json(&json!({"values": values}));
    let evaluated = json_of(request.send().await.unwrap(), 200).await;
    evaluated["errors"].as_array().unwrap().iter().filter(|e| e["field"] == field).cloned().collect()
}

/// Issue 25.8: turning a category's engine off takes the engine block from every form of it, so it is refused
/// (409 `would_break_templates`, naming each form and the fields it would lose) although no stored template
/// reads an engine field; `force` applies it, names the same forms as flagged, and the audit record says it was
/// forced over them. Turning it on again takes nothing and is applied at once.
#[tokio::test]
async fn engine_off_is_refused_while_forms_would_lose_fields_and_forcing_it_is_audited() {
    let app = spawn_app().await;
    let trucks = id_in(&get(&app, "/v1/options/category?limit=500").await, "Trucks");
    let patch = |body: Value| admin(&app, reqwest::Method::PATCH, &format!("/admin/options/{trucks}")).json(&body);

    let problem =
        assert_problem(patch(json!({"has_engine": false})).send().await.unwrap(), 409, "would_break_templates").await;
    let forms: Vec<&str> = problem["forms"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(forms.contains(&"Trucks") && forms.contains(&"Trucks / Tipper trucks"), "{problem}");
    let trucks_form = problem["broken"].as_array().unwrap().iter().find(|b| b["form"] == "Trucks").expect("Trucks");
    assert!(trucks_form["fields"].as_array().unwrap().contains(&json!("fuel_type")), "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("fuel_type"), "{problem}");
    let still = get(&app, "/v1/options/category?limit=500").await;
    assert!(still["items"].as_array().unwrap().iter().any(|c| c["name"] == "Trucks" && c["has_engine"] == true));
    assert!(get(&app, &format!("/v1/templates/{trucks}")).await.to_string().contains("\"fuel_type\""));

    let forced =
        json_of(patch(json!({"has_engine": false, "force": true, "requested_by": "jane"})).send().await.unwrap(), 200)
            .await;
    assert!(forced["flagged"].as_array().unwrap().contains(&json!("Trucks")), "{forced}");
    assert_eq!(forced["broken"], problem["broken"], "the forms refused are the forms flagged");
    assert_eq!(forced["audit"]["detail"]["forced"], true, "{forced}");
    assert_eq!(forced["audit"]["detail"]["broken_forms"], problem["broken"]);
    let audit =
        json_of(admin(&app, reqwest::Method::GET, "/admin/options/audit?limit=1").send().await.unwrap(), 200).await;
    assert_eq!(
        (audit["items"][0]["actor"].as_str(), audit["items"][0]["detail"]["forced"].as_bool()),
        (Some("jane"), Some(true))
    );
    assert!(!get(&app, &format!("/v1/templates/{trucks}")).await.to_string().contains("\"fuel_type\""));

    let on = json_of(patch(json!({"has_engine": true})).send().await.unwrap(), 200).await;
    assert_eq!((on["option"]["has_engine"].as_bool(), on["flagged"].as_array().map(Vec::len)), (Some(true), Some(0)));
}

/// Issue 25.9: with review on, a pending option takes no name from anyone. A second new account creating the
/// same name gets a pending option of its own (201) that its own evaluate accepts; an established user gets a
/// public one (201), listed to everyone and accepted in everyone's forms. Approving a pending one merges it into
/// the public option of its name (audited): its id then resolves there.
#[tokio::test]
async fn a_pending_option_takes_no_name_from_anyone() {
    let app = spawn_app_with("[catalog]\nseed_on_first_start = true\nnew_account_review_age_secs = 86400").await;
    let trucks = id_in(&get(&app, "/v1/options/category?limit=500").await, "Trucks");
    let alice = user(&app, "alice.nova@example.com").await;
    let carol = user(&app, "carol.nova@example.com").await;
    let bob = established_user(&app, "bob.nova@example.com").await;
    let name = json!({"name": "Komatsu Nova"});

    let by_alice = json_of(create(&app, "brand", &alice, &name).send().await.unwrap(), 201).await;
    let by_carol =
        json_of(create(&app, "brand", &carol, &json!({"name": "komatsu nova"})).send().await.unwrap(), 201).await;
    let again = json_of(create(&app, "brand", &alice, &name).send().await.unwrap(), 200).await;
    let by_bob = json_of(create(&app, "brand", &bob, &name).send().await.unwrap(), 201).await;

    assert_eq!((by_alice["pending"].as_bool(), by_carol["pending"].as_bool()), (Some(true), Some(true)));
    assert_ne!(by_carol["id"], by_alice["id"], "carol gets her own pending option, not alice's");
    assert_eq!(again["id"], by_alice["id"]);
    assert_eq!(by_bob["pending"], false, "an established user gets a public option");
    assert!(by_bob["id"] != by_alice["id"] && by_bob["id"] != by_carol["id"]);
    let listed = get(&app, "/v1/options/brand?q=komatsu%20nova").await;
    let novas: Vec<&Value> =
        listed["items"].as_array().unwrap().iter().filter(|i| i["name"] == "Komatsu Nova").collect();
    assert_eq!(novas.iter().map(|i| &i["id"]).collect::<Vec<_>>(), [&by_bob["id"]], "everyone sees bob's");
    for (token, option) in [(&carol, &by_carol), (&bob, &by_bob), (&alice, &by_bob)] {
        let errors = errors_on(&app, &trucks, token, json!({"brand": option["id"]}), "brand").await;
        assert!(errors.is_empty(), "{option}: {errors:?}");
    }
    let foreign = errors_on(&app, &trucks, &bob, json!({"brand": by_carol["id"]}), "brand").await;
    assert_eq!(foreign[0]["code"], "unknown_option", "carol's pending option is not bob's");

    let carols = by_carol["id"].as_str().unwrap();
    let approved = json_of(
        admin(&app, reqwest::Method::POST, &format!("/admin/options/{carols}/approve")).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(approved["option"]["id"], by_bob["id"], "carol's option joined the public one of its name");
    assert_eq!(
        (approved["audit"]["action"].as_str(), &approved["audit"]["detail"]["merged_into"]),
        (Some("approve"), &by_bob["id"])
    );
    let resolved = get(&app, &format!("/v1/options/brand/{carols}")).await;
    assert_eq!((&resolved["id"], resolved["merged_from"].as_str()), (&by_bob["id"], Some(carols)));
    assert!(errors_on(&app, &trucks, &carol, json!({"brand": carols}), "brand").await.is_empty());
}

/// Issue 25.10: a pending option is its creator's alone. For anyone else — another user or an anonymous
/// caller — its id does not resolve (404), nothing can be created under it (422 `parent_id` `not_found`), its
/// children are not listed, and the form of a pending category or subcategory is not served; its creator
/// gets all of these.
#[tokio::test]
async fn a_pending_option_is_its_creators_alone() {
    let app = spawn_app_with("[catalog]\nseed_on_first_start = true\nnew_account_review_age_secs = 86400").await;
    let trucks = id_in(&get(&app, "/v1/options/category?limit=500").await, "Trucks");
    let alice = user(&app, "alice.alone@example.com").await;
    let bob = established_user(&app, "bob.alone@example.com").await;
    let brand =
        json_of(create(&app, "brand", &alice, &json!({"name": "Nova Cranes"})).send().await.unwrap(), 201).await;
    let brand_id = brand["id"].as_str().unwrap();
    let resolve = |token: Option<&str>| {
        let mut request = app.get(&format!("/v1/options/brand/{brand_id}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    assert_problem(resolve(None).await.unwrap(), 404, "option_not_found").await;
    assert_problem(resolve(Some(&bob)).await.unwrap(), 404, "option_not_found").await;
    json_of(resolve(Some(&alice)).await.unwrap(), 200).await;
    let model = json!({"name": "NC 300", "parent_id": brand_id});
    let refused =
        assert_problem(create(&app, "model", &bob, &model).send().await.unwrap(), 422, "validation_failed").await;
    assert_eq!(
        (refused["errors"][0]["field"].as_str(), refused["errors"][0]["code"].as_str()),
        (Some("parent_id"), Some("not_found"))
    );
    json_of(create(&app, "model", &alice, &model).send().await.unwrap(), 201).await;
    let models = format!("/v1/options/model?parent_id={brand_id}");
    assert_problem(app.get(&models).send().await.unwrap(), 422, "validation_failed").await;
    assert_problem(app.get(&models).bearer_auth(&bob).send().await.unwrap(), 422, "validation_failed").await;
    let own = json_of(app.get(&models).bearer_auth(&alice).send().await.unwrap(), 200).await;
    assert_eq!(names(&own), ["NC 300"]);

    // A pending subcategory's form, and a pending category's (one a new account created before categories
    // became the operators').
    let sub = json!({"name": "Nova tippers", "parent_id": trucks});
    let sub = json_of(create(&app, "subcategory", &alice, &sub).send().await.unwrap(), 201).await;
    let sub_form = format!("/v1/templates/{trucks}?subcategory_id={}", sub["id"].as_str().unwrap());
    assert_problem(app.get(&sub_form).send().await.unwrap(), 422, "validation_failed").await;
    json_of(app.get(&sub_form).bearer_auth(&alice).send().await.unwrap(), 200).await;
    let claims = app.state.sessions.authenticate(&alice).expect("alice's token");
    let name = gantry_actors::catalog::names::normalize("Nova hovercraft").expect("a name");
    let category = gantry_actors::ports::catalog::CatalogOption {
        id: uuid::Uuid::now_v7(),
        kind: gantry_actors::catalog::OptionKind::Category,
        parent_id: None,
        name: name.display,
        name_key: name.key,
        search_key: name.search,
        has_engine: true,
        created_at: time::OffsetDateTime::now_utc(),
        created_by: Some(claims.sub),
        hidden: false,
        pending: true,
        translations: Default::default(),
    };
    app.state.catalog.create(category.clone()).await.expect("a pending category");
    let form = format!("/v1/templates/{}", category.id);
    assert_problem(app.get(&form).send().await.unwrap(), 404, "category_not_found").await;
    assert_problem(app.get(&form).bearer_auth(&bob).send().await.unwrap(), 404, "category_not_found").await;
    json_of(app.get(&form).bearer_auth(&alice).send().await.unwrap(), 200).await;
    assert_problem(app.get(&form).send().await.unwrap(), 404, "category_not_found").await;
}

/// Issue 25.11: categories are the operators'. A user's `POST /v1/options/category` is 403 `operator_only`
/// (and creates nothing), while the five kinds the forms name stay open (a country, a city); an operator
/// creates a category on the admin listener (201, listed to everyone at once, audited as `create` with who
/// asked), and the same name again is 409 `name_taken`.
#[tokio::test]
async fn categories_are_created_by_operators_only() {
    let app = spawn_app().await;
    let token = user(&app, "spammer@example.com").await;
    let free_money = json!({"name": "FREE MONEY click here"});

    assert_problem(create(&app, "category", &token, &free_money).send().await.unwrap(), 403, "operator_only").await;
    assert!(!names(&get(&app, "/v1/options/category?limit=500").await).iter().any(|n| n.starts_with("FREE")));
    let country =
        json_of(create(&app, "country", &token, &json!({"name": "Atlantis"})).send().await.unwrap(), 201).await;
    let city = json!({"name": "Poseidonia", "parent_id": country["id"]});
    json_of(create(&app, "city", &token, &city).send().await.unwrap(), 201).await;

    let sweepers = json!({"kind": "category", "name": "Road sweepers", "has_engine": true, "requested_by": "jane"});
    let created =
        json_of(admin(&app, reqwest::Method::POST, "/admin/options").json(&sweepers).send().await.unwrap(), 201).await;
    assert_eq!(
        (created["option"]["name"].as_str(), created["option"]["has_engine"].as_bool()),
        (Some("Road sweepers"), Some(true))
    );
    assert_eq!(
        (created["audit"]["action"].as_str(), created["audit"]["actor"].as_str()),
        (Some("create"), Some("jane"))
    );
    let id = created["option"]["id"].as_str().unwrap();
    assert_eq!(id_in(&get(&app, "/v1/options/category?limit=500").await, "Road sweepers"), id);
    let form = get(&app, &format!("/v1/templates/{id}")).await;
    assert!(form.to_string().contains("\"fuel_type\""), "the new category's form: {form}");
    let again = json!({"kind": "category", "name": "road-sweepers"});
    let taken = assert_problem(
        admin(&app, reqwest::Method::POST, "/admin/options").json(&again).send().await.unwrap(),
        409,
        "name_taken",
    )
    .await;
    assert_eq!(taken["existing_id"], id);
    let bad = json!({"kind": "model", "name": "X1"});
    assert_problem(
        admin(&app, reqwest::Method::POST, "/admin/options").json(&bad).send().await.unwrap(),
        422,
        "validation_failed",
    )
    .await;
}
