//! `CatalogStore` on either database, written once; [`CatalogDialect`] holds what differs (the unique
//! index's expression for "no parent", how the catalog id reads as text, where the templates' time comes
//! from).

use async_trait::async_trait;
use gantry_actors::catalog::OptionKind;
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::catalog::{CatalogOption, CatalogStore, Created};
use uuid::Uuid;

use super::{Exec, Fields, SqlDb, SqlRow, Value, all, args, backend, corrupt, one, optional, unavailable};

/// The columns [`option_from_row`] reads (static SQL, see `jobs.rs`).
macro_rules! option_columns {
    () => {
        "id, kind, parent_id, name, name_key, search_key, has_engine, created_at"
    };
}
pub(crate) use option_columns;

/// Raises the catalog version by one and returns it (in the caller's transaction).
const BUMP_VERSION: &str = "UPDATE catalog_meta SET version = version + 1 RETURNING version";

/// What the catalog store's SQL says differently per backend.
pub trait CatalogDialect: SqlDb {
    /// Inserts the option `$1`…`$8` (in `option_columns!` order) unless one with the same (kind, parent,
    /// name key) exists, returning the inserted row. The conflict target is the expression list of
    /// `catalog_options_name_key_idx`, so only a duplicate name is "already there"; a duplicate id still
    /// fails loudly.
    const INSERT_OPTION: &'static str;
    /// The option of kind `$1` under parent `$2` (possibly NULL) with name key `$3`, spelled with the same
    /// expression as the unique index so the look-up uses it.
    const FIND_OPTION: &'static str;
    /// Selects the catalog's identity as text in a column `catalog_id`.
    const CATALOG_ID: &'static str;
    /// Upserts the template document `$1`, stamping `updated_at` with [`CatalogDialect::now`] or the
    /// database's own clock.
    const SAVE_TEMPLATES: &'static str;

    /// The `$2` of [`CatalogDialect::SAVE_TEMPLATES`], when the backend has no clock of its own to use.
    fn now() -> Option<Value>;
}

/// `CatalogStore` on the database `D`.
#[derive(Debug, Clone)]
pub struct SqlCatalog<D> {
    /// The database.
    db: D,
}

impl<D: SqlDb> SqlCatalog<D> {
    /// The catalog store on `db`.
    pub fn new(db: D) -> Self {
        Self { db }
    }
}

#[async_trait]
impl<D: CatalogDialect> CatalogStore for SqlCatalog<D> {
    async fn list_options(&self, kind: OptionKind, parent: Option<Uuid>) -> Result<Vec<CatalogOption>, Unavailable> {
        // Two statements rather than one with `IS` / `IS NOT DISTINCT FROM`, which no index serves: each spells
        // a plain predicate on the leading columns of `catalog_options_listing_idx`, whose third column (byte
        // order on both backends, see the migrations) gives the order.
        let rows = match parent {
            None => {
                let sql = concat!(
                    "SELECT ",
                    option_columns!(),
                    " FROM catalog_options WHERE kind = $1 AND parent_id IS NULL ORDER BY search_key, id"
                );
                all(&self.db, "list_options", sql, args![kind.as_str()]).await?
            }
            Some(parent) => {
                let sql = concat!(
                    "SELECT ",
                    option_columns!(),
                    " FROM catalog_options WHERE kind = $1 AND parent_id = $2 ORDER BY search_key, id"
                );
                all(&self.db, "list_options", sql, args![kind.as_str(), parent]).await?
            }
        };
        rows.iter().map(option_from_row).collect()
    }

    async fn get_option(&self, id: Uuid) -> Result<Option<CatalogOption>, Unavailable> {
        let sql = concat!("SELECT ", option_columns!(), " FROM catalog_options WHERE id = $1");
        let row = optional(&self.db, "get_option", sql, args![id]).await?;
        row.as_ref().map(option_from_row).transpose()
    }

    async fn create_option(&self, option: &CatalogOption) -> Result<Created, Unavailable> {
        let failed = |e: sqlx::Error| unavailable(backend::<D>(), "create_option", &e);
        // One transaction. On SQLite it holds the write lock from the start, so no other writer commits
        // between the insert and the version bump or the read-back of the existing row. On Postgres (READ
        // COMMITTED) a concurrent create of the same name makes the insert wait for that transaction: if it
        // commits, the insert does nothing, and the SELECT below (a new snapshot) sees its row; if it rolls
        // back, this insert goes ahead. The version row is locked by the UPDATE until commit, so bumps never
        // overlap, and it is always the last lock taken, so creates cannot deadlock.
        let mut tx = self.db.begin().await.map_err(failed)?;
        let args = args![
            option.id,
            option.kind.as_str(),
            option.parent_id,
            &option.name,
            &option.name_key,
            &option.search_key,
            option.has_engine,
            option.created_at,
        ];
        let inserted = tx.fetch_optional(D::INSERT_OPTION, args).await.map_err(failed)?;
        let (row, created, version) = match inserted {
            Some(row) => {
                let version = tx.fetch_one(BUMP_VERSION, Vec::new()).await.map_err(failed)?;
                (row, true, version)
            }
            None => {
                let args = args![option.kind.as_str(), option.parent_id, &option.name_key];
                let row = tx.fetch_one(D::FIND_OPTION, args).await.map_err(failed)?;
                let version = tx.fetch_one("SELECT version FROM catalog_meta", Vec::new()).await.map_err(failed)?;
                (row, false, version)
            }
        };
        D::commit(tx).await.map_err(failed)?;
        Ok(Created { option: option_from_row(&row)?, created, version: version_from_row(&version)? })
    }

    async fn catalog_version(&self) -> Result<u64, Unavailable> {
        let row = one(&self.db, "catalog_version", "SELECT version FROM catalog_meta", Vec::new()).await?;
        version_from_row(&row)
    }

    async fn catalog_id(&self) -> Result<String, Unavailable> {
        let row = one(&self.db, "catalog_id", D::CATALOG_ID, Vec::new()).await?;
        Fields::new(&row, "catalog").text("catalog_id")
    }

    async fn load_templates(&self) -> Result<Option<String>, Unavailable> {
        let sql = "SELECT document FROM catalog_templates WHERE id = 1";
        let row = optional(&self.db, "load_templates", sql, Vec::new()).await?;
        row.as_ref().map(|row| Fields::new(row, "templates").text("document")).transpose()
    }

    async fn save_templates(&self, document: &str) -> Result<u64, Unavailable> {
        let failed = |e: sqlx::Error| unavailable(backend::<D>(), "save_templates", &e);
        let mut tx = self.db.begin().await.map_err(failed)?;
        let mut args = args![document];
        args.extend(D::now());
        tx.execute(D::SAVE_TEMPLATES, args).await.map_err(failed)?;
        // The row lock on catalog_meta orders this change with concurrent option creates.
        let version = tx.fetch_one(BUMP_VERSION, Vec::new()).await.map_err(failed)?;
        D::commit(tx).await.map_err(failed)?;
        version_from_row(&version)
    }
}

/// The catalog version as the port carries it (the migrations' check keeps the stored one non-negative).
fn version_from_row<R: SqlRow>(row: &R) -> Result<u64, Unavailable> {
    let version = Fields::new(row, "catalog").int("version")?;
    u64::try_from(version).map_err(|_| corrupt(R::BACKEND, "catalog", "version"))
}

/// Reads a catalog option from a row selected with [`option_columns!`].
fn option_from_row<R: SqlRow>(row: &R) -> Result<CatalogOption, Unavailable> {
    let f = Fields::new(row, "option");
    Ok(CatalogOption {
        id: f.uuid("id")?,
        kind: f.parse("kind", OptionKind::parse)?,
        parent_id: f.opt_uuid("parent_id")?,
        name: f.text("name")?,
        name_key: f.text("name_key")?,
        search_key: f.text("search_key")?,
        has_engine: f.boolean("has_engine")?,
        created_at: f.time("created_at")?,
    })
}
