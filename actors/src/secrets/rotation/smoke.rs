//! The rotation's smoke step: the runbook's smoke test against this instance through the [`SmokeCheck`]
//! port, plus the pending keys: an access token signed with the pending `JWT_SECRET` must authenticate, a
//! guest token of the pending upload secret must upload and download, the pending S3 credentials must pass
//! `HeadBucket`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Rotations;
use super::evidence::now;
use crate::ports::accounts::User;
use crate::ports::smoke::{GuestUpload, SmokeAccount, SmokeCheck};
use crate::secrets::KeyRing;
use crate::secrets::SecretName;
use crate::secrets::keyring::{SecretOrigin, SecretVersion, Versions};

impl Rotations {
    /// The runbook's smoke test against this instance, plus the pending keys: an access token signed with the
    /// pending `JWT_SECRET` must authenticate, a guest token of the pending upload secret must upload and
    /// download, the pending S3 credentials must pass `HeadBucket`.
    pub(super) async fn smoke(&self) -> Value {
        let (account, ephemeral) = match &self.deps.smoke_account {
            Some((email, password)) => (
                SmokeAccount {
                    email: email.clone(),
                    password: secrecy::ExposeSecret::expose_secret(password).to_owned(),
                    ephemeral: false,
                },
                false,
            ),
            None => (SmokeAccount::ephemeral(), true),
        };
        let check = self.deps.smoke.as_ref();
        let created = if ephemeral { self.create_smoke_account(&account).await } else { Ok(()) };
        let report = match created {
            Err(e) => json!({"ok": false, "error": format!("creating the ephemeral account: {e}")}),
            Ok(()) => match check.runbook(&account).await {
                Ok(report) => report,
                Err(e) => json!({"ok": false, "error": e}),
            },
        };
        let pending = self.pending_checks(check, &account).await;
        if ephemeral && let Ok(Some(user)) = self.deps.accounts.user_by_email(&account.email).await {
            let _ = self.deps.accounts.delete_user(user.id).await;
        }
        let ok = report["ok"] == true && pending.iter().all(|c| c["ok"] == true);
        json!({"ok": ok, "runbook": report, "pending": pending})
    }

    /// Stores the ephemeral account directly, as the operator's `users add` does: the public registration
    /// would count it against this host's address, and repeated smokes would spend the limit (issue 25.3).
    async fn create_smoke_account(&self, account: &SmokeAccount) -> Result<(), String> {
        let password = account.password.clone();
        let phc = tokio::task::spawn_blocking(move || crate::accounts::password::hash_password(&password))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let user = User {
            id: uuid::Uuid::now_v7(),
            email: account.email.clone(),
            password_hash: phc,
            created_at: time::OffsetDateTime::now_utc(),
            disabled_at: None,
        };
        self.deps.accounts.create_user(&user).await.map_err(|e| e.to_string())
    }

    async fn pending_checks(&self, check: &dyn SmokeCheck, account: &SmokeAccount) -> Vec<Value> {
        let ring = self.deps.secrets.keyring();
        let mut checks = Vec::new();
        if let Some(pending) = ring.pending(SecretName::JwtSecret) {
            let outcome = async {
                let token = check.login(account).await?;
                let claims = crate::sessions::tokens::verify_access(&token, &ring, &self.deps.settings.tokens)
                    .map_err(|e| format!("{e:?}"))?;
                let resigned = crate::sessions::tokens::sign_access(&claims, pending);
                let status = check.me(&resigned).await?;
                check.logout(&token).await;
                if status == 200 {
                    Ok(())
                } else {
                    Err(format!("GET /v1/auth/me with a token of the pending key: {status}"))
                }
            }
            .await;
            checks.push(json!({"name": "JWT_SECRET pending signs a token that authenticates", "ok": outcome.is_ok(), "detail": outcome.err()}));
        }
        if let Some(pending) = ring.pending(SecretName::JwtSigningKey) {
            let outcome = async {
                let key = crate::secrets::signing_key::SigningKey::parse(pending.expose())
                    .map_err(|e| format!("JWT_SIGNING_KEY {e}"))?;
                let token = check.login(account).await?;
                let claims = crate::sessions::tokens::verify_access(&token, &ring, &self.deps.settings.tokens)
                    .map_err(|e| format!("{e:?}"))?;
                let resigned = crate::sessions::tokens::sign_access_with(&claims, &key);
                let status = check.me(&resigned).await?;
                check.logout(&token).await;
                if status == 200 {
                    Ok(())
                } else {
                    Err(format!("GET /v1/auth/me with a token of the pending signing key: {status}"))
                }
            }
            .await;
            checks.push(json!({"name": "JWT_SIGNING_KEY pending signs a token that authenticates", "ok": outcome.is_ok(), "detail": outcome.err()}));
        }
        if let Some(pending) = ring.pending(SecretName::UploadGuestTokenSecret) {
            let outcome = async {
                let only = KeyRing::new(BTreeMap::from([(
                    SecretName::UploadGuestTokenSecret,
                    Versions::only(SecretVersion::first(pending.clone(), SecretOrigin::File)),
                )]));
                let (token, _) = crate::uploads::guest_token::issue(&only, &self.deps.settings.guest, now());
                let body: Vec<u8> =
                    b"\x89PNG\r\n\x1a\n".iter().copied().chain((0..2040u32).map(|i| (i % 251) as u8)).collect();
                let id = match check.upload(&token, body.clone()).await? {
                    GuestUpload::Created(id) => id,
                    GuestUpload::Refused(status) => {
                        return Err(format!("upload with a guest token of the pending key: {status}"));
                    }
                };
                let bytes = check.download(&token, &id).await?;
                check.delete_upload(&token, &id).await;
                if bytes == body { Ok(()) } else { Err("downloaded bytes differ".into()) }
            }
            .await;
            checks.push(json!({"name": "UPLOAD_GUEST_TOKEN_SECRET pending signs a guest token that uploads and downloads", "ok": outcome.is_ok(), "detail": outcome.err()}));
        }
        if ring.pending(SecretName::S3AccessKeyId).is_some() || ring.pending(SecretName::S3SecretAccessKey).is_some() {
            let key = ring.pending(SecretName::S3AccessKeyId).or_else(|| ring.current(SecretName::S3AccessKeyId));
            let secret =
                ring.pending(SecretName::S3SecretAccessKey).or_else(|| ring.current(SecretName::S3SecretAccessKey));
            let outcome = match (key, secret) {
                (Some(k), Some(s)) => self.deps.objects.check_credentials(k, s).await.map_err(|e| e.to_string()),
                _ => Err("incomplete S3 credentials".into()),
            };
            checks.push(json!({"name": "S3 pending credentials pass HeadBucket", "ok": outcome.is_ok(), "detail": outcome.err()}));
        }
        checks
    }
}

/// The first failed smoke step, as a reason.
pub(super) fn smoke_reason(smoke: &Value) -> String {
    let runbook = smoke["runbook"]["steps"].as_array().into_iter().flatten();
    let pending = smoke["pending"].as_array().into_iter().flatten();
    runbook
        .chain(pending)
        .find(|s| s["ok"] == false)
        .map(|s| format!("{}: {}", s["name"].as_str().unwrap_or("?"), s["detail"].as_str().unwrap_or("failed")))
        .or_else(|| smoke["runbook"]["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "the smoke test failed".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failed rotation names the first failed check, the runbook's steps before the pending keys' checks.
    #[test]
    fn the_reason_is_the_first_failed_check() {
        let smoke = json!({"ok": false,
            "runbook": {"ok": false, "steps": [{"name": "login", "ok": true, "detail": "200"},
                {"name": "upload", "ok": false, "detail": "expected 201, got 413"}]},
            "pending": [{"name": "S3 pending credentials pass HeadBucket", "ok": false, "detail": "403"}]});
        assert_eq!(smoke_reason(&smoke), "upload: expected 201, got 413");
        let pending_only = json!({"ok": false, "runbook": {"ok": true, "steps": [{"name": "login", "ok": true}]},
            "pending": [{"name": "JWT_SECRET pending signs a token that authenticates", "ok": false, "detail": null}]});
        assert_eq!(smoke_reason(&pending_only), "JWT_SECRET pending signs a token that authenticates: failed");
    }

    /// A smoke test that could not run at all gives its error as the reason.
    #[test]
    fn a_smoke_test_that_could_not_run_gives_its_error() {
        let smoke =
            json!({"ok": false, "runbook": {"ok": false, "error": "cannot build the HTTP client"}, "pending": []});
        assert_eq!(smoke_reason(&smoke), "cannot build the HTTP client");
    }
}
