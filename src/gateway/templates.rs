//! Listing-form templates over HTTP: `GET /v1/templates/{category_id}?subcategory_id=&lang=` (the resolved form
//! in the request's locale, `ETag` from the template set's version and the locale), `POST /v1/templates/{category_id}/evaluate` (the cascade runtime),
//! `POST /v1/templates/{category_id}/submit` (the final check: clean values or every problem),
//! and on the admin listener `GET /admin/templates` (the set in use) and `POST /admin/templates[?replace=true]`
//! (check and store a set; every instance drops its templates).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use gantry_actors::catalog::forms::{Form, TemplateOrigin};
use gantry_actors::catalog::templates::{
    Block, CarryOver, Evaluation, OptionList, Source, TemplateIssue, TemplateSet, ValueIssue,
};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::access::viewer;
use super::body::read_json;
use super::ctx::{Ctx, percent_decode, query_pairs};
use super::language;
use super::problem::ApiError;
use super::respond::{Prepared, Response, json_bytes, json_response, json_str, not_modified, version_etag};
use super::state::AppState;

fn category_of(ctx: &Ctx) -> Result<Uuid, ApiError> {
    ctx.params
        .get("category_id")
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or(ApiError::ResourceNotFound { code: "category_not_found", what: "category" })
}

/// The value of query parameter `name`.
fn query_param(req: &Request<Incoming>, name: &str) -> Option<String> {
    query_pairs(req.uri().query()).find_map(|(k, v)| (k == name).then(|| percent_decode(v).into_owned()))
}

#[derive(Serialize)]
struct FormBody<'a> {
    /// The locale every label, help text and message is in (a front end never sees maps of locales).
    locale: &'a str,
    /// The deployment's language: a submit names options in it (the clean values are language-neutral).
    default_locale: &'a str,
    category_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    subcategory_id: Option<Uuid>,
    /// The template it came from (`Trucks / Tipper trucks`).
    template: &'a str,
    source: Source,
    version: u64,
    blocks: Vec<Block>,
    /// The built-in message texts in `locale`, by key, placeholders unfilled (`{label}`, `{min}`, …): what a
    /// front end renders the server's messages from (a field's own `validation.messages` win over them).
    messages: std::collections::BTreeMap<&'static str, &'static str>,
}

/// The form's `ETag`: the template set's version and the locale (each language is its own representation).
fn etag(form: &Form, locale: &str) -> String {
    version_etag('t', form.version, locale)
}

/// `GET /v1/templates/{category_id}?subcategory_id=` → the resolved form.
///
/// # Errors
/// 404 `category_not_found` / `template_not_found`; 422 for a malformed or unknown subcategory; 503.
pub async fn get(state: &AppState, ctx: &Ctx, req: &Request<Incoming>) -> Result<Response, ApiError> {
    let category_id = category_of(ctx)?;
    let subcategory_id = match query_param(req, "subcategory_id").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(Uuid::parse_str(&v).map_err(|_| ApiError::field("subcategory_id", "invalid", "not a UUID"))?),
    };
    let locale = language::of_request(&state.languages, req)?;
    let form = state.catalog.form(category_id, subcategory_id, viewer(state, req)).await?;
    let head = |response: &mut Response| language::mark(&state.languages, response, locale, false);
    let prepared: Arc<Prepared> = form.rendered.get_or_render(&locale.tag, || {
        let resolved = &form.template.resolved;
        let body = FormBody {
            locale: &locale.tag,
            default_locale: locale.default_tag(),
            category_id,
            subcategory_id,
            template: &resolved.title,
            source: resolved.source,
            version: form.version,
            blocks: resolved.blocks.iter().map(|b| b.localized(locale)).collect(),
            messages: gantry_actors::catalog::templates::messages::table(locale),
        };
        let body = bytes::Bytes::from(serde_json::to_vec(&body).expect("a form serialises"));
        Prepared::json(body, etag(&form, &locale.tag), head)
    });
    if let Some(mut response) = not_modified(req, prepared.etag()) {
        head(&mut response);
        return Ok(response);
    }
    Ok(prepared.response())
}

/// `changed` is one field name or a list of them.
#[derive(Deserialize)]
#[serde(untagged)]
enum Changed {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvaluateBody {
    #[serde(default)]
    subcategory_id: Option<Uuid>,
    #[serde(default)]
    values: Map<String, Value>,
    #[serde(default)]
    changed: Option<Changed>,
    /// The form `values` were filled in, when the user just changed the category or subcategory.
    #[serde(default)]
    from: Option<FromForm>,
}

/// `from`: the previous form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FromForm {
    category_id: Uuid,
    #[serde(default)]
    subcategory_id: Option<Uuid>,
}

/// Evaluate's answer, with the carry-over when `from` was given: the evaluation's fields written out rather
/// than `#[serde(flatten)]`, which serialises through a map of buffered entries.
#[derive(Serialize)]
struct Evaluated<'a> {
    /// The locale the messages are in.
    locale: &'a str,
    visible: &'a [&'a str],
    required: &'a [&'a str],
    reset: &'a [&'a str],
    errors: &'a [ValueIssue],
    options: &'a BTreeMap<&'a str, OptionList>,
    #[serde(skip_serializing_if = "Option::is_none")]
    carried_over: Option<CarryOver>,
}

impl<'a> Evaluated<'a> {
    fn new(locale: &'a str, evaluation: &'a Evaluation<'a>, carried_over: Option<CarryOver>) -> Self {
        let Evaluation { visible, required, reset, errors, options } = evaluation;
        Self { locale, visible, required, reset, errors, options, carried_over }
    }

    /// The answer as JSON, the same bytes as its `Serialize` writes (a unit test holds them equal): written out
    /// field by field, its ~40 names and codes through [`json_str`], which copies a text with nothing to escape
    /// whole. Through serde_json the answer of a full truck form cost ~9,000 instructions, most of them
    /// looking up each byte of those names in the escape table.
    fn to_json(&self) -> Vec<u8> {
        fn names(out: &mut Vec<u8>, key: &str, names: &[&str]) {
            out.extend_from_slice(key.as_bytes());
            out.push(b'[');
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_str(out, name);
            }
            out.push(b']');
        }
        let mut out = Vec::with_capacity(1024);
        out.extend_from_slice(b"{\"locale\":");
        json_str(&mut out, self.locale);
        names(&mut out, ",\"visible\":", self.visible);
        names(&mut out, ",\"required\":", self.required);
        names(&mut out, ",\"reset\":", self.reset);
        out.extend_from_slice(b",\"errors\":[");
        for (i, issue) in self.errors.iter().enumerate() {
            out.extend_from_slice(if i > 0 { b",{\"field\":" } else { b"{\"field\":" });
            json_str(&mut out, &issue.field);
            out.extend_from_slice(b",\"code\":");
            json_str(&mut out, issue.code);
            out.extend_from_slice(b",\"message\":");
            json_str(&mut out, &issue.message);
            out.push(b'}');
        }
        out.extend_from_slice(b"],\"options\":{");
        for (i, (field, list)) in self.options.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json_str(&mut out, field);
            out.extend_from_slice(b":{\"kind\":");
            json_str(&mut out, list.kind.as_str());
            out.extend_from_slice(b",\"parent_id\":");
            match list.parent_id {
                Some(id) => json_str(&mut out, id.hyphenated().encode_lower(&mut Uuid::encode_buffer())),
                None => out.extend_from_slice(b"null"),
            }
            out.push(b'}');
        }
        out.push(b'}');
        if let Some(carried_over) = &self.carried_over {
            out.extend_from_slice(b",\"carried_over\":");
            serde_json::to_writer(&mut out, carried_over).expect("a carry-over serialises");
        }
        out.push(b'}');
        out
    }
}

/// `POST /v1/templates/{category_id}/evaluate {subcategory_id?, values, changed?, from?}` →
/// `{visible, required, reset, errors, options, carried_over?}`. With `from` (the form the values were filled
/// in), the values are first carried over to this form and the answer says what was kept and dropped.
///
/// # Errors
/// 404 `category_not_found`; 422 for an unknown subcategory or a `changed` naming no field; 400 for bad
/// JSON; 503.
pub async fn evaluate(state: &AppState, ctx: &Ctx, req: Request<Incoming>) -> Result<Response, ApiError> {
    let category_id = category_of(ctx)?;
    let viewer = viewer(state, &req);
    let locale = language::of_request(&state.languages, &req)?;
    let body: EvaluateBody = read_json(req, state.settings.http.max_body_bytes).await?;
    let form = state.catalog.form(category_id, body.subcategory_id, viewer).await?;
    let changed = match body.changed {
        None => Vec::new(),
        Some(Changed::One(name)) => vec![name],
        Some(Changed::Many(names)) => names,
    };
    if let Some(unknown) = changed.iter().find(|name| form.template.field(name).is_none()) {
        let unknown = gantry_actors::catalog::templates::compiled::shorten_name(unknown);
        return Err(ApiError::field("changed", "unknown_field", format!("this form has no field {unknown:?}")));
    }
    let carried_over = match body.from {
        None => None,
        Some(from) => {
            let previous = state
                .catalog
                .form(from.category_id, from.subcategory_id, viewer)
                .await
                .map_err(ApiError::of_previous_form)?;
            Some(form.template.carry_over(&previous.template, &body.values))
        }
    };
    // The body's values are not needed after: given, not lent (a carry-over's are also in the answer).
    let values = match &carried_over {
        Some(carried) => Cow::Borrowed(&carried.values),
        None => Cow::Owned(body.values),
    };
    let evaluation = state.catalog.evaluate(&form, values, &changed, viewer, locale).await?;
    let mut response = json_bytes(StatusCode::OK, Evaluated::new(&locale.tag, &evaluation, carried_over).to_json());
    language::mark(&state.languages, &mut response, locale, false);
    Ok(response)
}

/// What `submit` answers: the contract a listing service stores.
#[derive(Serialize)]
struct Submitted<'a> {
    category_id: Uuid,
    /// The subcategory the values were checked against (`null`: the category's form).
    subcategory_id: Option<Uuid>,
    /// The template it came from (`Trucks / Tipper trucks`).
    template: &'a str,
    /// The template set's version (the number in the form's `ETag`).
    version: u64,
    /// The clean values.
    values: Map<String, Value>,
}

/// `POST /v1/templates/{category_id}/submit {subcategory_id?, values}` → 200 `{category_id, subcategory_id,
/// template, version, values}`: the final check of a complete form, with the clean values (hidden fields
/// removed, typed, options resolved to `{id, name}`).
///
/// # Errors
/// 422 `validation_failed` with every problem per field; as `evaluate` otherwise.
pub async fn submit(state: &AppState, ctx: &Ctx, req: Request<Incoming>) -> Result<Response, ApiError> {
    let category_id = category_of(ctx)?;
    let viewer = viewer(state, &req);
    let locale = language::of_request(&state.languages, &req)?;
    let body: EvaluateBody = read_json(req, state.settings.http.max_body_bytes).await?;
    let form = state.catalog.form(category_id, body.subcategory_id, viewer).await?;
    // A final check resets nothing: `changed` is accepted (the body is evaluate's) and has no effect. The
    // answer is language-neutral (ids and values); only the messages of a 422 are in the request's locale.
    let values = state.catalog.submit(&form, &body.values, viewer, locale).await?;
    Ok(json_response(
        StatusCode::OK,
        &Submitted {
            category_id,
            subcategory_id: body.subcategory_id,
            template: &form.template.resolved.title,
            version: form.version,
            values,
        },
    ))
}

/// One template's state in the set in use.
#[derive(Serialize)]
struct TemplateState<'a> {
    /// Its title.
    template: String,
    /// `ok`, or `degraded` (left out: its category is served the default form).
    status: &'static str,
    /// Why it is degraded.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    problems: &'a [TemplateIssue],
}

#[derive(Serialize)]
struct Export<'a> {
    origin: TemplateOrigin,
    version: u64,
    set: &'a TemplateSet,
    /// Every template of the set with its state, per category and subcategory.
    status: Vec<TemplateState<'a>>,
    /// The degraded templates as stored, with their problems (to fix and re-import).
    degraded: &'a [gantry_actors::catalog::forms::DegradedTemplate],
}

/// `GET /admin/templates` → `{origin, version, set, status, degraded}`: the set in use (to edit and
/// re-import), each template's state (`ok` or `degraded`), and the degraded templates with their problems.
///
/// # Errors
/// 503 when the catalog is unavailable.
pub async fn export(state: &AppState) -> Result<Response, ApiError> {
    let loaded = state.catalog.template_set().await?;
    let mut status: Vec<TemplateState<'_>> = loaded
        .set
        .templates
        .iter()
        .map(|t| TemplateState { template: t.title(), status: "ok", problems: &[] })
        .collect();
    status.extend(loaded.degraded.iter().map(|d| TemplateState {
        template: d.template.clone(),
        status: "degraded",
        problems: &d.problems,
    }));
    Ok(json_response(
        StatusCode::OK,
        &Export {
            origin: loaded.origin,
            version: loaded.version,
            set: &loaded.set,
            status,
            degraded: &loaded.degraded,
        },
    ))
}

/// `POST /admin/templates[?replace=true]` with a template set → 200 `{version, templates, shared_blocks}`:
/// checked (merged over the set in use unless `replace`), stored, and dropped from every instance's cache.
///
/// # Errors
/// 422 `template_invalid` listing every problem (template, field, code, message); 400 for bad JSON; 503.
pub async fn import(state: &AppState, req: Request<Incoming>) -> Result<Response, ApiError> {
    let replace = match query_param(&req, "replace").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::field("replace", "invalid", "true or false")),
    };
    // Template documents are larger than API bodies; allow up to 16 times the JSON limit.
    let set: TemplateSet = read_json(req, state.settings.http.max_body_bytes.saturating_mul(16)).await?;
    let imported = state.catalog.import_templates(set, replace).await?;
    Ok(json_response(StatusCode::OK, &imported))
}

#[cfg(test)]
mod tests {
    use gantry_actors::catalog::OptionKind;
    use gantry_actors::catalog::templates::Dropped;

    use super::*;

    fn issue(field: &str, code: &'static str, message: &str) -> ValueIssue {
        ValueIssue { field: field.into(), code, message: message.into() }
    }

    /// The hand-written answer is byte for byte what serde_json writes for it: every list empty, and every part
    /// filled with texts that need escaping, a list without a parent and a carry-over.
    #[test]
    fn evaluate_answers_are_the_bytes_serde_json_writes() {
        let empty = Evaluation::default();
        let mut full = Evaluation {
            visible: vec!["brand", "model", "weird \"name\"\n"],
            required: vec!["brand"],
            reset: vec!["model", "Größe"],
            // (Made by a function: openapi.rs's test reads `code: "…"` in this crate as codes of problems.)
            errors: vec![
                issue("model", "required", "Model is required"),
                issue("year", "below_min", "Year \"must\" be ≥ 1950\\\t"),
            ],
            options: BTreeMap::new(),
        };
        full.options.insert("brand", OptionList { kind: OptionKind::Brand, parent_id: None });
        full.options.insert("model", OptionList { kind: OptionKind::Model, parent_id: Some(Uuid::now_v7()) });
        let carried = CarryOver {
            values: Map::from_iter([("year".to_owned(), Value::from(2019))]),
            dropped: vec![Dropped { field: "axles".into(), reason: "not_in_new_form" }],
            dropped_unlisted: 2,
        };
        for (locale, evaluation, carried_over) in
            [("en", &empty, None), ("de-AT", &full, None), ("pt-BR", &full, Some(carried))]
        {
            let answer = Evaluated::new(locale, evaluation, carried_over);
            let expected = serde_json::to_string(&answer).expect("serialises");
            assert_eq!(String::from_utf8(answer.to_json()).expect("UTF-8"), expected);
        }
    }
}
