//! The command line against the admin API's contract (`openapi/admin.json`): every body field of an admin route
//! the CLI sends has its flag on the commands that send it (the field's name in kebab case).

use clap::CommandFactory;
use serde_json::Value;

use super::Cli;

/// Each admin route with a request body, and the commands that send it: their flags together cover the body.
const ROUTES: &[(&str, &str, &[&[&str]])] = &[
    ("post", "/admin/secrets/rotate", &[&["secrets", "rotate"]]),
    ("post", "/admin/secrets/rollback", &[&["secrets", "rollback"]]),
    ("post", "/admin/sessions/revoke-all", &[&["sessions", "revoke-all"]]),
    ("post", "/admin/users/{id}/revoke-sessions", &[&["users", "revoke-sessions"]]),
    ("post", "/admin/options", &[&["options", "create"]]),
    ("patch", "/admin/options/{id}", &[&["options", "rename"], &["options", "set-engine"]]),
    ("post", "/admin/options/{id}/merge", &[&["options", "merge"]]),
    ("post", "/admin/options/{id}/hide", &[&["options", "hide"]]),
    ("post", "/admin/options/{id}/unhide", &[&["options", "unhide"]]),
    ("post", "/admin/options/{id}/approve", &[&["options", "approve"]]),
    ("put", "/admin/options/{id}/translations/{locale}", &[&["options", "translate"]]),
    ("delete", "/admin/options/{id}/translations/{locale}", &[&["options", "untranslate"]]),
];

/// The admin routes with a body whose fields have no flags, and why.
const WITHOUT_FLAGS: &[(&str, &str, &str)] = &[
    (
        "post",
        "/admin/secrets/validate",
        "secret values: `secrets check` reads them from the environment, never from arguments (`ps` shows those)",
    ),
    ("post", "/admin/templates", "the body is the template file, `templates import FILE`"),
    (
        "post",
        "/admin/forms/v1/templates/{category_id}/evaluate",
        "the console's form preview calls the public evaluate through the admin listener; a front end's values are \
         no command-line input (`curl` the public route)",
    ),
    (
        "post",
        "/admin/users",
        "`smoke` sends it for its ephemeral account (random email and password, never typed); an operator's \
         `users add --email E --password-file F` reads the password from a file or stdin (`ps` shows arguments)",
    ),
];

/// The admin API's description.
fn openapi() -> Value {
    serde_json::from_str(include_str!("../../../openapi/admin.json")).expect("openapi/admin.json is JSON")
}

/// The property names of the request body of `method path`, `$ref`s resolved; `None` when it has no body.
fn body_fields(doc: &Value, method: &str, path: &str) -> Option<Vec<String>> {
    let resolve = |schema: &Value| -> Value {
        let mut schema = schema.clone();
        while let Some(target) = schema.get("$ref").and_then(Value::as_str) {
            let pointer = target.strip_prefix('#').expect("a local $ref");
            schema = doc.pointer(pointer).unwrap_or_else(|| panic!("{target} resolves")).clone();
        }
        schema
    };
    let operation = &doc["paths"][path][method];
    assert!(operation.is_object(), "openapi/admin.json has no {method} {path}");
    let schema = resolve(operation.get("requestBody")?.pointer("/content/application~1json/schema")?);
    let properties = schema["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default();
    Some(properties)
}

/// The long flags (and their visible aliases) `gantry <path…>` takes, global flags of its parents included;
/// `None` when there is no such command.
fn long_flags(path: &[&str]) -> Option<Vec<String>> {
    let longs = |arg: &clap::Arg| -> Vec<String> {
        arg.get_long_and_visible_aliases().unwrap_or_default().into_iter().map(str::to_owned).collect()
    };
    let mut command = Cli::command();
    let mut flags = Vec::new();
    for (depth, name) in path.iter().enumerate() {
        flags.extend(command.get_arguments().filter(|arg| depth == 0 || arg.is_global_set()).flat_map(longs));
        command = command.find_subcommand(name)?.clone();
    }
    flags.extend(command.get_arguments().flat_map(longs));
    Some(flags)
}

/// Every body field of every admin route the CLI sends has a flag of the same name on the commands that send
/// it (issue 25.7: `secrets rotate|rollback` could not say `user_message` nor `requested_by`).
#[test]
fn every_admin_body_field_has_its_cli_flag() {
    let doc = openapi();
    let mut missing = Vec::new();
    for (method, path, commands) in ROUTES {
        let route = format!("{} {path}", method.to_uppercase());
        let fields = body_fields(&doc, method, path).unwrap_or_else(|| panic!("{route} takes no body"));
        let mut flags = Vec::new();
        for command in *commands {
            match long_flags(command) {
                Some(found) => flags.extend(found),
                None => missing.push(format!("{route}: there is no `gantry {}`", command.join(" "))),
            }
        }
        let names: Vec<String> = commands.iter().map(|c| format!("gantry {}", c.join(" "))).collect();
        for field in fields {
            let flag = field.replace('_', "-");
            if !flags.contains(&flag) {
                missing.push(format!("{route}: `{field}` has no --{flag} on {}", names.join(", ")));
            }
        }
    }
    assert!(missing.is_empty(), "flags missing:\n{}", missing.join("\n"));
}

/// Every admin route that takes a body is in the table above, so a new route's fields are compared too.
#[test]
fn every_admin_route_with_a_body_is_compared() {
    let doc = openapi();
    let paths = doc["paths"].as_object().expect("paths");
    let mut unlisted = Vec::new();
    for (path, operations) in paths {
        let operations = operations.as_object().expect("operations");
        for method in operations.keys().filter(|method| operations[method.as_str()].get("responses").is_some()) {
            let listed = ROUTES.iter().any(|(m, p, _)| m == method && p == path)
                || WITHOUT_FLAGS.iter().any(|(m, p, _)| m == method && p == path);
            if !listed && body_fields(&doc, method, path).is_some() {
                unlisted.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    assert!(unlisted.is_empty(), "admin routes with a body missing from ROUTES or WITHOUT_FLAGS: {unlisted:?}");
}
