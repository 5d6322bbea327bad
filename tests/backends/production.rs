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

use crate::postgres::with_fresh_database;
use crate::support::backend_env;

const JWT: &str = "q7R2vX9kLm4PzT8wN3bH6yC1dF5gJ0sA";
const UPLOAD: &str = "Zt5Kp2Wq9Lx7Mv3Bn8Rc4Hd6Jf1Gs0Ya";
const ADMIN: &str = "Hn4Bv7Cx2Zl9Kj5Mg8Df3Sa6Qw1Er0Ty";

struct Backends {
    redis: String,
    amqp: String,
    s3_endpoint: String,
    s3_key_id: String,
    s3_secret: String,
}

fn backends() -> Option<Backends> {
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
    let bucket = format!("gantry-prod-{}", uuid::Uuid::new_v4().simple());
    let toml = format!(
        "http_addr = \"127.0.0.1:0\"\nadmin_addr = \"127.0.0.1:0\"\ndatabase_url = {:?}\nredis_url = {:?}\n\
         amqp_url = {:?}\ns3_endpoint = {:?}\ns3_bucket = {bucket:?}\nlog_format = \"text\"\n",
        database.expose_secret(),
        b.redis,
        b.amqp,
        b.s3_endpoint,
    );
    let settings =
        Settings::load_from(Some(Profile::Production), Figment::new().merge(Toml::string(&toml))).expect("settings");
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
    let (keyring, report) = secrets::load(&settings, &env, true);
    let keyring = keyring.unwrap_or_else(|| panic!("secrets valid: {:?}", report.lines()));
    let app = Application::build(settings, keyring).await.expect("production app builds");
    let http = format!("http://{}", app.http_addr());
    let admin = format!("http://{}", app.admin_addr());
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    (http, admin, tx)
}

/// Polls `/readyz` until `done` accepts the body (the bus connects in the background).
async fn readiness(http: &str, done: impl Fn(&serde_json::Value) -> bool) -> (u16, serde_json::Value) {
    let mut last = (0, serde_json::Value::Null);
    for _ in 0..100 {
        let response = reqwest::get(format!("{http}/readyz")).await.expect("readyz");
        last = (response.status().as_u16(), response.json().await.expect("json"));
        if done(&last.1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
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
