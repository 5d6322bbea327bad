//! Responses out: the body type and small builders (JSON, plain text, empty). Below every handler, the
//! problem mapping and the server; imports none of them.

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, HeaderValue, IF_NONE_MATCH, PRAGMA,
    X_CONTENT_TYPE_OPTIONS,
};
use hyper::{Request, StatusCode};
use serde::Serialize;

/// The response body type: any stream of bytes (`Send`, not `Sync`: object streams are not `Sync`).
pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;
/// A response.
pub type Response = hyper::Response<Body>;

/// A body of fixed bytes.
#[must_use]
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed_unsync()
}

/// An empty body.
#[must_use]
pub fn empty() -> Body {
    full(Bytes::new())
}

/// Headers of a cached representation (an option list, a form, the key set, a download): its own (up to eight
/// for a download) and, on the way out, `nosniff`, the CSP, `x-request-id` and HSTS.
const REPRESENTATION_HEADERS: usize = 12;

/// A 200 response with `body` whose header map has room for every header of a representation from the start.
/// `hyper::Response::new`'s map has room for six and then grows (a second allocation and a rehash: ~700
/// instructions of every option list before this); a short answer (`/healthz`, most JSON) stays with it.
#[must_use]
pub fn representation(body: Body) -> Response {
    let mut response = hyper::Response::new(body);
    response.headers_mut().reserve(REPRESENTATION_HEADERS);
    response
}

/// A representation made once and served many times (an option list's first page, a form, in one locale): its
/// body, its head (every field but those each response gets on its way out) and its `ETag`. Serving it copies
/// the head's map (two allocations) instead of building it field by field: ~1.5k instructions of every cached
/// list before this.
#[derive(Debug)]
pub struct Prepared {
    body: Bytes,
    head: hyper::HeaderMap,
    etag: String,
}

impl Prepared {
    /// A JSON `body` with its `etag` and the fields `head` adds (`Cache-Control`, the language's).
    #[must_use]
    pub fn json(body: Bytes, etag: String, head: impl FnOnce(&mut Response)) -> std::sync::Arc<Self> {
        let mut response = representation(empty());
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(v) = HeaderValue::from_str(&etag) {
            response.headers_mut().insert(ETAG, v);
        }
        head(&mut response);
        let (parts, _) = response.into_parts();
        std::sync::Arc::new(Self { body, head: parts.headers, etag })
    }

    /// Its `ETag`, for `If-None-Match`.
    #[must_use]
    pub fn etag(&self) -> &str {
        &self.etag
    }

    /// A 200 response with it.
    #[must_use]
    pub fn response(&self) -> Response {
        let mut response = hyper::Response::new(full(self.body.clone()));
        *response.headers_mut() = self.head.clone();
        response
    }
}

/// An empty response with `status` (204, 304, 302, …).
#[must_use]
pub fn status_only(status: StatusCode) -> Response {
    let mut response = hyper::Response::new(empty());
    *response.status_mut() = status;
    response
}

/// The first allocation of a JSON answer, in bytes.
const JSON_START_CAPACITY: usize = 1024;

/// `value` as JSON with `status`.
#[must_use]
pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response {
    // Serialising our own response types cannot fail (no maps with non-string keys, no custom errors). Most
    // answers fit the first allocation; `to_vec` would start empty and grow three or four times.
    let mut bytes = Vec::with_capacity(JSON_START_CAPACITY);
    serde_json::to_writer(&mut bytes, value).expect("response types serialise");
    json_bytes(status, bytes)
}

/// Appends `text` to `out` as a JSON string, exactly as serde_json writes it. A text with nothing to escape (no
/// `"`, `\\` or control character: field names, codes, most messages) is checked eight bytes at a time and
/// copied whole; serde_json looks up every byte in its escape table and writes the quotes and the text as three
/// separate writes (~170 instructions for a field name against ~60 here).
pub fn json_str(out: &mut Vec<u8>, text: &str) {
    if needs_escape(text.as_bytes()) {
        serde_json::to_writer(out, text).expect("a string serialises");
    } else {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

/// Whether `bytes` hold a byte JSON must escape: `"`, `\\` or one below 0x20. Eight bytes at a time, the last
/// ones padded with a byte that needs nothing, by the word tricks for "a byte is zero" and "a byte is below n"
/// (exact for "any byte": a borrow can only carry out of a byte that already matched).
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_le_bytes([b'"'; 8]);
    const BACKSLASHES: u64 = u64::from_le_bytes([b'\\'; 8]);
    let word = |x: u64| {
        let below_space = x.wrapping_sub(ONES * 0x20) & !x;
        let quote = (x ^ QUOTES).wrapping_sub(ONES) & !(x ^ QUOTES);
        let backslash = (x ^ BACKSLASHES).wrapping_sub(ONES) & !(x ^ BACKSLASHES);
        (below_space | quote | backslash) & HIGH != 0
    };
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        if word(u64::from_le_bytes(chunk.try_into().expect("eight bytes"))) {
            return true;
        }
    }
    let mut last = [b'a'; 8];
    last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    word(u64::from_le_bytes(last))
}

/// A JSON document already written (`bytes`) with `status`.
#[must_use]
pub fn json_bytes(status: StatusCode, bytes: impl Into<Bytes>) -> Response {
    let mut response = hyper::Response::new(full(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Marks a response that carries tokens as never to be stored by any cache (RFC 6749 section 5.1).
pub fn no_store(response: &mut Response) {
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(PRAGMA, HeaderValue::from_static("no-cache"));
}

/// The headers every response gets on its way out: `X-Content-Type-Options: nosniff` (browsers must not guess
/// another type than the one declared), and for JSON bodies (`application/json`, `application/problem+json`) a
/// `Content-Security-Policy` that lets nothing load or frame it, should a browser ever render one. Static values:
/// no allocation beyond the header map's.
pub fn harden(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Compared as bytes (no UTF-8 check, no string searcher): this runs on every response.
    let json = headers.get(CONTENT_TYPE).is_some_and(|v| {
        let essence = v.as_bytes().split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
        essence.eq_ignore_ascii_case(b"application/json")
            || essence.len() >= 5 && essence[essence.len() - 5..].eq_ignore_ascii_case(b"+json")
    });
    if json {
        headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
    }
}

/// A plain-text response (health checks, metrics).
#[must_use]
pub fn text(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response {
    let mut response = hyper::Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A strong `ETag` of a cached representation: `"<kind><version>-<locale>"` (`"v12-de"` for an option list,
/// `"t3-en"` for a form), written without the formatter (it is on the hot path of every cached read).
#[must_use]
pub fn version_etag(kind: char, version: u64, locale: &str) -> String {
    let version = version.to_string();
    let mut etag = String::with_capacity(version.len() + locale.len() + 4);
    etag.push('"');
    etag.push(kind);
    etag.push_str(&version);
    etag.push('-');
    etag.push_str(locale);
    etag.push('"');
    etag
}

/// 304 with the `ETag` when `If-None-Match` names `etag` (or `*`).
pub fn not_modified(req: &Request<Incoming>, etag: &str) -> Option<Response> {
    let matches = req
        .headers()
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    matches.then(|| {
        let mut response = status_only(StatusCode::NOT_MODIFIED);
        if let Ok(v) = HeaderValue::from_str(etag) {
            response.headers_mut().insert(ETAG, v);
        }
        response
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `json_str` writes what serde_json writes: plain text, quotes, backslashes, every control character,
    /// DEL, non-ASCII and long texts.
    #[test]
    fn json_strings_are_written_as_serde_json_writes_them() {
        let mut texts: Vec<String> = vec![
            String::new(),
            "brand".into(),
            "Model is required".into(),
            "say \"hi\"".into(),
            "back\\slash".into(),
            "Größe – 車種 🚚".into(),
            "\u{7f}del".into(),
            "x".repeat(300) + "\"",
        ];
        texts.extend((0u8..0x20).map(|b| format!("a{}b", char::from(b))));
        // Each escaped byte at every position of a word and of the padded rest, next to bytes just above and
        // below the ones that match (a borrow must not make a neighbour match).
        texts.extend((0u8..0x80).flat_map(|b| [char::from(b).to_string(), format!("abcdefgh{}", char::from(b))]));
        for len in 1..=17 {
            for at in 0..len {
                for special in ['"', '\\', '\u{1f}', '\0', '\n', '!', '#', '[', ']', ' ', '\u{80}', 'é'] {
                    let mut text: Vec<char> = "a!#[]\u{21}\u{20}z".chars().cycle().take(len).collect();
                    text[at] = special;
                    texts.push(text.into_iter().collect());
                }
            }
        }
        for text in texts {
            let mut out = b"[".to_vec();
            json_str(&mut out, &text);
            let expected = format!("[{}", serde_json::to_string(&text).expect("a string"));
            assert_eq!(String::from_utf8(out).expect("UTF-8"), expected, "{text:?}");
        }
    }

    /// Every response gets `nosniff`; JSON ones (any `+json`, parameters and case aside) also the CSP.
    #[test]
    fn json_responses_get_the_csp_and_every_response_nosniff() {
        for (content_type, json) in [
            ("application/json", true),
            ("application/problem+json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/geo+json ;q=1", true),
            ("text/plain; charset=utf-8", false),
            ("application/jsonl", false),
            ("json", false),
            ("", false),
        ] {
            let mut response = text(StatusCode::OK, "text/plain", "x");
            response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_str(content_type).expect("value"));
            harden(&mut response);
            assert_eq!(
                response.headers().get(X_CONTENT_TYPE_OPTIONS).map(HeaderValue::as_bytes),
                Some(&b"nosniff"[..])
            );
            assert_eq!(response.headers().contains_key(CONTENT_SECURITY_POLICY), json, "{content_type:?}");
        }
    }
}
