//! Guest upload tokens: short-lived JWTs that let someone without an account upload a few files of a few
//! types. Signed HS256 with the current `UPLOAD_GUEST_TOKEN_SECRET` version (`kid` = its fingerprint), verified
//! against the current and previous versions, with the algorithm pinned and every claim required.
//!
//! They are kept apart from access tokens three ways, so that neither can stand in for the other even if the
//! secrets were ever equal (start-up refuses that): another secret (so another `kid`), another audience
//! (`gantry-upload`, not `gantry-api`), and a `typ` claim of `upload` with a `guest:` subject, which access
//! claims cannot deserialise from.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::media::MediaType;
use crate::secrets::{KeyRing, SecretName, SecretValue};
use crate::sessions::tokens::{LEEWAY_SECS, TokenError};

/// The `typ` claim every guest upload token carries.
pub const GUEST_TOKEN_TYPE: &str = "upload";

/// The prefix of a guest token's subject; the rest is the token id.
pub const GUEST_SUBJECT_PREFIX: &str = "guest:";

/// Identity, lifetime and limits of guest upload tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestTokenSettings {
    /// `iss` of guest tokens.
    pub issuer: String,
    /// `aud` of guest tokens; must differ from the access tokens' audience.
    pub audience: String,
    /// Token lifetime.
    pub ttl: Duration,
    /// Most bytes one upload made with the token may have.
    pub max_bytes: u64,
    /// Most files that may be uploaded with the token.
    pub max_files: u32,
    /// Media types the token allows.
    pub allowed: Vec<MediaType>,
}

impl Default for GuestTokenSettings {
    fn default() -> Self {
        Self {
            issuer: "gantry".into(),
            audience: "gantry-upload".into(),
            ttl: Duration::from_secs(15 * 60),
            max_bytes: 25 * 1024 * 1024,
            max_files: 10,
            allowed: MediaType::ALL.to_vec(),
        }
    }
}

/// The claims of a guest upload token. The limits travel in the token, so a token keeps the limits it was
/// issued with when the settings change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestClaims {
    /// `guest:<jti>`: the owner recorded on the uploads made with this token.
    pub sub: String,
    /// Token id.
    pub jti: Uuid,
    /// Issued at (s).
    pub iat: i64,
    /// Expires at (s).
    pub exp: i64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Always [`GUEST_TOKEN_TYPE`].
    pub typ: String,
    /// Most bytes per upload.
    pub max_bytes: u64,
    /// Most files.
    pub max_files: u32,
    /// Allowed MIME types (canonical spellings of [`MediaType::mime`]).
    pub allowed_types: Vec<String>,
}

impl GuestClaims {
    /// The allowed media types, for [`super::media::check`]; spellings this build does not know are skipped.
    #[must_use]
    pub fn allowed_media(&self) -> Vec<MediaType> {
        self.allowed_types.iter().filter_map(|t| MediaType::parse_mime(t)).collect()
    }
}

/// Issues a guest upload token valid from `now` for `settings.ttl`, signed with the current
/// `UPLOAD_GUEST_TOKEN_SECRET`.
///
/// # Panics
/// When the key ring has no `UPLOAD_GUEST_TOKEN_SECRET`: start-up refuses to run without one.
#[must_use]
pub fn issue(keyring: &KeyRing, settings: &GuestTokenSettings, now: OffsetDateTime) -> (String, GuestClaims) {
    let key = keyring
        .current(SecretName::UploadGuestTokenSecret)
        .expect("UPLOAD_GUEST_TOKEN_SECRET is required and validated at start-up");
    let jti = Uuid::new_v4();
    let iat = now.unix_timestamp();
    let ttl = i64::try_from(settings.ttl.as_secs()).unwrap_or(i64::MAX);
    let claims = GuestClaims {
        sub: format!("{GUEST_SUBJECT_PREFIX}{jti}"),
        jti,
        iat,
        exp: iat.saturating_add(ttl),
        iss: settings.issuer.clone(),
        aud: settings.audience.clone(),
        typ: GUEST_TOKEN_TYPE.to_owned(),
        max_bytes: settings.max_bytes,
        max_files: settings.max_files,
        allowed_types: settings.allowed.iter().map(|t| t.mime().to_owned()).collect(),
    };
    (sign(&claims, key), claims)
}

/// Signs `claims` with `key`; `kid` is the key's fingerprint.
fn sign(claims: &GuestClaims, key: &SecretValue) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key.fingerprint().as_str().to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(key.expose().as_bytes()))
        .expect("HS256 signing of plain claims cannot fail")
}

/// Verifies a guest upload token against the current and previous `UPLOAD_GUEST_TOKEN_SECRET`.
///
/// # Errors
/// [`TokenError::Expired`] past `exp` (+ 30 s leeway); [`TokenError::Invalid`] for everything else: malformed,
/// another algorithm, unknown `kid`, bad signature, wrong issuer or audience, a missing claim, a `typ` other than
/// `upload`, or a subject that is not `guest:<jti>`.
pub fn verify(token: &str, keyring: &KeyRing, settings: &GuestTokenSettings) -> Result<GuestClaims, TokenError> {
    // `alg: none` and unknown algorithms fail here: the header type has no such variant.
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
    if header.alg != Algorithm::HS256 {
        return Err(TokenError::Invalid);
    }
    let kid = header.kid.ok_or(TokenError::Invalid)?;
    let key = key_for_kid(keyring, &kid).ok_or(TokenError::Invalid)?;

    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = LEEWAY_SECS;
    validation.validate_exp = true;
    // `iat` is not a claim jsonwebtoken checks, but `GuestClaims` cannot deserialise without it.
    validation.set_required_spec_claims(&["sub", "exp", "iss", "aud"]);
    validation.set_issuer(&[&settings.issuer]);
    validation.set_audience(&[&settings.audience]);
    let claims =
        jsonwebtoken::decode::<GuestClaims>(token, &DecodingKey::from_secret(key.expose().as_bytes()), &validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?
            .claims;

    if claims.typ != GUEST_TOKEN_TYPE || claims.sub != format!("{GUEST_SUBJECT_PREFIX}{}", claims.jti) {
        return Err(TokenError::Invalid);
    }
    Ok(claims)
}

/// The `UPLOAD_GUEST_TOKEN_SECRET` version named by `kid`: the current one, the staged one (a rotation's smoke
/// test), or the previous one — tokens it signed stay valid until they expire (at most their TTL).
fn key_for_kid<'a>(keyring: &'a KeyRing, kid: &str) -> Option<&'a SecretValue> {
    let versions = keyring.versions(SecretName::UploadGuestTokenSecret)?;
    std::iter::once(&versions.current)
        .chain(versions.pending.iter())
        .chain(versions.previous.iter())
        .map(|v| &v.value)
        .find(|v| v.fingerprint().as_str() == kid)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::*;
    use crate::secrets::keyring::{SecretOrigin, SecretVersion, Versions};
    use crate::sessions::tokens::{AccessClaims, TokenSettings, sign_access, verify_access};

    const JWT: &str = "q7R2vX9kLm4PzT8wN3bH6yC1dF5gJ0sA";
    const GUEST: &str = "Hs3Wd8Nq1Zr6Kv0Tb5Ym2Xc7Lp4Fj9Ga";
    const GUEST_OLD: &str = "Pc4Rn7Ux2Vk9Qa5Me1Tz8Wb3Jh6Ld0Sy";

    fn version(secret: &str) -> SecretVersion {
        SecretVersion::first(SecretValue::new(secret), SecretOrigin::Env)
    }

    fn ring(jwt: &str, guest: &str) -> KeyRing {
        let mut m = BTreeMap::new();
        m.insert(SecretName::JwtSecret, Versions::only(version(jwt)));
        m.insert(SecretName::UploadGuestTokenSecret, Versions::only(version(guest)));
        KeyRing::new(m)
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn access_claims() -> AccessClaims {
        let now = now().unix_timestamp();
        AccessClaims {
            sub: Uuid::now_v7(),
            sid: Uuid::now_v7(),
            iat: now,
            exp: now + 900,
            iss: "gantry".into(),
            aud: "gantry-api".into(),
            jti: Uuid::new_v4(),
        }
    }

    /// An issued token verifies and carries the settings' limits and a `guest:<jti>` subject.
    #[test]
    fn issued_token_round_trips() {
        let keyring = ring(JWT, GUEST);
        let settings = GuestTokenSettings::default();
        let (token, claims) = issue(&keyring, &settings, now());
        assert_eq!(verify(&token, &keyring, &settings), Ok(claims.clone()));
        assert_eq!(claims.sub, format!("guest:{}", claims.jti));
        assert_eq!((claims.typ.as_str(), claims.aud.as_str()), ("upload", "gantry-upload"));
        assert_eq!(claims.exp - claims.iat, 15 * 60);
        assert_eq!((claims.max_bytes, claims.max_files), (25 * 1024 * 1024, 10));
        assert_eq!(claims.allowed_media(), MediaType::ALL.to_vec());
    }

    /// A token signed with the previous secret version still verifies during rotation.
    #[test]
    fn previous_secret_version_verifies() {
        let settings = GuestTokenSettings::default();
        let (token, claims) = issue(&ring(JWT, GUEST_OLD), &settings, now());
        let mut versions = Versions::only(version(GUEST));
        versions.previous = Some(Arc::new(version(GUEST_OLD)));
        let rotating = KeyRing::new(BTreeMap::from([(SecretName::UploadGuestTokenSecret, versions)]));
        assert_eq!(verify(&token, &rotating, &settings), Ok(claims));
        assert_eq!(
            verify(&token, &ring(JWT, GUEST), &settings),
            Err(TokenError::Invalid),
            "once the old version is gone"
        );
    }

    /// Past `exp` plus the 30 s leeway is `Expired`; within the leeway it still verifies.
    #[test]
    fn expired_token_is_expired() {
        let keyring = ring(JWT, GUEST);
        let settings = GuestTokenSettings::default();
        let ttl = time::Duration::try_from(settings.ttl).expect("ttl fits");
        let (old, _) = issue(&keyring, &settings, now() - ttl - time::Duration::seconds(60));
        assert_eq!(verify(&old, &keyring, &settings), Err(TokenError::Expired));
        let (recent, _) = issue(&keyring, &settings, now() - ttl - time::Duration::seconds(10));
        assert!(verify(&recent, &keyring, &settings).is_ok());
    }

    /// An access token is not a guest token, even when both secrets are equal.
    #[test]
    fn access_token_is_not_a_guest_token() {
        let settings = GuestTokenSettings::default();
        for keyring in [ring(JWT, GUEST), ring(JWT, JWT)] {
            let access = sign_access(&access_claims(), keyring.current(SecretName::JwtSecret).expect("jwt"));
            assert!(verify_access(&access, &keyring, &TokenSettings::default()).is_ok(), "a valid access token");
            assert_eq!(verify(&access, &keyring, &settings), Err(TokenError::Invalid));
        }
    }

    /// A guest token is not an access token, even when both secrets are equal.
    #[test]
    fn guest_token_is_not_an_access_token() {
        let settings = GuestTokenSettings::default();
        for keyring in [ring(JWT, GUEST), ring(JWT, JWT)] {
            let (guest, _) = issue(&keyring, &settings, now());
            assert_eq!(verify_access(&guest, &keyring, &TokenSettings::default()), Err(TokenError::Invalid));
        }
    }

    /// Correctly signed claims with another `typ`, a foreign subject or another audience are refused.
    #[test]
    fn wrong_typ_subject_or_audience_is_invalid() {
        let keyring = ring(JWT, GUEST);
        let settings = GuestTokenSettings::default();
        let key = keyring.current(SecretName::UploadGuestTokenSecret).expect("guest secret");
        let (_, claims) = issue(&keyring, &settings, now());

        let wrong_typ = GuestClaims { typ: "access".into(), ..claims.clone() };
        let wrong_sub = GuestClaims { sub: format!("guest:{}", Uuid::new_v4()), ..claims.clone() };
        let user_sub = GuestClaims { sub: format!("user:{}", claims.jti), ..claims.clone() };
        let wrong_aud = GuestClaims { aud: "gantry-api".into(), ..claims.clone() };
        let wrong_iss = GuestClaims { iss: "someone-else".into(), ..claims };
        for (name, forged) in
            [("typ", wrong_typ), ("sub", wrong_sub), ("user sub", user_sub), ("aud", wrong_aud), ("iss", wrong_iss)]
        {
            assert_eq!(verify(&sign(&forged, key), &keyring, &settings), Err(TokenError::Invalid), "{name}");
        }
    }

    /// Another algorithm, no `kid`, a missing claim or garbage are invalid.
    #[test]
    fn forged_tokens_are_invalid() {
        let keyring = ring(JWT, GUEST);
        let settings = GuestTokenSettings::default();
        let key = keyring.current(SecretName::UploadGuestTokenSecret).expect("guest secret");
        let (_, claims) = issue(&keyring, &settings, now());
        let encode = |header: &Header, payload: &serde_json::Value| {
            jsonwebtoken::encode(header, payload, &EncodingKey::from_secret(GUEST.as_bytes())).expect("sign")
        };
        let kid = key.fingerprint().as_str().to_owned();
        let payload = serde_json::to_value(&claims).expect("json");

        let hs512 = encode(&Header { kid: Some(kid.clone()), ..Header::new(Algorithm::HS512) }, &payload);
        let no_kid = encode(&Header::new(Algorithm::HS256), &payload);
        let mut no_typ = payload.clone();
        no_typ.as_object_mut().expect("object").remove("typ");
        let no_typ = encode(&Header { kid: Some(kid.clone()), ..Header::new(Algorithm::HS256) }, &no_typ);
        let mut no_iat = payload;
        no_iat.as_object_mut().expect("object").remove("iat");
        let no_iat = encode(&Header { kid: Some(kid), ..Header::new(Algorithm::HS256) }, &no_iat);

        for (name, token) in
            [("hs512", hs512), ("no kid", no_kid), ("no typ", no_typ), ("no iat", no_iat), ("garbage", "a.b.c".into())]
        {
            assert_eq!(verify(&token, &keyring, &settings), Err(TokenError::Invalid), "{name}");
        }
    }
}
