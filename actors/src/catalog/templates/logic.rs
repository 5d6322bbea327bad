//! Template conditions: the JsonLogic language of json-logic-js 2.0.5 (the browser's engine) — every operator
//! it evaluates — with an import checker and an evaluator written to give json-logic-js's answer for every
//! condition and every data, JavaScript's conversions included.
//!
//! Why an evaluator of our own rather than a crate: the house rule takes a crate only if it answers as
//! json-logic-js does, answer for answer, and none does. `datalogic-rs` follows its own reading of the
//! JsonLogic spec, not JavaScript: it answered differently for `null == 0` and `null == false` (true there,
//! false in JS), `"" == null`, `true == "true"` (false in JS: the boolean becomes 1, `"true"` becomes NaN),
//! `["a"] == "a"` (true in JS), `"0" == false`, compared arrays by value where JS compares identity, and its
//! arithmetic, `cat` and `substr` do not coerce as `parseFloat`, `Array.prototype.join` and
//! `String.prototype.substr` do (`{"*": ["3"]}` is the string `"3"` in json-logic-js, `{"+": "12abc"}` is 12).
//! No other Rust crate claims json-logic-js's answers either, and such rules are not settings. So JS's are
//! written out here, from json-logic-js's source
//! (`tests/jsonlogic/node_modules/json-logic-js/logic.js`) and ECMA-262:
//!
//! - [`value`]: JS values (with `undefined`, NaN, `-0`, object identity, UTF-16 strings) and the conversions
//!   (`ToPrimitive`, `ToNumber`, `ToString`, `parseFloat`, `==`, `===`, `<`, property access for `var`);
//! - [`eval`]: `jsonLogic.apply` operator by operator;
//! - [`check`]: what an import refuses, naming the path inside the condition (`visibleIf: … (at
//!   visibleIf/and/1/<)`): operators json-logic-js does not know; wrong numbers of arguments; a `var` (or a
//!   `missing` key) that is not a literal path, whose first part is not a field name, or that reads a JS
//!   built-in (`constructor`, `toString`, …: json-logic-js would hand on a function); more than 32 levels,
//!   1,000 values, or `map`/`filter`/`reduce`/`all`/`none`/`some` nested more than twice.
//!
//! Every evaluation also has a step budget ([`value::STEP_BUDGET`]): past it the condition fails, so no form
//! state can make one expensive. The conformance test `tests/jsonlogic/` runs json-logic-js itself over its
//! published suites and generated conditions over hostile values and compares every answer.

mod check;
mod error;
mod eval;
mod value;

use serde_json::{Map, Value};

pub use check::{MAX_DEPTH, MAX_ITERATION_NESTING, MAX_NODES, OPERATORS};
pub use error::LogicError;
pub use value::STEP_BUDGET;

use value::{Cx, Val};

/// Checks a condition. `report(code, message)` is called for each problem, the message as
/// `{root}: {what} (at {path})`, the path inside the condition under `root` (`visibleIf/and/1/<`); the field
/// names it reads are pushed to `vars`.
pub fn check(logic: &Value, root: &str, vars: &mut Vec<String>, report: &mut dyn FnMut(&'static str, String)) {
    let mut at = |code, path: &str, what: String| report(code, format!("{root}: {what} (at {path})"));
    check::Checker::new(vars, &mut at).check(logic, root);
}

/// An answer in full, for the conformance test.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The value in the exact form (`undefined`, NaN, `±Infinity`, `-0` and strings that are not well formed
    /// as `{"$js": …}`, objects as `{"$object": {…}}`).
    pub exact: Value,
    /// json-logic-js's `truthy` of it.
    pub truthy: bool,
}

/// Evaluates `logic` against any JSON `data` as `jsonLogic.apply` does, with the answer in full.
///
/// # Errors
/// Where json-logic-js would throw (or the budget runs out).
pub fn evaluate(logic: &Value, data: &Value) -> Result<Answer, LogicError> {
    let cx = Cx::new();
    let value = eval::apply(&cx, logic, &Val::from_json(data))?;
    Ok(Answer { exact: value.to_exact(), truthy: value.truthy() })
}

/// Evaluates `logic` against `data` as `jsonLogic.apply` does, the answer as `JSON.stringify` would write it
/// (`undefined`, NaN and the infinities as `null`).
///
/// # Errors
/// Where json-logic-js would throw (or the budget runs out).
pub fn apply(logic: &Value, data: &Value) -> Result<Value, LogicError> {
    let cx = Cx::new();
    eval::apply(&cx, logic, &Val::from_json(data)).map(|v| v.to_json())
}

/// Whether `logic` holds for the form values `data`: json-logic-js's `truthy(apply(logic, data))`; a condition
/// that cannot be evaluated does not hold.
#[must_use]
pub fn holds(logic: &Value, data: &Map<String, Value>) -> bool {
    let cx = Cx::new();
    eval::apply(&cx, logic, &Val::Root(data)).is_ok_and(|v| v.truthy())
}

#[cfg(test)]
mod tests;
