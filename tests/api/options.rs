//! The listing-form catalog on the embedded profile (seeded on first start): listing, search, ETags,
//! creating once, validation, and that a create is served at once.

use serde_json::{Value, json};

use crate::helpers::{TestApp, access, assert_problem, json_of, spawn_app_with};

/// A Gantry whose catalog was seeded on first start (as the local profile does by default).
async fn spawn_app() -> TestApp {
    spawn_app_with("[catalog]\nseed_on_first_start = true").await
}

async fn list(app: &TestApp, path: &str) -> Value {
    json_of(app.get(path).send().await.expect("request"), 200).await
}

fn id_named(page: &Value, name: &str) -> String {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {page}"))["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

async fn user(app: &TestApp, email: &str) -> String {
    app.register(email).await;
    access(&app.login(email).await).to_owned()
}

fn post(app: &TestApp, kind: &str, token: &str, body: &Value) -> reqwest::RequestBuilder {
    app.client.post(format!("{}/v1/options/{kind}", app.http)).bearer_auth(token).json(body)
}

/// The seed catalog is there on first start: categories say whether they have an engine, models belong to
/// their brand, and lists carry a version that is also the `ETag` (304 when unchanged).
#[tokio::test]
async fn seeded_catalog_lists_with_etags() {
    let app = spawn_app().await;
    let categories = list(&app, "/v1/options/category?limit=500").await;
    let trucks = categories["items"].as_array().expect("items").iter().find(|c| c["name"] == "Trucks").expect("Trucks");
    assert_eq!(trucks["has_engine"], true);
    let brands = list(&app, "/v1/options/brand?limit=500").await;
    let volvo = id_named(&brands, "Volvo");
    let models = list(&app, &format!("/v1/options/model?parent_id={volvo}&limit=500")).await;
    assert!(models["items"].as_array().expect("items").iter().any(|m| m["name"] == "FH"), "{models}");
    assert!(models["items"].as_array().expect("items").iter().all(|m| m["parent_id"] == volvo.as_str()));

    let response = app.get("/v1/options/brand").send().await.expect("request");
    let etag = response.headers()["etag"].to_str().expect("ascii").to_owned();
    assert_eq!(etag, format!("\"v{}-en\"", brands["version"]), "the version and the locale");
    let response = app.get("/v1/options/brand").header("if-none-match", &etag).send().await.expect("request");
    assert_eq!(response.status(), 304);
}

/// `q` matches the start of the name or of a word in it, ignoring case and accents.
#[tokio::test]
async fn search_ignores_case_and_accents() {
    let app = spawn_app().await;
    let countries = list(&app, "/v1/options/country?limit=500").await;
    let germany = id_named(&countries, "Germany");
    let cities = list(&app, &format!("/v1/options/city?parent_id={germany}&q=MUN")).await;
    assert_eq!(cities["items"][0]["name"], "München", "{cities}");
    let brands = list(&app, "/v1/options/brand?q=benz").await;
    assert!(brands["items"].as_array().expect("items").iter().any(|b| b["name"] == "Mercedes-Benz"), "{brands}");
    assert!(list(&app, "/v1/options/brand?q=zzzz").await["items"].as_array().expect("items").is_empty());
}

/// " volvo " is the existing Volvo (200); a new brand is created once (201), its case and spacing variants
/// return it (200, same id), and it is listed at once with a newer version.
#[tokio::test]
async fn creates_normalise_and_dedupe() {
    let app = spawn_app().await;
    let token = user(&app, "catalog@example.com").await;
    let before = list(&app, "/v1/options/brand?limit=500").await;

    let response = post(&app, "brand", &token, &json!({"name": " volvo "})).send().await.expect("request");
    let existing = json_of(response, 200).await;
    assert_eq!(existing["id"], id_named(&before, "Volvo"));

    let created =
        json_of(post(&app, "brand", &token, &json!({"name": "Tatra  Trucks"})).send().await.expect("req"), 201).await;
    assert_eq!(created["name"], "Tatra Trucks");
    let again =
        json_of(post(&app, "brand", &token, &json!({"name": "TATRA trucks"})).send().await.expect("req"), 200).await;
    assert_eq!(again["id"], created["id"]);

    let after = list(&app, "/v1/options/brand?limit=500").await;
    assert_eq!(id_named(&after, "Tatra Trucks"), created["id"].as_str().expect("id"));
    assert!(after["version"].as_u64() > before["version"].as_u64(), "{} vs {}", after["version"], before["version"]);
}

/// Twenty concurrent creates of one name, in different spellings, yield one option.
#[tokio::test]
async fn concurrent_creates_yield_one_option() {
    let app = spawn_app().await;
    let token = user(&app, "race@example.com").await;
    let spellings = ["Sisu Auto", "sisu auto", "SISU AUTO", " Sisu  Auto "];
    let requests = (0..20).map(|i| post(&app, "brand", &token, &json!({"name": spellings[i % 4]})).send());
    let responses = futures::future::join_all(requests).await;
    let mut ids = std::collections::BTreeSet::new();
    let mut created = 0;
    for response in responses {
        let response = response.expect("request");
        if response.status() == 201 {
            created += 1;
        }
        let body: Value = response.json().await.expect("json");
        ids.insert(body["id"].as_str().expect("id").to_owned());
    }
    assert_eq!(created, 1, "exactly one create");
    assert_eq!(ids.len(), 1, "{ids:?}");
}

/// A new model under a brand is listed immediately (the instance's cached list was dropped).
#[tokio::test]
async fn a_create_is_served_at_once() {
    let app = spawn_app().await;
    let token = user(&app, "fresh@example.com").await;
    let brands = list(&app, "/v1/options/brand?limit=500").await;
    let scania = id_named(&brands, "Scania");
    let path = format!("/v1/options/model?parent_id={scania}&limit=500");
    list(&app, &path).await;
    let model = json!({"name": "Super 560", "parent_id": scania});
    json_of(post(&app, "model", &token, &model).send().await.expect("req"), 201).await;
    id_named(&list(&app, &path).await, "Super 560");
}

/// Bad names and parents are 422 per field; unknown kinds 404; anonymous creates 401.
#[tokio::test]
async fn bad_creates_are_refused() {
    let app = spawn_app().await;
    let token = user(&app, "bad@example.com").await;
    let countries = list(&app, "/v1/options/country?limit=500").await;
    let germany = id_named(&countries, "Germany");
    let cases = [
        ("brand", json!({"name": "   "}), "empty"),
        ("brand", json!({"name": "x".repeat(81)}), "too_long"),
        ("brand", json!({"name": "Bad\u{0007}Name"}), "control_characters"),
        ("model", json!({"name": "Orphan"}), "required"),
        ("model", json!({"name": "Wrong", "parent_id": germany}), "wrong_kind"),
        ("model", json!({"name": "Ghost", "parent_id": uuid::Uuid::now_v7()}), "not_found"),
        ("brand", json!({"name": "Rooted", "parent_id": germany}), "not_allowed"),
    ];
    for (kind, body, code) in cases {
        let response = post(&app, kind, &token, &body).send().await.expect("request");
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["code"], code, "{body}: {problem}");
    }
    let response = post(&app, "engine", &token, &json!({"name": "V8"})).send().await.expect("request");
    assert_problem(response, 404, "unknown_kind").await;
    assert_problem(app.get("/v1/options/engine").send().await.expect("request"), 404, "unknown_kind").await;
    let response =
        app.client.post(format!("{}/v1/options/brand", app.http)).json(&json!({"name": "Anon"})).send().await;
    assert_problem(response.expect("request"), 401, "unauthorized").await;
    let response = app.get("/v1/options/model").send().await.expect("request");
    assert_problem(response, 422, "validation_failed").await;
    let response = app.get(&format!("/v1/options/model?parent_id={}", uuid::Uuid::now_v7())).send().await.expect("req");
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["code"], "not_found");
    let response = app
        .get(&format!("/v1/options/city?parent_id={}", id_named(&list(&app, "/v1/options/brand").await, "Volvo")))
        .send()
        .await;
    let problem = assert_problem(response.expect("request"), 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["code"], "not_found", "a brand is not a country");
}

/// Pages follow the cursor without repeats or gaps.
#[tokio::test]
async fn paging_with_cursor() {
    let app = spawn_app().await;
    let all = list(&app, "/v1/options/brand?limit=500").await["items"].as_array().expect("items").clone();
    assert!(all.len() > 10);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/options/brand?limit=7&cursor={c}"),
            None => "/v1/options/brand?limit=7".to_owned(),
        };
        let page = list(&app, &path).await;
        seen.extend(page["items"].as_array().expect("items").iter().map(|i| i["id"].clone()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let expected: Vec<Value> = all.iter().map(|i| i["id"].clone()).collect();
    assert_eq!(seen, expected);

    // The plain list (default limit 50, served from the rendered first page) pages on with the same cursor,
    // and asking twice gives the same bytes.
    let first = list(&app, "/v1/options/brand").await;
    assert_eq!(first["items"].as_array().expect("items").len(), 50.min(all.len()));
    assert_eq!(first, list(&app, "/v1/options/brand").await);
    if all.len() > 50 {
        let next = first["next_cursor"].as_str().expect("a next page");
        let rest = list(&app, &format!("/v1/options/brand?cursor={next}&limit=500")).await;
        assert_eq!(rest["items"][0]["id"], expected[50]);
    } else {
        assert!(first.get("next_cursor").is_none());
    }
}

/// Creates are rate-limited per user.
#[tokio::test]
async fn creates_are_rate_limited_per_user() {
    let app = spawn_app_with("[catalog]\nseed_on_first_start = true\ncreates_per_user_per_hour = 2").await;
    let token = user(&app, "limit-catalog@example.com").await;
    for name in ["Brand One", "Brand Two"] {
        json_of(post(&app, "brand", &token, &json!({"name": name})).send().await.expect("req"), 201).await;
    }
    let response = post(&app, "brand", &token, &json!({"name": "Brand Three"})).send().await.expect("req");
    assert_problem(response, 429, "too_many_requests").await;
}

/// What an instance drops when told of a change: the exact list for the next version, everything when the
/// version shows a missed message, everything on a bus resync.
#[tokio::test]
async fn invalidation_drops_exact_keys_and_everything_on_gaps() {
    use gantry_actors::catalog::OptionKind;
    use gantry_actors::ports::bus::Event;
    let app = spawn_app().await;
    let brands = list(&app, "/v1/options/brand?limit=500").await;
    let version = brands["version"].as_u64().expect("version");
    let (volvo, scania) = (id_named(&brands, "Volvo"), id_named(&brands, "Scania"));
    let key = |id: &str| (OptionKind::Model, Some(id.parse::<uuid::Uuid>().expect("uuid")));
    list(&app, &format!("/v1/options/model?parent_id={volvo}")).await;
    list(&app, &format!("/v1/options/model?parent_id={scania}")).await;
    assert!(app.state.catalog.is_cached(&key(&volvo)) && app.state.catalog.is_cached(&key(&scania)));

    let dropped = async |key| {
        let probe = async || app.state.catalog.is_cached(&key);
        crate::eventually::poll(crate::eventually::Deadline::ms(1_000, 10), probe, |cached| !cached).await.is_ok()
    };
    let next = Event::OptionChanged {
        kind: OptionKind::Model,
        parent_id: Some(key(&volvo).1.expect("id")),
        version: version + 1,
    };
    app.backends.bus.publish(next).await.expect("publish");
    assert!(dropped(key(&volvo)).await, "the changed list is dropped");
    assert!(app.state.catalog.is_cached(&key(&scania)), "other lists stay cached");

    let gap = Event::OptionChanged { kind: OptionKind::Brand, parent_id: None, version: version + 5 };
    app.backends.bus.publish(gap).await.expect("publish");
    assert!(dropped(key(&scania)).await, "a gap drops everything");
}

/// A slow database never blocks the option cache for everyone: with every database connection busy (the pool
/// held by writes waiting on a lock), misses of different lists each answer 503 `database_unavailable` within
/// the call deadline instead of queueing behind one another into `timeout`, and a cached list is served at once.
#[tokio::test]
async fn a_slow_database_fails_misses_independently_and_never_blocks_cached_reads() {
    use std::time::{Duration, Instant};

    use sqlx::Connection;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

    let app = spawn_app().await;
    let brands = list(&app, "/v1/options/brand?limit=500").await;
    let countries = list(&app, "/v1/options/country?limit=500").await;
    let (volvo, scania, germany) =
        (id_named(&brands, "Volvo"), id_named(&brands, "Scania"), id_named(&countries, "Germany"));

    // Another process's write lock: every write of Gantry waits for it (the busy timeout) holding one of its
    // database connections; a handful of registrations takes them all.
    let options = SqliteConnectOptions::new().filename(app.state.settings.sqlite_path());
    let mut lock = SqliteConnection::connect_with(&options).await.expect("open the database");
    sqlx::query("BEGIN IMMEDIATE").execute(&mut lock).await.expect("write lock");
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let request = app.post_json(
                "/v1/auth/register",
                &json!({"email": format!("slow{i}@example.com"),
                "password": "correct horse battery staple"}),
            );
            tokio::spawn(async move { request.send().await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;

    let started = Instant::now();
    let cached = app.get("/v1/options/brand?limit=500").send().await.expect("request");
    assert_eq!(cached.status(), 200);
    assert!(started.elapsed() < Duration::from_millis(500), "a cached list waited {:?}", started.elapsed());

    let misses = [
        format!("/v1/options/model?parent_id={volvo}"),
        format!("/v1/options/model?parent_id={scania}"),
        format!("/v1/options/city?parent_id={germany}"),
    ];
    let started = Instant::now();
    let answers = futures::future::join_all(misses.iter().map(|path| app.get(path).send())).await;
    for answer in answers {
        assert_problem(answer.expect("request"), 503, "database_unavailable").await;
    }
    assert!(started.elapsed() < Duration::from_secs(2), "misses waited {:?}", started.elapsed());

    sqlx::query("ROLLBACK").execute(&mut lock).await.expect("release");
    for writer in writers {
        let _ = writer.await;
    }
    let recovered = list(&app, &format!("/v1/options/model?parent_id={volvo}")).await;
    assert!(!recovered["items"].as_array().expect("items").is_empty());
}
