//! Session fixtures shared by the session contract (`tests/conformance/sessions.rs`) and the Redis-only session
//! tests (`tests/backends/redis.rs`).

use gantry_actors::ports::sessions::SessionRecord;
use time::OffsetDateTime;
use uuid::Uuid;

/// The wall clock in ms.
pub(crate) fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).expect("a current time fits in i64")
}

/// A session of `user_id` created at `now` (ms), refreshable for an hour, ending after a day. The user agent
/// holds quotes, non-ASCII and the very text Redis' revoke script edits, to prove only the real field changes.
pub(crate) fn session(user_id: Uuid, now: i64) -> SessionRecord {
    SessionRecord {
        id: Uuid::now_v7(),
        user_id,
        created_at_ms: now,
        last_used_at_ms: now,
        refresh_expires_at_ms: now + 3_600_000,
        absolute_expires_at_ms: now + 86_400_000,
        user_agent: Some(r#"Mozilla/5.0 "revoked_at_ms":null naïve ✓"#.to_owned()),
        address: Some("203.0.113.7".to_owned()),
        refresh_hash: "a".repeat(64),
        generation: 0,
        last_rotation: None,
        revoked_at_ms: None,
        // Round-trips as hex; a store that lost it would turn every later reuse into a mere `token_invalid`.
        refresh_mac_key: Some(gantry_actors::ports::sessions::RefreshMacKey::generate()),
    }
}
