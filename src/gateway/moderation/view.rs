//! What the moderation routes share: an option as operators see it, and the review list's query.

use gantry_actors::catalog::OptionKind;
use gantry_actors::ports::catalog::CatalogOption;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::gateway::ctx::{percent_decode, query_pairs};
use crate::gateway::problem::ApiError;

/// Default and largest page of the review list and the audit log.
pub(super) const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

/// An option as operators see it.
#[derive(Serialize)]
pub(super) struct AdminOption<'a> {
    id: Uuid,
    kind: OptionKind,
    name: &'a str,
    /// Its names in other locales (categories, subcategories, countries, cities).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    translations: &'a std::collections::BTreeMap<String, String>,
    parent_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    has_engine: Option<bool>,
    hidden: bool,
    pending: bool,
    created_by: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl<'a> From<&'a CatalogOption> for AdminOption<'a> {
    fn from(o: &'a CatalogOption) -> Self {
        Self {
            id: o.id,
            kind: o.kind,
            name: &o.name,
            translations: &o.translations,
            parent_id: o.parent_id,
            has_engine: (o.kind == OptionKind::Category).then_some(o.has_engine),
            hidden: o.hidden,
            pending: o.pending,
            created_by: o.created_by,
            created_at: o.created_at,
        }
    }
}

/// The query of the review list.
pub(super) struct RecentQuery {
    /// Only this account's options.
    pub(super) created_by: Option<Uuid>,
    /// Only options created since then.
    pub(super) since: Option<OffsetDateTime>,
    /// At most this many.
    pub(super) limit: u32,
}

pub(super) fn limit_of(v: &str) -> Result<u32, ApiError> {
    v.parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| ApiError::field("limit", "invalid", format!("between 1 and {MAX_LIMIT}")))
}

pub(super) fn parse_recent(raw: Option<&str>) -> Result<RecentQuery, ApiError> {
    let mut query = RecentQuery { created_by: None, since: None, limit: DEFAULT_LIMIT };
    for (k, v) in query_pairs(raw) {
        let v = percent_decode(v);
        match k {
            "created_by" => {
                query.created_by =
                    Some(Uuid::parse_str(&v).map_err(|_| ApiError::field("created_by", "invalid", "not a UUID"))?);
            }
            "since" => {
                let parsed = OffsetDateTime::parse(&v, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| ApiError::field("since", "invalid", "not an RFC 3339 time"))?;
                query.since = Some(parsed);
            }
            "limit" => query.limit = limit_of(&v)?,
            _ => {}
        }
    }
    Ok(query)
}
