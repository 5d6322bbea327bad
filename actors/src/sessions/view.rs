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
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

pub(crate) mod upkeep;

/// What users are told when a mass invalidation (revoke-all, per-user revoke, rotation with invalidation)
/// refuses their session: carried in the 401 `session_revoked` body as `notice: {id, message, time}`. Counts
/// the refusals that carried it (flushed to the evidence by the registry).
#[derive(Debug, Serialize)]
pub struct UserNotice {
    /// The revocation notice's id (also its job's).
    pub id: Uuid,
    /// The operator's message to users.
    pub message: String,
    /// When the revocation happened.
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// The epoch it raised (ms): it explains refusals by exactly that epoch.
    #[serde(skip)]
    pub not_before_ms: i64,
    /// Refused requests that carried it, not yet added to the evidence.
    #[serde(skip)]
    refused: AtomicU64,
}

impl UserNotice {
    /// A notice of revocation `id` with `message`, at `time`, for the epoch `not_before_ms`.
    #[must_use]
    pub fn new(id: Uuid, message: String, time: OffsetDateTime, not_before_ms: i64) -> Self {
        Self { id, message, time, not_before_ms, refused: AtomicU64::new(0) }
    }

    /// Counts one refused request that carried this notice.
    pub fn count_refusal(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// The refusals counted since the last call (for the evidence); `give_back` them if they could not be
    /// recorded.
    pub fn take_refused(&self) -> u64 {
        self.refused.swap(0, Ordering::Relaxed)
    }

    /// Returns refusals [`Self::take_refused`] took but could not record.
    pub fn give_back(&self, n: u64) {
        self.refused.fetch_add(n, Ordering::Relaxed);
    }
}

impl PartialEq for UserNotice {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && self.message == other.message && self.not_before_ms == other.not_before_ms
    }
}

impl Eq for UserNotice {}

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
    /// The users' notice of the revocation that set `global_ms`, if it had one.
    pub global_notice: Option<Arc<UserNotice>>,
    /// Per user, the users' notice of the revocation that set their epoch, if it had one.
    pub user_notices: HashMap<Uuid, Arc<UserNotice>>,
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

    /// The users' notice that explains why session `sid` of `user` (token issued at `iat_s`) is refused: the
    /// notice of the epoch that refuses it (the user's first, then the global one), or `None` (individually
    /// revoked, or an epoch raised without a message). Only called once a request is refused.
    #[must_use]
    pub fn notice_for(&self, sid: Uuid, user: Uuid, iat_s: i64) -> Option<&Arc<UserNotice>> {
        if self.revoked.contains(&sid) {
            return None;
        }
        let before =
            |epoch: i64| session_created_ms(sid) < epoch || iat_s.saturating_mul(1000).saturating_add(999) < epoch;
        let user_epoch = self.users.get(&user).copied().unwrap_or(0);
        if let Some(notice) = self.user_notices.get(&user)
            && notice.not_before_ms == user_epoch
            && before(user_epoch)
        {
            return Some(notice);
        }
        self.global_notice.as_ref().filter(|n| n.not_before_ms == self.global_ms && before(self.global_ms))
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

    /// The notice explains a refusal only by the epoch it raised: the user's notice before the global one, none
    /// for an individually revoked session or once a later epoch without a message took over.
    #[test]
    fn notice_names_the_epoch_that_refused() {
        let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
        let notice =
            |ms: i64| Arc::new(UserNotice::new(Uuid::now_v7(), "log in again".into(), OffsetDateTime::UNIX_EPOCH, ms));
        let (global, personal) = (notice(2_000_000_000_000), notice(2_000_000_100_000));
        let mut view = RevocationView {
            global_ms: 2_000_000_000_000,
            users: HashMap::from([(alice, 2_000_000_100_000)]),
            global_notice: Some(Arc::clone(&global)),
            user_notices: HashMap::from([(alice, Arc::clone(&personal))]),
            ..RevocationView::default()
        };
        let old = sid_at(1_999_999_999_000);
        assert_eq!(view.notice_for(old, alice, 1_999_999_999), Some(&personal));
        assert_eq!(view.notice_for(old, bob, 1_999_999_999), Some(&global));
        assert_eq!(view.notice_for(sid_at(2_000_000_200_000), bob, 2_000_000_200), None, "not refused");
        view.revoked.insert(old);
        assert_eq!(view.notice_for(old, bob, 1_999_999_999), None, "individually revoked");
        view.revoked.clear();
        view.global_ms = 2_000_000_050_000;
        assert_eq!(view.notice_for(old, bob, 1_999_999_999), None, "a later epoch without a message");
    }

    /// The creation time read from a v7 id is its embedded timestamp.
    #[test]
    fn creation_time_comes_from_the_id() {
        assert_eq!(session_created_ms(sid_at(1_234_567_890_123)), 1_234_567_890_123);
        assert_eq!(session_created_ms(Uuid::new_v4()), 0);
    }
}
