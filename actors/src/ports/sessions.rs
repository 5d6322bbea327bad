//! The session store port: one record per login session, with the hash of its current refresh token.
//! Redis in production (shared by all instances, expiring with the session), SQLite in the local profile.
//!
//! Tokens are never stored: only SHA-256 hashes, and — for the retry grace — the successor refresh token
//! sealed with a key derived from the token it replaced, which the store does not hold.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Unavailable;

/// What a refresh produced, kept for the retry grace so a repeated refresh returns the same pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    /// Hex SHA-256 of the refresh token that was used.
    pub used_hash: String,
    /// When it was used (ms).
    pub used_at_ms: i64,
    /// The successor refresh token's secret, XOR-sealed with SHA-256(context ‖ used token), hex.
    pub sealed_successor: String,
    /// The access token issued with it: `jti`.
    pub access_jti: Uuid,
    /// Its `iat` (s).
    pub access_iat: i64,
    /// Its `exp` (s).
    pub access_exp: i64,
    /// The `kid` it was signed with.
    pub access_kid: String,
    /// Hashes of the refresh tokens used before `used_hash` (newest first, at most
    /// [`RETIRED_HASHES_KEPT`]): presenting one is reuse.
    #[serde(default)]
    pub earlier_hashes: Vec<String>,
}

/// How many retired refresh-token hashes a session remembers for reuse detection.
pub const RETIRED_HASHES_KEPT: usize = 8;

/// The per-session key of the refresh tokens' generation tag (256 random bits). Its `Debug` is redacted;
/// serde (the stores) carries it as hex. Anyone holding it can only mint tokens the server would call
/// reuse — never one it would rotate — so the store holding it grants nothing beyond the session data.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshMacKey([u8; 32]);

impl RefreshMacKey {
    /// A fresh random key.
    #[must_use]
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::fill(&mut key);
        Self(key)
    }

    /// The key bytes (for the MAC only).
    #[must_use]
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// Hex form, for SQL columns.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses the hex form; `None` when it is not 32 bytes of hex.
    #[must_use]
    pub fn parse_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }
}

impl std::fmt::Debug for RefreshMacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshMacKey([REDACTED])")
    }
}

impl Serialize for RefreshMacKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for RefreshMacKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse_hex(&text).ok_or_else(|| serde::de::Error::custom("a refresh MAC key is 64 hex digits"))
    }
}

/// A login session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Session id (UUID v7: its timestamp is the session's creation time, which the epochs compare with).
    pub id: Uuid,
    /// The user.
    pub user_id: Uuid,
    /// Creation (ms).
    pub created_at_ms: i64,
    /// Last login or refresh (ms).
    pub last_used_at_ms: i64,
    /// The current refresh token expires then (ms).
    pub refresh_expires_at_ms: i64,
    /// The session ends then whatever happens (absolute lifetime cap, ms).
    pub absolute_expires_at_ms: i64,
    /// The client's user agent at login (truncated).
    pub user_agent: Option<String>,
    /// The client's address at login.
    pub address: Option<String>,
    /// Hex SHA-256 of the current refresh token.
    pub refresh_hash: String,
    /// Bumped by every rotation; the compare-and-swap key.
    pub generation: u32,
    /// The last rotation, for the retry grace and reuse detection.
    pub last_rotation: Option<Rotation>,
    /// Set when revoked (ms).
    pub revoked_at_ms: Option<i64>,
    /// The key of the refresh tokens' generation tag; `None` for sessions created before tags existed (they
    /// get one at their next rotation).
    #[serde(default)]
    pub refresh_mac_key: Option<RefreshMacKey>,
}

/// The store's continuity marker: an id written once into the store and never removed by Gantry. If the
/// store loses its data (a Redis restarted without persistence, a flush), the marker goes with it; whoever
/// next asks finds it missing, writes a new one and learns `created_now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreMarker {
    /// The marker's id (random).
    pub id: String,
    /// When it was written (ms, the store's clock where it has one): the moment data loss was noticed.
    pub created_at_ms: i64,
    /// Whether this call wrote it (none was there).
    pub created_now: bool,
}

/// A mass revocation seen from the sessions it ended (a revoke-all's evidence): the sessions it ended are
/// those created before it, that no earlier epoch had ended already, that nobody had revoked (logout, a
/// per-session revocation) before it and that had not expired by then.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndedBy {
    /// The revocation's epoch (ms): it ended the sessions created before it.
    pub not_before_ms: i64,
    /// The global epoch in force before it (ms, 0 = none): sessions created before it were already ended.
    pub earlier_global_ms: i64,
    /// Per-user epochs older than `not_before_ms` (ms): a user's sessions created before theirs were already
    /// ended.
    pub earlier_user_ms: HashMap<Uuid, i64>,
}

impl EndedBy {
    /// The epoch that had already ended `user`'s older sessions before this revocation (ms).
    #[must_use]
    pub fn earlier_epoch_for(&self, user: Uuid) -> i64 {
        self.earlier_global_ms.max(self.earlier_user_ms.get(&user).copied().unwrap_or(0))
    }

    /// Whether this revocation ended `session`: created before it, not before an earlier epoch, not revoked
    /// before it, and neither its refresh token nor its lifetime run out by then.
    #[must_use]
    pub fn ended(&self, session: &SessionRecord) -> bool {
        let at = self.not_before_ms;
        session.created_at_ms < at
            && session.created_at_ms >= self.earlier_epoch_for(session.user_id)
            && session.revoked_at_ms.is_none_or(|revoked| revoked >= at)
            && session.refresh_expires_at_ms.min(session.absolute_expires_at_ms) > at
    }
}

/// The session store capability.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new session.
    ///
    /// # Errors
    /// The store is unreachable.
    async fn insert(&self, session: &SessionRecord) -> Result<(), Unavailable>;

    /// The session, if it exists (revoked ones included; expired ones may be gone).
    ///
    /// # Errors
    /// The store is unreachable.
    async fn get(&self, id: Uuid) -> Result<Option<SessionRecord>, Unavailable>;

    /// Replaces the session only if its stored `generation` is still `expected_generation` (another
    /// instance may have rotated it meanwhile). Returns whether it was replaced.
    ///
    /// # Errors
    /// The store is unreachable.
    async fn replace_if(&self, session: &SessionRecord, expected_generation: u32) -> Result<bool, Unavailable>;

    /// The user's sessions that are neither revoked nor expired at `now_ms`.
    ///
    /// # Errors
    /// The store is unreachable.
    async fn list_for_user(&self, user_id: Uuid, now_ms: i64) -> Result<Vec<SessionRecord>, Unavailable>;

    /// Marks sessions revoked at `at_ms` and remembers them as recently revoked.
    ///
    /// # Errors
    /// The store is unreachable.
    async fn revoke(&self, ids: &[Uuid], at_ms: i64) -> Result<(), Unavailable>;

    /// Ids of sessions revoked at or after `since_ms` (the instances' revocation views reload these).
    ///
    /// # Errors
    /// The store is unreachable.
    async fn revoked_since(&self, since_ms: i64) -> Result<Vec<Uuid>, Unavailable>;

    /// Sessions neither revoked nor expired at `now_ms` (the active-sessions gauge).
    ///
    /// # Errors
    /// The store is unreachable.
    async fn count_active(&self, now_ms: i64) -> Result<u64, Unavailable>;

    /// How many sessions the mass revocation `ended` actually ended (its evidence): see [`EndedBy::ended`].
    ///
    /// # Errors
    /// The store is unreachable.
    async fn count_ended_by(&self, ended: &EndedBy) -> Result<u64, Unavailable>;

    /// The store's continuity marker, written (atomically, once across instances) when missing. A durable
    /// store that cannot lose data on its own returns a constant marker.
    ///
    /// # Errors
    /// The store is unreachable.
    async fn ensure_marker(&self) -> Result<StoreMarker, Unavailable>;

    /// Round-trips to the store.
    ///
    /// # Errors
    /// Why the store is not usable.
    async fn health(&self) -> Result<(), Unavailable>;

    /// The backend's name (`sqlite`, `redis`).
    fn backend(&self) -> &'static str;

    /// Deletes what can no longer matter at `now_ms`: sessions past their absolute expiry, and revocation
    /// entries older than `revocation_horizon_ms` (at least; a store may keep them longer). A revoked session
    /// is its own revocation entry where the store keeps no other ([`SessionStore::revoked_since`] reads it): it
    /// goes only once past its absolute expiry by `revocation_horizon_ms` too, since an access token it issued
    /// just before that expiry is still accepted until then and must stay refused
    /// ([`TokenSettings::revocation_horizon`](crate::sessions::TokenSettings::revocation_horizon)).
    /// Returns how many entries went; a store whose entries expire by themselves (Redis keys with a TTL)
    /// removes only what does not, and may honestly return 0. Run once per period across the fleet (the
    /// `sessions.prune` job).
    ///
    /// # Errors
    /// The store is unreachable.
    async fn prune_expired(&self, now_ms: i64, revocation_horizon_ms: i64) -> Result<u64, Unavailable>;
}
