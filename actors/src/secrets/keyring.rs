//! The key ring: every secret's versions, published by the secret store as an immutable snapshot that the
//! request path reads with one atomic load (no lock, no actor round-trip). Only the secret store swaps it.

use std::collections::BTreeMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::Serialize;
use time::OffsetDateTime;

use super::{Fingerprint, SecretName, SecretValue};

/// Where a version's value came from (shown to operators; the value never is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretOrigin {
    /// An environment variable.
    Env,
    /// A `*_FILE` file.
    File,
    /// Generated at first start (local profile only) and kept in the data folder.
    Generated,
}

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
}

impl Versions {
    /// Only a current version.
    #[must_use]
    pub fn only(current: SecretVersion) -> Self {
        Self { current: Arc::new(current), pending: None, previous: None }
    }
}

/// The snapshot of all secrets.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    secrets: BTreeMap<SecretName, Versions>,
}

/// The shared, swappable key ring.
pub type SharedKeyRing = Arc<ArcSwap<KeyRing>>;

impl KeyRing {
    /// A key ring holding `secrets`.
    #[must_use]
    pub fn new(secrets: BTreeMap<SecretName, Versions>) -> Self {
        Self { secrets }
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
