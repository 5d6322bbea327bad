//! Why a call to the catalog service failed: the store, an unknown parent, category or subcategory, a
//! template set or form values that fail their checks, the per-user create limit, or the actor itself.

use std::time::Duration;

use super::templates::{TemplateIssue, ValueIssue};
use crate::handle::CallError;
use crate::ports::Unavailable;

/// Errors of catalog operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    /// The store is unreachable.
    #[error("catalog unavailable: {0}")]
    Unavailable(String),
    /// The list's parent does not exist (or is of another kind).
    #[error("no such parent")]
    UnknownParent,
    /// No category with this id.
    #[error("no such category")]
    UnknownCategory,
    /// No subcategory with this id under the category.
    #[error("no such subcategory in this category")]
    UnknownSubcategory,
    /// Neither the category nor the default has a template.
    #[error("no template for this category")]
    NoTemplate,
    /// A template set (imported, or resolved for a category) failed its checks.
    #[error("the template set failed its checks ({} problems)", .0.len())]
    InvalidTemplates(Vec<TemplateIssue>),
    /// The values of a submitted form failed their checks (every problem, per field).
    #[error("the form's values failed their checks ({} problems)", .0.len())]
    InvalidValues(Vec<ValueIssue>),
    /// The user created too many options this hour.
    #[error("too many options created; retry in {}s", .retry_after.as_secs())]
    TooManyCreates {
        /// When the user's window closes.
        retry_after: Duration,
    },
    /// The actor could not be reached.
    #[error(transparent)]
    Call(#[from] CallError),
}

impl From<Unavailable> for CacheError {
    fn from(e: Unavailable) -> Self {
        Self::Unavailable(e.0)
    }
}
