//! The smoke check port: the calls a rotation's smoke step makes to this instance's public API (the runbook's
//! smoke test, then the pending keys tried one by one). The `gantry` crate implements it over HTTP; the
//! rotation runbook (`secrets::rotation`) decides what passes. Errors are the reasons evidence records.

use async_trait::async_trait;

/// The account a smoke test logs in with.
pub struct SmokeAccount {
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
    /// Created for this run and deleted after it (by the caller, as the operator: never through the public
    /// registration, whose per-address limit smoke runs must not spend).
    pub ephemeral: bool,
}

impl std::fmt::Debug for SmokeAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("email", &self.email)
            .field("ephemeral", &self.ephemeral)
            .finish_non_exhaustive()
    }
}

impl SmokeAccount {
    /// A fresh throw-away account (random email under `smoke.gantry.invalid` and a random password).
    #[must_use]
    pub fn ephemeral() -> Self {
        let mut secret = [0u8; 18];
        rand::fill(&mut secret);
        Self {
            email: format!("smoke-{}@smoke.gantry.invalid", uuid::Uuid::new_v4().simple()),
            password: hex::encode(secret),
            ephemeral: true,
        }
    }
}

/// How `POST /v1/uploads` with a guest token answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestUpload {
    /// 201: the upload's id.
    Created(String),
    /// Any other status, as the HTTP client prints it (`400 Bad Request`).
    Refused(String),
}

/// The smoke check capability.
#[async_trait]
pub trait SmokeCheck: Send + Sync + 'static {
    /// The runbook's smoke test (what `gantry smoke` runs) as `account`: its report as evidence stores it
    /// (`{ok, base_url, email, started_at, steps: [{name, ok, ms, detail}]}`).
    ///
    /// # Errors
    /// The test could not run at all (why).
    async fn runbook(&self, account: &SmokeAccount) -> Result<serde_json::Value, String>;

    /// `POST /v1/auth/login` as `account`: the access token.
    ///
    /// # Errors
    /// The request failed, or the answer carries no access token (`login failed`).
    async fn login(&self, account: &SmokeAccount) -> Result<String, String>;

    /// The status of `GET /v1/auth/me` with the access token `token`.
    ///
    /// # Errors
    /// The request failed.
    async fn me(&self, token: &str) -> Result<u16, String>;

    /// `POST /v1/auth/logout` with `token` (best effort: its outcome is not checked).
    async fn logout(&self, token: &str);

    /// `POST /v1/uploads` of `body` (`image/png`) with the guest token `token`.
    ///
    /// # Errors
    /// The request failed, or a 201 carries no upload id (`no upload id`).
    async fn upload(&self, token: &str, body: Vec<u8>) -> Result<GuestUpload, String>;

    /// The bytes of `GET /v1/uploads/{id}/content` with the guest token `token`.
    ///
    /// # Errors
    /// The request or reading its body failed.
    async fn download(&self, token: &str, id: &str) -> Result<Vec<u8>, String>;

    /// `DELETE /v1/uploads/{id}` with the guest token `token` (best effort).
    async fn delete_upload(&self, token: &str, id: &str);
}
