//! `RotationStore` and `Fleet` on Postgres: heartbeats on the server's clock (`now()`, `make_interval`), so
//! instances with skewed clocks still agree on who is alive; the logic is `sql/rotations.rs`.

use std::time::Duration;

use super::PostgresDb;
use crate::adapters::sql::rotations::{FleetDialect, SqlFleet, SqlRotations};
use crate::adapters::sql::values::Value;

/// `RotationStore` on Postgres.
pub type PostgresRotations = SqlRotations<PostgresDb>;
/// `Fleet` on Postgres.
pub type PostgresFleet = SqlFleet<PostgresDb>;

impl FleetDialect for PostgresDb {
    const HEARTBEAT: &'static str = "INSERT INTO instances (id, report, last_seen) VALUES ($1, $2, now()) \
         ON CONFLICT (id) DO UPDATE SET last_seen = now(), report = excluded.report";
    const LIVE_INSTANCES: &'static str =
        "SELECT id FROM instances WHERE last_seen > now() - make_interval(secs => $1::float8 / 1000) ORDER BY id";
    const SEEN: &'static str = "SELECT id, (extract(epoch FROM last_seen) * 1000)::int8 AS last_seen_ms, \
         (extract(epoch FROM now() - last_seen) * 1000)::int8 AS age_ms, report \
         FROM instances WHERE last_seen > now() - make_interval(secs => $1::float8 / 1000) ORDER BY id";

    fn now() -> Option<Value> {
        None
    }

    fn since(within: Duration) -> Value {
        Value::from(i64::try_from(within.as_millis()).unwrap_or(i64::MAX))
    }
}
