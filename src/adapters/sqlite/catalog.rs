//! `CatalogStore` on SQLite: the unique indexes' `ifnull(parent_id, '')` and `pending` predicates and a
//! timestamp bound from this process; the logic is `sql/catalog.rs`.

use time::OffsetDateTime;

use super::SqliteDb;
use crate::adapters::sql::catalog::{CatalogDialect, SqlCatalog, option_columns};
use crate::adapters::sql::values::Value;

/// `CatalogStore` on the SQLite file.
pub type SqliteCatalog = SqlCatalog<SqliteDb>;

/// `SELECT` of the options of kind `$1` under parent `$2` (possibly NULL) with name key `$3`.
macro_rules! find_by_name {
    () => {
        concat!(
            "SELECT ",
            option_columns!(),
            " FROM catalog_options WHERE kind = $1 AND ifnull(parent_id, '') = ifnull($2, '') AND name_key = $3"
        )
    };
}

impl CatalogDialect for SqliteDb {
    const INSERT_OPTION: &'static str = concat!(
        "INSERT INTO catalog_options (",
        option_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (kind, ifnull(parent_id, ''), name_key) WHERE pending = 0 DO NOTHING RETURNING ",
        option_columns!()
    );
    const INSERT_DRAFT: &'static str = concat!(
        "INSERT INTO catalog_options (",
        option_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (kind, ifnull(parent_id, ''), name_key, ifnull(created_by, '')) WHERE pending = 1 \
         DO NOTHING RETURNING ",
        option_columns!()
    );
    const FIND_OPTION: &'static str = concat!(find_by_name!(), " AND pending = 0");
    const FIND_DRAFT: &'static str = concat!(find_by_name!(), " AND pending = 1 AND created_by = $4");
    const FIND_DRAFTS: &'static str = concat!(find_by_name!(), " AND pending = 1 ORDER BY created_at, id");
    const CATALOG_ID: &'static str = "SELECT catalog_id FROM catalog_meta";
    const SAVE_TEMPLATES: &'static str = "INSERT INTO catalog_templates (id, document, updated_at) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at";

    fn now() -> Option<Value> {
        Some(Value::from(OffsetDateTime::now_utc()))
    }
}
