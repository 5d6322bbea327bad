//! `spawn_app()`: a Gantry on the local profile with known secrets, bound to free ports.

use figment::Figment;
use figment::providers::{Format, Toml};
use gantry::config::secrets::{self, SecretEnv};
use gantry::config::{Profile, Settings};
use gantry::gateway::AppState;
use gantry::startup::{Application, Backends};
use tokio::sync::oneshot;

use crate::eventually::{Deadline, eventually};

pub const JWT: &str = "q7R2vX9kLm4PzT8wN3bH6yC1dF5gJ0sA";
pub const UPLOAD: &str = "Zt5Kp2Wq9Lx7Mv3Bn8Rc4Hd6Jf1Gs0Ya";
pub const ADMIN_TOKEN: &str = "Hn4Bv7Cx2Zl9Kj5Mg8Df3Sa6Qw1Er0Ty";

pub struct TestApp {
    pub http: String,
    pub admin: String,
    pub state: AppState,
    /// The ports behind the owners, to arrange scenarios (the gateway never sees them).
    pub backends: Backends,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    join: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    data_dir: Option<tempfile::TempDir>,
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
    let mut app = spawn_app_in(dir.path(), toml).await;
    app.data_dir = Some(dir);
    app
}

/// A Gantry whose data folder is `data_dir` (kept after it stops: restart tests).
pub async fn spawn_app_in(data_dir: &std::path::Path, toml: &str) -> TestApp {
    let env = SecretEnv::from_pairs([
        ("JWT_SECRET".to_owned(), JWT.to_owned()),
        ("UPLOAD_GUEST_TOKEN_SECRET".to_owned(), UPLOAD.to_owned()),
        ("GANTRY_ADMIN_TOKEN".to_owned(), ADMIN_TOKEN.to_owned()),
    ]);
    spawn_app_with_secrets(data_dir, toml, env).await
}

/// A Gantry with its secrets read from `env` (variables, or `*_FILE` paths that rotation tests rewrite).
pub async fn spawn_app_with_secrets(data_dir: &std::path::Path, toml: &str, env: SecretEnv) -> TestApp {
    let base = format!(
        "http_addr = \"127.0.0.1:0\"\nadmin_addr = \"127.0.0.1:0\"\ndata_dir = {:?}\n",
        data_dir.display().to_string()
    );
    // Seeding the catalog costs each app a few hundred writes: only the catalog tests ask for it.
    let figment = Figment::new()
        .merge(Toml::string(&base))
        .merge(Toml::string("[catalog]\nseed_on_first_start = false\n"))
        // Tests register many users from 127.0.0.1; the registration limit has tests of its own.
        .merge(Toml::string("[sessions]\nregistrations_per_address = 10000\n"))
        .merge(Toml::string(toml));
    let settings = Settings::load_from(Some(Profile::Local), figment).expect("test settings are valid");
    let (keyring, report) = secrets::load(&settings, &env, true);
    let keyring = keyring.unwrap_or_else(|| panic!("test secrets are valid: {:?}", report.lines()));
    let app = Application::build_with_secrets(settings, keyring, env).await.expect("app builds");
    let http = format!("http://{}", app.http_addr());
    let admin = format!("http://{}", app.admin_addr());
    let state = app.state().clone();
    let backends = app.backends().clone();
    let (tx, rx) = oneshot::channel::<()>();
    let join = tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    TestApp {
        http,
        admin,
        state,
        backends,
        client: reqwest::Client::new(),
        shutdown: Some(tx),
        join: Some(join),
        data_dir: None,
    }
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

pub const PASSWORD: &str = "harvest-tractor-blue-42";

/// The parsed JSON of a response, asserting its status.
pub async fn json_of(response: reqwest::Response, status: u16) -> serde_json::Value {
    let actual = response.status().as_u16();
    let text = response.text().await.expect("body");
    assert_eq!(actual, status, "{text}");
    serde_json::from_str(&text).expect("JSON body")
}

impl TestApp {
    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::RequestBuilder {
        self.client.post(format!("{}{path}", self.http)).json(body)
    }

    /// Registers `email` with [`PASSWORD`]; returns the user id.
    pub async fn register(&self, email: &str) -> String {
        let request = self.post_json("/v1/auth/register", &serde_json::json!({"email": email, "password": PASSWORD}));
        let body = json_of(request.send().await.expect("request"), 201).await;
        body["user_id"].as_str().expect("id").to_owned()
    }

    /// Logs in; returns the token pair.
    pub async fn login(&self, email: &str) -> serde_json::Value {
        let request = self.post_json("/v1/auth/login", &serde_json::json!({"email": email, "password": PASSWORD}));
        json_of(request.send().await.expect("request"), 200).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        let body = serde_json::json!({"refresh_token": refresh_token});
        self.post_json("/v1/auth/refresh", &body).send().await.expect("request")
    }

    pub async fn me(&self, access_token: &str) -> reqwest::Response {
        self.get("/v1/auth/me").bearer_auth(access_token).send().await.expect("request")
    }
}

/// The `access_token` of a pair.
pub fn access(pair: &serde_json::Value) -> &str {
    pair["access_token"].as_str().expect("access_token")
}

/// The `refresh_token` of a pair.
pub fn refresh_of(pair: &serde_json::Value) -> &str {
    pair["refresh_token"].as_str().expect("refresh_token")
}

/// The object store's body type, for tests that write objects directly.
pub type ByteChunks = gantry_actors::ports::objects::ByteStream;

/// The `gantry` binary as an operator runs it from `dir`: nothing inherited from the test's environment, its
/// data in `dir/data`, both listeners on port 0.
pub fn gantry_cli(dir: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_gantry"));
    cmd.env_clear()
        .current_dir(dir)
        .env("GANTRY_DATA_DIR", dir.join("data"))
        .env("GANTRY_HTTP_ADDR", "127.0.0.1:0")
        .env("GANTRY_ADMIN_ADDR", "127.0.0.1:0");
    cmd
}

/// `gantry ARGS --admin-url <app's admin listener>` with the admin token, run from `dir` off the test's thread
/// (the instance answers meanwhile).
pub fn admin_cli(app: &TestApp, dir: &std::path::Path, args: &[&str]) -> tokio::task::JoinHandle<std::process::Output> {
    let mut command = gantry_cli(dir);
    command.args(args).args(["--admin-url", &app.admin]).env("GANTRY_ADMIN_TOKEN", ADMIN_TOKEN);
    tokio::task::spawn_blocking(move || command.output().expect("runs"))
}

/// Runs `cmd` to the end: its exit code and what it printed (stdout, then stderr).
pub fn output_of(cmd: &mut std::process::Command) -> (i32, String) {
    let out = cmd.output().expect("gantry runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// A real `gantry` process on the local profile (its own metrics, log and memory), for what an in-process app
/// cannot show. Killed when dropped.
pub struct Process {
    /// The child process.
    pub child: std::process::Child,
    /// Its public base URL.
    pub http: String,
    /// Its admin base URL.
    pub admin: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary with nothing inherited, its data in `dir/data`, both listeners on free ports and its output
/// discarded; `configure` adds settings (and may send stderr somewhere). Returns once `/healthz` answers.
pub async fn spawn_process(dir: &std::path::Path, configure: impl FnOnce(&mut std::process::Command)) -> Process {
    let free = || std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let (port, admin_port) = (free(), free());
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_gantry"));
    command
        .env_clear()
        .env("GANTRY_DATA_DIR", dir.join("data"))
        .env("GANTRY_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("GANTRY_ADMIN_ADDR", format!("127.0.0.1:{admin_port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    configure(&mut command);
    let child = command.spawn().expect("gantry binary");
    let process =
        Process { child, http: format!("http://127.0.0.1:{port}"), admin: format!("http://127.0.0.1:{admin_port}") };
    let client = reqwest::Client::new();
    let healthz = async || client.get(format!("{}/healthz", process.http)).send().await.map(|r| r.status());
    let _answered = eventually("gantry did not start", Deadline::ms(10_000, 50), healthz, Result::is_ok).await;
    process
}
