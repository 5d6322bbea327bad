//! The evidence of consecutive revoke-alls: each notice counts the sessions that revocation itself ended.

use serde_json::json;

use crate::eventually::{Deadline, settled};
use crate::helpers::{TestApp, access, json_of, spawn_app};

/// Revokes every session and returns the notice's `active_sessions` once its evidence job has completed
/// (the job's result and the notice agree).
async fn revoke_all_counted(app: &TestApp, reason: &str) -> serde_json::Value {
    let response =
        app.admin_post("/admin/sessions/revoke-all").json(&json!({"reason": reason})).send().await.expect("request");
    let accepted = json_of(response, 202).await;
    let job_id = accepted["job_id"].as_str().expect("job id").to_owned();
    let job = settled(
        Deadline::ms(1_000, 20),
        async || json_of(app.admin_get(&format!("/admin/jobs/{job_id}")).send().await.expect("req"), 200).await,
        |job| job["state"] == "completed",
    )
    .await;
    assert_eq!(job["state"], "completed", "{job}");
    let notices = json_of(app.admin_get("/admin/sessions/revocations").send().await.expect("req"), 200).await;
    let notice = &notices["revocations"][0];
    assert_eq!(notice["id"], job_id.as_str(), "{notices}");
    assert_eq!(notice["active_sessions"], job["result"]["active_sessions"], "{job} {notice}");
    notice["active_sessions"].clone()
}

/// A second revoke-all right after the first reports 0 active sessions (the first already ended them all),
/// and a third reports only the one login made since the second.
#[tokio::test]
async fn revoke_all_counts_only_the_sessions_it_ended() {
    let app = spawn_app().await;
    app.register("nina@example.com").await;
    app.register("omar@example.com").await;
    app.login("nina@example.com").await;
    app.login("omar@example.com").await;

    assert_eq!(revoke_all_counted(&app, "first").await, 2);
    assert_eq!(revoke_all_counted(&app, "again, nobody logged in since").await, 0);

    let fresh = app.login("nina@example.com").await;
    json_of(app.me(access(&fresh)).await, 200).await;
    assert_eq!(revoke_all_counted(&app, "one login since").await, 1);
}
