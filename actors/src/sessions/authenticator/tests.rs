use std::collections::{BTreeMap, HashSet};

use uuid::Uuid;

use super::*;
use crate::secrets::keyring::{SecretOrigin, SecretVersion, Versions};
use crate::secrets::{SecretName, SecretValue};
use crate::sessions::view::RevocationView;

const JWT: &str = "q7R2vX9kLm4PzT8wN3bH6yC1dF5gJ0sA";
const NEXT_JWT: &str = "Zt5Kp2Wq9Lx7Mv3Bn8Rc4Hd6Jf1Gs0Ya";

fn version(secret: &str) -> SecretVersion {
    SecretVersion::first(SecretValue::new(secret), SecretOrigin::Env)
}

fn ring_of(versions: Versions) -> KeyRing {
    KeyRing::new(BTreeMap::from([(SecretName::JwtSecret, versions)]))
}

/// Claims of a fresh session's token, issued `age_s` seconds ago with the default 15-minute lifetime.
fn claims_aged(age_s: i64) -> AccessClaims {
    let iat = OffsetDateTime::now_utc().unix_timestamp() - age_s;
    AccessClaims {
        sub: Uuid::now_v7(),
        sid: Uuid::now_v7(),
        iat,
        exp: iat + 900,
        iss: "gantry".into(),
        aud: "gantry-api".into(),
        jti: Uuid::new_v4(),
    }
}

fn sign(claims: &AccessClaims, secret: &str) -> String {
    tokens::sign_access(claims, &SecretValue::new(secret))
}

/// An authenticator over a ring holding only `JWT` and an empty view.
fn authenticator() -> Authenticator {
    Authenticator::new(
        ring_of(Versions::only(version(JWT))).shared(),
        Arc::new(TokenSettings::default()),
        RevocationView::default().shared(),
    )
}

fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).expect("ms")
}

/// A token signed with the current key, of a session nobody revoked, is accepted with its claims.
#[test]
fn a_valid_token_is_accepted_with_its_claims() {
    let auth = authenticator();
    let claims = claims_aged(0);
    let token = sign(&claims, JWT);
    assert_eq!(auth.authenticate(&token).as_deref(), Ok(&claims));
    assert_eq!(auth.authenticate(&token).as_deref(), Ok(&claims), "the remembered token answers the same");
}

/// A token that is not a JWT, or one signed with a key the ring does not hold, is invalid.
#[test]
fn a_garbled_or_foreign_token_is_invalid() {
    let auth = authenticator();
    assert_eq!(auth.authenticate("not-a-token"), Err(AuthError::Invalid));
    assert_eq!(auth.authenticate(&sign(&claims_aged(0), NEXT_JWT)), Err(AuthError::Invalid));
}

/// A token past its expiry (beyond the leeway) is refused as expired, not as invalid.
#[test]
fn an_expired_token_is_refused_as_expired() {
    let auth = authenticator();
    assert_eq!(auth.authenticate(&sign(&claims_aged(900 + 60), JWT)), Err(AuthError::Expired));
}

/// A token already verified once is refused as soon as the view says its session was revoked: remembering
/// verified tokens never skips the revocation check.
#[test]
fn a_remembered_token_is_refused_once_its_session_is_revoked() {
    let auth = authenticator();
    let claims = claims_aged(0);
    let token = sign(&claims, JWT);
    assert!(auth.authenticate(&token).is_ok());
    auth.view.store(Arc::new(RevocationView { revoked: HashSet::from([claims.sid]), ..RevocationView::default() }));
    assert_eq!(auth.authenticate(&token), Err(AuthError::Revoked(None)));
}

/// A session ended by a mass invalidation with a message is refused with that notice, and the refusal is
/// counted on the notice (for the revocation's evidence).
#[test]
fn a_mass_invalidation_refusal_carries_its_notice_and_is_counted() {
    let auth = authenticator();
    let token = sign(&claims_aged(0), JWT);
    let epoch = now_ms() + 60_000;
    let notice = Arc::new(UserNotice::new(Uuid::now_v7(), "log in again".into(), OffsetDateTime::now_utc(), epoch));
    auth.view.store(Arc::new(RevocationView {
        global_ms: epoch,
        global_notice: Some(Arc::clone(&notice)),
        ..RevocationView::default()
    }));
    assert_eq!(auth.authenticate(&token), Err(AuthError::Revoked(Some(Arc::clone(&notice)))));
    assert_eq!(notice.take_refused(), 1);
}

/// After the key ring is swapped (a rotation), tokens remembered under the old ring are verified again
/// against the new one: a token of a key no longer held is invalid, one of the new key is accepted.
#[test]
fn a_swapped_key_ring_takes_effect_at_the_next_request() {
    let auth = authenticator();
    let old = sign(&claims_aged(0), JWT);
    assert!(auth.authenticate(&old).is_ok());
    auth.keyring.store(Arc::new(ring_of(Versions::only(version(NEXT_JWT)))));
    assert_eq!(auth.authenticate(&old), Err(AuthError::Invalid));
    assert!(auth.authenticate(&sign(&claims_aged(0), NEXT_JWT)).is_ok());
}

/// Within the previous key's grace after a promotion, a token it signed is still accepted.
#[test]
fn a_token_of_the_previous_key_is_accepted_within_its_grace() {
    let auth = authenticator();
    auth.keyring.store(Arc::new(ring_of(Versions::with_previous(version(NEXT_JWT), version(JWT)))));
    let claims = claims_aged(0);
    assert_eq!(auth.authenticate(&sign(&claims, JWT)).as_deref(), Ok(&claims));
}

/// A ring signing EdDSA with `pem` (and `JWT` for HS256), `previous` as the retired previous key when given
/// (an emergency rotation) or as the previous key within its window.
fn signing_ring(pem: &str, previous: Option<(&str, bool)>) -> KeyRing {
    let signing = match previous {
        None => Versions::only(version(pem)),
        Some((old, retired)) => {
            Versions { previous_retired: retired, ..Versions::with_previous(version(pem), version(old)) }
        }
    };
    KeyRing::new(BTreeMap::from([
        (SecretName::JwtSecret, Versions::only(version(JWT))),
        (SecretName::JwtSigningKey, signing),
    ]))
}

fn sign_eddsa(claims: &AccessClaims, pem: &str) -> String {
    let key = crate::secrets::signing_key::SigningKey::parse(pem).expect("valid key");
    tokens::sign_access_with(claims, &key)
}

/// An authenticator over a ring signing EdDSA with `pem`, and an empty view.
fn eddsa_authenticator(pem: &str) -> Authenticator {
    Authenticator::new(
        signing_ring(pem, None).shared(),
        Arc::new(TokenSettings::default()),
        RevocationView::default().shared(),
    )
}

fn eddsa_pem() -> String {
    crate::secrets::signing_key::SigningKey::generate_pem(crate::secrets::signing_key::AccessAlgorithm::EdDsa)
}

/// An EdDSA token is verified once and then answered from the cache (one entry, whatever the requests); a
/// revocation refuses it at the next request although its signature is cached.
#[test]
fn a_cached_asymmetric_token_is_still_refused_once_revoked() {
    let pem = eddsa_pem();
    let auth = eddsa_authenticator(&pem);
    let claims = claims_aged(0);
    let token = sign_eddsa(&claims, &pem);
    for _ in 0..3 {
        assert_eq!(auth.authenticate(&token).as_deref(), Ok(&claims));
    }
    assert_eq!(auth.verified_tokens().size().0, 1, "verified once, remembered once");
    auth.view.store(Arc::new(RevocationView { revoked: HashSet::from([claims.sid]), ..RevocationView::default() }));
    assert_eq!(auth.authenticate(&token), Err(AuthError::Revoked(None)));
}

/// An emergency rotation (the old signing key retired) refuses the old key's cached token at the next request
/// and drops its entries; the new key's tokens are cached as before.
#[test]
fn an_emergency_rotation_empties_the_old_keys_cached_tokens() {
    let (old, new) = (eddsa_pem(), eddsa_pem());
    let auth = eddsa_authenticator(&old);
    let cached = sign_eddsa(&claims_aged(0), &old);
    assert!(auth.authenticate(&cached).is_ok());
    assert_eq!(auth.verified_tokens().size().0, 1);
    auth.keyring.store(Arc::new(signing_ring(&new, Some((&old, true)))));
    assert_eq!(auth.authenticate(&cached), Err(AuthError::Invalid));
    assert_eq!(auth.verified_tokens().size().0, 0, "the old key's entries are gone");
    assert!(auth.authenticate(&sign_eddsa(&claims_aged(0), &new)).is_ok());
    assert_eq!(auth.verified_tokens().size().0, 1);
}

/// A planned rotation keeps the old key verifying within its window, but its tokens are verified each time
/// (and counted as grace verifications), not answered from the cache.
#[test]
fn a_previous_keys_tokens_are_verified_each_time() {
    let (old, new) = (eddsa_pem(), eddsa_pem());
    let auth = eddsa_authenticator(&old);
    let token = sign_eddsa(&claims_aged(0), &old);
    assert!(auth.authenticate(&token).is_ok());
    auth.keyring.store(Arc::new(signing_ring(&new, Some((&old, false)))));
    assert!(auth.authenticate(&token).is_ok(), "the previous key verifies within its window");
    assert_eq!(auth.verified_tokens().size().0, 0, "but is no longer remembered");
}
