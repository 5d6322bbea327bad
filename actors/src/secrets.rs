//! Secrets: the runbook's validation rules, the published key ring and the secret store actor that owns it.
//! The value types ports share ([`SecretValue`], [`SecretName`], [`Fingerprint`]) live below, in
//! [`crate::secret_value`], and are re-exported here, like [`SecretStep`].
//!
//! - [`rules`]: the runbook's rules (length, distinctness, entropy) as pure functions.
//! - [`signing_key`]: the asymmetric access-token keys (`JWT_SIGNING_KEY[_NEXT]`): parsing, public JWKs, `kid`s.
//! - [`keyring`]: the snapshot of current key material the request path reads without a round-trip.
//! - [`store`]: the actor that owns versions and publishes the key ring.
//! - [`fleet`]: whether the live instances agree on their fingerprints (pure).
//! - [`rotation`]: the rotation and rollback runbook as one runner job, and its evidence.

pub mod fleet;
pub mod keyring;
pub mod rotation;
pub mod rules;
pub mod signing_key;
pub mod store;

pub use keyring::{KeyRing, SharedKeyRing};

pub use crate::secret_value::SecretStep;

pub use crate::secret_value::{Fingerprint, SecretValue};
pub use rules::{Rule, SecretName, Violation};
