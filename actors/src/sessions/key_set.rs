//! The published key set (`GET /.well-known/jwks.json`, RFC 7517): the public keys of
//! [`tokens::published_keys`] as JSON Web Keys, rendered once per key ring version (and again when the
//! previous key's window closes) so every request is answered from memory with a ready body and ETag; and the
//! fleet's record of public keys: what an instance writes of its key set, and adopts of its peers' at start-up.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::tokens::{self, PublishedKey, TokenSettings};
use crate::ports::rotations::SigningKeyRecord;
use crate::secrets::{KeyRing, SharedKeyRing};

/// One rendering of the key set.
#[derive(Debug)]
pub struct KeySetDocument {
    /// `{"keys": [...]}`.
    pub body: Bytes,
    /// A strong ETag (quoted), the body's SHA-256 prefix.
    pub etag: String,
    /// The `kid`s published, in order (the current signing key first).
    pub kids: Vec<String>,
    /// The ring it was rendered from.
    ring: Arc<KeyRing>,
    /// The first moment a published key's window closes (Unix seconds): rendered again from then on.
    changes_at: i64,
}

/// The key set of a key ring, rendered lazily. Cheap to clone (shared parts).
#[derive(Clone)]
pub struct KeySet {
    keyring: SharedKeyRing,
    settings: Arc<TokenSettings>,
    rendered: Arc<ArcSwapOption<KeySetDocument>>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet").finish_non_exhaustive()
    }
}

impl KeySet {
    /// The key set of `keyring`.
    #[must_use]
    pub fn new(keyring: SharedKeyRing, settings: Arc<TokenSettings>) -> Self {
        Self { keyring, settings, rendered: Arc::new(ArcSwapOption::empty()) }
    }

    /// The `Cache-Control` max-age of the key set, seconds.
    #[must_use]
    pub fn max_age_secs(&self) -> u64 {
        self.settings.key_set_max_age.as_secs()
    }

    /// The current document: the last rendering while the ring is the same and no key's window closed.
    #[must_use]
    pub fn document(&self) -> Arc<KeySetDocument> {
        let ring = self.keyring.load();
        let now = OffsetDateTime::now_utc().unix_timestamp();
        if let Some(doc) = self.rendered.load_full()
            && Arc::ptr_eq(&doc.ring, &ring)
            && now < doc.changes_at
        {
            return doc;
        }
        let doc = Arc::new(render(arc_swap::Guard::into_inner(ring), &self.settings, now));
        self.rendered.store(Some(Arc::clone(&doc)));
        doc
    }
}

/// Renders the key set of `ring` at `now`.
fn render(ring: Arc<KeyRing>, settings: &TokenSettings, now: i64) -> KeySetDocument {
    let published = tokens::published_keys(&ring, settings, now);
    let keys: Vec<serde_json::Value> = published.iter().map(|p| p.key.jwk()).collect();
    let body = serde_json::to_vec(&serde_json::json!({ "keys": keys })).expect("JSON values serialise");
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&body)[..12]));
    let changes_at = published.iter().filter_map(|p| p.until).min().unwrap_or(i64::MAX);
    let kids = published.iter().map(|p| p.key.kid.clone()).collect();
    KeySetDocument { body: Bytes::from(body), etag, kids, ring, changes_at }
}

/// The records of `keys` (what this instance publishes), for the fleet's record.
#[must_use]
pub fn key_records(keys: &[PublishedKey]) -> Vec<SigningKeyRecord> {
    keys.iter()
        .map(|p| SigningKeyRecord {
            kid: p.key.kid.clone(),
            public: serde_json::to_value(&p.key).unwrap_or(serde_json::Value::Null),
            verify_until: p.until,
            revoked_at: None,
        })
        .collect()
}

/// `keyring` with the recorded keys it does not publish itself and that still verify at `now` adopted (a
/// peer's signing key, the previous key of a rotation this instance restarted in). Revoked records, and records
/// that do not read back as a well-formed key with its own `kid`, are skipped.
#[must_use]
pub fn adopt_recorded_keys(
    keyring: crate::secrets::KeyRing,
    records: Vec<SigningKeyRecord>,
    settings: &TokenSettings,
    now: i64,
) -> crate::secrets::KeyRing {
    let own = tokens::published_keys(&keyring, settings, now);
    let adopted = records
        .into_iter()
        .filter(|r| {
            !own.iter().any(|o| o.key.kid == r.kid)
                && r.revoked_at.is_none()
                && r.verify_until.is_none_or(|until| now < until)
        })
        .filter_map(|r| {
            let key = crate::secrets::signing_key::PublicKey::from_record(&r.public).filter(|k| k.kid == r.kid)?;
            Some(crate::secrets::keyring::AdoptedKey { key, until: r.verify_until })
        })
        .collect();
    keyring.with_adopted(adopted)
}

/// A signing key this instance was configured with that the fleet's record says an emergency rotation revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedInUse {
    /// The variable holding it (`JWT_SIGNING_KEY` or `JWT_SIGNING_KEY_NEXT`).
    pub variable: crate::secrets::SecretName,
    /// Its `kid` (public).
    pub kid: String,
    /// The fingerprint of the configured value (never the value).
    pub fingerprint: crate::secrets::Fingerprint,
    /// When it was revoked (Unix seconds).
    pub revoked_at: i64,
}

impl std::fmt::Display for RevokedInUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = OffsetDateTime::from_unix_timestamp(self.revoked_at)
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_else(|| self.revoked_at.to_string());
        write!(
            f,
            "{} holds the signing key {} (fingerprint {}), which an emergency rotation revoked at {at}: this \
             instance will neither publish nor sign with it. Put the fleet's current key into {} (its fingerprint \
             is in GET /admin/secrets of a running instance) and start again (docs/runbook.md, The signing key)",
            self.variable,
            self.kid,
            self.fingerprint.as_str(),
            self.variable
        )
    }
}

/// The signing keys of `keyring` (`JWT_SIGNING_KEY` and `JWT_SIGNING_KEY_NEXT`, every version) that `records`
/// mark revoked: an instance started with stale key files after an emergency rotation. Start-up refuses to go
/// on with any (it would publish the leaked key again, sign with it, and record it in use for its peers).
#[must_use]
pub fn revoked_in_use(keyring: &KeyRing, records: &[SigningKeyRecord]) -> Vec<RevokedInUse> {
    use crate::secrets::SecretName;
    let mut out = Vec::new();
    for variable in [SecretName::JwtSigningKey, SecretName::JwtSigningKeyNext] {
        let Some(versions) = keyring.versions(variable) else { continue };
        let configured =
            std::iter::once(&versions.current).chain(versions.pending.iter()).chain(versions.previous.iter());
        for version in configured {
            let Ok(key) = crate::secrets::signing_key::SigningKey::parse(version.value.expose()) else { continue };
            let kid = &key.public().kid;
            if let Some(revoked_at) = records.iter().find(|r| &r.kid == kid).and_then(|r| r.revoked_at) {
                out.push(RevokedInUse {
                    variable,
                    kid: kid.clone(),
                    fingerprint: version.fingerprint().clone(),
                    revoked_at,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::secrets::keyring::{SecretOrigin, SecretVersion, Versions};
    use crate::secrets::signing_key::{AccessAlgorithm, SigningKey};
    use crate::secrets::{Fingerprint, SecretName, SecretValue};

    fn record(pem: &str, verify_until: Option<i64>, revoked_at: Option<i64>) -> SigningKeyRecord {
        let key = SigningKey::parse(pem).expect("valid").public().clone();
        SigningKeyRecord {
            kid: key.kid.clone(),
            public: serde_json::to_value(&key).expect("json"),
            verify_until,
            revoked_at,
        }
    }

    fn ring(signing: &str, next: &str) -> KeyRing {
        let version = |v: &str| Versions::only(SecretVersion::first(SecretValue::new(v), SecretOrigin::File));
        KeyRing::new(BTreeMap::from([
            (SecretName::JwtSigningKey, version(signing)),
            (SecretName::JwtSigningKeyNext, version(next)),
        ]))
    }

    /// Stale key files after an emergency rotation: a configured key (current or next) the record marks revoked
    /// is named — variable, kid and fingerprint, never the value — and never adopted; a key that only aged out
    /// is neither.
    #[test]
    fn a_revoked_key_in_the_files_is_named_and_never_adopted() {
        let pems: Vec<String> = (0..3).map(|_| SigningKey::generate_pem(AccessAlgorithm::EdDsa)).collect();
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let records = vec![record(&pems[0], Some(now - 5), Some(now - 5)), record(&pems[1], Some(now - 5), None)];
        assert!(revoked_in_use(&ring(&pems[1], &pems[2]), &records).is_empty(), "aged out is not revoked");
        for (ring, variable) in [
            (ring(&pems[0], &pems[2]), SecretName::JwtSigningKey),
            (ring(&pems[2], &pems[0]), SecretName::JwtSigningKeyNext),
        ] {
            let found = revoked_in_use(&ring, &records);
            assert_eq!(found.len(), 1, "{found:?}");
            assert_eq!((found[0].variable, found[0].kid.as_str()), (variable, records[0].kid.as_str()));
            let text = found[0].to_string();
            assert!(text.contains(&records[0].kid) && text.contains(Fingerprint::of(&pems[0]).as_str()), "{text}");
            assert!(!text.contains("PRIVATE KEY"), "never the key: {text}");
        }
        let settings = TokenSettings::default();
        let live = vec![record(&pems[0], None, Some(now - 5))];
        let adopted = adopt_recorded_keys(ring(&pems[1], &pems[2]), live, &settings, now);
        assert!(adopted.adopted_keys().is_empty(), "a revoked key is never adopted");
    }
}
