//! The runbook's steps: validate, stage on every instance, smoke, promote on every instance, force re-login,
//! record; the rollback; the bus broadcast every instance acknowledges; the restore after a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

use super::evidence::{Failure, Run};
use super::smoke::smoke_reason;
use super::{RotationArgs, Rotations};
use crate::ports::bus::{BusSignal, Event};
use crate::secrets::keyring::VersionChange;
use crate::secrets::store::ALREADY_CURRENT;
use crate::secrets::{Fingerprint, SecretName, SecretStep};
use crate::sessions::registry::RevokeTarget;

impl Rotations {
    pub(super) async fn rotate(&self, run: &mut Run, args: &RotationArgs, gone: Option<Uuid>) -> Result<(), Failure> {
        if let Some(failure) = run.failed_before() {
            // An earlier attempt failed a step and stopped while putting instances back: finish that.
            let expected = self.expected(gone).await;
            self.restore(run, &expected).await;
            return Err(failure);
        }
        let recorded = run.done_before("validate").and_then(|d| serde_json::from_value(d["changed"].clone()).ok());
        let wanted: BTreeMap<SecretName, Fingerprint> = match recorded {
            Some(wanted) => wanted,
            None => {
                run.begin("validate").await;
                let validated = self.validate(&args.from);
                run.step("validate", validated).await?
            }
        };
        let changed: BTreeSet<SecretName> = wanted.keys().copied().collect();
        let invalidate = args.request.invalidate_sessions.unwrap_or(changed.contains(&SecretName::JwtSecret));
        run.detail().insert("secrets".into(), json!(changed));
        run.detail().insert("invalidate_sessions".into(), json!(invalidate));

        let expected = self.expected(gone).await;
        // Everything after validate changes instances: any failure puts every one back, once, here. A resumed
        // attempt goes forward from stage again (every step is safe to repeat), so the fleet ends promoted.
        let message = args.request.user_message.clone();
        let outcome = self.stage_to_record(run, args, &wanted, invalidate, message, &expected).await;
        if outcome.is_err() {
            self.restore(run, &expected).await;
        }
        outcome
    }

    /// Stage, smoke, promote, invalidate (when asked) and record; the caller restores on failure.
    pub(super) async fn stage_to_record(
        &self,
        run: &mut Run,
        args: &RotationArgs,
        wanted: &BTreeMap<SecretName, Fingerprint>,
        invalidate: bool,
        user_message: Option<String>,
        expected: &BTreeSet<Uuid>,
    ) -> Result<(), Failure> {
        run.begin("stage").await;
        let staged = self.broadcast(run, SecretStep::Stage, expected).await.and_then(|(acks, detail)| {
            // Every instance must hold the values validated here — staged, or already current (one started
            // after the files changed, or a resumed rotation's repeated stage): one whose files were not
            // updated would acknowledge with nothing staged and keep its old keys.
            for (instance, changes) in &acks {
                for (name, fingerprint) in wanted {
                    let holds = changes.iter().any(|c| {
                        c.name == *name
                            && (c.action == "staged" || c.action == ALREADY_CURRENT)
                            && c.to.as_ref() == Some(fingerprint)
                    });
                    if !holds {
                        return Err(format!(
                            "instance {instance} did not stage the validated {name} ({}); its secret source holds another value",
                            fingerprint.as_str()
                        ));
                    }
                }
            }
            Ok(((), detail))
        });
        run.step("stage", staged).await?;

        // Publish before signing: a new signing key that was not in the key set when the rotation was accepted
        // is published now (stage did that on every instance, acknowledged); verifiers that cache the set
        // for its max-age have all seen it once that much time has passed.
        if wanted.contains_key(&SecretName::JwtSigningKey) {
            self.wait_until_published(run, args).await;
        }

        run.begin("smoke").await;
        let smoke = self.smoke().await;
        run.detail().insert("smoke".into(), smoke.clone());
        let smoked = if smoke["ok"] == true { Ok(((), json!("passed"))) } else { Err(smoke_reason(&smoke)) };
        run.step("smoke", smoked).await?;

        run.begin("promote").await;
        let promoted = self.broadcast(run, SecretStep::Promote, expected).await.map(|(_, detail)| ((), detail));
        run.step("promote", promoted).await?;

        if invalidate {
            run.begin("invalidate").await;
            let reason = format!("secret rotation {}", run.record.id);
            let invalidated = self.invalidate(run, reason, user_message, expected).await;
            run.step("invalidate", invalidated).await?;
        }
        run.begin("record").await;
        run.end(true, json!("stored")).await;
        Ok(())
    }

    pub(super) async fn rollback(&self, run: &mut Run, args: &RotationArgs, gone: Option<Uuid>) -> Result<(), Failure> {
        if let Some(failure) = run.failed_before() {
            return Err(failure);
        }
        let expected = self.expected(gone).await;
        if run.done_before("rollback").is_none() {
            self.publish_before_rollback(run, args, &expected).await?;
            run.begin("rollback").await;
            let rolled = self.broadcast(run, SecretStep::Rollback, &expected).await.map(|(_, detail)| ((), detail));
            run.step("rollback", rolled).await?;
        }
        if args.invalidate.or(args.request.invalidate_sessions).unwrap_or(false) {
            run.begin("invalidate").await;
            let reason = format!("secret rollback {}", run.record.id);
            let invalidated = self.invalidate(run, reason, args.request.user_message.clone(), &expected).await;
            run.step("invalidate", invalidated).await?;
        }
        run.begin("record").await;
        run.end(true, json!("stored")).await;
        Ok(())
    }

    /// Validate: the source's values pass the start-up rules and at least one differs from the version in use
    /// when the job was accepted (`from`). Returns the new fingerprint of every secret that changes.
    pub(super) fn validate(
        &self,
        from: &BTreeMap<SecretName, Fingerprint>,
    ) -> Result<(BTreeMap<SecretName, Fingerprint>, Value), String> {
        let set = self.deps.source.read().map_err(|problems| problems.join("; "))?;
        let changed: BTreeMap<SecretName, Fingerprint> = set
            .iter()
            .filter(|(name, (value, _))| from.get(*name) != Some(value.fingerprint()))
            .map(|(name, (value, _))| (*name, value.fingerprint().clone()))
            .collect();
        if changed.is_empty() {
            return Err(format!(
                "nothing to rotate: the secret source of instance {} holds the values in use",
                self.deps.instance_id
            ));
        }
        let detail = json!({"changed": changed});
        Ok((changed, detail))
    }

    /// The instances expected to acknowledge: every one seen alive, and this one; not `gone` (the runner of
    /// an earlier attempt, whose heartbeat may not have aged out yet).
    pub(super) async fn expected(&self, gone: Option<Uuid>) -> BTreeSet<Uuid> {
        let mut expected: BTreeSet<Uuid> = self
            .deps
            .fleet
            .live_instances(self.deps.settings.live_within)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|i| Some(*i) != gone)
            .collect();
        expected.insert(self.deps.instance_id);
        expected
    }

    /// Publishes `step` and waits for every expected instance's acknowledgement; returns each instance's
    /// version changes.
    pub(super) async fn broadcast(
        &self,
        run: &mut Run,
        step: SecretStep,
        expected: &BTreeSet<Uuid>,
    ) -> Result<(BTreeMap<Uuid, Vec<VersionChange>>, Value), String> {
        let published_before = self.published_now();
        let outcome = self.broadcast_only(run, step, expected).await?;
        // The fleet's record of public signing keys follows every step (a restarted instance reads it); what
        // the emergency retirement ends is recorded as revoked.
        self.record_signing_keys(run, &published_before, step == SecretStep::RetirePreviousJwt).await?;
        Ok(outcome)
    }

    async fn broadcast_only(
        &self,
        run: &mut Run,
        step: SecretStep,
        expected: &BTreeSet<Uuid>,
    ) -> Result<(BTreeMap<Uuid, Vec<VersionChange>>, Value), String> {
        let rotation_id = run.record.id;
        let mut rx = self.deps.bus.subscribe();
        self.deps
            .bus
            .publish(Event::SecretsCommand { rotation_id, step })
            .await
            .map_err(|e| format!("the bus did not take the {} command: {e}", step.as_str()))?;
        let mut acks: BTreeMap<Uuid, Value> = BTreeMap::new();
        let mut changed: BTreeMap<Uuid, Vec<VersionChange>> = BTreeMap::new();
        let mut failed = Vec::new();
        let deadline = tokio::time::Instant::now() + self.deps.settings.ack_timeout;
        while !expected.iter().all(|i| acks.contains_key(i)) {
            let signal = match tokio::time::timeout_at(deadline, rx.recv()).await {
                Err(_) => break,
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => break,
                Ok(Ok(signal)) => signal,
            };
            let BusSignal::Message(envelope) = signal else { continue };
            if let Event::SecretsAck { rotation_id: r, step: s, instance_id, ok, detail, changes } = envelope.event
                && r == rotation_id
                && s == step
            {
                if !ok {
                    failed.push(format!("{instance_id}: {}", detail.clone().unwrap_or_default()));
                }
                let changes_json = serde_json::to_value(&changes).unwrap_or(Value::Null);
                if let Some(Value::Object(all)) = run.detail().get_mut("changes") {
                    let entry = all.entry(instance_id.to_string()).or_insert_with(|| json!([]));
                    if let Value::Array(list) = entry
                        && let Value::Array(more) = changes_json.clone()
                    {
                        list.extend(more);
                    }
                }
                acks.insert(instance_id, json!({"ok": ok, "detail": detail, "changes": changes_json}));
                changed.insert(instance_id, changes);
            }
        }
        let missing: Vec<String> = expected.iter().filter(|i| !acks.contains_key(i)).map(ToString::to_string).collect();
        let detail = json!({"expected": expected, "acks": acks});
        if !failed.is_empty() {
            return Err(format!("{} refused by {}", step.as_str(), failed.join("; ")));
        }
        if !missing.is_empty() {
            return Err(format!(
                "no {} acknowledgement within {} s from {}",
                step.as_str(),
                self.deps.settings.ack_timeout.as_secs(),
                missing.join(", ")
            ));
        }
        Ok((changed, detail))
    }

    /// Puts every instance back to what it had before this rotation's stage (best effort; recorded).
    pub(super) async fn restore(&self, run: &mut Run, expected: &BTreeSet<Uuid>) {
        run.begin("restore").await;
        let restored = self.broadcast(run, SecretStep::Restore, expected).await.map(|(_, detail)| ((), detail));
        let ok = restored.is_ok();
        let detail = restored.map_or_else(|reason| json!(reason), |(_, d)| d);
        run.end(ok, detail).await;
        tracing::warn!(event = "rotation_rolled_back", rotation_id = %run.record.id, ok, "rotation rolled back on every instance");
    }

    /// Forces everyone to log in again and ends the rotated-out `JWT_SECRET` on every instance: first every
    /// instance retires its previous key (acknowledged, so a token it signed — whatever its `sid`, even a
    /// made-up one the epoch cannot catch — is refused everywhere before the job succeeds), then the global
    /// epoch is raised. The grace window only applies to rotations without invalidation.
    pub(super) async fn invalidate(
        &self,
        run: &mut Run,
        reason: String,
        user_message: Option<String>,
        expected: &BTreeSet<Uuid>,
    ) -> Result<((), Value), String> {
        let (_, retired) = self.broadcast(run, SecretStep::RetirePreviousJwt, expected).await?;
        run.detail().insert("previous_jwt_retired".into(), retired);
        let max_age = self.deps.settings.tokens.key_set_max_age.as_secs();
        run.detail().insert(
            "external_verifiers".into(),
            json!(format!(
                "the previous signing key left the key set and stopped verifying here at once; services that verify \
                 from a cached key set may accept its tokens until their copy expires (max-age {max_age} s)"
            )),
        );
        let notice = self
            .deps
            .sessions
            .revoke(RevokeTarget::All, reason, format!("rotation:{}", run.record.requested_by), user_message)
            .await
            .map_err(|e| format!("revoke-all failed: {e}"))?;
        // The count of affected sessions is filled in after the O(1) revocation; wait a little for it.
        let mut notice = notice;
        for _ in 0..20 {
            if notice.active_sessions.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Ok(list) = self.deps.accounts.revocations(20).await
                && let Some(found) = list.into_iter().find(|n| n.id == notice.id)
            {
                notice = found;
            }
        }
        let notice = serde_json::to_value(&notice).unwrap_or(Value::Null);
        run.detail().insert("notice".into(), notice.clone());
        Ok(((), notice))
    }
}
