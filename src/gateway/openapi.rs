//! `GET /openapi.json` on each listener: the OpenAPI 3.1 contract of the public API (`openapi/public.json`)
//! and of the admin API (`openapi/admin.json`). Both are kept by hand in the repository and embedded at build
//! time; nothing is generated at run time. The tests below keep them honest: every route of
//! [`super::router`] has its path and method in its listener's document and the reverse, and every problem
//! `code` the gateway answers with is in the `Problem` schema's `code` enum.

use hyper::StatusCode;

use super::respond::{Response, text};
use super::router::Listener;

/// The public listener's document.
pub const PUBLIC: &str = include_str!("../../openapi/public.json");
/// The admin listener's document.
pub const ADMIN: &str = include_str!("../../openapi/admin.json");

/// The document of `listener`.
#[must_use]
pub fn source(listener: Listener) -> &'static str {
    match listener {
        Listener::Public => PUBLIC,
        Listener::Admin => ADMIN,
    }
}

/// `GET /openapi.json`: the document of the listener it is asked on.
#[must_use]
pub fn document(listener: Listener) -> Response {
    text(StatusCode::OK, "application/json", source(listener))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn parsed(listener: Listener) -> serde_json::Value {
        serde_json::from_str(source(listener)).expect("the document is JSON")
    }

    /// `METHOD path` of every operation in the document.
    fn documented(listener: Listener) -> BTreeSet<String> {
        let doc = parsed(listener);
        let paths = doc["paths"].as_object().expect("paths");
        let mut out = BTreeSet::new();
        for (path, item) in paths {
            for method in item.as_object().expect("path item").keys() {
                if ["get", "put", "post", "delete", "patch", "head", "options", "trace"].contains(&method.as_str()) {
                    out.insert(format!("{} {path}", method.to_uppercase()));
                }
            }
        }
        out
    }

    /// `METHOD path` of every route in the router's table.
    fn routed(listener: Listener) -> BTreeSet<String> {
        crate::gateway::router::table()
            .iter()
            .filter(|spec| spec.listener == listener)
            .map(|spec| format!("{} {}", spec.method, spec.template))
            .collect()
    }

    /// Every route of each listener has its path and method in that listener's document, and every
    /// operation of the document is a route; the failure names each one and the side it is missing from.
    #[test]
    fn every_route_is_documented_and_every_documented_operation_is_routed() {
        let mut problems = Vec::new();
        for (listener, file) in [(Listener::Public, "openapi/public.json"), (Listener::Admin, "openapi/admin.json")] {
            let (doc, routes) = (documented(listener), routed(listener));
            for missing in routes.difference(&doc) {
                problems.push(format!("{missing}: routed on the {} listener, missing from {file}", listener.as_str()));
            }
            for extra in doc.difference(&routes) {
                problems.push(format!(
                    "{extra}: in {file}, missing from the {} table of src/gateway/router.rs",
                    listener.as_str()
                ));
            }
        }
        assert!(problems.is_empty(), "the OpenAPI documents and the router disagree:\n  {}", problems.join("\n  "));
    }

    /// Both documents are OpenAPI 3.1 and every `$ref` points at a schema they define.
    #[test]
    fn documents_are_openapi_3_1_with_resolvable_refs() {
        for listener in [Listener::Public, Listener::Admin] {
            let doc = parsed(listener);
            assert_eq!(doc["openapi"], "3.1.0");
            let schemas = doc["components"]["schemas"].as_object().expect("schemas");
            let text = source(listener);
            for reference in text.split("\"$ref\": \"#/components/schemas/").skip(1) {
                let name = reference.split('"').next().expect("a name");
                assert!(schemas.contains_key(name), "{}: $ref to undefined schema {name}", listener.as_str());
            }
        }
    }

    /// The stable problem codes the gateway can answer with: every `code: "…"` literal under `src/` (problem
    /// constructors in handlers, owners' mappings) and every code `problem.rs` returns (`=> "…"`).
    fn emitted_codes() -> BTreeSet<String> {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).expect("readable source dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let is_code = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        let mut files = Vec::new();
        walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
        let mut codes = BTreeSet::new();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("readable source");
            let is_problem_rs = file.ends_with("gateway/problem.rs");
            for (marker, only_problem_rs) in [("code: \"", false), ("=> \"", true)] {
                if only_problem_rs && !is_problem_rs {
                    continue;
                }
                for rest in text.split(marker).skip(1) {
                    let literal = rest.split('"').next().unwrap_or_default();
                    if is_code(literal) {
                        codes.insert(literal.to_owned());
                    }
                }
            }
        }
        codes
    }

    /// Every problem `code` the gateway emits is in each document's `Problem.code` enum (and the enum is
    /// the same in both, so a client reads one list).
    #[test]
    fn every_problem_code_is_in_the_problem_schema() {
        let codes = emitted_codes();
        assert!(codes.contains("account_disabled") && codes.contains("internal"), "the scan finds codes: {codes:?}");
        for listener in [Listener::Public, Listener::Admin] {
            let doc = parsed(listener);
            let listed: BTreeSet<String> = doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]
                .as_array()
                .expect("Problem.code has an enum")
                .iter()
                .map(|c| c.as_str().expect("a string").to_owned())
                .collect();
            let missing: Vec<_> = codes.difference(&listed).collect();
            assert!(missing.is_empty(), "problem codes missing from the {} document: {missing:?}", listener.as_str());
        }
    }
}
