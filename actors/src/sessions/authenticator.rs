//! The request-path authenticator: what the gateway calls on every authenticated request. It verifies the
//! access token (signature, claims, expiry) and checks its session against the published revocation view:
//! no network, no actor round-trip, nothing written but a refusal count on a users' notice.
//!
//! Verified tokens are remembered per key ring, so a client's next requests with the same token skip base64,
//! JSON and HMAC; expiry is re-checked on every hit and revocation on every request.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use arc_swap::ArcSwapOption;
use time::OffsetDateTime;

use super::tokens::{self, AccessClaims, TokenError, TokenSettings};
use super::view::{SharedView, UserNotice};
use crate::secrets::{KeyRing, SharedKeyRing};

/// Why an access token was refused on the request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// Bad token.
    Invalid,
    /// Expired token.
    Expired,
    /// The session was revoked; with the users' notice of the mass invalidation that did it, if it had one.
    Revoked(Option<Arc<UserNotice>>),
}

/// Checks access tokens against the current key ring and the published view. Cheap to clone (shared parts).
#[derive(Clone)]
pub struct Authenticator {
    /// Signing keys; a rotation swaps the ring.
    keyring: SharedKeyRing,
    /// Issuer, audience, lifetimes.
    settings: Arc<TokenSettings>,
    /// The revocation view the session registry publishes.
    view: SharedView,
    /// Rebuilt only when the key ring changes (rotation), so the request path allocates nothing for it.
    verifier: Arc<ArcSwapOption<PreparedVerifier>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

/// A [`tokens::Verifier`], the key ring it was prepared for, and the tokens it already verified.
struct PreparedVerifier {
    ring: Arc<KeyRing>,
    verifier: tokens::Verifier,
    verified: VerifiedTokens,
}

impl Authenticator {
    /// An authenticator reading `keyring` and `view` at every call.
    #[must_use]
    pub fn new(keyring: SharedKeyRing, settings: Arc<TokenSettings>, view: SharedView) -> Self {
        Self { keyring, settings, view, verifier: Arc::new(ArcSwapOption::empty()) }
    }

    /// Verifies an access token and checks its session against the published view.
    ///
    /// # Errors
    /// [`AuthError`] for a bad, expired or revoked token.
    pub fn authenticate(&self, token: &str) -> Result<Arc<AccessClaims>, AuthError> {
        let claims = self.verify(token)?;
        let view = self.view.load();
        if view.allows(claims.sid, claims.sub, claims.iat) {
            Ok(claims)
        } else {
            let notice = view.notice_for(claims.sid, claims.sub, claims.iat).cloned();
            if let Some(notice) = &notice {
                notice.count_refusal();
            }
            Err(AuthError::Revoked(notice))
        }
    }

    /// The token's claims, from the tokens already verified with this key ring or by verifying it.
    fn verify(&self, token: &str) -> Result<Arc<AccessClaims>, AuthError> {
        let prepared = self.prepared();
        let now_s = OffsetDateTime::now_utc().unix_timestamp();
        let leeway = i64::try_from(tokens::LEEWAY_SECS).unwrap_or(30);
        if let Some(claims) = prepared.verified.get(token)
            && claims.exp + leeway > now_s
        {
            return Ok(claims);
        }
        let (claims, used, _) = prepared.verifier.verify_detailed(token).map_err(|e| match e {
            TokenError::Expired => AuthError::Expired,
            TokenError::Invalid => AuthError::Invalid,
        })?;
        let claims = Arc::new(claims);
        if used == tokens::KeyUse::Previous {
            // Not cached: its grace window closes on its own clock.
            let secret = match jsonwebtoken::decode_header(token).map(|h| h.alg) {
                Ok(jsonwebtoken::Algorithm::HS256) => "JWT_SECRET",
                _ => "JWT_SIGNING_KEY",
            };
            metrics::counter!("gantry_secret_grace_verifications_total", "secret" => secret).increment(1);
        } else {
            prepared.verified.insert(token, Arc::clone(&claims));
        }
        Ok(claims)
    }

    /// The verifier of the current key ring, prepared again after a rotation swapped the ring.
    fn prepared(&self) -> Arc<PreparedVerifier> {
        let ring = self.keyring.load();
        match self.verifier.load_full() {
            Some(p) if Arc::ptr_eq(&p.ring, &ring) => p,
            _ => {
                let ring = arc_swap::Guard::into_inner(ring);
                let verifier = tokens::Verifier::new(&ring, &self.settings);
                let p = Arc::new(PreparedVerifier { verifier, ring, verified: VerifiedTokens::new() });
                self.verifier.store(Some(Arc::clone(&p)));
                p
            }
        }
    }
}

/// Tokens that passed signature and claim checks, so a client's next requests with the same token skip
/// base64, JSON and HMAC. Expiry is re-checked on every hit and revocation is checked on every request
/// (the view), so a hit grants nothing a fresh verification would not. Dropped with its key ring (rotation).
struct VerifiedTokens {
    shards: Vec<RwLock<HashMap<Box<str>, Arc<AccessClaims>>>>,
}

/// Shards (less lock contention between worker threads) and entries per shard (bounded memory: ~16 k
/// tokens of ~400 bytes).
const VERIFIED_SHARDS: usize = 16;
const VERIFIED_PER_SHARD: usize = 1024;

impl VerifiedTokens {
    fn new() -> Self {
        Self { shards: (0..VERIFIED_SHARDS).map(|_| RwLock::default()).collect() }
    }

    fn shard(&self, token: &str) -> &RwLock<HashMap<Box<str>, Arc<AccessClaims>>> {
        // The signature's last bytes are uniformly random: a free shard index.
        let byte = token.as_bytes().last().copied().unwrap_or(0);
        &self.shards[usize::from(byte) % VERIFIED_SHARDS]
    }

    fn get(&self, token: &str) -> Option<Arc<AccessClaims>> {
        self.shard(token).read().unwrap_or_else(PoisonError::into_inner).get(token).cloned()
    }

    fn insert(&self, token: &str, claims: Arc<AccessClaims>) {
        let mut shard = self.shard(token).write().unwrap_or_else(PoisonError::into_inner);
        if shard.len() >= VERIFIED_PER_SHARD {
            // Cheap and rare: the next requests re-verify and refill.
            shard.clear();
        }
        shard.insert(token.into(), claims);
    }
}

#[cfg(test)]
mod tests;
