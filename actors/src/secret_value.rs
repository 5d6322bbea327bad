//! The secret types the ports and the secrets domain share, below both: [`SecretName`] (the secrets Gantry
//! knows), [`SecretValue`] (a secret plus its fingerprint, reachable only through [`SecretValue::expose`];
//! `Debug` shows the fingerprint, never the value), [`Fingerprint`] and [`SecretOrigin`]; and what the bus
//! carries between secret stores: a rotation's [`SecretStep`] and the [`VersionChange`]s it made.

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The public name of a secret version: the first 12 hex digits of the SHA-256 of its value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The fingerprint of `value`.
    #[must_use]
    pub fn of(value: &str) -> Self {
        let digest = Sha256::digest(value.as_bytes());
        Self(hex::encode(&digest[..6]))
    }

    /// The 12 hex digits.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A secret value with its fingerprint.
#[derive(Clone)]
pub struct SecretValue {
    value: SecretString,
    fingerprint: Fingerprint,
}

impl SecretValue {
    /// Wraps `value`.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        let value: String = value.into();
        let fingerprint = Fingerprint::of(&value);
        Self { value: SecretString::from(value), fingerprint }
    }

    /// The value, for the few places that sign, verify or authenticate with it.
    #[must_use]
    pub fn expose(&self) -> &str {
        self.value.expose_secret()
    }

    /// The fingerprint.
    #[must_use]
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretValue(fingerprint={}, value=[REDACTED])", self.fingerprint)
    }
}

impl From<SecretString> for SecretValue {
    fn from(value: SecretString) -> Self {
        Self::new(value.expose_secret().to_owned())
    }
}

/// The secrets Gantry knows, by the names operators use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub enum SecretName {
    /// Signs access tokens.
    #[serde(rename = "JWT_SECRET")]
    JwtSecret,
    /// Signs guest upload tokens.
    #[serde(rename = "UPLOAD_GUEST_TOKEN_SECRET")]
    UploadGuestTokenSecret,
    /// The S3 access key id.
    #[serde(rename = "S3_ACCESS_KEY_ID")]
    S3AccessKeyId,
    /// The S3 secret key.
    #[serde(rename = "S3_SECRET_ACCESS_KEY")]
    S3SecretAccessKey,
    /// Bearer token of the admin listener.
    #[serde(rename = "GANTRY_ADMIN_TOKEN")]
    AdminToken,
    /// Signs access tokens when the algorithm is asymmetric (PKCS#8 PEM, Ed25519 or P-256); its public key is
    /// published in the key set.
    #[serde(rename = "JWT_SIGNING_KEY")]
    JwtSigningKey,
    /// The next signing key: published in the key set, signing nothing until a rotation promotes it.
    #[serde(rename = "JWT_SIGNING_KEY_NEXT")]
    JwtSigningKeyNext,
}

impl SecretName {
    /// Every secret, in display order.
    pub const ALL: [Self; 7] = [
        Self::JwtSecret,
        Self::UploadGuestTokenSecret,
        Self::S3AccessKeyId,
        Self::S3SecretAccessKey,
        Self::AdminToken,
        Self::JwtSigningKey,
        Self::JwtSigningKeyNext,
    ];

    /// The environment variable (and, with `_FILE`, the file variable) that carries it.
    #[must_use]
    pub fn env_var(self) -> &'static str {
        match self {
            Self::JwtSecret => "JWT_SECRET",
            Self::UploadGuestTokenSecret => "UPLOAD_GUEST_TOKEN_SECRET",
            Self::S3AccessKeyId => "S3_ACCESS_KEY_ID",
            Self::S3SecretAccessKey => "S3_SECRET_ACCESS_KEY",
            Self::AdminToken => "GANTRY_ADMIN_TOKEN",
            Self::JwtSigningKey => "JWT_SIGNING_KEY",
            Self::JwtSigningKeyNext => "JWT_SIGNING_KEY_NEXT",
        }
    }

    /// Whether its value is a secret that must be high-entropy (the S3 key id is an identifier; a signing
    /// key is checked by parsing it instead).
    #[must_use]
    pub fn needs_entropy(self) -> bool {
        !matches!(self, Self::S3AccessKeyId | Self::JwtSigningKey | Self::JwtSigningKeyNext)
    }

    /// Whether it is an asymmetric signing key (`JWT_SIGNING_KEY`, `JWT_SIGNING_KEY_NEXT`).
    #[must_use]
    pub fn is_signing_key(self) -> bool {
        matches!(self, Self::JwtSigningKey | Self::JwtSigningKeyNext)
    }
}

impl std::fmt::Display for SecretName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.env_var())
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Debug output of a secret shows its fingerprint, never its value.
    #[test]
    fn debug_never_shows_the_value() {
        let secret = SecretValue::new("kP9x!vQ2#mZ7@rT4$wL8^bN1&cF5*hJ3");
        let shown = format!("{secret:?}");
        assert!(!shown.contains("kP9x"), "{shown}");
        assert!(shown.contains(secret.fingerprint().as_str()));
    }

    /// The fingerprint is the first 12 hex digits of SHA-256, stable across runs.
    #[test]
    fn fingerprint_is_first_12_hex_of_sha256() {
        // sha256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
        assert_eq!(Fingerprint::of("abc").as_str(), "ba7816bf8f01");
    }
}

/// A rotation step every instance's secret store performs on a `SecretsCommand` bus event.
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
    /// End the previous `JWT_SECRET` and the previous `JWT_SIGNING_KEY` at once (a rotation or rollback with
    /// `invalidate_sessions=true`): tokens they signed are refused from the acknowledgement on, grace window or
    /// not, and the signing key leaves the key set.
    RetirePreviousJwt,
    /// Before a rollback makes the previous `JWT_SIGNING_KEY` sign again when it had left the key set (retired
    /// by an emergency rotation, or past its window): publish it again (and let it verify) from now, so
    /// verifiers can have it a max-age before it signs.
    RepublishPreviousSigningKey,
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
            Self::RepublishPreviousSigningKey => "republish_previous_signing_key",
        }
    }
}

/// One change of one secret's versions: what rotation evidence records (fingerprints only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct VersionChange {
    /// The secret.
    pub name: SecretName,
    /// `staged`, `promoted`, `discarded` or `rolled_back`.
    pub action: String,
    /// The fingerprint in that slot before (`current` for promotions and rollbacks, `pending` for discards).
    pub from: Option<Fingerprint>,
    /// The fingerprint after.
    pub to: Option<Fingerprint>,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: time::OffsetDateTime,
}
