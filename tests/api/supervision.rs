use crate::eventually::{Deadline, settled};
use crate::helpers::spawn_app;

/// The secret store's restart count in a `/metrics` page.
fn restarts(metrics: &str) -> f64 {
    crate::prometheus::value_or_zero(metrics, "gantry_actor_restarts_total{actor=\"secret_store\"}")
}

/// A panic inside the secret store is survived: the supervisor restarts it, requests succeed again with
/// the same secrets, and the restart is counted.
#[tokio::test]
async fn panicking_actor_is_restarted_and_requests_succeed_again() {
    let app = spawn_app().await;
    let before: serde_json::Value =
        app.admin_get("/admin/secrets").send().await.expect("req").json().await.expect("json");
    let restarts_before = restarts(&app.metrics().await);

    app.state.secrets.inject_panic().expect("message accepted");

    // Until the restart, the store is unavailable: a 503 with Retry-After, nothing else.
    let answer = async || {
        let response = app.admin_get("/admin/secrets").send().await.expect("request");
        match response.status().as_u16() {
            200 => Some(response.json::<serde_json::Value>().await.expect("json")),
            503 => {
                assert!(response.headers().contains_key("retry-after"), "503 without Retry-After");
                None
            }
            other => panic!("unexpected status {other}"),
        }
    };
    let after = settled(Deadline::ms(5_000, 20), answer, Option::is_some).await;
    let after = after.expect("the secret store answered again after its restart");
    assert_eq!(before["secrets"], after["secrets"], "restart must not change the key ring");
    assert!(restarts(&app.metrics().await) >= restarts_before + 1.0, "restart not counted");
    let ready = app.get("/readyz").send().await.expect("request");
    assert_eq!(ready.status(), 200);
}
