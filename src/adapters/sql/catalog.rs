//! `CatalogStore` on either database, written once; [`CatalogDialect`] holds what differs (the unique
//! index's expression for "no parent", how the catalog id reads as text, where the templates' time comes
//! from).

use async_trait::async_trait;
use gantry_actors::catalog::OptionKind;
use gantry_actors::catalog::moderation::{
    AuditEntry, IdentityReport, Moderated, Moderation, ModerationError, identity_plan,
};
use gantry_actors::catalog::names::{IDENTITY_VERSION, identity_key, upgrade_key};
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::catalog::{CatalogOption, CatalogStore, Created, Resolved};
use time::OffsetDateTime;
use uuid::Uuid;

use super::errors::{corrupt, unavailable};
use super::exec::{Exec, SqlDb, all, backend, one, optional};
use super::rows::{Fields, SqlRow};
use super::values::{Value, args, count_to_db};

/// The columns [`option_from_row`] reads (static SQL, see `jobs.rs`).
macro_rules! option_columns {
    () => {
        "id, kind, parent_id, name, name_key, search_key, has_engine, created_at, created_by, hidden, pending, \
         translations"
    };
}
pub(crate) use option_columns;

/// Raises the catalog version by one and returns it (in the caller's transaction).
const BUMP_VERSION: &str = "UPDATE catalog_meta SET version = version + 1 RETURNING version";

/// The option with id `$1`.
const GET_OPTION: &str = concat!("SELECT ", option_columns!(), " FROM catalog_options WHERE id = $1");

/// Where a merged id points.
const ALIAS_TARGET: &str = "SELECT target_id FROM catalog_aliases WHERE old_id = $1";

/// Where a merged name points: top-level options (`$1` kind, `$2` key) and children (`$2` parent, `$3` key).
const ALIAS_BY_TOP_NAME: &str =
    "SELECT target_id FROM catalog_aliases WHERE kind = $1 AND parent_id IS NULL AND name_key = $2";
const ALIAS_BY_CHILD_NAME: &str =
    "SELECT target_id FROM catalog_aliases WHERE kind = $1 AND parent_id = $2 AND name_key = $3";

/// Records that `$1` (of kind `$3` under `$4`, key `$5`) now stands for `$2`.
const INSERT_ALIAS: &str = "INSERT INTO catalog_aliases (old_id, target_id, kind, parent_id, name_key, merged_at) \
     VALUES ($1, $2, $3, $4, $5, $6)";

/// Every alias of `$1` points at `$2` from now on (one look-up always resolves).
const REPOINT_ALIASES: &str = "UPDATE catalog_aliases SET target_id = $2 WHERE target_id = $1";

/// Names merged under `$1` count under `$2` from now on.
const REPARENT_ALIASES: &str = "UPDATE catalog_aliases SET parent_id = $2 WHERE parent_id = $1";

/// Children of `$1`.
const CHILDREN: &str = concat!("SELECT ", option_columns!(), " FROM catalog_options WHERE parent_id = $1");

/// The audit record of a change.
const INSERT_AUDIT: &str = "INSERT INTO catalog_audit (id, at, actor, action, option_id, detail, version) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Locks the catalog's meta row (every moderation change takes it first, so changes apply one at a time)
/// and reads the identity mark.
const LOCK_META: &str =
    "UPDATE catalog_meta SET identity_version = identity_version RETURNING identity_version, version";

/// What the catalog store's SQL says differently per backend.
pub trait CatalogDialect: SqlDb {
    /// Inserts the public option `$1`…`$12` (in `option_columns!` order) unless a public one with the same
    /// (kind, parent, name key) exists, returning the inserted row. The conflict target is the expression list
    /// and predicate of `catalog_options_name_key_idx`, so only a duplicate name is "already there"; a
    /// duplicate id still fails loudly.
    const INSERT_OPTION: &'static str;
    /// Inserts the pending option `$1`…`$12` unless its creator has a pending one with the same (kind, parent,
    /// name key) (`catalog_options_draft_key_idx`), returning the inserted row.
    const INSERT_DRAFT: &'static str;
    /// The public option of kind `$1` under parent `$2` (possibly NULL) with name key `$3`, spelled with the
    /// same expression as the unique index so the look-up uses it.
    const FIND_OPTION: &'static str;
    /// The pending option of kind `$1` under parent `$2` with name key `$3` created by `$4`.
    const FIND_DRAFT: &'static str;
    /// Every pending option of kind `$1` under parent `$2` with name key `$3`, oldest first.
    const FIND_DRAFTS: &'static str;
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
                    " FROM catalog_options WHERE kind = $1 AND parent_id IS NULL AND hidden = $2 \
                      ORDER BY search_key, id"
                );
                all(&self.db, "list_options", sql, args![kind.as_str(), false]).await?
            }
            Some(parent) => {
                let sql = concat!(
                    "SELECT ",
                    option_columns!(),
                    " FROM catalog_options WHERE kind = $1 AND parent_id = $2 AND hidden = $3 \
                      ORDER BY search_key, id"
                );
                all(&self.db, "list_options", sql, args![kind.as_str(), parent, false]).await?
            }
        };
        rows.iter().map(option_from_row).collect()
    }

    async fn get_option(&self, id: Uuid) -> Result<Option<CatalogOption>, Unavailable> {
        let row = optional(&self.db, "get_option", GET_OPTION, args![id]).await?;
        row.as_ref().map(option_from_row).transpose()
    }

    async fn resolve_option(&self, id: Uuid) -> Result<Option<Resolved>, Unavailable> {
        if let Some(option) = self.get_option(id).await? {
            return Ok(Some(Resolved { option, merged_from: None }));
        }
        let Some(alias) = optional(&self.db, "resolve_option", ALIAS_TARGET, args![id]).await? else {
            return Ok(None);
        };
        let target = Fields::new(&alias, "alias").uuid("target_id")?;
        Ok(self.get_option(target).await?.map(|option| Resolved { option, merged_from: Some(id) }))
    }

    async fn moderate(&self, change: &Moderation, actor: &str) -> Result<Moderated, ModerationError> {
        let failed = |e: sqlx::Error| ModerationError::from(unavailable(backend::<D>(), "moderate", &e));
        let mut tx = self.db.begin().await.map_err(failed)?;
        // The meta row first: moderation changes apply one at a time, and the version is raised once.
        let meta = tx.fetch_one(LOCK_META, Vec::new()).await.map_err(failed)?;
        let version = version_from_row(&meta)? + 1;
        tx.execute("UPDATE catalog_meta SET version = $1", args![count_to_db(version)]).await.map_err(failed)?;
        let (option, affected, detail) = apply::<D>(&mut tx, change).await?;
        let audit = AuditEntry {
            id: Uuid::now_v7(),
            at: OffsetDateTime::now_utc(),
            actor: actor.to_owned(),
            action: change.action().to_owned(),
            option_id: change.option_id(),
            detail,
            version,
        };
        insert_audit::<D>(&mut tx, &audit).await.map_err(failed)?;
        D::commit(tx).await.map_err(failed)?;
        Ok(Moderated { option, version, affected, audit })
    }

    async fn recent_options(
        &self,
        created_by: Option<Uuid>,
        since: Option<OffsetDateTime>,
        limit: u32,
    ) -> Result<Vec<CatalogOption>, Unavailable> {
        let sql = concat!(
            "SELECT ",
            option_columns!(),
            " FROM catalog_options WHERE ($1 IS NULL OR created_by = $1) AND ($2 IS NULL OR created_at >= $2) \
              ORDER BY created_at DESC, id DESC LIMIT $3"
        );
        let rows = all(&self.db, "recent_options", sql, args![created_by, since, i64::from(limit)]).await?;
        rows.iter().map(option_from_row).collect()
    }

    async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, Unavailable> {
        let sql = "SELECT id, at, actor, action, option_id, detail, version FROM catalog_audit \
                   ORDER BY at DESC, id DESC LIMIT $1";
        let rows = all(&self.db, "audit_log", sql, args![i64::from(limit)]).await?;
        rows.iter()
            .map(|row| {
                let f = Fields::new(row, "audit");
                Ok(AuditEntry {
                    id: f.uuid("id")?,
                    at: f.time("at")?,
                    actor: f.text("actor")?,
                    action: f.text("action")?,
                    option_id: f.uuid("option_id")?,
                    detail: serde_json::from_str(&f.text("detail")?)
                        .map_err(|_| corrupt(backend::<D>(), "audit", "detail"))?,
                    version: f.count("version")?,
                })
            })
            .collect()
    }

    async fn upgrade_identity(&self) -> Result<Option<IdentityReport>, Unavailable> {
        let failed = |e: sqlx::Error| unavailable(backend::<D>(), "upgrade_identity", &e);
        let mut tx = self.db.begin().await.map_err(failed)?;
        let meta = tx.fetch_one(LOCK_META, Vec::new()).await.map_err(failed)?;
        if Fields::new(&meta, "catalog").int("identity_version")? >= IDENTITY_VERSION {
            return Ok(None);
        }
        let sql = concat!("SELECT ", option_columns!(), " FROM catalog_options");
        let options = tx.fetch_all(sql, Vec::new()).await.map_err(failed)?;
        let options = options.iter().map(option_from_row).collect::<Result<Vec<_>, _>>()?;
        let plan = identity_plan(&options);
        let mut version = version_from_row(&meta)?;
        if !plan.merges.is_empty() || !plan.rekeys.is_empty() {
            version += 1;
            tx.execute("UPDATE catalog_meta SET version = $1", args![count_to_db(version)]).await.map_err(failed)?;
        }
        let by_id: std::collections::HashMap<Uuid, &CatalogOption> = options.iter().map(|o| (o.id, o)).collect();
        for (from, into) in &plan.merges {
            let from = by_id[from];
            if from.kind.child_kind().is_some() {
                let sql = "UPDATE catalog_options SET parent_id = $2 WHERE parent_id = $1";
                tx.execute(sql, args![from.id, *into]).await.map_err(failed)?;
                tx.execute(REPARENT_ALIASES, args![from.id, *into]).await.map_err(failed)?;
            }
            merge_leaf::<D>(&mut tx, from, *into).await.map_err(failed)?;
            let audit = AuditEntry {
                id: Uuid::now_v7(),
                at: OffsetDateTime::now_utc(),
                actor: "identity_upgrade".into(),
                action: "identity_merge".into(),
                option_id: from.id,
                detail: serde_json::json!({"name": from.name, "into": into}),
                version,
            };
            insert_audit::<D>(&mut tx, &audit).await.map_err(failed)?;
        }
        // Two steps, so no intermediate state collides on the unique index: first a key no name has (`~` is
        // never in a key made of letters and digits), then the new one.
        let rekey = "UPDATE catalog_options SET name_key = $2 WHERE id = $1";
        for (id, _) in &plan.rekeys {
            tx.execute(rekey, args![*id, format!("~{id}")]).await.map_err(failed)?;
        }
        for (id, key) in &plan.rekeys {
            tx.execute(rekey, args![*id, key]).await.map_err(failed)?;
        }
        // Aliases keep only the key of the name they stood for: bring it to the current version
        // (`names::upgrade_key`), so a merged look-alike's name keeps resolving.
        let aliases = tx.fetch_all("SELECT old_id, name_key FROM catalog_aliases", Vec::new()).await.map_err(failed)?;
        for row in &aliases {
            let f = Fields::new(row, "alias");
            let (old_id, stored) = (f.uuid("old_id")?, f.text("name_key")?);
            let key = upgrade_key(&stored);
            if key != stored {
                let sql = "UPDATE catalog_aliases SET name_key = $2 WHERE old_id = $1";
                tx.execute(sql, args![old_id, key]).await.map_err(failed)?;
            }
        }
        tx.execute("UPDATE catalog_meta SET identity_version = $1", args![IDENTITY_VERSION]).await.map_err(failed)?;
        D::commit(tx).await.map_err(failed)?;
        Ok(Some(IdentityReport {
            merged: plan.merges.iter().map(|(from, into)| (*from, *into)).collect(),
            rekeyed: plan.rekeys.len(),
            version,
        }))
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
        // A name merged into another option gives that option.
        let alias = match option.parent_id {
            None => tx.fetch_optional(ALIAS_BY_TOP_NAME, args![option.kind.as_str(), &option.name_key]).await,
            Some(parent) => {
                tx.fetch_optional(ALIAS_BY_CHILD_NAME, args![option.kind.as_str(), parent, &option.name_key]).await
            }
        }
        .map_err(failed)?;
        if let Some(alias) = alias {
            let target = Fields::new(&alias, "alias").uuid("target_id")?;
            let row = tx.fetch_one(GET_OPTION, args![target]).await.map_err(failed)?;
            let target = option_from_row(&row)?;
            // Someone else's pending option is theirs alone, even when an operator merged this name into it.
            if !target.pending || target.created_by == option.created_by {
                let version = tx.fetch_one("SELECT version FROM catalog_meta", Vec::new()).await.map_err(failed)?;
                D::commit(tx).await.map_err(failed)?;
                return Ok(Created { option: target, created: false, version: version_from_row(&version)? });
            }
        }
        // A name that is another option's name in some language is that option (`Deutschland` is Germany).
        if CatalogOption::translatable(option.kind)
            && let Some(twin) = translation_twin::<D>(&mut tx, option.kind, option.parent_id, &option.name_key, None)
                .await
                .map_err(failed)?
        {
            let version = tx.fetch_one("SELECT version FROM catalog_meta", Vec::new()).await.map_err(failed)?;
            D::commit(tx).await.map_err(failed)?;
            return Ok(Created { option: twin, created: false, version: version_from_row(&version)? });
        }
        let name = args![option.kind.as_str(), option.parent_id, &option.name_key];
        if option.pending {
            // A new account's option: the public one of this name if there is one, else its own draft.
            if let Some(row) = tx.fetch_optional(D::FIND_OPTION, name).await.map_err(failed)? {
                let version = tx.fetch_one("SELECT version FROM catalog_meta", Vec::new()).await.map_err(failed)?;
                D::commit(tx).await.map_err(failed)?;
                return Ok(Created {
                    option: option_from_row(&row)?,
                    created: false,
                    version: version_from_row(&version)?,
                });
            }
        }
        let (insert, find) = if option.pending {
            let find = args![option.kind.as_str(), option.parent_id, &option.name_key, option.created_by];
            (D::INSERT_DRAFT, (D::FIND_DRAFT, find))
        } else {
            (D::INSERT_OPTION, (D::FIND_OPTION, args![option.kind.as_str(), option.parent_id, &option.name_key]))
        };
        let args = args![
            option.id,
            option.kind.as_str(),
            option.parent_id,
            &option.name,
            &option.name_key,
            &option.search_key,
            option.has_engine,
            option.created_at,
            option.created_by,
            option.hidden,
            option.pending,
            translations_text(&option.translations),
        ];
        let inserted = tx.fetch_optional(insert, args).await.map_err(failed)?;
        let (row, created, version) = match inserted {
            Some(row) => {
                let version = tx.fetch_one(BUMP_VERSION, Vec::new()).await.map_err(failed)?;
                (row, true, version)
            }
            None => {
                let row = tx.fetch_one(find.0, find.1).await.map_err(failed)?;
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
        created_by: f.opt_uuid("created_by")?,
        hidden: f.boolean("hidden")?,
        pending: f.boolean("pending")?,
        translations: serde_json::from_str(&f.text("translations")?)
            .map_err(|_| corrupt(R::BACKEND, "option", "translations"))?,
    })
}

/// The stored form of an option's translations (a JSON object; `{}` for none).
fn translations_text(translations: &std::collections::BTreeMap<String, String>) -> String {
    serde_json::to_string(translations).expect("a map of strings serialises")
}

/// The public option of `kind` under `parent`, other than `except`, one of whose translations has the identity
/// `key` (`Deutschland` is Germany): names are one identity in every language. Only options with translations
/// are read, a few per list (moderators and the seed write them).
async fn translation_twin<D: CatalogDialect>(
    tx: &mut D::Tx,
    kind: OptionKind,
    parent: Option<Uuid>,
    key: &str,
    except: Option<Uuid>,
) -> Result<Option<CatalogOption>, sqlx::Error> {
    let rows = match parent {
        None => {
            let sql = concat!(
                "SELECT ",
                option_columns!(),
                " FROM catalog_options WHERE kind = $1 AND parent_id IS NULL AND pending = $2 \
                  AND translations <> '{}'"
            );
            tx.fetch_all(sql, args![kind.as_str(), false]).await?
        }
        Some(parent) => {
            let sql = concat!(
                "SELECT ",
                option_columns!(),
                " FROM catalog_options WHERE kind = $1 AND parent_id = $2 AND pending = $3 \
                  AND translations <> '{}'"
            );
            tx.fetch_all(sql, args![kind.as_str(), parent, false]).await?
        }
    };
    for row in &rows {
        let Ok(option) = option_from_row(row) else { continue };
        if Some(option.id) != except && option.translations.values().any(|name| identity_key(name) == key) {
            return Ok(Some(option));
        }
    }
    Ok(None)
}

/// The option `id` inside `tx`.
async fn get_in<D: CatalogDialect>(tx: &mut D::Tx, id: Uuid) -> Result<Option<CatalogOption>, ModerationError> {
    let row = tx
        .fetch_optional(GET_OPTION, args![id])
        .await
        .map_err(|e| ModerationError::from(unavailable(backend::<D>(), "moderate", &e)))?;
    Ok(row.as_ref().map(option_from_row).transpose()?)
}

/// The lists (kind, parent) a change touched.
type Lists = Vec<(OptionKind, Option<Uuid>)>;

/// Applies `change` inside `tx`: the option after it, the lists it changed, and the audit detail.
async fn apply<D: CatalogDialect>(
    tx: &mut D::Tx,
    change: &Moderation,
) -> Result<(CatalogOption, Lists, serde_json::Value), ModerationError> {
    let failed = |e: sqlx::Error| ModerationError::from(unavailable(backend::<D>(), "moderate", &e));
    if let Moderation::Create { option } = change {
        return create_in::<D>(tx, option).await;
    }
    let mut option = get_in::<D>(tx, change.option_id()).await?.ok_or(ModerationError::NotFound)?;
    let list = (option.kind, option.parent_id);
    match change {
        Moderation::Rename { name, .. } => {
            let renamed = CatalogOption { name_key: name.key.clone(), ..option.clone() };
            if let Some(existing) = twin_of::<D>(tx, option.kind, option.parent_id, &renamed).await?
                && existing.id != option.id
            {
                return Err(ModerationError::NameTaken { existing: existing.id });
            }
            if let Some(twin) = translation_twin::<D>(tx, option.kind, option.parent_id, &name.key, Some(option.id))
                .await
                .map_err(failed)?
            {
                return Err(ModerationError::NameTaken { existing: twin.id });
            }
            let sql = "UPDATE catalog_options SET name = $2, name_key = $3, search_key = $4 WHERE id = $1";
            tx.execute(sql, args![option.id, &name.display, &name.key, &name.search]).await.map_err(failed)?;
            let detail = serde_json::json!({"from": option.name, "to": name.display});
            option.name.clone_from(&name.display);
            option.name_key.clone_from(&name.key);
            option.search_key.clone_from(&name.search);
            Ok((option, vec![list], detail))
        }
        Moderation::Merge { into, .. } => {
            if *into == option.id {
                return Err(ModerationError::SameOption);
            }
            let target = get_in::<D>(tx, *into).await?.ok_or(ModerationError::NotFound)?;
            if target.kind != option.kind {
                return Err(ModerationError::KindMismatch);
            }
            let affected = merge_into::<D>(tx, &option, &target).await?;
            let detail = serde_json::json!({"name": option.name, "into": target.id, "into_name": target.name});
            Ok((target, affected, detail))
        }
        Moderation::SetHidden { hidden, .. } => {
            let sql = "UPDATE catalog_options SET hidden = $2 WHERE id = $1";
            tx.execute(sql, args![option.id, *hidden]).await.map_err(failed)?;
            let detail = serde_json::json!({"hidden": {"from": option.hidden, "to": hidden}});
            option.hidden = *hidden;
            Ok((option, vec![list], detail))
        }
        Moderation::Approve { .. } => {
            let pending = serde_json::json!({"from": option.pending, "to": false});
            if !option.pending {
                return Ok((option, vec![list], serde_json::json!({"pending": pending})));
            }
            // The name went public meanwhile (an established user or an operator created it): the draft joins
            // that option, as its other drafts will.
            let name = args![option.kind.as_str(), option.parent_id, &option.name_key];
            if let Some(row) = tx.fetch_optional(D::FIND_OPTION, name).await.map_err(failed)? {
                let public = option_from_row(&row)?;
                let affected = merge_into::<D>(tx, &option, &public).await?;
                let detail = serde_json::json!({"pending": pending, "merged_into": public.id});
                return Ok((public, affected, detail));
            }
            let sql = "UPDATE catalog_options SET pending = $2 WHERE id = $1";
            tx.execute(sql, args![option.id, false]).await.map_err(failed)?;
            option.pending = false;
            let (merged, mut affected) = absorb_drafts::<D>(tx, &option).await?;
            affected.push(list);
            Ok((option, affected, serde_json::json!({"pending": pending, "merged": merged})))
        }
        Moderation::SetEngine { has_engine, overrides, .. } => {
            if option.kind != OptionKind::Category {
                return Err(ModerationError::NotCategory);
            }
            let sql = "UPDATE catalog_options SET has_engine = $2 WHERE id = $1";
            tx.execute(sql, args![option.id, *has_engine]).await.map_err(failed)?;
            let mut detail = serde_json::json!({"has_engine": {"from": option.has_engine, "to": has_engine}});
            if !overrides.is_empty() {
                // Applied with `force` over the forms it takes fields from: the record says which.
                detail["forced"] = serde_json::json!(true);
                detail["broken_forms"] = serde_json::json!(overrides);
            }
            option.has_engine = *has_engine;
            Ok((option, vec![list], detail))
        }
        Moderation::Translate { locale, name, .. } => {
            if !CatalogOption::translatable(option.kind) {
                return Err(ModerationError::NotTranslatable);
            }
            if let Some(name) = name {
                // One identity in every language: the name must not be another option's, nor a translation of one.
                let twin = args![option.kind.as_str(), option.parent_id, &name.key];
                if let Some(row) = tx.fetch_optional(D::FIND_OPTION, twin).await.map_err(failed)? {
                    let existing = option_from_row(&row)?;
                    if existing.id != option.id {
                        return Err(ModerationError::NameTaken { existing: existing.id });
                    }
                }
                if let Some(twin) = translation_twin::<D>(tx, option.kind, option.parent_id, &name.key, Some(option.id))
                    .await
                    .map_err(failed)?
                {
                    return Err(ModerationError::NameTaken { existing: twin.id });
                }
            }
            let from = option.translations.get(locale).cloned();
            match name {
                Some(name) => option.translations.insert(locale.clone(), name.display.clone()),
                None => option.translations.remove(locale),
            };
            let sql = "UPDATE catalog_options SET translations = $2 WHERE id = $1";
            tx.execute(sql, args![option.id, translations_text(&option.translations)]).await.map_err(failed)?;
            let detail = serde_json::json!({
                "locale": locale, "from": from, "to": name.as_ref().map(|n| n.display.clone()),
            });
            Ok((option, vec![list], detail))
        }
        Moderation::Create { option } => create_in::<D>(tx, option).await,
    }
}

/// An operator's create inside `tx`: the parent checked, the name refused when it is taken (or was merged into
/// an option), the option inserted public, and the other users' drafts of that name merged into it.
async fn create_in<D: CatalogDialect>(
    tx: &mut D::Tx,
    option: &CatalogOption,
) -> Result<(CatalogOption, Lists, serde_json::Value), ModerationError> {
    let failed = |e: sqlx::Error| ModerationError::from(unavailable(backend::<D>(), "moderate", &e));
    match (option.kind.parent_kind(), option.parent_id) {
        (None, None) => {}
        (Some(kind), Some(parent)) => match get_in::<D>(tx, parent).await? {
            Some(p) if p.kind == kind && !p.hidden && !p.pending => {}
            _ => return Err(ModerationError::UnknownParent),
        },
        _ => return Err(ModerationError::UnknownParent),
    }
    let alias = match option.parent_id {
        None => tx.fetch_optional(ALIAS_BY_TOP_NAME, args![option.kind.as_str(), &option.name_key]).await,
        Some(parent) => {
            tx.fetch_optional(ALIAS_BY_CHILD_NAME, args![option.kind.as_str(), parent, &option.name_key]).await
        }
    }
    .map_err(failed)?;
    if let Some(alias) = alias {
        return Err(ModerationError::NameTaken { existing: Fields::new(&alias, "alias").uuid("target_id")? });
    }
    if let Some(twin) =
        translation_twin::<D>(tx, option.kind, option.parent_id, &option.name_key, None).await.map_err(failed)?
    {
        return Err(ModerationError::NameTaken { existing: twin.id });
    }
    let public = CatalogOption { pending: false, hidden: false, ..option.clone() };
    let args = args![
        public.id,
        public.kind.as_str(),
        public.parent_id,
        &public.name,
        &public.name_key,
        &public.search_key,
        public.has_engine,
        public.created_at,
        public.created_by,
        public.hidden,
        public.pending,
        translations_text(&public.translations),
    ];
    if tx.fetch_optional(D::INSERT_OPTION, args).await.map_err(failed)?.is_none() {
        let name = args![public.kind.as_str(), public.parent_id, &public.name_key];
        let row = tx.fetch_one(D::FIND_OPTION, name).await.map_err(failed)?;
        return Err(ModerationError::NameTaken { existing: Fields::new(&row, "option").uuid("id")? });
    }
    let (merged, mut affected) = absorb_drafts::<D>(tx, &public).await?;
    affected.push((public.kind, public.parent_id));
    let detail = serde_json::json!({
        "kind": public.kind.as_str(), "name": public.name, "parent_id": public.parent_id,
        "has_engine": public.has_engine, "merged": merged,
    });
    Ok((public, affected, detail))
}

/// Merges `option` into `target` (same kind) inside `tx`: its children move under `target` (a child whose
/// name `target` already has is merged into that one), then `option` becomes an alias. The lists touched.
async fn merge_into<D: CatalogDialect>(
    tx: &mut D::Tx,
    option: &CatalogOption,
    target: &CatalogOption,
) -> Result<Lists, ModerationError> {
    let failed = |e: sqlx::Error| ModerationError::from(unavailable(backend::<D>(), "moderate", &e));
    let mut affected = vec![(option.kind, option.parent_id), (target.kind, target.parent_id)];
    if let Some(child_kind) = option.kind.child_kind() {
        let children = tx.fetch_all(CHILDREN, args![option.id]).await.map_err(failed)?;
        for child in children.iter().map(option_from_row) {
            let child = child?;
            match twin_of::<D>(tx, child_kind, Some(target.id), &child).await? {
                Some(twin) => merge_leaf::<D>(tx, &child, twin.id).await.map_err(failed)?,
                None => {
                    let sql = "UPDATE catalog_options SET parent_id = $2 WHERE id = $1";
                    tx.execute(sql, args![child.id, target.id]).await.map_err(failed)?;
                }
            }
        }
        tx.execute(REPARENT_ALIASES, args![option.id, target.id]).await.map_err(failed)?;
        affected.extend([(child_kind, Some(option.id)), (child_kind, Some(target.id))]);
    }
    merge_leaf::<D>(tx, option, target.id).await.map_err(failed)?;
    Ok(affected)
}

/// The option under `parent` that `option`'s name would collide with there: the public one of its name, or
/// for a pending option its creator's other draft of that name.
async fn twin_of<D: CatalogDialect>(
    tx: &mut D::Tx,
    kind: OptionKind,
    parent: Option<Uuid>,
    option: &CatalogOption,
) -> Result<Option<CatalogOption>, ModerationError> {
    let failed = |e: sqlx::Error| ModerationError::from(unavailable(backend::<D>(), "moderate", &e));
    let name = args![kind.as_str(), parent, &option.name_key];
    let mut row = tx.fetch_optional(D::FIND_OPTION, name).await.map_err(failed)?;
    if row.is_none() && option.pending {
        let draft = args![kind.as_str(), parent, &option.name_key, option.created_by];
        row = tx.fetch_optional(D::FIND_DRAFT, draft).await.map_err(failed)?;
    }
    Ok(row.as_ref().map(option_from_row).transpose()?)
}

/// Merges every pending option with `public`'s identity under its parent into `public` (one name, one option
/// once it is public): the ids merged and the lists touched.
async fn absorb_drafts<D: CatalogDialect>(
    tx: &mut D::Tx,
    public: &CatalogOption,
) -> Result<(Vec<Uuid>, Lists), ModerationError> {
    let failed = |e: sqlx::Error| ModerationError::from(unavailable(backend::<D>(), "moderate", &e));
    let name = args![public.kind.as_str(), public.parent_id, &public.name_key];
    let drafts = tx.fetch_all(D::FIND_DRAFTS, name).await.map_err(failed)?;
    let (mut merged, mut affected) = (Vec::new(), Vec::new());
    for draft in drafts.iter().map(option_from_row) {
        let draft = draft?;
        if draft.id != public.id {
            affected.extend(merge_into::<D>(tx, &draft, public).await?);
            merged.push(draft.id);
        }
    }
    Ok((merged, affected))
}

/// Makes `from` an alias of `into` (id and name), points every alias of `from` at `into`, and deletes
/// `from` (whose children, if any, the caller moved).
async fn merge_leaf<D: CatalogDialect>(tx: &mut D::Tx, from: &CatalogOption, into: Uuid) -> Result<(), sqlx::Error> {
    let args = args![from.id, into, from.kind.as_str(), from.parent_id, &from.name_key, OffsetDateTime::now_utc()];
    tx.execute(INSERT_ALIAS, args).await?;
    tx.execute(REPOINT_ALIASES, args![from.id, into]).await?;
    tx.execute("DELETE FROM catalog_options WHERE id = $1", args![from.id]).await?;
    Ok(())
}

/// Writes `audit` inside `tx`.
async fn insert_audit<D: CatalogDialect>(tx: &mut D::Tx, audit: &AuditEntry) -> Result<u64, sqlx::Error> {
    let args = args![
        audit.id,
        audit.at,
        &audit.actor,
        &audit.action,
        audit.option_id,
        audit.detail.to_string(),
        count_to_db(audit.version),
    ];
    tx.execute(INSERT_AUDIT, args).await
}
