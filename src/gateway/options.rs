//! The listing-form catalog over HTTP: `GET /v1/options/{kind}` (cached per instance, `ETag` from the
//! version, prefix search), `POST /v1/options/{kind}` (logged-in users, every kind but `category`, which
//! operators create on the admin listener; creates once, returns the existing option otherwise, with near
//! matches), `GET /v1/options/{kind}/suggestions?name=` (ask "did you mean…?"
//! before creating) and `GET /v1/options/{kind}/{id}` (an id resolves, also once merged or hidden).
//!
//! Options created by accounts younger than `catalog.new_account_review_age_secs` are pending: their creator's
//! drafts, listed, resolved and accepted in forms (and as parents) only for their creator until an operator
//! approves them; another user creating the same name gets their own draft, or the public option.

use std::sync::Arc;

use gantry_actors::catalog::OptionKind;
use gantry_actors::catalog::locale::Locale;
use gantry_actors::catalog::moderation::{NearMatch, near_matches};
use gantry_actors::catalog::names::{self, identity_key, search_form};
use gantry_actors::ports::catalog::CatalogOption;
use gantry_actors::sessions::AccessClaims;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, StatusCode};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::access::viewer;
use super::body::read_json;
use super::ctx::{Ctx, percent_decode, query_pairs};
use super::language;
use super::problem::ApiError;
use super::respond::{Prepared, Response, json_response, not_modified, version_etag};
use super::state::AppState;

/// Default and largest page size.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;

fn kind_of(ctx: &Ctx) -> Result<OptionKind, ApiError> {
    ctx.params
        .get("kind")
        .and_then(OptionKind::parse)
        .ok_or(ApiError::ResourceNotFound { code: "unknown_kind", what: "option kind" })
}

#[derive(Serialize)]
struct Item<'a> {
    id: Uuid,
    name: &'a str,
    parent_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    has_engine: Option<bool>,
}

impl<'a> Item<'a> {
    /// `o` as served in `locale`: its name in that locale (along the fallback chain), else its own name (which
    /// is in the default locale). The id is the same in every language.
    fn new(o: &'a CatalogOption, locale: &Locale) -> Self {
        Self {
            id: o.id,
            name: locale.translation(&o.translations).unwrap_or(&o.name),
            parent_id: o.parent_id,
            has_engine: (o.kind == OptionKind::Category).then_some(o.has_engine),
        }
    }
}

/// Whether `option` has the identity `key` in some language (its name or a translation): `Deutschland` is
/// Germany.
fn has_identity(option: &CatalogOption, key: &str) -> bool {
    option.name_key == key || option.translations.values().any(|t| identity_key(t) == key)
}

/// Whether `viewer` may see `option`: everyone sees approved options, only the creator sees a pending one.
fn visible_to(option: &CatalogOption, viewer: Option<Uuid>) -> bool {
    !option.pending || (viewer.is_some() && option.created_by == viewer)
}

#[derive(Serialize)]
struct Page<'a> {
    /// The locale the names are in.
    locale: &'a str,
    items: Vec<Item<'a>>,
    version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<Uuid>,
}

/// The query parameters of a listing.
#[derive(Default)]
struct Query {
    parent_id: Option<Uuid>,
    q: Option<String>,
    limit: usize,
    cursor: Option<Uuid>,
    /// `lang` (the first one), for [`language::of_query`]: the query is read once.
    lang: Option<String>,
}

fn parse_query(raw: Option<&str>) -> Result<Query, ApiError> {
    let mut query = Query { limit: DEFAULT_LIMIT, ..Query::default() };
    for (k, v) in query_pairs(raw) {
        let v = percent_decode(v);
        match k {
            "parent_id" => {
                query.parent_id =
                    Some(Uuid::parse_str(&v).map_err(|_| ApiError::field("parent_id", "invalid", "not a UUID"))?);
            }
            "q" => query.q = Some(v.into_owned()),
            "lang" if query.lang.is_none() => query.lang = Some(v.into_owned()),
            "limit" => {
                query.limit = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| ApiError::field("limit", "invalid", format!("between 1 and {MAX_LIMIT}")))?;
            }
            "cursor" => {
                query.cursor =
                    Some(Uuid::parse_str(&v).map_err(|_| ApiError::field("cursor", "invalid", "not a cursor"))?);
            }
            _ => {}
        }
    }
    Ok(query)
}

/// Whether `search_key` has a word starting with `q` (already in search form).
fn matches(search_key: &str, q: &str) -> bool {
    search_key.starts_with(q) || search_key.split([' ', '-', '/']).any(|word| word.starts_with(q))
}

/// `GET /v1/options/{kind}?parent_id=&q=&limit=&cursor=`.
///
/// # Errors
/// 404 `unknown_kind`; 422 for a missing or malformed parameter; 503 when the catalog is unavailable.
pub async fn list(state: &AppState, ctx: &Ctx, req: &Request<Incoming>) -> Result<Response, ApiError> {
    let kind = kind_of(ctx)?;
    let query = parse_query(req.uri().query())?;
    if kind.parent_kind().is_some() && query.parent_id.is_none() {
        return Err(ApiError::field("parent_id", "required", format!("{} options belong to a parent", kind.as_str())));
    }
    let parent = if kind.parent_kind().is_some() { query.parent_id } else { None };
    let locale = language::of_query(&state.languages, query.lang.as_deref(), req)?;
    let key = (kind, parent);
    // A cached list under a parent that is not pending (the rule) is one read of the cache, nothing awaited.
    let list = match state.catalog.cached_with_parent(key) {
        Some((list, false)) => list,
        Some((list, true)) => {
            check_parent(state, kind, parent, req).await?;
            list
        }
        None => {
            let list = state.catalog.list(key).await?;
            check_parent(state, kind, parent, req).await?;
            list
        }
    };
    let viewer = viewer(state, req);
    let own_pending = viewer.is_some() && list.items.iter().any(|o| o.pending && o.created_by == viewer);
    let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()).map(search_form);
    // A list with the viewer's own pending options is theirs alone: its own `ETag` (an anonymous
    // `If-None-Match` with it is not a match) and private to their browser; the public list may be kept by
    // shared caches for `catalog.list_max_age_secs`. Either varies with the credential and the language (each
    // locale its own `ETag`).
    let public_head = |response: &mut Response| {
        response.headers_mut().insert(header::CACHE_CONTROL, state.list_cache_control.clone());
        language::mark(&state.languages, response, locale, true);
    };
    if q.is_none() && query.cursor.is_none() && query.limit == DEFAULT_LIMIT && !own_pending {
        // The plain list (what form UIs load): made once per cached list and locale, without pending options.
        let page: Arc<Prepared> = list.first_page.get_or_render(&locale.tag, || {
            let mut all = list.items.iter().filter(|o| !o.pending);
            let items: Vec<Item<'_>> = all.by_ref().take(DEFAULT_LIMIT).map(|o| Item::new(o, locale)).collect();
            let next_cursor = if all.next().is_some() { items.last().map(|i| i.id) } else { None };
            let page = Page { locale: &locale.tag, items, version: list.version, next_cursor };
            let body = bytes::Bytes::from(serde_json::to_vec(&page).expect("a page serialises"));
            Prepared::json(body, version_etag('v', list.version, &locale.tag), public_head)
        });
        if let Some(mut response) = not_modified(req, page.etag()) {
            public_head(&mut response);
            return Ok(response);
        }
        return Ok(page.response());
    }
    let (etag, cache_control) = match viewer.filter(|_| own_pending) {
        Some(user) => (personal_etag(list.version, user, &locale.tag), HeaderValue::from_static("private, no-cache")),
        None => (version_etag('v', list.version, &locale.tag), state.list_cache_control.clone()),
    };
    let cached = |mut response: Response| {
        response.headers_mut().insert(header::CACHE_CONTROL, cache_control.clone());
        language::mark(&state.languages, &mut response, locale, true);
        response
    };
    if let Some(response) = not_modified(req, &etag) {
        return Ok(cached(response));
    }
    let mut filtered = list
        .items
        .iter()
        .filter(|o| visible_to(o, viewer))
        // A query matches the name in any language (`Deutschland` finds Germany, whichever locale is served).
        .filter(|o| {
            q.as_deref().is_none_or(|q| {
                matches(&o.search_key, q) || o.translations.values().any(|t| matches(&search_form(t), q))
            })
        });
    if let Some(cursor) = query.cursor {
        // The cursor is the id of the last item of the previous page.
        filtered.by_ref().find(|o| o.id == cursor);
    }
    let items: Vec<Item<'_>> = filtered.by_ref().take(query.limit).map(|o| Item::new(o, locale)).collect();
    let next_cursor = if filtered.next().is_some() { items.last().map(|i| i.id) } else { None };
    let page = Page { locale: &locale.tag, items, version: list.version, next_cursor };
    let mut response = json_response(StatusCode::OK, &page);
    if let Ok(v) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    Ok(cached(response))
}

/// The `ETag` of a list personalised for `user` at `version` in `locale`: the version, a digest of the user's id
/// (not the id itself) and the locale.
fn personal_etag(version: u64, user: Uuid, locale: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(user.as_bytes());
    format!("\"v{version}-p{}-{locale}\"", hex::encode(&digest[..8]))
}

/// Refuses a list under a parent `viewer` may not see (another user's pending option) as a list under an
/// unknown parent: a pending option is its creator's alone, children included. Parents are top-level options,
/// so this is a look-up in a cached list (its pending options, usually none); the caller's token is read only
/// when the parent is pending.
///
/// # Errors
/// 422 `parent_id` `not_found`; 503.
async fn check_parent(
    state: &AppState,
    kind: OptionKind,
    parent: Option<Uuid>,
    req: &Request<Incoming>,
) -> Result<(), ApiError> {
    let (Some(parent_kind), Some(parent)) = (kind.parent_kind(), parent) else { return Ok(()) };
    let pending = state.catalog.hides(parent_kind, parent, None).await?;
    if pending && state.catalog.hides(parent_kind, parent, viewer(state, req)).await? {
        return Err(ApiError::field("parent_id", "not_found", "no such parent"));
    }
    Ok(())
}

/// How old an account is, from its id (user ids are UUID v7: their first 48 bits are the creation time in
/// ms). `None` for an id without a time (not made by Gantry), which counts as new.
fn account_age_secs(user: Uuid) -> Option<u64> {
    let (secs, _) = user.get_timestamp()?.to_unix();
    let now = u64::try_from(OffsetDateTime::now_utc().unix_timestamp()).ok()?;
    Some(now.saturating_sub(secs))
}

/// The answer of a create: the option, whether it waits for review, and the close names already there.
#[derive(Serialize)]
struct CreatedItem<'a> {
    #[serde(flatten)]
    item: Item<'a>,
    pending: bool,
    near_matches: Vec<NearMatch>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOption {
    name: String,
    #[serde(default)]
    parent_id: Option<Uuid>,
    #[serde(default)]
    has_engine: Option<bool>,
}

/// `POST /v1/options/{kind} {name, parent_id?, has_engine?}` (logged-in users) → 201 with the new option,
/// or 200 with the existing one of the same (normalised) name.
///
/// # Errors
/// 401; 404 `unknown_kind`; 422 for a bad name (`invisible_character` naming the code point, `mixed_scripts`
/// for a new name, `too_wide`, …) or parent; 429 beyond the per-user rate; 503.
pub async fn create(
    state: &AppState,
    ctx: &Ctx,
    claims: &AccessClaims,
    req: Request<Incoming>,
) -> Result<Response, ApiError> {
    let kind = kind_of(ctx)?;
    let locale = language::of_request(&state.languages, &req)?;
    if kind == OptionKind::Category {
        // The top of the taxonomy is the operators' (every listing form hangs off a category).
        return Err(ApiError::Forbidden {
            code: "operator_only",
            message: "categories are created by operators (POST /admin/options on the admin listener, \
                      gantry options create)",
        });
    }
    let user_key = claims.sub.to_string();
    state.catalog.check_create(&user_key)?;
    let body: NewOption = read_json(req, state.settings.http.max_body_bytes).await?;
    let name = names::normalize(&body.name)?;
    let parent_id = match (kind.parent_kind(), body.parent_id) {
        (None, None) => None,
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
        // A merged parent's id stands for the option it was merged into.
        // Another user's pending option is not there for this user: nothing hangs under it.
        (Some(parent_kind), Some(id)) => match state.catalog.resolve(id).await?.map(|r| r.option) {
            Some(parent) if !visible_to(&parent, Some(claims.sub)) => {
                return Err(ApiError::field("parent_id", "not_found", "no such parent"));
            }
            Some(parent) if parent.kind == parent_kind && !parent.hidden => Some(parent.id),
            Some(_) => {
                return Err(ApiError::field(
                    "parent_id",
                    "wrong_kind",
                    format!("the parent must be a {}", parent_kind.as_str()),
                ));
            }
            None => return Err(ApiError::field("parent_id", "not_found", "no such parent")),
        },
    };
    if body.has_engine.is_some() && kind != OptionKind::Category {
        return Err(ApiError::field("has_engine", "not_allowed", "only categories say whether they have an engine"));
    }
    state.catalog.count_create(&user_key);
    let review_age = state.settings.catalog.new_account_review_age_secs;
    let pending = review_age > 0 && account_age_secs(claims.sub).is_none_or(|age| age < review_age);
    let option = CatalogOption {
        id: Uuid::now_v7(),
        kind,
        parent_id,
        name: name.display,
        name_key: name.key,
        search_key: name.search,
        has_engine: body.has_engine.unwrap_or(false),
        created_at: OffsetDateTime::now_utc(),
        created_by: Some(claims.sub),
        hidden: false,
        pending,
        translations: Default::default(),
    };
    // Near matches come from the list as it was before the create (a cache hit as a rule): reading it after
    // would reload it at the new version on every create.
    let before = state.catalog.list((kind, parent_id)).await?;
    if let Err(mixed) = names::check_scripts(&option.name) {
        // A look-alike of an option already there ("Vоlvo" with a Cyrillic о) is that option; a new name
        // mixing scripts is refused.
        if !before.items.iter().any(|o| o.name_key == option.name_key && visible_to(o, Some(claims.sub))) {
            return Err(mixed.into());
        }
    }
    let near = near_matches(&option.name_key, before.items.iter().filter(|o| visible_to(o, Some(claims.sub))));
    let created = state.catalog.create(option).await?;
    if created.option.hidden {
        return Err(ApiError::field("name", "hidden", "moderators hid an option of this name"));
    }
    let status = if created.created { StatusCode::CREATED } else { StatusCode::OK };
    let near = if created.created { near } else { Vec::new() };
    let body =
        CreatedItem { item: Item::new(&created.option, locale), pending: created.option.pending, near_matches: near };
    let mut response = json_response(status, &body);
    language::mark(&state.languages, &mut response, locale, true);
    if let Ok(v) = HeaderValue::from_str(&created.version.to_string()) {
        response.headers_mut().insert("x-catalog-version", v);
    }
    Ok(response)
}

/// The parent of a `suggestions` query, checked as a create checks it.
fn parent_of(kind: OptionKind, parent_id: Option<Uuid>) -> Result<Option<Uuid>, ApiError> {
    match (kind.parent_kind(), parent_id) {
        (None, _) => Ok(None),
        (Some(_), Some(id)) => Ok(Some(id)),
        (Some(_), None) => {
            Err(ApiError::field("parent_id", "required", format!("{} options belong to a parent", kind.as_str())))
        }
    }
}

#[derive(Serialize)]
struct Suggestions<'a> {
    /// The option that already has this identity (what a create would return), if any.
    exact: Option<Item<'a>>,
    /// Close names (edit distance, shared prefix), closest first.
    near_matches: Vec<NearMatch>,
}

/// `GET /v1/options/{kind}/suggestions?name=&parent_id=`: what a create of `name` would find — the option
/// of the same identity, and near matches — so a front end can ask "did you mean Scania?" before creating.
///
/// # Errors
/// 404 `unknown_kind`; 422 for a bad name or a missing parent; 503.
pub async fn suggest(state: &AppState, ctx: &Ctx, req: &Request<Incoming>) -> Result<Response, ApiError> {
    let kind = kind_of(ctx)?;
    let mut raw_name = None;
    for pair in req.uri().query().unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        if let Some(("name", v)) = pair.split_once('=') {
            raw_name = Some(percent_decode(v));
        }
    }
    let name = names::normalize(raw_name.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::field("name", e.code(), e.to_string()))?;
    let parent = parent_of(kind, parse_query(req.uri().query())?.parent_id)?;
    let locale = language::of_request(&state.languages, req)?;
    let viewer = viewer(state, req);
    let list = state.catalog.list((kind, parent)).await?;
    check_parent(state, kind, parent, req).await?;
    let visible = || list.items.iter().filter(|o| visible_to(o, viewer));
    // What a create would find: the option of this identity in any language.
    let exact = visible().find(|o| has_identity(o, &name.key)).map(|o| Item::new(o, locale));
    let near_matches = near_matches(&name.key, visible());
    let mut response = json_response(StatusCode::OK, &Suggestions { exact, near_matches });
    language::mark(&state.languages, &mut response, locale, true);
    Ok(response)
}

#[derive(Serialize)]
struct Resolved<'a> {
    #[serde(flatten)]
    item: Item<'a>,
    /// Hidden by moderators: not listed, not accepted in new forms.
    hidden: bool,
    /// The id asked for, when it was merged into this option.
    #[serde(skip_serializing_if = "Option::is_none")]
    merged_from: Option<Uuid>,
}

/// `GET /v1/options/{kind}/{id}`: the option an id stands for — itself, or (after a merge) the option it was
/// merged into, with `merged_from`; hidden options resolve too (`hidden: true`); a pending option only for its
/// creator (for anyone else it does not exist).
///
/// # Errors
/// 404 `unknown_kind`, `option_not_found`; 503.
pub async fn get(state: &AppState, ctx: &Ctx, req: &Request<Incoming>) -> Result<Response, ApiError> {
    let kind = kind_of(ctx)?;
    let not_found = ApiError::ResourceNotFound { code: "option_not_found", what: "option" };
    let Some(id) = ctx.params.get("id").and_then(|id| Uuid::parse_str(id).ok()) else { return Err(not_found) };
    let locale = language::of_request(&state.languages, req)?;
    let viewer = viewer(state, req);
    let resolved = state
        .catalog
        .resolve(id)
        .await?
        .filter(|r| r.option.kind == kind && visible_to(&r.option, viewer))
        .ok_or(not_found)?;
    let body = Resolved {
        item: Item::new(&resolved.option, locale),
        hidden: resolved.option.hidden,
        merged_from: resolved.merged_from,
    };
    let mut response = json_response(StatusCode::OK, &body);
    language::mark(&state.languages, &mut response, locale, true);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Query values are percent-decoded (UTF-8), `+` is a space.
    #[test]
    fn query_values_are_decoded() {
        assert_eq!(percent_decode("M%C3%BCnchen"), "München");
        assert_eq!(percent_decode("mercedes+benz"), "mercedes benz");
        assert_eq!(percent_decode("100%"), "100%");
    }

    /// A query matches the start of the name or of any word in it.
    #[test]
    fn prefix_matching_by_word() {
        assert!(matches("mercedes-benz", "benz"));
        assert!(matches("mercedes-benz", "merc"));
        assert!(!matches("mercedes-benz", "enz"));
    }
}
