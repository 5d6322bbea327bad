//! Request bodies in: JSON with a size limit, checked while reading. (Responses out are in `respond.rs`.)

use http_body_util::{BodyExt, Limited};
use hyper::Request;
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use serde::de::DeserializeOwned;

use super::problem::ApiError;

/// Reads a JSON body of at most `limit` bytes into `T`.
///
/// # Errors
/// 415 when not `application/json`, 413 over the limit (from `Content-Length` at once, or while reading),
/// 400 for malformed JSON — the message gives line and column, never the offending text.
pub async fn read_json<T: DeserializeOwned>(req: Request<Incoming>, limit: usize) -> Result<T, ApiError> {
    let is_json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType { expected: "application/json" });
    }
    let declared = req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let bytes = Limited::new(req.into_body(), limit).collect().await.map_err(|e| {
        if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
            ApiError::PayloadTooLarge { limit }
        } else {
            ApiError::BadRequest("the request body could not be read".into())
        }
    })?;
    parse_json(&bytes.to_bytes())
}

/// Parses JSON, describing failures by position only. Every request body of the API is a JSON object: an
/// array is refused before serde sees it, because serde's derived structs would also take the fields as an
/// array in declaration order (`["a@example.com", "…"]` as a login), a shape no client is documented to send.
///
/// # Errors
/// [`ApiError::MalformedJson`].
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Some(start) = bytes.iter().position(|b| !b.is_ascii_whitespace())
        && bytes[start] == b'['
    {
        let line = 1 + bytes[..start].iter().filter(|&&b| b == b'\n').count();
        let column = start - bytes[..start].iter().rposition(|&b| b == b'\n').map_or(0, |nl| nl + 1) + 1;
        return Err(ApiError::MalformedJson(format!(
            "JSON does not match the expected shape (an object) at line {line} column {column}"
        )));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        let what = match e.classify() {
            Category::Io | Category::Syntax => "invalid JSON",
            Category::Eof => "truncated JSON",
            Category::Data => "JSON does not match the expected shape",
        };
        ApiError::MalformedJson(format!("{what} at line {} column {}", e.line(), e.column()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Shape {
        n: u32,
    }

    /// Error messages for bad JSON never echo what the client sent (it may be a secret).
    #[test]
    fn malformed_json_messages_do_not_echo_input() {
        let err = parse_json::<Shape>(br#"{"n": "Hn4Bv7Cx2Zl9Kj5Mg8Df3Sa6Qw1Er0Ty"}"#).expect_err("wrong type");
        let text = err.to_string();
        assert!(text.contains("line 1"), "{text}");
        assert!(!text.contains("Hn4Bv7"), "{text}");
        let err = parse_json::<Shape>(b"{\"n\": ").expect_err("truncated");
        assert!(err.to_string().starts_with("truncated JSON"));
    }

    /// A body is an object: the fields as an array (which serde's derived structs would take in declaration
    /// order) are refused, with the position of the array.
    #[test]
    fn arrays_are_refused_where_an_object_is_expected() {
        let err = parse_json::<Shape>(b"  [7]").expect_err("an array");
        assert_eq!(err.to_string(), "JSON does not match the expected shape (an object) at line 1 column 3");
        assert_eq!(parse_json::<Shape>(b" {\"n\": 7}").expect("an object").n, 7);
    }
}
