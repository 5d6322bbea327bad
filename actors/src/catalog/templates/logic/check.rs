//! The import checks of a condition: operators json-logic-js knows, their number of arguments, the fields a
//! `var` (or a `missing` key) names, and the bounds (depth, size, nesting of `map`/`filter`/`reduce`/…).
//! Every problem names its path inside the condition (`visibleIf/and/1/<`).

use serde_json::Value;

use super::value::is_builtin;
use crate::catalog::templates::issues::valid_name;

/// The operators conditions may use: every operator json-logic-js 2.0.5 evaluates.
pub const OPERATORS: [&str; 35] = [
    "var",
    "missing",
    "missing_some",
    "if",
    "?:",
    "==",
    "===",
    "!=",
    "!==",
    "!",
    "!!",
    "or",
    "and",
    "<",
    "<=",
    ">",
    ">=",
    "max",
    "min",
    "+",
    "-",
    "*",
    "/",
    "%",
    "map",
    "filter",
    "reduce",
    "all",
    "none",
    "some",
    "merge",
    "in",
    "cat",
    "substr",
    "log",
];

/// How deep a condition may nest (every array and object is a level).
pub const MAX_DEPTH: usize = 32;
/// How many JSON values a condition may hold.
pub const MAX_NODES: usize = 1_000;
/// How deep `map`, `filter`, `reduce`, `all`, `none` and `some` may nest inside one another.
pub const MAX_ITERATION_NESTING: usize = 2;

/// `report(code, path, what)`.
pub(super) type Report<'r> = dyn FnMut(&'static str, &str, String) + 'r;

/// What `var` reads where it stands.
#[derive(Clone, Copy, PartialEq)]
enum Scope {
    /// The form values: a path starts with a field name.
    Form,
    /// An element of `map`, `filter`, `all`, `none`, `some`: anything.
    Element,
    /// A step of `reduce`: `current` or `accumulator`.
    Reduce,
}

/// The minimum and maximum number of arguments of `op`, and how to say it.
fn arity(op: &str) -> (usize, usize, &'static str) {
    match op {
        "!" | "!!" | "log" => (1, 1, "one argument"),
        "==" | "===" | "!=" | "!==" | ">" | ">=" | "in" | "/" | "%" | "missing_some" => (2, 2, "two arguments"),
        "map" | "filter" | "all" | "none" | "some" => (2, 2, "two arguments (an array and the logic for each element)"),
        "<" | "<=" => (2, 3, "two or three arguments"),
        "substr" => (2, 3, "two or three arguments"),
        "reduce" => (2, 3, "two or three arguments (an array, the logic, the initial value)"),
        "-" => (1, 2, "one or two arguments"),
        "var" => (0, 2, "a path, or [path, default]"),
        _ => (1, usize::MAX, "at least one argument"),
    }
}

/// Walks one condition.
pub(super) struct Checker<'c, 'r> {
    /// Field names the condition reads (first parts of its paths at the form's level).
    pub(super) vars: &'c mut Vec<String>,
    /// Where problems go.
    pub(super) report: &'c mut Report<'r>,
    /// Values seen so far.
    nodes: usize,
}

impl<'c, 'r> Checker<'c, 'r> {
    pub(super) fn new(vars: &'c mut Vec<String>, report: &'c mut Report<'r>) -> Self {
        Self { vars, report, nodes: 0 }
    }

    /// Checks `logic` found at `path`.
    pub(super) fn check(&mut self, logic: &Value, path: &str) {
        self.node(logic, path, 1, Scope::Form, 0);
    }

    /// Counts a value; false (after reporting once) when the condition is too large or too deep.
    fn count(&mut self, path: &str, depth: usize) -> bool {
        self.nodes += 1;
        if self.nodes == MAX_NODES + 1 {
            (self.report)(
                "condition_too_complex",
                path,
                format!("a condition holds at most {MAX_NODES} values (operations, arguments, literals)"),
            );
        }
        if depth > MAX_DEPTH {
            (self.report)("condition_too_complex", path, format!("a condition nests at most {MAX_DEPTH} levels"));
            return false;
        }
        self.nodes <= MAX_NODES
    }

    /// A value written as it is (a literal): counted, not evaluated.
    fn literal(&mut self, value: &Value, path: &str, depth: usize) {
        if !self.count(path, depth) {
            return;
        }
        match value {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.literal(item, &format!("{path}/{i}"), depth + 1);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    self.literal(item, &format!("{path}/{key}"), depth + 1);
                }
            }
            _ => {}
        }
    }

    fn node(&mut self, logic: &Value, path: &str, depth: usize, scope: Scope, nesting: usize) {
        match logic {
            Value::Array(items) => {
                if !self.count(path, depth) {
                    return;
                }
                for (i, item) in items.iter().enumerate() {
                    self.node(item, &format!("{path}/{i}"), depth + 1, scope, nesting);
                }
            }
            Value::Object(map) if map.len() == 1 => {
                if !self.count(path, depth) {
                    return;
                }
                let (op, args) = map.iter().next().expect("one key");
                let here = format!("{path}/{op}");
                self.operation(op, args, &here, depth, scope, nesting);
            }
            // An object with zero or several keys is a value in json-logic-js, not an operation.
            Value::Object(_) => self.literal(logic, path, depth),
            _ => {
                self.count(path, depth);
            }
        }
    }

    fn operation(&mut self, op: &str, args: &Value, here: &str, depth: usize, scope: Scope, nesting: usize) {
        if !OPERATORS.contains(&op) {
            let hint = match super::eval::function(op) {
                Some(base) => format!("; write {base:?}"),
                None => String::new(),
            };
            (self.report)(
                "unsupported_operator",
                here,
                format!("operator {op:?} is not a json-logic-js 2.0.5 operator{hint}"),
            );
            return;
        }
        let list: &[Value] = match args {
            Value::Array(items) => items,
            single => std::slice::from_ref(single),
        };
        let (min, max, expected) = arity(op);
        if !(min..=max).contains(&list.len()) {
            (self.report)("invalid_arity", here, format!("{op} takes {expected}, not {}", list.len()));
        }
        // Arguments sit one level below the operation, two when they are in an array.
        let in_array = matches!(args, Value::Array(_));
        let arg_depth = if in_array { depth + 2 } else { depth + 1 };
        let arg_path = |here: &str, i: usize| if in_array { format!("{here}/{i}") } else { here.to_owned() };
        if matches!(args, Value::Array(_)) && !self.count(here, depth + 1) {
            return;
        }
        match op {
            "var" => self.var(list, here, arg_depth, scope, nesting, &arg_path),
            "map" | "filter" | "all" | "none" | "some" | "reduce" => {
                let inner = if op == "reduce" { Scope::Reduce } else { Scope::Element };
                if nesting >= MAX_ITERATION_NESTING {
                    (self.report)(
                        "condition_too_complex",
                        here,
                        format!("map, filter, reduce, all, none and some nest at most {MAX_ITERATION_NESTING} deep"),
                    );
                }
                for (i, arg) in list.iter().enumerate() {
                    let (arg_scope, arg_nesting) = if i == 1 { (inner, nesting + 1) } else { (scope, nesting) };
                    self.node(arg, &arg_path(here, i), arg_depth, arg_scope, arg_nesting);
                }
            }
            "missing" | "missing_some" => {
                for (i, arg) in list.iter().enumerate() {
                    let at = arg_path(here, i);
                    if op == "missing" || i == 1 {
                        self.keys(arg, &at, scope);
                    }
                    self.node(arg, &at, arg_depth, scope, nesting);
                }
            }
            _ => {
                for (i, arg) in list.iter().enumerate() {
                    self.node(arg, &arg_path(here, i), arg_depth, scope, nesting);
                }
            }
        }
    }

    /// `var`: a literal path (a string, or a number), or `[path, default]`; the default may be any logic.
    fn var(
        &mut self,
        list: &[Value],
        here: &str,
        depth: usize,
        scope: Scope,
        nesting: usize,
        arg_path: &dyn Fn(&str, usize) -> String,
    ) {
        for (i, arg) in list.iter().enumerate().skip(1) {
            self.node(arg, &arg_path(here, i), depth, scope, nesting);
        }
        match list.first() {
            Some(first @ (Value::String(_) | Value::Number(_))) => {
                self.count(&arg_path(here, 0), depth);
                let path = match first {
                    Value::String(s) => s.clone(),
                    number => number.to_string(),
                };
                self.path(&path, here, scope);
            }
            None | Some(Value::Null) => self.path("", here, scope),
            Some(_) => (self.report)(
                "invalid_var",
                here,
                "var takes a literal path (a field name, dotted parts), not an operation or a list".into(),
            ),
        }
    }

    /// A path `var` or `missing` reads in `scope`.
    fn path(&mut self, path: &str, here: &str, scope: Scope) {
        if path.is_empty() {
            if scope == Scope::Form {
                (self.report)("invalid_var", here, "var \"\" reads the whole form; name a field".into());
            }
            return;
        }
        if let Some(part) = path.split('.').find(|p| is_builtin(p)) {
            (self.report)(
                "invalid_var",
                here,
                format!("var {path:?} reads {part:?}, a JavaScript built-in property, not data"),
            );
            return;
        }
        let first = path.split('.').next().unwrap_or_default();
        match scope {
            Scope::Form if valid_name(first) => self.vars.push(first.to_owned()),
            Scope::Form => (self.report)("invalid_var", here, format!("var {path:?} does not start with a field name")),
            Scope::Reduce if first != "current" && first != "accumulator" => (self.report)(
                "invalid_var",
                here,
                format!("inside reduce, var reads \"current\" or \"accumulator\", not {path:?}"),
            ),
            Scope::Reduce | Scope::Element => {}
        }
    }

    /// The literal keys of `missing` and `missing_some`: strings and numbers, in arrays, in `merge` and in the
    /// branches of `if` (`{"missing": {"merge": ["vin", {"if": [{"var": "financing"}, ["apr"], []]}]}}`). Keys
    /// computed otherwise are read when the condition runs.
    fn keys(&mut self, keys: &Value, here: &str, scope: Scope) {
        match keys {
            Value::String(s) => self.path(s, here, scope),
            Value::Number(n) => self.path(&n.to_string(), here, scope),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.keys(item, &format!("{here}/{i}"), scope);
                }
            }
            Value::Object(map) if map.len() == 1 => {
                let (op, args) = map.iter().next().expect("one key");
                let at = format!("{here}/{op}");
                let list: &[Value] = match args {
                    Value::Array(items) => items,
                    single => std::slice::from_ref(single),
                };
                let branch = |i: usize| match op.as_str() {
                    "merge" => true,
                    // Values sit at odd places, and the last one is the else.
                    "if" | "?:" => i % 2 == 1 || i + 1 == list.len(),
                    _ => false,
                };
                for (i, arg) in list.iter().enumerate() {
                    if branch(i) {
                        let at = if matches!(args, Value::Array(_)) { format!("{at}/{i}") } else { at.clone() };
                        self.keys(arg, &at, scope);
                    }
                }
            }
            _ => {}
        }
    }
}
