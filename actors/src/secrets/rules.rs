//! The runbook's secret rules as pure functions: every violation of a candidate set is reported together,
//! each naming the variable and the rule, never the value.
//!
//! Entropy is estimated as `length × H`, where `H` is the Shannon entropy (bits per character) of the
//! value's own character distribution. That is generous to random strings (32 random hex characters score
//! about 115 bits, 24 random hex characters about 84, 43 base64 characters about 225) and harsh on repetition; values below
//! [`MIN_ENTROPY_BITS`] are rejected. Separately, a single repeated character, a short repeated pattern, a
//! keyboard or alphabet run, and well-known placeholders are rejected whatever their length.

use std::collections::HashMap;

use serde::Serialize;

pub use crate::secret_value::SecretName;

use super::signing_key::{AccessAlgorithm, KeyProblem, SigningKey};

/// The minimum estimated entropy, in bits, of any secret (documented in docs/configuration.md, "Secrets").
pub const MIN_ENTROPY_BITS: f64 = 72.0;
/// Minimum length of `JWT_SECRET`, `UPLOAD_GUEST_TOKEN_SECRET` and `GANTRY_ADMIN_TOKEN` (runbook step 2).
pub const MIN_TOKEN_SECRET_LEN: usize = 32;
/// Minimum length of `S3_SECRET_ACCESS_KEY` (runbook step 2).
pub const MIN_S3_SECRET_LEN: usize = 24;

/// A rule a secret can break. The `code` is stable (scripts match on it); the message explains the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Required here but not set.
    Missing,
    /// Shorter than the minimum.
    TooShort {
        /// The minimum length in characters.
        min: usize,
    },
    /// `UPLOAD_GUEST_TOKEN_SECRET` equals `JWT_SECRET`.
    SameAsJwtSecret,
    /// One character repeated.
    RepeatedCharacter,
    /// A short pattern repeated.
    RepeatedPattern,
    /// A run of consecutive characters (`abcdef…`, `123456…`).
    SequentialRun,
    /// A well-known placeholder (`changeme`, `secret…`, `password…`, …).
    Placeholder,
    /// Estimated entropy below the threshold.
    LowEntropy {
        /// The threshold in bits.
        min_bits: u32,
    },
    /// A signing key that is not a PKCS#8 PEM private key of Ed25519 or P-256.
    NotAPrivateKey,
    /// A signing key of another algorithm than `sessions.access_token_algorithm`.
    WrongAlgorithm {
        /// The configured algorithm.
        expected: AccessAlgorithm,
    },
    /// The same value as another secret (each secret is its own).
    SameAsAnotherSecret,
}

impl Rule {
    /// The stable code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::TooShort { .. } => "too_short",
            Self::SameAsJwtSecret => "same_as_jwt_secret",
            Self::RepeatedCharacter => "repeated_character",
            Self::RepeatedPattern => "repeated_pattern",
            Self::SequentialRun => "sequential_run",
            Self::Placeholder => "placeholder",
            Self::LowEntropy { .. } => "low_entropy",
            Self::NotAPrivateKey => "not_a_private_key",
            Self::WrongAlgorithm { .. } => "wrong_algorithm",
            Self::SameAsAnotherSecret => "same_as_another_secret",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing => f.write_str("is required but not set"),
            Self::TooShort { min } => write!(f, "must be at least {min} characters"),
            Self::SameAsJwtSecret => f.write_str("must be different from JWT_SECRET"),
            Self::RepeatedCharacter => f.write_str("must not be one repeated character"),
            Self::RepeatedPattern => f.write_str("must not be a short repeated pattern"),
            Self::SequentialRun => f.write_str("must not be a run of consecutive characters"),
            Self::Placeholder => f.write_str("must not be a well-known placeholder (changeme, secret…, password…)"),
            Self::LowEntropy { min_bits } => write!(f, "must have an estimated entropy of at least {min_bits} bits"),
            Self::NotAPrivateKey => {
                f.write_str("must be a PKCS#8 PEM private key of Ed25519 or P-256 (-----BEGIN PRIVATE KEY-----)")
            }
            Self::WrongAlgorithm { expected } => {
                write!(f, "must be a key of the configured access token algorithm ({expected})")
            }
            Self::SameAsAnotherSecret => f.write_str("must differ from every other secret"),
        }
    }
}

/// One broken rule: which variable, which rule. Never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The variable.
    pub variable: SecretName,
    /// The rule it breaks.
    pub rule: Rule,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} [{}]", self.variable, self.rule, self.rule.code())
    }
}

/// A set of candidate values to validate together (distinctness is a property of the set).
#[derive(Debug, Default, Clone, Copy)]
pub struct Candidates<'a> {
    /// `JWT_SECRET`.
    pub jwt_secret: Option<&'a str>,
    /// `UPLOAD_GUEST_TOKEN_SECRET`.
    pub upload_guest_token_secret: Option<&'a str>,
    /// `S3_ACCESS_KEY_ID`.
    pub s3_access_key_id: Option<&'a str>,
    /// `S3_SECRET_ACCESS_KEY`.
    pub s3_secret_access_key: Option<&'a str>,
    /// `GANTRY_ADMIN_TOKEN`.
    pub admin_token: Option<&'a str>,
    /// `JWT_SIGNING_KEY`.
    pub jwt_signing_key: Option<&'a str>,
    /// `JWT_SIGNING_KEY_NEXT`.
    pub jwt_signing_key_next: Option<&'a str>,
}

/// Which secrets are required in this deployment.
#[derive(Debug, Clone, Copy)]
pub struct Requirements {
    /// Objects go to S3, so both S3 credentials are required.
    pub s3: bool,
    /// The admin listener is enabled, so its token is required.
    pub admin_token: bool,
    /// How access tokens are signed: an asymmetric algorithm requires `JWT_SIGNING_KEY`, and both signing
    /// keys must be of it.
    pub algorithm: AccessAlgorithm,
}

/// Every violation of `candidates` under `required`, in a stable order (variable, then rule).
#[must_use]
pub fn validate(candidates: &Candidates<'_>, required: Requirements) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut check = |name: SecretName, value: Option<&str>, is_required: bool, min_len: Option<usize>| match value {
        None if is_required => out.push(Violation { variable: name, rule: Rule::Missing }),
        None => {}
        Some(v) => {
            if let Some(min) = min_len
                && v.chars().count() < min
            {
                out.push(Violation { variable: name, rule: Rule::TooShort { min } });
            }
            if name.needs_entropy() {
                out.extend(weaknesses(v).into_iter().map(|rule| Violation { variable: name, rule }));
            }
        }
    };
    check(SecretName::JwtSecret, candidates.jwt_secret, true, Some(MIN_TOKEN_SECRET_LEN));
    check(SecretName::UploadGuestTokenSecret, candidates.upload_guest_token_secret, true, Some(MIN_TOKEN_SECRET_LEN));
    check(SecretName::S3AccessKeyId, candidates.s3_access_key_id.filter(|v| !v.is_empty()), required.s3, None);
    check(SecretName::S3SecretAccessKey, candidates.s3_secret_access_key, required.s3, Some(MIN_S3_SECRET_LEN));
    check(SecretName::AdminToken, candidates.admin_token, required.admin_token, Some(MIN_TOKEN_SECRET_LEN));
    if let (Some(jwt), Some(upload)) = (candidates.jwt_secret, candidates.upload_guest_token_secret)
        && jwt == upload
    {
        out.push(Violation { variable: SecretName::UploadGuestTokenSecret, rule: Rule::SameAsJwtSecret });
    }
    out.extend(signing_key_violations(candidates, required.algorithm));
    out.sort_by_key(|v| v.variable);
    out
}

/// The signing keys' rules: `JWT_SIGNING_KEY` is required with an asymmetric algorithm; each key given parses
/// as a PKCS#8 private key of that algorithm (with HS256 either algorithm: the key is published ahead of the
/// move); neither equals another secret's value.
fn signing_key_violations(candidates: &Candidates<'_>, algorithm: AccessAlgorithm) -> Vec<Violation> {
    let mut out = Vec::new();
    let keys = [
        (SecretName::JwtSigningKey, candidates.jwt_signing_key),
        (SecretName::JwtSigningKeyNext, candidates.jwt_signing_key_next),
    ];
    if candidates.jwt_signing_key.is_none() && algorithm.is_asymmetric() {
        out.push(Violation { variable: SecretName::JwtSigningKey, rule: Rule::Missing });
    }
    let others = [
        candidates.jwt_secret,
        candidates.upload_guest_token_secret,
        candidates.s3_access_key_id,
        candidates.s3_secret_access_key,
        candidates.admin_token,
    ];
    for (i, (name, value)) in keys.iter().enumerate() {
        let Some(value) = value else { continue };
        match SigningKey::parse(value) {
            Err(KeyProblem::NotPkcs8Pem | KeyProblem::Unsupported) => {
                out.push(Violation { variable: *name, rule: Rule::NotAPrivateKey });
            }
            Ok(key) if algorithm.is_asymmetric() && key.alg() != algorithm => {
                out.push(Violation { variable: *name, rule: Rule::WrongAlgorithm { expected: algorithm } });
            }
            Ok(_) => {}
        }
        let same_as_earlier_key = keys[..i].iter().any(|(_, k)| k.is_some_and(|k| k.trim() == value.trim()));
        if same_as_earlier_key || others.iter().flatten().any(|o| o.trim() == value.trim()) {
            out.push(Violation { variable: *name, rule: Rule::SameAsAnotherSecret });
        }
    }
    out
}

/// Placeholders rejected anywhere at the start of a value (case-insensitive).
const PLACEHOLDER_PREFIXES: [&str; 12] = [
    "changeme",
    "change-me",
    "change_me",
    "secret",
    "password",
    "passw0rd",
    "default",
    "example",
    "placeholder",
    "your-",
    "your_",
    "replace",
];

/// The low-entropy shapes `value` has (empty when it looks random enough).
#[must_use]
pub fn weaknesses(value: &str) -> Vec<Rule> {
    let chars: Vec<char> = value.chars().collect();
    let mut found = Vec::new();
    if chars.is_empty() {
        found.push(Rule::LowEntropy { min_bits: min_bits() });
        return found;
    }
    if chars.iter().all(|c| *c == chars[0]) {
        found.push(Rule::RepeatedCharacter);
    } else if has_short_period(&chars) {
        found.push(Rule::RepeatedPattern);
    }
    if is_sequential(&chars) {
        found.push(Rule::SequentialRun);
    }
    let lower = value.to_lowercase();
    if PLACEHOLDER_PREFIXES.iter().any(|p| lower.starts_with(p)) || lower.contains("changeme") {
        found.push(Rule::Placeholder);
    }
    if estimate_entropy_bits(value) < MIN_ENTROPY_BITS {
        found.push(Rule::LowEntropy { min_bits: min_bits() });
    }
    found
}

/// [`MIN_ENTROPY_BITS`] as a whole number of bits (a small positive constant).
fn min_bits() -> u32 {
    MIN_ENTROPY_BITS as u32
}

/// `length × Shannon entropy per character` of `value`'s own distribution, in bits.
#[must_use]
pub fn estimate_entropy_bits(value: &str) -> f64 {
    let mut counts: HashMap<char, usize> = HashMap::new();
    let mut len = 0usize;
    for c in value.chars() {
        *counts.entry(c).or_default() += 1;
        len += 1;
    }
    if len == 0 {
        return 0.0;
    }
    let n = len as f64;
    let per_char: f64 = counts
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum();
    per_char * n
}

/// Whether the value is a pattern of at most a quarter of its length repeated (`abcabcabc…`).
fn has_short_period(chars: &[char]) -> bool {
    let n = chars.len();
    (1..=n / 4).any(|period| (period..n).all(|i| chars[i] == chars[i - period]))
}

/// Whether at least 3/4 of neighbouring characters differ by exactly +1 or −1 (`abcdef`, `987654`).
fn is_sequential(chars: &[char]) -> bool {
    if chars.len() < 4 {
        return false;
    }
    let steps =
        chars.windows(2).filter(|w| (i64::from(u32::from(w[1])) - i64::from(u32::from(w[0]))).abs() == 1).count();
    steps * 4 >= (chars.len() - 1) * 3
}

#[cfg(test)]
mod tests;
