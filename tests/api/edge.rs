//! Issue 20 items 1 and 2, the edge: no cheap client stalls anyone. Each test starts the real `gantry` binary,
//! reproduces the attack from other loopback addresses (127.0.0.2 and up) than the victim's (127.0.0.1), and
//! asserts what the victim notices. They set only settings that existed before the fix (the new limits work at
//! their defaults), so each can be run against an older binary to watch it fail there.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::{ADMIN_TOKEN, JWT, PASSWORD, Process, UPLOAD, access, json_of, spawn_process};

/// A real `gantry` with the test's secrets and the extra settings `env` (only keys older binaries know).
async fn start(dir: &std::path::Path, env: &[(&str, &str)]) -> Process {
    spawn_process(dir, |command| {
        command
            .env("GANTRY_LOG", "warn")
            .env("JWT_SECRET", JWT)
            .env("UPLOAD_GUEST_TOKEN_SECRET", UPLOAD)
            .env("GANTRY_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("GANTRY_CATALOG__SEED_ON_FIRST_START", "false");
        for (key, value) in env {
            command.env(key, value);
        }
    })
    .await
}

/// The server's address from its base URL.
fn socket_of(base: &str) -> SocketAddr {
    base.trim_start_matches("http://").parse().expect("address")
}

/// A TCP connection to `to` from loopback address `from`.
async fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::new(IpAddr::from(from), 0)).expect("bind the client to its loopback address");
    socket.connect(to).await.expect("connect")
}

/// Registers `email` and logs in; returns the access token.
async fn user(client: &reqwest::Client, http: &str, email: &str) -> String {
    let credentials = serde_json::json!({"email": email, "password": PASSWORD});
    let registered = client.post(format!("{http}/v1/auth/register")).json(&credentials).send().await.expect("req");
    assert_eq!(registered.status(), 201);
    let pair = json_of(client.post(format!("{http}/v1/auth/login")).json(&credentials).send().await.expect("req"), 200);
    access(&pair.await).to_owned()
}

/// One attacking HTTP/2 connection (a real h2 client from `from`): `streams` streams, each a `POST
/// /v1/auth/login` announcing 100 bytes of body and sending 9, then nothing; a stream that gets its answer
/// opens again after `reopen`, and a connection that ends is made again, until `stop`. Counts the answers by
/// status into `answers` (index: status / 100).
async fn stall_logins(
    from: [u8; 4],
    to: SocketAddr,
    streams: usize,
    reopen: Duration,
    stop: Arc<AtomicBool>,
    answers: Arc<[AtomicUsize; 6]>,
) {
    while !stop.load(Ordering::Relaxed) {
        let tcp = connect_from(from, to).await;
        let Ok((client, connection)) = h2::client::handshake(tcp).await else {
            tokio::time::sleep(reopen).await;
            continue;
        };
        let driver = tokio::spawn(connection);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..streams {
            let client = client.clone();
            let (stop, answers) = (Arc::clone(&stop), Arc::clone(&answers));
            tasks.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut ready) = client.clone().ready().await else { return };
                    let request = hyper::Request::post(format!("http://{to}/v1/auth/login"))
                        .header("content-type", "application/json")
                        .header("content-length", "100")
                        .body(())
                        .expect("request");
                    let Ok((response, mut body)) = ready.send_request(request, false) else { return };
                    let _ = body.send_data(Bytes::from_static(b"{\"email\":"), false);
                    // Index 0: the stream was reset without an answer.
                    let class = response.await.map_or(0, |answer| usize::from(answer.status().as_u16() / 100).min(5));
                    answers[class].fetch_add(1, Ordering::Relaxed);
                    drop(body);
                    tokio::time::sleep(reopen).await;
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        driver.abort();
    }
}

/// The attack (issue 20 item 1): from 127.0.0.2, 5 HTTP/2 connections open 1,100 streams of `POST
/// /v1/auth/login` with `content-length: 100`, send 9 bytes and then nothing, reopening each stream answered
/// (10 s later).
/// Every slot of `http.max_in_flight` was held for the request deadline and another address's calls got 503
/// `overloaded` (82 of 83) while `/healthz` said 200. Now an address gets only its share of the requests in
/// flight (429 `too_many_in_flight` beyond, before any work), each connection at most
/// `http.http2_max_concurrent_streams` streams, and a stalled body is answered 408 after the body rate's grace
/// period: the victim at 127.0.0.1 keeps at least 95 % of its calls succeeding, and `/healthz`' 200 is true.
#[tokio::test]
async fn http2_stalled_bodies_from_one_address_do_not_take_the_api_down() {
    let dir = tempfile::tempdir().unwrap();
    // A listener limit well above one address's default share (64) and well below the attack's 1,100 streams.
    let process = start(dir.path(), &[("GANTRY_HTTP__MAX_IN_FLIGHT", "256")]).await;
    let (http, target) = (process.http.clone(), socket_of(&process.http));
    let client = reqwest::Client::new();
    let token = user(&client, &http, "victim@example.com").await;

    let stop = Arc::new(AtomicBool::new(false));
    let answers: Arc<[AtomicUsize; 6]> = Arc::new(Default::default());
    let attackers: Vec<_> = (0..5)
        .map(|_| {
            // About the pace (39 requests/s): each answered stream opens again after 10 s.
            let reopen = Duration::from_secs(10);
            tokio::spawn(stall_logins([127, 0, 0, 2], target, 220, reopen, Arc::clone(&stop), Arc::clone(&answers)))
        })
        .collect();
    // The attack's streams are open and stalled before the victim starts.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let (mut calls, mut succeeded, mut healthz_ok, mut failures) = (0, 0, 0, Vec::new());
    for i in 0..80 {
        let response = if i % 10 == 9 {
            let credentials = serde_json::json!({"email": "victim@example.com", "password": PASSWORD});
            client.post(format!("{http}/v1/auth/login")).json(&credentials).send().await
        } else {
            client.get(format!("{http}/v1/auth/me")).bearer_auth(&token).send().await
        };
        calls += 1;
        match response {
            Ok(r) if r.status().is_success() => succeeded += 1,
            Ok(r) => failures.push(r.status().as_u16()),
            Err(e) => failures.push(u16::from(e.is_timeout())),
        }
        if client.get(format!("{http}/healthz")).send().await.is_ok_and(|r| r.status() == 200) {
            healthz_ok += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for attacker in attackers {
        attacker.abort();
    }
    let seen: Vec<usize> = answers.iter().map(|n| n.load(Ordering::Relaxed)).collect();

    assert!(
        succeeded * 100 >= calls * 95,
        "the victim's calls: {succeeded} of {calls} succeeded (failures: {failures:?}); attacker's answers by class {seen:?}"
    );
    assert_eq!(healthz_ok, calls, "/healthz answers 200, and the API behind it serves");
    assert!(seen[4] > 0, "the attacker is refused (429 beyond its share, 408 for its stalled bodies): {seen:?}");
    let metrics = client.get(format!("{}/metrics", process.admin)).send().await.unwrap().text().await.unwrap();
    let refused = |reason: &str| {
        crate::prometheus::value_or_zero(&metrics, &format!("gantry_http_refusals_total{{reason=\"{reason}\"}}"))
    };
    assert!(refused("in_flight_per_address") > 0.0, "refusals over the share are counted");
    assert!(refused("body_too_slow") + refused("body_timeout") > 0.0, "stalled bodies are counted");
}

/// The attack over HTTP/1.1 (issue 20 item 1): one JSON body announced and not sent held its in-flight slot
/// for the whole `http.request_timeout_secs` (30 s), then got 503 `timeout`. Now it is answered 408 (problem+
/// json) once the body rate's grace period is over (and at the latest at `http.json_body_timeout_secs`), and
/// its slot is free again: with a single slot, the next request is served.
#[tokio::test]
async fn stalled_json_body_over_http1_is_answered_408_and_frees_its_slot() {
    let dir = tempfile::tempdir().unwrap();
    let process = start(dir.path(), &[("GANTRY_HTTP__MAX_IN_FLIGHT", "1")]).await;
    let client = reqwest::Client::new();
    let me = async || client.get(format!("{}/v1/auth/me", process.http)).send().await.expect("request").status();

    let mut stalled = connect_from([127, 0, 0, 2], socket_of(&process.http)).await;
    let head =
        "POST /v1/auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n";
    stalled.write_all(head.as_bytes()).await.unwrap();
    stalled.write_all(b"{\"email\":").await.unwrap();
    let held = crate::eventually::poll(crate::eventually::Deadline::ms(5_000, 20), me, |s| *s == 503).await;
    assert!(held.is_ok(), "the stalled body holds the only slot while it is read");

    // Well before the request deadline (30 s).
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(25), stalled.read(&mut answer)).await;
    let n = read.expect("the stalled body is answered before the request deadline").expect("read");
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(answer.contains("\"code\":\"body_too_slow\"") || answer.contains("\"code\":\"body_timeout\""), "{answer}");

    assert_eq!(me().await, 401, "the slot is free again: the next request is served (401: no token)");
}

/// Sends the head of an upload with `token` from `from`, then one byte of a 100 KB PNG every `every`
/// (under the idle timeout) until the server answers; returns what it answered (status line first).
async fn trickle_upload(from: [u8; 4], to: SocketAddr, token: String, every: Duration) -> String {
    let mut stream = connect_from(from, to).await;
    let head = format!(
        "POST /v1/uploads HTTP/1.1\r\nhost: x\r\nx-upload-token: {token}\r\ncontent-type: image/png\r\ncontent-length: 100000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let png = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D];
    let mut answer = vec![0u8; 4096];
    for byte in png.iter().cycle() {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        if let Ok(read) = tokio::time::timeout(every, stream.read(&mut answer)).await {
            let n = read.unwrap_or(0);
            return String::from_utf8_lossy(&answer[..n]).into_owned();
        }
    }
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer)).await.map_or(0, |r| r.unwrap_or(0));
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

/// The attack (issue 20 item 2): uploads from other addresses (free guest tokens) trickle a byte every few
/// seconds, under the idle timeout, and hold every upload slot: a logged-in user's upload got 503 for up to an
/// hour (`uploads.timeout_secs`). Now an upload under `uploads.min_bytes_per_sec` (after its grace period)
/// ends 408 and, while the slots are full, a newcomer displaces the slowest one under the rate: the victim's
/// real upload is stored within the 60 s, and the tricklers are told 408.
#[tokio::test]
async fn trickled_uploads_do_not_hold_the_upload_slots() {
    let dir = tempfile::tempdir().unwrap();
    let settings = [
        ("GANTRY_UPLOADS__MAX_IN_FLIGHT", "3"),
        ("GANTRY_UPLOADS__MAX_IN_FLIGHT_PER_CLIENT", "1"),
        // A byte every 2 s keeps an upload under this idle timeout, as the attack's byte every 20 s did under 30 s.
        ("GANTRY_UPLOADS__BODY_IDLE_TIMEOUT_SECS", "5"),
    ];
    let process = start(dir.path(), &settings).await;
    let (http, target) = (process.http.clone(), socket_of(&process.http));
    let victim_client = reqwest::Client::new();
    let token = user(&victim_client, &http, "uploader@example.com").await;

    let mut tricklers = Vec::new();
    for host in 2..=5u8 {
        let from = [127, 0, 0, host];
        let client = reqwest::Client::builder().local_address(IpAddr::from(from)).build().unwrap();
        let grant = client.post(format!("{http}/v1/uploads/guest-token")).send().await.expect("request");
        let guest = json_of(grant, 200).await["upload_token"].as_str().expect("token").to_owned();
        tricklers.push(tokio::spawn(trickle_upload(from, target, guest, Duration::from_secs(2))));
    }
    // The tricklers hold every slot.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let started = std::time::Instant::now();
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D];
    png.extend((0..200_000).map(|i| u8::try_from(i % 251).unwrap()));
    let mut refusals = Vec::new();
    let stored = loop {
        let response = victim_client
            .post(format!("{http}/v1/uploads"))
            .bearer_auth(&token)
            .header("content-type", "image/png")
            .body(png.clone())
            .send()
            .await
            .expect("request");
        if response.status() == 201 {
            break Some(response);
        }
        refusals.push(response.status().as_u16());
        if started.elapsed() > Duration::from_secs(60) {
            break None;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let stored = stored.unwrap_or_else(|| panic!("the upload was not stored within 60 s; refused {refusals:?}"));
    assert_eq!(json_of(stored, 201).await["status"], "stored");

    let mut ends = Vec::new();
    for trickler in tricklers {
        ends.push(tokio::time::timeout(Duration::from_secs(30), trickler).await.expect("trickler ends").unwrap());
    }
    assert!(ends.iter().any(|line| line.starts_with("HTTP/1.1 408")), "a trickler is ended 408: {ends:?}");
    let metrics = victim_client.get(format!("{}/metrics", process.admin)).send().await.unwrap().text().await.unwrap();
    let ended = crate::prometheus::value_or_zero(&metrics, "gantry_uploads_total{outcome=\"body_too_slow\"}")
        + crate::prometheus::value_or_zero(&metrics, "gantry_uploads_total{outcome=\"displaced\"}");
    assert!(ended > 0.0, "the tricklers' ends are counted");
}

/// Displacement, end to end (in process, with the rate's settings short): with every upload slot held by
/// tricklers past their grace period, a newcomer does not wait for their window to end — it takes the slot
/// of the slowest one at once, which is told 408 `upload_displaced`, and only that one ends.
#[tokio::test]
async fn a_newcomer_displaces_the_slowest_upload_under_the_rate() {
    let app = crate::helpers::spawn_app_with(
        "[uploads]\nmax_in_flight = 2\nmax_in_flight_per_client = 1\nbody_idle_timeout_secs = 30\n\
         min_bytes_per_sec = 1000\nrate_window_secs = 60\nrate_grace_secs = 1",
    )
    .await;
    let target = socket_of(&app.http);
    let mut tricklers = Vec::new();
    for host in [2u8, 3] {
        let from = [127, 0, 0, host];
        let client = reqwest::Client::builder().local_address(IpAddr::from(from)).build().unwrap();
        let grant = client.post(format!("{}/v1/uploads/guest-token", app.http)).send().await.expect("request");
        let guest = json_of(grant, 200).await["upload_token"].as_str().expect("token").to_owned();
        tricklers.push(tokio::spawn(trickle_upload(from, target, guest, Duration::from_millis(500))));
    }
    // Past the grace period, both are under the rate (a byte every 0.5 s); their window ends only after 60 s.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let token = {
        app.register("newcomer@example.com").await;
        access(&app.login("newcomer@example.com").await).to_owned()
    };
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D];
    png.extend((0..50_000).map(|i| u8::try_from(i % 251).unwrap()));
    let upload = async |body: Vec<u8>| {
        app.client
            .post(format!("{}/v1/uploads", app.http))
            .bearer_auth(&token)
            .header("content-type", "image/png")
            .body(body)
            .send()
            .await
            .expect("request")
    };
    json_of(upload(png.clone()).await, 201).await;

    let first = tokio::time::timeout(Duration::from_secs(5), futures::future::select_all(tricklers))
        .await
        .expect("a trickler is ended at once");
    let (line, _, others) = first;
    let line = line.unwrap();
    assert!(line.starts_with("HTTP/1.1 408"), "the displaced trickler is told 408: {line}");
    assert!(line.contains("upload_displaced"), "{line}");
    assert_eq!(others.len(), 1);
    assert!(!others[0].is_finished(), "only the one displaced");
    let displaced = crate::prometheus::value_or_zero(&app.metrics().await, "gantry_uploads_displaced_total");
    assert_eq!(displaced, 1.0);
    let ended = crate::prometheus::value_or_zero(&app.metrics().await, "gantry_uploads_total{outcome=\"displaced\"}");
    assert_eq!(ended, 1.0, "its record is failed as displaced");
}
