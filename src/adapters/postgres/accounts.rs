//! `AccountStore` on Postgres: the epoch upsert's `GREATEST` and the email constraint named by SQLSTATE
//! and name; the logic is `sql/accounts.rs`.

use super::PostgresDb;
use crate::adapters::sql::accounts::{AccountsDialect, SqlAccounts};
use crate::adapters::sql::errors::database_code;

/// `AccountStore` on Postgres.
pub type PostgresAccounts = SqlAccounts<PostgresDb>;

/// SQLSTATE `unique_violation`.
const UNIQUE_VIOLATION: &str = "23505";
/// The email's unique constraint, named in `migrations/postgres/0002_accounts.sql`: only a violation of this
/// one is `EmailTaken` (a duplicate primary key is a bug, not a taken email).
const USERS_EMAIL_KEY: &str = "users_email_key";

impl AccountsDialect for PostgresDb {
    // `ON CONFLICT DO UPDATE` takes the row lock, so a concurrent raise waits and then compares against the
    // committed value; GREATEST never lowers it.
    const RAISE_EPOCH: &'static str = "INSERT INTO session_epochs (user_id, not_before_ms) VALUES ($1, $2) \
         ON CONFLICT (user_id) DO UPDATE \
         SET not_before_ms = GREATEST(session_epochs.not_before_ms, EXCLUDED.not_before_ms) \
         RETURNING not_before_ms";

    fn is_email_taken(err: &sqlx::Error) -> bool {
        database_code(err).as_deref() == Some(UNIQUE_VIOLATION)
            && err.as_database_error().and_then(|db| db.constraint()) == Some(USERS_EMAIL_KEY)
    }
}
