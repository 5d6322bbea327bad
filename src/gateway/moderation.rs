//! Catalog moderation on the admin listener (Bearer admin token, checked by the dispatcher). Routes:
//!
//! | route | what |
//! |---|---|
//! | `GET /admin/options?created_by=&since=&limit=` | recently created options with their creators, newest first (review) |
//! | `POST /admin/options` `{kind, name, parent_id?, has_engine?}` | create an option (categories are created only here) |
//! | `GET /admin/options/audit?limit=` | the moderation records, newest first (who, what, when) |
//! | `PATCH /admin/options/{id}` `{name?, has_engine?, force?}` | rename; set a category's engine flag |
//! | `POST /admin/options/{id}/merge` `{into}` | merge the option into another of its kind |
//! | `POST /admin/options/{id}/hide`, `…/unhide` | hide or show an option (its id still resolves) |
//! | `POST /admin/options/{id}/approve` | make a new account's option visible to everyone |
//! | `PUT /admin/options/{id}/translations/{locale}` `{name}` | the option's name in one of `catalog.locales` |
//! | `DELETE /admin/options/{id}/translations/{locale}` | remove that name |
//!
//! Every body may carry `requested_by` (recorded in the audit table; default `admin`). Every change goes
//! through the option cache actor: one transaction with its audit record and a version bump, then
//! `option_changed` on the bus for every list it touched.
//!
//! - `review`: the review queue's creators (email, account age) and near-duplicate groups
//!   (`GET /admin/options/duplicates`).

use gantry_actors::catalog::OptionKind;
use gantry_actors::catalog::moderation::ModerationOutcome;
use gantry_actors::catalog::moderation::{AuditEntry, BrokenForm, Moderation};
use gantry_actors::catalog::names;
use gantry_actors::ports::catalog::CatalogOption;
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Request, StatusCode};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::body::read_json;
use super::ctx::{Ctx, percent_decode};
use super::problem::ApiError;
use super::respond::{Response, json_response};
use super::state::AppState;

mod review;
mod view;

pub(in crate::gateway) use review::duplicates;
use view::{AdminOption, DEFAULT_LIMIT, limit_of, parse_recent};

#[derive(Serialize)]
struct Changed<'a> {
    option: AdminOption<'a>,
    version: u64,
    audit: &'a AuditEntry,
    /// The forms this change took fields from (applied with `force`), by name.
    flagged: Vec<&'a str>,
    /// The same forms, each with the fields it lost (or that fail their checks now).
    broken: &'a [BrokenForm],
}

fn changed(outcome: &ModerationOutcome) -> Response {
    changed_with(StatusCode::OK, outcome)
}

fn changed_with(status: StatusCode, outcome: &ModerationOutcome) -> Response {
    json_response(
        status,
        &Changed {
            option: AdminOption::from(&outcome.moderated.option),
            version: outcome.moderated.version,
            audit: &outcome.moderated.audit,
            flagged: outcome.flagged.iter().map(|f| f.form.as_str()).collect(),
            broken: &outcome.flagged,
        },
    )
}

fn option_id(ctx: &Ctx) -> Result<Uuid, ApiError> {
    ctx.params
        .get("id")
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or(ApiError::ResourceNotFound { code: "option_not_found", what: "option" })
}

/// Who asked, for the audit table (bounded, printable).
fn actor(requested_by: Option<String>) -> String {
    let actor: String =
        requested_by.unwrap_or_default().chars().filter(|c| !c.is_control()).take(100).collect::<String>();
    if actor.trim().is_empty() { "admin".to_owned() } else { actor.trim().to_owned() }
}

/// A JSON body, or the default when the request has none (no `Content-Type` and no length).
async fn optional_json<T: Default + serde::de::DeserializeOwned>(
    state: &AppState,
    req: Request<Incoming>,
) -> Result<T, ApiError> {
    let empty = req.headers().get(CONTENT_TYPE).is_none()
        && req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).is_none_or(|v| v.trim() == "0");
    if empty { Ok(T::default()) } else { read_json(req, state.settings.http.max_body_bytes).await }
}

/// The body of hide, unhide and approve.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Who {
    #[serde(default)]
    requested_by: Option<String>,
}

/// What a flag route does.
#[derive(Debug, Clone, Copy)]
pub(super) enum Flag {
    /// `…/hide`.
    Hide,
    /// `…/unhide`.
    Unhide,
    /// `…/approve`.
    Approve,
}

/// `POST /admin/options/{id}/hide|unhide|approve`.
///
/// # Errors
/// 404 `option_not_found`; 503.
pub(super) async fn flag(
    state: &AppState,
    ctx: &Ctx,
    req: Request<Incoming>,
    flag: Flag,
) -> Result<Response, ApiError> {
    let id = option_id(ctx)?;
    let who: Who = optional_json(state, req).await?;
    let change = match flag {
        Flag::Hide => Moderation::SetHidden { id, hidden: true },
        Flag::Unhide => Moderation::SetHidden { id, hidden: false },
        Flag::Approve => Moderation::Approve { id },
    };
    Ok(changed(&state.catalog.moderate(change, actor(who.requested_by), false).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeBody {
    into: Uuid,
    #[serde(default)]
    requested_by: Option<String>,
}

/// `POST /admin/options/{id}/merge {into}`: the option's id and name resolve to `into` from now on.
///
/// # Errors
/// 404 `option_not_found`; 409 `kind_mismatch`, `same_option`; 503.
pub(super) async fn merge(state: &AppState, ctx: &Ctx, req: Request<Incoming>) -> Result<Response, ApiError> {
    let from = option_id(ctx)?;
    let body: MergeBody = read_json(req, state.settings.http.max_body_bytes).await?;
    let change = Moderation::Merge { from, into: body.into };
    Ok(changed(&state.catalog.moderate(change, actor(body.requested_by), false).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    has_engine: Option<bool>,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    requested_by: Option<String>,
}

/// `PATCH /admin/options/{id} {name?, has_engine?, force?}`: rename, and/or set a category's engine flag
/// (refused with 409 `would_break_templates` and the forms it would break, unless `force`).
///
/// # Errors
/// 404 `option_not_found`; 409 `name_taken` (with `existing_id`), `would_break_templates` (with `forms`);
/// 422 for a bad name, nothing to change, or `has_engine` on a non-category; 503.
pub(super) async fn patch(state: &AppState, ctx: &Ctx, req: Request<Incoming>) -> Result<Response, ApiError> {
    let id = option_id(ctx)?;
    let body: PatchBody = read_json(req, state.settings.http.max_body_bytes).await?;
    let mut changes = Vec::new();
    if let Some(name) = &body.name {
        let name = names::normalize(name)?;
        names::check_scripts(&name.display)?;
        changes.push(Moderation::Rename { id, name });
    }
    if let Some(has_engine) = body.has_engine {
        changes.push(Moderation::SetEngine { id, has_engine, overrides: Vec::new() });
    }
    if changes.is_empty() {
        return Err(ApiError::field("name", "required", "give a name, has_engine, or both"));
    }
    let actor = actor(body.requested_by);
    let mut last = None;
    for change in changes {
        last = Some(state.catalog.moderate(change, actor.clone(), body.force).await?);
    }
    Ok(changed(&last.expect("at least one change (checked above)")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TranslationBody {
    name: String,
    #[serde(default)]
    requested_by: Option<String>,
}

/// The `{locale}` of a translation route: a locale the deployment serves, other than the default (the
/// option's own name is the default locale's: rename it instead).
fn translation_locale(state: &AppState, ctx: &Ctx) -> Result<String, ApiError> {
    let raw = ctx.params.get("locale").map(|l| percent_decode(l)).unwrap_or_default();
    let locale = gantry_actors::catalog::locale::parse_tag(&raw)
        .map_err(|e| ApiError::field("locale", "invalid", e.to_string()))?;
    let catalog = &state.settings.catalog;
    if locale == catalog.default_locale {
        return Err(ApiError::field(
            "locale",
            "default_locale",
            format!("{locale} is the default locale: the option's name is in it (rename the option instead)"),
        ));
    }
    if !catalog.locales.contains(&locale) {
        return Err(ApiError::field(
            "locale",
            "unsupported_locale",
            format!("{locale} is not served (catalog.locales: {})", catalog.locales.join(", ")),
        ));
    }
    Ok(locale)
}

/// `PUT /admin/options/{id}/translations/{locale} {name}` → 200 `{option, version, audit, …}`: the option's
/// name in `locale` (audited as `translate`); lists of every instance drop the option's list, search and
/// identity match the name from now on.
///
/// # Errors
/// 404 `option_not_found`; 409 `name_taken` (another option has this name in some language); 422 for a bad
/// name or locale, or a brand or model (`not_translatable`); 503.
pub(super) async fn translate(state: &AppState, ctx: &Ctx, req: Request<Incoming>) -> Result<Response, ApiError> {
    let id = option_id(ctx)?;
    let locale = translation_locale(state, ctx)?;
    let body: TranslationBody = read_json(req, state.settings.http.max_body_bytes).await?;
    let name = names::normalize(&body.name).map_err(|e| ApiError::field("name", e.code(), e.to_string()))?;
    let change = Moderation::Translate { id, locale, name: Some(name) };
    Ok(changed(&state.catalog.moderate(change, actor(body.requested_by), false).await?))
}

/// `DELETE /admin/options/{id}/translations/{locale}` → 200 `{option, version, audit, …}`: the option has no
/// name in `locale` any more (audited as `remove_translation`; removing one that is not there is recorded too).
///
/// # Errors
/// 404 `option_not_found`; 422 for a bad locale or a brand or model; 503.
pub(super) async fn untranslate(state: &AppState, ctx: &Ctx, req: Request<Incoming>) -> Result<Response, ApiError> {
    let id = option_id(ctx)?;
    let locale = translation_locale(state, ctx)?;
    let who: Who = optional_json(state, req).await?;
    let change = Moderation::Translate { id, locale, name: None };
    Ok(changed(&state.catalog.moderate(change, actor(who.requested_by), false).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    kind: String,
    name: String,
    #[serde(default)]
    parent_id: Option<Uuid>,
    #[serde(default)]
    has_engine: Option<bool>,
    #[serde(default)]
    requested_by: Option<String>,
}

/// `POST /admin/options {kind, name, parent_id?, has_engine?}` → 201 `{option, version, audit, flagged: []}`:
/// an option created by an operator, public at once and audited (`create`); other users' pending options of
/// that name are merged into it. The only way to create a category.
///
/// # Errors
/// 409 `name_taken` (with `existing_id`) when the name is there already; 422 for an unknown kind, a bad name,
/// a missing, hidden, pending or wrong-kind parent, or `has_engine` on a non-category; 503.
pub(super) async fn create(state: &AppState, req: Request<Incoming>) -> Result<Response, ApiError> {
    let body: CreateBody = read_json(req, state.settings.http.max_body_bytes).await?;
    let kind = OptionKind::parse(&body.kind).ok_or_else(|| {
        ApiError::field("kind", "invalid", "one of category, subcategory, brand, model, country, city")
    })?;
    let name = names::normalize(&body.name)?;
    names::check_scripts(&name.display)?;
    match (kind.parent_kind(), body.parent_id) {
        (None, Some(_)) => {
            return Err(ApiError::field(
                "parent_id",
                "not_allowed",
                format!("{} options have no parent", kind.as_str()),
            ));
        }
        (Some(_), None) => {
            return Err(ApiError::field("parent_id", "required", format!("{} options need a parent", kind.as_str())));
        }
        _ => {}
    }
    if body.has_engine.is_some() && kind != OptionKind::Category {
        return Err(ApiError::field("has_engine", "not_allowed", "only categories say whether they have an engine"));
    }
    let option = CatalogOption {
        id: Uuid::now_v7(),
        kind,
        parent_id: body.parent_id,
        name: name.display,
        name_key: name.key,
        search_key: name.search,
        has_engine: body.has_engine.unwrap_or(false),
        created_at: OffsetDateTime::now_utc(),
        created_by: None,
        hidden: false,
        pending: false,
        translations: Default::default(),
    };
    let outcome = state.catalog.moderate(Moderation::Create { option }, actor(body.requested_by), false).await?;
    Ok(changed_with(StatusCode::CREATED, &outcome))
}

#[derive(Serialize)]
struct RecentPage<'a> {
    items: Vec<review::ReviewOption<'a>>,
}

/// `GET /admin/options?created_by=&since=&limit=`: recently created options, newest first, hidden and
/// pending ones included, each with its creator (email, account age; `null` for the seed's and operators').
///
/// # Errors
/// 422 for a malformed parameter; 503.
pub(super) async fn recent(state: &AppState, req: &Request<Incoming>) -> Result<Response, ApiError> {
    let query = parse_recent(req.uri().query())?;
    let options = state.catalog.recent(query.created_by, query.since, query.limit).await?;
    let creators = review::creators(state, &options).await?;
    Ok(json_response(StatusCode::OK, &RecentPage { items: review::review_items(&options, &creators) }))
}

#[derive(Serialize)]
struct AuditPage {
    items: Vec<AuditEntry>,
}

/// `GET /admin/options/audit?limit=`: the moderation records, newest first.
///
/// # Errors
/// 422 for a malformed limit; 503.
pub(super) async fn audit(state: &AppState, req: &Request<Incoming>) -> Result<Response, ApiError> {
    let mut limit = DEFAULT_LIMIT;
    for pair in req.uri().query().unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        if let Some(("limit", v)) = pair.split_once('=') {
            limit = limit_of(v)?;
        }
    }
    Ok(json_response(StatusCode::OK, &AuditPage { items: state.catalog.audit(limit).await? }))
}
