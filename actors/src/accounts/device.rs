//! Device tokens (OWASP's device-cookie pattern, ASVS 5.0 V6.1.1): a successful login gets a signed token naming
//! the account it logged in to; a later login to that account presenting it is from a device that knew the
//! password before, and is not held by the per-account failure limit that strangers can fill from many addresses
//! (it keeps its own limit per device, and the per-address limit).
//!
//! Shape: `d1.<account digest>.<expiry>.<tag>`, all base64url or decimal: the account digest is the first 16
//! bytes of SHA-256 of the normalised email (the token does not carry the address itself), the expiry is Unix
//! seconds, and the tag is HMAC-SHA256 (first 16 bytes) over `gantry-device-v1` and the rest, keyed with the
//! current `JWT_SECRET`; tokens verify against the current and previous versions, so a rotation leaves them
//! valid until the previous version goes (then a device is a stranger again until its next login).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;
use sha2::{Digest, Sha256};
use subtle_compare::equal;
use time::OffsetDateTime;

use crate::secrets::{KeyRing, SecretName, SecretValue};

/// How long a device token is valid: a device that has not logged in for this long is a stranger again.
pub const DEVICE_TOKEN_TTL_SECS: i64 = 180 * 24 * 60 * 60;

/// Domain separation of the tag (no other token of ours is tagged over the same bytes).
const CONTEXT: &[u8] = b"gantry-device-v1";

/// The account digest: the first 16 bytes of SHA-256 of the normalised email, base64url.
fn account_digest(account_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(account_key.as_bytes())[..16])
}

fn tag(key: &SecretValue, body: &str) -> String {
    let mut mac =
        <hmac::Hmac<Sha256> as Mac>::new_from_slice(key.expose().as_bytes()).expect("HMAC takes keys of any length");
    mac.update(CONTEXT);
    mac.update(body.as_bytes());
    URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..16])
}

/// A device token for the account `account_key` (a normalised email), valid from `now` for
/// [`DEVICE_TOKEN_TTL_SECS`]; `None` when the key ring has no `JWT_SECRET` (start-up refuses that).
#[must_use]
pub fn issue(account_key: &str, keyring: &KeyRing, now: OffsetDateTime) -> Option<String> {
    let key = keyring.current(SecretName::JwtSecret)?;
    let body =
        format!("d1.{}.{}", account_digest(account_key), now.unix_timestamp().saturating_add(DEVICE_TOKEN_TTL_SECS));
    let tag = tag(key, &body);
    Some(format!("{body}.{tag}"))
}

/// Whether `token` is a device token Gantry issued for the account `account_key`, unexpired at `now`, signed
/// with the current or previous `JWT_SECRET` (unless that was retired).
#[must_use]
pub fn is_valid_for(token: &str, account_key: &str, keyring: &KeyRing, now: OffsetDateTime) -> bool {
    let Some((body, presented)) = token.rsplit_once('.') else { return false };
    let mut parts = body.split('.');
    let (Some("d1"), Some(digest), Some(expiry), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    if !equal(digest.as_bytes(), account_digest(account_key).as_bytes())
        || !expiry.parse::<i64>().is_ok_and(|exp| exp >= now.unix_timestamp())
    {
        return false;
    }
    let Some(versions) = keyring.versions(SecretName::JwtSecret) else { return false };
    let previous = versions.previous.as_ref().filter(|_| !versions.previous_retired);
    std::iter::once(&versions.current)
        .chain(previous)
        .any(|version| equal(tag(&version.value, body).as_bytes(), presented.as_bytes()))
}

/// Constant-time comparison of tags (no timing tells how many leading bytes matched).
mod subtle_compare {
    /// Whether `a` and `b` are equal, in time that depends only on their lengths.
    pub(super) fn equal(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::secret_value::SecretOrigin;
    use crate::secrets::keyring::{SecretVersion, Versions};

    fn ring(value: &str) -> KeyRing {
        KeyRing::new(BTreeMap::from([(
            SecretName::JwtSecret,
            Versions::only(SecretVersion::first(SecretValue::new(value), SecretOrigin::File)),
        )]))
    }

    /// A token verifies for its own account until it expires, and not for another account, another key, or
    /// with a changed byte.
    #[test]
    fn tokens_verify_for_their_account_and_key_only() {
        let keys = ring("a-jwt-secret-of-at-least-32-characters!");
        let now = OffsetDateTime::now_utc();
        let token = issue("victim@example.com", &keys, now).expect("a key");
        assert!(is_valid_for(&token, "victim@example.com", &keys, now));
        assert!(!is_valid_for(&token, "other@example.com", &keys, now));
        assert!(!is_valid_for(&token, "victim@example.com", &ring("another-secret-of-at-least-32-characters"), now));
        let later = now + time::Duration::seconds(DEVICE_TOKEN_TTL_SECS + 1);
        assert!(!is_valid_for(&token, "victim@example.com", &keys, later));
        let mut forged = token.clone();
        forged.replace_range(forged.len() - 1.., if token.ends_with('A') { "B" } else { "A" });
        assert!(!is_valid_for(&forged, "victim@example.com", &keys, now));
        assert!(!is_valid_for("d1.x.1.y", "victim@example.com", &keys, now));
    }
}
