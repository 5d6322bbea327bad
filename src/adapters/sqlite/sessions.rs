//! `SessionStore` on SQLite (the local profile's sessions): the id list travels as one JSON array read with
//! `json_each`; the logic is `sql/sessions.rs`.

use super::SqliteDb;
use crate::adapters::sql::sessions::{SessionsDialect, SqlSessions};

/// `SessionStore` on the SQLite file.
pub type SqliteSessions = SqlSessions<SqliteDb>;

impl SessionsDialect for SqliteDb {
    const REVOKE: &'static str = "UPDATE sessions SET revoked_at_ms = $1 \
         WHERE revoked_at_ms IS NULL AND id IN (SELECT value FROM json_each($2))";
}
