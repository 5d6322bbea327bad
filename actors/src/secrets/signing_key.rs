//! The asymmetric signing keys of access tokens (`JWT_SIGNING_KEY`, `JWT_SIGNING_KEY_NEXT`): PKCS#8 PEM
//! private keys of Ed25519 (`EdDSA`) or P-256 (`ES256`), parsed and checked here, and their public halves as
//! JSON Web Keys (RFC 7517) named by their RFC 7638 thumbprint (the `kid` of the tokens they sign and of the
//! published key set). Pure functions over bytes: no I/O.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use secrecy::{ExposeSecret, SecretSlice};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// How access tokens are signed (`sessions.access_token_algorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AccessAlgorithm {
    /// HMAC-SHA256 with `JWT_SECRET` (only Gantry can verify: every verifier would hold the secret).
    #[serde(rename = "HS256")]
    Hs256,
    /// Ed25519 with `JWT_SIGNING_KEY` (the local profile's default).
    #[serde(rename = "EdDSA")]
    EdDsa,
    /// ECDSA P-256 SHA-256 with `JWT_SIGNING_KEY`.
    #[serde(rename = "ES256")]
    Es256,
}

impl AccessAlgorithm {
    /// The JOSE name (`alg`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::EdDsa => "EdDSA",
            Self::Es256 => "ES256",
        }
    }

    /// Whether tokens are signed with `JWT_SIGNING_KEY` (and verifiable from the key set).
    #[must_use]
    pub fn is_asymmetric(self) -> bool {
        !matches!(self, Self::Hs256)
    }

    /// The `jsonwebtoken` algorithm.
    #[must_use]
    pub fn jwt(self) -> Algorithm {
        match self {
            Self::Hs256 => Algorithm::HS256,
            Self::EdDsa => Algorithm::EdDSA,
            Self::Es256 => Algorithm::ES256,
        }
    }
}

impl std::fmt::Display for AccessAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a value is not a usable signing key (never says anything about the value itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyProblem {
    /// Not a PEM `PRIVATE KEY` block (PKCS#8), or its base64 does not decode.
    #[error("is not a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)")]
    NotPkcs8Pem,
    /// PKCS#8, but neither an Ed25519 nor a P-256 key (or a malformed one).
    #[error("is not an Ed25519 or P-256 private key")]
    Unsupported,
}

/// A parsed private signing key. `Debug` shows the algorithm and `kid` only.
#[derive(Clone)]
pub struct SigningKey {
    der: SecretSlice<u8>,
    public: PublicKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("public", &self.public).finish_non_exhaustive()
    }
}

/// The public half of a signing key, as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKey {
    /// `EdDSA` or `ES256`.
    pub alg: AccessAlgorithm,
    /// RFC 7638 thumbprint (SHA-256, base64url).
    pub kid: String,
    /// The `x` member (the Ed25519 public key, or the P-256 point's x coordinate), base64url.
    pub x: String,
    /// The P-256 point's `y` coordinate, base64url (none for Ed25519).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

/// The DER inside a PKCS#8 PEM block.
fn pem_to_der(pem: &str) -> Result<Vec<u8>, KeyProblem> {
    let body = pem.trim();
    let body = body.strip_prefix(PEM_BEGIN).ok_or(KeyProblem::NotPkcs8Pem)?;
    let body = body.strip_suffix(PEM_END).ok_or(KeyProblem::NotPkcs8Pem)?;
    let b64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(b64).map_err(|_| KeyProblem::NotPkcs8Pem)
}

impl SigningKey {
    /// Parses a PKCS#8 PEM private key of Ed25519 or P-256.
    ///
    /// # Errors
    /// [`KeyProblem`] when it is not one.
    pub fn parse(pem: &str) -> Result<Self, KeyProblem> {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
        let der = pem_to_der(pem)?;
        let public = if let Ok(pair) = Ed25519KeyPair::from_pkcs8(&der) {
            PublicKey::ed25519(pair.public_key().as_ref())
        } else if let Ok(pair) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der) {
            PublicKey::p256(pair.public_key().as_ref()).ok_or(KeyProblem::Unsupported)?
        } else {
            return Err(KeyProblem::Unsupported);
        };
        Ok(Self { der: der.into(), public })
    }

    /// A new key for `alg` as PKCS#8 PEM (the local profile's generated key).
    ///
    /// # Panics
    /// When the system's random source fails (nothing could be signed safely then), or for HS256 (no key).
    #[must_use]
    pub fn generate_pem(alg: AccessAlgorithm) -> String {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
        let rng = SystemRandom::new();
        let doc = match alg {
            AccessAlgorithm::EdDsa => Ed25519KeyPair::generate_pkcs8(&rng).expect("the system random source works"),
            AccessAlgorithm::Es256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .expect("the system random source works"),
            AccessAlgorithm::Hs256 => panic!("HS256 has no signing key to generate"),
        };
        let b64 = STANDARD.encode(doc.as_ref());
        let mut pem = String::from(PEM_BEGIN);
        pem.push('\n');
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str(PEM_END);
        pem.push('\n');
        pem
    }

    /// The algorithm it signs with.
    #[must_use]
    pub fn alg(&self) -> AccessAlgorithm {
        self.public.alg
    }

    /// Its public half.
    #[must_use]
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The key for `jsonwebtoken::encode`.
    #[must_use]
    pub fn encoding_key(&self) -> EncodingKey {
        match self.public.alg {
            AccessAlgorithm::Es256 => EncodingKey::from_ec_der(self.der.expose_secret()),
            _ => EncodingKey::from_ed_der(self.der.expose_secret()),
        }
    }
}

impl PublicKey {
    fn ed25519(public: &[u8]) -> Self {
        let x = URL_SAFE_NO_PAD.encode(public);
        let kid = thumbprint(&format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#));
        Self { alg: AccessAlgorithm::EdDsa, kid, x, y: None }
    }

    /// From the uncompressed SEC1 point (`04 ‖ x ‖ y`).
    fn p256(point: &[u8]) -> Option<Self> {
        if point.len() != 65 || point[0] != 4 {
            return None;
        }
        let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
        let y = URL_SAFE_NO_PAD.encode(&point[33..]);
        let kid = thumbprint(&format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#));
        Some(Self { alg: AccessAlgorithm::Es256, kid, x, y: Some(y) })
    }

    /// The JSON Web Key (RFC 7517) as published: `kty`, `crv`, `x` (`y`), `kid`, `alg`, `use: "sig"`.
    #[must_use]
    pub fn jwk(&self) -> Value {
        match &self.y {
            Some(y) => json!({"kty": "EC", "crv": "P-256", "x": self.x, "y": y, "kid": self.kid,
                "alg": self.alg.as_str(), "use": "sig"}),
            None => json!({"kty": "OKP", "crv": "Ed25519", "x": self.x, "kid": self.kid,
                "alg": self.alg.as_str(), "use": "sig"}),
        }
    }

    /// A public key read back from the fleet's record: accepted only when it is well-formed and its `kid` is
    /// its own thumbprint.
    #[must_use]
    pub fn from_record(value: &Value) -> Option<Self> {
        let key: Self = serde_json::from_value(value.clone()).ok()?;
        let x = URL_SAFE_NO_PAD.decode(&key.x).ok()?;
        let rebuilt = match (key.alg, &key.y) {
            (AccessAlgorithm::EdDsa, None) if x.len() == 32 => Self::ed25519(&x),
            (AccessAlgorithm::Es256, Some(y)) => {
                let mut point = vec![4u8];
                point.extend_from_slice(&x);
                point.extend_from_slice(&URL_SAFE_NO_PAD.decode(y).ok()?);
                Self::p256(&point)?
            }
            _ => return None,
        };
        (rebuilt == key).then_some(key)
    }

    /// The key for `jsonwebtoken::decode`.
    ///
    /// # Errors
    /// The coordinates do not decode (a record that was not made by [`SigningKey::parse`]).
    pub fn decoding_key(&self) -> Result<DecodingKey, KeyProblem> {
        match &self.y {
            Some(y) => DecodingKey::from_ec_components(&self.x, y),
            None => DecodingKey::from_ed_components(&self.x),
        }
        .map_err(|_| KeyProblem::Unsupported)
    }
}

/// base64url(SHA-256(canonical JWK)) (RFC 7638 section 3).
fn thumbprint(canonical: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A generated key of each algorithm parses back to that algorithm, and its `kid` is a 43-character
    /// base64url thumbprint; Debug shows no key material.
    #[test]
    fn generated_keys_parse_with_their_algorithm() {
        for alg in [AccessAlgorithm::EdDsa, AccessAlgorithm::Es256] {
            let pem = SigningKey::generate_pem(alg);
            let key = SigningKey::parse(&pem).expect("a generated key parses");
            assert_eq!(key.alg(), alg);
            assert_eq!(key.public().kid.len(), 43);
            assert!(key.public().decoding_key().is_ok());
            let shown = format!("{key:?}");
            assert!(!shown.contains(&pem[30..60]), "{shown}");
        }
    }

    /// RFC 8037 appendix A.3: the thumbprint of the example Ed25519 key.
    #[test]
    fn ed25519_thumbprint_matches_rfc_8037() {
        let x = URL_SAFE_NO_PAD.decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").expect("base64url");
        assert_eq!(PublicKey::ed25519(&x).kid, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    /// A recorded public key reads back only when its `kid` is its thumbprint.
    #[test]
    fn recorded_keys_read_back_only_with_their_own_kid() {
        for alg in [AccessAlgorithm::EdDsa, AccessAlgorithm::Es256] {
            let key = SigningKey::parse(&SigningKey::generate_pem(alg)).expect("parses");
            let record = serde_json::to_value(key.public()).expect("serialises");
            assert_eq!(PublicKey::from_record(&record).as_ref(), Some(key.public()));
            let mut forged = record.clone();
            forged["kid"] = json!("someone-elses-kid");
            assert_eq!(PublicKey::from_record(&forged), None);
        }
    }

    /// An HS256 secret, a PEM of another type and garbage are refused with what is wrong.
    #[test]
    fn other_values_are_refused() {
        assert_eq!(SigningKey::parse("q7R2vX9kLm4PzT8wN3bH6yC1dF5gJ0sA").unwrap_err(), KeyProblem::NotPkcs8Pem);
        let not_a_key = format!("{PEM_BEGIN}\nAAAA\n{PEM_END}\n");
        assert_eq!(SigningKey::parse(&not_a_key).unwrap_err(), KeyProblem::Unsupported);
    }
}
