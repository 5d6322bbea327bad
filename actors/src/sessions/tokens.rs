//! Tokens. Access tokens are JWTs, `typ` = `at+jwt`, signed as `sessions.access_token_algorithm` says: HS256
//! with the current `JWT_SECRET` version (`kid` = its fingerprint), or EdDSA / ES256 with the current
//! `JWT_SIGNING_KEY` (`kid` = its public key's RFC 7638 thumbprint, published in the key set). Verification
//! accepts every key of the ring whatever the setting (a deployment moves between algorithms without logging
//! anyone out), each pinned to its own algorithm by its `kid`; it pins the `typ`, refuses any `crit`, requires
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
use crate::secrets::signing_key::{AccessAlgorithm, PublicKey, SigningKey};
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
    /// How access tokens are signed.
    pub algorithm: AccessAlgorithm,
    /// `Cache-Control: max-age` of the published key set (and a never-published key's wait before it signs).
    pub key_set_max_age: Duration,
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
            algorithm: AccessAlgorithm::Hs256,
            key_set_max_age: Duration::from_secs(300),
        }
    }
}

impl TokenSettings {
    /// How long a previous signing key keeps verifying after a promotion: the longest access token it can
    /// have signed, plus the leeway.
    #[must_use]
    pub fn previous_signing_key_window(&self) -> Duration {
        self.access_ttl + Duration::from_secs(LEEWAY_SECS)
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

/// Signs `claims` with an asymmetric `key`; `kid` is its public key's thumbprint.
///
/// # Panics
/// Never for a key [`SigningKey::parse`] accepted: signing plain claims with it cannot fail.
#[must_use]
pub fn sign_access_with(claims: &AccessClaims, key: &SigningKey) -> String {
    let mut header = Header::new(key.alg().jwt());
    header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
    header.kid = Some(key.public().kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding_key())
        .expect("signing plain claims with a parsed key cannot fail")
}

/// Signs `claims` as `settings.algorithm` says, with the current key of `keyring`.
///
/// # Panics
/// When the ring lacks the key the algorithm needs (start-up validation requires it).
#[must_use]
pub fn sign_current(claims: &AccessClaims, keyring: &KeyRing, settings: &TokenSettings) -> String {
    if settings.algorithm.is_asymmetric() {
        let pem = keyring.current(SecretName::JwtSigningKey).expect("JWT_SIGNING_KEY is validated at start-up");
        let key = SigningKey::parse(pem.expose()).expect("JWT_SIGNING_KEY is validated at start-up");
        sign_access_with(claims, &key)
    } else {
        sign_access(claims, keyring.current(SecretName::JwtSecret).expect("JWT_SECRET is validated at start-up"))
    }
}

/// Signs `claims` again with the key named `kid` while the ring still signs with it (a refresh replayed within
/// its grace hands back the same kind of token), else as [`sign_current`].
#[must_use]
pub fn sign_again(claims: &AccessClaims, kid: &str, keyring: &KeyRing, settings: &TokenSettings) -> String {
    if let Some(versions) = keyring.versions(SecretName::JwtSecret) {
        let live =
            std::iter::once(&versions.current).chain(versions.previous.iter().filter(|_| !versions.previous_retired));
        if let Some(v) = live.map(|v| &v.value).find(|v| v.fingerprint().as_str() == kid) {
            return sign_access(claims, v);
        }
    }
    if let Some(versions) = keyring.versions(SecretName::JwtSigningKey) {
        let live =
            std::iter::once(&versions.current).chain(versions.previous.iter().filter(|_| !versions.previous_retired));
        for v in live {
            if let Ok(key) = SigningKey::parse(v.value.expose())
                && key.public().kid == kid
            {
                return sign_access_with(claims, &key);
            }
        }
    }
    sign_current(claims, keyring, settings)
}

/// Which key version verified a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// The current one (or a published one that does not sign yet: `JWT_SIGNING_KEY_NEXT`).
    Current,
    /// The staged one (a rotation's smoke test).
    Pending,
    /// The previous one, within its grace window.
    Previous,
}

/// One key the verifier accepts: its `kid`, its algorithm, the key, which version it is, and until when it
/// verifies (Unix seconds; `i64::MAX` for keys in use).
struct AcceptedKey {
    kid: String,
    alg: Algorithm,
    key: DecodingKey,
    used: KeyUse,
    until: i64,
}

/// A public signing key the key set publishes and the verifier accepts, with its end (Unix seconds; `None` =
/// in use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedKey {
    /// The key.
    pub key: PublicKey,
    /// Which version it is.
    pub used: KeyUse,
    /// When it stops verifying and leaves the key set.
    pub until: Option<i64>,
}

/// The asymmetric public keys of `keyring` that verify and are published at `now`: current, pending and
/// previous (within its window, unless retired) `JWT_SIGNING_KEY`, the older previous ones still within their
/// own windows, current and pending `JWT_SIGNING_KEY_NEXT`, and the keys adopted from the fleet's record. One
/// entry per `kid`, the current key first.
#[must_use]
pub fn published_keys(keyring: &KeyRing, settings: &TokenSettings, now: i64) -> Vec<PublishedKey> {
    let mut out: Vec<PublishedKey> = Vec::new();
    let mut push = |value: &SecretValue, used: KeyUse, until: Option<i64>| {
        if let Ok(key) = SigningKey::parse(value.expose())
            && !out.iter().any(|p| p.key.kid == key.public().kid)
        {
            out.push(PublishedKey { key: key.public().clone(), used, until });
        }
    };
    if let Some(v) = keyring.versions(SecretName::JwtSigningKey) {
        push(&v.current.value, KeyUse::Current, None);
        if let Some(p) = &v.pending {
            push(&p.value, KeyUse::Pending, None);
        }
        let window = i64::try_from(settings.previous_signing_key_window().as_secs()).unwrap_or(i64::MAX);
        let until = v.promoted_at.unix_timestamp().saturating_add(window);
        if let Some(p) = v.previous.as_ref().filter(|_| !v.previous_retired && now < until) {
            push(&p.value, KeyUse::Previous, Some(until));
        }
    }
    if let Some(v) = keyring.versions(SecretName::JwtSigningKeyNext) {
        push(&v.current.value, KeyUse::Current, None);
        if let Some(p) = &v.pending {
            push(&p.value, KeyUse::Pending, None);
        }
    }
    // Keys replaced while they were still `previous` (two rotations within one access token's lifetime): each
    // until its own window closes.
    let window = i64::try_from(settings.previous_signing_key_window().as_secs()).unwrap_or(i64::MAX);
    for retiring in keyring.retiring_keys() {
        let until = retiring.replaced_at.unix_timestamp().saturating_add(window);
        if now < until && !out.iter().any(|p| p.key.kid == retiring.key.kid) {
            out.push(PublishedKey { key: retiring.key.clone(), used: KeyUse::Previous, until: Some(until) });
        }
    }
    for adopted in keyring.adopted_keys() {
        if adopted.until.is_none_or(|u| now < u) && !out.iter().any(|p| p.key.kid == adopted.key.kid) {
            out.push(PublishedKey { key: adopted.key.clone(), used: KeyUse::Previous, until: adopted.until });
        }
    }
    out
}

/// Verifies an access token against the key ring (builds a [`Verifier`]; the request path keeps one).
///
/// # Errors
/// [`TokenError::Expired`] past `exp`; [`TokenError::Invalid`] for everything else.
pub fn verify_access(token: &str, keyring: &KeyRing, settings: &TokenSettings) -> Result<AccessClaims, TokenError> {
    Verifier::new(keyring, settings).verify(token)
}

/// Everything verification needs, prepared once per key ring version: the pinned validation rules per
/// algorithm and a decoding key per accepted `kid` (current, pending and previous `JWT_SECRET`, the previous
/// one only until its grace window closes; the published signing keys, see [`published_keys`]).
pub struct Verifier {
    /// HS256, EdDSA and ES256 rules (`jsonwebtoken` wants one algorithm family per validation).
    validations: [(Algorithm, Validation); 3],
    /// The configured access lifetime: a token claiming a longer one (`exp - iat`) was not made here.
    max_lifetime_secs: i64,
    keys: Vec<AcceptedKey>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
        f.debug_struct("Verifier").field("kids", &kids).finish_non_exhaustive()
    }
}

impl Verifier {
    /// Prepares verification for the keys in `keyring`.
    #[must_use]
    pub fn new(keyring: &KeyRing, settings: &TokenSettings) -> Self {
        let validation = |alg| {
            let mut validation = Validation::new(alg);
            validation.leeway = LEEWAY_SECS;
            validation.validate_exp = true;
            // `nbf` is optional, but a token carrying one in the future (beyond the leeway) is refused.
            validation.validate_nbf = true;
            validation.set_required_spec_claims(&["sub", "iat", "exp", "iss", "aud"]);
            validation.set_issuer(&[&settings.issuer]);
            validation.set_audience(&[&settings.audience]);
            (alg, validation)
        };
        let validations = [validation(Algorithm::HS256), validation(Algorithm::EdDSA), validation(Algorithm::ES256)];
        let mut keys = Vec::new();
        if let Some(v) = keyring.versions(SecretName::JwtSecret) {
            let mut entry = |s: &crate::secrets::keyring::SecretVersion, used, until| {
                keys.push(AcceptedKey {
                    kid: s.fingerprint().as_str().to_owned(),
                    alg: Algorithm::HS256,
                    key: DecodingKey::from_secret(s.value.expose().as_bytes()),
                    used,
                    until,
                });
            };
            entry(&v.current, KeyUse::Current, i64::MAX);
            if let Some(p) = &v.pending {
                entry(p, KeyUse::Pending, i64::MAX);
            }
            // A retired previous key (emergency rotation) verifies nothing: its tokens are `token_invalid`.
            if let Some(p) = v.previous.as_ref().filter(|_| !v.previous_retired) {
                entry(p, KeyUse::Previous, (v.promoted_at + settings.previous_key_grace).unix_timestamp());
            }
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        for published in published_keys(keyring, settings, now) {
            if let Ok(key) = published.key.decoding_key() {
                keys.push(AcceptedKey {
                    kid: published.key.kid.clone(),
                    alg: published.key.alg.jwt(),
                    key,
                    used: published.used,
                    until: published.until.unwrap_or(i64::MAX),
                });
            }
        }
        let max_lifetime_secs = i64::try_from(settings.access_ttl.as_secs()).unwrap_or(i64::MAX);
        Self { validations, max_lifetime_secs, keys }
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
        self.verify_detailed(token).map(|(claims, used, _, _)| (claims, used))
    }

    /// Whether tokens of the key `kid` may be remembered as verified at `now` (Unix seconds): a key in use
    /// (current, pending, the published next), not a previous one (its tokens are verified, and counted, each
    /// time until its window closes) and not one the ring no longer holds.
    #[must_use]
    pub fn trusts(&self, kid: &str, now: i64) -> bool {
        self.keys.iter().any(|k| k.kid == kid && k.used != KeyUse::Previous && now < k.until)
    }

    /// Every `kid` [`Self::trusts`] at `now`.
    #[must_use]
    pub fn trusted_kids(&self, now: i64) -> Vec<String> {
        self.keys.iter().filter(|k| self.trusts(&k.kid, now)).map(|k| k.kid.clone()).collect()
    }

    /// Verifies an access token: its claims, which key version verified it, until when that key verifies
    /// (Unix seconds) and its `kid`.
    ///
    /// # Errors
    /// As [`Self::verify_with`].
    pub fn verify_detailed(&self, token: &str) -> Result<(AccessClaims, KeyUse, i64, &str), TokenError> {
        // `alg: none` and unknown algorithms fail here: the header type has no such variant.
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        // RFC 8725: explicit typing (media types compare case-insensitively, with or without `application/`),
        // and no critical extension we would have to understand (we understand none).
        let typ = header.typ.as_deref().unwrap_or("");
        let typ = typ.strip_prefix("application/").unwrap_or(typ);
        if !typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE) || header.crit.is_some() {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        // The `kid` names the key, and the key pins the algorithm: a token cannot pick how it is checked.
        let accepted = self.keys.iter().find(|k| k.kid == kid).ok_or(TokenError::Invalid)?;
        if header.alg != accepted.alg {
            return Err(TokenError::Invalid);
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if now >= accepted.until {
            return Err(TokenError::Invalid);
        }
        let (_, validation) =
            self.validations.iter().find(|(alg, _)| *alg == accepted.alg).ok_or(TokenError::Invalid)?;
        let data =
            jsonwebtoken::decode::<AccessClaims>(token, &accepted.key, validation).map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?;
        // Issued in the future (beyond the leeway), or claiming a longer life than this server gives: not ours.
        let leeway = i64::try_from(LEEWAY_SECS).unwrap_or(30);
        let claims = data.claims;
        if claims.iat > now + leeway || claims.exp.saturating_sub(claims.iat) > self.max_lifetime_secs {
            return Err(TokenError::Invalid);
        }
        Ok((claims, accepted.used, accepted.until, accepted.kid.as_str()))
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
