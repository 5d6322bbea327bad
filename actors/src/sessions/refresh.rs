//! The refresh decision: what presenting a refresh token does, given the session record the store holds,
//! the revocation view and the time. A pure function; the registry actor does the I/O around it (loads the
//! record, stores the rotation with a compare-and-swap, revokes on reuse, signs and answers).
//!
//! In order: an unknown session, a revoked one (individually or by an epoch) and an expired one are refused;
//! the current token rotates; the token the last rotation used, presented again within the grace (a retry,
//! a second tab), gets back the pair it produced; any other token this session issued before is reuse —
//! someone holds a copy — and ends the session (OAuth 2.0 Security BCP, section 4.14); anything else is
//! merely invalid: knowing a session id must not be enough to end the session.
//!
//! A rotation retires the token the client holds, so it is carried out only while its answer can still reach
//! the client: a refresh that waited in the mailbox past its caller's timeout (the client got `503 timeout` and
//! will retry with the same token) is abandoned and changes nothing ([`Decision::Abandon`], [`answer_by`]).

use std::sync::Arc;

use super::tokens::{AccessClaims, RefreshToken, TokenSettings};
use super::view::{RevocationView, UserNotice};
use crate::ports::sessions::{RETIRED_HASHES_KEPT, RefreshMacKey, Rotation, SessionRecord};

/// Why a refresh is refused without changing anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Unknown session, or a token this session never issued.
    Invalid,
    /// The session or its refresh token has expired.
    Expired,
    /// The session was revoked (logout, deletion, reuse, or an epoch without a message).
    Revoked,
    /// The session was ended by a mass invalidation that came with a message to users.
    RevokedWithNotice(Arc<UserNotice>),
}

/// What presenting a refresh token does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// The session's current token: issue the next generation (see [`rotated`]).
    Rotate,
    /// The token the last rotation used, again within the grace: hand back the pair it produced.
    Replay {
        /// The refresh token that rotation issued.
        successor: RefreshToken,
        /// The claims of the access token it issued (sign them again with the key of `access_kid`).
        access: AccessClaims,
        /// The `kid` that access token was signed with.
        access_kid: String,
        /// When `successor` expires (ms).
        refresh_expires_at_ms: i64,
    },
    /// The session's current token, but its caller has stopped waiting (or is about to): nothing changes, so
    /// the token stays current for the client's retry. Rotating now would hand the successor to nobody and make
    /// the client's retry, once past the grace, look like reuse.
    Abandon,
    /// A token this session issued before, presented after the grace: revoke the session.
    ReuseDetected,
    /// Refused; nothing changes.
    Refuse(Refusal),
}

/// The moment (ms) after which a refresh sent at `sent_ms` by a caller that waits `call_timeout` for its answer
/// no longer rotates: the caller's deadline less a quarter of its timeout, the time the rotation's write and the
/// answer's way back need. A refresh decided later is [`Decision::Abandon`]ed and answered as a timeout.
pub(crate) fn answer_by(sent_ms: i64, call_timeout: std::time::Duration) -> i64 {
    sent_ms.saturating_add(millis(call_timeout - call_timeout / 4))
}

/// Decides what presenting `token` does to `record` (its session, if the store has it) at `now_ms`, for a
/// caller that waits for the answer until `answer_by_ms` (see [`answer_by`]).
pub(crate) fn decide(
    token: &RefreshToken,
    record: Option<&SessionRecord>,
    view: &RevocationView,
    now_ms: i64,
    answer_by_ms: i64,
    settings: &TokenSettings,
) -> Decision {
    let Some(record) = record else { return Decision::Refuse(Refusal::Invalid) };
    let sid = token.session_id();
    if record.revoked_at_ms.is_some() {
        return Decision::Refuse(Refusal::Revoked);
    }
    if !view.allows(sid, record.user_id, now_ms / 1000) {
        return Decision::Refuse(match view.notice_for(sid, record.user_id, now_ms / 1000) {
            Some(notice) => Refusal::RevokedWithNotice(Arc::clone(notice)),
            None => Refusal::Revoked,
        });
    }
    if now_ms >= record.absolute_expires_at_ms {
        return Decision::Refuse(Refusal::Expired);
    }
    let presented = token.hash();
    if presented == record.refresh_hash {
        if now_ms >= record.refresh_expires_at_ms {
            return Decision::Refuse(Refusal::Expired);
        }
        if now_ms >= answer_by_ms {
            return Decision::Abandon;
        }
        return Decision::Rotate;
    }
    if let Some(rotation) = &record.last_rotation
        && rotation.used_hash == presented
        && now_ms - rotation.used_at_ms <= millis(settings.refresh_grace)
    {
        return replay(token, record, rotation, settings);
    }
    // A tagged token proves its generation, however many rotations came after it; legacy tokens are
    // recognised by the few retired hashes the session keeps.
    let tagged_retired = match (&record.refresh_mac_key, token.generation()) {
        (Some(key), Some(generation)) => generation < record.generation && token.is_authentic(key),
        _ => false,
    };
    let retired = tagged_retired
        || record
            .last_rotation
            .as_ref()
            .is_some_and(|r| r.used_hash == presented || r.earlier_hashes.contains(&presented));
    if retired { Decision::ReuseDetected } else { Decision::Refuse(Refusal::Invalid) }
}

/// The pair `rotation` produced, recovered from its seal with the token it used.
fn replay(token: &RefreshToken, record: &SessionRecord, rotation: &Rotation, settings: &TokenSettings) -> Decision {
    let sid = token.session_id();
    let tagged = record.refresh_mac_key.as_ref().map(|key| (record.generation, key));
    let Some(successor) = token.unseal(sid, &rotation.sealed_successor, tagged) else {
        return Decision::Refuse(Refusal::Invalid);
    };
    let access = AccessClaims {
        sub: record.user_id,
        sid,
        iat: rotation.access_iat,
        exp: rotation.access_exp,
        iss: settings.issuer.clone(),
        aud: settings.audience.clone(),
        jti: rotation.access_jti,
    };
    Decision::Replay {
        successor,
        access,
        access_kid: rotation.access_kid.clone(),
        refresh_expires_at_ms: record.refresh_expires_at_ms,
    }
}

/// What a rotation issues besides the successor token, decided by the caller (random or signed).
pub(crate) struct Issued<'a> {
    /// The successor refresh token (generation `record.generation + 1`, tagged with `mac_key`).
    pub(crate) successor: &'a RefreshToken,
    /// The session's tag key (a session from before generation tags gets one now).
    pub(crate) mac_key: RefreshMacKey,
    /// The access token issued with it.
    pub(crate) access: &'a AccessClaims,
    /// The `kid` it was signed with.
    pub(crate) access_kid: String,
}

/// The record after rotating `presented` (the current token of `record`) at `now_ms`: the successor is
/// current, its refresh lifetime starts now (capped by the session's absolute one), and the used token is
/// remembered — its successor sealed for the grace, its hash with the few before it for reuse detection.
pub(crate) fn rotated(
    record: &SessionRecord,
    presented: &RefreshToken,
    issued: Issued<'_>,
    now_ms: i64,
    settings: &TokenSettings,
) -> SessionRecord {
    SessionRecord {
        last_used_at_ms: now_ms,
        refresh_expires_at_ms: (now_ms + millis(settings.refresh_ttl)).min(record.absolute_expires_at_ms),
        refresh_hash: issued.successor.hash(),
        generation: record.generation + 1,
        last_rotation: Some(Rotation {
            used_hash: presented.hash(),
            used_at_ms: now_ms,
            sealed_successor: presented.seal(issued.successor),
            access_jti: issued.access.jti,
            access_iat: issued.access.iat,
            access_exp: issued.access.exp,
            access_kid: issued.access_kid,
            earlier_hashes: record
                .last_rotation
                .iter()
                .flat_map(|r| std::iter::once(r.used_hash.clone()).chain(r.earlier_hashes.iter().cloned()))
                .take(RETIRED_HASHES_KEPT)
                .collect(),
        }),
        refresh_mac_key: Some(issued.mac_key),
        ..record.clone()
    }
}

fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
