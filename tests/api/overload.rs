use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::eventually::{Deadline, eventually, poll};
use crate::helpers::{ADMIN_TOKEN, assert_problem, spawn_app_with};

/// Beyond `max_in_flight`, a listener sheds requests with 503 `overloaded` and `Retry-After`, while
/// liveness and the other listener still answer; once the slow request finishes, requests are served again.
#[tokio::test]
async fn overload_is_shed_with_503_and_retry_after() {
    let app = spawn_app_with("[http]\nmax_in_flight = 1").await;
    // Occupy the only slot: a request whose body arrives slowly.
    let addr = app.admin.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let head = format!(
        "POST /admin/secrets/validate HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {ADMIN_TOKEN}\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{{"
    );
    slow.write_all(head.as_bytes()).await.expect("write");
    // Wait until the slow request holds the slot.
    let readyz = async || app.client.get(format!("{}/readyz", app.admin)).send().await.expect("request");
    let response = eventually("a request beyond the limit is shed", Deadline::ms(1_000, 10), readyz, |response| {
        response.status() == 503
    })
    .await;
    assert_eq!(response.headers()["retry-after"], "1");
    assert_problem(response, 503, "overloaded").await;
    assert_eq!(app.get("/healthz").send().await.expect("request").status(), 200, "liveness is never shed");
    assert_eq!(app.get("/readyz").send().await.expect("request").status(), 200, "each listener has its own limit");

    slow.write_all(b"}").await.expect("finish body");
    let served = poll(Deadline::ms(1_000, 10), async || readyz().await.status(), |status| *status == 200).await.is_ok();
    assert!(served, "requests are served again after the slow one finished");
}

/// A login storm (everybody logging in at once after a revoke-all, clients that give up after 1 s) is met with
/// admission, not a queue: requests that cannot start hashing in time get 503 `overloaded` + `Retry-After` at
/// once, so no password is verified for a client that has already given up, and the refusals write one log
/// line, not one per request. Run against the real binary: its own metrics and its own log.
#[tokio::test]
async fn a_login_storm_spends_no_hashing_on_clients_that_gave_up() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("gantry.log");
    let process = crate::helpers::spawn_process(dir.path(), |command| {
        command
            .env("GANTRY_LOG", "info")
            // One hashing slot, so the storm is far above capacity; the per-client limits are lifted because every
            // client of this test shares 127.0.0.1 (the storm stands for many users at many addresses).
            .env("GANTRY_SESSIONS__MAX_CONCURRENT_HASHES", "1")
            .env("GANTRY_SESSIONS__MAX_HASH_WAIT_MS", "200")
            .env("GANTRY_SESSIONS__LOGIN_MAX_FAILURES_PER_ACCOUNT_ADDRESS", "100000")
            .env("GANTRY_SESSIONS__LOGIN_MAX_FAILURES_PER_ACCOUNT", "100000")
            .env("GANTRY_SESSIONS__LOGIN_MAX_FAILURES_PER_ADDRESS", "100000")
            .env("GANTRY_HTTP__MAX_CONNECTIONS_PER_ADDRESS", "0")
            .env("GANTRY_HTTP__MAX_IN_FLIGHT_PER_ADDRESS", "0")
            // Refusals are paced (sent after this long); short here, so every one arrives within the client's 1 s.
            .env("GANTRY_HTTP__OVERLOAD_DELAY_MS", "100")
            .stderr(std::fs::File::create(&log_path).unwrap());
    })
    .await;
    let http = process.http.clone();
    let metrics_url = format!("{}/metrics", process.admin);
    let client = reqwest::Client::new();
    let credentials = serde_json::json!({"email": "storm@example.com", "password": "harvest-tractor-blue-42"});
    let registered = client.post(format!("{http}/v1/auth/register")).json(&credentials).send().await.unwrap();
    assert_eq!(registered.status(), 201);
    let verifications = || async {
        let page = client.get(&metrics_url).send().await.unwrap().text().await.unwrap();
        crate::prometheus::sum(&page, "gantry_auth_password_verifications_total")
    };
    let before = verifications().await;

    // 300 logins at once, each from a client that gives up after 1 s.
    let storm = (0..300).map(|_| {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(1)).build().unwrap();
        let url = format!("{http}/v1/auth/login");
        let credentials = credentials.clone();
        async move {
            match client.post(url).json(&credentials).send().await {
                Ok(r) if r.status() == 200 => "ok",
                Ok(r) if r.status() == 503 => {
                    assert!(r.headers().contains_key("retry-after"), "a refusal says when to retry");
                    let body: serde_json::Value = r.json().await.unwrap();
                    assert_eq!(body["code"], "overloaded");
                    "refused"
                }
                Ok(r) => panic!("unexpected status {}", r.status()),
                Err(e) if e.is_timeout() => "gave_up",
                Err(e) => panic!("request failed: {e}"),
            }
        }
    });
    let outcomes = futures::future::join_all(storm).await;
    let count = |what: &str| outcomes.iter().filter(|o| **o == what).count();
    let (ok, refused, gave_up) = (count("ok"), count("refused"), count("gave_up"));
    // Let whatever the server still has queued run out (a queue would keep verifying for clients long gone).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let spent = verifications().await - before;
    drop(process);

    assert!(ok >= 1, "logins that were admitted succeed (ok {ok}, refused {refused}, gave up {gave_up})");
    assert!(refused >= 100, "most of the storm is refused at once (ok {ok}, refused {refused}, gave up {gave_up})");
    // Every verification served a client that got its answer; one of slack for a reply racing its client's timer.
    assert!(
        spent <= (ok + 1) as f64,
        "{spent} verifications for {ok} answered logins (refused {refused}, gave up {gave_up}): work for clients that had given up"
    );
    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines = log.lines().filter(|l| l.contains("service unavailable")).count();
    assert!(lines <= 2, "{lines} log lines for {refused} refusals: the 503 log is one line per code per interval");
}
