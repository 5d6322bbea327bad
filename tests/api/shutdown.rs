use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{ADMIN_TOKEN, spawn_app};

/// On shutdown, a request already in flight still gets its answer, new connections are refused, and the
/// app stops cleanly.
#[tokio::test]
async fn shutdown_drains_in_flight_requests() {
    let app = spawn_app().await;
    let addr = app.admin.trim_start_matches("http://").to_owned();
    let http_addr = app.http.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let head = format!(
        "POST /admin/secrets/validate HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {ADMIN_TOKEN}\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{{"
    );
    slow.write_all(head.as_bytes()).await.expect("write");
    tokio::time::sleep(Duration::from_millis(100)).await;

    let stopping = tokio::spawn(app.stop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(tokio::net::TcpStream::connect(&http_addr).await.is_err(), "new connections are refused while draining");

    slow.write_all(b"}").await.expect("finish body");
    let mut response = String::new();
    slow.read_to_string(&mut response).await.expect("read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let result = tokio::time::timeout(Duration::from_secs(10), stopping).await.expect("stops in time").expect("join");
    assert!(result.is_ok(), "clean stop: {result:?}");
}
