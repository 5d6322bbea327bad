//! The operators' console (issue 21) and the fleet route it lands on: the page and its assets are served on the
//! admin listener only, with a strict CSP, `nosniff` and no referrer, at every deep link; `GET /admin/fleet`
//! lists the live instances with what their heartbeats report and says whether they agree on their keys.

use std::collections::BTreeMap;

use gantry_actors::ports::rotations::{InstanceReport, ReportedSecret};
use serde_json::Value;

use crate::eventually::{Deadline, eventually};
use crate::helpers::{json_of, spawn_app};

const PAGES: [&str; 7] = [
    "/console/",
    "/console/fleet",
    "/console/rotation",
    "/console/sessions",
    "/console/jobs",
    "/console/catalog",
    "/console/templates",
];

/// The console's headers on one response.
fn assert_console_headers(response: &reqwest::Response, what: &str) {
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let csp = header("content-security-policy");
    for directive in ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"] {
        assert!(csp.contains(directive), "{what}: CSP {csp:?} lacks {directive}");
    }
    assert!(!csp.contains("unsafe"), "{what}: no inline or eval allowance: {csp}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header("referrer-policy"), "no-referrer", "{what}");
}

/// Every deep link answers the same page on the admin listener, with the CSP, nosniff and no-referrer headers;
/// the page holds no inline script or style and labels its token field; `/console` moves to `/console/`; an
/// unknown page is 404; none of it exists on the public listener.
#[tokio::test]
async fn console_is_served_on_the_admin_listener_only_with_strict_headers() {
    let app = spawn_app().await;
    let mut first: Option<String> = None;
    for path in PAGES {
        let response = app.client.get(format!("{}{path}", app.admin)).send().await.expect("request");
        assert_eq!(response.status(), 200, "{path}");
        assert_console_headers(&response, path);
        assert!(response.headers()["content-type"].to_str().expect("ascii").starts_with("text/html"));
        let body = response.text().await.expect("body");
        assert!(body.contains(r#"<label for="token">Admin token</label>"#), "{path}: the token field is labelled");
        assert!(!body.contains("<script>") && !body.contains(" style=") && !body.contains("<style"), "nothing inline");
        assert_eq!(first.get_or_insert_with(|| body.clone()), &body, "{path} answers the same page");

        let public = app.client.get(format!("{}{path}", app.http)).send().await.expect("request");
        assert_eq!(public.status(), 404, "{path} on the public listener");
    }
    let redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(format!("{}/console", app.admin))
        .send()
        .await
        .expect("request");
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/console/");
    for missing in ["/console/nope", "/console/assets/nope.js", "/console/assets/../index.html"] {
        let response = app.client.get(format!("{}{missing}", app.admin)).send().await.expect("request");
        assert_eq!(response.status(), 404, "{missing}");
    }
}

/// Every script the page loads, and every module those import, is served from the binary with a JavaScript
/// type and the console's headers (no CDN, nothing fetched elsewhere), and none is on the public listener.
#[tokio::test]
async fn every_console_asset_is_served_from_the_binary() {
    let app = spawn_app().await;
    let index =
        app.client.get(format!("{}/console/", app.admin)).send().await.expect("request").text().await.expect("body");
    let mut queue: Vec<String> = ["/console/assets/app.js", "/console/assets/console.css"].map(str::to_owned).into();
    assert!(
        index.contains(r#"src="/console/assets/app.js""#) && index.contains(r#"href="/console/assets/console.css""#)
    );
    assert!(!index.contains("http://") && !index.contains("https://"), "no external address in the page");
    let mut seen = std::collections::BTreeSet::new();
    while let Some(path) = queue.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let response = app.client.get(format!("{}{path}", app.admin)).send().await.expect("request");
        assert_eq!(response.status(), 200, "{path}");
        assert_console_headers(&response, &path);
        let content_type = response.headers()["content-type"].to_str().expect("ascii").to_owned();
        let body = response.text().await.expect("body");
        if path.ends_with(".js") {
            assert!(content_type.starts_with("text/javascript"), "{path}: {content_type}");
            assert!(!body.contains("innerHTML") && !body.contains("insertAdjacentHTML"), "{path}: text only");
            for import in body.split("from './").skip(1) {
                let file = import.split('\'').next().expect("a name");
                queue.push(format!("/console/assets/{file}"));
            }
        } else {
            assert!(content_type.starts_with("text/css"), "{path}: {content_type}");
        }
        let public = app.client.get(format!("{}{path}", app.http)).send().await.expect("request");
        assert_eq!(public.status(), 404, "{path} on the public listener");
    }
    assert!(seen.len() >= 12, "the pages' modules were followed: {seen:?}");
}

/// `GET /admin/fleet` lists this instance once its heartbeat is written: its version, start, readiness per
/// component and the fingerprints `GET /admin/secrets` shows; alone, the fleet agrees.
#[tokio::test]
async fn fleet_lists_this_instance_with_what_it_reports() {
    let app = spawn_app().await;
    let fleet = eventually(
        "this instance never appeared in the fleet",
        Deadline::ms(10_000, 50),
        async || json_of(app.admin_get("/admin/fleet").send().await.expect("request"), 200).await,
        |fleet: &Value| fleet["instances"].as_array().is_some_and(|i| !i.is_empty()),
    )
    .await;
    let secrets = json_of(app.admin_get("/admin/secrets").send().await.expect("request"), 200).await;

    assert_eq!(fleet["instance_id"], app.state.instance_id.to_string());
    assert_eq!(fleet["live_within_secs"], app.state.settings.rotation.live_within_secs);
    assert_eq!(fleet["agrees"], true, "{fleet}");
    assert_eq!(fleet["disagreements"], serde_json::json!([]));
    let instances = fleet["instances"].as_array().expect("instances");
    assert_eq!(instances.len(), 1, "{fleet}");
    let me = &instances[0];
    assert_eq!(me["id"], app.state.instance_id.to_string());
    assert_eq!(me["this_instance"], true);
    assert_eq!(me["version"], env!("CARGO_PKG_VERSION"));
    assert!(me["started_at"].is_string() && me["last_heartbeat"].is_string(), "{me}");
    assert!(me["heartbeat_age_ms"].as_i64().is_some_and(|ms| ms >= 0), "{me}");
    assert_eq!(me["status"], "ready", "{me}");
    assert_eq!(me["components"]["database"], "up");
    assert_eq!(me["components"]["secret_store"], "up");
    let fingerprints = |list: &Value| -> BTreeMap<String, String> {
        list.as_array()
            .expect("a list")
            .iter()
            .map(|s| (format!("{} {}", s["name"], s["state"]), s["fingerprint"].as_str().expect("fp").to_owned()))
            .collect()
    };
    assert_eq!(fingerprints(&me["secrets"]), fingerprints(&secrets["secrets"]), "the fingerprints it holds");
    assert!(!fleet.to_string().contains(crate::helpers::JWT), "never a secret value");
}

/// An instance whose heartbeat reports another current `JWT_SECRET` makes the fleet disagree, and the
/// disagreement names the secret, the state and each instance's fingerprint.
#[tokio::test]
async fn fleet_marks_an_instance_that_holds_other_keys() {
    let app = spawn_app().await;
    let other = uuid::Uuid::now_v7();
    let report = InstanceReport {
        version: "0.0.9".into(),
        started_at: time::OffsetDateTime::now_utc(),
        status: "degraded".into(),
        components: [("bus".to_owned(), "down".to_owned())].into(),
        secrets: vec![ReportedSecret {
            name: "JWT_SECRET".into(),
            state: "current".into(),
            version: 2,
            fingerprint: "0123456789ab".into(),
        }],
    };
    app.backends.fleet.heartbeat(other, &report).await.expect("the other instance beats");

    let fleet = eventually(
        "both instances never listed",
        Deadline::ms(10_000, 50),
        async || json_of(app.admin_get("/admin/fleet").send().await.expect("request"), 200).await,
        |fleet: &Value| fleet["instances"].as_array().is_some_and(|i| i.len() == 2),
    )
    .await;
    assert_eq!(fleet["agrees"], false, "{fleet}");
    let jwt = fleet["disagreements"]
        .as_array()
        .expect("disagreements")
        .iter()
        .find(|d| d["name"] == "JWT_SECRET" && d["state"] == "current")
        .unwrap_or_else(|| panic!("JWT_SECRET current is not named: {fleet}"));
    assert_eq!(jwt["fingerprints"][other.to_string()], "0123456789ab");
    assert!(jwt["fingerprints"][app.state.instance_id.to_string()].is_string(), "{jwt}");
    let listed = fleet["instances"].as_array().expect("instances").iter().find(|i| i["id"] == other.to_string());
    let listed = listed.expect("the other instance");
    assert_eq!((listed["version"].as_str(), listed["status"].as_str()), (Some("0.0.9"), Some("degraded")));
    assert_eq!(listed["this_instance"], false);
    assert_eq!(listed["components"]["bus"], "down");
}
