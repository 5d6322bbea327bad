use std::collections::{HashMap, HashSet};
use std::time::Duration;

use time::OffsetDateTime;
use uuid::Uuid;

use super::*;

/// When the session under test was created (ms).
const T0: i64 = 1_800_000_000_000;

fn settings() -> TokenSettings {
    TokenSettings {
        refresh_ttl: Duration::from_secs(30 * 24 * 3600),
        absolute_ttl: Duration::from_secs(90 * 24 * 3600),
        refresh_grace: Duration::from_secs(10),
        ..TokenSettings::default()
    }
}

fn sid_at(ms: i64) -> Uuid {
    let ms = u64::try_from(ms).expect("positive");
    Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        ms / 1000,
        u32::try_from(ms % 1000).expect("ms") * 1_000_000,
    ))
}

/// A session logged in at `T0` and the refresh token it handed out (tagged, or legacy-shaped).
fn login(tagged: bool) -> (SessionRecord, RefreshToken) {
    let sid = sid_at(T0);
    let key = tagged.then(RefreshMacKey::generate);
    let token = match &key {
        Some(key) => RefreshToken::issue(sid, 0, key),
        None => RefreshToken::generate(sid),
    };
    let s = settings();
    let record = SessionRecord {
        id: sid,
        user_id: Uuid::now_v7(),
        created_at_ms: T0,
        last_used_at_ms: T0,
        refresh_expires_at_ms: T0 + millis(s.refresh_ttl),
        absolute_expires_at_ms: T0 + millis(s.absolute_ttl),
        user_agent: None,
        address: None,
        refresh_hash: token.hash(),
        generation: 0,
        last_rotation: None,
        revoked_at_ms: None,
        refresh_mac_key: key,
    };
    (record, token)
}

/// What the registry does on [`Decision::Rotate`] at `now`: the new record, the successor and its access claims.
fn rotate(record: &SessionRecord, presented: &RefreshToken, now: i64) -> (SessionRecord, RefreshToken, AccessClaims) {
    let mac_key = record.refresh_mac_key.clone().unwrap_or_else(RefreshMacKey::generate);
    let successor = RefreshToken::issue(record.id, record.generation + 1, &mac_key);
    let access = AccessClaims {
        sub: record.user_id,
        sid: record.id,
        iat: now / 1000,
        exp: now / 1000 + 900,
        iss: "gantry".into(),
        aud: "gantry-api".into(),
        jti: Uuid::new_v4(),
    };
    let issued = Issued { successor: &successor, mac_key, access: &access, access_kid: "kid-1".into() };
    (rotated(record, presented, issued, now, &settings()), successor, access)
}

/// The decision for a caller that waits as long as it takes.
fn decide_at(token: &RefreshToken, record: &SessionRecord, now: i64) -> Decision {
    decide(token, Some(record), &RevocationView::default(), now, i64::MAX, &settings())
}

/// A token whose session the store does not have is invalid.
#[test]
fn a_token_of_an_unknown_session_is_invalid() {
    let (_, token) = login(true);
    assert_eq!(
        decide(&token, None, &RevocationView::default(), T0, i64::MAX, &settings()),
        Decision::Refuse(Refusal::Invalid)
    );
}

/// A session marked revoked in the store refuses even its current token.
#[test]
fn a_revoked_session_refuses_its_current_token() {
    let (mut record, token) = login(true);
    record.revoked_at_ms = Some(T0 + 1);
    assert_eq!(decide_at(&token, &record, T0 + 2), Decision::Refuse(Refusal::Revoked));
}

/// A session the view holds as revoked (another instance's logout, not yet on the record read) is revoked.
#[test]
fn a_session_the_view_revoked_is_revoked() {
    let (record, token) = login(true);
    let view = RevocationView { revoked: HashSet::from([record.id]), ..RevocationView::default() };
    assert_eq!(decide(&token, Some(&record), &view, T0 + 1, i64::MAX, &settings()), Decision::Refuse(Refusal::Revoked));
}

/// A session created before its user's epoch is revoked; with the notice when the revocation had a message.
#[test]
fn an_epoch_refuses_older_sessions_with_its_notice_if_any() {
    let (record, token) = login(true);
    let epoch = T0 + 60_000;
    let mut view = RevocationView { users: HashMap::from([(record.user_id, epoch)]), ..RevocationView::default() };
    assert_eq!(
        decide(&token, Some(&record), &view, epoch + 1, i64::MAX, &settings()),
        Decision::Refuse(Refusal::Revoked)
    );
    let notice = Arc::new(UserNotice::new(Uuid::now_v7(), "log in again".into(), OffsetDateTime::UNIX_EPOCH, epoch));
    view.user_notices.insert(record.user_id, Arc::clone(&notice));
    assert_eq!(
        decide(&token, Some(&record), &view, epoch + 1, i64::MAX, &settings()),
        Decision::Refuse(Refusal::RevokedWithNotice(notice))
    );
}

/// Past the session's absolute lifetime, even the current token is expired.
#[test]
fn past_the_absolute_lifetime_the_current_token_is_expired() {
    let (mut record, token) = login(true);
    record.refresh_expires_at_ms = record.absolute_expires_at_ms + 1;
    assert_eq!(decide_at(&token, &record, record.absolute_expires_at_ms), Decision::Refuse(Refusal::Expired));
}

/// The current token past its own refresh lifetime is expired.
#[test]
fn the_current_token_past_its_refresh_lifetime_is_expired() {
    let (record, token) = login(true);
    assert_eq!(decide_at(&token, &record, record.refresh_expires_at_ms), Decision::Refuse(Refusal::Expired));
    assert_eq!(decide_at(&token, &record, record.refresh_expires_at_ms - 1), Decision::Rotate);
}

/// A rotation makes the successor current with a new refresh lifetime capped by the absolute one, and the
/// successor rotates in turn.
#[test]
fn the_current_token_rotates_and_its_successor_becomes_current() {
    let (mut record, token) = login(true);
    // Rotated for weeks: its current token lives to the session's end.
    record.refresh_expires_at_ms = record.absolute_expires_at_ms;
    let now = record.absolute_expires_at_ms - 1000;
    assert_eq!(decide_at(&token, &record, now), Decision::Rotate);
    let (next, successor, _) = rotate(&record, &token, now);
    assert_eq!(next.generation, 1);
    assert_eq!(next.refresh_expires_at_ms, record.absolute_expires_at_ms, "capped by the absolute lifetime");
    assert_eq!(decide_at(&successor, &next, now + 1), Decision::Rotate);
}

/// The used token presented again within the grace (a retry) gets back exactly the pair it produced: the
/// same refresh token and the same access token claims.
#[test]
fn a_retry_within_the_grace_gets_the_pair_produced_before() {
    let (record, token) = login(true);
    let (next, successor, access) = rotate(&record, &token, T0 + 5_000);
    let grace_end = T0 + 5_000 + millis(settings().refresh_grace);
    assert_eq!(
        decide_at(&token, &next, grace_end),
        Decision::Replay {
            successor,
            access,
            access_kid: "kid-1".into(),
            refresh_expires_at_ms: next.refresh_expires_at_ms,
        }
    );
}

/// The same for a legacy-shaped session: the replayed successor is the one the rotation issued.
#[test]
fn a_retry_of_a_legacy_token_gets_the_pair_produced_before() {
    let (record, token) = login(false);
    let (next, successor, _) = rotate(&record, &token, T0 + 5_000);
    let Decision::Replay { successor: replayed, .. } = decide_at(&token, &next, T0 + 6_000) else {
        panic!("a retry within the grace is replayed")
    };
    assert_eq!(replayed, successor);
}

/// A retry whose sealed successor cannot be opened (a damaged record) is invalid, not reuse.
#[test]
fn a_retry_with_an_unreadable_seal_is_invalid() {
    let (record, token) = login(true);
    let (mut next, _, _) = rotate(&record, &token, T0 + 5_000);
    next.last_rotation.as_mut().expect("rotated").sealed_successor = "not hex".into();
    assert_eq!(decide_at(&token, &next, T0 + 6_000), Decision::Refuse(Refusal::Invalid));
}

/// The used token presented after the grace is reuse: the session must be revoked.
#[test]
fn the_used_token_after_the_grace_is_reuse() {
    let (record, token) = login(true);
    let (next, _, _) = rotate(&record, &token, T0 + 5_000);
    let grace_end = T0 + 5_000 + millis(settings().refresh_grace);
    assert_eq!(decide_at(&token, &next, grace_end + 1), Decision::ReuseDetected);
}

/// A tagged token of any older generation is reuse, however many rotations came after it (beyond the
/// retired hashes the session keeps).
#[test]
fn an_old_tagged_generation_is_reuse_however_many_rotations_later() {
    let (mut record, first) = login(true);
    let mut current = first.clone();
    for i in 0..(RETIRED_HASHES_KEPT as i64 + 3) {
        let (next, successor, _) = rotate(&record, &current, T0 + 60_000 * (i + 1));
        (record, current) = (next, successor);
    }
    assert_eq!(decide_at(&first, &record, T0 + 3_600_000), Decision::ReuseDetected);
}

/// A legacy token is recognised as reuse while its hash is among the retired ones the session keeps (the
/// last used one and [`RETIRED_HASHES_KEPT`] before it), and is merely invalid once it dropped out of them.
#[test]
fn a_legacy_token_is_reuse_only_while_its_hash_is_kept() {
    let (mut record, first) = login(false);
    let mut current = first.clone();
    let later = T0 + 3_600_000;
    for i in 1..=(RETIRED_HASHES_KEPT as i64 + 2) {
        let (next, successor, _) = rotate(&record, &current, T0 + 60_000 * i);
        (record, current) = (next, successor);
        let expected = if i <= RETIRED_HASHES_KEPT as i64 + 1 {
            Decision::ReuseDetected
        } else {
            Decision::Refuse(Refusal::Invalid)
        };
        assert_eq!(decide_at(&first, &record, later), expected, "after {i} rotations");
    }
}

/// A token the session never issued (another session key, or a made-up one) is invalid, never reuse:
/// knowing a session id must not be enough to end the session.
#[test]
fn a_token_the_session_never_issued_is_invalid() {
    let (record, token) = login(true);
    let (next, _, _) = rotate(&record, &token, T0 + 5_000);
    let forged = RefreshToken::issue(record.id, 0, &RefreshMacKey::generate());
    assert_eq!(decide_at(&forged, &next, T0 + 60_000), Decision::Refuse(Refusal::Invalid));
    assert_eq!(decide_at(&RefreshToken::generate(record.id), &next, T0 + 60_000), Decision::Refuse(Refusal::Invalid));
}

/// A refresh whose caller has stopped waiting (it waited in the mailbox past its deadline) changes nothing:
/// the token stays current, and the client's retry with it — however much later, past the grace too — rotates.
#[test]
fn a_refresh_its_caller_stopped_waiting_for_is_abandoned_and_the_retry_rotates() {
    let (record, token) = login(true);
    let sent = T0 + 1_000;
    let deadline = answer_by(sent, Duration::from_secs(2));
    assert_eq!(
        decide(&token, Some(&record), &RevocationView::default(), deadline, deadline, &settings()),
        Decision::Abandon
    );
    assert_eq!(
        decide(&token, Some(&record), &RevocationView::default(), deadline + 12_000, deadline, &settings()),
        Decision::Abandon
    );
    // Nothing was written: the retry, well past the grace, finds the same record and rotates.
    let retry_at = deadline + 60_000;
    let retry_deadline = answer_by(retry_at, Duration::from_secs(2));
    assert_eq!(
        decide(&token, Some(&record), &RevocationView::default(), retry_at, retry_deadline, &settings()),
        Decision::Rotate
    );
}

/// The deadline leaves a quarter of the caller's timeout for the write and the answer; a refresh decided
/// before it rotates.
#[test]
fn a_refresh_decided_before_its_deadline_rotates() {
    let (record, token) = login(true);
    let sent = T0 + 1_000;
    assert_eq!(answer_by(sent, Duration::from_secs(2)), sent + 1_500);
    let deadline = answer_by(sent, Duration::from_secs(2));
    assert_eq!(
        decide(&token, Some(&record), &RevocationView::default(), deadline - 1, deadline, &settings()),
        Decision::Rotate
    );
}

/// Only a rotation waits on the caller: what changes nothing is answered as always (a retry within the grace
/// gets its pair, a refusal stays a refusal), and reuse ends the session whether or not the presenter waits.
#[test]
fn a_late_caller_changes_only_whether_a_rotation_happens() {
    let (record, token) = login(true);
    let (next, _, _) = rotate(&record, &token, T0 + 5_000);
    let late = T0 + 6_000;
    let view = RevocationView::default();
    assert!(matches!(decide(&token, Some(&next), &view, late, late - 1, &settings()), Decision::Replay { .. }));
    let after_grace = T0 + 5_000 + millis(settings().refresh_grace) + 1;
    assert_eq!(decide(&token, Some(&next), &view, after_grace, after_grace - 1, &settings()), Decision::ReuseDetected);
    let mut revoked = record.clone();
    revoked.revoked_at_ms = Some(T0 + 1);
    assert_eq!(decide(&token, Some(&revoked), &view, late, late - 1, &settings()), Decision::Refuse(Refusal::Revoked));
}
