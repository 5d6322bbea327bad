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
/// has passed since it was accepted (protocol detection included). Slowloris on a kept-alive connection (after a
/// first request, the next head sent one byte at a time) is closed once as long has passed since the head's first
/// byte, long before the idle deadline. All three count as `head_timeout` (one test: the count is process-wide).
#[tokio::test]
async fn silent_preface_only_and_slow_head_connections_are_closed_at_the_head_deadline() {
    let app = spawn_app_with("[http]\nheader_read_timeout_secs = 1\nkeep_alive_idle_secs = 60").await;
    let addr = app.http.trim_start_matches("http://").to_owned();
    let slow = tokio::spawn(slow_later_head(addr.clone()));
    let mut silent = TcpStream::connect(&addr).await.expect("connect");
    let mut preface = TcpStream::connect(&addr).await.expect("connect");
    preface.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.expect("preface");
    assert!(closed_within(&mut silent, Duration::from_secs(5)).await, "a silent connection is closed");
    assert!(closed_within(&mut preface, Duration::from_secs(5)).await, "a preface-only connection is closed");
    let took = slow.await.expect("slow client").expect("the slow head's connection is closed");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "closed at the head deadline: {took:?}"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("gantry_http_connections_closed_total{listener=\"public\",reason=\"head_timeout\"} 3"),
        "{metrics}"
    );
}

/// Sends a request on a new connection to `addr`, then the next head one byte every 150 ms; how long after that
/// head's first byte the server closed the connection (`None`: still open after 5 s).
async fn slow_later_head(addr: String) -> Option<Duration> {
    let mut stream = TcpStream::connect(&addr).await.expect("connect");
    stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await.expect("request");
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.expect("response");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let started = tokio::time::Instant::now();
    let head =
        b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    for byte in head {
        if stream.write_all(&[*byte]).await.is_err() || closed_within(&mut stream, Duration::from_millis(150)).await {
            return Some(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(5) {
            return None;
        }
    }
    None
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

/// An idle kept-alive connection (no byte of a next head) is kept for `http.keep_alive_idle_secs`, not closed at
/// the head deadline: a client reusing it after the head deadline is served on it.
#[tokio::test]
async fn an_idle_keep_alive_connection_outlives_the_head_deadline() {
    let app = spawn_app_with("[http]\nheader_read_timeout_secs = 1\nkeep_alive_idle_secs = 30").await;
    let addr = app.http.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).await.expect("connect");
    let mut buf = [0u8; 1024];
    for round in 0..2 {
        stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await.expect("request");
        let n = stream.read(&mut buf).await.expect("response");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "round {round}");
        if round == 0 {
            assert!(!closed_within(&mut stream, Duration::from_millis(2500)).await, "kept past the head deadline");
        }
    }
}
