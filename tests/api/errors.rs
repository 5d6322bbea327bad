use crate::helpers::{assert_problem, spawn_app, spawn_app_with};

/// Unknown routes answer 404 as problem+json with a stable code.
#[tokio::test]
async fn unknown_route_is_problem_404() {
    let app = spawn_app().await;
    let response = app.get("/v1/nothing-here").send().await.expect("request");
    let body = assert_problem(response, 404, "not_found").await;
    assert!(body["request_id"].is_string());
}

/// A known path with the wrong method answers 405 and says which methods are allowed.
#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let app = spawn_app().await;
    let response = app.client.delete(format!("{}/healthz", app.http)).send().await.expect("request");
    assert_eq!(response.headers()["allow"], "GET, HEAD");
    assert_problem(response, 405, "method_not_allowed").await;
}

/// Malformed JSON is a 400 that points at the position and does not echo the input.
#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    let response = app
        .admin_post("/admin/secrets/validate")
        .header("content-type", "application/json")
        .body("{\"JWT_SECRET\": \"Hn4Bv7Cx2Zl9Kj5Mg8D")
        .send()
        .await
        .expect("request");
    let body = assert_problem(response, 400, "malformed_json").await;
    assert!(!body.to_string().contains("Hn4Bv7"), "input echoed: {body}");
}

/// A body over the limit is refused with 413, whether announced by Content-Length or streamed.
#[tokio::test]
async fn oversized_body_is_413() {
    let app = spawn_app_with("[http]\nmax_body_bytes = 1024").await;
    let big = format!("{{\"JWT_SECRET\": \"{}\"}}", "x".repeat(4096));
    let response = app
        .admin_post("/admin/secrets/validate")
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .expect("request");
    assert_problem(response, 413, "payload_too_large").await;

    let chunks = futures::stream::iter(
        big.into_bytes().chunks(512).map(|c| Ok::<_, std::io::Error>(c.to_vec())).collect::<Vec<_>>(),
    );
    let response = app
        .admin_post("/admin/secrets/validate")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("request");
    assert_problem(response, 413, "payload_too_large").await;
}

/// A JSON endpoint refuses other media types with 415.
#[tokio::test]
async fn wrong_content_type_is_415() {
    let app = spawn_app().await;
    let response = app
        .admin_post("/admin/secrets/validate")
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_problem(response, 415, "unsupported_media_type").await;
}

/// Odd paths and methods never crash the server: each gets an answer, and the server still serves.
#[tokio::test]
async fn odd_input_never_breaks_the_server() {
    let app = spawn_app().await;
    let long = format!("/{}", "a".repeat(8000));
    for path in ["/%00", "/v1/jobs/%2e%2e%2f", "/v1/jobs/", "//", long.as_str(), "/v1/jobs/\u{1F69C}"] {
        let response = app.get(path).send().await.expect("request");
        assert!(response.status().is_client_error(), "{path}: {}", response.status());
    }
    let weird = reqwest::Method::from_bytes(b"BREW").expect("method");
    let response = app.client.request(weird, format!("{}/healthz", app.http)).send().await.expect("request");
    assert_eq!(response.status(), 405);
    assert_eq!(app.get("/healthz").send().await.expect("request").status(), 200);
}

/// The attack: provoke a 503 and read internals from it (today: "actor session_registry did not answer in
/// time", SQLite error codes). With the database locked by another process's exclusive transaction, a
/// registration waits out the busy timeout and answers 503 `database_unavailable` whose body names no backend,
/// actor or database code.
#[tokio::test]
async fn unavailable_bodies_name_no_internals() {
    use sqlx::ConnectOptions;
    let app = spawn_app().await;
    let path = app.state.settings.sqlite_path();
    let mut locker = sqlx::sqlite::SqliteConnectOptions::new().filename(&path).connect().await.expect("open");
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut locker).await.expect("lock");

    let body = serde_json::json!({"email": "locked@example.com", "password": crate::helpers::PASSWORD});
    let response = app.post_json("/v1/auth/register", &body).send().await.expect("request");
    assert_eq!(response.headers().get("retry-after").map(|v| v.to_str().expect("ascii")), Some("2"));
    let problem = assert_problem(response, 503, "database_unavailable").await;
    let text = problem.to_string().to_lowercase();
    for internal in ["sqlite", "code 5", "(code", "actor", "account store", "sqlx"] {
        assert!(!text.contains(internal), "the body names {internal:?}: {problem}");
    }
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains("database")), "{problem}");
    sqlx::query("ROLLBACK").execute(&mut locker).await.expect("unlock");
}

/// A JSON array where the API takes an object is 400 `malformed_json`, not read as the fields in order (found
/// by schemathesis: `POST /admin/secrets/rotate` with `[null, null]` started a rotation).
#[tokio::test]
async fn an_array_body_is_refused_where_an_object_is_expected() {
    let app = spawn_app().await;
    app.register("array@example.com").await;
    let login = serde_json::json!(["array@example.com", crate::helpers::PASSWORD]);
    assert_problem(app.post_json("/v1/auth/login", &login).send().await.unwrap(), 400, "malformed_json").await;
    let rotate = app.admin_post("/admin/secrets/rotate").json(&serde_json::json!([null, null])).send().await.unwrap();
    assert_problem(rotate, 400, "malformed_json").await;
    let rotations = crate::helpers::json_of(app.admin_get("/admin/rotations").send().await.unwrap(), 200).await;
    assert_eq!(rotations["rotations"].as_array().map(Vec::len), Some(0), "no rotation started");
}
