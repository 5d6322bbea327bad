//! Secrets: the redacting value type, the runbook's validation rules, the published key ring and the
//! secret store actor that owns it.
//!
//! - [`value`]: [`SecretValue`], a secret with its fingerprint; `Debug`/`Display` never show the value.
//! - [`rules`]: the runbook's rules (length, distinctness, entropy) as pure functions.
//! - [`keyring`]: the snapshot of current key material the request path reads without a round-trip.
//! - [`store`]: the actor that owns versions and publishes the key ring.

pub mod keyring;
pub mod rules;
pub mod store;
pub mod value;

pub use keyring::{KeyRing, SharedKeyRing};
pub use rules::{Rule, SecretName, Violation};
pub use value::{Fingerprint, SecretValue};
