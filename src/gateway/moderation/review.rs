//! The catalog review queue's data beyond the options themselves (admin listener, Bearer admin token):
//!
//! | route | what |
//! |---|---|
//! | `GET /admin/options` (items' `creator`) | who created each option: email, account creation time and age, whether the account is new |
//! | `GET /admin/options/duplicates?created_by=&since=&limit=` | near-duplicate groups around the users' newest options: the same identity, or a near match |
//!
//! The options come from the catalog owner (the store for the recent ones, the cached lists for their
//! siblings); creators from the accounts owner (its email cache, at most [`LOOKUPS_AT_ONCE`] store reads at
//! a time). An account's creation time comes from its id (a UUID v7), as the catalog's review rule reads it.

use std::collections::{BTreeSet, HashMap, HashSet};

use futures::StreamExt;
use gantry_actors::catalog::moderation::duplicate_groups;
use gantry_actors::ports::catalog::CatalogOption;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::view::{AdminOption, parse_recent};
use crate::gateway::problem::ApiError;
use crate::gateway::respond::{Response, json_response};
use crate::gateway::state::AppState;

/// Creators looked up in the store at once (most are in the accounts owner's email cache).
const LOOKUPS_AT_ONCE: usize = 8;

/// Who created an option, as a moderator judges it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Creator {
    /// The account.
    id: Uuid,
    /// Its email; `None` once the account is deleted.
    email: Option<String>,
    /// When the account was created (from its id); `None` for an id without a time (not made by Gantry).
    #[serde(with = "time::serde::rfc3339::option")]
    account_created_at: Option<OffsetDateTime>,
    /// The account's age now, seconds.
    account_age_secs: Option<u64>,
    /// Younger than `catalog.new_account_review_age_secs`: its options wait for an operator's approval.
    new_account: bool,
}

/// An option of the review queue: the operators' view of it and its creator (`None`: the seed or an operator).
#[derive(Serialize)]
pub(super) struct ReviewOption<'a> {
    #[serde(flatten)]
    option: AdminOption<'a>,
    creator: Option<Creator>,
}

/// The review view of each of `options`, with the creators `creators` found.
pub(super) fn review_items<'a>(
    options: impl IntoIterator<Item = &'a CatalogOption>,
    creators: &HashMap<Uuid, Creator>,
) -> Vec<ReviewOption<'a>> {
    options
        .into_iter()
        .map(|o| ReviewOption {
            option: AdminOption::from(o),
            creator: o.created_by.and_then(|id| creators.get(&id).cloned()),
        })
        .collect()
}

/// The creators of `options`, each looked up once.
///
/// # Errors
/// 503 when the accounts store is unavailable.
pub(super) async fn creators<'a>(
    state: &AppState,
    options: impl IntoIterator<Item = &'a CatalogOption>,
) -> Result<HashMap<Uuid, Creator>, ApiError> {
    let ids: BTreeSet<Uuid> = options.into_iter().filter_map(|o| o.created_by).collect();
    let found: Vec<_> = futures::stream::iter(ids)
        .map(|id| async move { state.accounts.email_of(id).await.map(|email| (id, email)) })
        .buffer_unordered(LOOKUPS_AT_ONCE)
        .collect()
        .await;
    let review_age = state.settings.catalog.new_account_review_age_secs;
    let now = OffsetDateTime::now_utc();
    let mut out = HashMap::with_capacity(found.len());
    for entry in found {
        let (id, email) = entry?;
        let created = created_at(id);
        let age = created.map(|at| u64::try_from((now - at).whole_seconds()).unwrap_or(0));
        // As the catalog's rule: an id without a time counts as new.
        let new_account = review_age > 0 && age.is_none_or(|secs| secs < review_age);
        out.insert(id, Creator { id, email, account_created_at: created, account_age_secs: age, new_account });
    }
    Ok(out)
}

/// When the account `id` was created: user ids are UUID v7, whose first 48 bits are the creation time in ms.
fn created_at(id: Uuid) -> Option<OffsetDateTime> {
    let (secs, nanos) = id.get_timestamp()?.to_unix();
    let at = OffsetDateTime::from_unix_timestamp(i64::try_from(secs).ok()?).ok()?;
    Some(at + time::Duration::nanoseconds(i64::from(nanos)))
}

/// One near-duplicate group.
#[derive(Serialize)]
struct GroupView<'a> {
    kind: gantry_actors::catalog::OptionKind,
    parent_id: Option<Uuid>,
    /// `identity` when every option has one identity (new accounts' pending twins), else `near`.
    #[serde(rename = "match")]
    matched: &'static str,
    /// Oldest first.
    options: Vec<ReviewOption<'a>>,
}

/// `GET /admin/options/duplicates?created_by=&since=&limit=`: around each option users created among the newest
/// `limit` (default 100, at most 1000; `created_by` and `since` as for the review list) that is not hidden, the
/// options of its kind and parent with its identity or a near one, joined
/// into groups; the group with the newest option first.
///
/// # Errors
/// 422 for a malformed limit; 503 when the catalog or the accounts store is unavailable.
pub(in crate::gateway) async fn duplicates(state: &AppState, req: &Request<Incoming>) -> Result<Response, ApiError> {
    let query = parse_recent(req.uri().query())?;
    let recent = state.catalog.recent(query.created_by, query.since, query.limit).await?;
    // Users' options: the seed's and operators' are curated already (and short model names of the seed, such as
    // "RX 20" and "RX 60", are near one another without being duplicates).
    let reviewed: Vec<&CatalogOption> = recent.iter().filter(|o| !o.hidden && o.created_by.is_some()).collect();
    let around: HashSet<Uuid> = reviewed.iter().map(|o| o.id).collect();
    let lists: BTreeSet<_> = reviewed.iter().map(|o| (o.kind, o.parent_id)).collect();
    let mut groups = Vec::new();
    for key in lists {
        let list = state.catalog.list(key).await?;
        groups.extend(duplicate_groups(&list.items, &around));
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.options.iter().map(|o| (o.created_at, o.id)).max()));
    let creators = creators(state, groups.iter().flat_map(|g| &g.options)).await?;
    let views: Vec<GroupView<'_>> = groups
        .iter()
        .map(|g| GroupView {
            kind: g.options[0].kind,
            parent_id: g.options[0].parent_id,
            matched: if g.same_identity { "identity" } else { "near" },
            options: review_items(&g.options, &creators),
        })
        .collect();
    Ok(json_response(StatusCode::OK, &serde_json::json!({ "groups": views })))
}
