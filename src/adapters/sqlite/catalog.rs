//! `CatalogStore` on SQLite: the unique index's `ifnull(parent_id, '')` and a timestamp bound from this
//! process; the logic is `sql/catalog.rs`.

use time::OffsetDateTime;

use super::SqliteDb;
use crate::adapters::sql::catalog::{CatalogDialect, SqlCatalog, option_columns};
use crate::adapters::sql::values::Value;

/// `CatalogStore` on the SQLite file.
pub type SqliteCatalog = SqlCatalog<SqliteDb>;

impl CatalogDialect for SqliteDb {
    const INSERT_OPTION: &'static str = concat!(
        "INSERT INTO catalog_options (",
        option_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (kind, ifnull(parent_id, ''), name_key) DO NOTHING RETURNING ",
        option_columns!()
    );
    const FIND_OPTION: &'static str = concat!(
        "SELECT ",
        option_columns!(),
        " FROM catalog_options WHERE kind = $1 AND ifnull(parent_id, '') = ifnull($2, '') AND name_key = $3"
    );
    const CATALOG_ID: &'static str = "SELECT catalog_id FROM catalog_meta";
    const SAVE_TEMPLATES: &'static str = "INSERT INTO catalog_templates (id, document, updated_at) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at";

    fn now() -> Option<Value> {
        Some(Value::from(OffsetDateTime::now_utc()))
    }
}
