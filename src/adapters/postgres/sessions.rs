//! `SessionStore` on Postgres (`migrations/postgres/0009_sessions.sql`): production keeps sessions in Redis;
//! this store runs the same contract, so either can serve. The id list travels as one uuid[]; the logic is
//! `sql/sessions.rs`.

use super::PostgresDb;
use crate::adapters::sql::sessions::{SessionsDialect, SqlSessions};

/// `SessionStore` on Postgres.
pub type PostgresSessions = SqlSessions<PostgresDb>;

impl SessionsDialect for PostgresDb {
    const REVOKE: &'static str = "UPDATE sessions SET revoked_at_ms = $1 WHERE revoked_at_ms IS NULL AND id = ANY($2)";
}
