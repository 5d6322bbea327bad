//! Conformance of the server's condition evaluator with json-logic-js 2.0.5, the browser's engine. Every case
//! is evaluated by json-logic-js itself (node, `eval.js`, pinned by `package-lock.json`; `npm ci` in this
//! folder) and by `gantry_actors::catalog::templates::logic`, and the answers must be the same value —
//! `undefined`, NaN, `-0` and object-ness included — with the same truthiness, or both must throw:
//!
//! - the suites published for json-logic-js: jsonlogic.com's `tests.json` and `rule_like.json` (each rule and
//!   each pattern applied as logic), and the community compatibility tables' inputs (`suites/compat-tables`,
//!   their expected answers follow the community spec; json-logic-js is the reference here);
//! - generated conditions: every operator over hostile values (numbers as strings, `null`, `""`, arrays,
//!   objects, `1e21`, `-0`, booleans, …) as arguments, as data, as paths.
//!
//! Without node or the installed package the suite is skipped loudly; with `GANTRY_REQUIRE_BACKENDS=1` (CI)
//! that is a failure instead.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use gantry_actors::catalog::templates::logic;
use serde_json::{Value, json};

/// One case: the condition, the data, and whether a template could import it (its `var`s name the fields
/// `x`, `y`, `z` of the data).
struct Case {
    logic: Value,
    data: Value,
    importable: bool,
    source: &'static str,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/jsonlogic")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The values the generated cases are made of: every JSON type, and what JavaScript converts surprisingly.
fn hostile() -> Vec<Value> {
    vec![
        json!(null),
        json!(true),
        json!(false),
        json!(0),
        json!(-0.0),
        json!(1),
        json!(-1),
        json!(0.5),
        json!(-2.5),
        json!(10),
        json!(9),
        json!(1e21),
        json!(1.5e-7),
        json!(9_007_199_254_740_993_u64),
        json!(0.1),
        json!(""),
        json!(" "),
        json!("0"),
        json!("-0"),
        json!("1"),
        json!("10"),
        json!("9"),
        json!(" 1 "),
        json!("0x10"),
        json!("1e1"),
        json!("1e21"),
        json!("12abc"),
        json!(".5"),
        json!("-1"),
        json!("true"),
        json!("false"),
        json!("null"),
        json!("a"),
        json!("abc"),
        json!("b"),
        json!("Infinity"),
        json!("-Infinity"),
        json!("[object Object]"),
        json!("a,b"),
        json!("é"),
        json!("😀"),
        json!("\u{a0}7\t"),
        json!([]),
        json!(["a"]),
        json!([1]),
        json!([0]),
        json!(["-1"]),
        json!([10]),
        json!(["a", "b"]),
        json!([[]]),
        json!([null]),
        json!([["a"]]),
        json!([1, [2, 3]]),
        json!({}),
        json!({"a": 1}),
        json!({"a": {"b": [1, "x"]}}),
        json!({"indexOf": 1}),
        json!({"length": 2}),
    ]
}

/// The hostile values a condition can write as literals (objects with one key would be operations).
fn literals() -> Vec<Value> {
    hostile().into_iter().filter(|v| v.as_object().is_none_or(|m| m.len() != 1)).collect()
}

fn var(name: &str) -> Value {
    json!({"var": name})
}

/// Every operator over hostile values.
fn generated() -> Vec<Case> {
    let values = hostile();
    let mut cases = Vec::new();
    let mut push = |logic: Value, data: Value, importable: bool| {
        cases.push(Case { logic, data, importable, source: "generated" });
    };
    let binary = [
        "==",
        "===",
        "!=",
        "!==",
        "<",
        "<=",
        ">",
        ">=",
        "in",
        "+",
        "-",
        "*",
        "/",
        "%",
        "min",
        "max",
        "cat",
        "merge",
        "and",
        "or",
        "substr",
        "if",
        "?:",
        "missing",
        "missing_some",
    ];
    let unary = ["!", "!!", "-", "+", "*", "min", "max", "cat", "merge", "log", "if", "and", "or", "missing"];
    for x in &values {
        let dx = json!({"x": x});
        push(var("x"), dx.clone(), true);
        for op in unary {
            push(json!({op: var("x")}), dx.clone(), true);
            push(json!({op: [var("x")]}), dx.clone(), true);
        }
        for op in binary {
            push(json!({op: [var("x"), var("x")]}), dx.clone(), true);
            push(json!({op: [var("x"), var("missing")]}), dx.clone(), false);
            push(json!({op: [var("missing"), var("x")]}), dx.clone(), false);
        }
        for y in &values {
            let dxy = json!({"x": x, "y": y});
            for op in binary {
                push(json!({op: [var("x"), var("y")]}), dxy.clone(), true);
            }
        }
        for literal in literals() {
            for op in binary {
                // A literal key of `missing` must be a field name to import.
                let importable = !op.starts_with("missing");
                push(json!({op: [var("x"), literal.clone()]}), dx.clone(), importable);
                push(json!({op: [literal.clone(), var("x")]}), dx.clone(), importable);
            }
        }
        // Defaults, arrays written in the condition holding operations, literal objects.
        if x.as_object().is_none_or(|m| m.len() != 1) {
            push(json!({"var": ["missing", x]}), dx.clone(), false);
            push(json!({"==": [{"var": ["y", x]}, var("x")]}), dx.clone(), true);
            push(json!({"===": [x, x]}), dx.clone(), false);
        }
        push(json!({"in": [var("x"), ["a", 1, null, true, var("x")]]}), dx.clone(), true);
        push(json!({"==": [[var("x")], var("x")]}), dx.clone(), true);
        push(json!({"==": [var("x"), {"a": 1, "b": 2}]}), dx.clone(), true);
        push(json!({"cat": [var("x"), [var("x"), null, [var("x")]], {}]}), dx.clone(), true);
        push(json!({"+": [var("x"), "1", [2], true]}), dx.clone(), true);
        push(json!({"*": [var("x"), "2", var("x")]}), dx.clone(), true);
        // Iteration over the value, whatever it is.
        for (op, inner) in [
            ("map", json!({"+": [{"var": ""}, 1]})),
            ("map", json!({"var": "a"})),
            ("map", json!({"cat": [{"var": ""}, "!"]})),
            ("filter", json!({"var": ""})),
            ("filter", json!({"!": {"var": ""}})),
            ("all", json!({"var": ""})),
            ("none", json!({"var": ""})),
            ("some", json!({"var": ""})),
            ("some", json!({"==": [{"var": ""}, "a"]})),
            ("all", json!({">=": [{"var": ""}, 0]})),
        ] {
            push(json!({op: [var("x"), inner]}), dx.clone(), true);
        }
        for (inner, initial) in [
            (json!({"+": [{"var": "current"}, {"var": "accumulator"}]}), Some(json!(0))),
            (json!({"cat": [{"var": "accumulator"}, {"var": "current"}]}), Some(json!(""))),
            (json!({"merge": [{"var": "accumulator"}, {"var": "current"}]}), Some(json!([]))),
            (json!({"var": "current"}), None),
            (json!({"max": [{"var": "current"}, {"var": "accumulator"}]}), Some(var("x"))),
        ] {
            let mut args = vec![var("x"), inner];
            args.extend(initial);
            push(json!({"reduce": args}), dx.clone(), true);
        }
        // The value as the whole data: paths into it (indexes, `length`), the data itself.
        for path in ["", "0", "1", "length", "a", "a.b", "a.b.0", "a.b.1", "a.b.length", "0.0", "1.0", "01", "-1"] {
            push(json!({"var": path}), x.clone(), false);
            push(json!({"var": [path, "d"]}), x.clone(), false);
        }
        push(json!({"var": null}), x.clone(), false);
        push(json!({"var": []}), x.clone(), false);
        push(json!({"var": 0}), x.clone(), false);
        push(json!({"missing": ["a", "0", "length"]}), x.clone(), false);
        push(json!({"map": [{"var": ""}, {"var": ""}]}), x.clone(), false);
        // Paths through the value as a field.
        for path in ["x.0", "x.1", "x.length", "x.a", "x.a.b", "x.a.b.1", "x.0.0"] {
            push(json!({"var": path}), dx.clone(), true);
            push(json!({"missing": [path, "y"]}), dx.clone(), true);
        }
        // missing_some with hostile counts and key lists.
        for need in [json!(0), json!(1), json!(2), json!("1"), json!(null), json!([1])] {
            push(json!({"missing_some": [need.clone(), ["x", "y", "z"]]}), dx.clone(), true);
            push(json!({"missing_some": [var("x"), ["x", "y"]]}), json!({"x": need, "y": x}), true);
        }
        // `substr` with hostile positions and lengths.
        for start in [json!(0), json!(1), json!(-1), json!(-10), json!("2"), json!(null), json!(1.7), json!([1])] {
            for length in [json!(null), json!(1), json!(-1), json!(-10), json!("-1"), json!(100), json!([-1])] {
                push(json!({"substr": [var("x"), start.clone(), length.clone()]}), dx.clone(), true);
            }
            push(json!({"substr": ["jsonlogic😀é", start.clone(), var("x")]}), dx.clone(), true);
        }
        // `if` chains with the value as a condition.
        for n in 0..=5 {
            let args: Vec<Value> = (0..n).map(|i| if i % 2 == 0 { var("x") } else { json!(i) }).collect();
            push(json!({"if": args}), dx.clone(), n > 0);
        }
    }
    // The "between" form of < and <=.
    let small = [
        json!(null),
        json!(0),
        json!(1),
        json!(5),
        json!("3"),
        json!(""),
        json!([2]),
        json!("a"),
        json!(true),
        json!(-0.0),
    ];
    for op in ["<", "<="] {
        for a in &small {
            for b in &small {
                for c in &small {
                    let abc = json!({"x": a, "y": b, "z": c});
                    push(json!({op: [var("x"), var("y"), var("z")]}), abc, true);
                }
            }
        }
    }
    cases
}

/// jsonlogic.com's `tests.json` ([rule, data, expected]) and `rule_like.json` ([rule, pattern, expected]: both
/// applied as logic, on no data and on data of every type), and the compatibility tables' inputs.
fn published() -> Vec<Case> {
    let suites = dir().join("suites");
    let mut cases = Vec::new();
    for case in read_json(&suites.join("jsonlogic.com/tests.json")).as_array().expect("a list") {
        if let Some([logic, data, _]) = case.as_array().map(Vec::as_slice) {
            cases.push(Case { logic: logic.clone(), data: data.clone(), importable: false, source: "tests.json" });
        }
    }
    let data = [json!({}), json!(null), json!({"a": 1, "b": [1, 2]}), json!([1, "a"]), json!("a")];
    for case in read_json(&suites.join("jsonlogic.com/rule_like.json")).as_array().expect("a list") {
        if let Some([rule, pattern, _]) = case.as_array().map(Vec::as_slice) {
            for logic in [rule, pattern] {
                for d in &data {
                    cases.push(Case {
                        logic: logic.clone(),
                        data: d.clone(),
                        importable: false,
                        source: "rule_like.json",
                    });
                }
            }
        }
    }
    let compat = suites.join("compat-tables");
    for file in read_json(&compat.join("index.json")).as_array().expect("a list") {
        let file = file.as_str().expect("a file name");
        for case in read_json(&compat.join(file)).as_array().expect("a list") {
            if let Some(rule) = case.get("rule") {
                let data = case.get("data").cloned().unwrap_or(Value::Null);
                cases.push(Case { logic: rule.clone(), data, importable: false, source: "compat-tables" });
            }
        }
    }
    cases
}

/// json-logic-js's answers, or `None` (after saying so loudly) when node or the package is not installed.
fn run_node(cases: &[Case]) -> Option<Vec<Value>> {
    let installed = dir().join("node_modules/json-logic-js/package.json").is_file();
    let node = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if !installed || !node {
        assert!(
            std::env::var("GANTRY_REQUIRE_BACKENDS").as_deref() != Ok("1"),
            "the json-logic-js conformance suite is required (GANTRY_REQUIRE_BACKENDS=1) but node or \
             tests/jsonlogic/node_modules is missing: run `npm ci` in tests/jsonlogic"
        );
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED backend suite `jsonlogic`: install node and run `npm ci` in tests/jsonlogic to run it"
        );
        return None;
    }
    let mut input = tempfile::NamedTempFile::new().expect("a temporary file");
    let table: Vec<Value> = cases.iter().map(|c| json!([c.logic, c.data])).collect();
    serde_json::to_writer(&mut input, &table).expect("the table is written");
    let output = Command::new("node").arg(dir().join("eval.js")).arg(input.path()).output().expect("node runs");
    assert!(output.status.success(), "node failed: {}", String::from_utf8_lossy(&output.stderr));
    let answers: Vec<Value> = serde_json::from_slice(&output.stdout).expect("eval.js prints JSON");
    assert_eq!(answers.len(), cases.len());
    Some(answers)
}

/// JSON equality with numbers compared as JavaScript numbers (`1` and `1.0` are one number).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Every case answers as json-logic-js answers it: the same exact value and truthiness, or both throw. The
/// generated conditions a template could hold pass the import checks.
#[test]
fn server_conditions_answer_as_json_logic_js() {
    let mut cases = published();
    cases.extend(generated());
    let mut refused = Vec::new();
    for case in cases.iter().filter(|c| c.importable) {
        let mut problems = Vec::new();
        logic::check(&case.logic, "condition", &mut Vec::new(), &mut |code, message| problems.push((code, message)));
        if !problems.is_empty() {
            refused.push(format!("{}: {problems:?}", case.logic));
        }
    }
    assert!(
        refused.is_empty(),
        "the checker refuses generated conditions:\n{}",
        refused[..refused.len().min(20)].join("\n")
    );
    let Some(answers) = run_node(&cases) else { return };
    let mut mismatches = Vec::new();
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    let mut both_throw = 0;
    for (case, js) in cases.iter().zip(&answers) {
        *counts.entry(case.source).or_default() += 1;
        let server = logic::evaluate(&case.logic, &case.data);
        let agree = match (&server, js.get("value")) {
            (Ok(answer), Some(expected)) => {
                same(&answer.exact, expected) && answer.truthy == (js["truthy"] == json!(true))
            }
            (Err(_), None) => {
                both_throw += 1;
                true
            }
            _ => false,
        };
        if !agree {
            mismatches.push(format!(
                "[{}] {} with {} → server {server:?}, json-logic-js {js}",
                case.source, case.logic, case.data
            ));
        }
    }
    let _ = writeln!(
        std::io::stderr(),
        "json-logic-js conformance: {} cases ({}; {both_throw} throw in both), {} mismatches",
        cases.len(),
        counts.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "),
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ from json-logic-js; the first 60:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.iter().take(60).cloned().collect::<Vec<_>>().join("\n")
    );
}
