use sha2::{Digest, Sha256};

use crate::helpers::{ADMIN_TOKEN, JWT, UPLOAD, spawn_app};

/// The admin routes are not reachable on the public listener.
#[tokio::test]
async fn admin_routes_are_not_on_the_public_listener() {
    let app = spawn_app().await;
    for path in ["/admin/secrets", "/metrics"] {
        let response =
            app.client.get(format!("{}{path}", app.http)).bearer_auth(ADMIN_TOKEN).send().await.expect("req");
        assert_eq!(response.status(), 404, "{path}");
    }
}

/// `/admin/secrets` shows fingerprints and states, and no secret value anywhere in the body.
#[tokio::test]
async fn admin_secrets_lists_fingerprints_never_values() {
    let app = spawn_app().await;
    let response = app.admin_get("/admin/secrets").send().await.expect("request");
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    for value in [JWT, UPLOAD, ADMIN_TOKEN] {
        assert!(!text.contains(value), "a secret value leaked: {text}");
    }
    let body: serde_json::Value = serde_json::from_str(&text).expect("json");
    let jwt = body["secrets"].as_array().expect("list").iter().find(|s| s["name"] == "JWT_SECRET").expect("jwt");
    let expected = hex::encode(&Sha256::digest(JWT.as_bytes())[..6]);
    assert_eq!(jwt["fingerprint"], expected);
    assert_eq!(jwt["state"], "current");
    assert_eq!(jwt["origin"], "env");
}

/// Candidate secrets are checked against the runbook rules; violations name variable and rule only.
#[tokio::test]
async fn validate_names_rules_without_echoing_values() {
    let app = spawn_app().await;
    let weak = "Tr4ct0rTr4ct0rTr4ct0rTr4ct0rTr4ct0r";
    let response = app
        .admin_post("/admin/secrets/validate")
        .json(&serde_json::json!({"JWT_SECRET": weak, "UPLOAD_GUEST_TOKEN_SECRET": weak}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    assert!(!text.contains("Tr4ct0r"), "value echoed: {text}");
    let body: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(body["valid"], false);
    let codes: Vec<(String, String)> = body["violations"]
        .as_array()
        .expect("list")
        .iter()
        .map(|v| (v["variable"].as_str().unwrap_or("").to_owned(), v["code"].as_str().unwrap_or("").to_owned()))
        .collect();
    assert!(codes.contains(&("JWT_SECRET".into(), "repeated_pattern".into())), "{codes:?}");
    assert!(codes.contains(&("UPLOAD_GUEST_TOKEN_SECRET".into(), "same_as_jwt_secret".into())), "{codes:?}");

    let response = app
        .admin_post("/admin/secrets/validate")
        .json(&serde_json::json!({"S3_SECRET_ACCESS_KEY": "Vw8Qe3Rt6Yu1Io4Pa7Sd2Fg9"}))
        .send()
        .await
        .expect("request");
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["valid"], true, "a partial set is checked on its own: {body}");
}

/// `/metrics` exposes per-actor series and per-route HTTP series in Prometheus text format.
#[tokio::test]
async fn metrics_expose_actor_and_http_series() {
    let app = spawn_app().await;
    app.admin_get("/admin/secrets").send().await.expect("request");
    app.get("/healthz").send().await.expect("request");
    let text = app.metrics().await;
    for series in [
        "gantry_actor_messages_total{actor=\"secret_store\"}",
        "gantry_actor_up{actor=\"secret_store\"}",
        "gantry_actor_mailbox_depth{actor=\"secret_store\"}",
        "gantry_actor_restarts_total{actor=\"secret_store\"}",
        "gantry_actor_handle_seconds_bucket{actor=\"secret_store\"",
        "gantry_http_requests_total{listener=\"public\",route=\"/healthz\",method=\"GET\",status=\"200\"}",
        "gantry_http_request_duration_seconds_bucket{listener=\"public\",route=\"/healthz\"",
    ] {
        assert!(text.contains(series), "missing {series}");
    }
}
