//! The [`Value`]s port code binds to a statement (what a value is; each backend decides how it is stored),
//! the [`args!`] list of them, and how a count is stored.

use time::OffsetDateTime;
use uuid::Uuid;

/// A count or byte size as stored (a BIGINT): values beyond `i64::MAX` cannot happen, and saturate.
pub(crate) fn count_to_db(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// A value bound to a statement. Each backend encodes it in its own storage format (see the headers of
/// `sqlite.rs` and `postgres.rs`): the variants say what a value is, not how it is stored. `None` is a typed
/// NULL, which Postgres needs to pick the parameter's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An id (SQLite: hyphenated text; Postgres: uuid).
    Uuid(Option<Uuid>),
    /// Text.
    Text(Option<String>),
    /// A 64-bit integer.
    Int(Option<i64>),
    /// A flag (SQLite: 0/1).
    Bool(bool),
    /// An instant (SQLite: fixed-width RFC 3339 text, microseconds; Postgres: timestamptz).
    Time(Option<OffsetDateTime>),
    /// A JSON document, already serialised (SQLite: that text; Postgres: jsonb).
    Json(Option<String>),
    /// A list of ids, for `IN`-style matches (SQLite: a JSON array for `json_each`; Postgres: uuid[]).
    Uuids(Vec<Uuid>),
}

impl Value {
    /// `value` as a JSON argument.
    #[must_use]
    pub fn json(value: &serde_json::Value) -> Self {
        Self::Json(Some(value.to_string()))
    }

    /// An optional JSON argument.
    #[must_use]
    pub fn json_opt(value: Option<&serde_json::Value>) -> Self {
        Self::Json(value.map(ToString::to_string))
    }
}

impl From<Uuid> for Value {
    fn from(v: Uuid) -> Self {
        Self::Uuid(Some(v))
    }
}
impl From<Option<Uuid>> for Value {
    fn from(v: Option<Uuid>) -> Self {
        Self::Uuid(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Text(Some(v.to_owned()))
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Self::Text(Some(v.clone()))
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Self::Text(Some(v))
    }
}
impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        Self::Text(v.map(str::to_owned))
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::Int(Some(v))
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Self::Int(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}
impl From<OffsetDateTime> for Value {
    fn from(v: OffsetDateTime) -> Self {
        Self::Time(Some(v))
    }
}
impl From<Option<OffsetDateTime>> for Value {
    fn from(v: Option<OffsetDateTime>) -> Self {
        Self::Time(v)
    }
}

/// The arguments of a statement, in `$1, $2, …` order.
macro_rules! args {
    ($($value:expr),* $(,)?) => {
        vec![$($crate::adapters::sql::values::Value::from($value)),*]
    };
}
pub(crate) use args;
