//! Reading result rows: the [`SqlRow`] getters each backend implements for its storage format, and
//! [`Fields`], which reads one record's columns and turns every failure into a safe [`Unavailable`].

use gantry_actors::ports::Unavailable;
use time::OffsetDateTime;
use uuid::Uuid;

use super::errors::{corrupt, unavailable};

/// Why a column could not be read.
#[derive(Debug)]
pub enum Unreadable {
    /// The driver failed (no such column, a type the getter does not take).
    Driver(sqlx::Error),
    /// The column holds something this version cannot read (bad UUID text, bad timestamp, bad JSON).
    Value,
}

impl From<sqlx::Error> for Unreadable {
    fn from(err: sqlx::Error) -> Self {
        Self::Driver(err)
    }
}

/// A result row, read column by column in the port's terms; each backend decodes its own storage format.
/// `Ok(None)` is SQL NULL.
pub trait SqlRow: Send + Sync + 'static {
    /// The backend's name, for logs and reasons.
    const BACKEND: &'static str;
    /// An id.
    ///
    /// # Errors
    /// The column is missing or unreadable.
    fn uuid(&self, column: &'static str) -> Result<Option<Uuid>, Unreadable>;
    /// Text.
    ///
    /// # Errors
    /// The column is missing or unreadable.
    fn text(&self, column: &'static str) -> Result<Option<String>, Unreadable>;
    /// A 64-bit integer.
    ///
    /// # Errors
    /// The column is missing or unreadable.
    fn int(&self, column: &'static str) -> Result<Option<i64>, Unreadable>;
    /// A flag.
    ///
    /// # Errors
    /// The column is missing or unreadable.
    fn boolean(&self, column: &'static str) -> Result<Option<bool>, Unreadable>;
    /// An instant.
    ///
    /// # Errors
    /// The column is missing or unreadable.
    fn time(&self, column: &'static str) -> Result<Option<OffsetDateTime>, Unreadable>;
    /// A JSON document.
    ///
    /// # Errors
    /// The column is missing or unreadable.
    fn json(&self, column: &'static str) -> Result<Option<serde_json::Value>, Unreadable>;
}

/// Reads the columns of one row of a `record` (`job`, `user`, …), turning every failure into a safe
/// [`Unavailable`] that names the record and column.
pub struct Fields<'r, R> {
    /// The row.
    row: &'r R,
    /// What the row holds, for reasons.
    record: &'static str,
}

impl<'r, R: SqlRow> Fields<'r, R> {
    /// A reader of `row`, which holds a `record`.
    pub fn new(row: &'r R, record: &'static str) -> Self {
        Self { row, record }
    }

    /// A nullable column.
    fn nullable<T>(&self, column: &'static str, got: Result<Option<T>, Unreadable>) -> Result<Option<T>, Unavailable> {
        got.map_err(|e| match e {
            Unreadable::Driver(e) => unavailable(R::BACKEND, "read", &e),
            Unreadable::Value => corrupt(R::BACKEND, self.record, column),
        })
    }

    /// A NOT NULL column.
    fn required<T>(&self, column: &'static str, got: Result<Option<T>, Unreadable>) -> Result<T, Unavailable> {
        self.nullable(column, got)?.ok_or_else(|| corrupt(R::BACKEND, self.record, column))
    }

    /// A NOT NULL id.
    ///
    /// # Errors
    /// The column is missing, NULL or unreadable.
    pub fn uuid(&self, column: &'static str) -> Result<Uuid, Unavailable> {
        self.required(column, self.row.uuid(column))
    }

    /// A nullable id.
    ///
    /// # Errors
    /// The column is missing or unreadable.
    pub fn opt_uuid(&self, column: &'static str) -> Result<Option<Uuid>, Unavailable> {
        self.nullable(column, self.row.uuid(column))
    }

    /// NOT NULL text.
    ///
    /// # Errors
    /// The column is missing, NULL or unreadable.
    pub fn text(&self, column: &'static str) -> Result<String, Unavailable> {
        self.required(column, self.row.text(column))
    }

    /// Nullable text.
    ///
    /// # Errors
    /// The column is missing or unreadable.
    pub fn opt_text(&self, column: &'static str) -> Result<Option<String>, Unavailable> {
        self.nullable(column, self.row.text(column))
    }

    /// A NOT NULL integer.
    ///
    /// # Errors
    /// The column is missing, NULL or unreadable.
    pub fn int(&self, column: &'static str) -> Result<i64, Unavailable> {
        self.required(column, self.row.int(column))
    }

    /// A nullable integer.
    ///
    /// # Errors
    /// The column is missing or unreadable.
    pub fn opt_int(&self, column: &'static str) -> Result<Option<i64>, Unavailable> {
        self.nullable(column, self.row.int(column))
    }

    /// A NOT NULL count or size (never negative).
    ///
    /// # Errors
    /// The column is missing, NULL, unreadable or negative.
    pub fn count(&self, column: &'static str) -> Result<u64, Unavailable> {
        u64::try_from(self.int(column)?).map_err(|_| corrupt(R::BACKEND, self.record, column))
    }

    /// A nullable count (never negative).
    ///
    /// # Errors
    /// The column is missing, unreadable or negative.
    pub fn opt_count(&self, column: &'static str) -> Result<Option<u64>, Unavailable> {
        self.opt_int(column)?
            .map(|n| u64::try_from(n).map_err(|_| corrupt(R::BACKEND, self.record, column)))
            .transpose()
    }

    /// A NOT NULL flag.
    ///
    /// # Errors
    /// The column is missing, NULL or unreadable.
    pub fn boolean(&self, column: &'static str) -> Result<bool, Unavailable> {
        self.required(column, self.row.boolean(column))
    }

    /// A NOT NULL instant.
    ///
    /// # Errors
    /// The column is missing, NULL or unreadable.
    pub fn time(&self, column: &'static str) -> Result<OffsetDateTime, Unavailable> {
        self.required(column, self.row.time(column))
    }

    /// A nullable instant.
    ///
    /// # Errors
    /// The column is missing or unreadable.
    pub fn opt_time(&self, column: &'static str) -> Result<Option<OffsetDateTime>, Unavailable> {
        self.nullable(column, self.row.time(column))
    }

    /// A NOT NULL JSON document.
    ///
    /// # Errors
    /// The column is missing, NULL or unreadable.
    pub fn json(&self, column: &'static str) -> Result<serde_json::Value, Unavailable> {
        self.required(column, self.row.json(column))
    }

    /// A nullable JSON document.
    ///
    /// # Errors
    /// The column is missing or unreadable.
    pub fn opt_json(&self, column: &'static str) -> Result<Option<serde_json::Value>, Unavailable> {
        self.nullable(column, self.row.json(column))
    }

    /// A NOT NULL column holding a stored spelling that `parse` reads (an enum).
    ///
    /// # Errors
    /// The column is missing, NULL, unreadable, or `parse` does not know the spelling.
    pub fn parse<T>(&self, column: &'static str, parse: impl FnOnce(&str) -> Option<T>) -> Result<T, Unavailable> {
        parse(&self.text(column)?).ok_or_else(|| corrupt(R::BACKEND, self.record, column))
    }
}
