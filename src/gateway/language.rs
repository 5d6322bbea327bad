//! The language of an answer: the request's locale negotiated from `?lang=` (wins) and `Accept-Language`
//! against `catalog.locales` (`gantry_actors::catalog::locale::negotiate`), and the headers that say which one
//! an answer is in (`Content-Language`) and that it varies with the header (`Vary: Accept-Language`). Below the
//! handlers (templates, options), imports none of them.

use gantry_actors::catalog::locale::{Locale, negotiate_index, parse_tag};
use hyper::Request;
use hyper::body::Incoming;
use hyper::header::{ACCEPT_LANGUAGE, CONTENT_LANGUAGE, HeaderValue, VARY};

use super::ctx::{percent_decode, query_pairs};
use super::problem::ApiError;
use super::respond::Response;
use crate::config::CatalogSettings;

/// The locales this deployment serves, resolved once at start-up: each one's [`Locale`] (its fallback chain) and
/// its `Content-Language` value, so a request only looks one up (a request that asks for no language costs no
/// allocation at all).
pub struct Languages {
    /// Canonical tags, the default first.
    served: Vec<String>,
    /// `locales[i]` is `served[i]`'s locale.
    locales: Vec<Locale>,
    /// `headers[i]` is `served[i]` as a header value.
    headers: Vec<HeaderValue>,
}

impl Languages {
    /// The table for `catalog` (`catalog.default_locale` and `catalog.locales`, validated with the settings).
    #[must_use]
    pub fn new(catalog: &CatalogSettings) -> Self {
        let served = catalog.served_locales();
        let locales = served.iter().map(|tag| Locale::new(tag, &catalog.default_locale)).collect();
        let headers = served
            .iter()
            .map(|tag| HeaderValue::from_str(tag).unwrap_or_else(|_| HeaderValue::from_static("und")))
            .collect();
        Self { served, locales, headers }
    }

    fn at(&self, i: usize) -> &Locale {
        &self.locales[i]
    }

    /// The `Content-Language` value of `locale` (one of this table's).
    fn header(&self, locale: &Locale) -> Option<&HeaderValue> {
        self.served.iter().position(|t| *t == locale.tag).map(|i| &self.headers[i])
    }
}

/// The locale `req` is answered in (one of `languages`, the deployment's).
///
/// # Errors
/// 422 `lang` `invalid` when `?lang=` is not a locale tag, an empty one included (a tag the deployment does not
/// serve is no error: the answer is in the fallback, and says so).
pub fn of_request<'s>(languages: &'s Languages, req: &Request<Incoming>) -> Result<&'s Locale, ApiError> {
    let lang = query_pairs(req.uri().query()).find_map(|(k, v)| (k == "lang").then(|| percent_decode(v)));
    of_query(languages, lang.as_deref(), req)
}

/// Like [`of_request`], with the query's `lang` already read (by a handler that reads its query once).
///
/// # Errors
/// As [`of_request`].
pub fn of_query<'s>(
    languages: &'s Languages,
    lang: Option<&str>,
    req: &Request<Incoming>,
) -> Result<&'s Locale, ApiError> {
    if let Some(lang) = lang {
        parse_tag(lang).map_err(|e| ApiError::field("lang", "invalid", e.to_string()))?;
    }
    let header = req.headers().get(ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    if lang.is_none() && header.is_none() {
        return Ok(languages.at(0));
    }
    let (found, asked) = negotiate_index(lang, header, &languages.served);
    if found.is_none() && asked {
        metrics::counter!("gantry_locale_fallbacks_total").increment(1);
        tracing::debug!(event = "locale_fallback", locale = %languages.at(0).tag, "no served locale asked for");
    }
    Ok(languages.at(found.unwrap_or(0)))
}

/// Marks `response` as being in `locale` and varying with `Accept-Language` (and, with `vary_auth`, with
/// `Authorization`, as option lists do).
pub fn mark(languages: &Languages, response: &mut Response, locale: &Locale, vary_auth: bool) {
    let headers = response.headers_mut();
    if let Some(v) = languages.header(locale) {
        headers.insert(CONTENT_LANGUAGE, v.clone());
    }
    let vary = if vary_auth { "Authorization, Accept-Language" } else { "Accept-Language" };
    headers.insert(VARY, HeaderValue::from_static(vary));
}
