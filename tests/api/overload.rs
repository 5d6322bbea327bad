use std::time::Duration;

use tokio::io::AsyncWriteExt;

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
    let mut shed = None;
    for _ in 0..100 {
        let response = app.client.get(format!("{}/readyz", app.admin)).send().await.expect("request");
        if response.status() == 503 {
            shed = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let response = shed.expect("a request beyond the limit is shed");
    assert_eq!(response.headers()["retry-after"], "1");
    assert_problem(response, 503, "overloaded").await;
    assert_eq!(app.get("/healthz").send().await.expect("request").status(), 200, "liveness is never shed");
    assert_eq!(app.get("/readyz").send().await.expect("request").status(), 200, "each listener has its own limit");

    slow.write_all(b"}").await.expect("finish body");
    let mut served = false;
    for _ in 0..100 {
        if app.client.get(format!("{}/readyz", app.admin)).send().await.expect("request").status() == 200 {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(served, "requests are served again after the slow one finished");
}
