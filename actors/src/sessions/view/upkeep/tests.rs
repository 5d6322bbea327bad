use std::collections::HashSet;

use super::*;
use crate::ports::accounts::RevocationScope;

fn upkeep() -> ViewUpkeep {
    ViewUpkeep::resume(RevocationView::default().shared())
}

fn recorded(user_id: Option<Uuid>, not_before_ms: i64, message: Option<&str>) -> RevocationNotice {
    RevocationNotice {
        id: Uuid::now_v7(),
        scope: if user_id.is_some() { RevocationScope::User } else { RevocationScope::All },
        user_id,
        reason: "test".into(),
        requested_by: "test".into(),
        not_before_ms,
        active_sessions: None,
        user_message: message.map(str::to_owned),
        refused_requests: 0,
        created_at: OffsetDateTime::UNIX_EPOCH,
    }
}

fn epochs(global_ms: i64, users: &[(Uuid, i64)]) -> Epochs {
    Epochs { global_ms, users: users.iter().copied().collect() }
}

/// An epoch is only ever raised, and every change is published to what the request path reads.
#[test]
fn an_epoch_is_only_raised_and_each_change_is_published() {
    let mut upkeep = upkeep();
    let user = Uuid::now_v7();
    upkeep.apply_epoch(None, 2_000);
    upkeep.apply_epoch(None, 1_000);
    upkeep.apply_epoch(Some(user), 3_000);
    upkeep.apply_epoch(Some(user), 2_500);
    let published = upkeep.shared.load();
    assert_eq!((published.global_ms, published.users.get(&user)), (2_000, Some(&3_000)));
}

/// A rebuild never lowers the global epoch known here (a store read before a raise landed), and a store
/// data loss raises it to the moment the loss was noticed.
#[test]
fn a_rebuild_never_lowers_the_global_epoch_and_applies_a_data_loss() {
    let mut upkeep = upkeep();
    upkeep.apply_epoch(None, 5_000);
    upkeep.rebuild(epochs(4_000, &[]), Vec::new(), None, Some(&[]));
    assert_eq!(upkeep.shared.load().global_ms, 5_000);
    upkeep.rebuild(epochs(4_000, &[]), Vec::new(), Some(9_000), Some(&[]));
    assert_eq!(upkeep.shared.load().global_ms, 9_000);
}

/// The revoked sessions after a rebuild are exactly those the store returned: one revoked here but no
/// longer returned (past the horizon, or pruned) drops out.
#[test]
fn a_rebuild_keeps_only_the_revoked_sessions_the_store_returned() {
    let mut upkeep = upkeep();
    let (gone, kept) = (Uuid::now_v7(), Uuid::now_v7());
    upkeep.apply_revoked(&[gone]);
    upkeep.rebuild(epochs(0, &[]), vec![kept], None, Some(&[]));
    assert_eq!(upkeep.shared.load().revoked, HashSet::from([kept]));
}

/// Each epoch's notice comes from the newest recorded revocation that set it with a message; a notice
/// already in the view is kept as it is, with the refusals it counted.
#[test]
fn a_rebuild_takes_each_epochs_notice_and_keeps_a_known_one_with_its_counts() {
    let mut upkeep = upkeep();
    let user = Uuid::now_v7();
    let newest = recorded(Some(user), 7_000, Some("your password was reset"));
    let older = recorded(Some(user), 7_000, Some("older"));
    let silent = recorded(None, 8_000, None);
    let global = recorded(None, 6_000, Some("not the current global epoch"));
    let all = [silent, newest.clone(), older, global];
    upkeep.rebuild(epochs(8_000, &[(user, 7_000)]), Vec::new(), None, Some(&all));
    let view = upkeep.shared.load_full();
    let notice = view.user_notices.get(&user).expect("the user's epoch has a notice");
    assert_eq!((notice.id, notice.message.as_str()), (newest.id, "your password was reset"));
    assert_eq!(view.global_notice, None, "the global epoch was set without a message");
    notice.count_refusal();
    upkeep.rebuild(epochs(8_000, &[(user, 7_000)]), Vec::new(), None, Some(&all));
    assert_eq!(upkeep.shared.load().user_notices.get(&user).expect("kept").take_refused(), 1);
}

/// When the recorded revocations cannot be read, the notices known here are kept.
#[test]
fn a_rebuild_without_the_recorded_revocations_keeps_the_known_notices() {
    let mut upkeep = upkeep();
    let wire = NoticeWire { id: Uuid::now_v7(), message: "log in again".into(), at_ms: 3_000 };
    upkeep.apply_epoch(None, 3_000);
    upkeep.apply_notice(None, 3_000, &wire);
    upkeep.rebuild(epochs(3_000, &[]), Vec::new(), None, None);
    assert_eq!(upkeep.shared.load().global_notice.as_ref().map(|n| n.id), Some(wire.id));
}

/// Another instance's announcements apply to the view: a raised epoch with its notice, revoked sessions;
/// events of other domains change nothing.
#[test]
fn announcements_apply_epochs_notices_and_revoked_sessions() {
    let mut upkeep = upkeep();
    let (user, sid) = (Uuid::now_v7(), Uuid::now_v7());
    let envelope = |event| Envelope { id: Uuid::now_v7(), origin: Uuid::now_v7(), sent_at_ms: 1_000, event };
    let wire = NoticeWire { id: Uuid::now_v7(), message: "log in again".into(), at_ms: 1_000 };
    let revoked = Event::SessionsRevoked { user_id: Some(user), not_before_ms: 4_000, notice: Some(wire.clone()) };
    upkeep.apply_announcement(envelope(revoked), 1_500);
    upkeep.apply_announcement(envelope(Event::SessionRevoked { session_ids: vec![sid] }), 1_500);
    let before = upkeep.shared.load_full();
    upkeep.apply_announcement(envelope(Event::InstanceStarted { version: "0".into() }), 1_500);
    let view = upkeep.shared.load_full();
    assert_eq!(view.users.get(&user), Some(&4_000));
    assert_eq!(view.user_notices.get(&user).map(|n| (n.id, n.not_before_ms)), Some((wire.id, 4_000)));
    assert!(view.revoked.contains(&sid));
    assert_eq!(view, before, "another domain's event changes nothing");
}

/// This instance's own announcement comes back over the bus after requests were already refused with its
/// notice: the notice in the view stays, with those refusals, so the evidence counts them. A late
/// announcement of an older epoch's notice does not replace the current one.
#[test]
fn an_echoed_announcement_keeps_the_notice_and_its_refusals() {
    let mut upkeep = upkeep();
    let envelope = |event| Envelope { id: Uuid::now_v7(), origin: Uuid::now_v7(), sent_at_ms: 1_000, event };
    let wire = NoticeWire { id: Uuid::now_v7(), message: "log in again".into(), at_ms: 5_000 };
    upkeep.apply_epoch(None, 5_000);
    upkeep.apply_notice(None, 5_000, &wire);
    upkeep.shared.load().global_notice.as_ref().expect("notice").count_refusal();
    let echo = Event::SessionsRevoked { user_id: None, not_before_ms: 5_000, notice: Some(wire.clone()) };
    upkeep.apply_announcement(envelope(echo), 5_100);
    let older = NoticeWire { id: Uuid::now_v7(), message: "older".into(), at_ms: 4_000 };
    let late = Event::SessionsRevoked { user_id: None, not_before_ms: 4_000, notice: Some(older) };
    upkeep.apply_announcement(envelope(late), 5_200);
    let view = upkeep.shared.load_full();
    let notice = view.global_notice.as_ref().expect("the notice stays");
    assert_eq!((notice.id, notice.take_refused()), (wire.id, 1), "the refusal counted before the echo is kept");
}
