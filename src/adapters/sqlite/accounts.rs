//! `AccountStore` on SQLite: the epoch upsert's `MAX` and the unique-email error code; the logic is
//! `sql/accounts.rs`.

use super::SqliteDb;
use crate::adapters::sql::accounts::{AccountsDialect, SqlAccounts};
use crate::adapters::sql::errors::database_code;

/// `AccountStore` on the SQLite file.
pub type SqliteAccounts = SqlAccounts<SqliteDb>;

/// SQLite's extended result code for a `UNIQUE` constraint violation (`SQLITE_CONSTRAINT_UNIQUE`); a primary
/// key violation has its own code (1555), so this can only be the email.
const SQLITE_CONSTRAINT_UNIQUE: &str = "2067";

impl AccountsDialect for SqliteDb {
    // MAX keeps whichever is higher (in `DO UPDATE`, the bare column is the stored row).
    const RAISE_EPOCH: &'static str = "INSERT INTO session_epochs (user_id, not_before_ms) VALUES ($1, $2) \
         ON CONFLICT (user_id) DO UPDATE SET not_before_ms = MAX(not_before_ms, excluded.not_before_ms) \
         RETURNING not_before_ms";

    fn is_email_taken(err: &sqlx::Error) -> bool {
        database_code(err).as_deref() == Some(SQLITE_CONSTRAINT_UNIQUE)
    }
}
