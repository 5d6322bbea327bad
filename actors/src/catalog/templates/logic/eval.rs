//! The evaluator: `jsonLogic.apply` of json-logic-js 2.0.5, operator by operator, over [`Val`]s. Each
//! operator is written from json-logic-js's source (quoted where the JS is short), with JavaScript's
//! conversions from [`super::value`].

use std::rc::Rc;

use serde_json::Value;
use smallvec::SmallVec;

use super::error::LogicError;
use super::value::{Cx, Prim, Text, Val, concat, less, loose_eq, parse_float, strict_eq, to_integer};

/// The operators json-logic-js keeps in its `operations` table (the others — `if`, `?:`, `and`, `or`, `map`,
/// `filter`, `reduce`, `all`, `none`, `some` — are handled in `apply` before their arguments are evaluated), as
/// the `&'static str` of the name: a `match` compares lengths before bytes, where a scan of a list compared
/// every name (this runs once per operation of every condition).
fn table(op: &str) -> Option<&'static str> {
    Some(match op {
        "==" => "==",
        "===" => "===",
        "!=" => "!=",
        "!==" => "!==",
        ">" => ">",
        ">=" => ">=",
        "<" => "<",
        "<=" => "<=",
        "!!" => "!!",
        "!" => "!",
        "%" => "%",
        "log" => "log",
        "in" => "in",
        "cat" => "cat",
        "substr" => "substr",
        "+" => "+",
        "*" => "*",
        "-" => "-",
        "/" => "/",
        "min" => "min",
        "max" => "max",
        "merge" => "merge",
        "var" => "var",
        "missing" => "missing",
        "missing_some" => "missing_some",
        _ => return None,
    })
}

/// The operation json-logic-js runs for the operator `op`, or `None` (it throws "Unrecognized operation").
/// Besides the table's own names, json-logic-js walks dotted names through the table's own properties
/// (`"var.prototype.constructor"` is `var` itself; any other dotted name throws), so those are resolved too.
pub(super) fn function(op: &str) -> Option<&'static str> {
    if let Some(f) = table(op) {
        return Some(f);
    }
    let dot = op.find('.').filter(|&i| i > 0)?;
    let head = table(&op[..dot])?;
    let mut rest = &op[dot..];
    while let Some(r) = rest.strip_prefix(".prototype.constructor") {
        rest = r;
    }
    rest.is_empty().then_some(head)
}

/// `jsonLogic.apply(logic, data)`.
pub(super) fn apply<'a>(cx: &Cx, logic: &'a Value, data: &Val<'a>) -> Result<Val<'a>, LogicError> {
    cx.enter()?;
    let result = match logic {
        // "Does this array contain logic? Only one way to find out": a new array of the applied elements.
        Value::Array(items) => items
            .iter()
            .map(|item| apply(cx, item, data))
            .collect::<Result<Vec<_>, _>>()
            .map(|v| Val::Array(Rc::new(v))),
        // is_logic: an object with exactly one key is an operation; any other object is a value.
        Value::Object(map) if map.len() == 1 => {
            let (op, args) = map.iter().next().expect("an object with one key has an entry");
            operate(cx, op, args, data)
        }
        other => Ok(Val::from_json(other)),
    };
    cx.leave();
    result
}

/// `jsonLogic.apply(value, data)` of a value json-logic-js built or read from the data: `missing` and
/// `missing_some` apply their keys again, so an array, or an object with one key, found there is evaluated.
fn apply_value<'a>(cx: &Cx, value: &Val<'a>, data: &Val<'a>) -> Result<Val<'a>, LogicError> {
    match value {
        Val::Json(logic) => apply(cx, logic, data),
        Val::Root(map) if map.len() == 1 => {
            cx.enter()?;
            let (op, args) = map.iter().next().expect("an object with one key has an entry");
            let result = operate(cx, op, args, data);
            cx.leave();
            result
        }
        Val::Array(items) => items
            .iter()
            .map(|item| apply_value(cx, item, data))
            .collect::<Result<Vec<_>, _>>()
            .map(|v| Val::Array(Rc::new(v))),
        other => Ok(other.clone()),
    }
}

/// One operation: `op` with its (unevaluated) arguments.
fn operate<'a>(cx: &Cx, op: &'a str, args: &'a Value, data: &Val<'a>) -> Result<Val<'a>, LogicError> {
    // "easy syntax for unary operators": a single argument need not be in an array.
    let args: &'a [Value] = match args {
        Value::Array(items) => items,
        single => std::slice::from_ref(single),
    };
    match op {
        "if" | "?:" => {
            // Pairs (condition, value): the value of the first truthy condition; a last odd argument is the
            // else; none at all is null.
            let mut i = 0;
            while i + 1 < args.len() {
                if apply(cx, &args[i], data)?.truthy() {
                    return apply(cx, &args[i + 1], data);
                }
                i += 2;
            }
            return if args.len() == i + 1 { apply(cx, &args[i], data) } else { Ok(Val::Null) };
        }
        "and" | "or" => {
            // The first falsy (and) or truthy (or) value, else the last; undefined without arguments.
            let mut current = Val::Undefined;
            for arg in args {
                current = apply(cx, arg, data)?;
                if current.truthy() == (op == "or") {
                    return Ok(current);
                }
            }
            return Ok(current);
        }
        "filter" | "map" | "reduce" | "all" | "none" | "some" => return iterate(cx, op, args, data),
        _ => {}
    }
    // "Everyone else gets immediate depth-first recursion".
    // On the stack for up to four arguments (nearly every operation): no allocation per operation.
    let values = args.iter().map(|arg| apply(cx, arg, data)).collect::<Result<SmallVec<[_; 4]>, _>>()?;
    let Some(function) = function(op) else {
        return Err(LogicError::Unrecognized(op.to_owned()));
    };
    call(cx, function, &values, data)
}

/// `map`, `filter`, `reduce`, `all`, `none`, `some`: the first argument evaluated against the data, the second
/// applied to each element (the element is the data), `reduce`'s third (the initial value) against the data.
fn iterate<'a>(cx: &Cx, op: &str, args: &'a [Value], data: &Val<'a>) -> Result<Val<'a>, LogicError> {
    let scoped_data = match args.first() {
        Some(first) => apply(cx, first, data)?,
        None => Val::Undefined,
    };
    // `jsonLogic.apply(undefined, datum)` is undefined.
    let scoped = |datum: &Val<'a>| args.get(1).map_or(Ok(Val::Undefined), |logic| apply(cx, logic, datum));
    if op == "reduce" {
        let initial = match args.get(2) {
            Some(logic) => apply(cx, logic, data)?,
            None => Val::Null,
        };
        let Some(items) = scoped_data.elements() else { return Ok(initial) };
        let mut accumulator = initial;
        for current in items {
            accumulator = scoped(&Val::Scope(Rc::new((current, accumulator))))?;
        }
        return Ok(accumulator);
    }
    let items = scoped_data.elements();
    match op {
        "filter" | "map" => {
            let Some(items) = items else { return Ok(Val::Array(Rc::default())) };
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let value = scoped(&item)?;
                if op == "map" {
                    out.push(value);
                } else if value.truthy() {
                    out.push(item);
                }
            }
            Ok(Val::Array(Rc::new(out)))
        }
        _ => {
            // "All of an empty set is false"; none of it is true, some of it false.
            let Some(items) = items.filter(|i| !i.is_empty()) else { return Ok(Val::Bool(op == "none")) };
            for item in items {
                let truthy = scoped(&item)?.truthy();
                match (op, truthy) {
                    ("all", false) => return Ok(Val::Bool(false)),
                    ("none", true) => return Ok(Val::Bool(false)),
                    ("some", true) => return Ok(Val::Bool(true)),
                    _ => {}
                }
            }
            Ok(Val::Bool(op != "some"))
        }
    }
}

/// The operations of json-logic-js's table, called with evaluated arguments (`this` is the data).
fn call<'a>(cx: &Cx, op: &str, values: &[Val<'a>], data: &Val<'a>) -> Result<Val<'a>, LogicError> {
    let arg = |i: usize| values.get(i).cloned().unwrap_or(Val::Undefined);
    let (a, b) = (arg(0), arg(1));
    Ok(match op {
        "==" => Val::Bool(loose_eq(&a, &b, cx)),
        "===" => Val::Bool(strict_eq(&a, &b)),
        "!=" => Val::Bool(!loose_eq(&a, &b, cx)),
        "!==" => Val::Bool(!strict_eq(&a, &b)),
        ">" => Val::Bool(less(&b, &a, cx) == Some(true)),
        ">=" => Val::Bool(less(&a, &b, cx) == Some(false)),
        "<" | "<=" => {
            // `(c === undefined) ? a < b : (a < b) && (b < c)`.
            let holds = |x: &Val<'a>, y: &Val<'a>| {
                if op == "<" { less(x, y, cx) == Some(true) } else { less(y, x, cx) == Some(false) }
            };
            let c = arg(2);
            Val::Bool(match c {
                Val::Undefined => holds(&a, &b),
                c => holds(&a, &b) && holds(&b, &c),
            })
        }
        "!!" => Val::Bool(a.truthy()),
        "!" => Val::Bool(!a.truthy()),
        "%" => Val::Num(a.to_number(cx) % b.to_number(cx)),
        // console.log is left out: the server prints nothing.
        "log" => a,
        "in" => Val::Bool(contains(&a, &b, cx)?),
        "cat" => {
            // `Array.prototype.join.call(arguments, "")`.
            let parts: Vec<Text<'a>> =
                values
                    .iter()
                    .map(|v| {
                        if matches!(v, Val::Null | Val::Undefined) { Text::owned(String::new()) } else { v.to_text(cx) }
                    })
                    .collect();
            Val::Str(concat(&parts, "", cx))
        }
        "substr" => Val::Str(substr_op(&a, &b, &arg(2), cx)),
        "+" => {
            // `reduce((a, b) => parseFloat(a) + parseFloat(b), 0)`.
            let mut sum = 0.0;
            for v in values {
                sum = parse_float(&Val::Num(sum), cx) + parse_float(v, cx);
            }
            Val::Num(sum)
        }
        "*" => match values {
            // `reduce` without an initial value: throws on no arguments, returns a lone argument untouched.
            [] => return Err(LogicError::TypeError("Reduce of empty array with no initial value")),
            [only] => only.clone(),
            [first, second, rest @ ..] => {
                // The first step parses the first argument itself; later ones the product so far (which
                // turns a -0 into 0).
                let mut product = parse_float(first, cx) * parse_float(second, cx);
                for v in rest {
                    product = parse_float(&Val::Num(product), cx) * parse_float(v, cx);
                }
                Val::Num(product)
            }
        },
        "-" => match b {
            Val::Undefined => Val::Num(-a.to_number(cx)),
            b => Val::Num(a.to_number(cx) - b.to_number(cx)),
        },
        "/" => Val::Num(a.to_number(cx) / b.to_number(cx)),
        "min" | "max" => {
            // Math.min/max: NaN if any argument is NaN, -0 below +0; ±Infinity without arguments.
            let numbers: Vec<f64> = values.iter().map(|v| v.to_number(cx)).collect();
            let max = op == "max";
            Val::Num(numbers.into_iter().fold(if max { f64::NEG_INFINITY } else { f64::INFINITY }, |acc, n| {
                if acc.is_nan() || n.is_nan() {
                    f64::NAN
                } else if n == acc && n == 0.0 {
                    // Math.max(-0, 0) is 0, Math.min(0, -0) is -0.
                    if max == n.is_sign_negative() { acc } else { n }
                } else if (n > acc) == max {
                    n
                } else {
                    acc
                }
            }))
        }
        "merge" => {
            // `reduce((a, b) => a.concat(b), [])`: arrays are spread one level, anything else appended.
            let mut out = Vec::new();
            for v in values {
                match v.elements() {
                    Some(items) => out.extend(items),
                    None => out.push(v.clone()),
                }
            }
            cx.charge(out.len());
            Val::Array(Rc::new(out))
        }
        "var" => var(cx, &a, &b, data)?,
        "missing" => missing(cx, values, data)?,
        "missing_some" => {
            // `are_missing = apply({"missing": options}, this)`: the options are applied again as logic.
            let options = b;
            let keys = match options.elements() {
                Some(items) => items.iter().map(|k| apply_value(cx, k, data)).collect::<Result<Vec<_>, _>>()?,
                None => vec![apply_value(cx, &options, data)?],
            };
            let are_missing = missing(cx, &keys, data)?;
            let missing_count = are_missing.elements().map_or(0, |m| m.len());
            // `options.length - are_missing.length >= need_count`.
            let present = options.get("length")?.to_number(cx) - missing_count as f64;
            if less(&Val::Num(present), &a, cx) == Some(false) { Val::Array(Rc::default()) } else { are_missing }
        }
        other => return Err(LogicError::Unrecognized(other.to_owned())),
    })
}

/// `var(a, b)`: the data itself for `undefined`, `null` or `""`; otherwise `String(a)` split on dots, each
/// part read as a property (`data[part]`), `b` (or `null`) as soon as a step is `null` or `undefined`.
fn var<'a>(cx: &Cx, a: &Val<'a>, b: &Val<'a>, data: &Val<'a>) -> Result<Val<'a>, LogicError> {
    let not_found = if matches!(b, Val::Undefined) { Val::Null } else { b.clone() };
    match a {
        Val::Undefined | Val::Null => return Ok(data.clone()),
        Val::Str(s) if s.is_empty() => return Ok(data.clone()),
        _ => {}
    }
    let path = a.to_text(cx);
    let mut current = data.clone();
    for part in path.lossy().split('.') {
        if matches!(current, Val::Null | Val::Undefined) {
            return Ok(not_found);
        }
        current = current.get(part)?;
        if matches!(current, Val::Undefined) {
            return Ok(not_found);
        }
    }
    Ok(current)
}

/// `missing(...keys)`: the keys (the first argument when it is an array, else all of them) whose
/// `apply({"var": key}, data)` is `null` or `""`.
fn missing<'a>(cx: &Cx, values: &[Val<'a>], data: &Val<'a>) -> Result<Val<'a>, LogicError> {
    let keys = match values.first().and_then(Val::elements) {
        Some(items) => items,
        None => values.to_vec(),
    };
    let mut out = Vec::new();
    for key in keys {
        // `{"var": key}`: an array key is var's argument list, each applied as logic, as is a lone key.
        let args = match key.elements() {
            Some(items) => items.iter().map(|k| apply_value(cx, k, data)).collect::<Result<Vec<_>, _>>()?,
            None => vec![apply_value(cx, &key, data)?],
        };
        let arg = |i: usize| args.get(i).cloned().unwrap_or(Val::Undefined);
        let value = var(cx, &arg(0), &arg(1), data)?;
        let empty = match &value {
            Val::Null => true,
            Val::Str(s) => s.is_empty(),
            _ => false,
        };
        if empty {
            out.push(key);
        }
    }
    Ok(Val::Array(Rc::new(out)))
}

/// json-logic-js's `in`: `if (!b || typeof b.indexOf === "undefined") return false; return b.indexOf(a) !== -1`.
fn contains(a: &Val<'_>, b: &Val<'_>, cx: &Cx) -> Result<bool, LogicError> {
    if !b.js_truthy() {
        return Ok(false);
    }
    Ok(match b {
        // `String.prototype.indexOf` converts the needle with ToString (undefined is "undefined").
        Val::Str(haystack) => haystack.contains(&a.to_text(cx)),
        object if object.as_object().is_some_and(|map| map.contains_key("indexOf")) => {
            // An own `indexOf` that is data, not a function: JS throws a TypeError.
            return Err(LogicError::TypeError("b.indexOf is not a function"));
        }
        array if array.is_array() => array.elements().expect("an array").iter().any(|item| strict_eq(item, a)),
        _ => false,
    })
}

/// json-logic-js's `substr(source, start, end)`: `String(source).substr(start, end)`, and for a negative
/// `end` (PHP's meaning: leave that many off the end) `temp = String(source).substr(start)` then
/// `temp.substr(0, temp.length + end)` — where `+` concatenates when `end` is a string, which leaves nothing.
fn substr_op<'a>(source: &Val<'a>, start: &Val<'a>, end: &Val<'a>, cx: &Cx) -> Text<'static> {
    let text = source.to_text(cx);
    cx.charge(text.len16());
    if less(end, &Val::Num(0.0), cx) == Some(true) {
        let temp = substr(&text, start, &Val::Undefined, cx);
        let length = match end.to_primitive(cx) {
            Prim::Str(_) => Val::Num(f64::NAN),
            other => Val::Num(temp.len16() as f64 + other.to_number()),
        };
        return substr(&temp, &Val::Num(0.0), &length, cx);
    }
    substr(&text, start, end, cx)
}

/// `String.prototype.substr(start, length)` (ECMA-262 B.2.2.1), in UTF-16 code units.
fn substr(text: &Text<'_>, start: &Val<'_>, length: &Val<'_>, cx: &Cx) -> Text<'static> {
    let size = text.len16() as f64;
    let start = to_integer(start.to_number(cx));
    let start = if start == f64::NEG_INFINITY {
        0.0
    } else if start < 0.0 {
        (size + start).max(0.0)
    } else {
        start.min(size)
    };
    let length = match length {
        Val::Undefined => size,
        other => to_integer(other.to_number(cx)),
    };
    let end = (start + length.clamp(0.0, size)).min(size);
    if start >= end {
        return Text::owned(String::new());
    }
    // Both are integers in 0..=size here.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    text.slice16(start as usize, end as usize)
}
