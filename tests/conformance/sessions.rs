//! The `SessionStore` contract (SQLite, Postgres and Redis). Times are the wall clock: Redis expires keys
//! on its own clock, which is this machine's.

use std::collections::HashMap;
use std::sync::Arc;

use gantry_actors::ports::sessions::{EndedBy, Rotation, SessionRecord, SessionStore};
use gantry_actors::sessions::TokenSettings;
use uuid::Uuid;

use crate::fixtures::{now_ms, session};

/// How long revocations stay known past a session's end, as the `sessions.prune` job passes it (default
/// settings: one access token's lifetime plus the leeway).
fn horizon_ms() -> i64 {
    i64::try_from(TokenSettings::default().revocation_horizon().as_millis()).expect("fits")
}

/// `session` after one more rotation at `at` (ms) to a token hashing to `hash`. The access expiry is larger
/// than the 14 significant digits Redis' cjson keeps, so a store that re-encoded records would corrupt it.
fn rotated(mut s: SessionRecord, at: i64, hash: &str) -> SessionRecord {
    s.last_rotation = Some(Rotation {
        used_hash: s.refresh_hash.clone(),
        used_at_ms: at,
        sealed_successor: "0f".repeat(32),
        access_jti: Uuid::now_v7(),
        access_iat: at / 1_000,
        access_exp: 123_456_789_012_345_678,
        access_kid: "k1".to_owned(),
        earlier_hashes: vec!["ab".repeat(32)],
    });
    s.refresh_hash = hash.to_owned();
    s.generation += 1;
    s.last_used_at_ms = at;
    s.refresh_expires_at_ms = at + 3_600_000;
    s
}

/// A session reads back unchanged; `replace_if` with the current generation swaps it in once, and a second
/// replace still expecting that generation (another instance's stale view) is refused and changes nothing.
pub async fn insert_get_and_replace_if_is_a_compare_and_swap(store: Arc<dyn SessionStore>) {
    let now = now_ms();
    let original = session(Uuid::now_v7(), now);
    store.insert(&original).await.expect("insert");
    assert_eq!(store.get(original.id).await.expect("get"), Some(original.clone()));

    let first = rotated(original.clone(), now + 10, &"b".repeat(64));
    let stale = rotated(original.clone(), now + 20, &"c".repeat(64));
    let won = store.replace_if(&first, 0).await.expect("first replace");
    let lost = store.replace_if(&stale, 0).await.expect("stale replace");

    assert!(won);
    assert!(!lost);
    assert_eq!(store.get(original.id).await.expect("get"), Some(first.clone()));
    assert!(!store.replace_if(&session(Uuid::now_v7(), now), 0).await.expect("unknown id"), "nothing to replace");
    assert!(store.get(Uuid::now_v7()).await.expect("get").is_none());
}

/// Two instances rotating the same session at once, both expecting the same generation: in every round
/// exactly one `replace_if` wins, and the stored record is the winner's.
pub async fn concurrent_replace_if_with_same_generation_has_exactly_one_winner(store: Arc<dyn SessionStore>) {
    let now = now_ms();
    let mut current = session(Uuid::now_v7(), now);
    store.insert(&current).await.expect("insert");
    assert_eq!(store.get(current.id).await.expect("get"), Some(current.clone()));

    for round in 0..20 {
        let expected = current.generation;
        let a = rotated(current.clone(), now + round, &format!("{round:0>63}a"));
        let b = rotated(current.clone(), now + round, &format!("{round:0>63}b"));
        let (store_a, store_b) = (Arc::clone(&store), Arc::clone(&store));
        let (ta, tb) = (
            tokio::spawn({
                let a = a.clone();
                async move { store_a.replace_if(&a, expected).await }
            }),
            tokio::spawn({
                let b = b.clone();
                async move { store_b.replace_if(&b, expected).await }
            }),
        );
        let won_a = ta.await.expect("task a").expect("replace a");
        let won_b = tb.await.expect("task b").expect("replace b");

        assert!(won_a ^ won_b, "round {round}: a won {won_a}, b won {won_b}");
        current = if won_a { a } else { b };
        assert_eq!(store.get(current.id).await.expect("get"), Some(current.clone()), "round {round}");
    }
    assert!(!store.replace_if(&session(Uuid::now_v7(), now), 0).await.expect("unknown id"));
}

/// `list_for_user` shows only the user's sessions that are neither revoked nor expired (by refresh or
/// absolute expiry); `revoke` marks the record once (first time kept, other fields intact), feeds
/// `revoked_since` and drops the session from `count_active`; a stale rotation cannot undo a revocation; a
/// duplicate id is refused; sessions past their absolute expiry are gone after `prune_expired`, idle ones are
/// kept until then.
pub async fn list_revoke_revoked_since_and_count_active_agree(store: Arc<dyn SessionStore>) {
    let now = now_ms();
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let kept = session(alice, now - 2);
    let to_revoke = rotated(session(alice, now - 1), now, &"b".repeat(64));
    let mut idle = session(alice, now - 5_000);
    idle.refresh_expires_at_ms = now;
    let mut ended = session(alice, now - 5_000);
    ended.absolute_expires_at_ms = now - 1;
    let other = session(bob, now);
    for s in [&kept, &to_revoke, &idle, &ended, &other] {
        store.insert(s).await.expect("insert");
    }
    assert!(store.insert(&kept).await.is_err(), "a duplicate id is refused");
    assert_eq!(store.list_for_user(alice, now).await.expect("list"), vec![kept.clone(), to_revoke.clone()]);
    assert_eq!(store.count_active(now).await.expect("count"), 3);

    store.revoke(&[to_revoke.id, Uuid::now_v7()], now + 100).await.expect("revoke");
    store.revoke(&[to_revoke.id], now + 200).await.expect("revoking again");
    store.revoke(&[], now + 300).await.expect("revoking nothing");

    let mut revoked = to_revoke.clone();
    revoked.revoked_at_ms = Some(now + 100);
    assert_eq!(store.get(to_revoke.id).await.expect("get"), Some(revoked));
    assert_eq!(store.list_for_user(alice, now).await.expect("list"), vec![kept.clone()]);
    assert_eq!(store.revoked_since(now + 100).await.expect("since"), vec![to_revoke.id]);
    assert!(store.revoked_since(now + 101).await.expect("since").is_empty());
    assert_eq!(store.count_active(now).await.expect("count"), 2);
    let unrevoking = rotated(to_revoke.clone(), now + 150, &"c".repeat(64));
    assert!(!store.replace_if(&unrevoking, to_revoke.generation).await.expect("replace"), "revocation is kept");
    store.prune_expired(now, horizon_ms()).await.expect("prune");
    assert!(store.get(ended.id).await.expect("get").is_none(), "gone past the absolute expiry");
    assert!(store.get(idle.id).await.expect("get").is_some(), "kept until its absolute expiry");
    assert_eq!(store.list_for_user(bob, now).await.expect("list"), vec![other]);
}

/// The continuity marker is stable while the store keeps its data: asked twice (or by two instances at once)
/// it is the same marker, written at most once.
pub async fn continuity_marker_is_stable_while_the_data_is_kept(store: Arc<dyn SessionStore>) {
    let (first, second) = tokio::join!(store.ensure_marker(), store.ensure_marker());
    let (first, second) = (first.expect("marker"), second.expect("marker"));
    assert_eq!(first.id, second.id);
    assert!(!(first.created_now && second.created_now), "written once");
    let third = store.ensure_marker().await.expect("marker");
    assert_eq!(third.id, first.id);
    assert!(!third.created_now);
}

/// Pruning at `now` removes what can no longer matter and nothing else: a session past its absolute expiry is
/// gone (SQL deletes its row; Redis let its key expire, so there is nothing left to count), a live one stays
/// readable, listed and counted; a second prune finds nothing.
pub async fn prune_expired_removes_ended_sessions_only(store: Arc<dyn SessionStore>) {
    let now = now_ms();
    let alice = Uuid::now_v7();
    let live = session(alice, now);
    let ended = SessionRecord {
        created_at_ms: now - 2 * 86_400_000,
        last_used_at_ms: now - 2 * 86_400_000,
        refresh_expires_at_ms: now - 86_400_000,
        absolute_expires_at_ms: now - 1_000,
        ..session(alice, now)
    };
    store.insert(&live).await.expect("insert");
    store.insert(&ended).await.expect("insert");

    let pruned = store.prune_expired(now, horizon_ms()).await.expect("prune");
    let again = store.prune_expired(now, horizon_ms()).await.expect("prune again");

    let expected = if store.backend() == "redis" { 0 } else { 1 };
    assert_eq!(pruned, expected, "{} removes what its TTLs do not", store.backend());
    assert_eq!(again, 0);
    assert!(store.get(ended.id).await.expect("get").is_none());
    assert_eq!(store.get(live.id).await.expect("get"), Some(live.clone()));
    assert_eq!(store.list_for_user(alice, now).await.expect("list"), vec![live]);
    assert_eq!(store.count_active(now).await.expect("count"), 1);
}

/// A revoked session that reached its absolute expiry is still a known revocation until the access tokens it
/// issued before that expiry have expired too: pruned a minute after its end it is still among
/// `revoked_since`, so the next view reload keeps refusing its last access token; past the horizon it may go
/// (SQL deletes the row; Redis keeps its revoked ids an hour).
pub async fn prune_keeps_a_revocation_until_its_access_tokens_expire(store: Arc<dyn SessionStore>) {
    let now = now_ms();
    let ending = SessionRecord {
        refresh_expires_at_ms: now + 60_000,
        absolute_expires_at_ms: now + 60_000,
        ..session(Uuid::now_v7(), now)
    };
    store.insert(&ending).await.expect("insert");
    store.revoke(&[ending.id], now).await.expect("revoke");

    let a_minute_after_its_end = ending.absolute_expires_at_ms + 60_000;
    store.prune_expired(a_minute_after_its_end, horizon_ms()).await.expect("prune");

    assert!(
        store.revoked_since(now).await.expect("since").contains(&ending.id),
        "{}: the revocation is forgotten while the session's last access token is still valid",
        store.backend()
    );

    let past_the_horizon = ending.absolute_expires_at_ms + horizon_ms() + 1;
    store.prune_expired(past_the_horizon, horizon_ms()).await.expect("prune");
    if store.backend() != "redis" {
        assert!(store.get(ending.id).await.expect("get").is_none(), "{}: pruned past the horizon", store.backend());
    }
}

/// A revoke-all's evidence counts only the sessions it ended: not those an earlier global or per-user epoch
/// had ended, nor one logged out or expired before it, nor a login since — the same on every backend.
pub async fn count_ended_by_counts_only_what_the_revocation_ended(store: Arc<dyn SessionStore>) {
    let now = now_ms();
    let (earlier_global, at) = (now - 100_000, now - 1_000);
    let (alice, bob, carol) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let carol_epoch = now - 50_000;
    let created = |user, ms| SessionRecord { created_at_ms: ms, ..session(user, now) };
    let ended_by_earlier_global = created(alice, earlier_global - 1);
    let live = created(alice, earlier_global);
    let ended_by_carols_epoch = created(carol, carol_epoch - 1);
    let carols_after_her_epoch = created(carol, carol_epoch);
    let logged_out_before = created(bob, at - 20_000);
    let revoked_after = created(bob, at - 20_000);
    let expired_before = SessionRecord { refresh_expires_at_ms: at - 1, ..created(bob, at - 30_000) };
    let logged_in_since = created(bob, at);
    for s in [
        &ended_by_earlier_global,
        &live,
        &ended_by_carols_epoch,
        &carols_after_her_epoch,
        &logged_out_before,
        &revoked_after,
        &expired_before,
        &logged_in_since,
    ] {
        store.insert(s).await.expect("insert");
    }
    store.revoke(&[logged_out_before.id], at - 10_000).await.expect("revoke");
    store.revoke(&[revoked_after.id], at + 1).await.expect("revoke");

    let ended = EndedBy {
        not_before_ms: at,
        earlier_global_ms: earlier_global,
        earlier_user_ms: HashMap::from([(carol, carol_epoch)]),
    };
    let counted = store.count_ended_by(&ended).await.expect("count");

    assert_eq!(counted, 3, "{}: live, carol's after her epoch, revoked after the revocation", store.backend());
    let again = EndedBy { not_before_ms: now, earlier_global_ms: at, earlier_user_ms: HashMap::new() };
    assert_eq!(store.count_ended_by(&again).await.expect("count"), 1, "{}: the login since", store.backend());
}

sql_cases!(
    sessions: insert_get_and_replace_if_is_a_compare_and_swap,
    continuity_marker_is_stable_while_the_data_is_kept,
    concurrent_replace_if_with_same_generation_has_exactly_one_winner,
    list_revoke_revoked_since_and_count_active_agree,
    prune_expired_removes_ended_sessions_only,
    prune_keeps_a_revocation_until_its_access_tokens_expire,
    count_ended_by_counts_only_what_the_revocation_ended,
);

mod redis {
    #[tokio::test]
    async fn continuity_marker_is_stable_while_the_data_is_kept() {
        crate::on_redis_sessions(super::continuity_marker_is_stable_while_the_data_is_kept).await;
    }

    #[tokio::test]
    async fn insert_get_and_replace_if_is_a_compare_and_swap() {
        crate::on_redis_sessions(super::insert_get_and_replace_if_is_a_compare_and_swap).await;
    }

    #[tokio::test]
    async fn concurrent_replace_if_with_same_generation_has_exactly_one_winner() {
        crate::on_redis_sessions(super::concurrent_replace_if_with_same_generation_has_exactly_one_winner).await;
    }

    #[tokio::test]
    async fn list_revoke_revoked_since_and_count_active_agree() {
        crate::on_redis_sessions(super::list_revoke_revoked_since_and_count_active_agree).await;
    }

    #[tokio::test]
    async fn prune_expired_removes_ended_sessions_only() {
        crate::on_redis_sessions(super::prune_expired_removes_ended_sessions_only).await;
    }

    #[tokio::test]
    async fn prune_keeps_a_revocation_until_its_access_tokens_expire() {
        crate::on_redis_sessions(super::prune_keeps_a_revocation_until_its_access_tokens_expire).await;
    }

    #[tokio::test]
    async fn count_ended_by_counts_only_what_the_revocation_ended() {
        crate::on_redis_sessions(super::count_ended_by_counts_only_what_the_revocation_ended).await;
    }
}
