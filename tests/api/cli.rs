//! The `gantry` binary itself: start-up validation, `secrets check`, graceful stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::{ADMIN_TOKEN, JWT, UPLOAD, json_of, output_of, refresh_of};

/// The binary as [`crate::helpers::gantry_cli`] runs it, logging JSON (the tests read events from it).
fn gantry(dir: &std::path::Path) -> Command {
    let mut cmd = crate::helpers::gantry_cli(dir);
    cmd.env("GANTRY_LOG_FORMAT", "json");
    cmd
}

/// A weak value distinctive enough to grep for in the output.
const WEAK: &str = "Tr4ct0r";

/// Start-up with `JWT_SECRET` too short fails, naming the variable and the 32-character rule, logging the
/// stable event, and never printing the value.
#[test]
fn startup_with_short_jwt_secret_fails_naming_the_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, text) = output_of(gantry(dir.path()).env("JWT_SECRET", WEAK).env("UPLOAD_GUEST_TOKEN_SECRET", UPLOAD));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("JWT_SECRET must be at least 32 characters"), "{text}");
    assert!(text.contains("\"event\":\"secret_validation_failed\""), "{text}");
    assert!(!text.contains(WEAK), "the value leaked: {text}");
    assert!(!text.contains(UPLOAD), "another value leaked: {text}");
}

/// Start-up with the upload secret equal to the JWT secret fails naming that rule, without values.
#[test]
fn startup_with_upload_secret_equal_to_jwt_secret_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, text) = output_of(gantry(dir.path()).env("JWT_SECRET", JWT).env("UPLOAD_GUEST_TOKEN_SECRET", JWT));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("UPLOAD_GUEST_TOKEN_SECRET must be different from JWT_SECRET"), "{text}");
    assert!(!text.contains(JWT), "the value leaked: {text}");
}

/// The production profile refuses to start without its backends and says which settings are missing.
#[test]
fn production_without_backends_lists_missing_settings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, text) = output_of(gantry(dir.path()).arg("--profile").arg("production"));
    assert_eq!(code, 1, "{text}");
    for var in ["GANTRY_DATABASE_URL", "GANTRY_REDIS_URL", "GANTRY_AMQP_URL", "GANTRY_S3_ENDPOINT"] {
        assert!(text.contains(var), "{var} not named: {text}");
    }
}

/// `gantry secrets check` validates without starting anything: exit 1 with the problems, exit 0 when
/// valid, and `--json` for evidence.
#[test]
fn secrets_check_exit_codes_and_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, text) = output_of(gantry(dir.path()).args(["secrets", "check"]).env("JWT_SECRET", WEAK));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("JWT_SECRET must be at least 32 characters"), "{text}");
    assert!(!text.contains(WEAK));

    let out = gantry(dir.path())
        .args(["secrets", "check", "--json"])
        .env("JWT_SECRET", JWT)
        .env("UPLOAD_GUEST_TOKEN_SECRET", UPLOAD)
        .env("GANTRY_ADMIN_TOKEN", ADMIN_TOKEN)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(body["valid"], true);
    assert!(!dir.path().join("data").exists(), "check must not create the data folder");
}

/// A secret may come from `NAME_FILE`.
#[test]
fn secrets_check_reads_file_variants() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("jwt");
    std::fs::write(&file, format!("{JWT}\n")).expect("write");
    let (code, text) = output_of(
        gantry(dir.path())
            .args(["secrets", "check"])
            .env("JWT_SECRET_FILE", &file)
            .env("UPLOAD_GUEST_TOKEN_SECRET", UPLOAD)
            .env("GANTRY_ADMIN_TOKEN", ADMIN_TOKEN),
    );
    assert_eq!(code, 0, "{text}");
}

/// `--version` prints the version.
#[test]
fn version_flag_prints_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, text) = output_of(gantry(dir.path()).arg("--version"));
    assert_eq!(code, 0);
    assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
}

/// With nothing configured the binary serves `/healthz`, and SIGTERM stops it cleanly (exit 0).
#[tokio::test]
async fn serves_with_nothing_configured_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = gantry(dir.path()).stderr(Stdio::piped()).stdout(Stdio::null()).spawn().expect("spawn");
    let stderr = child.stderr.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut http = None;
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
            && v["message"] == "listening"
        {
            http = v["http"].as_str().map(str::to_owned);
            break;
        }
    }
    let http = http.expect("the binary logs its listening address");
    let response = reqwest::get(format!("http://{http}/healthz")).await.expect("request");
    assert_eq!(response.status(), 200);

    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait()).await.expect("join").expect("wait");
    assert!(status.success(), "graceful stop exits 0, got {status}");
    assert!(dir.path().join("data/secrets/JWT_SECRET").exists(), "local profile generated its secrets");
}

/// `gantry migrate` prepares the local database, and `gantry users add` creates an account (password from
/// a file) that can then log in through the API.
#[tokio::test]
async fn migrate_and_users_add_create_a_working_account() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, text) = output_of(gantry(dir.path()).arg("migrate"));
    assert_eq!(code, 0, "{text}");
    assert!(dir.path().join("data/gantry.sqlite3").exists());

    let password_file = dir.path().join("password");
    std::fs::write(&password_file, format!("{}\n", crate::helpers::PASSWORD)).expect("write");
    let (code, text) = output_of(
        gantry(dir.path()).args(["users", "add", "--email", "Ops@Example.com", "--password-file"]).arg(&password_file),
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("\"email\":\"ops@example.com\""), "{text}");
    assert!(!text.contains(crate::helpers::PASSWORD), "password echoed: {text}");

    let (code, text) =
        output_of(gantry(dir.path()).args(["users", "add", "--email", "weak@example.com", "--password-file"]).arg({
            let weak = dir.path().join("weak");
            std::fs::write(&weak, "password123").expect("write");
            weak
        }));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("validation"), "{text}");

    let app = crate::helpers::spawn_app_in(&dir.path().join("data"), "").await;
    app.login("ops@example.com").await;
}

/// Runs `gantry ARGS --admin-url <app's admin listener>` with the admin token; asserts it exits 0 and returns
/// what it printed, as JSON.
async fn admin_command(app: &crate::helpers::TestApp, args: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = gantry(dir.path());
    command.args(args).args(["--admin-url", &app.admin]).env("GANTRY_ADMIN_TOKEN", ADMIN_TOKEN);
    let out = tokio::task::spawn_blocking(move || command.output().expect("runs")).await.expect("join");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// `gantry sessions revoke-all` asks a running instance's admin listener and prints the job.
#[tokio::test]
async fn sessions_revoke_all_cli_calls_the_running_instance() {
    let app = crate::helpers::spawn_app().await;
    app.register("cli-revoke@example.com").await;
    let pair = app.login("cli-revoke@example.com").await;
    let body = admin_command(&app, &["sessions", "revoke-all", "--reason", "cli test"]).await;
    assert!(body["job_id"].is_string());
    crate::helpers::assert_problem(app.me(crate::helpers::access(&pair)).await, 401, "session_revoked").await;
}

/// `gantry users revoke-sessions` revokes one user's sessions through a running instance, with the notice's
/// message and who asked as given (issue 25.7); another user keeps theirs.
#[tokio::test]
async fn users_revoke_sessions_cli_sends_the_notice() {
    let app = crate::helpers::spawn_app().await;
    let id = app.register("cli-one@example.com").await;
    app.register("cli-other@example.com").await;
    let (pair, other) = (app.login("cli-one@example.com").await, app.login("cli-other@example.com").await);
    let message = "Your account was signed out by support.";
    let args = ["users", "revoke-sessions", "--id", &id, "--reason", "ticket 77"];
    let body =
        admin_command(&app, &[&args[..], &["--user-message", message, "--requested-by", "ops-bob"]].concat()).await;
    let problem = crate::helpers::assert_problem(app.refresh(refresh_of(&pair)).await, 401, "session_revoked").await;
    assert_eq!(problem["notice"]["message"], message, "{problem}");
    assert_eq!(problem["notice"]["id"], body["job_id"], "{problem}");
    let notices = json_of(app.admin_get("/admin/sessions/revocations").send().await.expect("request"), 200).await;
    let notice = &notices["revocations"][0];
    assert_eq!(
        (notice["scope"].as_str(), notice["requested_by"].as_str()),
        (Some("user"), Some("ops-bob")),
        "{notice}"
    );
    assert_eq!(app.me(crate::helpers::access(&other)).await.status(), 200, "another user keeps their session");
}

/// `gantry smoke` passes every runbook step against a running instance (ephemeral account, `--json`
/// evidence), and fails with exit 1 against an address where nothing answers.
#[tokio::test]
async fn smoke_passes_against_a_running_instance_and_fails_against_nothing() {
    let app = crate::helpers::spawn_app().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (base, admin) = (app.http.clone(), app.admin.clone());
    let path = dir.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        gantry(&path)
            .env("GANTRY_ADMIN_TOKEN", crate::helpers::ADMIN_TOKEN)
            .args(["smoke", "--base-url", &base, "--json", "--admin-url", &admin])
            .output()
            .expect("runs")
    })
    .await
    .expect("join");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(report["ok"], true);
    let names: Vec<&str> =
        report["steps"].as_array().expect("steps").iter().filter_map(|s| s["name"].as_str()).collect();
    for step in
        ["login", "token refresh", "logout", "logged-out token refused", "upload", "download and compare digest"]
    {
        assert!(names.contains(&step), "{step} missing from {names:?}");
    }

    let path = dir.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        gantry(&path)
            .env("GANTRY_ADMIN_TOKEN", crate::helpers::ADMIN_TOKEN)
            .args(["smoke", "--base-url", "http://127.0.0.1:1", "--admin-url", "http://127.0.0.1:1"])
            .output()
            .expect("runs")
    })
    .await
    .expect("join");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL"));
}

/// `gantry templates check FILE` exits 1 naming the template and the field of every problem, and 0 for a
/// good file.
#[test]
fn templates_check_names_template_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"templates": [{"category": "Cranes", "blocks": [{"use": "listing_block"}, {"name": "crane", "fields": [
            {"name": "jib", "type": "boolean", "label": "Jib", "dependsOn": ["luffing"]},
            {"name": "luffing", "type": "boolean", "label": "Luffing", "dependsOn": ["jib"]},
            {"name": "boom", "type": "number", "label": "Boom", "visibleIf": {"method": ["a", "trim"]}},
            {"name": "hook", "type": "number", "label": "Hook", "visibleIf": DEEP},
            {"name": "winch", "type": "number", "label": "Winch", "requiredIf": {"var": "boom.constructor"}}]}]}]}"#
            .replace("DEEP", &format!("{}{{\"var\": \"boom\"}}{}", "{\"!\": ".repeat(40), "}".repeat(40))),
    )
    .expect("write");
    let (code, text) = output_of(gantry(dir.path()).args(["templates", "check"]).arg(&bad));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains(r#"template "Cranes", field "jib": dependsOn cycle: jib → luffing → jib"#), "{text}");
    assert!(text.contains(r#"template "Cranes", field "boom": visibleIf: operator "method""#), "{text}");
    assert!(
        text.contains(
            r#"template "Cranes", field "hook": visibleIf: a condition nests at most 32 levels (at visibleIf/!/!/"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"field "winch": requiredIf: var "boom.constructor" reads "constructor", a JavaScript built-in property, not data (at requiredIf/var)"#), "{text}");

    let good = dir.path().join("good.json");
    std::fs::write(
        &good,
        r#"{"templates": [{"category": "Cranes", "subcategory": "Mobile cranes", "blocks": [{"name": "crane", "fields": [
            {"name": "axles", "type": "integer", "label": "Axles", "validation": {"min": 2, "max": 10}}]}]}]}"#,
    )
    .expect("write");
    let (code, text) = output_of(gantry(dir.path()).args(["templates", "check"]).arg(&good));
    assert_eq!(code, 0, "{text}");
}

/// SIGHUP re-reads the `*_FILE` secrets: a changed `JWT_SECRET` file is staged as `pending` (the old value stays
/// current), logged with `event="secrets_reloaded"`, and never printed.
#[tokio::test]
async fn sighup_stages_changed_secret_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jwt_file = dir.path().join("jwt");
    std::fs::write(&jwt_file, JWT).expect("write");
    let mut child = gantry(dir.path())
        .env("JWT_SECRET_FILE", &jwt_file)
        .env("UPLOAD_GUEST_TOKEN_SECRET", UPLOAD)
        .env("GANTRY_ADMIN_TOKEN", ADMIN_TOKEN)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut admin = None;
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
            && v["message"] == "listening"
        {
            admin = v["admin"].as_str().map(str::to_owned);
            break;
        }
    }
    let admin = admin.expect("the binary logs its admin address");
    const NEW: &str = "Vb7Nq2Lx9Rt4Kw8Mz3Hc6Jp1Df5Gs0Ya";
    std::fs::write(&jwt_file, NEW).expect("write");
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().expect("kill runs").success());
    let mut logged = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
        let reloaded = line.contains("\"event\":\"secrets_reloaded\"");
        logged.push(line);
        if reloaded {
            break;
        }
    }
    let logged = logged.join("\n");
    assert!(logged.contains("secrets_reloaded"), "{logged}");
    assert!(!logged.contains(NEW), "the value leaked: {logged}");
    let secrets: serde_json::Value = reqwest::Client::new()
        .get(format!("http://{admin}/admin/secrets"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let pending = secrets["secrets"]
        .as_array()
        .expect("secrets")
        .iter()
        .find(|s| s["state"] == "pending")
        .expect("a pending version");
    assert_eq!(pending["name"], "JWT_SECRET");
    assert_eq!(pending["fingerprint"], gantry_actors::secrets::Fingerprint::of(NEW).as_str());
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs").success());
    let status = tokio::task::spawn_blocking(move || child.wait()).await.expect("join").expect("wait");
    assert!(status.success(), "{status}");
}

/// `gantry templates check` refuses conditions with the wrong number of arguments, naming the path inside the
/// condition (`visibleIf/and/1/<`), the template and the field.
#[test]
fn templates_check_refuses_wrong_arity_naming_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("arity.json");
    std::fs::write(
        &bad,
        r#"{"templates": [{"category": "Vans", "blocks": [{"name": "probe", "fields": [
            {"name": "a", "type": "boolean", "label": "A"},
            {"name": "eq_one", "type": "boolean", "label": "E", "visibleIf": {"==": [{"var": "a"}]}},
            {"name": "lt_one", "type": "boolean", "label": "L", "visibleIf": {"and": [true, {"<": [1]}]}},
            {"name": "not_two", "type": "boolean", "label": "N", "requiredIf": {"!": [{"var": "a"}, {"var": "a"}]}},
            {"name": "in_one", "type": "boolean", "label": "I", "visibleIf": {"in": ["a"]}}]}]}]}"#,
    )
    .expect("write");
    let (code, text) = output_of(gantry(dir.path()).args(["templates", "check"]).arg(&bad));
    assert_eq!(code, 1, "{text}");
    for (field, path) in [
        ("eq_one", "visibleIf/=="),
        ("lt_one", "visibleIf/and/1/<"),
        ("not_two", "requiredIf/!"),
        ("in_one", "visibleIf/in"),
    ] {
        let line = text
            .lines()
            .find(|l| l.contains(&format!(r#"field "{field}""#)))
            .unwrap_or_else(|| panic!("{field}: {text}"));
        assert!(line.contains("[invalid_arity]") && line.contains(&format!("(at {path})")), "{line}");
    }
}

/// `gantry options hide|audit` call a running instance's admin listener: the hidden brand is no longer listed,
/// the audit names who asked (`--by`), and an unknown id is exit 1 with the problem.
#[tokio::test]
async fn options_cli_moderates_through_the_running_instance() {
    let app = crate::helpers::spawn_app_with("[catalog]\nseed_on_first_start = true").await;
    let brands: serde_json::Value =
        app.get("/v1/options/brand?limit=500").send().await.expect("request").json().await.expect("json");
    let scania =
        brands["items"].as_array().expect("items").iter().find(|b| b["name"] == "Scania").expect("Scania")["id"]
            .as_str()
            .expect("id")
            .to_owned();
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |args: Vec<String>| {
        let path = dir.path().to_owned();
        let admin = app.admin.clone();
        tokio::task::spawn_blocking(move || {
            gantry(&path)
                .args(args)
                .args(["--admin-url", &admin])
                .env("GANTRY_ADMIN_TOKEN", ADMIN_TOKEN)
                .output()
                .expect("runs")
        })
    };
    let args = |line: &str| line.split(' ').map(str::to_owned).collect::<Vec<_>>();

    let hidden = run(args(&format!("options hide --id {scania} --by jane"))).await.expect("join");
    let audit = run(args("options audit --limit 5")).await.expect("join");
    let unknown = run(args(&format!("options unhide --id {}", uuid::Uuid::now_v7()))).await.expect("join");

    assert_eq!(hidden.status.code(), Some(0), "{}", String::from_utf8_lossy(&hidden.stderr));
    let body: serde_json::Value = serde_json::from_slice(&hidden.stdout).expect("JSON");
    assert_eq!(body["option"]["hidden"], true);
    let listed: serde_json::Value =
        app.get("/v1/options/brand?limit=500").send().await.expect("request").json().await.expect("json");
    assert!(!listed["items"].as_array().expect("items").iter().any(|b| b["name"] == "Scania"));
    let audit: serde_json::Value = serde_json::from_slice(&audit.stdout).expect("JSON");
    assert_eq!(
        (audit["items"][0]["actor"].as_str(), audit["items"][0]["action"].as_str()),
        (Some("jane"), Some("hide"))
    );
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("option_not_found"));
}

/// `gantry options create` makes a category through a running instance (issue 25.11; audited with `--by`),
/// and `gantry options set-engine --has-engine false` on it is refused, exit 1 naming `would_break_templates`
/// and the fields, until `--force` (issue 25.8).
#[tokio::test]
async fn options_cli_creates_categories_and_refuses_engine_changes_that_take_fields() {
    let app = crate::helpers::spawn_app().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |args: Vec<String>| {
        let path = dir.path().to_owned();
        let admin = app.admin.clone();
        tokio::task::spawn_blocking(move || {
            gantry(&path)
                .args(args)
                .args(["--admin-url", &admin])
                .env("GANTRY_ADMIN_TOKEN", ADMIN_TOKEN)
                .output()
                .expect("runs")
        })
    };
    let owned = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();

    let created = run(owned(&[
        "options",
        "create",
        "--kind",
        "category",
        "--name",
        "Road sweepers",
        "--has-engine",
        "true",
        "--by",
        "jane",
    ]))
    .await
    .expect("join");
    assert_eq!(created.status.code(), Some(0), "{}", String::from_utf8_lossy(&created.stderr));
    let created: serde_json::Value = serde_json::from_slice(&created.stdout).expect("JSON");
    assert_eq!(
        (created["audit"]["action"].as_str(), created["audit"]["actor"].as_str()),
        (Some("create"), Some("jane"))
    );
    let id = created["option"]["id"].as_str().expect("id").to_owned();

    let refused = run(owned(&["options", "set-engine", "--id", &id, "--has-engine", "false"])).await.expect("join");
    let forced =
        run(owned(&["options", "set-engine", "--id", &id, "--has-engine", "false", "--force"])).await.expect("join");

    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("would_break_templates") && stderr.contains("fuel_type"), "{stderr}");
    assert_eq!(forced.status.code(), Some(0), "{}", String::from_utf8_lossy(&forced.stderr));
    let forced: serde_json::Value = serde_json::from_slice(&forced.stdout).expect("JSON");
    assert_eq!(forced["flagged"], serde_json::json!(["Road sweepers"]), "{forced}");
    assert_eq!(forced["audit"]["detail"]["forced"], true);
}
