//! Secret rotation on the embedded profile, with the secrets in `*_FILE` files that the tests rewrite as an
//! operator would: reload, the rotation job (validate, stage, smoke, promote, invalidate, evidence), the grace
//! window of the previous JWT key, guest tokens across an upload-secret rotation, failures rolled back, the
//! runbook's rollback, and one rotation at a time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use gantry::config::secrets::SecretEnv;
use gantry_actors::secrets::Fingerprint;
use serde_json::{Value, json};

use crate::eventually::{Deadline, eventually};
use crate::helpers::{ADMIN_TOKEN, JWT, TestApp, UPLOAD, access, assert_problem, json_of, spawn_app_with_secrets};

const NEW_JWT: &str = "Vb7Nq2Lx9Rt4Kw8Mz3Hc6Jp1Df5Gs0Ya";
const NEW_UPLOAD: &str = "Xe3Tm8Qa5Wd1Ln7Ry4Ub9Kc2Hg6Fz0Sp";

struct Files {
    _dir: tempfile::TempDir,
    data: PathBuf,
    jwt: PathBuf,
    upload: PathBuf,
}

impl Files {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (jwt, upload) = (dir.path().join("jwt_secret"), dir.path().join("upload_secret"));
        std::fs::write(&jwt, format!("{JWT}\n")).expect("write");
        std::fs::write(&upload, UPLOAD).expect("write");
        Self { data: dir.path().join("data"), _dir: dir, jwt, upload }
    }

    fn env(&self) -> SecretEnv {
        let path = |p: &Path| p.display().to_string();
        SecretEnv::from_pairs([
            ("JWT_SECRET_FILE".to_owned(), path(&self.jwt)),
            ("UPLOAD_GUEST_TOKEN_SECRET_FILE".to_owned(), path(&self.upload)),
            ("GANTRY_ADMIN_TOKEN".to_owned(), ADMIN_TOKEN.to_owned()),
        ])
    }
}

/// An app signing HS256 (these tests rotate `JWT_SECRET`, the key its tokens are signed with).
async fn spawn(files: &Files, toml: &str) -> TestApp {
    const HS256: &str = "access_token_algorithm = \"HS256\"\n";
    let toml = if toml.contains("[sessions]\n") {
        toml.replacen("[sessions]\n", &format!("[sessions]\n{HS256}"), 1)
    } else {
        format!("{toml}\n[sessions]\n{HS256}")
    };
    spawn_app_with_secrets(&files.data, &toml, files.env()).await
}

/// Follows the job until it ends; returns it.
async fn finished(app: &TestApp, job_id: &str) -> Value {
    let job = async || json_of(app.admin_get(&format!("/admin/jobs/{job_id}")).send().await.unwrap(), 200).await;
    let ended = |job: &Value| job["state"] == "completed" || job["state"] == "discarded";
    eventually(&format!("job {job_id} did not finish"), Deadline::ms(15_000, 50), job, ended).await
}

async fn rotate(app: &TestApp, body: &Value) -> (Value, Value) {
    let accepted = json_of(app.admin_post("/admin/secrets/rotate").json(body).send().await.unwrap(), 202).await;
    let id = accepted["job_id"].as_str().expect("job id").to_owned();
    let job = finished(app, &id).await;
    let record = json_of(app.admin_get(&format!("/admin/rotations/{id}")).send().await.unwrap(), 200).await;
    (job, record)
}

async fn secrets_of(app: &TestApp) -> Vec<Value> {
    json_of(app.admin_get("/admin/secrets").send().await.unwrap(), 200).await["secrets"].as_array().unwrap().clone()
}

fn version<'a>(secrets: &'a [Value], name: &str, state: &str) -> Option<&'a Value> {
    secrets.iter().find(|s| s["name"] == name && s["state"] == state)
}

async fn logged_in(app: &TestApp, email: &str) -> String {
    app.register(email).await;
    access(&app.login(email).await).to_owned()
}

/// A full `JWT_SECRET` rotation: every step succeeds in order, old tokens are refused afterwards (the
/// rotation forced everyone to log in again), new logins work, and the evidence has the deployment, the old
/// and new fingerprints, the smoke results and the session notice.
#[tokio::test]
async fn jwt_rotation_runs_every_step_and_records_evidence() {
    let files = Files::new();
    let app = spawn(&files, "").await;
    let old = logged_in(&app, "driver@example.com").await;
    std::fs::write(&files.jwt, NEW_JWT).expect("new secret");

    let (job, record) = rotate(&app, &json!({"deployment_id": "deploy-42", "commit_sha": "a1b2c3d"})).await;
    assert_eq!(job["state"], "completed", "{job}");
    let steps: Vec<&str> =
        job["progress"]["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(steps, ["validate", "stage", "smoke", "promote", "invalidate", "record"]);
    assert!(job["progress"]["steps"].as_array().unwrap().iter().all(|s| s["state"] == "succeeded"));

    assert_eq!(app.me(&old).await.status(), 401, "the old token is refused");
    let new = access(&app.login("driver@example.com").await).to_owned();
    assert_eq!(app.me(&new).await.status(), 200);

    assert_eq!((record["deployment_id"].as_str(), record["commit_sha"].as_str()), (Some("deploy-42"), Some("a1b2c3d")));
    assert_eq!(record["outcome"], "succeeded");
    let changes = record["detail"]["changes"].as_object().unwrap().values().next().unwrap().as_array().unwrap().clone();
    let promoted = changes.iter().find(|c| c["action"] == "promoted").expect("a promotion");
    assert_eq!(promoted["from"], Fingerprint::of(JWT).as_str());
    assert_eq!(promoted["to"], Fingerprint::of(NEW_JWT).as_str());
    assert_eq!(record["detail"]["smoke"]["ok"], true);
    assert!(record["detail"]["notice"]["not_before_ms"].as_i64().is_some(), "{record}");
    assert_eq!(record["detail"]["notice"]["active_sessions"], 1, "the driver's session: {record}");
    let text = record.to_string();
    assert!(!text.contains(NEW_JWT) && !text.contains(JWT), "a value leaked into the evidence");

    let secrets = secrets_of(&app).await;
    assert_eq!(version(&secrets, "JWT_SECRET", "current").unwrap()["fingerprint"], Fingerprint::of(NEW_JWT).as_str());
    assert_eq!(version(&secrets, "JWT_SECRET", "previous").unwrap()["fingerprint"], Fingerprint::of(JWT).as_str());
    let listed = json_of(app.admin_get("/admin/rotations").send().await.unwrap(), 200).await;
    assert_eq!(listed["rotations"][0]["id"], record["id"]);
}

/// A rotation's smoke step does not spend the public registration limit (issue 25.3): with the address's one
/// registration already used, the rotation still passes its smoke step, and its ephemeral account is gone after.
#[tokio::test]
async fn the_smoke_step_spends_no_registration_and_leaves_no_account() {
    let files = Files::new();
    let app = spawn(&files, "[sessions]\nregistrations_per_address = 1\nregistration_window_secs = 3600").await;
    app.register("the-only-one@example.com").await;
    std::fs::write(&files.jwt, NEW_JWT).expect("new secret");

    let (job, record) = rotate(&app, &json!({})).await;
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(record["detail"]["smoke"]["ok"], true, "{record}");
    let email = record["detail"]["smoke"]["runbook"]["email"].as_str().expect("the smoke's email").replace('@', "%40");
    let found = app.admin_get(&format!("/admin/users?email={email}")).send().await.unwrap();
    assert_problem(found, 404, "user_not_found").await;
}

/// Without invalidation, tokens of the previous key work within the grace window and are refused after it.
#[tokio::test]
async fn previous_key_tokens_work_within_the_grace_window_only() {
    let files = Files::new();
    let app = spawn(&files, "[sessions]\nprevious_key_grace_secs = 2").await;
    let old = logged_in(&app, "grace@example.com").await;
    std::fs::write(&files.jwt, NEW_JWT).expect("new secret");
    let (job, _) = rotate(&app, &json!({"invalidate_sessions": false})).await;
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(app.me(&old).await.status(), 200, "within the grace window");
    let grace = crate::prometheus::value_or_zero(
        &app.metrics().await,
        "gantry_secret_grace_verifications_total{secret=\"JWT_SECRET\"}",
    );
    assert!(grace >= 1.0, "grace verification counted");
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(app.me(&old).await.status(), 401, "after the grace window");
}

/// Issue 11.2: after an emergency rotation (`invalidate_sessions=true`), a token an attacker mints with the
/// leaked, rotated-out key — a real user, a fresh made-up `sid`, `iat` now, so no epoch catches it — is refused
/// as soon as the job has succeeded, although the grace window (15 min) has not run out; a rollback with
/// invalidation ends the key it rolled away from the same way.
#[tokio::test]
async fn emergency_rotation_ends_the_leaked_key_at_once() {
    use gantry_actors::secrets::SecretValue;
    use gantry_actors::sessions::AccessClaims;
    use gantry_actors::sessions::tokens::sign_access;
    let files = Files::new();
    let app = spawn(&files, "[sessions]\nprevious_key_grace_secs = 900").await;
    let user_id: uuid::Uuid = app.register("leak@example.com").await.parse().expect("uuid");
    let forge = |secret: &str| {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = AccessClaims {
            sub: user_id,
            sid: uuid::Uuid::now_v7(),
            iat: now,
            exp: now + 900,
            iss: "gantry".into(),
            aud: "gantry-api".into(),
            jti: uuid::Uuid::new_v4(),
        };
        sign_access(&claims, &SecretValue::new(secret))
    };
    assert_eq!(app.me(&forge(JWT)).await.status(), 200, "the leaked key works before the rotation");

    let before = app.login("leak@example.com").await;
    std::fs::write(&files.jwt, NEW_JWT).expect("new secret");
    let message = "Our signing key was replaced; please log in again.";
    let (job, record) = rotate(&app, &json!({"invalidate_sessions": true, "user_message": message})).await;
    assert_eq!(job["state"], "completed", "{job}");
    assert_problem(app.me(&forge(JWT)).await, 401, "token_invalid").await;
    // Issue 11.10: the rotation's notice reaches the users it logged out.
    let body = json!({"refresh_token": before["refresh_token"]});
    let refused = app.post_json("/v1/auth/refresh", &body).send().await.expect("request");
    let problem = assert_problem(refused, 401, "session_revoked").await;
    assert_eq!(problem["notice"]["message"], message, "{problem}");
    assert_eq!(problem["notice"]["id"], record["detail"]["notice"]["id"], "{problem}");
    assert!(record["detail"]["previous_jwt_retired"].is_object(), "{record}");
    let fresh = access(&app.login("leak@example.com").await).to_owned();
    assert_eq!(app.me(&fresh).await.status(), 200, "the new key works");

    // The runbook's rollback with invalidation: the key rolled away from is ended the same way.
    let accepted =
        json_of(app.admin_post("/admin/secrets/rollback").json(&json!({})).send().await.expect("rollback"), 202).await;
    let job = finished(&app, accepted["job_id"].as_str().expect("id")).await;
    assert_eq!(job["state"], "completed", "{job}");
    assert_problem(app.me(&forge(NEW_JWT)).await, 401, "token_invalid").await;
    assert_eq!(app.me(&forge(JWT)).await.status(), 200, "rolled back to the old key");
}

/// An upload-secret rotation: a guest token issued before it keeps working until it expires.
#[tokio::test]
async fn outstanding_guest_tokens_survive_an_upload_secret_rotation() {
    let files = Files::new();
    let app = spawn(&files, "").await;
    let guest =
        json_of(app.client.post(format!("{}/v1/uploads/guest-token", app.http)).send().await.unwrap(), 200).await;
    let token = guest["upload_token"].as_str().expect("token").to_owned();
    std::fs::write(&files.upload, NEW_UPLOAD).expect("new secret");
    let (job, record) = rotate(&app, &json!({})).await;
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(record["detail"]["invalidate_sessions"], false, "only JWT_SECRET forces a re-login by default");
    let png: Vec<u8> = b"\x89PNG\r\n\x1a\n".iter().copied().chain(std::iter::repeat_n(7u8, 512)).collect();
    let upload = app
        .client
        .post(format!("{}/v1/uploads", app.http))
        .header("x-upload-token", &token)
        .header("content-type", "image/png")
        .body(png)
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 201, "the old guest token still uploads");
}

/// A weak new value fails the job at validate and stages nothing; the evidence says why, without the value.
#[tokio::test]
async fn a_weak_secret_is_rejected_at_validate() {
    let files = Files::new();
    let app = spawn(&files, "").await;
    std::fs::write(&files.jwt, "tooshort").expect("weak secret");
    let (job, record) = rotate(&app, &json!({})).await;
    assert_eq!(job["state"], "discarded");
    assert_eq!(record["failed_step"], "validate");
    assert!(record["reason"].as_str().unwrap().contains("JWT_SECRET"), "{record}");
    assert!(!record.to_string().contains("tooshort"));
    assert!(version(&secrets_of(&app).await, "JWT_SECRET", "pending").is_none(), "nothing staged");

    let reload = app.admin_post("/admin/secrets/reload").send().await.unwrap();
    let problem = assert_problem(reload, 422, "secret_validation_failed").await;
    assert!(!problem.to_string().contains("tooshort"));
}

/// A smoke test that fails (the configured smoke account cannot log in) rolls everything back: the key ring
/// is as it was, old tokens still work, and the evidence names the step and the reason.
#[tokio::test]
async fn a_failed_smoke_test_rolls_everything_back() {
    let files = Files::new();
    let app = spawn(&files, "smoke_email = \"nobody@example.com\"\nsmoke_password = \"wrong-password-123\"").await;
    let old = logged_in(&app, "keep@example.com").await;
    std::fs::write(&files.jwt, NEW_JWT).expect("new secret");
    let (job, record) = rotate(&app, &json!({})).await;
    assert_eq!(job["state"], "discarded");
    assert_eq!(record["failed_step"], "smoke", "{record}");
    assert!(record["reason"].as_str().unwrap().contains("login"), "{record}");
    let steps: Vec<&str> =
        job["progress"]["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(steps, ["validate", "stage", "smoke", "restore"]);
    let secrets = secrets_of(&app).await;
    assert_eq!(version(&secrets, "JWT_SECRET", "current").unwrap()["fingerprint"], Fingerprint::of(JWT).as_str());
    assert!(version(&secrets, "JWT_SECRET", "pending").is_none());
    assert_eq!(app.me(&old).await.status(), 200, "nothing changed for users");
}

/// Reload stages what changed in the files (the old value stays current); a second rotation while one runs is
/// 409; the runbook's rollback makes the previous version current again.
#[tokio::test]
async fn reload_conflicts_and_rollback() {
    let files = Files::new();
    let app = spawn(&files, "").await;
    std::fs::write(&files.jwt, NEW_JWT).expect("new secret");
    let staged = json_of(app.admin_post("/admin/secrets/reload").send().await.unwrap(), 200).await;
    assert_eq!(staged["changes"][0]["action"], "staged");
    let secrets = secrets_of(&app).await;
    assert_eq!(version(&secrets, "JWT_SECRET", "current").unwrap()["fingerprint"], Fingerprint::of(JWT).as_str());
    assert_eq!(version(&secrets, "JWT_SECRET", "pending").unwrap()["fingerprint"], Fingerprint::of(NEW_JWT).as_str());

    let first = json_of(app.admin_post("/admin/secrets/rotate").json(&json!({})).send().await.unwrap(), 202).await;
    let second = app.admin_post("/admin/secrets/rotate").json(&json!({})).send().await.unwrap();
    assert_problem(second, 409, "rotation_in_progress").await;
    assert_eq!(finished(&app, first["job_id"].as_str().unwrap()).await["state"], "completed");

    let rollback = json_of(
        app.admin_post("/admin/secrets/rollback").json(&json!({"deployment_id": "deploy-42"})).send().await.unwrap(),
        202,
    )
    .await;
    let id = rollback["job_id"].as_str().unwrap();
    assert_eq!(finished(&app, id).await["state"], "completed");
    let secrets = secrets_of(&app).await;
    assert_eq!(version(&secrets, "JWT_SECRET", "current").unwrap()["fingerprint"], Fingerprint::of(JWT).as_str());
    let record = json_of(app.admin_get(&format!("/admin/rotations/{id}")).send().await.unwrap(), 200).await;
    assert_eq!((record["kind"].as_str(), record["outcome"].as_str()), (Some("rollback"), Some("succeeded")));
}

/// Runs `gantry ARGS` against `app`'s admin listener (the admin token in its environment, nothing else); its
/// exit code and its output (stdout, then stderr).
fn cli_against(app: &TestApp, args: Vec<&'static str>) -> tokio::task::JoinHandle<(i32, String)> {
    let admin = app.admin.clone();
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gantry"))
            .env_clear()
            .env("GANTRY_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("GANTRY_ADMIN_URL", admin)
            .args(args)
            .output()
            .expect("gantry runs");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), text)
    })
}

/// `gantry secrets rotate --user-message M --requested-by B` says what the API body says (issue 25.7): the
/// evidence names B, the invalidation's notice carries M and `rotation:B`, and a user it logged out reads M.
#[tokio::test]
async fn the_cli_rotation_carries_the_user_message_and_who_asked() {
    let files = Files::new();
    let app = spawn(&files, "").await;
    app.register("cli-notice@example.com").await;
    let before = app.login("cli-notice@example.com").await;
    std::fs::write(&files.jwt, NEW_JWT).expect("new secret");
    let message = "We replaced a signing key; please log in again.";
    let (code, text) = cli_against(
        &app,
        vec!["secrets", "rotate", "--user-message", message, "--requested-by", "ops-alice", "--deployment-id", "d-9"],
    )
    .await
    .expect("join");
    assert_eq!(code, 0, "{text}");
    let id = text.split_whitespace().nth(1).expect("job id");
    let record = json_of(app.admin_get(&format!("/admin/rotations/{id}")).send().await.unwrap(), 200).await;
    assert_eq!(record["requested_by"], "ops-alice", "{record}");
    let notice_id = record["detail"]["notice"]["id"].as_str().expect("a notice: JWT_SECRET changed").to_owned();
    let notices = json_of(app.admin_get("/admin/sessions/revocations").send().await.unwrap(), 200).await;
    let notice = notices["revocations"]
        .as_array()
        .expect("revocations")
        .iter()
        .find(|notice| notice["id"] == notice_id.as_str())
        .unwrap_or_else(|| panic!("notice {notice_id} listed: {notices}"));
    assert_eq!(notice["user_message"], message, "{notice}");
    assert_eq!(notice["requested_by"], "rotation:ops-alice", "{notice}");
    let refused = app.refresh(crate::helpers::refresh_of(&before)).await;
    let problem = assert_problem(refused, 401, "session_revoked").await;
    assert_eq!(problem["notice"]["message"], message, "{problem}");
}

/// `gantry secrets rotate` starts the job on a running instance, prints each step as it finishes and exits 0;
/// `gantry rotations show ID` prints the evidence; a failing rotation exits 1 naming the step.
#[tokio::test]
async fn the_cli_follows_a_rotation_and_shows_the_evidence() {
    let files = Files::new();
    let app = spawn(&files, "").await;
    let cli = |args: Vec<&'static str>| cli_against(&app, args);
    std::fs::write(&files.jwt, NEW_JWT).expect("new secret");
    let (code, text) =
        cli(vec!["secrets", "rotate", "--deployment-id", "deploy-7", "--commit-sha", "cafe123"]).await.unwrap();
    assert_eq!(code, 0, "{text}");
    for step in ["validate", "stage", "smoke", "promote", "invalidate"] {
        assert!(text.contains(&format!("✓ {step}")), "{step} not shown: {text}");
    }
    assert!(!text.contains(NEW_JWT));
    let id = text.split_whitespace().nth(1).expect("job id").to_owned();
    let id: &'static str = Box::leak(id.into_boxed_str());
    let (code, shown) = cli(vec!["rotations", "show", id]).await.unwrap();
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("deploy-7") && shown.contains("succeeded"), "{shown}");
    assert!(
        shown.contains(&format!("{} → {}", Fingerprint::of(JWT).as_str(), Fingerprint::of(NEW_JWT).as_str())),
        "{shown}"
    );

    let (code, text) = cli(vec!["secrets", "rotate"]).await.unwrap();
    assert_eq!(code, 1, "nothing changed in the files: {text}");
    assert!(text.contains("validate failed: nothing to rotate"), "{text}");
}
