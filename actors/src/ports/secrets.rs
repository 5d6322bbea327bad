//! The secret source port: where new secret values come from during rotation (the `*_FILE` files, re-read on
//! demand). Values are validated by the source with the start-up rules, so a weak value never reaches the
//! key ring.

use std::collections::BTreeMap;

use crate::secret_value::{SecretName, SecretOrigin, SecretValue};

/// A validated set of secret values.
pub type SecretSet = BTreeMap<SecretName, (SecretValue, SecretOrigin)>;

/// The secret source capability.
pub trait SecretSource: Send + Sync + 'static {
    /// Re-reads every secret and validates the set with the start-up rules.
    ///
    /// # Errors
    /// Every problem, one line each, naming the variable and the rule, never a value.
    fn read(&self) -> Result<SecretSet, Vec<String>>;
}
