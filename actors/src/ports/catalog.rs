//! The catalog store port: the options every listing form is built from. Postgres in production, SQLite in
//! the local profile. A monotonic catalog version counts changes, so caches can tell when they missed one.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::Unavailable;
use crate::catalog::OptionKind;
use crate::catalog::moderation::{AuditEntry, IdentityReport, Moderated, Moderation, ModerationError};

/// One option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogOption {
    /// Id (UUID v7).
    pub id: Uuid,
    /// Kind.
    pub kind: OptionKind,
    /// Parent option (subcategory → category, model → brand, city → country).
    pub parent_id: Option<Uuid>,
    /// Display name (normalised, see `catalog::names`).
    pub name: String,
    /// Identity key (lower-cased); unique per (kind, parent).
    pub name_key: String,
    /// Search key (lower-cased, accents removed).
    pub search_key: String,
    /// Categories only: whether listings of it have an engine.
    pub has_engine: bool,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The account that created it (`None`: seeded, or created before accounts were recorded).
    #[serde(default)]
    pub created_by: Option<Uuid>,
    /// Hidden by an operator: not listed, not accepted in new forms; its id still resolves.
    #[serde(default)]
    pub hidden: bool,
    /// Created by a new account and not yet approved: listed only to its creator.
    #[serde(default)]
    pub pending: bool,
}

/// An option an id resolved to, and the merged id it was reached through, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The option the id stands for now.
    pub option: CatalogOption,
    /// The id asked for, when it was merged into `option`.
    pub merged_from: Option<Uuid>,
}

/// What `create_option` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The option as stored (the existing one when it was already there).
    pub option: CatalogOption,
    /// Whether this call created it.
    pub created: bool,
    /// The catalog version after the call (raised by one only when created).
    pub version: u64,
}

/// The catalog store capability.
#[async_trait]
pub trait CatalogStore: Send + Sync + 'static {
    /// Every visible (not hidden) option of `kind` under `parent` (`None`: kinds without parents), pending
    /// ones included, ordered by search key.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn list_options(&self, kind: OptionKind, parent: Option<Uuid>) -> Result<Vec<CatalogOption>, Unavailable>;

    /// One option.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn get_option(&self, id: Uuid) -> Result<Option<CatalogOption>, Unavailable>;

    /// Inserts `option` unless an option with the same (kind, parent, name key) exists, or the name was merged
    /// into another option (that one is returned) — atomically, so concurrent creates of one name yield one
    /// row — and raises the catalog version when it inserted.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn create_option(&self, option: &CatalogOption) -> Result<Created, Unavailable>;

    /// The option `id` stands for: itself, or the option it was merged into (hidden ones included).
    ///
    /// # Errors
    /// The database is unreachable.
    async fn resolve_option(&self, id: Uuid) -> Result<Option<Resolved>, Unavailable>;

    /// Applies one moderation change, records it in the audit table (who, what, when) and raises the catalog
    /// version, all in one transaction.
    ///
    /// # Errors
    /// [`ModerationError`]: no such option, a conflict the change would cause, or the database is unreachable.
    async fn moderate(&self, change: &Moderation, actor: &str) -> Result<Moderated, ModerationError>;

    /// The most recently created options (hidden and pending included), newest first, optionally only
    /// `created_by` one account and only since an instant, at most `limit`.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn recent_options(
        &self,
        created_by: Option<Uuid>,
        since: Option<OffsetDateTime>,
        limit: u32,
    ) -> Result<Vec<CatalogOption>, Unavailable>;

    /// The newest moderation records first, at most `limit`.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, Unavailable>;

    /// The one-time identity upgrade: when the stored keys are older than
    /// [`crate::catalog::names::IDENTITY_VERSION`], recomputes every key, merges the options that now share
    /// one (the oldest survives; the others become aliases) and records the new mark — in one transaction,
    /// so concurrent starts do it once. `None` when the keys were already current.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn upgrade_identity(&self) -> Result<Option<IdentityReport>, Unavailable>;

    /// The current catalog version (0 for an empty catalog).
    ///
    /// # Errors
    /// The database is unreachable.
    async fn catalog_version(&self) -> Result<u64, Unavailable>;

    /// The catalog's random identity (fixed per database): namespaces what instances share in Redis.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn catalog_id(&self) -> Result<String, Unavailable>;

    /// The stored template set (a JSON document, see `catalog::templates::document`), `None` when operators
    /// never stored one.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn load_templates(&self) -> Result<Option<String>, Unavailable>;

    /// Replaces the stored template set and raises the catalog version in the same transaction; returns the
    /// new version. The caller has checked the document.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn save_templates(&self, document: &str) -> Result<u64, Unavailable>;
}
