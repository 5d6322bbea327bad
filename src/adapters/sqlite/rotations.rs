//! `RotationStore` and `Fleet` on SQLite: heartbeats as integer milliseconds from this process's clock;
//! the logic is `sql/rotations.rs`.

use std::time::Duration;

use time::OffsetDateTime;

use super::SqliteDb;
use crate::adapters::sql::rotations::{FleetDialect, SqlFleet, SqlRotations};
use crate::adapters::sql::values::Value;

/// `RotationStore` on the SQLite file.
pub type SqliteRotations = SqlRotations<SqliteDb>;
/// `Fleet` on the SQLite file.
pub type SqliteFleet = SqlFleet<SqliteDb>;

impl FleetDialect for SqliteDb {
    const HEARTBEAT: &'static str = "INSERT INTO instances (id, report, last_seen) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen, report = excluded.report";
    const LIVE_INSTANCES: &'static str = "SELECT id FROM instances WHERE last_seen > $1 ORDER BY id";
    const SEEN: &'static str = "SELECT id, last_seen AS last_seen_ms, \
         CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) - last_seen AS age_ms, report \
         FROM instances WHERE last_seen > $1 ORDER BY id";

    fn now() -> Option<Value> {
        Some(Value::from(now_ms()))
    }

    fn since(within: Duration) -> Value {
        Value::from(now_ms() - i64::try_from(within.as_millis()).unwrap_or(i64::MAX))
    }
}

/// Milliseconds since the Unix epoch, now, by this process's clock.
fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}
