//! The verified-token cache: access tokens whose signature and claims already passed, so a client's next
//! requests with the same token skip base64, JSON and the signature check (~25 µs for Ed25519, ~35 µs for
//! ES256, ~1 µs for HS256).
//!
//! - **Keyed by the token's signature** (the part after the last `.`), holding the signed part itself (header
//!   and claims) and comparing it whole on every hit: a token whose claims were changed under a cached
//!   signature is a miss, and then fails its own verification. (A byte comparison of ~250 bytes costs less than
//!   hashing them, and needs no argument about collisions; it makes an entry ~250 bytes heavier, which the
//!   weight counts.)
//! - **Lives until the token's `exp`** (plus the verification leeway): a hit re-checks it and drops an entry
//!   past it; the inserts (the miss path) sweep out every expired entry at most once a minute.
//! - **Bounded** by weight: each entry weighs its approximate bytes (key, claims, `kid`, bookkeeping), and the
//!   whole cache at most [`DEFAULT_MAX_BYTES`] (an Ed25519 token's entry weighs ~700 bytes: ~24 k entries). Past
//!   that the least useful entries are evicted (quick_cache's CLOCK-Pro), which costs a re-verification, nothing
//!   else.
//! - **Emptied for a key that stops verifying**: a hit is honoured only while the current verifier still
//!   trusts the entry's `kid` (`trusts`, checked on every hit, so no race with a rotation can keep one), and
//!   the key ring's swap drops the entries of every `kid` it no longer trusts ([`Self::forget_all_but`]).
//! - **Never trusted past a revocation**: it answers only "this signature is ours and these are its claims";
//!   the caller checks the session against the revocation view on every request, hit or miss.
//!
//! Metrics: `gantry_access_token_cache_hits_total`, `_misses_total`, `_flushes_total` (a key's entries
//! dropped), and the gauges `gantry_access_token_cache_entries` and `_bytes` (approximate, updated on inserts
//! and flushes).
//!
//! Why quick_cache: a hit is a hash, a shard's read lock and a compare, nothing else (~300 instructions). moka,
//! used before, also recorded every read in a channel for its admission policy and read the clock for its
//! per-entry expiry: ~1.5k instructions of every authenticated request. The expiry it gave is the one check
//! of `until` on a hit plus the sweep, and quick_cache's `retain` drops a key's entries.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use quick_cache::Weighter;
use quick_cache::sync::Cache;

use super::tokens::AccessClaims;

/// The default bound of the cache's approximate memory: 16 MiB (~24 k entries of Ed25519 tokens).
pub const DEFAULT_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// How often, at most, an insert sweeps out the expired entries (seconds).
const SWEEP_EVERY_SECS: i64 = 60;

/// The entry size the cache's shards are laid out for (an Ed25519 token's, in bytes).
const TYPICAL_ENTRY_BYTES: u64 = 700;

/// Bytes counted per entry for the cache's own bookkeeping (quick_cache's slot and hash table entry, the
/// `Arc`s): an estimate, so the gauge stays an approximation on the safe side.
const BOOKKEEPING_BYTES: usize = 160;

/// One verified token.
struct Entry {
    /// Its claims, shared with every request that presents it.
    claims: Arc<AccessClaims>,
    /// The key that verified it.
    kid: Box<str>,
    /// The signed part (`header.claims`), compared whole on a hit.
    signed: Box<str>,
    /// Trusted while `now < until` (Unix seconds): its `exp` plus the leeway, or its key's end if sooner.
    until: i64,
}

impl Entry {
    fn weight(&self, key: &str) -> u64 {
        let bytes = key.len()
            + self.kid.len()
            + self.signed.len()
            + std::mem::size_of::<Self>()
            + std::mem::size_of::<AccessClaims>()
            + self.claims.iss.len()
            + self.claims.aud.len()
            + BOOKKEEPING_BYTES;
        bytes as u64
    }
}

/// The cache's weigher: an entry's approximate bytes.
#[derive(Clone, Copy)]
struct Weigh;

impl Weighter<Box<str>, Arc<Entry>> for Weigh {
    fn weight(&self, key: &Box<str>, entry: &Arc<Entry>) -> u64 {
        entry.weight(key)
    }
}

/// The signature and the signed part of a compact JWS, or `None` when it has no `.`. Searched from the end with
/// `memrchr` (a vector at a time: a byte at a time cost ~300 instructions over an 86-character signature).
fn split(token: &str) -> Option<(&str, &str)> {
    let dot = memchr::memrchr(b'.', token.as_bytes())?;
    Some((&token[dot + 1..], &token[..dot]))
}

/// A bounded cache of verified access tokens. Cheap to share (`Arc`); every method takes `&self`.
pub struct VerifiedTokenCache {
    // foldhash, not SipHash (~500 instructions of every authenticated request): a key enters the cache only once
    // its token verified, so a client cannot fill it with keys chosen to collide, and the hasher is seeded per
    // process.
    cache: Cache<Box<str>, Arc<Entry>, Weigh, foldhash::fast::RandomState>,
    /// `gantry_access_token_cache_hits_total` and `…_misses_total`, registered once (through `counter!` every
    /// authenticated request looked its counter up in the recorder: ~290 instructions).
    hits: metrics::Counter,
    misses: metrics::Counter,
    /// When the inserts last swept out the expired entries (Unix seconds).
    swept_at: AtomicI64,
}

impl std::fmt::Debug for VerifiedTokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokenCache").field("entries", &self.cache.len()).finish_non_exhaustive()
    }
}

impl Default for VerifiedTokenCache {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_BYTES)
    }
}

impl VerifiedTokenCache {
    /// An empty cache of at most `max_bytes` (approximate). Its hit and miss counters belong to the metrics
    /// recorder installed when it is made (the process's is installed first thing at start-up).
    #[must_use]
    pub fn new(max_bytes: u64) -> Self {
        let estimated_entries = usize::try_from(max_bytes / TYPICAL_ENTRY_BYTES).unwrap_or(usize::MAX).max(16);
        let cache = Cache::with(
            estimated_entries,
            max_bytes,
            Weigh,
            foldhash::fast::RandomState::default(),
            Default::default(),
        );
        Self {
            cache,
            hits: metrics::counter!("gantry_access_token_cache_hits_total"),
            misses: metrics::counter!("gantry_access_token_cache_misses_total"),
            swept_at: AtomicI64::new(0),
        }
    }

    /// The claims of `token` if it was verified before, is still valid at `now` (Unix seconds) and its key is
    /// one `trusts` (the current verifier's answer for a `kid`) still trusts. Counts a hit or a miss.
    pub fn get(&self, token: &str, now: i64, trusts: impl Fn(&str) -> bool) -> Option<Arc<AccessClaims>> {
        let found = self.lookup(token, now, trusts);
        if found.is_some() { &self.hits } else { &self.misses }.increment(1);
        found
    }

    fn lookup(&self, token: &str, now: i64, trusts: impl Fn(&str) -> bool) -> Option<Arc<AccessClaims>> {
        let (signature, signed) = split(token)?;
        let entry = self.cache.get(signature)?;
        if now >= entry.until || !trusts(&entry.kid) {
            // Its time or its key is over: it will never be trusted again.
            self.cache.remove(signature);
            return None;
        }
        // Same signature, other claims: not the token that was verified (it fails its own verification).
        (*entry.signed == *signed).then(|| Arc::clone(&entry.claims))
    }

    /// Remembers `token`, verified by the key `kid` with `claims`, until `until` (Unix seconds; nothing is
    /// remembered when that is not after `now`).
    pub fn insert(&self, token: &str, claims: Arc<AccessClaims>, kid: &str, until: i64, now: i64) {
        let Some((signature, signed)) = split(token) else { return };
        if until <= now {
            return;
        }
        let entry = Entry { claims, kid: kid.into(), signed: signed.into(), until };
        self.cache.insert(signature.into(), Arc::new(entry));
        let last = self.swept_at.load(Ordering::Relaxed);
        if now - last >= SWEEP_EVERY_SECS
            && self.swept_at.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            self.cache.retain(|_, entry| now < entry.until);
        }
        self.publish_gauges();
    }

    /// Drops every entry whose key is not in `trusted` (a key that stopped verifying: an emergency rotation,
    /// a key whose window closed, a promotion that made the signing key a previous one), and counts the flush.
    pub fn forget_all_but(&self, trusted: Vec<String>) {
        self.cache.retain(|_, entry| trusted.iter().any(|k| **k == *entry.kid));
        metrics::counter!("gantry_access_token_cache_flushes_total").increment(1);
        self.publish_gauges();
    }

    /// Entries and approximate bytes (tests, gauges).
    #[must_use]
    pub fn size(&self) -> (u64, u64) {
        (self.cache.len() as u64, self.cache.weight())
    }

    /// Sets the gauges (on the miss path and at flushes only).
    fn publish_gauges(&self) {
        let (entries, bytes) = self.size();
        #[allow(clippy::cast_precision_loss)]
        {
            metrics::gauge!("gantry_access_token_cache_entries").set(entries as f64);
            metrics::gauge!("gantry_access_token_cache_bytes").set(bytes as f64);
        }
    }
}

#[cfg(test)]
mod tests;
