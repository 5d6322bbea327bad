//! The request-path authenticator: what the gateway calls on every authenticated request. It verifies the
//! access token (signature, claims, expiry) and checks its session against the published revocation view:
//! no network, no actor round-trip, nothing written but a refusal count on a users' notice.
//!
//! Verified tokens are remembered in a bounded cache shared by every clone ([`VerifiedTokenCache`]), so a
//! client's next requests with the same token skip base64, JSON and the signature check; expiry and the key
//! are re-checked on every hit, and revocation on every request.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use time::OffsetDateTime;

use super::tokens::{self, AccessClaims, TokenError, TokenSettings};
use super::verified_cache::VerifiedTokenCache;
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
    /// Tokens already verified, across key rings (a key's entries leave when it stops being trusted).
    verified: Arc<VerifiedTokenCache>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

/// A [`tokens::Verifier`] and the key ring it was prepared for.
struct PreparedVerifier {
    ring: Arc<KeyRing>,
    verifier: tokens::Verifier,
}

impl Authenticator {
    /// An authenticator reading `keyring` and `view` at every call.
    #[must_use]
    pub fn new(keyring: SharedKeyRing, settings: Arc<TokenSettings>, view: SharedView) -> Self {
        let verified = Arc::new(VerifiedTokenCache::default());
        Self { keyring, settings, view, verifier: Arc::new(ArcSwapOption::empty()), verified }
    }

    /// The cache of verified tokens (its size, for tests and gauges).
    #[must_use]
    pub fn verified_tokens(&self) -> &VerifiedTokenCache {
        &self.verified
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

    /// The token's claims, from the tokens already verified with a key still trusted or by verifying it.
    fn verify(&self, token: &str) -> Result<Arc<AccessClaims>, AuthError> {
        let prepared = self.prepared();
        // Seconds since the epoch straight from the clock (through `OffsetDateTime` it cost twice as much).
        let now_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        if let Some(claims) = self.verified.get(token, now_s, |kid| prepared.verifier.trusts(kid, now_s)) {
            return Ok(claims);
        }
        let (claims, used, key_until, kid) = prepared.verifier.verify_detailed(token).map_err(|e| match e {
            TokenError::Expired => AuthError::Expired,
            TokenError::Invalid => AuthError::Invalid,
        })?;
        let claims = Arc::new(claims);
        if used == tokens::KeyUse::Previous {
            // Not cached: its grace window closes on its own clock, and each use is counted.
            let secret = match jsonwebtoken::decode_header(token).map(|h| h.alg) {
                Ok(jsonwebtoken::Algorithm::HS256) => "JWT_SECRET",
                _ => "JWT_SIGNING_KEY",
            };
            metrics::counter!("gantry_secret_grace_verifications_total", "secret" => secret).increment(1);
        } else {
            let leeway = i64::try_from(tokens::LEEWAY_SECS).unwrap_or(30);
            let until = claims.exp.saturating_add(leeway).min(key_until);
            self.verified.insert(token, Arc::clone(&claims), kid, until, now_s);
        }
        Ok(claims)
    }

    /// The verifier of the current key ring, prepared again after a rotation swapped the ring; the cached
    /// tokens of every key the new ring no longer trusts are dropped then.
    fn prepared(&self) -> Arc<PreparedVerifier> {
        let ring = self.keyring.load();
        match self.verifier.load_full() {
            Some(p) if Arc::ptr_eq(&p.ring, &ring) => p,
            old => {
                let ring = arc_swap::Guard::into_inner(ring);
                let verifier = tokens::Verifier::new(&ring, &self.settings);
                let now = OffsetDateTime::now_utc().unix_timestamp();
                let trusted = verifier.trusted_kids(now);
                if let Some(old) = old
                    && old.verifier.trusted_kids(now).iter().any(|k| !trusted.contains(k))
                {
                    self.verified.forget_all_but(trusted);
                }
                let p = Arc::new(PreparedVerifier { verifier, ring });
                self.verifier.store(Some(Arc::clone(&p)));
                p
            }
        }
    }
}

#[cfg(test)]
mod tests;
