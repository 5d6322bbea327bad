//! What caches may keep (issue 20 item 8): personalised option lists have their own `ETag` and are private,
//! public lists are public for `catalog.list_max_age_secs`, personal data is `no-store`, and HSTS is a setting.

use serde_json::json;

use crate::helpers::{access, json_of, spawn_app_with};

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get(name).map(|v| v.to_str().expect("ascii").to_owned())
}

/// The attack: a user's own option list (with their pending option) had the public list's `ETag`, so an
/// anonymous `If-None-Match` with it got 304 — and neither answer said what a cache may do with it. Now the
/// personalised list has its own `ETag` (`private, no-cache`), the anonymous request with it gets the public
/// list (200, `public, max-age=`), and both vary with `Authorization` (and the language); each `ETag` still gives its own caller
/// a 304.
#[tokio::test]
async fn personalised_lists_have_their_own_etag_and_stay_private() {
    let app = spawn_app_with(
        "[catalog]\nseed_on_first_start = true\nnew_account_review_age_secs = 86400\nlist_max_age_secs = 120",
    )
    .await;
    app.register("alice@example.com").await;
    let alice = access(&app.login("alice@example.com").await).to_owned();
    let created = app
        .client
        .post(format!("{}/v1/options/brand", app.http))
        .bearer_auth(&alice)
        .json(&json!({"name": "Alices Own Brand"}))
        .send()
        .await
        .expect("request");
    assert_eq!(json_of(created, 201).await["pending"], true);

    let own = app.get("/v1/options/brand").bearer_auth(&alice).send().await.expect("request");
    let own_etag = header(&own, "etag").expect("an ETag");
    assert_eq!(header(&own, "cache-control").as_deref(), Some("private, no-cache"));
    assert_eq!(header(&own, "vary").as_deref(), Some("Authorization, Accept-Language"));
    assert!(json_of(own, 200).await.to_string().contains("Alices Own Brand"));

    let anonymous = app.get("/v1/options/brand").header("if-none-match", &own_etag).send().await.expect("request");
    assert_eq!(anonymous.status(), 200, "the personalised ETag is not the public list's");
    let public_etag = header(&anonymous, "etag").expect("an ETag");
    assert_ne!(public_etag, own_etag);
    assert_eq!(header(&anonymous, "cache-control").as_deref(), Some("public, max-age=120"));
    assert_eq!(header(&anonymous, "vary").as_deref(), Some("Authorization, Accept-Language"));
    assert!(!json_of(anonymous, 200).await.to_string().contains("Alices Own Brand"));

    let revalidated =
        app.get("/v1/options/brand").bearer_auth(&alice).header("if-none-match", &own_etag).send().await.unwrap();
    assert_eq!(revalidated.status(), 304);
    assert_eq!(header(&revalidated, "cache-control").as_deref(), Some("private, no-cache"));
    let public = app.get("/v1/options/brand").header("if-none-match", &public_etag).send().await.unwrap();
    assert_eq!(public.status(), 304);
    assert_eq!(header(&public, "cache-control").as_deref(), Some("public, max-age=120"));
}

/// `GET /v1/auth/me` and `GET /v1/auth/sessions` (email, addresses, user agents) are `no-store`; no HSTS is
/// sent by default.
#[tokio::test]
async fn personal_data_is_never_stored_and_hsts_is_off_by_default() {
    let app = spawn_app_with("").await;
    app.register("me@example.com").await;
    let token = access(&app.login("me@example.com").await).to_owned();
    for path in ["/v1/auth/me", "/v1/auth/sessions"] {
        let response = app.get(path).bearer_auth(&token).send().await.expect("request");
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(header(&response, "cache-control").as_deref(), Some("no-store"), "{path}");
        assert_eq!(header(&response, "strict-transport-security"), None, "{path}");
    }
}

/// With `http.hsts_max_age_secs` set (TLS terminated in front), every answer carries
/// `Strict-Transport-Security`, errors included.
#[tokio::test]
async fn hsts_is_sent_when_configured() {
    let app = spawn_app_with("[http]\nhsts_max_age_secs = 31536000").await;
    for path in ["/healthz", "/v1/options/brand", "/v1/nowhere"] {
        let response = app.get(path).send().await.expect("request");
        assert_eq!(header(&response, "strict-transport-security").as_deref(), Some("max-age=31536000"), "{path}");
    }
}
