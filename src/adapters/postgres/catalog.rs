//! `CatalogStore` on Postgres: the unique indexes' nil-UUID `COALESCE` and `pending` predicates, the uuid
//! catalog id cast to text, and the server's `now()`; the logic is `sql/catalog.rs`.

use super::PostgresDb;
use crate::adapters::sql::catalog::{CatalogDialect, SqlCatalog, option_columns};
use crate::adapters::sql::values::Value;

/// `CatalogStore` on Postgres.
pub type PostgresCatalog = SqlCatalog<PostgresDb>;

/// The (kind, parent) part of both unique indexes (migration 0018).
macro_rules! list_key {
    () => {
        "kind, COALESCE(parent_id, '00000000-0000-0000-0000-000000000000'::uuid)"
    };
}

/// `SELECT` of the options of kind `$1` under parent `$2` (possibly NULL) with name key `$3`.
macro_rules! find_by_name {
    () => {
        concat!(
            "SELECT ",
            option_columns!(),
            " FROM catalog_options WHERE kind = $1 \
              AND COALESCE(parent_id, '00000000-0000-0000-0000-000000000000'::uuid) \
                = COALESCE($2, '00000000-0000-0000-0000-000000000000'::uuid) \
              AND name_key = $3"
        )
    };
}

impl CatalogDialect for PostgresDb {
    const INSERT_OPTION: &'static str = concat!(
        "INSERT INTO catalog_options (",
        option_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (",
        list_key!(),
        ", name_key) WHERE NOT pending DO NOTHING RETURNING ",
        option_columns!()
    );
    const INSERT_DRAFT: &'static str = concat!(
        "INSERT INTO catalog_options (",
        option_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (",
        list_key!(),
        ", name_key, created_by) WHERE pending DO NOTHING RETURNING ",
        option_columns!()
    );
    const FIND_OPTION: &'static str = concat!(find_by_name!(), " AND NOT pending");
    const FIND_DRAFT: &'static str = concat!(find_by_name!(), " AND pending AND created_by = $4");
    const FIND_DRAFTS: &'static str = concat!(find_by_name!(), " AND pending ORDER BY created_at, id");
    const CATALOG_ID: &'static str = "SELECT catalog_id::text AS catalog_id FROM catalog_meta";
    const SAVE_TEMPLATES: &'static str = "INSERT INTO catalog_templates (id, document, updated_at) \
         VALUES (1, $1, now()) \
         ON CONFLICT (id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at";

    fn now() -> Option<Value> {
        None
    }
}
