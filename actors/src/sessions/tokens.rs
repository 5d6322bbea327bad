//! Tokens. Access tokens are JWTs signed HS256 with the current `JWT_SECRET` version, `kid` = its
//! fingerprint, `typ` = `at+jwt`; verification pins the algorithm and the `typ`, refuses any `crit`, requires
//! every claim, checks `iss`/`aud`, refuses `nbf`/`iat` in the future and `exp - iat` above the access lifetime,
//! and allows 30 s of leeway. Refresh tokens are opaque: base64url of the session id, the session's generation, 32 random bytes
//! and a MAC binding them (see [`RefreshToken`]), stored only as a SHA-256 hash.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::ports::sessions::RefreshMacKey;
use crate::secrets::{KeyRing, SecretName, SecretValue};

/// Leeway allowed on `exp`, `nbf` and `iat` (clock skew between instances and clients).
pub const LEEWAY_SECS: u64 = 30;

/// The `typ` header of access tokens (RFC 9068 explicit typing, RFC 8725 section 3.11): a JWT of any other
/// kind cannot be taken for one.
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// Token lifetimes and identities.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// `iss` of access tokens.
    pub issuer: String,
    /// `aud` of access tokens.
    pub audience: String,
    /// Access token lifetime.
    pub access_ttl: Duration,
    /// Refresh token lifetime (each rotation starts a new one).
    pub refresh_ttl: Duration,
    /// Absolute session lifetime, whatever the rotations.
    pub absolute_ttl: Duration,
    /// A used refresh token presented again within this grace returns the pair it already produced.
    pub refresh_grace: Duration,
    /// After a `JWT_SECRET` promotion, tokens signed with the previous version verify this long.
    pub previous_key_grace: Duration,
}

impl TokenSettings {
    /// How long an individual revocation must stay known after the session could last issue an access token:
    /// one access token's lifetime plus the leeway on both sides (its `exp` and the verifying clock). The
    /// views reload the revocations of this window, and the store keeps a revoked session's entry this long
    /// past the session's absolute expiry.
    #[must_use]
    pub fn revocation_horizon(&self) -> Duration {
        self.access_ttl + 2 * Duration::from_secs(LEEWAY_SECS)
    }
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            issuer: "gantry".into(),
            audience: "gantry-api".into(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            previous_key_grace: Duration::from_secs(15 * 60),
            absolute_ttl: Duration::from_secs(90 * 24 * 3600),
            refresh_grace: Duration::from_secs(10),
        }
    }
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user.
    pub sub: Uuid,
    /// The session.
    pub sid: Uuid,
    /// Issued at (s).
    pub iat: i64,
    /// Expires at (s).
    pub exp: i64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Token id.
    pub jti: Uuid,
}

/// Why a token was refused. Each maps to a distinct 401 `code`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Malformed, wrong algorithm, unknown `kid`, bad signature, wrong issuer/audience, missing claims.
    #[error("the token is invalid")]
    Invalid,
    /// Past `exp` (+ leeway).
    #[error("the token has expired")]
    Expired,
}

/// Signs `claims` with `key`; `kid` is the key's fingerprint.
///
/// # Panics
/// Never: HS256 signing of serialisable claims cannot fail.
#[must_use]
pub fn sign_access(claims: &AccessClaims, key: &SecretValue) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
    header.kid = Some(key.fingerprint().as_str().to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(key.expose().as_bytes()))
        .expect("HS256 signing of plain claims cannot fail")
}

/// The JWT secret version named by `kid`: the current one, or the previous one during rotation.
#[must_use]
pub fn key_for_kid<'a>(keyring: &'a KeyRing, kid: &str) -> Option<&'a SecretValue> {
    let versions = keyring.versions(SecretName::JwtSecret)?;
    std::iter::once(&versions.current)
        .chain(versions.previous.iter().filter(|_| !versions.previous_retired))
        .map(|v| &v.value)
        .find(|v| v.fingerprint().as_str() == kid)
}

/// Which `JWT_SECRET` version verified a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// The current one.
    Current,
    /// The staged one (a rotation's smoke test).
    Pending,
    /// The previous one, within its grace window.
    Previous,
}

/// Verifies an access token against the key ring (builds a [`Verifier`]; the request path keeps one).
///
/// # Errors
/// [`TokenError::Expired`] past `exp`; [`TokenError::Invalid`] for everything else.
pub fn verify_access(token: &str, keyring: &KeyRing, settings: &TokenSettings) -> Result<AccessClaims, TokenError> {
    Verifier::new(keyring, settings).verify(token)
}

/// Everything verification needs, prepared once per key ring version: the pinned validation rules and a
/// decoding key per accepted `kid` (current, pending and previous `JWT_SECRET`; the previous one only until
/// its grace window closes).
pub struct Verifier {
    validation: Validation,
    /// The configured access lifetime: a token claiming a longer one (`exp - iat`) was not made here.
    max_lifetime_secs: i64,
    keys: Vec<(String, DecodingKey, KeyUse)>,
    /// The end of the previous key's grace window (Unix seconds).
    previous_until: i64,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|(k, _, _)| k.as_str()).collect();
        f.debug_struct("Verifier").field("kids", &kids).finish_non_exhaustive()
    }
}

impl Verifier {
    /// Prepares verification for the JWT secrets in `keyring`.
    #[must_use]
    pub fn new(keyring: &KeyRing, settings: &TokenSettings) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        // `nbf` is optional, but a token carrying one in the future (beyond the leeway) is refused.
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["sub", "iat", "exp", "iss", "aud"]);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        let mut keys = Vec::new();
        let mut previous_until = i64::MIN;
        if let Some(v) = keyring.versions(SecretName::JwtSecret) {
            let entry = |s: &crate::secrets::keyring::SecretVersion, used| {
                (s.fingerprint().as_str().to_owned(), DecodingKey::from_secret(s.value.expose().as_bytes()), used)
            };
            keys.push(entry(&v.current, KeyUse::Current));
            if let Some(p) = &v.pending {
                keys.push(entry(p, KeyUse::Pending));
            }
            // A retired previous key (emergency rotation) verifies nothing: its tokens are `token_invalid`.
            if let Some(p) = v.previous.as_ref().filter(|_| !v.previous_retired) {
                keys.push(entry(p, KeyUse::Previous));
                previous_until = (v.promoted_at + settings.previous_key_grace).unix_timestamp();
            }
        }
        let max_lifetime_secs = i64::try_from(settings.access_ttl.as_secs()).unwrap_or(i64::MAX);
        Self { validation, max_lifetime_secs, keys, previous_until }
    }

    /// Verifies an access token.
    ///
    /// # Errors
    /// [`TokenError::Expired`] past `exp`; [`TokenError::Invalid`] for everything else.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        self.verify_with(token).map(|(claims, _)| claims)
    }

    /// Verifies an access token and says which key version did.
    ///
    /// # Errors
    /// [`TokenError::Expired`] past `exp`; [`TokenError::Invalid`] for everything else, including a token of
    /// the previous key after its grace window.
    pub fn verify_with(&self, token: &str) -> Result<(AccessClaims, KeyUse), TokenError> {
        // `alg: none` and unknown algorithms fail here: the header type has no such variant.
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Invalid);
        }
        // RFC 8725: explicit typing (media types compare case-insensitively, with or without `application/`),
        // and no critical extension we would have to understand (we understand none).
        let typ = header.typ.as_deref().unwrap_or("");
        let typ = typ.strip_prefix("application/").unwrap_or(typ);
        if !typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE) || header.crit.is_some() {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let (_, key, used) = self.keys.iter().find(|(k, _, _)| *k == kid).ok_or(TokenError::Invalid)?;
        if *used == KeyUse::Previous && time::OffsetDateTime::now_utc().unix_timestamp() >= self.previous_until {
            return Err(TokenError::Invalid);
        }
        let data = jsonwebtoken::decode::<AccessClaims>(token, key, &self.validation).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            _ => TokenError::Invalid,
        })?;
        // Issued in the future (beyond the leeway), or claiming a longer life than this server gives: not ours.
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let leeway = i64::try_from(LEEWAY_SECS).unwrap_or(30);
        let claims = data.claims;
        if claims.iat > now + leeway || claims.exp.saturating_sub(claims.iat) > self.max_lifetime_secs {
            return Err(TokenError::Invalid);
        }
        Ok((claims, *used))
    }
}

/// A refresh token. Two shapes:
/// - v2 (issued now): base64url(session id 16 ‖ generation u32 BE ‖ 32 random bytes ‖ tag 16), where the
///   tag is HMAC-SHA256(the session's [`RefreshMacKey`], context ‖ id ‖ generation ‖ random), truncated. The
///   tag proves the server issued this generation of this session, so any older generation presented after
///   its grace is recognised as reuse without the session remembering every retired token.
/// - legacy: base64url(session id 16 ‖ 32 random bytes), from before generations were bound in.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshToken([REDACTED])")
    }
}

/// Domain separation for the grace seal.
const SEAL_CONTEXT: &[u8] = b"gantry refresh grace seal v1";
/// Domain separation for the generation tag.
const TAG_CONTEXT: &[u8] = b"gantry refresh generation tag v2";
/// Raw length of a legacy token.
const LEGACY_LEN: usize = 48;
/// Raw length of a v2 token.
const V2_LEN: usize = 68;
/// Tag length (128 bits).
const TAG_LEN: usize = 16;

type HmacSha256 = hmac::Hmac<Sha256>;

fn generation_tag(key: &RefreshMacKey, raw_without_tag: &[u8]) -> HmacSha256 {
    use hmac::Mac;
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key.expose()).expect("HMAC takes keys of any length");
    mac.update(TAG_CONTEXT);
    mac.update(raw_without_tag);
    mac
}

impl RefreshToken {
    /// A fresh legacy-shaped token for `session` (256 random bits); kept for tests of old sessions.
    #[must_use]
    pub fn generate(session: Uuid) -> Self {
        let mut secret = [0u8; 32];
        rand_bytes(&mut secret);
        Self::from_parts(session, &secret)
    }

    /// A fresh token of generation `generation` of `session`, tagged with the session's key.
    #[must_use]
    pub fn issue(session: Uuid, generation: u32, key: &RefreshMacKey) -> Self {
        let mut secret = [0u8; 32];
        rand_bytes(&mut secret);
        Self::from_parts_v2(session, generation, &secret, key)
    }

    fn from_parts(session: Uuid, secret: &[u8; 32]) -> Self {
        let mut raw = Vec::with_capacity(LEGACY_LEN);
        raw.extend_from_slice(session.as_bytes());
        raw.extend_from_slice(secret);
        Self(URL_SAFE_NO_PAD.encode(raw))
    }

    fn from_parts_v2(session: Uuid, generation: u32, secret: &[u8; 32], key: &RefreshMacKey) -> Self {
        use hmac::Mac;
        let mut raw = Vec::with_capacity(V2_LEN);
        raw.extend_from_slice(session.as_bytes());
        raw.extend_from_slice(&generation.to_be_bytes());
        raw.extend_from_slice(secret);
        let tag = generation_tag(key, &raw).finalize().into_bytes();
        raw.extend_from_slice(&tag[..TAG_LEN]);
        Self(URL_SAFE_NO_PAD.encode(raw))
    }

    /// Parses a presented token; `None` when it is not of our shape.
    #[must_use]
    pub fn parse(presented: &str) -> Option<Self> {
        let raw = URL_SAFE_NO_PAD.decode(presented.trim()).ok()?;
        matches!(raw.len(), LEGACY_LEN | V2_LEN).then(|| Self(presented.trim().to_owned()))
    }

    fn raw(&self) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(&self.0).expect("validated on construction")
    }

    /// The session the token belongs to.
    ///
    /// # Panics
    /// Never for a token built by [`Self::generate`] or accepted by [`Self::parse`].
    #[must_use]
    pub fn session_id(&self) -> Uuid {
        Uuid::from_slice(&self.raw()[..16]).expect("16 bytes")
    }

    /// The generation the token claims (v2 tokens; legacy ones carry none). Trust it only once
    /// [`Self::is_authentic`] said so.
    #[must_use]
    pub fn generation(&self) -> Option<u32> {
        let raw = self.raw();
        (raw.len() == V2_LEN).then(|| u32::from_be_bytes([raw[16], raw[17], raw[18], raw[19]]))
    }

    /// Whether the tag of a v2 token was made with `key` (constant-time comparison). Legacy tokens: false.
    #[must_use]
    pub fn is_authentic(&self, key: &RefreshMacKey) -> bool {
        use hmac::Mac;
        let raw = self.raw();
        if raw.len() != V2_LEN {
            return false;
        }
        let (body, tag) = raw.split_at(V2_LEN - TAG_LEN);
        generation_tag(key, body).verify_truncated_left(tag).is_ok()
    }

    fn secret(&self) -> [u8; 32] {
        let raw = self.raw();
        let start = if raw.len() == V2_LEN { 20 } else { 16 };
        let mut out = [0u8; 32];
        out.copy_from_slice(&raw[start..start + 32]);
        out
    }

    /// Hex SHA-256 of the token: what the store keeps.
    #[must_use]
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// The token text, for the response.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Seals `successor` so that only a holder of `self` (the token it replaced) can recover it: the
    /// successor's secret XOR SHA-256(context ‖ self). The store keeps only hashes of `self`, so what it
    /// holds is useless on its own.
    #[must_use]
    pub fn seal(&self, successor: &Self) -> String {
        let pad = Sha256::new().chain_update(SEAL_CONTEXT).chain_update(self.0.as_bytes()).finalize();
        let sealed: Vec<u8> = successor.secret().iter().zip(pad.iter()).map(|(a, b)| a ^ b).collect();
        hex::encode(sealed)
    }

    /// Recovers the successor sealed by [`Self::seal`] for `session`: of generation `tagged.0` tagged with
    /// `tagged.1` when given (v2), legacy-shaped otherwise.
    #[must_use]
    pub fn unseal(&self, session: Uuid, sealed: &str, tagged: Option<(u32, &RefreshMacKey)>) -> Option<Self> {
        let sealed = hex::decode(sealed).ok()?;
        if sealed.len() != 32 {
            return None;
        }
        let pad = Sha256::new().chain_update(SEAL_CONTEXT).chain_update(self.0.as_bytes()).finalize();
        let mut secret = [0u8; 32];
        for (i, (a, b)) in sealed.iter().zip(pad.iter()).enumerate() {
            secret[i] = a ^ b;
        }
        Some(match tagged {
            Some((generation, key)) => Self::from_parts_v2(session, generation, &secret, key),
            None => Self::from_parts(session, &secret),
        })
    }
}

/// Fills `buf` from the thread-local CSPRNG (ChaCha, seeded from the OS).
fn rand_bytes(buf: &mut [u8]) {
    rand::fill(buf);
}

#[cfg(test)]
mod tests;
