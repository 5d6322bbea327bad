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
        })
        .collect()
}

/// `keyring` with the recorded keys it does not publish itself and that still verify at `now` adopted (a
/// peer's signing key, the previous key of a rotation this instance restarted in). Records that do not read
/// back as a well-formed key with its own `kid` are skipped.
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
        .filter(|r| !own.iter().any(|o| o.key.kid == r.kid) && r.verify_until.is_none_or(|until| now < until))
        .filter_map(|r| {
            let key = crate::secrets::signing_key::PublicKey::from_record(&r.public).filter(|k| k.kid == r.kid)?;
            Some(crate::secrets::keyring::AdoptedKey { key, until: r.verify_until })
        })
        .collect();
    keyring.with_adopted(adopted)
}
