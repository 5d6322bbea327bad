//! The key ring: every secret's versions, published by the secret store as an immutable snapshot that the
//! request path reads with one atomic load (no lock, no actor round-trip). Only the secret store swaps it.
//!
//! Rotation moves versions through the ring without ever mutating a published snapshot: [`KeyRing::staged`]
//! (new values become `pending`), [`KeyRing::promoted`] (`pending` → `current`, `current` → `previous`),
//! [`KeyRing::without_pending`] and [`KeyRing::rolled_back`] (`previous` ↔ `current`) each return a new ring
//! and the [`VersionChange`]s that rotation evidence records. Which versions verify what:
//!
//! - signing always uses `current`;
//! - access tokens verify with `current`, with `pending` while one is staged (the rotation's smoke test signs
//!   with it), and with `previous` until `promoted_at` + the grace window; a `JWT_SIGNING_KEY` replaced while
//!   it was still `previous` (a second promotion within its window) keeps verifying, and stays in the key set,
//!   as a [`RetiringKey`] until its own window closes;
//! - guest upload tokens verify with `current`, `pending` and `previous` (they expire within their TTL).

use std::collections::BTreeMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::Serialize;
use time::OffsetDateTime;

use crate::secret_value::{Fingerprint, SecretName, SecretValue};
pub use crate::secret_value::{SecretOrigin, VersionChange};

/// One version of one secret.
#[derive(Debug, Clone)]
pub struct SecretVersion {
    /// The value.
    pub value: SecretValue,
    /// 1 for the first version this process knew, +1 per change.
    pub version: u32,
    /// When this process first saw it.
    pub created_at: OffsetDateTime,
    /// Where it came from.
    pub origin: SecretOrigin,
}

impl SecretVersion {
    /// Version 1 of `value` from `origin`, seen now.
    #[must_use]
    pub fn first(value: SecretValue, origin: SecretOrigin) -> Self {
        Self { value, version: 1, created_at: OffsetDateTime::now_utc(), origin }
    }

    /// The fingerprint of the value.
    #[must_use]
    pub fn fingerprint(&self) -> &Fingerprint {
        self.value.fingerprint()
    }
}

/// The versions of one secret: the one in use and, during rotation, a staged and a previous one.
#[derive(Debug, Clone)]
pub struct Versions {
    /// In use.
    pub current: Arc<SecretVersion>,
    /// Staged by a rotation, not yet in use.
    pub pending: Option<Arc<SecretVersion>>,
    /// Replaced by the last promotion; kept for grace periods and rollback.
    pub previous: Option<Arc<SecretVersion>>,
    /// When `current` became current (start-up, promotion or rollback): the grace window of `previous` and
    /// the version age operators watch run from here.
    pub promoted_at: OffsetDateTime,
    /// Set by a rotation with `invalidate_sessions=true` ([`KeyRing::previous_retired`]): `previous` verifies
    /// nothing any more, grace window or not — it is kept only so the rotation can be rolled back. Cleared by
    /// the next promotion or rollback.
    pub previous_retired: bool,
}

impl Versions {
    /// Only a current version.
    #[must_use]
    pub fn only(current: SecretVersion) -> Self {
        let promoted_at = current.created_at;
        Self { current: Arc::new(current), pending: None, previous: None, promoted_at, previous_retired: false }
    }

    /// A current version and the one it replaced (`*_PREVIOUS` at start-up: redeploy-style rotation).
    #[must_use]
    pub fn with_previous(current: SecretVersion, previous: SecretVersion) -> Self {
        let current = SecretVersion { version: previous.version + 1, ..current };
        Self { previous: Some(Arc::new(previous)), ..Self::only(current) }
    }

    /// The next version number.
    fn next_number(&self) -> u32 {
        [Some(&self.current), self.pending.as_ref(), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .map(|v| v.version)
            .max()
            .unwrap_or(0)
            + 1
    }

    /// Whether `previous` still verifies access tokens at `now`, given the grace window.
    #[must_use]
    pub fn previous_in_grace(&self, now: OffsetDateTime, grace: std::time::Duration) -> bool {
        self.previous.is_some() && !self.previous_retired && now < self.promoted_at + grace
    }
}

/// A public signing key this instance does not hold as a secret but verifies and publishes: read from the
/// fleet's record at start-up (a peer's key, or the previous key of a rotation this instance restarted in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdoptedKey {
    /// The public key.
    pub key: crate::secrets::signing_key::PublicKey,
    /// When it stops verifying (Unix seconds); `None` while a peer signs with it.
    pub until: Option<i64>,
}

/// A `JWT_SIGNING_KEY` version that a promotion replaced while it was still `previous` (two rotations within
/// one access token's lifetime): only its public half is kept, and it verifies — and is published — until its
/// own window closes ([`crate::sessions::TokenSettings::previous_signing_key_window`] after `replaced_at`),
/// not the window of the key that replaced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiringKey {
    /// The public key.
    pub key: crate::secrets::signing_key::PublicKey,
    /// The fingerprint of the private key it was (evidence and logs name it).
    pub fingerprint: Fingerprint,
    /// When it stopped signing: its window runs from here.
    pub replaced_at: OffsetDateTime,
}

/// At most this many [`RetiringKey`]s are kept: a key whose window is still open is dropped early only when
/// more rotations than this happen within one access token's lifetime (each drop is a `dropped` change).
pub const MAX_RETIRING_SIGNING_KEYS: usize = 8;

/// The snapshot of all secrets.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    secrets: BTreeMap<SecretName, Versions>,
    /// Public signing keys adopted from the fleet's record (kept across every step; they expire on their own).
    adopted: Vec<AdoptedKey>,
    /// Older previous signing keys, oldest first (kept across every step but an emergency retirement; they
    /// expire on their own).
    retiring: Vec<RetiringKey>,
}

/// The shared, swappable key ring.
pub type SharedKeyRing = Arc<ArcSwap<KeyRing>>;

impl KeyRing {
    /// A key ring holding `secrets`.
    #[must_use]
    pub fn new(secrets: BTreeMap<SecretName, Versions>) -> Self {
        Self { secrets, adopted: Vec::new(), retiring: Vec::new() }
    }

    /// The ring with `adopted` public keys besides its own.
    #[must_use]
    pub fn with_adopted(mut self, adopted: Vec<AdoptedKey>) -> Self {
        self.adopted = adopted;
        self
    }

    /// The public signing keys adopted from the fleet's record.
    #[must_use]
    pub fn adopted_keys(&self) -> &[AdoptedKey] {
        &self.adopted
    }

    /// The older previous signing keys still kept, oldest first (see [`RetiringKey`]).
    #[must_use]
    pub fn retiring_keys(&self) -> &[RetiringKey] {
        &self.retiring
    }

    /// The ring without adopted keys (an emergency rotation: only the fleet's own current keys verify).
    #[must_use]
    pub fn without_adopted(&self) -> Self {
        Self { adopted: Vec::new(), ..self.clone() }
    }

    /// Wraps the key ring for sharing.
    #[must_use]
    pub fn shared(self) -> SharedKeyRing {
        Arc::new(ArcSwap::from_pointee(self))
    }

    /// The versions of `name`, if it is configured.
    #[must_use]
    pub fn versions(&self, name: SecretName) -> Option<&Versions> {
        self.secrets.get(&name)
    }

    /// The current value of `name`, if it is configured.
    #[must_use]
    pub fn current(&self, name: SecretName) -> Option<&SecretValue> {
        self.secrets.get(&name).map(|v| &v.current.value)
    }

    /// All configured secrets, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (SecretName, &Versions)> {
        self.secrets.iter().map(|(k, v)| (*k, v))
    }

    /// The pending value of `name`, if one is staged.
    #[must_use]
    pub fn pending(&self, name: SecretName) -> Option<&SecretValue> {
        self.secrets.get(&name).and_then(|v| v.pending.as_ref()).map(|v| &v.value)
    }

    /// Whether any secret has a staged version.
    #[must_use]
    pub fn has_pending(&self) -> bool {
        self.secrets.values().any(|v| v.pending.is_some())
    }

    /// The ring with `candidates` staged: each value that differs from its secret's current one becomes that
    /// secret's `pending` version (replacing an earlier one); equal values stage nothing. A secret the ring
    /// does not have yet is added as current (it had nothing to rotate from).
    #[must_use]
    pub fn staged(
        &self,
        candidates: &BTreeMap<SecretName, (SecretValue, SecretOrigin)>,
        now: OffsetDateTime,
    ) -> (Self, Vec<VersionChange>) {
        let mut next = self.clone();
        let mut changes = Vec::new();
        for (name, (value, origin)) in candidates {
            let Some(versions) = next.secrets.get_mut(name) else {
                next.secrets.insert(*name, Versions::only(SecretVersion::first(value.clone(), *origin)));
                continue;
            };
            if versions.current.fingerprint() == value.fingerprint() {
                continue;
            }
            // Staging the value already pending (a reload came first) keeps that version but still reports it,
            // so a rotation sees every instance holding the new value.
            if versions.pending.as_ref().is_none_or(|p| p.fingerprint() != value.fingerprint()) {
                let version = SecretVersion {
                    value: value.clone(),
                    version: versions.next_number(),
                    created_at: now,
                    origin: *origin,
                };
                versions.pending = Some(Arc::new(version));
            }
            changes.push(VersionChange {
                name: *name,
                action: "staged".into(),
                from: Some(versions.current.fingerprint().clone()),
                to: Some(value.fingerprint().clone()),
                at: now,
            });
        }
        (next, changes)
    }

    /// The ring with every `pending` version current; the replaced ones become `previous`. A `JWT_SIGNING_KEY`
    /// that was `previous` (not retired) becomes a [`RetiringKey`], so tokens it signed keep verifying until
    /// its own window closes; beyond [`MAX_RETIRING_SIGNING_KEYS`] the oldest is dropped (a `dropped` change).
    #[must_use]
    pub fn promoted(&self, now: OffsetDateTime) -> (Self, Vec<VersionChange>) {
        let mut next = self.clone();
        let mut changes = Vec::new();
        let Self { secrets, retiring, .. } = &mut next;
        for (name, versions) in secrets.iter_mut() {
            if let Some(pending) = versions.pending.take() {
                changes.push(VersionChange {
                    name: *name,
                    action: "promoted".into(),
                    from: Some(versions.current.fingerprint().clone()),
                    to: Some(pending.fingerprint().clone()),
                    at: now,
                });
                let replaced = versions.previous.replace(std::mem::replace(&mut versions.current, pending));
                if *name == SecretName::JwtSigningKey
                    && !versions.previous_retired
                    && let Some(replaced) = replaced
                    && let Ok(key) = crate::secrets::signing_key::SigningKey::parse(replaced.value.expose())
                {
                    retiring.retain(|r| r.key.kid != key.public().kid);
                    retiring.push(RetiringKey {
                        key: key.public().clone(),
                        fingerprint: replaced.fingerprint().clone(),
                        replaced_at: versions.promoted_at,
                    });
                }
                versions.promoted_at = now;
                versions.previous_retired = false;
            }
        }
        while retiring.len() > MAX_RETIRING_SIGNING_KEYS {
            let dropped = retiring.remove(0);
            changes.push(VersionChange {
                name: SecretName::JwtSigningKey,
                action: "dropped".into(),
                from: Some(dropped.fingerprint),
                to: None,
                at: now,
            });
        }
        (next, changes)
    }

    /// The ring with every `pending` version dropped.
    #[must_use]
    pub fn without_pending(&self, now: OffsetDateTime) -> (Self, Vec<VersionChange>) {
        let mut next = self.clone();
        let mut changes = Vec::new();
        for (name, versions) in &mut next.secrets {
            if let Some(pending) = versions.pending.take() {
                changes.push(VersionChange {
                    name: *name,
                    action: "discarded".into(),
                    from: Some(pending.fingerprint().clone()),
                    to: None,
                    at: now,
                });
            }
        }
        (next, changes)
    }

    /// The runbook's rollback: for every secret with a `previous` version, it becomes current again (and the
    /// replaced one `previous`, so a rollback can itself be rolled back); `pending` versions are dropped.
    /// `None` when no secret has a previous version.
    #[must_use]
    pub fn rolled_back(&self, now: OffsetDateTime) -> Option<(Self, Vec<VersionChange>)> {
        let (mut next, _) = self.without_pending(now);
        let mut changes = Vec::new();
        for (name, versions) in &mut next.secrets {
            if let Some(previous) = versions.previous.take() {
                changes.push(VersionChange {
                    name: *name,
                    action: "rolled_back".into(),
                    from: Some(versions.current.fingerprint().clone()),
                    to: Some(previous.fingerprint().clone()),
                    at: now,
                });
                versions.previous = Some(std::mem::replace(&mut versions.current, previous));
                versions.promoted_at = now;
                versions.previous_retired = false;
            }
        }
        (!changes.is_empty()).then_some((next, changes))
    }

    /// The ring with `name`'s `previous` version verifying and published again from `now` (no longer retired,
    /// its window restarting now): what a rollback does, a max-age before it makes a previous signing key that
    /// left the key set sign again. Unchanged when there is no previous version.
    #[must_use]
    pub fn previous_republished(&self, name: SecretName, now: OffsetDateTime) -> (Self, Vec<VersionChange>) {
        let mut next = self.clone();
        let mut changes = Vec::new();
        if let Some(versions) = next.secrets.get_mut(&name)
            && let Some(previous) = &versions.previous
        {
            changes.push(VersionChange {
                name,
                action: "republished".into(),
                from: None,
                to: Some(previous.fingerprint().clone()),
                at: now,
            });
            versions.previous_retired = false;
            versions.promoted_at = now;
        }
        (next, changes)
    }

    /// The ring with `name`'s `previous` version retired: it no longer verifies anything, whatever its grace
    /// window (an emergency rotation ends a leaked key at once); for `JWT_SIGNING_KEY` every [`RetiringKey`]
    /// ends too. Unchanged when there is no previous version or it is already retired, and no retiring key.
    #[must_use]
    pub fn previous_retired(&self, name: SecretName, now: OffsetDateTime) -> (Self, Vec<VersionChange>) {
        let mut next = self.clone();
        let mut changes = Vec::new();
        if name == SecretName::JwtSigningKey {
            changes.extend(next.retiring.drain(..).map(|r| VersionChange {
                name,
                action: "retired".into(),
                from: Some(r.fingerprint),
                to: None,
                at: now,
            }));
        }
        if let Some(versions) = next.secrets.get_mut(&name)
            && let Some(previous) = &versions.previous
            && !versions.previous_retired
        {
            changes.push(VersionChange {
                name,
                action: "retired".into(),
                from: Some(previous.fingerprint().clone()),
                to: None,
                at: now,
            });
            versions.previous_retired = true;
        }
        (next, changes)
    }
}

/// What operators see of one version: no value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionStatus {
    /// The secret's variable name.
    pub name: SecretName,
    /// `current`, `pending` or `previous`.
    pub state: &'static str,
    /// Version number.
    pub version: u32,
    /// Fingerprint (first 12 hex digits of SHA-256).
    pub fingerprint: Fingerprint,
    /// Where it came from.
    pub origin: SecretOrigin,
    /// When this process first saw it.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl KeyRing {
    /// Every version of every secret, without values.
    #[must_use]
    pub fn status(&self) -> Vec<VersionStatus> {
        let mut out = Vec::new();
        for (name, versions) in self.iter() {
            let states = [
                ("current", Some(&versions.current)),
                ("pending", versions.pending.as_ref()),
                ("previous", versions.previous.as_ref()),
            ];
            for (state, version) in states {
                if let Some(v) = version {
                    out.push(VersionStatus {
                        name,
                        state,
                        version: v.version,
                        fingerprint: v.fingerprint().clone(),
                        origin: v.origin,
                        created_at: v.created_at,
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(jwt: &str) -> KeyRing {
        KeyRing::new(BTreeMap::from([(
            SecretName::JwtSecret,
            Versions::only(SecretVersion::first(SecretValue::new(jwt), SecretOrigin::File)),
        )]))
    }

    fn candidate(value: &str) -> BTreeMap<SecretName, (SecretValue, SecretOrigin)> {
        BTreeMap::from([(SecretName::JwtSecret, (SecretValue::new(value), SecretOrigin::File))])
    }

    fn fp(v: &str) -> Option<Fingerprint> {
        Some(Fingerprint::of(v))
    }

    /// Staging a new value makes it pending (the old one stays current); staging the current value again
    /// changes nothing; promotion swaps current and previous and restarts the grace window.
    #[test]
    fn stage_then_promote() {
        let now = OffsetDateTime::now_utc();
        let (same, changes) = ring("old-value").staged(&candidate("old-value"), now);
        assert!(changes.is_empty() && !same.has_pending());

        let (staged, changes) = ring("old-value").staged(&candidate("new-value"), now);
        assert_eq!(changes.len(), 1);
        assert_eq!((changes[0].from.clone(), changes[0].to.clone()), (fp("old-value"), fp("new-value")));
        assert_eq!(staged.current(SecretName::JwtSecret).unwrap().expose(), "old-value", "signing is unchanged");
        assert_eq!(staged.pending(SecretName::JwtSecret).unwrap().expose(), "new-value");

        let later = now + time::Duration::seconds(5);
        let (promoted, changes) = staged.promoted(later);
        assert_eq!(changes[0].action, "promoted");
        let v = promoted.versions(SecretName::JwtSecret).unwrap();
        assert_eq!(v.current.value.expose(), "new-value");
        assert_eq!(v.current.version, 2);
        assert_eq!(v.previous.as_ref().unwrap().value.expose(), "old-value");
        assert!(v.pending.is_none());
        assert_eq!(v.promoted_at, later);
        let grace = std::time::Duration::from_secs(60);
        assert!(v.previous_in_grace(later + time::Duration::seconds(59), grace));
        assert!(!v.previous_in_grace(later + time::Duration::seconds(60), grace));
    }

    /// A discarded stage leaves the ring as it was; a rollback makes previous current again, and rolling that
    /// back returns to the promoted value; with no previous version there is nothing to roll back.
    #[test]
    fn discard_and_rollback() {
        let now = OffsetDateTime::now_utc();
        let (staged, _) = ring("old-value").staged(&candidate("new-value"), now);
        let (discarded, changes) = staged.without_pending(now);
        assert_eq!(changes[0].action, "discarded");
        assert!(!discarded.has_pending());
        assert_eq!(discarded.current(SecretName::JwtSecret).unwrap().expose(), "old-value");

        assert!(ring("old-value").rolled_back(now).is_none());
        let (promoted, _) = staged.promoted(now);
        let (back, changes) = promoted.rolled_back(now).expect("a previous version");
        assert_eq!((changes[0].from.clone(), changes[0].to.clone()), (fp("new-value"), fp("old-value")));
        assert_eq!(back.current(SecretName::JwtSecret).unwrap().expose(), "old-value");
        let (forth, _) = back.rolled_back(now).expect("rollback of the rollback");
        assert_eq!(forth.current(SecretName::JwtSecret).unwrap().expose(), "new-value");
    }

    /// `*_PREVIOUS` at start-up: the previous version is kept (and numbered before the current one).
    #[test]
    fn start_with_a_previous_version() {
        let v = Versions::with_previous(
            SecretVersion::first(SecretValue::new("new-value"), SecretOrigin::Env),
            SecretVersion::first(SecretValue::new("old-value"), SecretOrigin::Env),
        );
        assert_eq!((v.previous.as_ref().unwrap().version, v.current.version), (1, 2));
    }
}
