//! The verified-token cache (issue 23) seen from the API: a token already verified is answered without a
//! signature check (the hit counter rises, one entry per token), but a logout, a revoke-all and an emergency
//! rotation refuse it at the very next request, as if nothing were cached.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gantry::config::secrets::SecretEnv;
use gantry_actors::secrets::signing_key::{AccessAlgorithm, SigningKey};
use gantry_actors::sessions::AccessClaims;
use gantry_actors::sessions::tokens::sign_access_with;
use serde_json::json;

use crate::eventually::{Deadline, eventually};
use crate::helpers::{ADMIN_TOKEN, JWT, TestApp, UPLOAD, access, assert_problem, json_of, spawn_app_with_secrets};
use crate::prometheus::value_or_zero;

const HITS: &str = "gantry_access_token_cache_hits_total";

/// The signing key files an operator rewrites for a rotation.
pub struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    pub fn new(signing: &str, next: &str) -> Self {
        let keys = Self { dir: tempfile::tempdir().expect("tempdir") };
        keys.write(signing, next);
        keys
    }

    /// The folder of the files (and of the app's `data/`).
    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn write(&self, signing: &str, next: &str) {
        std::fs::write(self.dir.path().join("signing"), signing).expect("write");
        std::fs::write(self.dir.path().join("next"), next).expect("write");
    }

    fn env(&self) -> SecretEnv {
        let path = |n: &str| self.dir.path().join(n).display().to_string();
        SecretEnv::from_pairs([
            ("JWT_SECRET".to_owned(), JWT.to_owned()),
            ("UPLOAD_GUEST_TOKEN_SECRET".to_owned(), UPLOAD.to_owned()),
            ("GANTRY_ADMIN_TOKEN".to_owned(), ADMIN_TOKEN.to_owned()),
            ("JWT_SIGNING_KEY_FILE".to_owned(), path("signing")),
            ("JWT_SIGNING_KEY_NEXT_FILE".to_owned(), path("next")),
        ])
    }
}

pub fn eddsa() -> String {
    SigningKey::generate_pem(AccessAlgorithm::EdDsa)
}

pub async fn app(keys: &Keys, extra: &str) -> TestApp {
    let toml = format!("[sessions]\naccess_token_algorithm = \"EdDSA\"\n{extra}");
    spawn_app_with_secrets(&keys.dir.path().join("data"), &toml, keys.env()).await
}

/// Runs a rotation through the admin API to its end; returns the job.
pub async fn rotate(app: &TestApp, body: &serde_json::Value) -> serde_json::Value {
    let accepted =
        json_of(app.admin_post("/admin/secrets/rotate").json(body).send().await.expect("request"), 202).await;
    finished(app, accepted["job_id"].as_str().expect("job id")).await
}

/// Follows the rotation or rollback job `id` to its end; returns the job.
pub async fn finished(app: &TestApp, id: &str) -> serde_json::Value {
    let job = async || json_of(app.admin_get(&format!("/admin/jobs/{id}")).send().await.expect("request"), 200).await;
    let ended = |job: &serde_json::Value| job["state"] == "completed" || job["state"] == "discarded";
    eventually("the rotation ends", Deadline::ms(15_000, 50), job, ended).await
}

async fn hits(app: &TestApp) -> f64 {
    value_or_zero(&app.metrics().await, HITS)
}

/// Authenticates `token` twice (verified, then cached) and checks the second was a cache hit.
async fn cached(app: &TestApp, token: &str) {
    assert_eq!(app.me(token).await.status(), 200);
    let before = hits(app).await;
    assert_eq!(app.me(token).await.status(), 200);
    assert!(hits(app).await > before, "the second request was answered from the cache");
}

/// A logged-out session's token and a token of before a revoke-all are refused at the next request although
/// their signatures are cached; the cache reports its entries and bytes.
#[tokio::test]
async fn a_cached_token_is_refused_once_its_session_is_revoked() {
    let keys = Keys::new(&eddsa(), &eddsa());
    let app = app(&keys, "").await;
    app.register("leaving@example.com").await;
    app.register("staying@example.com").await;
    let leaving = access(&app.login("leaving@example.com").await).to_owned();
    let staying = access(&app.login("staying@example.com").await).to_owned();
    cached(&app, &leaving).await;
    cached(&app, &staying).await;
    let page = app.metrics().await;
    assert!(value_or_zero(&page, "gantry_access_token_cache_entries") >= 2.0, "entries gauge");
    assert!(value_or_zero(&page, "gantry_access_token_cache_bytes") >= 600.0, "bytes gauge");

    let logout = app.post_json("/v1/auth/logout", &json!({})).bearer_auth(&leaving).send().await.expect("request");
    assert_eq!(logout.status(), 204);
    assert_problem(app.me(&leaving).await, 401, "session_revoked").await;
    assert_eq!(app.me(&staying).await.status(), 200, "other sessions are untouched");

    let revoked = app.admin_post("/admin/sessions/revoke-all").json(&json!({"reason": "test"})).send().await;
    assert!(revoked.expect("request").status().is_success());
    assert_problem(app.me(&staying).await, 401, "session_revoked").await;
}

/// An emergency rotation retires the signing key: a token of it that the cache holds — minted to outlive the
/// rotation's mass logout (issued a few seconds ahead, in a session created after it), so only the key can
/// refuse it — is refused as `token_invalid` at the next request, on the instance that cached it.
#[tokio::test]
async fn an_emergency_rotation_refuses_the_old_keys_cached_token_at_once() {
    let (old, next, newer) = (eddsa(), eddsa(), eddsa());
    let keys = Keys::new(&old, &next);
    let app = app(&keys, "").await;
    app.register("rotated@example.com").await;
    let real = access(&app.login("rotated@example.com").await).to_owned();
    let part = real.split('.').nth(1).expect("a JWT");
    let mut claims: AccessClaims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("claims");
    let ahead = time::OffsetDateTime::now_utc().unix_timestamp() + 20;
    let seconds = u64::try_from(ahead).expect("positive");
    claims.sid = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, seconds, 0));
    claims.iat = ahead;
    claims.exp = ahead + 600;
    let minted = sign_access_with(&claims, &SigningKey::parse(&old).expect("valid"));
    cached(&app, &minted).await;
    cached(&app, &real).await;

    keys.write(&next, &newer);
    let job = rotate(&app, &json!({"invalidate_sessions": true, "requested_by": "token cache test"})).await;
    assert_eq!(job["state"], "completed", "{job}");
    assert!(time::OffsetDateTime::now_utc().unix_timestamp() < ahead, "the rotation ended before the minted iat");
    assert_problem(app.me(&minted).await, 401, "token_invalid").await;
    assert_problem(app.me(&real).await, 401, "token_invalid").await;
    let fresh = access(&app.login("rotated@example.com").await).to_owned();
    cached(&app, &fresh).await;
}
