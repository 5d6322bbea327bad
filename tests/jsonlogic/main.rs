//! Conformance of the server's condition evaluator with json-logic-js 2.0.5, the browser's engine: a generated
//! table — every operator of the template subset × values of every JSON type — is evaluated by json-logic-js
//! itself (node, `eval.js`, pinned by `package-lock.json`; `npm ci` in this folder) and by
//! `gantry_actors::catalog::templates::logic`, and every answer must agree. Without node or the installed
//! package the suite is skipped loudly; with `GANTRY_REQUIRE_BACKENDS=1` (CI) that is a failure instead.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use gantry_actors::catalog::templates::logic;
use serde_json::{Map, Value, json};

/// The form values the table is made of: every JSON type, and the values JavaScript converts surprisingly.
fn values() -> Vec<Value> {
    vec![
        json!(null),
        json!(true),
        json!(false),
        json!(0),
        json!(1),
        json!(-1),
        json!(0.5),
        json!(10),
        json!(9),
        json!(1e21),
        json!(""),
        json!(" "),
        json!("0"),
        json!("1"),
        json!("10"),
        json!("9"),
        json!(" 1 "),
        json!("0x10"),
        json!("1e1"),
        json!("true"),
        json!("false"),
        json!("null"),
        json!("a"),
        json!("abc"),
        json!("b"),
        json!("Infinity"),
        json!("[object Object]"),
        json!("a,b"),
        json!("é"),
        json!([]),
        json!(["a"]),
        json!([1]),
        json!([0]),
        json!([10]),
        json!(["a", "b"]),
        json!([[]]),
        json!([null]),
        json!([["a"]]),
        json!({}),
        json!({"a": 1}),
        json!({"a": {"b": [1, "x"]}}),
        json!({"indexOf": 1}),
    ]
}

/// The literal operands a condition may write (objects are not literals in the subset).
fn literals() -> Vec<Value> {
    values().into_iter().filter(|v| !v.is_object()).collect()
}

/// Every case: (condition, form values).
fn table() -> Vec<(Value, Map<String, Value>)> {
    let values = values();
    let data = |pairs: &[(&str, &Value)]| -> Map<String, Value> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).clone())).collect()
    };
    let var = |name: &str| json!({"var": name});
    let mut cases = Vec::new();
    let binary = ["==", "!=", "<", "<=", ">", ">=", "in"];
    for x in &values {
        // Unary operators, the value on its own, a missing field, a default, identity with itself.
        for op in ["!", "!!"] {
            cases.push((json!({op: var("x")}), data(&[("x", x)])));
            cases.push((json!({op: [var("x")]}), data(&[("x", x)])));
        }
        cases.push((var("x"), data(&[("x", x)])));
        if !x.is_object() && !x.is_array() {
            cases.push((json!({"var": ["missing", x]}), data(&[("x", x)])));
            cases.push((json!({"==": [{"var": ["missing", x]}, var("x")]}), data(&[("x", x)])));
        }
        for op in binary {
            cases.push((json!({op: [var("x"), var("x")]}), data(&[("x", x)])));
            cases.push((json!({op: [var("x"), var("missing")]}), data(&[("x", x)])));
            cases.push((json!({op: [var("missing"), var("x")]}), data(&[("x", x)])));
        }
        for y in &values {
            let xy = data(&[("x", x), ("y", y)]);
            for op in binary {
                cases.push((json!({op: [var("x"), var("y")]}), xy.clone()));
            }
            for op in ["and", "or"] {
                cases.push((json!({op: [var("x"), var("y")]}), xy.clone()));
            }
        }
        for literal in literals() {
            for op in binary {
                cases.push((json!({op: [var("x"), literal.clone()]}), data(&[("x", x)])));
                cases.push((json!({op: [literal.clone(), var("x")]}), data(&[("x", x)])));
            }
        }
        // Arrays written in the condition, holding operations.
        cases.push((json!({"in": [var("x"), ["a", 1, null, true, var("x")]]}), data(&[("x", x)])));
        cases.push((json!({"in": [var("x"), ["a", 1, null, true]]}), data(&[("x", x)])));
        cases.push((json!({"==": [[var("x")], var("x")]}), data(&[("x", x)])));
        cases.push((json!({"and": [true, var("x"), 1]}), data(&[("x", x)])));
        cases.push((json!({"or": [false, {"!": var("x")}, 0]}), data(&[("x", x)])));
        cases.push((json!({"and": var("x")}), data(&[("x", x)])));
    }
    // The "between" form of < and <=.
    let small = [json!(null), json!(0), json!(1), json!(5), json!("3"), json!(""), json!([2]), json!("a"), json!(true)];
    for op in ["<", "<="] {
        for a in &small {
            for b in &small {
                for c in &small {
                    let abc = data(&[("a", a), ("b", b), ("c", c)]);
                    cases.push((json!({op: [var("a"), var("b"), var("c")]}), abc));
                }
            }
        }
    }
    cases
}

/// json-logic-js's answers, or `None` (after saying so loudly) when node or the package is not installed.
fn run_node(cases: &[(Value, Map<String, Value>)]) -> Option<Vec<Value>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/jsonlogic");
    let installed = dir.join("node_modules/json-logic-js/package.json").is_file();
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
    let table: Vec<Value> = cases.iter().map(|(l, d)| json!([l, d])).collect();
    serde_json::to_writer(&mut input, &table).expect("the table is written");
    let output = Command::new("node").arg(dir.join("eval.js")).arg(input.path()).output().expect("node runs");
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

/// Every condition of the table is in the subset, and the server answers it exactly as json-logic-js does:
/// the same value (or both fail), hence the same visible/required decision.
#[test]
fn server_conditions_answer_as_json_logic_js() {
    let cases = table();
    for (logic, _) in &cases {
        let mut problems = Vec::new();
        logic::check(logic, "condition", &mut Vec::new(), &mut |code, message| problems.push((code, message)));
        assert!(problems.is_empty(), "the table holds a condition the checker refuses: {logic}: {problems:?}");
    }
    let Some(answers) = run_node(&cases) else { return };
    let mut mismatches = Vec::new();
    for ((logic, data), js) in cases.iter().zip(&answers) {
        let server = logic::apply(logic, data);
        let agree = match (&server, js.get("value")) {
            (Ok(value), Some(expected)) => {
                same(value, expected) && logic::holds(logic, data) == (js["truthy"] == json!(true))
            }
            (Err(_), None) => !logic::holds(logic, data),
            _ => false,
        };
        if !agree {
            mismatches
                .push(format!("{logic} with {} → server {server:?}, json-logic-js {js}", Value::Object(data.clone())));
        }
    }
    let _ = writeln!(
        std::io::stderr(),
        "json-logic-js conformance: {} cases, {} mismatches",
        cases.len(),
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ from json-logic-js; the first 40:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}
