//! The language of an answer: the request's locale negotiated from `?lang=` (wins) and `Accept-Language`
//! against `catalog.locales` (`gantry_actors::catalog::locale::negotiate`), and the headers that say which one
//! an answer is in (`Content-Language`) and that it varies with the header (`Vary: Accept-Language`). Below the
//! handlers (templates, options), imports none of them.

use gantry_actors::catalog::locale::{Locale, negotiate, parse_tag};
use hyper::Request;
use hyper::body::Incoming;
use hyper::header::{ACCEPT_LANGUAGE, CONTENT_LANGUAGE, HeaderValue, VARY};

use super::ctx::percent_decode;
use super::problem::ApiError;
use super::respond::Response;
use super::state::AppState;

/// The locale `req` is answered in.
///
/// # Errors
/// 422 `lang` `invalid` when `?lang=` is not a locale tag, an empty one included (a tag the deployment does not
/// serve is no error: the answer is in the fallback, and says so).
pub fn of_request(state: &AppState, req: &Request<Incoming>) -> Result<Locale, ApiError> {
    let lang = req.uri().query().and_then(|query| {
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == "lang").then(|| percent_decode(v))
        })
    });
    if let Some(lang) = lang.as_deref() {
        parse_tag(lang).map_err(|e| ApiError::field("lang", "invalid", e.to_string()))?;
    }
    let header = req.headers().get(ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let catalog = &state.settings.catalog;
    let negotiated = negotiate(lang.as_deref(), header, &catalog.served_locales(), &catalog.default_locale);
    if negotiated.fell_back {
        metrics::counter!("gantry_locale_fallbacks_total").increment(1);
        tracing::debug!(event = "locale_fallback", locale = %negotiated.locale.tag, "no served locale asked for");
    }
    Ok(negotiated.locale)
}

/// Marks `response` as being in `locale` and varying with `Accept-Language` (and, with `vary_auth`, with
/// `Authorization`, as option lists do).
pub fn mark(response: &mut Response, locale: &Locale, vary_auth: bool) {
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&locale.tag) {
        headers.insert(CONTENT_LANGUAGE, v);
    }
    let vary = if vary_auth { "Authorization, Accept-Language" } else { "Accept-Language" };
    headers.insert(VARY, HeaderValue::from_static(vary));
}
