//! The media types uploads may have, decided from the bytes: magic-byte sniffing of the first
//! [`SNIFF_LEN`] bytes and the check of a client's declared `Content-Type` against them.
//!
//! The bytes are the authority; a declared type only ever causes a refusal, never an acceptance. The four
//! signatures are matched here by hand rather than with `infer`: they are fixed, short and disjoint, the caller
//! needs a three-way answer (known, need more bytes, unknown) that `infer` does not give, and this crate's
//! manifest is not ours to change in this edit.

use serde::{Deserialize, Serialize};

/// The most bytes [`sniff`] needs to decide (the WebP signature is 12 bytes long).
pub const SNIFF_LEN: usize = 12;

/// A media type uploads may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaType {
    /// JPEG image.
    Jpeg,
    /// PNG image.
    Png,
    /// WebP image.
    Webp,
    /// PDF document.
    Pdf,
}

impl MediaType {
    /// Every media type, in declaration order.
    pub const ALL: [Self; 4] = [Self::Jpeg, Self::Png, Self::Webp, Self::Pdf];

    /// The canonical MIME type.
    #[must_use]
    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Pdf => "application/pdf",
        }
    }

    /// The extensions a file of this type may carry (lower case, without the dot); the first is canonical.
    #[must_use]
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Jpeg => &["jpg", "jpeg", "jpe"],
            Self::Png => &["png"],
            Self::Webp => &["webp"],
            Self::Pdf => &["pdf"],
        }
    }

    /// Parses a MIME type, ignoring parameters (`; charset=…`), surrounding whitespace and case. `image/jpg`
    /// and `image/pjpeg` are accepted as JPEG because real clients send them.
    #[must_use]
    pub fn parse_mime(raw: &str) -> Option<Self> {
        match essence(raw).as_str() {
            "image/jpeg" | "image/jpg" | "image/pjpeg" => Some(Self::Jpeg),
            "image/png" => Some(Self::Png),
            "image/webp" => Some(Self::Webp),
            "application/pdf" => Some(Self::Pdf),
            _ => None,
        }
    }

    /// The magic bytes; `None` is a wildcard (the RIFF chunk size in WebP).
    fn signature(self) -> &'static [Option<u8>] {
        const JPEG: &[Option<u8>] = &[Some(0xFF), Some(0xD8), Some(0xFF)];
        const PNG: &[Option<u8>] =
            &[Some(0x89), Some(b'P'), Some(b'N'), Some(b'G'), Some(0x0D), Some(0x0A), Some(0x1A), Some(0x0A)];
        const WEBP: &[Option<u8>] = &[
            Some(b'R'),
            Some(b'I'),
            Some(b'F'),
            Some(b'F'),
            None,
            None,
            None,
            None,
            Some(b'W'),
            Some(b'E'),
            Some(b'B'),
            Some(b'P'),
        ];
        const PDF: &[Option<u8>] = &[Some(b'%'), Some(b'P'), Some(b'D'), Some(b'F'), Some(b'-')];
        match self {
            Self::Jpeg => JPEG,
            Self::Png => PNG,
            Self::Webp => WEBP,
            Self::Pdf => PDF,
        }
    }
}

impl std::fmt::Display for MediaType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.mime())
    }
}

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniff {
    /// The bytes carry this type's signature.
    Known(MediaType),
    /// Every byte so far fits some signature, but there are too few to decide. At the end of the input this
    /// means [`Sniff::Unknown`].
    NeedMore,
    /// No accepted type starts like this.
    Unknown,
}

/// Identifies the media type from the first bytes of a file (at most [`SNIFF_LEN`] are looked at).
#[must_use]
pub fn sniff(prefix: &[u8]) -> Sniff {
    let mut need_more = false;
    for media in MediaType::ALL {
        let signature = media.signature();
        let fits = signature.iter().zip(prefix).all(|(expected, actual)| expected.is_none_or(|b| b == *actual));
        if !fits {
            continue;
        }
        if prefix.len() >= signature.len() {
            return Sniff::Known(media);
        }
        need_more = true;
    }
    if need_more { Sniff::NeedMore } else { Sniff::Unknown }
}

/// Why an upload's type was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The bytes are of a type this upload does not accept.
    #[error("files of type {sniffed} are not accepted here")]
    Unsupported {
        /// What the bytes are.
        sniffed: MediaType,
    },
    /// The client declared one type and sent another.
    #[error("the file was declared as {declared} but its content is {sniffed}")]
    Mismatch {
        /// The declared type's essence (lower-cased, parameters dropped, at most 100 characters).
        declared: String,
        /// What the bytes are.
        sniffed: MediaType,
    },
}

impl MediaError {
    /// Stable machine-readable code for API responses.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unsupported { .. } => "unsupported_media_type",
            Self::Mismatch { .. } => "media_type_mismatch",
        }
    }
}

/// Decides an upload's media type: the sniffed type, provided it is `allowed` and agrees with what the client
/// declared. An absent, empty or `application/octet-stream` declaration says nothing and is accepted.
///
/// # Errors
/// [`MediaError::Unsupported`] when `sniffed` is not in `allowed` (checked first: the bytes decide);
/// [`MediaError::Mismatch`] when the declaration names any other type, known or not.
pub fn check(declared: Option<&str>, sniffed: MediaType, allowed: &[MediaType]) -> Result<MediaType, MediaError> {
    if !allowed.contains(&sniffed) {
        return Err(MediaError::Unsupported { sniffed });
    }
    let Some(declared) = declared.map(essence) else {
        return Ok(sniffed);
    };
    if declared.is_empty() || declared == "application/octet-stream" {
        return Ok(sniffed);
    }
    match MediaType::parse_mime(&declared) {
        Some(media) if media == sniffed => Ok(sniffed),
        _ => Err(MediaError::Mismatch { declared: declared.chars().take(100).collect(), sniffed }),
    }
}

/// `type/subtype`, lower-cased, without parameters or surrounding whitespace.
fn essence(raw: &str) -> String {
    raw.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01];
    const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D];
    const WEBP: &[u8] = b"RIFF\x24\x00\x00\x00WEBPVP8 ";
    const PDF: &[u8] = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3";

    /// Each accepted type is recognised from its first bytes.
    #[test]
    fn each_type_is_detected() {
        assert_eq!(sniff(JPEG), Sniff::Known(MediaType::Jpeg));
        assert_eq!(sniff(PNG), Sniff::Known(MediaType::Png));
        assert_eq!(sniff(WEBP), Sniff::Known(MediaType::Webp));
        assert_eq!(sniff(PDF), Sniff::Known(MediaType::Pdf));
    }

    /// A text file renamed `.jpg` is unknown, whatever its name or declared type.
    #[test]
    fn text_renamed_jpg_is_unknown() {
        assert_eq!(sniff(b"Hello, this is just text.\n"), Sniff::Unknown);
        assert_eq!(sniff(b"RIFF\x24\x00\x00\x00WAVEfmt "), Sniff::Unknown, "a RIFF that is not WebP");
    }

    /// Too few bytes that still fit a signature ask for more; none at all too; a misfit is unknown at once.
    #[test]
    fn short_prefix_needs_more() {
        assert_eq!(sniff(&[]), Sniff::NeedMore);
        assert_eq!(sniff(&[0xFF, 0xD8]), Sniff::NeedMore);
        assert_eq!(sniff(&WEBP[..11]), Sniff::NeedMore);
        assert_eq!(sniff(&PNG[..7]), Sniff::NeedMore);
        assert_eq!(sniff(b"%PD"), Sniff::NeedMore);
        assert_eq!(sniff(b"%PX"), Sniff::Unknown);
    }

    /// MIME types parse without parameters or case, and print back canonically.
    #[test]
    fn mime_round_trip() {
        for media in MediaType::ALL {
            assert_eq!(MediaType::parse_mime(media.mime()), Some(media));
        }
        assert_eq!(MediaType::parse_mime(" Image/JPEG ; q=0.9"), Some(MediaType::Jpeg));
        assert_eq!(MediaType::parse_mime("application/pdf;charset=binary"), Some(MediaType::Pdf));
        assert_eq!(MediaType::parse_mime("image/gif"), None);
        assert_eq!(MediaType::parse_mime(""), None);
    }

    /// PNG bytes declared as PDF (or as an unknown type) are a mismatch.
    #[test]
    fn png_declared_as_pdf_is_mismatch() {
        let all = &MediaType::ALL;
        let err = check(Some("application/pdf"), MediaType::Png, all).expect_err("mismatch");
        assert_eq!(err, MediaError::Mismatch { declared: "application/pdf".into(), sniffed: MediaType::Png });
        assert_eq!(err.code(), "media_type_mismatch");
        assert!(matches!(check(Some("text/plain"), MediaType::Png, all), Err(MediaError::Mismatch { .. })));
    }

    /// Absent, empty, octet-stream and matching declarations are accepted.
    #[test]
    fn neutral_or_matching_declarations_pass() {
        let all = &MediaType::ALL;
        for declared in [None, Some(""), Some("application/octet-stream"), Some("IMAGE/PNG; x=1")] {
            assert_eq!(check(declared, MediaType::Png, all), Ok(MediaType::Png), "{declared:?}");
        }
    }

    /// A type outside the allowed list is unsupported, even when the declaration matches.
    #[test]
    fn disallowed_type_is_unsupported() {
        let images = &[MediaType::Jpeg, MediaType::Png, MediaType::Webp];
        let err = check(Some("application/pdf"), MediaType::Pdf, images).expect_err("unsupported");
        assert_eq!(err, MediaError::Unsupported { sniffed: MediaType::Pdf });
        assert_eq!(err.code(), "unsupported_media_type");
    }
}
