//! Every route's declared access, proven against a running app: the rows come from the router's own table
//! (`gantry::gateway::router::table()`, what the matchers are built from), so a route added later is checked
//! without anyone listing it here.

use gantry::gateway::router::{Access, Listener, RouteSpec, table};
use reqwest::Method;

use crate::helpers::{JWT, TestApp, spawn_app};

/// What was wrong with one answer, or nothing.
async fn expect_problem(response: reqwest::Response, status: u16, code: &str, challenge: bool) -> Option<String> {
    let got_status = response.status().as_u16();
    let bearer = response.headers().get("www-authenticate").is_some_and(|v| v == "Bearer");
    let is_problem = response.headers().get("content-type").is_some_and(|v| v == "application/problem+json");
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let ok = got_status == status && body["code"] == code && body["status"] == status && is_problem;
    let challenge_ok = !challenge || bearer;
    (!ok || !challenge_ok).then(|| {
        format!("want {status} {code}{}, got {got_status} {body}", if challenge { " + Bearer challenge" } else { "" })
    })
}

/// A request for `spec`'s sample path on its listener, with no credential.
fn request(app: &TestApp, spec: &RouteSpec) -> reqwest::RequestBuilder {
    let base = match spec.listener {
        Listener::Public => &app.http,
        Listener::Admin => &app.admin,
    };
    let method = Method::from_bytes(spec.method.as_str().as_bytes()).expect("a known method");
    app.client.request(method, format!("{base}{}", spec.sample_path()))
}

/// Every admin route refuses a missing or wrong token with 401 `unauthorized` and a Bearer challenge; every
/// route for users (and for users or guests) refuses a missing credential with 401 `unauthorized` and a
/// forged one with 401 `token_invalid`; the job look-up refuses a forged credential but answers a missing one
/// as a job it cannot see (404); every public route answers without a credential (no 401, and no 500). Every
/// path under `/admin/` is declared an admin route.
#[tokio::test]
async fn every_route_enforces_its_declared_access() {
    let app = spawn_app().await;
    let mut problems = Vec::new();
    let mut checked = std::collections::BTreeMap::<&str, usize>::new();
    for spec in table() {
        let name = format!("{} {} ({:?}, {} listener)", spec.method, spec.template, spec.route, spec.listener.as_str());
        let send = |builder: reqwest::RequestBuilder| async move { builder.send().await.expect("request") };
        let mut verdicts = Vec::new();
        // What makes a route an admin route is its declaration; a path under /admin/ declared otherwise is a bug.
        if spec.template.starts_with("/admin/") && spec.route.access() != Access::Admin {
            verdicts.push(("its declaration", Some(format!("declared {:?}, not Admin", spec.route.access()))));
        }
        match spec.route.access() {
            Access::Admin => {
                *checked.entry("admin").or_default() += 1;
                let missing = send(request(&app, spec)).await;
                verdicts.push(("no token", expect_problem(missing, 401, "unauthorized", true).await));
                // A well-formed token that is not the admin token (the JWT secret's value).
                let wrong = send(request(&app, spec).bearer_auth(JWT)).await;
                verdicts.push(("a wrong token", expect_problem(wrong, 401, "unauthorized", true).await));
            }
            Access::User | Access::Guest => {
                *checked.entry("user").or_default() += 1;
                let missing = send(request(&app, spec)).await;
                verdicts.push(("no token", expect_problem(missing, 401, "unauthorized", true).await));
                let forged = send(request(&app, spec).bearer_auth("not.a.jwt")).await;
                verdicts.push(("a forged token", expect_problem(forged, 401, "token_invalid", true).await));
            }
            Access::OptionalCaller => {
                *checked.entry("optional").or_default() += 1;
                let forged = send(request(&app, spec).bearer_auth("not.a.jwt")).await;
                verdicts.push(("a forged token", expect_problem(forged, 401, "token_invalid", true).await));
                let missing = send(request(&app, spec)).await;
                verdicts.push(("no token", expect_problem(missing, 404, "job_not_found", false).await));
            }
            Access::Public => {
                *checked.entry("public").or_default() += 1;
                let status = send(request(&app, spec)).await.status().as_u16();
                if status == 401 || status >= 500 && status != 503 {
                    verdicts.push(("no token", Some(format!("want an answer without a credential, got {status}"))));
                }
            }
        }
        for (case, verdict) in verdicts {
            if let Some(wrong) = verdict {
                problems.push(format!("{name} with {case}: {wrong}"));
            }
        }
    }
    assert!(problems.is_empty(), "{} routes break their access:\n{}", problems.len(), problems.join("\n"));
    // The table is not empty of any kind (a wrongly filtered table would prove nothing).
    for kind in ["admin", "user", "optional", "public"] {
        assert!(checked.get(kind).is_some_and(|n| *n > 0), "no {kind} route checked: {checked:?}");
    }
}
