//! Issue 20, item 7 (optional part): the k-anonymity range API of Pwned Passwords, against a real local HTTP
//! server that speaks the service's format (`GET /range/{5 hex}` → `SUFFIX:COUNT` lines, padded with count-0
//! lines): a password the service lists is refused, only the first five hex digits of its SHA-1 leave the
//! server, and a service that is down or silent leaves the bundled list to decide (counted).

use std::sync::{Arc, Mutex};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::{PASSWORD, TestApp, access, assert_problem, json_of, spawn_app_with};
use crate::prometheus::value_or_zero;

/// Not in the bundled list (so only the service can refuse it); SHA-1 6637F FBCCECD9775D5876A04745C7C2C92AF0358.
const BREACHED: &str = "Lantern orchard 1987";
const BREACHED_PREFIX: &str = "6637F";
const BREACHED_SUFFIX: &str = "FBCCECD9775D5876A04745C7C2C92AF0358";
/// Not listed anywhere.
const CLEAN: &str = "Quiet-Harbor-Sunrise-42";

/// How the range server answers.
#[derive(Clone, Copy)]
enum Mode {
    /// The service's format.
    Serve,
    /// Accepts and never answers.
    Silent,
}

/// A range server on a free port: the paths it was asked for, and its base URL.
async fn range_server(mode: Mode) -> (Arc<Mutex<Vec<String>>>, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let asked = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&asked);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request).to_string();
                let path = text.split_whitespace().nth(1).unwrap_or_default().to_owned();
                seen.lock().unwrap().push(path.clone());
                if let Mode::Silent = mode {
                    tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                    return;
                }
                // Padding lines (count 0) first, as the service sends them, then the real entries.
                let mut body = String::from("0018A45C4D1DEF81644B54AB7F969B88D65:0\r\n");
                if path == format!("/range/{BREACHED_PREFIX}") {
                    body.push_str("00D4F6E8FA6EECAD2A3AA415EEC418D38EC:2\r\n");
                    body.push_str(&format!("{BREACHED_SUFFIX}:42\r\n"));
                }
                body.push_str("FFF0C6B7A2E0E0A7C1D7E1F0B9F16A1D3A2:0");
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (asked, base)
}

fn register(app: &TestApp, email: &str, password: &str) -> reqwest::RequestBuilder {
    app.post_json("/v1/auth/register", &json!({"email": email, "password": password}))
}

/// A password the range service lists is refused at registration and at a password change (422
/// `breached_password`), and the service only ever saw five hex digits; a clean one is accepted.
#[tokio::test]
async fn passwords_the_range_service_lists_are_refused() {
    let (asked, base) = range_server(Mode::Serve).await;
    let app = spawn_app_with(&format!("[sessions]\nbreached_range_url = \"{base}\"")).await;

    let response = register(&app, "breached@example.com", BREACHED).send().await.expect("request");
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "password", "{problem}");
    assert_eq!(problem["errors"][0]["code"], "breached_password", "{problem}");
    json_of(register(&app, "clean@example.com", CLEAN).send().await.expect("request"), 201).await;

    app.register("changer@example.com").await;
    let token = access(&app.login("changer@example.com").await).to_owned();
    let change = json!({"current_password": PASSWORD, "new_password": BREACHED});
    let response = app.post_json("/v1/auth/password", &change).bearer_auth(&token).send().await.expect("request");
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["code"], "breached_password", "{problem}");

    let asked = asked.lock().unwrap().clone();
    assert!(asked.contains(&format!("/range/{BREACHED_PREFIX}")), "{asked:?}");
    for path in &asked {
        let prefix = path.strip_prefix("/range/").expect("a range path");
        assert!(prefix.len() == 5 && prefix.chars().all(|c| c.is_ascii_hexdigit()), "only a prefix leaves: {path}");
    }
    let checked = value_or_zero(&app.metrics().await, "gantry_breached_range_checks_total{result=\"breached\"}");
    assert!(checked >= 2.0, "{checked}");
}

/// A range service that never answers (past `breached_range_timeout_ms`) or is not there leaves the bundled
/// list to decide: the password it would have refused is accepted, the bundled list still refuses its own,
/// and each fallback is counted.
#[tokio::test]
async fn a_silent_or_absent_range_service_falls_back_to_the_bundled_list() {
    let (_asked, silent) = range_server(Mode::Silent).await;
    let app =
        spawn_app_with(&format!("[sessions]\nbreached_range_url = \"{silent}\"\nbreached_range_timeout_ms = 300"))
            .await;
    // The recorder is the process's: count this test's fallbacks as differences (only this test has any).
    let fallbacks = async |app: &TestApp| value_or_zero(&app.metrics().await, "gantry_breached_range_fallbacks_total");
    let before = fallbacks(&app).await;
    json_of(register(&app, "silent@example.com", BREACHED).send().await.expect("request"), 201).await;
    let response = register(&app, "common@example.com", "Summer2024!").send().await.expect("request");
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["code"], "common_password", "{problem}");
    assert_eq!(fallbacks(&app).await - before, 1.0);

    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let gone = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let app = spawn_app_with(&format!("[sessions]\nbreached_range_url = \"{gone}\"")).await;
    json_of(register(&app, "absent@example.com", BREACHED).send().await.expect("request"), 201).await;
    assert_eq!(fallbacks(&app).await - before, 2.0);
}
