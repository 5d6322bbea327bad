//! The catalog store port: the options every listing form is built from. Postgres in production, SQLite in
//! the local profile. A monotonic catalog version counts changes, so caches can tell when they missed one.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::Unavailable;

mod types;

pub use types::{
    AuditEntry, BrokenForm, CatalogOption, Created, IdentityReport, Moderated, Moderation, ModerationError, OptionKind,
    OptionName, Resolved,
};

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
    /// `catalog::names::IDENTITY_VERSION`, recomputes every key, merges the options that now share
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
