//! Why a condition could not be evaluated (below the evaluator's modules, which all use it).

/// Why a condition could not be evaluated: json-logic-js throws there (or, for [`LogicError::Budget`],
/// [`LogicError::TooDeep`] and [`LogicError::Builtin`], the server stops); a condition that fails counts as
/// false.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogicError {
    /// An operator json-logic-js does not know (the checker refuses these; kept for unchecked logic and logic
    /// found in the data).
    #[error("Unrecognized operation {0}")]
    Unrecognized(String),
    /// Where JavaScript throws a `TypeError` (`in` over an object with an `indexOf` key, `*` without
    /// arguments, a property of `null`).
    #[error("TypeError: {0}")]
    TypeError(&'static str),
    /// A property inherited from a built-in prototype (a function in JS).
    #[error("reads the JavaScript built-in {0:?}")]
    Builtin(String),
    /// The step budget is spent.
    #[error("the condition needs more steps than an evaluation may take")]
    Budget,
    /// Logic nested deeper than the evaluator goes.
    #[error("the condition nests too deep")]
    TooDeep,
}
