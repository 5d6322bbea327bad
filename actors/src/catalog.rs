//! The listing-form catalog: option kinds and their parents, and how option names are normalised so that
//! "Volvo", " volvo " and "VOLVO" are one option.
//!
//! - [`handle`]: [`handle::CatalogHandle`], the catalog service as the gateway holds it (lists, creates,
//!   moderation, forms, template imports); `handle/form_values.rs` checks a form's values against the lists.
//! - [`actor`]: the single writer of this instance's caches and of its idea of the catalog version
//!   (invalidation on every instance over the bus); its template work in `actor/templates.rs`.
//! - [`lists`]: the option-list cache map, a cached list, who sees a pending option, one list's load.
//! - `shared_tier`: the option lists every instance shares (Redis), keyed by catalog, version, kind, parent.
//! - [`forms`]: the template set in use, its degraded templates, and the resolved forms cache.
//! - `version`: how the known catalog version moves and when the caches are dropped.
//! - [`error`]: why a catalog call failed.
//! - [`locale`]: locale tags, texts in several languages, the fallback chain and the negotiation of a
//!   request's locale.
//! - [`moderation`]: operators' changes (rename, merge, hide, approve, engine flag) and what they report, the
//!   identity upgrade's plan and near matches.
//! - [`names`]: normalisation (NFKC, trimmed, spaces collapsed), the case-insensitive key, the accent- and
//!   case-insensitive search key, and the name rules (not empty, at most 80 characters, no control characters).
//! - [`seed`]: the starter catalog of a European machinery marketplace and the idempotent loader for it.

pub mod actor;
pub mod error;
pub mod forms;
pub mod handle;
pub mod lists;
pub mod locale;
pub mod moderation;
pub mod names;
pub mod seed;
mod shared_tier;
pub mod templates;
mod version;

pub use crate::ports::catalog::OptionKind;
