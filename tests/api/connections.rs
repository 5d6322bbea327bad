//! Connection-level attacks on the public listener: connections that send nothing, only the HTTP/2 preface, or
//! stay open idle after a request.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::spawn_app_with;

/// Reads until the server closes the connection (EOF or reset) or `within` passes; true when it closed.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// The attack: thousands of connections from one address that send nothing filled the listener's connection
/// limit and locked everyone else out. Now one address holds at most `http.max_connections_per_address`, and a
/// client at another address still gets `/healthz` within a second.
#[tokio::test]
async fn idle_connections_from_one_address_do_not_lock_out_others() {
    let app = spawn_app_with("[http]\nmax_connections = 64\nmax_connections_per_address = 16").await;
    let addr = app.http.trim_start_matches("http://").to_owned();
    let mut hoard = Vec::new();
    for i in 0..200 {
        let mut stream = TcpStream::connect(&addr).await.expect("connect");
        if i % 2 == 0 {
            stream.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.expect("preface");
        }
        hoard.push(stream);
    }
    let elsewhere =
        reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 0, 2])).build().expect("client");
    let answer = tokio::time::timeout(Duration::from_secs(1), elsewhere.get(format!("{}/healthz", app.http)).send())
        .await
        .expect("/healthz answers within a second")
        .expect("request");
    assert_eq!(answer.status(), 200);
    let metrics = app.metrics().await;
    let refused = crate::prometheus::value_or_zero(
        &metrics,
        "gantry_http_connections_refused_per_address_total{listener=\"public\"}",
    );
    assert!(refused >= 1.0, "connections over the address's share are counted: {metrics}");
}

/// A connection that sends nothing, or only the HTTP/2 preface, is closed once `http.header_read_timeout_secs`
/// has passed since it was accepted (protocol detection included).
#[tokio::test]
async fn silent_and_preface_only_connections_are_closed_at_the_head_deadline() {
    let app = spawn_app_with("[http]\nheader_read_timeout_secs = 1").await;
    let addr = app.http.trim_start_matches("http://").to_owned();
    let mut silent = TcpStream::connect(&addr).await.expect("connect");
    let mut preface = TcpStream::connect(&addr).await.expect("connect");
    preface.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.expect("preface");
    assert!(closed_within(&mut silent, Duration::from_secs(5)).await, "a silent connection is closed");
    assert!(closed_within(&mut preface, Duration::from_secs(5)).await, "a preface-only connection is closed");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("gantry_http_connections_closed_total{listener=\"public\",reason=\"head_timeout\"} 2"),
        "{metrics}"
    );
}

/// A keep-alive connection with no request in progress is closed after `http.keep_alive_idle_secs`.
#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let app = spawn_app_with("[http]\nkeep_alive_idle_secs = 1").await;
    let addr = app.http.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).await.expect("connect");
    stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await.expect("request");
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.expect("response");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert!(closed_within(&mut stream, Duration::from_secs(5)).await, "the idle connection is closed");
}
