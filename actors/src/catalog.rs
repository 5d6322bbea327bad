//! The listing-form catalog: option kinds and their parents, and how option names are normalised so that
//! "Volvo", " volvo " and "VOLVO" are one option.
//!
//! - [`cache`]: the option cache actor (per-instance cache, invalidation on every instance over the bus).
//! - [`moderation`]: operators' changes (rename, merge, hide, approve, engine flag), the audit record, the
//!   identity upgrade's plan and near matches.
//! - [`names`]: normalisation (NFKC, trimmed, spaces collapsed), the case-insensitive key, the accent- and
//!   case-insensitive search key, and the name rules (not empty, at most 80 characters, no control characters).
//! - [`seed`]: the starter catalog of a European machinery marketplace and the idempotent loader for it.

pub mod cache;
pub mod moderation;
pub mod names;
pub mod seed;
pub mod templates;

pub use crate::ports::catalog::OptionKind;
