//! Unit tests of the evaluator and the checker: json-logic-js's surprising answers, one by one (the whole
//! comparison with json-logic-js itself is `tests/jsonlogic/`).

use serde_json::{Value, json};

use super::value::{number_to_string, string_to_number};
use super::*;

fn eval_json(logic: Value, data: Value) -> Value {
    apply(&logic, &data).unwrap()
}

fn exact(logic: Value, data: Value) -> Value {
    evaluate(&logic, &data).unwrap().exact
}

/// JavaScript's `==`, `<` and json-logic-js's `in` (the mismatches of a spec-following engine).
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
        (json!({"===": [{"var": "m"}, {"var": "m"}]}), json!({"m": {"a": 1}}), true),
        (json!({"===": [1, "1"]}), json!({}), false),
        (json!({"!==": [null, {"and": []}]}), json!({}), true),
        (json!({"==": [null, {"and": []}]}), json!({}), true),
        (json!({"<": ["10", "9"]}), json!({}), true),
        (json!({"<": [[10], 9]}), json!({}), false),
        (json!({"<=": [null, 0]}), json!({}), true),
        (json!({"<=": ["a", 0]}), json!({}), false),
        (json!({"<": [1, 2, {"and": []}]}), json!({}), true),
        (json!({"in": [null, "a null"]}), json!({}), true),
        (json!({"in": ["", ""]}), json!({}), false),
        (json!({"in": [{"and": []}, [{"and": []}]]}), json!({}), true),
    ];
    for (logic, data, expected) in cases {
        assert_eq!(eval_json(logic.clone(), data.clone()), json!(expected), "{logic} with {data}");
    }
}

/// Arithmetic as json-logic-js does it: `+` and `*` through `parseFloat`, the others through `ToNumber`.
#[test]
fn arithmetic_coerces_as_javascript() {
    let cases = [
        (json!({"+": ["12abc", " 3"]}), json!(15)),
        (json!({"+": "0x10"}), json!(0)),
        (json!({"+": []}), json!(0)),
        (json!({"*": ["3"]}), json!("3")),
        (json!({"*": [[2], "3e1x"]}), json!(60)),
        (json!({"-": ["0x10", 1]}), json!(15)),
        (json!({"-": [[]]}), json!({"$js": "-0"})),
        (json!({"-": [5, {"and": []}]}), json!(-5)),
        (json!({"/": [1, 0]}), json!({"$js": "Infinity"})),
        (json!({"/": [1, {"-": [0]}]}), json!({"$js": "-Infinity"})),
        (json!({"%": [-5, 3]}), json!(-2)),
        (json!({"%": [5, 0]}), json!({"$js": "NaN"})),
        (json!({"max": []}), json!({"$js": "-Infinity"})),
        (json!({"min": [1, "x"]}), json!({"$js": "NaN"})),
        (json!({"min": [0, {"-": [0]}]}), json!({"$js": "-0"})),
        (json!({"max": [{"-": [0]}, 0]}), json!(0)),
        (json!({"+": [{"-": [0]}]}), json!(0)),
        (json!({"*": [-1, 0]}), json!({"$js": "-0"})),
        (json!({"*": [-1, 0, 5]}), json!(0)),
    ];
    for (logic, expected) in cases {
        assert_eq!(exact(logic.clone(), json!({})), expected, "{logic}");
    }
    assert!(evaluate(&json!({"*": []}), &json!({})).is_err(), "reduce of nothing throws");
}

/// `cat`, `substr` and `in` over strings, with JS's number formatting and UTF-16 positions.
#[test]
fn strings_as_javascript() {
    let cases = [
        (json!({"cat": [1e21, -0.0, 0.1, null, [1, [2, null]], {"and": []}, true]}), json!("1e+2100.11,2,true")),
        (json!({"cat": [{"a": 1, "b": 2}]}), json!("[object Object]")),
        (json!({"substr": ["jsonlogic", -5]}), json!("logic")),
        (json!({"substr": ["jsonlogic", 1, -5]}), json!("son")),
        (json!({"substr": ["jsonlogic", 1, "-5"]}), json!("")),
        (json!({"substr": ["jsonlogic", 2, null]}), json!("")),
        (json!({"substr": [null, 1]}), json!("ull")),
        (json!({"substr": ["😀x", 1]}), json!({"$js": "string", "units": [0xde00, 0x78]})),
        (json!({"in": ["😀", "a😀"]}), json!(true)),
        (json!({"in": [1, "a1"]}), json!(true)),
        (json!({"in": ["a", {"indexOf": 1, "x": 1}]}), json!(null)),
    ];
    for (logic, expected) in cases {
        match evaluate(&logic, &json!({})) {
            Ok(answer) => assert_eq!(answer.exact, expected, "{logic}"),
            Err(_) => assert_eq!(expected, Value::Null, "{logic} threw"),
        }
    }
}

/// `var` with dotted paths, indexes, `length`, defaults; `missing`, `missing_some`; the data as a whole.
#[test]
fn var_and_missing() {
    let data = json!({"a": {"b": [10, {"c": "x"}]}, "s": "héllo", "e": "", "n": null, "z": 0});
    let cases = [
        (json!({"var": "a.b.1.c"}), json!("x")),
        (json!({"var": "a.b.length"}), json!(2)),
        (json!({"var": "s.length"}), json!(5)),
        (json!({"var": "s.1"}), json!("é")),
        (json!({"var": "a.b.01"}), json!(null)),
        (json!({"var": ["a.x", {"cat": ["d", 1]}]}), json!("d1")),
        (json!({"var": ["n", 5]}), json!(null)),
        (json!({"var": ["z", 5]}), json!(0)),
        (json!({"var": [["s"]]}), json!("héllo")),
        (json!({"missing": ["a", "e", "n", "q", "z"]}), json!(["e", "n", "q"])),
        (json!({"missing": [["a.b", "x"]]}), json!(["x"])),
        (json!({"missing_some": [1, ["a", "q"]]}), json!([])),
        (json!({"missing_some": [2, ["a", "q"]]}), json!(["q"])),
        (json!({"missing": {"merge": ["q", {"if": [{"var": "z"}, ["r"], ["s", "t"]]}]}}), json!(["q", "t"])),
    ];
    for (logic, expected) in cases {
        assert_eq!(eval_json(logic.clone(), data.clone()), expected, "{logic}");
    }
    assert_eq!(eval_json(json!({"var": ""}), json!(7)), json!(7));
    assert_eq!(eval_json(json!({"var": []}), json!([1])), json!([1]));
    assert!(evaluate(&json!({"var": "a.constructor"}), &data).is_err(), "built-ins are not data");
    // A key that is itself logic is applied again, as json-logic-js does (here: `var` of w's value, "z").
    assert_eq!(eval_json(json!({"missing": {"var": "k"}}), json!({"k": [{"var": "w"}], "w": "z", "z": 1})), json!([]));
    let data = json!({"k": [{"var": "w"}], "w": "x"});
    assert_eq!(eval_json(json!({"missing": {"var": "k"}}), data), json!([{"var": "w"}]));
}

/// `if` chains, `and`/`or` values, iteration, `merge`, `log`.
#[test]
fn control_and_iteration() {
    let data = json!({"xs": [1, 2, 3, 4], "o": [{"p": 1}, {"p": 0}]});
    let cases = [
        (json!({"if": []}), json!(null)),
        (json!({"if": [false, 1]}), json!(null)),
        (json!({"?:": [false, 1, 0, 2, 3]}), json!(3)),
        (json!({"and": []}), json!({"$js": "undefined"})),
        (json!({"or": [0, "", [], "x"]}), json!("x")),
        (json!({"and": [1, [], 2]}), json!([])),
        (json!({"map": [{"var": "xs"}, {"*": [{"var": ""}, 2]}]}), json!([2, 4, 6, 8])),
        (json!({"filter": [{"var": "o"}, {"var": "p"}]}), json!([{"$object": {"p": 1}}])),
        (json!({"reduce": [{"var": "xs"}, {"+": [{"var": "current"}, {"var": "accumulator"}]}, 0]}), json!(10)),
        (json!({"reduce": [{"var": "xs"}, {"var": "current"}]}), json!(4)),
        (json!({"reduce": [5, {"var": "current"}, "i"]}), json!("i")),
        (json!({"all": [[], true]}), json!(false)),
        (json!({"none": [[], true]}), json!(true)),
        (json!({"some": [{"var": "xs"}, {">": [{"var": ""}, 3]}]}), json!(true)),
        (json!({"map": [{"var": "xs"}]}), Value::Array(vec![json!({"$js": "undefined"}); 4])),
        (json!({"merge": [1, [2, [3]], null]}), json!([1, 2, [3], null])),
        (json!({"log": [{"var": "xs.0"}]}), json!(1)),
        (json!({"var.prototype.constructor": "xs.1"}), json!(2)),
        (json!({"a": 1, "b": 2}), json!({"$object": {"a": 1, "b": 2}})),
    ];
    for (logic, expected) in cases {
        assert_eq!(exact(logic.clone(), data.clone()), expected, "{logic}");
    }
    assert!(evaluate(&json!({"var.length": "xs"}), &data).is_err());
}

/// A hostile form state cannot make an evaluation expensive: the step budget stops it, and it does not hold.
#[test]
fn the_step_budget_stops_expensive_evaluations() {
    let row: Vec<Value> = (0..200).map(Value::from).collect();
    let data = json!({"xs": vec![row; 200]});
    let logic = json!({"some": [{"var": "xs"}, {"some": [{"var": ""}, {"==": [{"var": ""}, -1]}]}]});
    assert_eq!(evaluate(&logic, &data), Err(LogicError::Budget));
    assert!(!holds(&logic, data.as_object().unwrap()));
    let growing = json!({"reduce": [{"var": "xs"}, {"cat": [{"var": "accumulator"}, {"var": "accumulator"}]}, "ab"]});
    assert_eq!(evaluate(&growing, &data), Err(LogicError::Budget));
}

/// Numbers print as JavaScript prints them, and strings convert as JavaScript converts them.
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
        (-0.0, "0"),
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

fn problems(logic: &Value) -> Vec<(&'static str, String)> {
    let mut found = Vec::new();
    check(logic, "visibleIf", &mut Vec::new(), &mut |c, m| found.push((c, m)));
    found
}

/// Wrong arity, unknown operators, bad paths and oversized conditions are refused with the path.
#[test]
fn checker_refuses_naming_the_path() {
    let deep = (0..40).fold(json!({"var": "x"}), |inner, _| json!({"!": inner}));
    let wide = json!({"cat": (0..1200).collect::<Vec<_>>()});
    let nested = json!({"map": [{"var": "xs"}, {"map": [{"var": ""}, {"map": [{"var": ""}, 1]}]}]});
    for (logic, code, path) in [
        (json!({"==": [{"var": "x"}]}), "invalid_arity", "visibleIf/=="),
        (json!({"<": [1]}), "invalid_arity", "visibleIf/<"),
        (json!({"!": [{"var": "a"}, {"var": "b"}]}), "invalid_arity", "visibleIf/!"),
        (json!({"in": ["a"]}), "invalid_arity", "visibleIf/in"),
        (json!({"and": [true, {"in": ["a"]}]}), "invalid_arity", "visibleIf/and/1/in"),
        (json!({"and": []}), "invalid_arity", "visibleIf/and"),
        (json!({"*": []}), "invalid_arity", "visibleIf/*"),
        (json!({"map": [{"var": "xs"}]}), "invalid_arity", "visibleIf/map"),
        (json!({"or": [{"method": ["a", "toUpperCase"]}]}), "unsupported_operator", "visibleIf/or/0/method"),
        (json!({"var.prototype.constructor": "x"}), "unsupported_operator", "visibleIf/var.prototype.constructor"),
        (json!({"var": "constructor"}), "invalid_var", "visibleIf/var"),
        (json!({"var": "x.toString"}), "invalid_var", "visibleIf/var"),
        (json!({"var": ""}), "invalid_var", "visibleIf/var"),
        (json!({"var": {"cat": ["x"]}}), "invalid_var", "visibleIf/var"),
        (json!({"var": "Brand"}), "invalid_var", "visibleIf/var"),
        (json!({"missing": ["x", "__proto__"]}), "invalid_var", "visibleIf/missing/1"),
        (json!({"reduce": [{"var": "xs"}, {"var": "x"}, 0]}), "invalid_var", "visibleIf/reduce/1/var"),
        (deep, "condition_too_complex", ""),
        (wide, "condition_too_complex", "visibleIf/cat/"),
        (nested, "condition_too_complex", "visibleIf/map/1/map/1/map"),
    ] {
        let found = problems(&logic);
        assert_eq!(found.len(), 1, "{logic}: {found:?}");
        assert_eq!(found[0].0, code, "{logic}: {found:?}");
        assert!(found[0].1.starts_with("visibleIf: "), "{logic}: {found:?}");
        assert!(found[0].1.contains(&format!("(at {path}")), "{logic}: {found:?}");
    }
}

/// Every operator is accepted in its documented forms, and the fields read are named.
#[test]
fn checker_accepts_the_whole_language() {
    let logic = json!({"and": [
        {"<": [1, {"var": "x"}, 3]},
        {"if": [{"missing": ["a", "b.c"]}, false, {"missing_some": [1, ["d", "e"]]}, false, true]},
        {"?:": [true, 1, 2]},
        {"===": [{"var": ["f", 0]}, {"-": [{"*": [2, {"var": "g"}]}, {"/": [{"var": "h.0"}, {"%": [7, 2]}]}]}]},
        {"!==": [{"max": [1, {"min": [2, 3]}]}, {"+": [1, "2"]}]},
        {"some": [{"var": "xs"}, {"all": [{"var": "ys"}, {"!!": {"var": "z"}}]}]},
        {"none": [{"var": "xs"}, {"var": ""}]},
        {"filter": [{"merge": [{"var": "xs"}, [1]]}, {"in": [{"var": ""}, [1, 2]]}]},
        {"reduce": [{"map": [{"var": "xs"}, {"cat": [{"var": ""}, "!"]}]}, {"cat": [{"var": "accumulator"}, {"var": "current"}]}, ""]},
        {"in": [{"substr": [{"var": "t"}, 0, -1]}, "abc"]},
        {"log": {"var": "y"}},
        {"!": {"==": [{"a": 1, "b": 2}, {}]}},
    ]});
    let mut vars = Vec::new();
    let mut found = Vec::new();
    check(&logic, "requiredIf", &mut vars, &mut |c, m| found.push((c, m)));
    assert!(found.is_empty(), "{found:?}");
    vars.sort();
    vars.dedup();
    assert_eq!(vars, ["a", "b", "d", "e", "f", "g", "h", "t", "x", "xs", "y"]);
}
