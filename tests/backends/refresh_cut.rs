//! Refresh through a database cut (issue 25 item 4), on the production profile: Postgres sits behind
//! [`StallRelay`], a TCP relay the test stalls and resumes, so "the database hangs while refreshes wait" is a
//! switch, not a race. Sessions are in Redis, which is not behind the relay: only the work queued ahead of the
//! refresh in the session registry's mailbox waits for the database.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::eventually::{Deadline, eventually};
use crate::production::{PASSWORD, backends, json, register_and_login, start_in_bucket};
use crate::support::with_fresh_database;

/// A TCP relay in front of a database. While stalled it forwards nothing in either direction and holds new
/// connections unconnected (a network partition: nothing fails, everything waits); resumed, what was held
/// flows on.
struct StallRelay {
    port: u16,
    open: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl StallRelay {
    /// A relay on a free port to `upstream` (`host`, `port`).
    async fn start(upstream: (String, u16)) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let port = listener.local_addr().expect("addr").port();
        let (open, _) = watch::channel(true);
        let opened = open.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { continue };
                tokio::spawn(relay(client, upstream.clone(), opened.subscribe()));
            }
        });
        Self { port, open, task }
    }

    /// `url` (a database URL) with its host and port replaced by the relay's.
    fn url_for(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("a URL");
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let user = authority.rsplit_once('@').map(|(user, _)| format!("{user}@")).unwrap_or_default();
        format!("{scheme}://{user}127.0.0.1:{}/{path}", self.port)
    }

    /// Stops forwarding: every query in flight and every new connection waits.
    fn stall(&self) {
        self.open.send_replace(false);
    }

    /// Forwards again, what was held first.
    fn resume(&self) {
        self.open.send_replace(true);
    }
}

impl Drop for StallRelay {
    fn drop(&mut self) {
        self.resume();
        self.task.abort();
    }
}

/// The host and port of a database URL (Postgres' default port when it names none).
fn upstream_of(url: &str) -> (String, u16) {
    let rest = url.split_once("://").expect("a URL").1;
    let authority = rest.split('/').next().expect("an authority");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    match host_port.rsplit_once(':') {
        Some((host, port)) => (host.to_owned(), port.parse().expect("a port")),
        None => (host_port.to_owned(), 5432),
    }
}

/// Waits until the relay is open (returns at once when it is).
async fn until_open(open: &mut watch::Receiver<bool>) {
    let _ = open.wait_for(|open| *open).await;
}

/// Relays one connection both ways, holding everything while the relay is stalled.
async fn relay(client: TcpStream, upstream: (String, u16), mut open: watch::Receiver<bool>) {
    until_open(&mut open).await;
    let Ok(server) = TcpStream::connect(upstream).await else { return };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(pipe(client_read, server_write, open.clone()), pipe(server_read, client_write, open));
}

/// Copies `from` to `to` until `from` closes; bytes read while stalled are written once resumed.
async fn pipe(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut open: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buf).await {
        until_open(&mut open).await;
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// A refresh that waited in the session registry's mailbox behind work stuck on a database cut, and was
/// answered 503 `timeout`, changes nothing: the same refresh token presented again once the database is back
/// and the retry grace is over rotates (200) — it is not taken for reuse (401 `refresh_reused`, the session
/// revoked) — and the session lives on.
#[tokio::test]
async fn a_refresh_answered_503_during_a_database_cut_is_not_applied() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        // Arrange: an instance whose database is behind the relay, a one-second retry grace; alice holds a
        // token pair, bob is logged in too.
        let relay = StallRelay::start(upstream_of(database.expose_secret())).await;
        let via_relay = SecretString::from(relay.url_for(database.expose_secret()));
        let id = uuid::Uuid::new_v4().simple();
        let (http, _admin, stop) = start_in_bucket(
            &via_relay,
            &b,
            &b.s3_secret,
            &format!("gantry.events.test-{id}"),
            &format!("gantry-cut-{id}"),
            "[sessions]\nrefresh_grace_secs = 1\n",
        )
        .await;
        let client = reqwest::Client::new();
        let creds = serde_json::json!({"email": "alice@example.com", "password": PASSWORD});
        json(client.post(format!("{http}/v1/auth/register")).json(&creds).send().await.expect("req"), 201).await;
        let pair =
            json(client.post(format!("{http}/v1/auth/login")).json(&creds).send().await.expect("req"), 200).await;
        let refresh_token = pair["refresh_token"].as_str().expect("refresh token").to_owned();
        let access = pair["access_token"].as_str().expect("access token").to_owned();
        let bob = register_and_login(&client, &http, "bob@example.com").await;

        // The database hangs; bob's "log out everywhere" calls raise his epoch in it and hold the session
        // registry, one after the other.
        relay.stall();
        let mut logouts = JoinSet::new();
        for _ in 0..3 {
            let request = client
                .post(format!("{http}/v1/auth/logout"))
                .bearer_auth(&bob)
                .json(&serde_json::json!({"scope": "all"}));
            logouts.spawn(async move { request.send().await.expect("req").status().as_u16() });
        }
        let first = logouts.join_next().await.expect("a logout").expect("task");
        assert_eq!(first, 503, "the registry waits for the database");

        // Act: alice refreshes while the registry still waits; her client is told to retry.
        let refreshed =
            client.post(format!("{http}/v1/auth/refresh")).json(&serde_json::json!({"refresh_token": refresh_token}));
        let response = refreshed.send().await.expect("req");
        assert_eq!(response.headers().get("retry-after").map(|v| v.to_str().expect("ascii")), Some("1"));
        let problem = json(response, 503).await;
        assert_eq!(problem["code"], "timeout", "{problem}");

        // The database comes back; the registry works through what waited (alice's refresh included: a later
        // call through the same mailbox is answered after it).
        relay.resume();
        while logouts.join_next().await.is_some() {}
        eventually(
            "the session registry answers again",
            Deadline::ms(30_000, 200),
            async || {
                let list = client.get(format!("{http}/v1/auth/sessions")).bearer_auth(&access).send().await;
                list.map(|r| r.status().as_u16()).unwrap_or(0)
            },
            |status| *status == 200,
        )
        .await;
        // Past the one-second grace: a rotation would make this retry look like reuse.
        tokio::time::sleep(Duration::from_millis(2_500)).await;

        // Assert: the retry with the same token rotates, and the session it returns works.
        let retried = client
            .post(format!("{http}/v1/auth/refresh"))
            .json(&serde_json::json!({"refresh_token": refresh_token}))
            .send()
            .await
            .expect("req");
        let next = json(retried, 200).await;
        assert_ne!(next["refresh_token"], refresh_token.as_str(), "a new pair");
        let me = client
            .get(format!("{http}/v1/auth/me"))
            .bearer_auth(next["access_token"].as_str().expect("access"))
            .send()
            .await
            .expect("req");
        assert_eq!(me.status(), 200, "the session was not revoked");
        let _ = stop.send(());
    })
    .await;
}
