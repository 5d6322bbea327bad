//! The JsonLogic subset of template conditions: its checker and its evaluator, written to answer exactly as
//! json-logic-js 2.0.5 (the browser's engine) does for every condition the checker accepts and every JSON form
//! state.
//!
//! Why not `datalogic-rs`: it follows its own reading of the JsonLogic spec, not JavaScript's abstract
//! equality and relational comparison, which json-logic-js inherits (`a == b`, `a < b` in JS). It answered
//! differently for `null == 0` and `null == false` (true there, false in JS), `"" == null`, `true == "true"`
//! (false in JS: the boolean becomes 1, `"true"` becomes NaN), `["a"] == "a"` (true in JS: the array becomes
//! the string `"a"`), `"abc" != 10`, `"0" == false`, `true == "1"`, and compared arrays by value where JS
//! compares object identity. Those rules cannot be configured there, so the subset is evaluated here: eleven
//! operators over JSON values, with JS's conversions (`ToPrimitive`, `ToNumber`, `ToString`) written out. The
//! conformance test `tests/jsonlogic/` runs json-logic-js itself over a generated table and compares.
//!
//! What the checker refuses, naming the path inside the condition (`visibleIf: … (at visibleIf/and/1/==)`):
//! - operators outside `and`, `or`, `!`, `!!`, `==`, `!=`, `in`, `<`, `<=`, `>`, `>=`, `var`;
//! - wrong arity: `!`, `!!` take one argument; `==`, `!=`, `in`, `>`, `>=` two; `<`, `<=` two or three (the
//!   "between" form); `and`, `or` at least one;
//! - a `var` that is not a field name or `[name, default]` with a scalar default (no paths, no operations);
//!   the name `constructor` too (json-logic-js reads it from `Object.prototype` when the field is absent);
//! - objects with zero or several keys (json-logic-js would treat them as literal objects).

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::issues::valid_name;

/// The JsonLogic operators conditions may use.
pub const OPERATORS: [&str; 12] = ["and", "or", "!", "!!", "==", "!=", "in", "<", "<=", ">", ">=", "var"];

/// Checks a condition against the subset. `report(code, message)` is called for each problem, the message
/// as `{root}: {what} (at {path})`, the path inside the condition under `root` (`visibleIf/and/1/<`); the
/// field names it reads are pushed to `vars`.
pub fn check(logic: &Value, root: &str, vars: &mut Vec<String>, report: &mut dyn FnMut(&'static str, String)) {
    check_at(logic, root, vars, &mut |code, path, what| report(code, format!("{root}: {what} (at {path})")));
}

/// `report(code, path, what)`.
type Report<'r> = dyn FnMut(&'static str, &str, String) + 'r;

fn check_at(logic: &Value, path: &str, vars: &mut Vec<String>, report: &mut Report<'_>) {
    match logic {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_at(item, &format!("{path}/{i}"), vars, report);
            }
        }
        Value::Object(map) => {
            let mut entries = map.iter();
            let (Some((op, args)), None) = (entries.next(), entries.next()) else {
                report("invalid_condition", path, "an operation is an object with exactly one key".into());
                return;
            };
            let here = format!("{path}/{op}");
            if !OPERATORS.contains(&op.as_str()) {
                report(
                    "unsupported_operator",
                    &here,
                    format!("operator {op:?} is not in the supported subset ({})", OPERATORS.join(", ")),
                );
                return;
            }
            if op == "var" {
                check_var(args, &here, vars, report);
                return;
            }
            let list: &[Value] = match args {
                Value::Array(items) => items,
                single => std::slice::from_ref(single),
            };
            let (min, max, expected) = match op.as_str() {
                "!" | "!!" => (1, 1, "one argument"),
                "<" | "<=" => (2, 3, "two or three arguments"),
                "and" | "or" => (1, usize::MAX, "at least one argument"),
                _ => (2, 2, "two arguments"),
            };
            if !(min..=max).contains(&list.len()) {
                report("invalid_arity", &here, format!("{op} takes {expected}, not {}", list.len()));
            }
            match args {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        check_at(item, &format!("{here}/{i}"), vars, report);
                    }
                }
                single => check_at(single, &here, vars, report),
            }
        }
        _ => {}
    }
}

fn check_var(args: &Value, here: &str, vars: &mut Vec<String>, report: &mut Report<'_>) {
    let name = match args {
        Value::String(s) => Some(s.as_str()),
        Value::Array(a) if (1..=2).contains(&a.len()) && a.get(1).is_none_or(is_scalar) => a[0].as_str(),
        _ => None,
    };
    match name {
        Some("constructor") => report(
            "invalid_var",
            here,
            "var \"constructor\" reads Object.prototype in json-logic-js; rename the field".into(),
        ),
        Some(n) if valid_name(n) => vars.push(n.to_owned()),
        Some(n) => report("invalid_var", here, format!("var {n:?} is not a field name (no paths)")),
        None => report("invalid_var", here, "var takes a field name, or [name, default] with a scalar default".into()),
    }
}

fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Array(_) | Value::Object(_))
}

/// Why a condition could not be evaluated (json-logic-js throws there; a condition that throws counts as false).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogicError {
    /// An operator outside the subset (the checker refuses these; kept for conditions that were not checked).
    #[error("unsupported operator {0:?}")]
    Unsupported(String),
    /// `in` over an object whose `indexOf` key is not a function: json-logic-js throws a `TypeError`.
    #[error("b.indexOf is not a function")]
    NotAFunction,
}

/// Evaluates `logic` against `data` as json-logic-js's `jsonLogic.apply` does, returning the result as JSON.
///
/// # Errors
/// Where json-logic-js would throw.
pub fn apply(logic: &Value, data: &Map<String, Value>) -> Result<Value, LogicError> {
    eval(logic, data).map(|v| v.to_json())
}

/// Whether `logic` holds for `data`: json-logic-js's `truthy(apply(logic, data))`; a condition that cannot be
/// evaluated does not hold.
#[must_use]
pub fn holds(logic: &Value, data: &Map<String, Value>) -> bool {
    eval(logic, data).is_ok_and(|v| v.truthy())
}

/// A JavaScript value as json-logic-js sees it while evaluating.
#[derive(Debug, Clone)]
enum Val<'a> {
    Null,
    Bool(bool),
    Num(f64),
    Str(Cow<'a, str>),
    /// An array or object read from the data: one JS object, compared by identity.
    Data(&'a Value),
    /// An array written in the condition: json-logic-js maps it to a fresh array on every evaluation.
    Array(Vec<Val<'a>>),
    /// An object written in the condition (a fresh object; the checker refuses these).
    Object,
}

/// A primitive after `ToPrimitive`.
enum Prim<'a> {
    Null,
    Bool(bool),
    Num(f64),
    Str(Cow<'a, str>),
}

fn from_json(value: &Value) -> Val<'_> {
    match value {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => Val::Num(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => Val::Str(Cow::Borrowed(s)),
        Value::Array(_) | Value::Object(_) => Val::Data(value),
    }
}

fn eval<'a>(logic: &'a Value, data: &'a Map<String, Value>) -> Result<Val<'a>, LogicError> {
    match logic {
        Value::Array(items) => Ok(Val::Array(items.iter().map(|i| eval(i, data)).collect::<Result<_, _>>()?)),
        Value::Object(map) if map.len() == 1 => {
            let (op, args) = map.iter().next().expect("an object with one key has an entry");
            let args: &[Value] = match args {
                Value::Array(items) => items,
                single => std::slice::from_ref(single),
            };
            match op.as_str() {
                "and" | "or" => {
                    let mut current = None;
                    for arg in args {
                        let value = eval(arg, data)?;
                        if value.truthy() == (op == "or") {
                            return Ok(value);
                        }
                        current = Some(value);
                    }
                    // `and: []` returns undefined in JS; the checker refuses it, and undefined is falsy.
                    Ok(current.unwrap_or(Val::Null))
                }
                "var" => {
                    let values = args.iter().map(|a| eval(a, data)).collect::<Result<Vec<_>, _>>()?;
                    let name = match values.first() {
                        Some(Val::Str(s)) => s.clone(),
                        _ => return Err(LogicError::Unsupported("var without a field name".into())),
                    };
                    Ok(match data.get(name.as_ref()) {
                        Some(value) => from_json(value),
                        None => values.into_iter().nth(1).unwrap_or(Val::Null),
                    })
                }
                _ => {
                    let values = args.iter().map(|a| eval(a, data)).collect::<Result<Vec<_>, _>>()?;
                    let arg = |i: usize| values.get(i).cloned();
                    let (a, b) = (arg(0), arg(1));
                    Ok(Val::Bool(match op.as_str() {
                        "!!" => a.is_some_and(|a| a.truthy()),
                        "!" => !a.is_some_and(|a| a.truthy()),
                        "==" => loose_eq_opt(a.as_ref(), b.as_ref()),
                        "!=" => !loose_eq_opt(a.as_ref(), b.as_ref()),
                        "<" | "<=" => {
                            let strict = op == "<";
                            let cmp = |x: Option<&Val<'_>>, y: Option<&Val<'_>>| {
                                if strict { less(x, y) == Some(true) } else { less(y, x) == Some(false) }
                            };
                            match values.get(2) {
                                None => cmp(a.as_ref(), b.as_ref()),
                                Some(c) => cmp(a.as_ref(), b.as_ref()) && cmp(b.as_ref(), Some(c)),
                            }
                        }
                        ">" => less(b.as_ref(), a.as_ref()) == Some(true),
                        ">=" => less(a.as_ref(), b.as_ref()) == Some(false),
                        "in" => return contains(a.as_ref(), b.as_ref()).map(Val::Bool),
                        other => return Err(LogicError::Unsupported(other.to_owned())),
                    }))
                }
            }
        }
        Value::Object(_) => Ok(Val::Object),
        scalar => Ok(from_json(scalar)),
    }
}

impl<'a> Val<'a> {
    /// json-logic-js's `truthy`: JS truthiness, except that `[]` is false.
    fn truthy(&self) -> bool {
        match self {
            Val::Null => false,
            Val::Bool(b) => *b,
            Val::Num(n) => *n != 0.0 && !n.is_nan(),
            Val::Str(s) => !s.is_empty(),
            Val::Data(Value::Array(a)) => !a.is_empty(),
            Val::Array(a) => !a.is_empty(),
            Val::Data(_) | Val::Object => true,
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Num(n) => number_json(*n),
            Val::Str(s) => Value::String(s.clone().into_owned()),
            Val::Data(v) => (*v).clone(),
            Val::Array(a) => Value::Array(a.iter().map(Val::to_json).collect()),
            Val::Object => Value::Object(Map::new()),
        }
    }

    fn is_object(&self) -> bool {
        matches!(self, Val::Data(_) | Val::Array(_) | Val::Object)
    }

    /// `ToPrimitive` (arrays join their elements with commas, objects are `[object Object]`).
    fn to_primitive(&self) -> Prim<'a> {
        match self {
            Val::Null => Prim::Null,
            Val::Bool(b) => Prim::Bool(*b),
            Val::Num(n) => Prim::Num(*n),
            Val::Str(s) => Prim::Str(s.clone()),
            composite => Prim::Str(Cow::Owned(composite.to_js_string())),
        }
    }

    /// `ToString`.
    fn to_js_string(&self) -> String {
        match self {
            Val::Null => "null".into(),
            Val::Bool(b) => b.to_string(),
            Val::Num(n) => number_to_string(*n),
            Val::Str(s) => s.clone().into_owned(),
            Val::Data(Value::Array(items)) => join(items.iter().map(from_json)),
            Val::Array(items) => join(items.iter().cloned()),
            Val::Data(_) | Val::Object => "[object Object]".into(),
        }
    }
}

/// `Array.prototype.join(",")`: `null` (and `undefined`) elements become empty strings.
fn join<'a>(items: impl Iterator<Item = Val<'a>>) -> String {
    items
        .map(|item| if matches!(item, Val::Null) { String::new() } else { item.to_js_string() })
        .collect::<Vec<_>>()
        .join(",")
}

fn number_json(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        // -0 serialises as 0 in JSON.stringify.
        #[allow(clippy::cast_possible_truncation)]
        return Value::from(n as i64);
    }
    serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
}

fn to_number(p: &Prim<'_>) -> f64 {
    match p {
        Prim::Null => 0.0,
        Prim::Bool(b) => f64::from(u8::from(*b)),
        Prim::Num(n) => *n,
        Prim::Str(s) => string_to_number(s),
    }
}

fn loose_eq_opt(a: Option<&Val<'_>>, b: Option<&Val<'_>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => loose_eq(a, b),
        // A missing argument is undefined: equal to undefined and null only.
        (None, None) => true,
        (Some(x), None) | (None, Some(x)) => matches!(x, Val::Null),
    }
}

/// `SameValue` of two objects: the very same array or object of the data.
fn same_object(a: &Val<'_>, b: &Val<'_>) -> bool {
    matches!((a, b), (Val::Data(x), Val::Data(y)) if std::ptr::eq(*x, *y))
}

/// JavaScript's `a == b` (Abstract Equality Comparison, ECMA-262 7.2.14) for the values JSON can produce.
fn loose_eq(a: &Val<'_>, b: &Val<'_>) -> bool {
    match (a, b) {
        (x, y) if x.is_object() && y.is_object() => same_object(x, y),
        (Val::Null, Val::Null) => true,
        (Val::Null, _) | (_, Val::Null) => false,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Num(x), Val::Num(y)) => x == y,
        (Val::Str(x), Val::Str(y)) => x == y,
        (Val::Num(n), Val::Str(s)) | (Val::Str(s), Val::Num(n)) => *n == string_to_number(s),
        (Val::Bool(x), y) => loose_eq(&Val::Num(f64::from(u8::from(*x))), y),
        (x, Val::Bool(y)) => loose_eq(x, &Val::Num(f64::from(u8::from(*y)))),
        // An object against a number or string: its ToPrimitive, which is always a string.
        (object, other) if object.is_object() => loose_eq(&Val::Str(Cow::Owned(object.to_js_string())), other),
        (other, object) if object.is_object() => loose_eq(other, &Val::Str(Cow::Owned(object.to_js_string()))),
        _ => false,
    }
}

/// JavaScript's `===` (used by `Array.prototype.indexOf`).
fn strict_eq(a: &Val<'_>, b: &Val<'_>) -> bool {
    match (a, b) {
        (Val::Null, Val::Null) => true,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Num(x), Val::Num(y)) => x == y,
        (Val::Str(x), Val::Str(y)) => x == y,
        (x, y) => same_object(x, y),
    }
}

/// JavaScript's `x < y` (Abstract Relational Comparison, ECMA-262 7.2.13): `None` is undefined (a NaN).
fn less(x: Option<&Val<'_>>, y: Option<&Val<'_>>) -> Option<bool> {
    // A missing argument is undefined, whose ToNumber is NaN.
    let (x, y) = (x?.to_primitive(), y?.to_primitive());
    if let (Prim::Str(a), Prim::Str(b)) = (&x, &y) {
        // Strings compare by UTF-16 code units.
        return Some(a.encode_utf16().cmp(b.encode_utf16()) == Ordering::Less);
    }
    let (a, b) = (to_number(&x), to_number(&y));
    if a.is_nan() || b.is_nan() { None } else { Some(a < b) }
}

/// json-logic-js's `in`: `if (!b || typeof b.indexOf === "undefined") return false; return b.indexOf(a) !== -1`.
fn contains(a: Option<&Val<'_>>, b: Option<&Val<'_>>) -> Result<bool, LogicError> {
    let Some(b) = b.filter(|b| b.truthy() || matches!(b, Val::Array(_) | Val::Data(Value::Array(_)))) else {
        return Ok(false);
    };
    let undefined = Val::Str(Cow::Borrowed("undefined"));
    let a = a.unwrap_or(&undefined);
    Ok(match b {
        Val::Str(haystack) => {
            // `String.prototype.indexOf` converts the needle with ToString.
            haystack.contains(a.to_js_string().as_str())
        }
        Val::Array(items) => items.iter().any(|item| strict_eq(item, a)),
        Val::Data(Value::Array(items)) => items.iter().any(|item| strict_eq(&from_json(item), a)),
        // An object of the data with its own `indexOf` key: not a function, so JS throws.
        Val::Data(Value::Object(map)) if map.contains_key("indexOf") => return Err(LogicError::NotAFunction),
        _ => false,
    })
}

/// Whether `c` is JavaScript white space or a line terminator (what `StringToNumber` trims).
fn js_space(c: char) -> bool {
    matches!(
        c,
        '\u{9}' | '\u{a}' | '\u{b}' | '\u{c}' | '\u{d}' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}' | '\u{feff}'
    )
}

/// JavaScript's `ToNumber` of a string (ECMA-262 7.1.4.1.1): trimmed; empty is 0; decimal literals with an
/// optional sign, `Infinity`, and unsigned `0x`/`0o`/`0b` integers; anything else is NaN.
fn string_to_number(s: &str) -> f64 {
    let s = s.trim_matches(js_space);
    if s.is_empty() {
        return 0.0;
    }
    for (prefix, radix) in [("0x", 16), ("0X", 16), ("0o", 8), ("0O", 8), ("0b", 2), ("0B", 2)] {
        if let Some(digits) = s.strip_prefix(prefix) {
            if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
                return f64::NAN;
            }
            // Exact up to 2^128; beyond that the sum is rounded once per digit (no form value gets there).
            return u128::from_str_radix(digits, radix).map_or_else(
                |_| {
                    digits
                        .chars()
                        .fold(0.0, |acc, c| acc * f64::from(radix) + f64::from(c.to_digit(radix).unwrap_or(0)))
                },
                |n| n as f64,
            );
        }
    }
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    if unsigned == "Infinity" {
        return if s.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY };
    }
    if !is_decimal_literal(unsigned) {
        return f64::NAN;
    }
    s.parse().unwrap_or(f64::NAN)
}

/// `StrUnsignedDecimalLiteral` without `Infinity`: digits with an optional fraction (at least one digit in
/// all), then an optional exponent.
fn is_decimal_literal(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let mut mantissa = digits(&mut i);
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        mantissa += digits(&mut i);
    }
    if mantissa == 0 {
        return false;
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        i += 1;
        if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == bytes.len()
}

/// JavaScript's `Number.prototype.toString()` (ECMA-262 6.1.6.1.20): the shortest digits that round-trip,
/// plain from 1e-6 up to 1e21, in exponent form (`1e+21`, `1.5e-7`) outside.
fn number_to_string(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n == 0.0 {
        return "0".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    if n < 0.0 {
        return format!("-{}", number_to_string(-n));
    }
    // Rust's `{:e}` prints the shortest round-trip digits: "d.ddde<exp>".
    let sci = format!("{n:e}");
    let (mantissa, exp) = sci.split_once('e').expect("{:e} always has an exponent");
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let k = i64::try_from(digits.len()).expect("a handful of digits");
    let n_exp = exp.parse::<i64>().expect("{:e} prints an integer exponent") + 1;
    let zeros = |count: i64| "0".repeat(usize::try_from(count).unwrap_or(0));
    if k <= n_exp && n_exp <= 21 {
        format!("{digits}{}", zeros(n_exp - k))
    } else if 0 < n_exp && n_exp <= 21 {
        let (int, frac) = digits.split_at(usize::try_from(n_exp).expect("positive"));
        format!("{int}.{frac}")
    } else if -6 < n_exp && n_exp <= 0 {
        format!("0.{}{digits}", zeros(-n_exp))
    } else {
        let sign = if n_exp - 1 < 0 { '-' } else { '+' };
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        format!("{first}{rest}e{sign}{}", (n_exp - 1).abs())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn eval_json(logic: Value, data: Value) -> Value {
        apply(&logic, data.as_object().unwrap()).unwrap()
    }

    /// The mismatches the issue lists, answered as json-logic-js does.
    #[test]
    fn javascript_equality() {
        let cases = [
            (json!({"==": [{"var": "n"}, 0]}), json!({}), false),
            (json!({"==": [{"var": "n"}, false]}), json!({}), false),
            (json!({"==": [{"var": "x"}, null]}), json!({"x": ""}), false),
            (json!({"==": [{"var": "x"}, null]}), json!({"x": 0}), false),
            (json!({"==": [{"var": "b"}, "true"]}), json!({"b": true}), false),
            (json!({"==": [{"var": "m"}, "a"]}), json!({"m": ["a"]}), true),
            (json!({"!=": [{"var": "t"}, 10]}), json!({"t": "abc"}), true),
            (json!({"==": [{"var": "t"}, false]}), json!({"t": "0"}), true),
            (json!({"==": [true, "1"]}), json!({}), true),
            (json!({"==": [{"var": "m"}, {"var": "m"}]}), json!({"m": [1]}), true),
            (json!({"==": [[1], [1]]}), json!({}), false),
            (json!({"<": ["10", "9"]}), json!({}), true),
            (json!({"<": [[10], 9]}), json!({}), false),
            (json!({"<=": [null, 0]}), json!({}), true),
            (json!({"<=": ["a", 0]}), json!({}), false),
            (json!({"in": [null, "a null"]}), json!({}), true),
            (json!({"in": ["", ""]}), json!({}), false),
        ];
        for (logic, data, expected) in cases {
            assert_eq!(eval_json(logic.clone(), data.clone()), json!(expected), "{logic} with {data}");
        }
    }

    /// Numbers print as JavaScript prints them.
    #[test]
    fn number_strings() {
        for (n, s) in [
            (1.0, "1"),
            (0.1, "0.1"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5e-7, "1.5e-7"),
            (0.000_001, "0.000001"),
            (-2.5, "-2.5"),
            (123.456, "123.456"),
        ] {
            assert_eq!(number_to_string(n), s);
        }
        for (s, n) in [(" 12 ", 12.0), ("0x1f", 31.0), ("1.", 1.0), (".5", 0.5), ("-Infinity", f64::NEG_INFINITY)] {
            assert_eq!(string_to_number(s), n, "{s}");
        }
        for s in ["inf", "NaN", "1_0", "-0x1", ".", "e5", "1e"] {
            assert!(string_to_number(s).is_nan(), "{s}");
        }
    }

    /// Wrong arity and shapes outside the subset are refused with the path.
    #[test]
    fn checker_refuses_wrong_arity_naming_the_path() {
        for (logic, code, path) in [
            (json!({"==": [{"var": "x"}]}), "invalid_arity", "visibleIf/=="),
            (json!({"<": [1]}), "invalid_arity", "visibleIf/<"),
            (json!({"!": [{"var": "a"}, {"var": "b"}]}), "invalid_arity", "visibleIf/!"),
            (json!({"in": ["a"]}), "invalid_arity", "visibleIf/in"),
            (json!({"and": [true, {"in": ["a"]}]}), "invalid_arity", "visibleIf/and/1/in"),
            (json!({"and": []}), "invalid_arity", "visibleIf/and"),
            (json!({"or": [{"substr": ["a", 1]}]}), "unsupported_operator", "visibleIf/or/0/substr"),
            (json!({"var": "constructor"}), "invalid_var", "visibleIf/var"),
            (json!({"var": ["x", [1]]}), "invalid_var", "visibleIf/var"),
            (json!({"==": [{"a": 1, "b": 2}, 1]}), "invalid_condition", "visibleIf/==/0"),
        ] {
            let mut found = Vec::new();
            check(&logic, "visibleIf", &mut Vec::new(), &mut |c, m| found.push((c, m)));
            assert_eq!(found.len(), 1, "{logic}: {found:?}");
            assert_eq!(found[0].0, code, "{logic}: {found:?}");
            assert!(found[0].1.starts_with("visibleIf: "), "{logic}: {found:?}");
            assert!(found[0].1.ends_with(&format!("(at {path})")), "{logic}: {found:?}");
        }
        let mut found = Vec::new();
        check(&json!({"<": [1, {"var": "x"}, 3]}), "visibleIf", &mut Vec::new(), &mut |c, m| found.push((c, m)));
        assert!(found.is_empty(), "{found:?}");
    }
}
