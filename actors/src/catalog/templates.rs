//! Listing-form templates: which fields a listing of a category (and subcategory) has, how they cascade and
//! when they show.
//!
//! - [`document`]: the format operators write (shared blocks, templates, blocks, fields) and the bundled set.
//! - [`check`]: the checks a set passes before it is used or saved.
//! - [`issues`]: the issue type and the JsonLogic subset conditions use (shared by `check` and `compiled`).
//! - [`resolve`]: inheritance (category → subcategory override), the default template, shared blocks and the
//!   engine block of engine categories.
//! - [`compiled`]: a resolved form made ready to evaluate, and the cascade runtime (`evaluate`).

pub mod check;
pub mod compiled;
pub mod document;
pub mod issues;
pub mod resolve;

pub use check::check;
pub use compiled::{CompiledTemplate, Evaluation, OptionCheck, OptionList, ValueIssue};
pub use document::{Block, Field, FieldType, TemplateSet};
pub use issues::TemplateIssue;
pub use resolve::{Resolved, Source, resolve};
