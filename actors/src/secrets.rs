//! Secrets: the runbook's validation rules, the published key ring and the secret store actor that owns it.
//! The value types ports share ([`SecretValue`], [`SecretName`], [`Fingerprint`]) live below, in
//! [`crate::secret_value`], and are re-exported here.
//!
//! - [`rules`]: the runbook's rules (length, distinctness, entropy) as pure functions.
//! - [`keyring`]: the snapshot of current key material the request path reads without a round-trip.
//! - [`store`]: the actor that owns versions and publishes the key ring.
//! - [`rotation`]: the rotation and rollback runbook as one runner job, and its evidence.

pub mod keyring;
pub mod rotation;
pub mod rules;
pub mod store;

pub use keyring::{KeyRing, SharedKeyRing};

/// A rotation step every instance's secret store performs on a [`crate::ports::bus::Event::SecretsCommand`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretStep {
    /// Re-read the own secret source, validate, and stage what changed as `pending`.
    Stage,
    /// Make `pending` current.
    Promote,
    /// Put back the versions held before this rotation's `stage` (automatic rollback of a failed rotation).
    Restore,
    /// The runbook's rollback: make `previous` current again.
    Rollback,
    /// End the previous `JWT_SECRET` at once (a rotation or rollback with `invalidate_sessions=true`): tokens
    /// it signed are refused from the acknowledgement on, grace window or not.
    RetirePreviousJwt,
}

impl SecretStep {
    /// The step's name in logs, metrics and evidence.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stage => "stage",
            Self::Promote => "promote",
            Self::Restore => "restore",
            Self::Rollback => "rollback",
            Self::RetirePreviousJwt => "retire_previous_jwt",
        }
    }
}
pub use crate::secret_value::{Fingerprint, SecretValue};
pub use rules::{Rule, SecretName, Violation};
