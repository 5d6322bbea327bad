//! The production profile end to end: a Gantry built from settings against the real Postgres, Redis,
//! RabbitMQ and S3-compatible store, checked through its HTTP listeners. Needs every backend variable.

use std::time::Duration;

use figment::Figment;
use figment::providers::{Format, Toml};
use gantry::config::secrets::{self, SecretEnv};
use gantry::config::{Profile, Settings};
use gantry::startup::Application;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::oneshot;

use crate::eventually::{Deadline, poll, settled};
use crate::fleet::{Buses, two_instances};
use crate::support::backend_env;
use crate::support::with_fresh_database;

pub(crate) const JWT: &str = "q7R2vX9kLm4PzT8wN3bH6yC1dF5gJ0sA";
pub(crate) const UPLOAD: &str = "Zt5Kp2Wq9Lx7Mv3Bn8Rc4Hd6Jf1Gs0Ya";
pub(crate) const ADMIN: &str = "Hn4Bv7Cx2Zl9Kj5Mg8Df3Sa6Qw1Er0Ty";

pub(crate) struct Backends {
    pub(crate) redis: String,
    pub(crate) amqp: String,
    pub(crate) s3_endpoint: String,
    pub(crate) s3_key_id: String,
    pub(crate) s3_secret: String,
}

pub(crate) fn backends() -> Option<Backends> {
    Some(Backends {
        redis: backend_env("GANTRY_TEST_REDIS_URL", "production")?,
        amqp: backend_env("GANTRY_TEST_AMQP_URL", "production")?,
        s3_endpoint: backend_env("GANTRY_TEST_S3_ENDPOINT", "production")?,
        s3_key_id: backend_env("GANTRY_TEST_S3_ACCESS_KEY_ID", "production")?,
        s3_secret: backend_env("GANTRY_TEST_S3_SECRET_ACCESS_KEY", "production")?,
    })
}

/// Builds and starts a production-profile Gantry; returns its base URLs and a stop switch.
async fn start(database: &SecretString, b: &Backends, s3_secret: &str) -> (String, String, oneshot::Sender<()>) {
    start_on(database, b, s3_secret, &format!("gantry.events.test-{}", uuid::Uuid::new_v4().simple())).await
}

/// Like [`start`] on the bus exchange `exchange` (instances of one test share it; tests do not).
async fn start_on(
    database: &SecretString,
    b: &Backends,
    s3_secret: &str,
    exchange: &str,
) -> (String, String, oneshot::Sender<()>) {
    let bucket = format!("gantry-prod-{}", uuid::Uuid::new_v4().simple());
    start_in_bucket(database, b, s3_secret, exchange, &bucket, "").await
}

/// Like [`start_on`] with the objects in `bucket`.
pub(crate) async fn start_in_bucket(
    database: &SecretString,
    b: &Backends,
    s3_secret: &str,
    exchange: &str,
    bucket: &str,
    extra_toml: &str,
) -> (String, String, oneshot::Sender<()>) {
    let toml = production_toml(database, b, exchange, bucket, extra_toml);
    let env = SecretEnv::from_pairs(
        [
            ("JWT_SECRET", JWT),
            ("UPLOAD_GUEST_TOKEN_SECRET", UPLOAD),
            ("GANTRY_ADMIN_TOKEN", ADMIN),
            ("S3_ACCESS_KEY_ID", b.s3_key_id.as_str()),
            ("S3_SECRET_ACCESS_KEY", s3_secret),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    start_with_secrets(&toml, env).await
}

/// The settings of a production-profile instance on these services, exchange and bucket.
pub(crate) fn production_toml(
    database: &SecretString,
    b: &Backends,
    exchange: &str,
    bucket: &str,
    extra_toml: &str,
) -> String {
    format!(
        "http_addr = \"127.0.0.1:0\"\nadmin_addr = \"127.0.0.1:0\"\ndatabase_url = {:?}\nredis_url = {:?}\n\
         amqp_url = {:?}\ns3_endpoint = {:?}\ns3_bucket = {bucket:?}\nlog_format = \"text\"\n\
         {extra_toml}\n[bus]\nexchange = {exchange:?}\n",
        database.expose_secret(),
        b.redis,
        b.amqp,
        b.s3_endpoint,
    )
}

/// Builds and starts a production-profile Gantry from `toml` with its secrets read from `env` (values or
/// `*_FILE` paths); returns its base URLs and a stop switch.
pub(crate) async fn start_with_secrets(toml: &str, env: SecretEnv) -> (String, String, oneshot::Sender<()>) {
    try_start(toml, env).await.expect("production app builds")
}

/// Like [`start_with_secrets`], with the start-up error (a refused start) instead of a panic.
pub(crate) async fn try_start(toml: &str, env: SecretEnv) -> anyhow::Result<(String, String, oneshot::Sender<()>)> {
    let settings =
        Settings::load_from(Some(Profile::Production), Figment::new().merge(Toml::string(toml))).expect("settings");
    let (keyring, report) = secrets::load(&settings, &env, true);
    let keyring = keyring.unwrap_or_else(|| panic!("secrets valid: {:?}", report.lines()));
    let app = Application::build_with_secrets(settings, keyring, env).await?;
    let http = format!("http://{}", app.http_addr());
    let admin = format!("http://{}", app.admin_addr());
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    Ok((http, admin, tx))
}

/// Registers `email` on `http` and logs in; returns the access token.
pub(crate) async fn register_and_login(client: &reqwest::Client, http: &str, email: &str) -> String {
    let creds = serde_json::json!({"email": email, "password": PASSWORD});
    json(client.post(format!("{http}/v1/auth/register")).json(&creds).send().await.expect("req"), 201).await;
    let pair = json(client.post(format!("{http}/v1/auth/login")).json(&creds).send().await.expect("req"), 200).await;
    pair["access_token"].as_str().expect("token").to_owned()
}

/// Polls `/readyz` until `done` accepts the body (the bus connects in the background).
pub(crate) async fn readiness(http: &str, done: impl Fn(&serde_json::Value) -> bool) -> (u16, serde_json::Value) {
    let readyz = async || {
        let response = reqwest::get(format!("{http}/readyz")).await.expect("readyz");
        (response.status().as_u16(), response.json().await.expect("json"))
    };
    settled(Deadline::ms(10_000, 100), readyz, |(_, body)| done(body)).await
}

/// On real services, `/readyz` reports Postgres, Redis, S3, RabbitMQ and the actors, each up.
#[tokio::test]
async fn production_profile_is_ready_on_real_services() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let (http, admin, stop) = start(&database, &b, &b.s3_secret).await;
        let (status, body) = readiness(&http, |v| v["status"] == "ready").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "ready", "{body}");
        assert_eq!(body["profile"], "production");
        let expected = [
            ("database", "postgres"),
            ("cache", "redis"),
            ("object_store", "s3"),
            ("bus", "amqp"),
            ("secret_store", "actor"),
        ];
        for (component, backend) in expected {
            assert_eq!(body["components"][component]["backend"], backend, "{component}: {body}");
            assert_eq!(body["components"][component]["status"], "up", "{component}: {body}");
        }
        let secrets: serde_json::Value = reqwest::Client::new()
            .get(format!("{admin}/admin/secrets"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .expect("admin")
            .json()
            .await
            .expect("json");
        let names: Vec<&str> =
            secrets["secrets"].as_array().expect("list").iter().filter_map(|s| s["name"].as_str()).collect();
        assert!(names.contains(&"S3_SECRET_ACCESS_KEY") && names.contains(&"S3_ACCESS_KEY_ID"), "{names:?}");
        assert!(!secrets.to_string().contains(&b.s3_secret), "S3 secret leaked");
        let _ = stop.send(());
    })
    .await;
}

/// With a wrong S3 secret the instance still serves, and `/readyz` says the object store rejects the
/// credentials (reported, not required: status `degraded`, never a 500, never the secret).
#[tokio::test]
async fn wrong_s3_secret_is_reported_by_readyz() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let wrong = "Wr0ngS3cr3tK3yF0rT3st1ngXyZq9Lm";
        let (http, _admin, stop) = start(&database, &b, wrong).await;
        let (status, body) = readiness(&http, |v| v["components"]["bus"]["status"] == "up").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "degraded", "{body}");
        assert_eq!(body["components"]["object_store"]["status"], "down", "{body}");
        let error = body["components"]["object_store"]["error"].as_str().unwrap_or_default();
        assert!(error.contains("credentials"), "{error}");
        assert!(!body.to_string().contains(wrong), "secret leaked");
        let _ = stop.send(());
    })
    .await;
}

pub(crate) const PASSWORD: &str = "harvest-tractor-blue-42";

pub(crate) async fn json(response: reqwest::Response, status: u16) -> serde_json::Value {
    let actual = response.status().as_u16();
    let text = response.text().await.expect("body");
    assert_eq!(actual, status, "{text}");
    serde_json::from_str(&text).expect("json")
}

/// Two instances sharing Postgres, Redis and RabbitMQ: a session from A works on B; revoke-all on A makes
/// B refuse A-issued access tokens within 1 s (bus propagation) and refuse their refresh; new logins work
/// on both.
#[tokio::test]
async fn revoke_all_on_one_instance_applies_on_every_instance() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let ((a_http, a_admin, stop_a), (b_http, _b_admin, stop_b)) =
            two_instances(&database, &b, "prod", "", Buses::Shared).await;
        let client = reqwest::Client::new();
        let creds = serde_json::json!({"email": "fleet@example.com", "password": PASSWORD});
        json(client.post(format!("{a_http}/v1/auth/register")).json(&creds).send().await.expect("req"), 201).await;
        let pair =
            json(client.post(format!("{a_http}/v1/auth/login")).json(&creds).send().await.expect("req"), 200).await;
        let access = pair["access_token"].as_str().expect("access").to_owned();
        let me_on_b = || client.get(format!("{b_http}/v1/auth/me")).bearer_auth(&access).send();
        json(me_on_b().await.expect("req"), 200).await;

        let response = client
            .post(format!("{a_admin}/admin/sessions/revoke-all"))
            .bearer_auth(ADMIN)
            .json(&serde_json::json!({"reason": "two-instance test"}))
            .send()
            .await
            .expect("req");
        json(response, 202).await;
        let refused_on_b = async || {
            let response = me_on_b().await.expect("req");
            if response.status() != 401 {
                return false;
            }
            let body: serde_json::Value = response.json().await.expect("json");
            assert_eq!(body["code"], "session_revoked");
            true
        };
        let refused = settled(Deadline::ms(1_000, 10), refused_on_b, |refused| *refused).await;
        assert!(refused, "instance B still accepted the token 1 s after revoke-all on A");

        let body = serde_json::json!({"refresh_token": pair["refresh_token"]});
        let response = client.post(format!("{b_http}/v1/auth/refresh")).json(&body).send().await.expect("req");
        let problem = json(response, 401).await;
        assert_eq!(problem["code"], "session_revoked");

        let fresh =
            json(client.post(format!("{b_http}/v1/auth/login")).json(&creds).send().await.expect("req"), 200).await;
        let token = fresh["access_token"].as_str().expect("access");
        json(client.get(format!("{a_http}/v1/auth/me")).bearer_auth(token).send().await.expect("req"), 200).await;
        let _ = stop_a.send(());
        let _ = stop_b.send(());
    })
    .await;
}

/// A private `redis-server` on a port of its own (never the shared one on 6379): no persistence, so a restart
/// comes back empty — a Redis that lost its data. Killed when dropped, so a failing test leaves none behind.
struct PrivateRedis(std::process::Child);

impl PrivateRedis {
    fn start(port: u16, dir: &std::path::Path) -> Self {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        Self(child)
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Issue 11.9: losing Redis never revives a revoked session. Two instances share a private Redis; a session
/// is logged out; the Redis is killed and restarted empty. On neither instance is the logged-out session's
/// access token ever accepted again (polled throughout), every session from before the loss is invalidated
/// (its data is gone), the loss is recorded as a revocation notice and counted, and new logins work.
#[tokio::test]
async fn losing_redis_never_revives_a_revoked_session() {
    let Some(mut b) = backends() else { return };
    with_fresh_database(|database| async move {
        let port = free_port();
        let dir = tempfile::tempdir().expect("tempdir");
        let redis = PrivateRedis::start(port, dir.path());
        tokio::time::sleep(Duration::from_millis(300)).await;
        b.redis = format!("redis://127.0.0.1:{port}");
        let fast = "[sessions]\nview_reload_secs = 1\n";
        let ((a_http, a_admin, stop_a), (b_http, b_admin, stop_b)) =
            two_instances(&database, &b, "prod", fast, Buses::Shared).await;
        let client = reqwest::Client::new();
        let creds = serde_json::json!({"email": "lost@example.com", "password": PASSWORD});
        json(client.post(format!("{a_http}/v1/auth/register")).json(&creds).send().await.expect("req"), 201).await;
        let login = || async {
            json(client.post(format!("{a_http}/v1/auth/login")).json(&creds).send().await.expect("req"), 200).await
        };
        let (out, live) = (login().await, login().await);
        let token = |pair: &serde_json::Value| pair["access_token"].as_str().expect("access").to_owned();
        let (out, live) = (token(&out), token(&live));
        let status = |http: &str, access: &str| {
            let request = client.get(format!("{http}/v1/auth/me")).bearer_auth(access).send();
            async move { request.await.expect("req").status().as_u16() }
        };
        let logout = client.post(format!("{a_http}/v1/auth/logout")).bearer_auth(&out).send().await.expect("req");
        assert_eq!(logout.status(), 204);
        tokio::time::sleep(Duration::from_millis(300)).await;
        for http in [&a_http, &b_http] {
            assert_eq!(status(http, &out).await, 401, "logged out on {http}");
            assert_eq!(status(http, &live).await, 200, "live on {http}");
        }

        drop(redis);
        let redis = PrivateRedis::start(port, dir.path());
        let restarted = std::time::Instant::now();
        while restarted.elapsed() < Duration::from_secs(5) {
            for http in [&a_http, &b_http] {
                assert_eq!(status(http, &out).await, 401, "a logged-out session came back on {http}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for http in [&a_http, &b_http] {
            assert_eq!(status(http, &live).await, 401, "sessions from before the loss are invalidated on {http}");
        }

        let notices = json(
            client.get(format!("{a_admin}/admin/sessions/revocations")).bearer_auth(ADMIN).send().await.expect("req"),
            200,
        )
        .await;
        // One notice when the first instance found the fresh Redis empty (indistinguishable from a loss while
        // every instance was down; nothing to invalidate then), and exactly one for this loss, by whichever
        // instance noticed first.
        let recorded = notices["revocations"]
            .as_array()
            .expect("list")
            .iter()
            .filter(|n| n["requested_by"] == "session_store")
            .count();
        assert_eq!(recorded, 2, "one notice per loss: {notices}");
        let mut counted = false;
        for admin in [&a_admin, &b_admin] {
            let metrics = client.get(format!("{admin}/metrics")).send().await.expect("req").text().await.expect("text");
            counted |= metrics.contains("gantry_sessions_store_data_loss_total");
        }
        assert!(counted, "the loss is counted");
        let fresh = token(&login().await);
        assert_eq!(status(&b_http, &fresh).await, 200, "new logins work");

        drop(redis);
        let _ = stop_a.send(());
        let _ = stop_b.send(());
    })
    .await;
}

/// A PNG of `len` bytes.
fn png(len: usize) -> Vec<u8> {
    let mut v = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    v.extend((0..len.saturating_sub(8)).map(|i| u8::try_from(i % 251).expect("small")));
    v
}

/// On S3: a guest uploads a multipart-sized file (12 MiB, 8 MiB parts), reads it back whole and by range,
/// and `?redirect=1` answers 302 to a presigned URL (≤ 5 min) that serves the same bytes; a refused upload
/// (wrong digest) leaves nothing readable.
#[tokio::test]
async fn uploads_round_trip_through_s3() {
    use sha2::Digest;
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let (http, _admin, stop) = start(&database, &b, &b.s3_secret).await;
        readiness(&http, |v| v["components"]["object_store"]["status"] == "up").await;
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        let grant = json(client.post(format!("{http}/v1/uploads/guest-token")).send().await.expect("req"), 200).await;
        let token = grant["upload_token"].as_str().expect("token").to_owned();
        let bytes = png(12 * 1024 * 1024 + 123);
        // Guests are capped at 25 MiB by default; 12 MiB crosses the 8 MiB part size.
        let response = client
            .post(format!("{http}/v1/uploads"))
            .header("x-upload-token", &token)
            .header("content-type", "image/png")
            .body(bytes.clone())
            .send()
            .await
            .expect("req");
        let body = json(response, 201).await;
        assert_eq!(body["sha256"], hex::encode(sha2::Sha256::digest(&bytes)));
        let url = format!("{http}/v1/uploads/{}/content", body["id"].as_str().expect("id"));

        let whole = client.get(&url).header("x-upload-token", &token).send().await.expect("req");
        assert_eq!(whole.status(), 200);
        assert_eq!(whole.bytes().await.expect("body").as_ref(), bytes.as_slice());
        let last =
            client.get(&url).header("x-upload-token", &token).header("range", "bytes=-10").send().await.expect("req");
        assert_eq!(last.status(), 206);
        assert_eq!(last.bytes().await.expect("body").as_ref(), &bytes[bytes.len() - 10..]);

        let redirect =
            client.get(format!("{url}?redirect=1")).header("x-upload-token", &token).send().await.expect("req");
        assert_eq!(redirect.status(), 302);
        let location = redirect.headers()["location"].to_str().expect("ascii").to_owned();
        let expires: u64 = location
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("X-Amz-Expires="))
            .and_then(|v| v.parse().ok())
            .expect("presigned URL has an expiry");
        assert!(expires <= 300, "{expires}");
        let presigned = reqwest::get(&location).await.expect("presigned GET");
        assert_eq!(presigned.status(), 200);
        assert_eq!(presigned.bytes().await.expect("body").len(), bytes.len());

        let response = client
            .post(format!("{http}/v1/uploads"))
            .header("x-upload-token", &token)
            .header("content-type", "image/png")
            .header("x-checksum-sha256", "00".repeat(32))
            .body(png(1000))
            .send()
            .await
            .expect("req");
        let problem = json(response, 400).await;
        assert_eq!(problem["code"], "digest_mismatch");
        let _ = stop.send(());
    })
    .await;
}

/// On Postgres and S3: a JPEG with GPS EXIF gets its variants through the `uploads.photo` job (enqueued with
/// the stored write), each without any EXIF (a real EXIF reader) and at its long side, stored in the bucket
/// beside the original, which its owner still downloads byte for byte.
#[tokio::test]
async fn photo_variants_are_made_on_postgres_and_s3_without_exif() {
    use crate::test_photos::{exif_of, jpeg_with_gps};
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let (http, _admin, stop) = start(&database, &b, &b.s3_secret).await;
        readiness(&http, |v| v["components"]["object_store"]["status"] == "up").await;
        let client = reqwest::Client::new();
        let grant = json(client.post(format!("{http}/v1/uploads/guest-token")).send().await.expect("req"), 200).await;
        let token = grant["upload_token"].as_str().expect("token").to_owned();
        let original = jpeg_with_gps(1600, 1200);
        assert!(
            exif_of(&original).and_then(|e| e.get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY).cloned()).is_some(),
            "the original has GPS"
        );
        let response = client
            .post(format!("{http}/v1/uploads"))
            .header("x-upload-token", &token)
            .body(original.clone())
            .send()
            .await
            .expect("req");
        let id = json(response, 201).await["id"].as_str().expect("id").to_owned();
        let upload = async || {
            let response = client.get(format!("{http}/v1/uploads/{id}")).header("x-upload-token", &token).send();
            json(response.await.expect("req"), 200).await
        };
        let ready = |listed: &serde_json::Value| {
            listed["variants"].as_array().expect("variants").iter().all(|v| v["state"] == "ready")
        };
        let listed = settled(Deadline::ms(60_000, 100), upload, ready).await;
        for (variant, long_side) in [("320", 320), ("1280", 1280), ("full", 1600)] {
            let url = format!("{http}/v1/uploads/{id}/content?variant={variant}");
            let response = client.get(url).header("x-upload-token", &token).send().await.expect("req");
            assert_eq!(response.status(), 200, "{listed}");
            let bytes = response.bytes().await.expect("body");
            assert!(exif_of(&bytes).is_none(), "variant {variant} has no EXIF");
            let decoded = image::load_from_memory(&bytes).expect("an image");
            assert_eq!(decoded.width().max(decoded.height()), long_side, "variant {variant}");
        }
        let url = format!("{http}/v1/uploads/{id}/content");
        let response = client.get(url).header("x-upload-token", &token).send().await.expect("req");
        assert_eq!(response.bytes().await.expect("body").as_ref(), original.as_slice(), "the original is byte-exact");
        let _ = stop.send(());
    })
    .await;
}

/// With S3 credentials the store rejects, uploads answer 503 `storage_unavailable` (never 500), and
/// nothing is stored.
#[tokio::test]
async fn uploads_with_rejected_s3_credentials_are_503() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let (http, _admin, stop) = start(&database, &b, "Wr0ngS3cr3tK3yF0rT3st1ngXyZq9Lm").await;
        let client = reqwest::Client::new();
        let grant = json(client.post(format!("{http}/v1/uploads/guest-token")).send().await.expect("req"), 200).await;
        let response = client
            .post(format!("{http}/v1/uploads"))
            .header("x-upload-token", grant["upload_token"].as_str().expect("token"))
            .header("content-type", "image/png")
            .body(png(5000))
            .send()
            .await
            .expect("req");
        assert!(response.headers().contains_key("retry-after"));
        let problem = json(response, 503).await;
        assert_eq!(problem["code"], "storage_unavailable");
        let _ = stop.send(());
    })
    .await;
}

/// A free TCP port on loopback.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Starts `s3s-fs` (the CI stand-in for MinIO) on `port` over `dir`.
pub(crate) fn s3s_fs(port: u16, dir: &std::path::Path, key_id: &str, secret: &str) -> std::process::Child {
    std::process::Command::new("s3s-fs")
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--access-key", key_id, "--secret-key", secret])
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("s3s-fs on PATH (.ci/run installs it)")
}

/// The object store going away and coming back: while it is down uploads are 503 `storage_unavailable` and
/// `/readyz` says so; once it is back, uploads work again without restarting Gantry.
#[tokio::test]
async fn uploads_recover_when_the_store_comes_back() {
    let Some(mut b) = backends() else { return };
    with_fresh_database(|database| async move {
        let port = free_port();
        let dir = tempfile::tempdir().expect("tempdir");
        let (key_id, secret) = ("gantryrestartkey", "Zq7Wx3Ec9Rv5Tb1Yn8Um4Ik2Ol6Pa0Sd3Fg7Hj");
        let mut store = s3s_fs(port, dir.path(), key_id, secret);
        tokio::time::sleep(Duration::from_millis(300)).await;
        b.s3_endpoint = format!("http://127.0.0.1:{port}");
        b.s3_key_id = key_id.to_owned();
        let (http, _admin, stop) = start(&database, &b, secret).await;
        readiness(&http, |v| v["components"]["object_store"]["status"] == "up").await;
        let client = reqwest::Client::new();
        let grant = json(client.post(format!("{http}/v1/uploads/guest-token")).send().await.expect("req"), 200).await;
        let token = grant["upload_token"].as_str().expect("token").to_owned();
        let put = || {
            client
                .post(format!("{http}/v1/uploads"))
                .header("x-upload-token", &token)
                .header("content-type", "image/png")
                .body(png(2000))
                .send()
        };
        json(put().await.expect("req"), 201).await;

        store.kill().expect("stop the store");
        let _ = store.wait();
        let problem = json(put().await.expect("req"), 503).await;
        assert_eq!(problem["code"], "storage_unavailable");
        let (_, ready) = readiness(&http, |v| v["components"]["object_store"]["status"] == "down").await;
        assert_eq!(ready["components"]["object_store"]["status"], "down", "{ready}");

        let mut store = s3s_fs(port, dir.path(), key_id, secret);
        let status = async || put().await.expect("req").status();
        let recovered = poll(Deadline::ms(5_000, 100), status, |status| *status == 201).await.is_ok();
        assert!(recovered, "uploads work again once the store is back, without a restart");
        let _ = store.kill();
        let _ = store.wait();
        let _ = stop.send(());
    })
    .await;
}

/// The keys in `bucket`, read with the SDK directly (what is really stored, whatever Gantry says).
async fn keys_in(b: &Backends, bucket: &str) -> Vec<String> {
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(&b.s3_endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(&b.s3_key_id, &b.s3_secret, None, None, "test"))
        .force_path_style(true)
        .build();
    let out = aws_sdk_s3::Client::from_conf(config).list_objects_v2().bucket(bucket).send().await.expect("list");
    out.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect()
}

/// On S3, refused uploads store nothing: one byte over the limit (announced and chunked), a PNG declared as
/// PDF, a text file named `.jpg`, and a client that drops the connection mid-body. Only the accepted upload
/// is in the bucket afterwards (listed with the SDK directly).
#[tokio::test]
async fn refused_uploads_leave_nothing_in_s3() {
    use tokio::io::AsyncWriteExt;
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let bucket = format!("gantry-refused-{}", uuid::Uuid::new_v4().simple());
        let exchange = format!("gantry.events.test-{}", uuid::Uuid::new_v4().simple());
        let accepted = 9 * 1024 * 1024;
        let (http, _admin, stop) = start_in_bucket(&database, &b, &b.s3_secret, &exchange, &bucket, "").await;
        readiness(&http, |v| v["components"]["object_store"]["status"] == "up").await;
        let client = reqwest::Client::new();
        let creds = serde_json::json!({"email": "s3-refused@example.com", "password": PASSWORD});
        json(client.post(format!("{http}/v1/auth/register")).json(&creds).send().await.expect("req"), 201).await;
        let pair = json(client.post(format!("{http}/v1/auth/login")).json(&creds).send().await.expect("req"), 200).await;
        let token = pair["access_token"].as_str().expect("token").to_owned();
        let post = |body: reqwest::Body, content_type: &str| {
            client.post(format!("{http}/v1/uploads")).bearer_auth(&token).header("content-type", content_type).body(body)
        };

        // Accepted: exactly at a size that streams as one PutObject (over one 8 MiB part).
        json(post(png(accepted).into(), "image/png").send().await.expect("req"), 201).await;
        // Over the user limit (100 MiB by default) by one byte, announced: refused before reading.
        let over = 100 * 1024 * 1024 + 1;
        let response = post(png(over).into(), "image/png").send().await.expect("req");
        assert_eq!(json(response, 413).await["code"], "payload_too_large");
        // The same, chunked (no Content-Length): refused while streaming.
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = png(over).chunks(1 << 20).map(|c| Ok(c.to_vec())).collect();
        let response =
            post(reqwest::Body::wrap_stream(futures::stream::iter(chunks)), "image/png").send().await.expect("req");
        assert_eq!(json(response, 413).await["code"], "payload_too_large");
        let response = post(png(20 * 1024 * 1024).into(), "application/pdf").send().await.expect("req");
        assert_eq!(json(response, 415).await["code"], "unsupported_media_type");
        let response = post(b"plain text pretending to be a photo".to_vec().into(), "image/jpeg").send().await;
        assert_eq!(json(response.expect("req"), 415).await["code"], "unsupported_media_type");

        let addr = http.trim_start_matches("http://").to_owned();
        let mut stream = tokio::net::TcpStream::connect(&addr).await.expect("connect");
        let head = format!(
            "POST /v1/uploads HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-type: image/png\r\ncontent-length: {}\r\n\r\n",
            20 * 1024 * 1024
        );
        stream.write_all(head.as_bytes()).await.expect("write");
        stream.write_all(&png(3 * 1024 * 1024)).await.expect("write");
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(stream);
        tokio::time::sleep(Duration::from_millis(500)).await;

        let keys = keys_in(&b, &bucket).await;
        assert_eq!(keys.len(), 1, "only the accepted upload is stored: {keys:?}");
        let _ = stop.send(());
    })
    .await;
}

/// A lost bus message cannot leave a revoked token valid for long: two instances that share the stores but
/// not the bus (different exchanges) still converge, through the periodic reload of the revocation view.
#[tokio::test]
async fn revocation_reaches_an_instance_that_missed_the_bus_message() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let reload = "[sessions]\nview_reload_secs = 1";
        let ((a_http, a_admin, stop_a), (b_http, _b_admin, stop_b)) =
            two_instances(&database, &b, "lost", reload, Buses::Separate).await;
        let client = reqwest::Client::new();
        let creds = serde_json::json!({"email": "lost@example.com", "password": PASSWORD});
        json(client.post(format!("{a_http}/v1/auth/register")).json(&creds).send().await.expect("req"), 201).await;
        let pair =
            json(client.post(format!("{a_http}/v1/auth/login")).json(&creds).send().await.expect("req"), 200).await;
        let access = pair["access_token"].as_str().expect("access").to_owned();
        json(client.get(format!("{b_http}/v1/auth/me")).bearer_auth(&access).send().await.expect("req"), 200).await;

        let response = client
            .post(format!("{a_admin}/admin/sessions/revoke-all"))
            .bearer_auth(ADMIN)
            .json(&serde_json::json!({"reason": "lost message test"}))
            .send()
            .await
            .expect("req");
        json(response, 202).await;
        let me_on_b = async || {
            client.get(format!("{b_http}/v1/auth/me")).bearer_auth(&access).send().await.expect("req").status()
        };
        let refused = poll(Deadline::ms(5_000, 100), me_on_b, |status| *status == 401).await.is_ok();
        assert!(refused, "instance B never picked up the revocation from the stores");
        let _ = stop_a.send(());
        let _ = stop_b.send(());
    })
    .await;
}

/// Two instances with RabbitMQ: an option created on A is listed on B within 1 s, without a restart, even
/// though B had the list cached.
#[tokio::test]
async fn option_created_on_one_instance_is_listed_on_the_other() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let ((a_http, _a_admin, stop_a), (b_http, _b_admin, stop_b)) =
            two_instances(&database, &b, "options", "", Buses::Shared).await;
        let client = reqwest::Client::new();
        let token = register_and_login(&client, &a_http, "options@example.com").await;
        let brand = serde_json::json!({"name": "Ginaf"});
        let brand = json(
            client
                .post(format!("{a_http}/v1/options/brand"))
                .bearer_auth(&token)
                .json(&brand)
                .send()
                .await
                .expect("req"),
            201,
        )
        .await;
        let models_url =
            |http: &str| format!("{http}/v1/options/model?parent_id={}", brand["id"].as_str().expect("id"));
        // B caches the (empty) list first.
        let empty = json(client.get(models_url(&b_http)).send().await.expect("req"), 200).await;
        assert!(empty["items"].as_array().expect("items").is_empty());

        let model = serde_json::json!({"name": "X 3232 S", "parent_id": brand["id"]});
        json(
            client
                .post(format!("{a_http}/v1/options/model"))
                .bearer_auth(&token)
                .json(&model)
                .send()
                .await
                .expect("req"),
            201,
        )
        .await;
        let listed = within(&client, &models_url(&b_http), Duration::from_secs(1), |page| {
            page["items"].as_array().expect("items").iter().any(|m| m["name"] == "X 3232 S")
        })
        .await;
        assert!(listed, "instance B did not list A's new model within 1 s");
        let _ = stop_a.send(());
        let _ = stop_b.send(());
    })
    .await;
}

/// Polls `url` until `done` accepts the JSON page or `deadline` passes; whether it did.
async fn within(
    client: &reqwest::Client,
    url: &str,
    deadline: Duration,
    done: impl Fn(&serde_json::Value) -> bool,
) -> bool {
    let page = async || json(client.get(url).send().await.expect("req"), 200).await;
    poll(Deadline::new(deadline, Duration::from_millis(10)), page, |page| done(page)).await.is_ok()
}

/// Two instances with RabbitMQ: a merge and a hide made on A's admin listener reach B within 1 s, although B
/// had the brand list cached — the merged brand and the hidden one are no longer listed on B, and the merged
/// id resolves to the survivor there.
#[tokio::test]
async fn merge_and_hide_on_one_instance_reach_the_other_within_a_second() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let ((a_http, a_admin, stop_a), (b_http, _b_admin, stop_b)) =
            two_instances(&database, &b, "moderation", "", Buses::Shared).await;
        let client = reqwest::Client::new();
        let token = register_and_login(&client, &a_http, "moderation@example.com").await;
        let mut ids = Vec::new();
        for name in ["Ginaf", "Ginnaf", "Cheap Trucks Spam"] {
            let request = client.post(format!("{a_http}/v1/options/brand")).bearer_auth(&token);
            ids.push(
                json(request.json(&serde_json::json!({"name": name})).send().await.expect("req"), 201).await["id"]
                    .clone(),
            );
        }
        let brands = format!("{b_http}/v1/options/brand?limit=500");
        let listed = |page: &serde_json::Value, name: &str| {
            page["items"].as_array().expect("items").iter().any(|i| i["name"] == name)
        };
        assert!(
            within(&client, &brands, Duration::from_secs(5), |p| listed(p, "Ginnaf") && listed(p, "Cheap Trucks Spam"))
                .await,
            "B lists A's brands (and caches the list)"
        );

        let merge = client
            .post(format!("{a_admin}/admin/options/{}/merge", ids[1].as_str().expect("id")))
            .bearer_auth(ADMIN)
            .json(&serde_json::json!({"into": ids[0]}));
        json(merge.send().await.expect("req"), 200).await;
        assert!(
            within(&client, &brands, Duration::from_secs(1), |p| !listed(p, "Ginnaf") && listed(p, "Ginaf")).await,
            "instance B still listed the merged brand 1 s after the merge"
        );
        let resolved = format!("{b_http}/v1/options/brand/{}", ids[1].as_str().expect("id"));
        assert_eq!(json(client.get(resolved).send().await.expect("req"), 200).await["id"], ids[0]);

        let hide =
            client.post(format!("{a_admin}/admin/options/{}/hide", ids[2].as_str().expect("id"))).bearer_auth(ADMIN);
        json(hide.send().await.expect("req"), 200).await;
        assert!(
            within(&client, &brands, Duration::from_secs(1), |p| !listed(p, "Cheap Trucks Spam")).await,
            "instance B still listed the hidden brand 1 s after the hide"
        );
        let _ = stop_a.send(());
        let _ = stop_b.send(());
    })
    .await;
}

/// The command of a production-profile `gantry` process on these backends, ports, exchange and bucket: a clean
/// environment with the test secrets, `warn` logs, output discarded. Callers add their own settings.
pub(crate) fn production_command(
    database: &SecretString,
    b: &Backends,
    ports: (u16, u16),
    exchange: &str,
    bucket: &str,
) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_gantry"));
    command
        .env_clear()
        .env("GANTRY_PROFILE", "production")
        .env("GANTRY_HTTP_ADDR", format!("127.0.0.1:{}", ports.0))
        .env("GANTRY_ADMIN_ADDR", format!("127.0.0.1:{}", ports.1))
        .env("GANTRY_DATABASE_URL", database.expose_secret())
        .env("GANTRY_REDIS_URL", &b.redis)
        .env("GANTRY_AMQP_URL", &b.amqp)
        .env("GANTRY_S3_ENDPOINT", &b.s3_endpoint)
        .env("GANTRY_S3_BUCKET", bucket)
        .env("GANTRY_BUS__EXCHANGE", exchange)
        .env("GANTRY_LOG", "warn")
        .env("JWT_SECRET", JWT)
        .env("UPLOAD_GUEST_TOKEN_SECRET", UPLOAD)
        .env("GANTRY_ADMIN_TOKEN", ADMIN)
        .env("S3_ACCESS_KEY_ID", &b.s3_key_id)
        .env("S3_SECRET_ACCESS_KEY", &b.s3_secret)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    command
}

/// Starts a production-profile `gantry` process (its own metrics) on the given exchange and bucket; returns it
/// with its public base URL and admin port once `/healthz` answers.
async fn spawn_process(
    database: &SecretString,
    b: &Backends,
    exchange: &str,
    bucket: &str,
) -> (std::process::Child, String, u16) {
    let (port, admin_port) = (free_port(), free_port());
    let mut child =
        production_command(database, b, (port, admin_port), exchange, bucket).spawn().expect("gantry binary");
    let http = format!("http://127.0.0.1:{port}");
    let answers = async || {
        let up = reqwest::get(format!("{http}/healthz")).await.is_ok();
        if !up {
            assert!(child.try_wait().expect("status").is_none(), "the instance exited at start-up");
        }
        up
    };
    // As before the helper: after the deadline the caller goes on, and its own requests fail.
    let _up = settled(Deadline::ms(20_000, 100), answers, |up| *up).await;
    (child, http, admin_port)
}

/// A cold instance fills its option cache from Redis: lists another instance loaded are read from the shared
/// cache (one hit per list), not from Postgres; a list of a newer catalog version is not served from it.
#[tokio::test]
async fn a_cold_instance_warms_its_option_cache_from_redis() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let exchange = format!("gantry.events.test-{}", uuid::Uuid::new_v4().simple());
        let bucket = format!("gantry-warm-{}", uuid::Uuid::new_v4().simple());
        let (a_http, _a_admin, stop_a) = start_in_bucket(&database, &b, &b.s3_secret, &exchange, &bucket, "").await;
        let client = reqwest::Client::new();
        let token = register_and_login(&client, &a_http, "warm@example.com").await;
        let create = |kind: &'static str, body: serde_json::Value| {
            client.post(format!("{a_http}/v1/options/{kind}")).bearer_auth(&token).json(&body).send()
        };
        let brand = json(create("brand", serde_json::json!({"name": "DAF"})).await.expect("req"), 201).await;
        json(create("model", serde_json::json!({"name": "XF", "parent_id": brand["id"]})).await.expect("req"), 201)
            .await;
        let models = |http: &str| format!("{http}/v1/options/model?parent_id={}", brand["id"].as_str().expect("id"));
        // A loads the list (and shares it).
        json(client.get(models(&a_http)).send().await.expect("req"), 200).await;

        let (mut child, c_http, c_admin_port) = spawn_process(&database, &b, &exchange, &bucket).await;
        let shared = |result: &'static str| {
            let client = client.clone();
            async move {
                let text = client
                    .get(format!("http://127.0.0.1:{c_admin_port}/metrics"))
                    .send()
                    .await
                    .expect("req")
                    .text()
                    .await
                    .expect("text");
                crate::prometheus::value_or_zero(
                    &text,
                    &format!("gantry_option_cache_shared_total{{result=\"{result}\"}}"),
                )
            }
        };
        let page = json(client.get(models(&c_http)).send().await.expect("req"), 200).await;
        assert_eq!(page["items"][0]["name"], "XF");
        // Two lists: the models, and the brands (a child list checks that its parent is not someone else's
        // pending option).
        assert_eq!(shared("hit").await, 2.0, "the cold instance read both lists from Redis");
        assert_eq!(shared("miss").await, 0.0);

        // A change raises the version: the old shared entry no longer matches.
        json(create("model", serde_json::json!({"name": "CF", "parent_id": brand["id"]})).await.expect("req"), 201)
            .await;
        let names_on_c = async || {
            let page = json(client.get(models(&c_http)).send().await.expect("req"), 200).await;
            page["items"].as_array().expect("items").iter().map(|m| m["name"].clone()).collect::<Vec<_>>()
        };
        let names = settled(Deadline::ms(5_000, 10), names_on_c, |names| names.len() == 2).await;
        assert_eq!(names, [serde_json::json!("CF"), serde_json::json!("XF")]);
        assert_eq!(shared("miss").await, 1.0, "the new version's list came from Postgres");
        let _ = child.kill();
        let _ = child.wait();
        let _ = stop_a.send(());
    })
    .await;
}

/// Instance B as its own `gantry` process (its own metrics), sharing A's stores and bus exchange: after a
/// create on A, B's cache misses exactly once for the changed list; after B's bus connection is killed and a
/// change is made while it is away, B serves fresh data once it has reconnected.
#[tokio::test]
async fn option_cache_on_a_separate_process_misses_once_and_recovers_after_a_bus_loss() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let exchange = format!("gantry.events.test-{}", uuid::Uuid::new_v4().simple());
        let bucket = format!("gantry-proc-{}", uuid::Uuid::new_v4().simple());
        let (a_http, _a_admin, stop_a) = start_in_bucket(&database, &b, &b.s3_secret, &exchange, &bucket, "").await;
        let (mut child, b_http, b_admin_port) = spawn_process(&database, &b, &exchange, &bucket).await;
        let (_, ready) = readiness(&b_http, |v| v["components"]["bus"]["status"] == "up").await;
        let b_instance = ready["instance_id"].as_str().expect("instance id").to_owned();
        let client = reqwest::Client::new();
        let b_misses = || {
            let client = client.clone();
            async move {
                let text = client
                    .get(format!("http://127.0.0.1:{b_admin_port}/metrics"))
                    .send()
                    .await
                    .expect("req")
                    .text()
                    .await
                    .expect("text");
                crate::prometheus::value_or_zero(&text, "gantry_option_cache_misses_total{kind=\"model\"}")
            }
        };

        let token = register_and_login(&client, &a_http, "proc@example.com").await;
        let create = |kind: &'static str, body: serde_json::Value| {
            client.post(format!("{a_http}/v1/options/{kind}")).bearer_auth(&token).json(&body).send()
        };
        let brand = json(create("brand", serde_json::json!({"name": "Terberg"})).await.expect("req"), 201).await;
        let models = format!("{b_http}/v1/options/model?parent_id={}", brand["id"].as_str().expect("id"));
        let names_on_b = || {
            let client = client.clone();
            let models = models.clone();
            async move {
                let page = json(client.get(&models).send().await.expect("req"), 200).await;
                page["items"]
                    .as_array()
                    .expect("items")
                    .iter()
                    .filter_map(|m| m["name"].as_str().map(str::to_owned))
                    .collect::<Vec<_>>()
            }
        };
        names_on_b().await;
        names_on_b().await;
        let before = b_misses().await;

        json(create("model", serde_json::json!({"name": "YT223", "parent_id": brand["id"]})).await.expect("req"), 201)
            .await;
        let seen = poll(Deadline::ms(5_000, 10), &names_on_b, |names| names.iter().any(|n| n == "YT223")).await.is_ok();
        assert!(seen, "B lists A's model");
        for _ in 0..5 {
            names_on_b().await;
        }
        assert_eq!(b_misses().await - before, 1.0, "B's cache missed exactly once for the changed list");

        // Cut B off the bus, change the catalog while it is away, and let it reconnect.
        assert!(crate::rabbitmq::close_connections_named(&b_instance) > 0, "B's bus connections found");
        json(create("model", serde_json::json!({"name": "YT203", "parent_id": brand["id"]})).await.expect("req"), 201)
            .await;
        let fresh =
            poll(Deadline::ms(15_000, 100), names_on_b, |names| names.iter().any(|n| n == "YT203")).await.is_ok();
        assert!(fresh, "B serves fresh data after its bus connection was restored");
        let _ = child.kill();
        let _ = child.wait();
        let _ = stop_a.send(());
    })
    .await;
}

/// Two instances with RabbitMQ and Postgres: a template set imported on A is checked, stored, and served by B
/// within 1 s, although B had the form cached; a set with problems is refused on A and changes nothing.
#[tokio::test]
async fn templates_imported_on_one_instance_are_served_by_the_other() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let ((_a_http, a_admin, stop_a), (b_http, _b_admin, stop_b)) =
            two_instances(&database, &b, "templates", "", Buses::Shared).await;
        let client = reqwest::Client::new();
        let category = serde_json::json!({"kind": "category", "name": "Road sweepers", "has_engine": true});
        let created =
            client.post(format!("{a_admin}/admin/options")).bearer_auth(ADMIN).json(&category).send().await.expect("req");
        let category = json(created, 201).await["option"].clone();
        let form_url = |http: &str| format!("{http}/v1/templates/{}", category["id"].as_str().expect("id"));
        // B resolves (and caches) the default form first: listing fields and the engine block.
        let before = json(client.get(form_url(&b_http)).send().await.expect("req"), 200).await;
        assert_eq!(before["source"], "default");
        assert!(before.to_string().contains("\"fuel_type\""), "{before}");

        let bad = serde_json::json!({"templates": [{"category": "Road sweepers", "blocks": [{"name": "sweeper",
            "fields": [{"name": "brush_count", "type": "integer", "label": "Brushes", "visibleIf": {"var": "hopper"}}]}]}]});
        let refused =
            client.post(format!("{a_admin}/admin/templates")).bearer_auth(ADMIN).json(&bad).send().await.expect("req");
        let problem = json(refused, 422).await;
        assert_eq!(problem["problems"][0]["field"], "brush_count", "{problem}");

        let good = serde_json::json!({"templates": [{"category": "Road sweepers", "blocks": [{"use": "listing_block"},
            {"name": "sweeper", "label": "Sweeper", "fields": [
                {"name": "hopper_m3", "type": "number", "label": "Hopper (m³)", "validation": {"min": 0.5, "max": 20}},
                {"name": "brush_count", "type": "integer", "label": "Brushes", "visibleIf": {">": [{"var": "hopper_m3"}, 0]}}]}]}]});
        json(client.post(format!("{a_admin}/admin/templates")).bearer_auth(ADMIN).json(&good).send().await.expect("req"), 200)
            .await;
        let form_on_b = async || json(client.get(form_url(&b_http)).send().await.expect("req"), 200).await;
        let served = poll(Deadline::ms(1_000, 10), form_on_b, |form| form["source"] == "category").await.ok();
        let form = served.expect("instance B did not serve the imported template within 1 s");
        let text = form.to_string();
        assert!(text.contains("\"hopper_m3\"") && text.contains("\"fuel_type\""), "{form}");
        let _ = stop_a.send(());
        let _ = stop_b.send(());
    })
    .await;
}
