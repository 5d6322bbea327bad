//! `SmokeCheck` over HTTP: the runbook's smoke tests (steps 5 and 8, and the rollback's re-run) against a
//! deployment's public listener — login, token refresh, logout (and that the logged-out token is refused), and
//! the upload flow (guest token, upload, download, compare digest, delete). [`run`] gives the [`Report`] stored
//! as evidence (`gantry smoke` prints it); [`HttpSmokeCheck`] is the rotation's [`SmokeCheck`] port over the
//! same HTTP client. Without an existing account, an ephemeral one is registered for the run.

use std::time::{Duration, Instant};

use gantry_actors::ports::smoke::{GuestUpload, SmokeAccount, SmokeCheck};

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One step's outcome.
#[derive(Debug, Serialize)]
pub struct Step {
    /// What was checked.
    pub name: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// How long it took, milliseconds.
    pub ms: u128,
    /// What went wrong (status and problem code), or what was seen.
    pub detail: String,
}

/// The whole run, as stored for evidence.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Every step passed.
    pub ok: bool,
    /// The deployment tested.
    pub base_url: String,
    /// The account used (the password never appears).
    pub email: String,
    /// When the run started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: time::OffsetDateTime,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// A small real PNG-signed payload.
fn payload() -> Vec<u8> {
    let mut v = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    v.extend((0..4088u32).map(|i| u8::try_from(i % 251).unwrap_or(0)));
    v
}

struct Run {
    client: reqwest::Client,
    base: String,
    steps: Vec<Step>,
}

impl Run {
    /// Runs `check`, records it, and returns its value when it passed.
    async fn step<T, F>(&mut self, name: &'static str, check: F) -> Option<T>
    where
        F: Future<Output = Result<(T, String), String>>,
    {
        let started = Instant::now();
        let outcome = check.await;
        let ms = started.elapsed().as_millis();
        match outcome {
            Ok((value, detail)) => {
                self.steps.push(Step { name, ok: true, ms, detail });
                Some(value)
            }
            Err(detail) => {
                self.steps.push(Step { name, ok: false, ms, detail });
                None
            }
        }
    }
}

/// `status code` plus the problem `code`, for failure details.
async fn describe(response: reqwest::Response) -> String {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    match body["code"].as_str() {
        Some(code) => format!("{status} {code}"),
        None => status.to_string(),
    }
}

async fn expect_json(response: Result<reqwest::Response, reqwest::Error>, status: u16) -> Result<Value, String> {
    let response = response.map_err(|e| format!("request failed: {e}"))?;
    if response.status().as_u16() != status {
        return Err(format!("expected {status}, got {}", describe(response).await));
    }
    response.json().await.map_err(|e| format!("unreadable body: {e}"))
}

/// Runs every step against `base_url` (no trailing slash needed).
///
/// # Errors
/// Only when the HTTP client cannot be built; failed steps are in the report.
pub async fn run(base_url: &str, account: &SmokeAccount) -> anyhow::Result<Report> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let base = base_url.trim_end_matches('/').to_owned();
    let started_at = time::OffsetDateTime::now_utc();
    let mut run = Run { client, base, steps: Vec::new() };
    let creds = json!({"email": account.email, "password": account.password});

    let (client, url, body) = (run.client.clone(), format!("{}/v1/auth/login", run.base), creds.clone());
    let pair = run
        .step("login", async move {
            let pair = expect_json(client.post(url).json(&body).send().await, 200).await?;
            Ok((pair, "200 Bearer pair".into()))
        })
        .await;
    if let Some(pair) = pair {
        let access = pair["access_token"].as_str().unwrap_or_default().to_owned();
        let refresh_token = pair["refresh_token"].as_str().unwrap_or_default().to_owned();
        let (client, url, token) = (run.client.clone(), format!("{}/v1/auth/me", run.base), access.clone());
        run.step("access token accepted (/v1/auth/me)", async move {
            expect_json(client.get(url).bearer_auth(token).send().await, 200).await.map(|_| ((), "200".into()))
        })
        .await;
        let (client, url) = (run.client.clone(), format!("{}/v1/auth/refresh", run.base));
        let refreshed = run
            .step("token refresh", async move {
                let body = json!({"refresh_token": refresh_token});
                let pair = expect_json(client.post(url).json(&body).send().await, 200).await?;
                Ok((pair, "200 rotated pair".into()))
            })
            .await;
        let access = refreshed.as_ref().and_then(|p| p["access_token"].as_str()).unwrap_or(&access).to_owned();
        let (client, url, token) = (run.client.clone(), format!("{}/v1/auth/logout", run.base), access.clone());
        let logged_out = run
            .step("logout", async move {
                let response = client.post(url).bearer_auth(token).send().await.map_err(|e| e.to_string())?;
                if response.status() == 204 { Ok(((), "204".into())) } else { Err(describe(response).await) }
            })
            .await;
        if logged_out.is_some() {
            let (client, url) = (run.client.clone(), format!("{}/v1/auth/me", run.base));
            run.step("logged-out token refused", async move {
                let response = client.get(url).bearer_auth(access).send().await.map_err(|e| e.to_string())?;
                let seen = describe(response).await;
                if seen.starts_with("401") { Ok(((), seen)) } else { Err(format!("expected 401, got {seen}")) }
            })
            .await;
        }
    }

    let (client, url) = (run.client.clone(), format!("{}/v1/uploads/guest-token", run.base));
    let grant = run
        .step("guest upload token", async move {
            let grant = expect_json(client.post(url).send().await, 200).await?;
            Ok((grant, "200".into()))
        })
        .await;
    if let Some(grant) = grant {
        let token = grant["upload_token"].as_str().unwrap_or_default().to_owned();
        let bytes = payload();
        let digest = hex::encode(Sha256::digest(&bytes));
        let (client, url, up_token, want) =
            (run.client.clone(), format!("{}/v1/uploads", run.base), token.clone(), digest.clone());
        let uploaded = run
            .step("upload", async move {
                let response = client
                    .post(url)
                    .header("x-upload-token", up_token)
                    .header("content-type", "image/png")
                    .header("x-filename", "gantry-smoke.png")
                    .header("x-checksum-sha256", &want)
                    .body(bytes)
                    .send()
                    .await;
                let body = expect_json(response, 201).await?;
                if body["sha256"] == want.as_str() {
                    Ok((body, "201, digest matches".into()))
                } else {
                    Err("digest differs".into())
                }
            })
            .await;
        if let Some(body) = uploaded {
            let id = body["id"].as_str().unwrap_or_default().to_owned();
            let (client, url, dl_token) =
                (run.client.clone(), format!("{}/v1/uploads/{id}/content", run.base), token.clone());
            run.step("download and compare digest", async move {
                let response =
                    client.get(url).header("x-upload-token", dl_token).send().await.map_err(|e| e.to_string())?;
                if response.status() != 200 {
                    return Err(describe(response).await);
                }
                let got = response.bytes().await.map_err(|e| e.to_string())?;
                let got = hex::encode(Sha256::digest(&got));
                if got == digest {
                    Ok(((), "200, same SHA-256".into()))
                } else {
                    Err(format!("digest {got} != {digest}"))
                }
            })
            .await;
            let (client, url) = (run.client.clone(), format!("{}/v1/uploads/{id}", run.base));
            run.step("delete upload", async move {
                let response =
                    client.delete(url).header("x-upload-token", token).send().await.map_err(|e| e.to_string())?;
                if response.status() == 204 { Ok(((), "204".into())) } else { Err(describe(response).await) }
            })
            .await;
        }
    }
    let ok = !run.steps.is_empty() && run.steps.iter().all(|s| s.ok);
    Ok(Report { ok, base_url: run.base, email: account.email.clone(), started_at, steps: run.steps })
}

/// The rotation's smoke check against one instance's public listener, over HTTP.
pub struct HttpSmokeCheck {
    client: reqwest::Client,
    /// The listener's base URL, without a trailing slash.
    base: String,
}

impl HttpSmokeCheck {
    /// A check of the instance answering at `base_url`.
    #[must_use]
    pub fn new(base_url: &str) -> Self {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap_or_default();
        Self { client, base: base_url.trim_end_matches('/').to_owned() }
    }
}

#[async_trait::async_trait]
impl SmokeCheck for HttpSmokeCheck {
    async fn runbook(&self, account: &SmokeAccount) -> Result<Value, String> {
        let report = run(&self.base, account).await.map_err(|e| e.to_string())?;
        Ok(serde_json::to_value(&report).unwrap_or(Value::Null))
    }

    async fn login(&self, account: &SmokeAccount) -> Result<String, String> {
        let creds = json!({"email": account.email, "password": account.password});
        let pair: Value = self
            .client
            .post(format!("{}/v1/auth/login", self.base))
            .json(&creds)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        pair["access_token"].as_str().map(str::to_owned).ok_or_else(|| "login failed".to_owned())
    }

    async fn me(&self, token: &str) -> Result<u16, String> {
        let me = self
            .client
            .get(format!("{}/v1/auth/me", self.base))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        Ok(me.status().as_u16())
    }

    async fn logout(&self, token: &str) {
        let _ = self.client.post(format!("{}/v1/auth/logout", self.base)).bearer_auth(token).send().await;
    }

    async fn upload(&self, token: &str, body: Vec<u8>) -> Result<GuestUpload, String> {
        let up = self
            .client
            .post(format!("{}/v1/uploads", self.base))
            .header("x-upload-token", token)
            .header("content-type", "image/png")
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if up.status().as_u16() != 201 {
            return Ok(GuestUpload::Refused(up.status().to_string()));
        }
        let created: Value = up.json().await.map_err(|e| e.to_string())?;
        created["id"].as_str().map(|id| GuestUpload::Created(id.to_owned())).ok_or_else(|| "no upload id".to_owned())
    }

    async fn download(&self, token: &str, id: &str) -> Result<Vec<u8>, String> {
        let down = self
            .client
            .get(format!("{}/v1/uploads/{id}/content", self.base))
            .header("x-upload-token", token)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        Ok(down.bytes().await.map_err(|e| e.to_string())?.to_vec())
    }

    async fn delete_upload(&self, token: &str, id: &str) {
        let _ =
            self.client.delete(format!("{}/v1/uploads/{id}", self.base)).header("x-upload-token", token).send().await;
    }
}
