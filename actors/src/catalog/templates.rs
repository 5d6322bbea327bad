//! Listing-form templates: which fields a listing of a category (and subcategory) has, how they cascade and
//! when they show.
//!
//! - [`document`]: the format operators write (shared blocks, templates, blocks, fields) and the bundled set.
//! - [`check`]: the checks a set passes before it is used or saved.
//! - [`issues`]: the issue type (shared by `check` and `compiled`).
//! - [`logic`]: the condition language (every operator of json-logic-js 2.0.5) — its checker and an
//!   evaluator that answers as json-logic-js does.
//! - [`messages`]: the validation messages in the shipped languages, and a field's own messages.
//! - [`resolve`]: inheritance (category → subcategory override), the default template, shared blocks and the
//!   engine block of engine categories.
//! - [`compiled`]: a resolved form made ready to evaluate, and the cascade runtime (`evaluate`).

pub mod check;
pub mod compiled;
pub mod document;
pub mod issues;
pub mod logic;
pub mod messages;
pub mod resolve;

pub use check::{check, check_locales};
pub use compiled::{CarryOver, Checked, CompiledTemplate, Dropped, Evaluation, OptionCheck, OptionList, ValueIssue};
pub use document::{Block, Field, FieldType, TemplateSet};
pub use issues::TemplateIssue;
pub use resolve::{Resolved, Source, fields_lost, resolve};
