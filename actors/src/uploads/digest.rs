//! The SHA-256 a client announced for its upload, so the stored bytes can be checked against it: RFC 9530
//! `Content-Digest` (`sha-256=:<base64>:`, possibly beside other algorithms) or `x-checksum-sha256` (64 hex
//! digits, or the base64 of the 32 bytes).
//!
//! `Content-Digest` is a structured-field dictionary (RFC 8941); it is parsed here only as far as finding the
//! `sha-256` member needs. Members for other algorithms are ignored, however they are written, because a client
//! may list algorithms we do not know. An announced digest that cannot be read is an error rather than ignored:
//! the client asked for a check, and silently skipping it would store bytes it said to refuse.

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Standard base64, padding optional (RFC 8941 §4.2.7 asks parsers not to insist on it).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why the announced digest was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// A digest header is present but unreadable, or the two headers disagree.
    #[error("the {header} header is malformed: {reason}")]
    Malformed {
        /// Which header (`content-digest`, `x-checksum-sha256`, or both when they disagree).
        header: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl DigestError {
    /// Stable machine-readable code for API responses.
    #[must_use]
    pub fn code(&self) -> &'static str {
        "malformed_digest"
    }
}

const CONTENT_DIGEST: &str = "content-digest";
const X_CHECKSUM: &str = "x-checksum-sha256";

/// The SHA-256 the client expects the upload to have, from the `Content-Digest` and `x-checksum-sha256` header
/// values; `None` when neither announces one.
///
/// # Errors
/// [`DigestError::Malformed`] when a header's SHA-256 is unreadable or not 32 bytes, when `Content-Digest`
/// lists `sha-256` twice with different values, or when both headers announce different digests.
pub fn expected_sha256(
    content_digest: Option<&str>,
    x_checksum: Option<&str>,
) -> Result<Option<[u8; 32]>, DigestError> {
    let from_content_digest = content_digest.map(parse_content_digest).transpose()?.flatten();
    let from_x_checksum = x_checksum.map(parse_x_checksum).transpose()?;
    match (from_content_digest, from_x_checksum) {
        (Some(a), Some(b)) if a != b => Err(DigestError::Malformed {
            header: "content-digest and x-checksum-sha256",
            reason: "the two headers announce different digests",
        }),
        (a, b) => Ok(a.or(b)),
    }
}

/// The `sha-256` member of a `Content-Digest` dictionary, if it has one.
fn parse_content_digest(value: &str) -> Result<Option<[u8; 32]>, DigestError> {
    let malformed = |reason| DigestError::Malformed { header: CONTENT_DIGEST, reason };
    let mut found: Option<[u8; 32]> = None;
    // Byte sequences are base64, which has no commas, so splitting on them cannot cut a value.
    for member in value.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        let Some((key, item)) = member.split_once('=') else {
            continue;
        };
        if !key.trim().eq_ignore_ascii_case("sha-256") {
            continue;
        }
        // `:<base64>:` optionally followed by `;parameters`, which RFC 9530 does not define and we ignore.
        let bytes = item
            .trim()
            .strip_prefix(':')
            .and_then(|rest| rest.split_once(':'))
            .filter(|(_, after)| after.is_empty() || after.starts_with(';'))
            .map(|(inner, _)| inner)
            .ok_or(malformed("sha-256 is not a byte sequence (:base64:)"))?;
        let digest = decode_32(bytes).ok_or(malformed("sha-256 is not the base64 of 32 bytes"))?;
        if found.is_some_and(|earlier| earlier != digest) {
            return Err(malformed("sha-256 is listed twice with different values"));
        }
        found = Some(digest);
    }
    Ok(found)
}

/// `x-checksum-sha256`: 64 hex digits (either case) or the base64 of 32 bytes.
fn parse_x_checksum(value: &str) -> Result<[u8; 32], DigestError> {
    let value = value.trim();
    let digest = if value.len() == 64 {
        let mut out = [0u8; 32];
        hex::decode_to_slice(value, &mut out).ok().map(|()| out)
    } else {
        decode_32(value)
    };
    digest.ok_or(DigestError::Malformed {
        header: X_CHECKSUM,
        reason: "expected 64 hex digits or the base64 of 32 bytes",
    })
}

fn decode_32(b64: &str) -> Option<[u8; 32]> {
    BASE64.decode(b64).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    /// SHA-256 of the empty string.
    const EMPTY_HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const EMPTY_B64: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

    fn empty() -> [u8; 32] {
        let mut out = [0u8; 32];
        hex::decode_to_slice(EMPTY_HEX, &mut out).expect("hex");
        out
    }

    /// No headers, or a `Content-Digest` without `sha-256`, announce nothing.
    #[test]
    fn nothing_announced_is_none() {
        assert_eq!(expected_sha256(None, None), Ok(None));
        let sha512 = format!("sha-512=:{}:", STANDARD.encode([7u8; 64]));
        assert_eq!(expected_sha256(Some(&sha512), None), Ok(None));
        assert_eq!(expected_sha256(Some(""), None), Ok(None));
    }

    /// `Content-Digest` yields its `sha-256` member, alone or among other algorithms, padded or not.
    #[test]
    fn content_digest_sha256_is_read() {
        let sha512 = format!("sha-512=:{}:", STANDARD.encode([7u8; 64]));
        for header in [
            format!("sha-256=:{EMPTY_B64}:"),
            format!("{sha512}, sha-256=:{EMPTY_B64}:"),
            format!("sha-256=:{EMPTY_B64}:,unixsum=:AAAA:, id-sha-512=?1"),
            format!("sha-256=:{}:", EMPTY_B64.trim_end_matches('=')),
            format!("sha-256=:{EMPTY_B64}:;note=1"),
        ] {
            assert_eq!(expected_sha256(Some(&header), None), Ok(Some(empty())), "{header}");
        }
    }

    /// `x-checksum-sha256` is read as hex (either case) or as base64.
    #[test]
    fn x_checksum_hex_or_base64() {
        assert_eq!(expected_sha256(None, Some(EMPTY_HEX)), Ok(Some(empty())));
        assert_eq!(expected_sha256(None, Some(&EMPTY_HEX.to_uppercase())), Ok(Some(empty())));
        assert_eq!(expected_sha256(None, Some(EMPTY_B64)), Ok(Some(empty())));
    }

    /// Both headers announcing the same digest agree; different digests are malformed.
    #[test]
    fn both_headers_must_agree() {
        let cd = format!("sha-256=:{EMPTY_B64}:");
        assert_eq!(expected_sha256(Some(&cd), Some(EMPTY_HEX)), Ok(Some(empty())));
        let other = hex::encode([1u8; 32]);
        let err = expected_sha256(Some(&cd), Some(&other)).expect_err("disagree");
        assert!(matches!(err, DigestError::Malformed { header: "content-digest and x-checksum-sha256", .. }));
        assert_eq!(err.code(), "malformed_digest");
    }

    /// Unreadable or wrong-length `sha-256` members are malformed.
    #[test]
    fn malformed_content_digest() {
        for header in [
            format!("sha-256={EMPTY_B64}"),
            format!("sha-256=:{EMPTY_B64}"),
            "sha-256=:not base64!:".to_owned(),
            format!("sha-256=:{}:", STANDARD.encode([0u8; 31])),
            format!("sha-256=:{}:", STANDARD.encode([0u8; 64])),
            format!("sha-256=:{EMPTY_B64}:x"),
            format!("sha-256=:{EMPTY_B64}:, sha-256=:{}:", STANDARD.encode([1u8; 32])),
        ] {
            assert!(
                matches!(
                    expected_sha256(Some(&header), None),
                    Err(DigestError::Malformed { header: "content-digest", .. })
                ),
                "{header}"
            );
        }
    }

    /// Wrong lengths, non-hex digits and junk in `x-checksum-sha256` are malformed.
    #[test]
    fn malformed_x_checksum() {
        let not_hex = format!("{}zz", &EMPTY_HEX[..62]);
        let short_hex = &EMPTY_HEX[..62];
        for value in ["", "abc", short_hex, not_hex.as_str(), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hS"] {
            assert!(
                matches!(
                    expected_sha256(None, Some(value)),
                    Err(DigestError::Malformed { header: "x-checksum-sha256", .. })
                ),
                "{value:?}"
            );
        }
    }
}
