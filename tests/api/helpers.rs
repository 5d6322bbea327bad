//! `spawn_app()`: a Gantry on the local profile with known secrets, bound to free ports.

use figment::Figment;
use figment::providers::{Format, Toml};
use gantry::config::secrets::{self, SecretEnv};
use gantry::config::{Profile, Settings};
use gantry::gateway::AppState;
use gantry::startup::Application;
use tokio::sync::oneshot;

pub const JWT: &str = "q7R2vX9kLm4PzT8wN3bH6yC1dF5gJ0sA";
pub const UPLOAD: &str = "Zt5Kp2Wq9Lx7Mv3Bn8Rc4Hd6Jf1Gs0Ya";
pub const ADMIN_TOKEN: &str = "Hn4Bv7Cx2Zl9Kj5Mg8Df3Sa6Qw1Er0Ty";

pub struct TestApp {
    pub http: String,
    pub admin: String,
    pub state: AppState,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    join: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub fn admin_get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(format!("{}{path}", self.admin)).bearer_auth(ADMIN_TOKEN)
    }

    pub fn admin_post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(format!("{}{path}", self.admin)).bearer_auth(ADMIN_TOKEN)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(format!("{}{path}", self.http))
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.client.get(format!("{}/metrics", self.admin)).send().await.expect("metrics").text().await.expect("text")
    }

    /// Stops the app the way SIGTERM does and waits for it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.join.take().expect("running").await.expect("app task")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A Gantry with default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with("").await
}

/// A Gantry with `toml` overlaid on the test settings.
pub async fn spawn_app_with(toml: &str) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = format!(
        "http_addr = \"127.0.0.1:0\"\nadmin_addr = \"127.0.0.1:0\"\ndata_dir = {:?}\n",
        dir.path().display().to_string()
    );
    let figment = Figment::new().merge(Toml::string(&base)).merge(Toml::string(toml));
    let settings = Settings::load_from(Some(Profile::Local), figment).expect("test settings are valid");
    let env = SecretEnv::from_pairs([
        ("JWT_SECRET".to_owned(), JWT.to_owned()),
        ("UPLOAD_GUEST_TOKEN_SECRET".to_owned(), UPLOAD.to_owned()),
        ("GANTRY_ADMIN_TOKEN".to_owned(), ADMIN_TOKEN.to_owned()),
    ]);
    let (keyring, report) = secrets::load(&settings, &env, true);
    let keyring = keyring.unwrap_or_else(|| panic!("test secrets are valid: {:?}", report.lines()));
    let app = Application::build(settings, keyring).await.expect("app builds");
    let http = format!("http://{}", app.http_addr());
    let admin = format!("http://{}", app.admin_addr());
    let state = app.state().clone();
    let (tx, rx) = oneshot::channel::<()>();
    let join = tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    TestApp { http, admin, state, client: reqwest::Client::new(), shutdown: Some(tx), join: Some(join), _dir: dir }
}

/// Asserts a problem+json response with `status` and `code`, returning the body.
pub async fn assert_problem(response: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: serde_json::Value = response.json().await.expect("problem body is JSON");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    body
}
