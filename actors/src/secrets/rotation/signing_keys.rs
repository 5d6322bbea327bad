//! The signing key's part of a rotation: the fleet's record of public signing keys, written after every step
//! from this instance's key set (what it publishes, until when; what it stopped publishing ends now), and the
//! wait between publishing a never-published key and signing with it (a rotation's new key, or the key a
//! rollback goes back to when it had left the key set).

use std::collections::BTreeSet;

use serde_json::{Value, json};
use uuid::Uuid;

use super::RotationArgs;
use super::Rotations;
use super::evidence::{Failure, Run};
use crate::ports::rotations::SigningKeyRecord;
use crate::secrets::signing_key::SigningKey;
use crate::secrets::{SecretName, SecretStep};
use crate::sessions::tokens::{self, PublishedKey};

impl Rotations {
    /// The keys this instance publishes now.
    pub(super) fn published_now(&self) -> Vec<PublishedKey> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        tokens::published_keys(&self.deps.secrets.keyring(), &self.deps.settings.tokens, now)
    }

    /// Records the keys published now (until when each verifies; not revoked — a rollback that publishes a
    /// revoked key again clears its mark), and ends the ones of `before` that are no longer published (retired,
    /// or a staged key put back). With `revoke` (the emergency retirement) the ended ones are marked revoked: an
    /// instance started later with one of them in its files refuses to start, and none adopts it.
    pub(super) async fn record_signing_keys(
        &self,
        run: &mut Run,
        before: &[PublishedKey],
        revoke: bool,
    ) -> Result<(), String> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let after = self.published_now();
        let mut records = crate::sessions::key_set::key_records(&after);
        records.extend(before.iter().filter(|b| !after.iter().any(|a| a.key.kid == b.key.kid)).map(|gone| {
            SigningKeyRecord {
                kid: gone.key.kid.clone(),
                public: serde_json::to_value(&gone.key).unwrap_or(Value::Null),
                verify_until: Some(now),
                revoked_at: revoke.then_some(now),
            }
        }));
        if records.is_empty() {
            return Ok(());
        }
        self.deps
            .store
            .record_signing_keys(&records)
            .await
            .map_err(|e| format!("the signing keys could not be recorded: {e}"))?;
        let kids: Vec<Value> = records
            .iter()
            .map(|r| json!({"kid": r.kid, "verify_until": r.verify_until, "revoked_at": r.revoked_at}))
            .collect();
        run.detail().insert("signing_keys".into(), Value::Array(kids));
        Ok(())
    }

    /// Whether the signing key `key` (a version's value; `None` when there is none) needs a `publish` step:
    /// `Some(kid)` when it was not in the key set at acceptance (`args.published`). Records
    /// `detail.signing_key` either way.
    fn unpublished(run: &mut Run, args: &RotationArgs, key: Option<&crate::secrets::SecretValue>) -> Option<String> {
        let kid = key.and_then(|v| SigningKey::parse(v.expose()).ok()).map(|k| k.public().kid.clone())?;
        let published_before = args.published.contains(&kid);
        run.detail().insert("signing_key".into(), json!({"kid": kid, "published_before": published_before}));
        (!published_before).then_some(kid)
    }

    /// The running `publish` step's wait: the key set's max-age, said in its progress and the log, then the
    /// step's end. `what` names the key (`the new signing key`, …).
    async fn wait_max_age(&self, run: &mut Run, kid: &str, what: &str) {
        let max_age = self.deps.settings.tokens.key_set_max_age;
        run.note(json!(format!(
            "{what} {kid} was not in the key set: it is published on every instance now; waiting {} s (the key \
             set's max-age) so every verifier's cached key set has it before it signs",
            max_age.as_secs()
        )))
        .await;
        tracing::info!(event = "signing_key_publish_wait", kid = %kid, seconds = max_age.as_secs(),
            "waiting the key set's max-age before signing with a newly published key");
        tokio::time::sleep(max_age).await;
        run.end(true, json!(format!("published {} s before signing", max_age.as_secs()))).await;
    }

    /// After `stage`: when the new `JWT_SIGNING_KEY` was not in the key set at acceptance (`args.published`),
    /// a `publish` step waits the key set's max-age, saying so in its progress, so every verifier that honours
    /// the max-age has the key before a token signed with it exists. A promoted next key needs no wait.
    pub(super) async fn wait_until_published(&self, run: &mut Run, args: &RotationArgs) {
        let ring = self.deps.secrets.keyring();
        let Some(kid) = Self::unpublished(run, args, ring.pending(SecretName::JwtSigningKey)) else { return };
        run.begin("publish").await;
        self.wait_max_age(run, &kid, "the new signing key").await;
    }

    /// Before a rollback: when the previous `JWT_SIGNING_KEY` — the key the rollback makes sign again — was not
    /// in the key set at acceptance (`args.published`: an emergency rotation retired it, or its window closed),
    /// a `publish` step publishes it again on every instance (acknowledged) and waits the key set's max-age, as
    /// a rotation to a never-published key does. A resumed rollback that had not rolled back yet waits again
    /// in full (it cannot know how long the stopped attempt waited).
    pub(super) async fn publish_before_rollback(
        &self,
        run: &mut Run,
        args: &RotationArgs,
        expected: &BTreeSet<Uuid>,
    ) -> Result<(), Failure> {
        let ring = self.deps.secrets.keyring();
        let previous = ring.versions(SecretName::JwtSigningKey).and_then(|v| v.previous.as_ref()).map(|p| &p.value);
        let Some(kid) = Self::unpublished(run, args, previous) else { return Ok(()) };
        run.begin("publish").await;
        if let Err(reason) = self.broadcast(run, SecretStep::RepublishPreviousSigningKey, expected).await {
            return run.step("publish", Err(reason)).await;
        }
        self.wait_max_age(run, &kid, "the signing key this rollback goes back to").await;
        Ok(())
    }
}
