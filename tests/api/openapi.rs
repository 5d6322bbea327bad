//! `GET /openapi.json` serves each listener's own OpenAPI document.

use crate::helpers::{json_of, spawn_app};

/// The public listener serves the public API's document, the admin listener the admin API's (without a token:
/// the listener is private, as for `/metrics`); neither lists the other's paths.
#[tokio::test]
async fn each_listener_serves_its_own_openapi_document() {
    let app = spawn_app().await;
    let public = app.client.get(format!("{}/openapi.json", app.http)).send().await.unwrap();
    assert_eq!(public.headers()["content-type"], "application/json");
    let public = json_of(public, 200).await;
    assert_eq!(public["openapi"], "3.1.0");
    assert!(public["paths"]["/v1/auth/login"]["post"].is_object(), "public doc has login");
    assert!(public["paths"]["/admin/users"].is_null(), "no admin path in the public doc");

    let admin = json_of(app.client.get(format!("{}/openapi.json", app.admin)).send().await.unwrap(), 200).await;
    assert!(admin["paths"]["/admin/users/{id}/disable"]["post"].is_object(), "admin doc has disable");
    assert!(admin["paths"]["/v1/auth/login"].is_null(), "no public path in the admin doc");
    let codes = &admin["components"]["schemas"]["Problem"]["properties"]["code"]["enum"];
    assert!(codes.as_array().unwrap().iter().any(|c| c == "account_disabled"));
}
