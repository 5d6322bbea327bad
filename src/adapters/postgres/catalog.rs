//! `CatalogStore` on Postgres: the unique index's nil-UUID `COALESCE`, the uuid catalog id cast to text, and
//! the server's `now()`; the logic is `sql/catalog.rs`.

use super::PostgresDb;
use crate::adapters::sql::catalog::{CatalogDialect, SqlCatalog, option_columns};
use crate::adapters::sql::values::Value;

/// `CatalogStore` on Postgres.
pub type PostgresCatalog = SqlCatalog<PostgresDb>;

impl CatalogDialect for PostgresDb {
    const INSERT_OPTION: &'static str = concat!(
        "INSERT INTO catalog_options (",
        option_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (kind, COALESCE(parent_id, '00000000-0000-0000-0000-000000000000'::uuid), name_key) \
         DO NOTHING RETURNING ",
        option_columns!()
    );
    const FIND_OPTION: &'static str = concat!(
        "SELECT ",
        option_columns!(),
        " FROM catalog_options WHERE kind = $1 \
          AND COALESCE(parent_id, '00000000-0000-0000-0000-000000000000'::uuid) \
            = COALESCE($2, '00000000-0000-0000-0000-000000000000'::uuid) \
          AND name_key = $3"
    );
    const CATALOG_ID: &'static str = "SELECT catalog_id::text AS catalog_id FROM catalog_meta";
    const SAVE_TEMPLATES: &'static str = "INSERT INTO catalog_templates (id, document, updated_at) \
         VALUES (1, $1, now()) \
         ON CONFLICT (id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at";

    fn now() -> Option<Value> {
        None
    }
}
