//! Operators create, find, disable, enable and delete an account through the admin listener or the CLI; deleting and
//! disabling revoke its sessions.

use std::process::Command;

use crate::helpers::{ADMIN_TOKEN, access, assert_problem, json_of, spawn_app, spawn_app_with};

/// The binary with the admin token, as an operator runs the admin commands.
fn gantry(dir: &std::path::Path) -> Command {
    let mut cmd = crate::helpers::gantry_cli(dir);
    cmd.env("GANTRY_ADMIN_TOKEN", ADMIN_TOKEN);
    cmd
}

/// `GET /admin/users?email=` finds the account by its email in any spelling; an unknown one is 404, a missing
/// parameter 422, and no token 401.
#[tokio::test]
async fn admin_finds_a_user_by_email() {
    let app = spawn_app().await;
    let user_id = app.register("find-me@example.com").await;
    let found =
        json_of(app.admin_get("/admin/users?email=%20Find-Me%40Example.COM%20").send().await.unwrap(), 200).await;
    assert_eq!(found["id"], user_id.as_str());
    assert_eq!(found["email"], "find-me@example.com");
    assert!(found["created_at"].is_string());
    assert_problem(
        app.admin_get("/admin/users?email=nobody%40example.com").send().await.unwrap(),
        404,
        "user_not_found",
    )
    .await;
    assert_problem(app.admin_get("/admin/users").send().await.unwrap(), 422, "validation_failed").await;
    let anonymous = app.client.get(format!("{}/admin/users?email=find-me%40example.com", app.admin)).send().await;
    assert_eq!(anonymous.unwrap().status(), 401);
}

/// `DELETE /admin/users/{id}` revokes the account's sessions (its access token stops working at once) and
/// deletes it (it can no longer log in; its email can register again); a second delete is 404.
#[tokio::test]
async fn deleting_a_user_revokes_its_sessions_and_removes_the_account() {
    let app = spawn_app().await;
    let user_id = app.register("delete-me@example.com").await;
    let pair = app.login("delete-me@example.com").await;
    let delete = || app.client.delete(format!("{}/admin/users/{user_id}", app.admin)).bearer_auth(ADMIN_TOKEN).send();

    let body = json_of(delete().await.unwrap(), 200).await;
    assert_eq!(body["deleted"], true);
    assert!(body["revocation_job_id"].is_string());
    assert_problem(app.me(access(&pair)).await, 401, "session_revoked").await;
    let login = app
        .post_json(
            "/v1/auth/login",
            &serde_json::json!({"email": "delete-me@example.com", "password": crate::helpers::PASSWORD}),
        )
        .send()
        .await
        .unwrap();
    assert_problem(login, 401, "invalid_credentials").await;
    assert_problem(delete().await.unwrap(), 404, "user_not_found").await;
    app.register("delete-me@example.com").await;
}

/// `gantry users find` and `gantry users delete` do the same through a running instance.
#[tokio::test]
async fn users_find_and_delete_cli_call_the_running_instance() {
    let app = spawn_app().await;
    let user_id = app.register("cli-user@example.com").await;
    let pair = app.login("cli-user@example.com").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let admin = app.admin.clone();
    let run = move |args: Vec<String>| {
        let dir = dir.path().to_owned();
        let admin = admin.clone();
        tokio::task::spawn_blocking(move || {
            gantry(&dir).args(&args).args(["--admin-url", &admin]).output().expect("runs")
        })
    };
    let args = |a: &[&str]| a.iter().map(ToString::to_string).collect::<Vec<_>>();

    let out = run(args(&["users", "find", "--email", "CLI-User@example.com"])).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(found["id"], user_id.as_str());

    let out = run(args(&["users", "delete", "--id", &user_id])).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_problem(app.me(access(&pair)).await, 401, "session_revoked").await;

    let out = run(args(&["users", "find", "--email", "cli-user@example.com"])).await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no account with the email"));
}

/// `gantry smoke --json` against `app` (admin URL given): its report, after asserting it exited 0.
async fn smoke(app: &crate::helpers::TestApp, dir: &std::path::Path) -> serde_json::Value {
    let (base, admin, path) = (app.http.clone(), app.admin.clone(), dir.to_owned());
    let out = tokio::task::spawn_blocking(move || {
        gantry(&path).args(["smoke", "--base-url", &base, "--json", "--admin-url", &admin]).output().expect("runs")
    })
    .await
    .expect("join");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    report
}

/// `gantry smoke --admin-url` deletes the throw-away account it created (its last step).
#[tokio::test]
async fn smoke_deletes_its_ephemeral_account_through_the_admin_listener() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let report = smoke(&app, dir.path()).await;
    let last = report["steps"].as_array().expect("steps").last().expect("a step").clone();
    assert_eq!(last["name"], "delete ephemeral account", "{report:#}");
    assert_eq!(last["ok"], true, "{report:#}");
    let email = report["email"].as_str().expect("email").replace('@', "%40");
    assert_problem(app.admin_get(&format!("/admin/users?email={email}")).send().await.unwrap(), 404, "user_not_found")
        .await;
}

/// Smokes never spend the public registration limit (issue 25.3): with 2 registrations per address, three
/// `gantry smoke` runs in a row all pass, each creating its account through the admin listener and leaving none
/// behind, and the address can still register its 2 accounts afterwards.
#[tokio::test]
async fn smokes_do_not_spend_the_registration_limit_and_leave_no_account() {
    let app = spawn_app_with("[sessions]\nregistrations_per_address = 2\nregistration_window_secs = 3600").await;
    let dir = tempfile::tempdir().expect("tempdir");
    for _ in 0..3 {
        let report = smoke(&app, dir.path()).await;
        let steps = report["steps"].as_array().expect("steps");
        assert_eq!(steps[0]["name"], "create ephemeral account", "{report:#}");
        let email = report["email"].as_str().expect("email").replace('@', "%40");
        assert_problem(
            app.admin_get(&format!("/admin/users?email={email}")).send().await.unwrap(),
            404,
            "user_not_found",
        )
        .await;
    }
    for email in ["after-smoke-1@example.com", "after-smoke-2@example.com"] {
        let body = serde_json::json!({"email": email, "password": crate::helpers::PASSWORD});
        let registered = app.post_json("/v1/auth/register", &body).send().await.unwrap();
        assert_eq!(registered.status(), 201, "{email}: the smokes spent none of the limit");
    }
}

/// `POST /admin/users` creates an account that can log in (201 `{user_id, email}`, email normalised), 409
/// `email_taken` for an existing email, 422 for a short password, 401 without the admin token.
#[tokio::test]
async fn admin_creates_a_user() {
    let app = spawn_app().await;
    let post = |body: serde_json::Value, token: &str| {
        app.client.post(format!("{}/admin/users", app.admin)).bearer_auth(token).json(&body).send()
    };
    let body = serde_json::json!({"email": " Made-By-Admin@Example.com", "password": crate::helpers::PASSWORD});
    let created = json_of(post(body.clone(), ADMIN_TOKEN).await.unwrap(), 201).await;
    assert_eq!(created["email"], "made-by-admin@example.com");
    let pair = app.login("made-by-admin@example.com").await;
    json_of(app.me(access(&pair)).await, 200).await;
    assert_problem(post(body.clone(), ADMIN_TOKEN).await.unwrap(), 409, "email_taken").await;
    let short = serde_json::json!({"email": "short@example.com", "password": "x"});
    assert_eq!(post(short, ADMIN_TOKEN).await.unwrap().status(), 422);
    assert_eq!(post(body, "not-the-token").await.unwrap().status(), 401);
}

/// `POST /admin/users/{id}/disable` answers 204: the account's access token is refused (`session_revoked`), its
/// refresh token no longer refreshes, and its right password gets 403 `account_disabled` (a wrong one still
/// gets 401 `invalid_credentials`, so the code tells nothing to someone without the password). `enable` lets
/// it log in again; unknown and malformed ids are 404 `user_not_found`; no token is 401.
#[tokio::test]
async fn disabling_a_user_revokes_its_sessions_and_refuses_its_logins_until_enabled() {
    let app = spawn_app().await;
    let user_id = app.register("disable-me@example.com").await;
    let pair = app.login("disable-me@example.com").await;
    let other = app.register("bystander@example.com").await;
    let bystander = app.login("bystander@example.com").await;
    let post = |path: String| app.client.post(format!("{}{path}", app.admin)).bearer_auth(ADMIN_TOKEN).send();
    let login = |password: &str| {
        app.post_json("/v1/auth/login", &serde_json::json!({"email": "disable-me@example.com", "password": password}))
            .send()
    };

    let disabled = post(format!("/admin/users/{user_id}/disable")).await.unwrap();
    assert_eq!(disabled.status(), 204);
    assert_problem(app.me(access(&pair)).await, 401, "session_revoked").await;
    assert_problem(app.refresh(crate::helpers::refresh_of(&pair)).await, 401, "session_revoked").await;
    assert_problem(login(crate::helpers::PASSWORD).await.unwrap(), 403, "account_disabled").await;
    assert_problem(login("not-the-password-at-all").await.unwrap(), 401, "invalid_credentials").await;
    let found = json_of(app.admin_get("/admin/users?email=disable-me%40example.com").send().await.unwrap(), 200).await;
    assert!(found["disabled_at"].is_string(), "{found}");
    json_of(app.me(access(&bystander)).await, 200).await;
    assert_ne!(other, user_id);

    assert_eq!(post(format!("/admin/users/{user_id}/enable")).await.unwrap().status(), 204);
    let again = json_of(login(crate::helpers::PASSWORD).await.unwrap(), 200).await;
    json_of(app.me(access(&again)).await, 200).await;
    let found = json_of(app.admin_get("/admin/users?email=disable-me%40example.com").send().await.unwrap(), 200).await;
    assert!(found["disabled_at"].is_null(), "{found}");

    let unknown = uuid::Uuid::now_v7();
    assert_problem(post(format!("/admin/users/{unknown}/disable")).await.unwrap(), 404, "user_not_found").await;
    assert_problem(post("/admin/users/not-a-uuid/enable".into()).await.unwrap(), 404, "user_not_found").await;
    let anonymous = app.client.post(format!("{}/admin/users/{user_id}/disable", app.admin)).send().await.unwrap();
    assert_problem(anonymous, 401, "unauthorized").await;
}

/// `gantry users disable` and `gantry users enable` do the same through a running instance.
#[tokio::test]
async fn users_disable_and_enable_cli_call_the_running_instance() {
    let app = spawn_app().await;
    let user_id = app.register("cli-disable@example.com").await;
    let pair = app.login("cli-disable@example.com").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, admin) = (dir.path().to_owned(), app.admin.clone());
    let run = |action: &'static str, id: String| {
        let (path, admin) = (path.clone(), admin.clone());
        tokio::task::spawn_blocking(move || {
            gantry(&path).args(["users", action, "--id", &id, "--admin-url", &admin]).output().expect("runs")
        })
    };

    let out = run("disable", user_id.clone()).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_problem(app.me(access(&pair)).await, 401, "session_revoked").await;
    let login = || {
        app.post_json(
            "/v1/auth/login",
            &serde_json::json!({"email": "cli-disable@example.com", "password": crate::helpers::PASSWORD}),
        )
        .send()
    };
    assert_problem(login().await.unwrap(), 403, "account_disabled").await;

    let out = run("enable", user_id).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    json_of(login().await.unwrap(), 200).await;

    let out = run("enable", uuid::Uuid::now_v7().to_string()).await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no account with the id"));
}
