//! JavaScript values as json-logic-js sees them while it evaluates, and the conversions of ECMA-262 its
//! operators rely on: `ToPrimitive`, `ToNumber`, `ToString`, `parseFloat`, `==`, `===`, `<`, property access
//! (what `var` does), and the two ways an answer leaves the evaluator (as `JSON.stringify` writes it, and an
//! exact form for the conformance test).

use std::borrow::Cow;
use std::cell::Cell;
use std::cmp::Ordering;
use std::rc::Rc;

use serde_json::{Map, Value, json};

use super::error::LogicError;

/// The budget of one evaluation: every step (an operation, a literal, an element of `map`/`filter`/…) costs
/// one unit, copying strings and arrays one unit per 64 bytes or elements. Past it the condition fails (as if
/// json-logic-js had thrown), so no form state can make an evaluation expensive.
pub const STEP_BUDGET: u32 = 20_000;

/// How deep evaluation may recurse. Imported conditions are at most 32 levels deep; logic json-logic-js finds
/// in the data (a `missing` key that is itself an operation) can nest further, up to this.
const MAX_DEPTH: u32 = 128;

/// The evaluation's budget and depth.
pub(super) struct Cx {
    /// Units left.
    steps: Cell<u32>,
    /// Current recursion depth.
    depth: Cell<u32>,
}

impl Cx {
    pub(super) fn new() -> Self {
        Self { steps: Cell::new(STEP_BUDGET), depth: Cell::new(0) }
    }

    /// One step deeper: fails when the budget or the depth is spent.
    pub(super) fn enter(&self) -> Result<(), LogicError> {
        let steps = self.steps.get();
        if steps == 0 {
            return Err(LogicError::Budget);
        }
        self.steps.set(steps - 1);
        let depth = self.depth.get() + 1;
        if depth > MAX_DEPTH {
            return Err(LogicError::TooDeep);
        }
        self.depth.set(depth);
        Ok(())
    }

    pub(super) fn leave(&self) {
        self.depth.set(self.depth.get().saturating_sub(1));
    }

    /// Charges a copy of `len` bytes or elements; an exhausted budget fails the next step.
    pub(super) fn charge(&self, len: usize) {
        let units = u32::try_from(len / 64).unwrap_or(u32::MAX);
        self.steps.set(self.steps.get().saturating_sub(units));
    }
}

/// A JavaScript string: UTF-8 while it is well formed (always, except after `substr` or an index cut a
/// surrogate pair in two), UTF-16 code units otherwise. Lengths and positions are in UTF-16 code units, as in JS.
#[derive(Debug, Clone)]
pub(super) enum Text<'a> {
    Utf8(Cow<'a, str>),
    Utf16(Rc<[u16]>),
}

impl<'a> Text<'a> {
    pub(super) fn owned(s: String) -> Self {
        Text::Utf8(Cow::Owned(s))
    }

    /// A string from code units: UTF-8 when they are well formed.
    pub(super) fn from_units(units: Vec<u16>) -> Self {
        match String::from_utf16(&units) {
            Ok(s) => Text::owned(s),
            Err(_) => Text::Utf16(units.into()),
        }
    }

    pub(super) fn units(&self) -> Cow<'_, [u16]> {
        match self {
            Text::Utf8(s) => Cow::Owned(s.encode_utf16().collect()),
            Text::Utf16(u) => Cow::Borrowed(u),
        }
    }

    /// `.length`.
    pub(super) fn len16(&self) -> usize {
        match self {
            Text::Utf8(s) if s.is_ascii() => s.len(),
            Text::Utf8(s) => s.encode_utf16().count(),
            Text::Utf16(u) => u.len(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        match self {
            Text::Utf8(s) => s.is_empty(),
            Text::Utf16(u) => u.is_empty(),
        }
    }

    /// The string for Rust code: lone surrogates become U+FFFD (no number, key or field name holds one).
    pub(super) fn lossy(&self) -> Cow<'_, str> {
        match self {
            Text::Utf8(s) => Cow::Borrowed(s),
            Text::Utf16(u) => Cow::Owned(String::from_utf16_lossy(u)),
        }
    }

    pub(super) fn same(&self, other: &Text<'_>) -> bool {
        match (self, other) {
            (Text::Utf8(a), Text::Utf8(b)) => a == b,
            _ => self.units() == other.units(),
        }
    }

    /// Code-unit order, as JS compares strings.
    pub(super) fn cmp16(&self, other: &Text<'_>) -> Ordering {
        match (self, other) {
            (Text::Utf8(a), Text::Utf8(b)) => a.encode_utf16().cmp(b.encode_utf16()),
            _ => self.units().cmp(&other.units()),
        }
    }

    /// `String.prototype.indexOf(needle) !== -1`.
    pub(super) fn contains(&self, needle: &Text<'_>) -> bool {
        match (self, needle) {
            (Text::Utf8(h), Text::Utf8(n)) => h.contains(n.as_ref()),
            _ => {
                let (h, n) = (self.units(), needle.units());
                n.is_empty() || h.windows(n.len()).any(|w| w == n.as_ref())
            }
        }
    }

    /// The code units `start..end` (clamped).
    pub(super) fn slice16(&self, start: usize, end: usize) -> Text<'static> {
        let units = self.units();
        let end = end.min(units.len());
        let start = start.min(end);
        Text::from_units(units[start..end].to_vec())
    }

    fn to_json(&self) -> Value {
        Value::String(self.lossy().into_owned())
    }

    /// The exact form: a string, or its code units when they are not well formed.
    fn to_exact(&self) -> Value {
        match self {
            Text::Utf8(s) => Value::String(s.clone().into_owned()),
            Text::Utf16(u) => json!({"$js": "string", "units": u.as_ref()}),
        }
    }
}

/// A value during evaluation.
#[derive(Debug, Clone)]
pub(super) enum Val<'a> {
    Undefined,
    Null,
    Bool(bool),
    Num(f64),
    Str(Text<'a>),
    /// An array or object of the data, or an object written in the condition: one JS object, compared by
    /// identity (its address).
    Json(&'a Value),
    /// The form values (the data of a template condition): an object.
    Root(&'a Map<String, Value>),
    /// An array made while evaluating (a literal array of the condition, `map`, `merge`, …): a new object.
    Array(Rc<Vec<Val<'a>>>),
    /// `reduce`'s data for one step: `{current, accumulator}`, a new object.
    Scope(Rc<(Val<'a>, Val<'a>)>),
}

/// A value after `ToPrimitive`.
pub(super) enum Prim<'a> {
    Undefined,
    Null,
    Bool(bool),
    Num(f64),
    Str(Text<'a>),
}

/// `Object.prototype`'s properties (node 20): what every object, and every primitive, inherits.
const OBJECT_PROTO: [&str; 12] = [
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
    "__proto__",
    "constructor",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toLocaleString",
    "toString",
    "valueOf",
];
/// `Array.prototype`'s (without `length`, which arrays answer themselves).
const ARRAY_PROTO: [&str; 36] = [
    "at",
    "concat",
    "copyWithin",
    "entries",
    "every",
    "fill",
    "filter",
    "find",
    "findIndex",
    "findLast",
    "findLastIndex",
    "flat",
    "flatMap",
    "forEach",
    "includes",
    "indexOf",
    "join",
    "keys",
    "lastIndexOf",
    "map",
    "pop",
    "push",
    "reduce",
    "reduceRight",
    "reverse",
    "shift",
    "slice",
    "some",
    "sort",
    "splice",
    "toReversed",
    "toSorted",
    "toSpliced",
    "unshift",
    "values",
    "with",
];
/// `String.prototype`'s (without `length`).
const STRING_PROTO: [&str; 50] = [
    "anchor",
    "at",
    "big",
    "blink",
    "bold",
    "charAt",
    "charCodeAt",
    "codePointAt",
    "concat",
    "endsWith",
    "fixed",
    "fontcolor",
    "fontsize",
    "includes",
    "indexOf",
    "isWellFormed",
    "italics",
    "lastIndexOf",
    "link",
    "localeCompare",
    "match",
    "matchAll",
    "normalize",
    "padEnd",
    "padStart",
    "repeat",
    "replace",
    "replaceAll",
    "search",
    "slice",
    "small",
    "split",
    "startsWith",
    "strike",
    "sub",
    "substr",
    "substring",
    "sup",
    "toLocaleLowerCase",
    "toLocaleUpperCase",
    "toLowerCase",
    "toUpperCase",
    "toWellFormed",
    "trim",
    "trimEnd",
    "trimLeft",
    "trimRight",
    "trimStart",
    "toString",
    "valueOf",
];
/// `Number.prototype`'s (`Boolean.prototype` has a subset of these and of `Object.prototype`'s).
const NUMBER_PROTO: [&str; 4] = ["toExponential", "toFixed", "toPrecision", "toLocaleString"];

/// Whether `key` names a property JS values inherit from a built-in prototype (a method, `constructor`,
/// `__proto__`): json-logic-js's `var` would return a function or a prototype there.
#[must_use]
pub(super) fn is_builtin(key: &str) -> bool {
    OBJECT_PROTO.contains(&key)
        || ARRAY_PROTO.contains(&key)
        || STRING_PROTO.contains(&key)
        || NUMBER_PROTO.contains(&key)
}

/// A canonical array index (`"0"`, `"12"`, not `"01"` or `"1.0"`).
fn array_index(key: &str) -> Option<usize> {
    let first = key.bytes().next()?;
    if !key.bytes().all(|b| b.is_ascii_digit()) || (first == b'0' && key.len() > 1) {
        return None;
    }
    key.parse::<u32>().ok().filter(|&i| i < u32::MAX).and_then(|i| usize::try_from(i).ok())
}

impl<'a> Val<'a> {
    pub(super) fn from_json(value: &'a Value) -> Self {
        match value {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => Val::Num(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => Val::Str(Text::Utf8(Cow::Borrowed(s))),
            Value::Array(_) | Value::Object(_) => Val::Json(value),
        }
    }

    /// json-logic-js's `truthy`: JS truthiness, except that an empty array is false.
    pub(super) fn truthy(&self) -> bool {
        match self {
            Val::Json(Value::Array(a)) => !a.is_empty(),
            Val::Array(a) => !a.is_empty(),
            other => other.js_truthy(),
        }
    }

    /// JS truthiness (`!!value`): every object is true, `[]` included.
    pub(super) fn js_truthy(&self) -> bool {
        match self {
            Val::Undefined | Val::Null => false,
            Val::Bool(b) => *b,
            Val::Num(n) => *n != 0.0 && !n.is_nan(),
            Val::Str(s) => !s.is_empty(),
            Val::Json(_) | Val::Root(_) | Val::Array(_) | Val::Scope(_) => true,
        }
    }

    pub(super) fn is_object(&self) -> bool {
        matches!(self, Val::Json(_) | Val::Root(_) | Val::Array(_) | Val::Scope(_))
    }

    /// The object's own keys, for data objects and the form values.
    pub(super) fn as_object(&self) -> Option<&'a Map<String, Value>> {
        match self {
            Val::Json(value) => (*value).as_object(),
            Val::Root(map) => Some(*map),
            _ => None,
        }
    }

    pub(super) fn is_array(&self) -> bool {
        matches!(self, Val::Json(Value::Array(_)) | Val::Array(_))
    }

    /// The elements of an array (`None` for anything else).
    pub(super) fn elements(&self) -> Option<Vec<Val<'a>>> {
        match self {
            Val::Json(Value::Array(items)) => Some(items.iter().map(Val::from_json).collect()),
            Val::Array(items) => Some(items.as_ref().clone()),
            _ => None,
        }
    }

    /// `ToPrimitive`: arrays join their elements with commas, objects are `[object Object]`.
    pub(super) fn to_primitive(&self, cx: &Cx) -> Prim<'a> {
        match self {
            Val::Undefined => Prim::Undefined,
            Val::Null => Prim::Null,
            Val::Bool(b) => Prim::Bool(*b),
            Val::Num(n) => Prim::Num(*n),
            Val::Str(s) => Prim::Str(s.clone()),
            object => Prim::Str(object.to_text(cx)),
        }
    }

    /// `String(value)`.
    pub(super) fn to_text(&self, cx: &Cx) -> Text<'a> {
        match self {
            Val::Undefined => Text::Utf8(Cow::Borrowed("undefined")),
            Val::Null => Text::Utf8(Cow::Borrowed("null")),
            Val::Bool(b) => Text::Utf8(Cow::Borrowed(if *b { "true" } else { "false" })),
            Val::Num(n) => Text::owned(number_to_string(*n)),
            Val::Str(s) => s.clone(),
            Val::Json(Value::Array(items)) => join(items.iter().map(Val::from_json), cx),
            Val::Array(items) => join(items.iter().cloned(), cx),
            Val::Json(_) | Val::Root(_) | Val::Scope(_) => Text::Utf8(Cow::Borrowed("[object Object]")),
        }
    }

    /// `ToNumber`.
    pub(super) fn to_number(&self, cx: &Cx) -> f64 {
        self.to_primitive(cx).to_number()
    }

    /// `value[key]` (`None`: undefined). A property inherited from a built-in prototype is an error: there
    /// json-logic-js would hand on a function, which no JSON value models.
    ///
    /// # Errors
    /// [`LogicError::Builtin`] as said; [`LogicError::TypeError`] on `undefined` and `null`.
    pub(super) fn get(&self, key: &str) -> Result<Val<'a>, LogicError> {
        let inherited = |proto: &[&str]| {
            if OBJECT_PROTO.contains(&key) || proto.contains(&key) {
                Err(LogicError::Builtin(key.to_owned()))
            } else {
                Ok(Val::Undefined)
            }
        };
        match self {
            Val::Undefined | Val::Null => Err(LogicError::TypeError("cannot read properties of null")),
            Val::Bool(_) => inherited(&[]),
            Val::Num(_) => inherited(&NUMBER_PROTO),
            Val::Str(s) => {
                if key == "length" {
                    return Ok(Val::Num(s.len16() as f64));
                }
                if let Some(i) = array_index(key)
                    && i < s.len16()
                {
                    return Ok(Val::Str(s.slice16(i, i + 1)));
                }
                inherited(&STRING_PROTO)
            }
            Val::Json(Value::Array(_)) | Val::Array(_) => {
                let items = self.elements().expect("an array");
                if key == "length" {
                    return Ok(Val::Num(items.len() as f64));
                }
                if let Some(i) = array_index(key) {
                    return Ok(items.into_iter().nth(i).unwrap_or(Val::Undefined));
                }
                inherited(&ARRAY_PROTO)
            }
            Val::Json(_) | Val::Root(_) => {
                let map = self.as_object().expect("Json holds arrays and objects only");
                match map.get(key) {
                    Some(value) => Ok(Val::from_json(value)),
                    None => inherited(&[]),
                }
            }
            Val::Scope(scope) => match key {
                "current" => Ok(scope.0.clone()),
                "accumulator" => Ok(scope.1.clone()),
                _ => inherited(&[]),
            },
        }
    }

    /// The answer as `JSON.stringify` writes it (undefined, NaN and the infinities as `null`, `-0` as `0`).
    pub(super) fn to_json(&self) -> Value {
        match self {
            Val::Undefined | Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Num(n) => number_json(*n),
            Val::Str(s) => s.to_json(),
            Val::Json(v) => (*v).clone(),
            Val::Root(map) => Value::Object((*map).clone()),
            Val::Array(items) => Value::Array(items.iter().map(Val::to_json).collect()),
            Val::Scope(scope) => {
                let mut map = Map::new();
                for (key, value) in [("current", &scope.0), ("accumulator", &scope.1)] {
                    if !matches!(value, Val::Undefined) {
                        map.insert(key.into(), value.to_json());
                    }
                }
                Value::Object(map)
            }
        }
    }

    /// The answer in the conformance test's exact form: `undefined`, `NaN`, `±Infinity`, `-0` and strings that
    /// are not well formed as `{"$js": …}`, objects as `{"$object": {…}}`.
    pub(super) fn to_exact(&self) -> Value {
        match self {
            Val::Undefined => json!({"$js": "undefined"}),
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Num(n) if n.is_nan() => json!({"$js": "NaN"}),
            Val::Num(n) if n.is_infinite() => json!({"$js": if *n > 0.0 { "Infinity" } else { "-Infinity" }}),
            Val::Num(n) if *n == 0.0 && n.is_sign_negative() => json!({"$js": "-0"}),
            Val::Num(n) => number_json(*n),
            Val::Str(s) => s.to_exact(),
            Val::Json(Value::Array(_)) | Val::Array(_) => {
                Value::Array(self.elements().expect("an array").iter().map(Val::to_exact).collect())
            }
            Val::Json(_) | Val::Root(_) => {
                let map = self.as_object().expect("Json holds arrays and objects only");
                json!({"$object": map.iter().map(|(k, v)| (k.clone(), Val::from_json(v).to_exact())).collect::<Map<_, _>>()})
            }
            Val::Scope(scope) => json!({"$object": {"current": scope.0.to_exact(), "accumulator": scope.1.to_exact()}}),
        }
    }
}

impl Prim<'_> {
    /// `ToNumber` of a primitive.
    pub(super) fn to_number(&self) -> f64 {
        match self {
            Prim::Undefined => f64::NAN,
            Prim::Null => 0.0,
            Prim::Bool(b) => f64::from(u8::from(*b)),
            Prim::Num(n) => *n,
            Prim::Str(s) => string_to_number(&s.lossy()),
        }
    }
}

/// `Array.prototype.join(",")`: `null` and `undefined` elements become empty strings.
fn join<'a>(items: impl Iterator<Item = Val<'a>>, cx: &Cx) -> Text<'a> {
    let mut out: Vec<Text<'a>> = Vec::new();
    for item in items {
        out.push(if matches!(item, Val::Null | Val::Undefined) {
            Text::Utf8(Cow::Borrowed(""))
        } else {
            item.to_text(cx)
        });
    }
    concat(&out, ",", cx)
}

/// The strings `parts` joined by `sep`, charged to the budget.
pub(super) fn concat<'a>(parts: &[Text<'a>], sep: &str, cx: &Cx) -> Text<'a> {
    if parts.iter().all(|p| matches!(p, Text::Utf8(_))) {
        let joined = parts.iter().map(|p| p.lossy()).collect::<Vec<_>>().join(sep);
        cx.charge(joined.len());
        return Text::owned(joined);
    }
    let sep: Vec<u16> = sep.encode_utf16().collect();
    let mut units = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            units.extend_from_slice(&sep);
        }
        units.extend_from_slice(&part.units());
    }
    cx.charge(units.len());
    Text::from_units(units)
}

/// A number as `JSON.stringify` writes it: NaN and the infinities as `null`, `-0` as `0`.
pub(super) fn number_json(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        #[allow(clippy::cast_possible_truncation)]
        return Value::from(n as i64);
    }
    serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
}

/// `SameValue` of two objects: the very same array or object.
fn same_object(a: &Val<'_>, b: &Val<'_>) -> bool {
    match (a, b) {
        (Val::Json(x), Val::Json(y)) => std::ptr::eq(*x, *y),
        (Val::Root(x), Val::Root(y)) => std::ptr::eq(*x, *y),
        (Val::Array(x), Val::Array(y)) => Rc::ptr_eq(x, y),
        (Val::Scope(x), Val::Scope(y)) => Rc::ptr_eq(x, y),
        _ => false,
    }
}

/// JavaScript's `a == b` (IsLooselyEqual, ECMA-262 7.2.14).
pub(super) fn loose_eq(a: &Val<'_>, b: &Val<'_>, cx: &Cx) -> bool {
    match (a, b) {
        (x, y) if x.is_object() && y.is_object() => same_object(x, y),
        (Val::Null | Val::Undefined, Val::Null | Val::Undefined) => true,
        (Val::Null | Val::Undefined, _) | (_, Val::Null | Val::Undefined) => false,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Num(x), Val::Num(y)) => x == y,
        (Val::Str(x), Val::Str(y)) => x.same(y),
        (Val::Num(n), Val::Str(s)) | (Val::Str(s), Val::Num(n)) => *n == string_to_number(&s.lossy()),
        (Val::Bool(x), y) => loose_eq(&Val::Num(f64::from(u8::from(*x))), y, cx),
        (x, Val::Bool(y)) => loose_eq(x, &Val::Num(f64::from(u8::from(*y))), cx),
        // An object against a number or string: its ToPrimitive, always a string here.
        (object, other) if object.is_object() => loose_eq(&Val::Str(object.to_text(cx)), other, cx),
        (other, object) if object.is_object() => loose_eq(other, &Val::Str(object.to_text(cx)), cx),
        _ => false,
    }
}

/// JavaScript's `a === b` (also what `Array.prototype.indexOf` uses).
pub(super) fn strict_eq(a: &Val<'_>, b: &Val<'_>) -> bool {
    match (a, b) {
        (Val::Undefined, Val::Undefined) | (Val::Null, Val::Null) => true,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Num(x), Val::Num(y)) => x == y,
        (Val::Str(x), Val::Str(y)) => x.same(y),
        (x, y) => same_object(x, y),
    }
}

/// JavaScript's `x < y` (IsLessThan, ECMA-262 7.2.13): `None` when a side is NaN (then `<`, `<=`, `>`, `>=`
/// are all false).
pub(super) fn less(x: &Val<'_>, y: &Val<'_>, cx: &Cx) -> Option<bool> {
    let (x, y) = (x.to_primitive(cx), y.to_primitive(cx));
    if let (Prim::Str(a), Prim::Str(b)) = (&x, &y) {
        return Some(a.cmp16(b) == Ordering::Less);
    }
    let (a, b) = (x.to_number(), y.to_number());
    if a.is_nan() || b.is_nan() { None } else { Some(a < b) }
}

/// Whether `c` is JavaScript white space or a line terminator (what `StringToNumber` and `parseFloat` trim).
fn js_space(c: char) -> bool {
    matches!(
        c,
        '\u{9}' | '\u{a}' | '\u{b}' | '\u{c}' | '\u{d}' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}' | '\u{feff}'
    )
}

/// JavaScript's `ToNumber` of a string (ECMA-262 7.1.4.1.1): trimmed; empty is 0; decimal literals with an
/// optional sign, `Infinity`, and unsigned `0x`/`0o`/`0b` integers; anything else is NaN.
pub(super) fn string_to_number(s: &str) -> f64 {
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
    if decimal_prefix(unsigned) != unsigned.len() {
        return f64::NAN;
    }
    s.parse().unwrap_or(f64::NAN)
}

/// The length of the longest prefix of `s` that is a `StrUnsignedDecimalLiteral` without `Infinity`: digits
/// with an optional fraction (at least one digit in all), then an optional exponent. 0 when there is none.
fn decimal_prefix(s: &str) -> usize {
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
        return 0;
    }
    let end = i;
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        i += 1;
        if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) > 0 {
            return i;
        }
    }
    end
}

/// JavaScript's `parseFloat(String(value))`: the longest decimal prefix after leading white space, NaN when
/// there is none (so `"12abc"` is 12, `"0x10"` is 0, `""` is NaN, and `-0` comes back as `0`).
pub(super) fn parse_float(value: &Val<'_>, cx: &Cx) -> f64 {
    if let Val::Num(n) = value {
        // String(n) then parseFloat gives n back, except -0, whose string is "0".
        return if *n == 0.0 { 0.0 } else { *n };
    }
    let text = value.to_text(cx);
    let text = text.lossy();
    let s = text.trim_start_matches(js_space);
    let (negative, unsigned) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if unsigned.starts_with("Infinity") {
        return if negative { f64::NEG_INFINITY } else { f64::INFINITY };
    }
    let len = decimal_prefix(unsigned);
    if len == 0 {
        return f64::NAN;
    }
    let n: f64 = unsigned[..len].parse().unwrap_or(f64::NAN);
    if negative { -n } else { n }
}

/// `ToIntegerOrInfinity`.
pub(super) fn to_integer(n: f64) -> f64 {
    if n.is_nan() { 0.0 } else { n.trunc() + 0.0 }
}

/// JavaScript's `Number.prototype.toString()` (ECMA-262 6.1.6.1.20): the shortest digits that round-trip,
/// plain from 1e-6 up to 1e21, in exponent form (`1e+21`, `1.5e-7`) outside; `-0` is `"0"`.
pub(super) fn number_to_string(n: f64) -> String {
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
