//! The revocation view: what every authenticated request is checked against, published by the session
//! registry (its only writer) as an immutable snapshot behind an `ArcSwap`, so the check is one atomic load
//! and a few hash look-ups — no network, no actor round-trip.
//!
//! A session is revoked when it was revoked individually (logout, deletion, reuse detection), or when it was
//! created before the global epoch or its user's epoch (mass invalidation). Session ids are UUID v7, so a
//! session's creation time is read from its id: comparing it with the epoch costs nothing and also covers
//! tokens refreshed after the epoch by an instance that had not heard of it yet.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arc_swap::ArcSwap;
use uuid::Uuid;

/// The shared, swappable view.
pub type SharedView = Arc<ArcSwap<RevocationView>>;

/// Revocation facts known to this instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationView {
    /// Global not-before epoch, ms.
    pub global_ms: i64,
    /// Per-user epochs, ms.
    pub users: HashMap<Uuid, i64>,
    /// Sessions revoked individually (kept while their access tokens could still be live).
    pub revoked: HashSet<Uuid>,
}

/// The creation time of a session, ms, from its UUID v7 id (0 for other versions: treated as ancient).
#[must_use]
pub fn session_created_ms(sid: Uuid) -> i64 {
    sid.get_timestamp().map_or(0, |ts| {
        let (secs, nanos) = ts.to_unix();
        i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000) + i64::from(nanos / 1_000_000)
    })
}

impl RevocationView {
    /// Wraps the view for sharing.
    #[must_use]
    pub fn shared(self) -> SharedView {
        Arc::new(ArcSwap::from_pointee(self))
    }

    /// The epoch that applies to `user`, ms.
    #[must_use]
    pub fn epoch_for(&self, user: Uuid) -> i64 {
        self.global_ms.max(self.users.get(&user).copied().unwrap_or(0))
    }

    /// Whether session `sid` of `user`, with a token issued at `iat_s` (seconds), is still valid.
    #[must_use]
    pub fn allows(&self, sid: Uuid, user: Uuid, iat_s: i64) -> bool {
        if self.revoked.contains(&sid) {
            return false;
        }
        let epoch = self.epoch_for(user);
        // `iat` has second precision: a token is before the epoch only if its whole second is.
        session_created_ms(sid) >= epoch && iat_s.saturating_mul(1000).saturating_add(999) >= epoch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid_at(ms: u64) -> Uuid {
        Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            ms / 1000,
            u32::try_from(ms % 1000).expect("ms") * 1_000_000,
        ))
    }

    /// Sessions created before the global epoch are refused; sessions created after are allowed.
    #[test]
    fn global_epoch_splits_old_and_new_sessions() {
        let user = Uuid::now_v7();
        let view = RevocationView { global_ms: 1_700_000_000_500, ..RevocationView::default() };
        assert!(!view.allows(sid_at(1_700_000_000_499), user, 1_700_000_000));
        assert!(view.allows(sid_at(1_700_000_000_500), user, 1_700_000_000));
        assert!(view.allows(sid_at(1_700_000_001_000), user, 1_700_000_001));
    }

    /// A user's epoch affects only that user.
    #[test]
    fn user_epoch_is_per_user() {
        let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
        let view = RevocationView { users: HashMap::from([(alice, 2_000_000_000_000)]), ..RevocationView::default() };
        let sid = sid_at(1_999_999_999_000);
        assert!(!view.allows(sid, alice, 1_999_999_999));
        assert!(view.allows(sid, bob, 1_999_999_999));
    }

    /// An individually revoked session is refused whatever the epochs.
    #[test]
    fn revoked_session_is_refused() {
        let sid = Uuid::now_v7();
        let view = RevocationView { revoked: HashSet::from([sid]), ..RevocationView::default() };
        assert!(!view.allows(sid, Uuid::now_v7(), i64::MAX / 2000));
    }

    /// The creation time read from a v7 id is its embedded timestamp.
    #[test]
    fn creation_time_comes_from_the_id() {
        assert_eq!(session_created_ms(sid_at(1_234_567_890_123)), 1_234_567_890_123);
        assert_eq!(session_created_ms(Uuid::new_v4()), 0);
    }
}
