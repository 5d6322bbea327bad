//! `GET /.well-known/jwks.json` on the public listener: the published key set (RFC 7517) every service of the
//! marketplace verifies Gantry's access tokens with. Answered from memory (the document is rendered once per
//! key ring), cacheable for `sessions.key_set_max_age_secs`, with an ETag so a revalidation costs a 304.

use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, HeaderValue};
use hyper::{Request, StatusCode};

use super::respond::{Response, full, not_modified, representation};
use super::state::AppState;

/// `GET /.well-known/jwks.json`.
#[must_use]
pub fn jwks(state: &AppState, req: &Request<Incoming>) -> Response {
    let key_set = state.sessions.key_set();
    let doc = key_set.document();
    let cache_control = HeaderValue::from_str(&format!("public, max-age={}", key_set.max_age_secs()))
        .expect("a number makes a valid header value");
    let mut response = not_modified(req, &doc.etag).unwrap_or_else(|| {
        let mut response = representation(full(doc.body.clone()));
        *response.status_mut() = StatusCode::OK;
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/jwk-set+json"));
        if let Ok(etag) = HeaderValue::from_str(&doc.etag) {
            response.headers_mut().insert(ETAG, etag);
        }
        response
    });
    response.headers_mut().insert(CACHE_CONTROL, cache_control);
    response
}
