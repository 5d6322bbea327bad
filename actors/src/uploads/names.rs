//! Display filenames: what a client called its file, made safe to show and to send back in
//! `Content-Disposition`. A filename here is only ever displayed; objects are stored under server-generated keys,
//! so nothing in this file guards a path.
//!
//! Names are not Unicode-normalised: `unicode-normalization` is not a dependency of this crate yet, and a display
//! name is shown as the client sent it.

/// Longest display filename kept, in bytes of UTF-8.
pub const MAX_FILENAME_BYTES: usize = 200;

/// Longest extension (with its dot, in bytes) kept when a long name is shortened.
const MAX_KEPT_EXTENSION_BYTES: usize = 16;

/// The display name for a client-supplied filename: the last path component (after `/` or `\`), without
/// control or bidirectional-override characters, whitespace runs (tabs and line breaks included) collapsed to
/// one space, leading and trailing
/// dots and spaces trimmed, shortened to [`MAX_FILENAME_BYTES`] on a character boundary (keeping a short
/// extension). `None` when nothing is left.
#[must_use]
pub fn sanitize_filename(raw: &str) -> Option<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    // Tabs and line breaks separate words, so they become spaces before the other controls are dropped.
    let visible: String = last
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .collect();
    let collapsed = visible.split_whitespace().collect::<Vec<_>>().join(" ");
    let name = trim_dots_and_spaces(&collapsed);
    let name = if name.len() > MAX_FILENAME_BYTES { shorten(name) } else { name.to_owned() };
    (!name.is_empty()).then_some(name)
}

/// `name` cut to [`MAX_FILENAME_BYTES`], keeping its extension when that is short, so `report….pdf` stays a PDF
/// to whoever saves it.
fn shorten(name: &str) -> String {
    let (stem, extension) = match name.rfind('.') {
        Some(dot) if dot > 0 && name.len() - dot <= MAX_KEPT_EXTENSION_BYTES => name.split_at(dot),
        _ => (name, ""),
    };
    let stem = trim_dots_and_spaces(truncate(stem, MAX_FILENAME_BYTES - extension.len()));
    if stem.is_empty() {
        trim_dots_and_spaces(truncate(name, MAX_FILENAME_BYTES)).to_owned()
    } else {
        format!("{stem}{extension}")
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    let end = (0..=max.min(s.len())).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0);
    &s[..end]
}

fn trim_dots_and_spaces(s: &str) -> &str {
    s.trim_matches(|c| c == '.' || c == ' ')
}

/// Marks that reorder how text displays (Unicode `Cf`, not `Cc`): the trick that shows
/// `invoice\u{202E}fdp.exe` as `invoiceexe.pdf`.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `name` with an extension that matches `media`, the type decided from the bytes: a matching extension
/// (any case, `photo.JPEG`) is kept, a different one is replaced (`photo.html` holding PNG bytes becomes
/// `photo.png`), none is added. Whoever saves a download then opens it as what it is, not as what its name
/// claimed. Stays within [`MAX_FILENAME_BYTES`].
#[must_use]
pub fn with_matching_extension(name: &str, media: crate::uploads::media::MediaType) -> String {
    let canonical = media.extensions()[0];
    let stem = match name.rfind('.') {
        Some(dot) if dot > 0 => {
            let extension = &name[dot + 1..];
            if media.extensions().iter().any(|e| e.eq_ignore_ascii_case(extension)) {
                return name.to_owned();
            }
            &name[..dot]
        }
        _ => name,
    };
    let stem = trim_dots_and_spaces(truncate(stem, MAX_FILENAME_BYTES - canonical.len() - 1));
    if stem.is_empty() { format!("file.{canonical}") } else { format!("{stem}.{canonical}") }
}

/// The `Content-Disposition` value for a download: `attachment`, plus, with a name, an ASCII `filename`
/// fallback (anything outside printable ASCII, `"`, `\` and `%` replaced by `_`) and the exact name as
/// `filename*` (RFC 6266, percent-encoded UTF-8 per RFC 5987 `attr-char`). Either form is safe in a header
/// whatever the input: no quote, backslash, CR or LF survives into it.
#[must_use]
pub fn content_disposition(filename: Option<&str>) -> String {
    let Some(name) = filename.filter(|n| !n.is_empty()) else {
        return "attachment".to_owned();
    };
    let fallback: String =
        name.chars().map(|c| if matches!(c, ' '..='~') && !matches!(c, '"' | '\\' | '%') { c } else { '_' }).collect();
    let mut encoded = String::with_capacity(name.len() * 3);
    for byte in name.bytes() {
        if is_attr_char(byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// RFC 5987 `attr-char`: ALPHA / DIGIT / `!#$&+-.^_`|~`.
fn is_attr_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_follows_the_bytes() {
        use crate::uploads::media::MediaType;
        assert_eq!(with_matching_extension("photo.html", MediaType::Png), "photo.png");
        assert_eq!(with_matching_extension("photo.JPEG", MediaType::Jpeg), "photo.JPEG");
        assert_eq!(with_matching_extension("scan", MediaType::Pdf), "scan.pdf");
        assert_eq!(with_matching_extension("report.tar.exe", MediaType::Pdf), "report.tar.pdf");
        assert_eq!(with_matching_extension(".html", MediaType::Webp), "html.webp");
        let long = format!("{}.svg", "a".repeat(MAX_FILENAME_BYTES));
        let fixed = with_matching_extension(&long, MediaType::Png);
        assert!(fixed.len() <= MAX_FILENAME_BYTES && fixed.ends_with(".png"), "{fixed}");
    }

    /// Only the last path component survives, for either separator.
    #[test]
    fn path_components_are_dropped() {
        assert_eq!(sanitize_filename("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(sanitize_filename(r"C:\Users\ana\Desktop\offer.pdf").as_deref(), Some("offer.pdf"));
        assert_eq!(sanitize_filename("a/b\\c.png").as_deref(), Some("c.png"));
    }

    /// Control and bidi characters go, whitespace collapses, dots and spaces are trimmed at both ends.
    #[test]
    fn invisible_and_padding_characters_are_removed() {
        assert_eq!(sanitize_filename("  my\tphoto\r\n  2024 .jpg ").as_deref(), Some("my photo 2024 .jpg"));
        assert_eq!(sanitize_filename("bad\0name\x07.pdf").as_deref(), Some("badname.pdf"));
        assert_eq!(sanitize_filename("invoice\u{202E}fdp.exe").as_deref(), Some("invoicefdp.exe"));
        assert_eq!(sanitize_filename("...hidden...").as_deref(), Some("hidden"));
    }

    /// Names with nothing displayable left are `None`.
    #[test]
    fn empty_names_are_none() {
        for raw in ["", "   ", "..", "dir/", "a/..", "\u{1}\u{2}", ". . ."] {
            assert_eq!(sanitize_filename(raw), None, "{raw:?}");
        }
    }

    /// Long names are cut to 200 bytes on a character boundary, keeping a short extension.
    #[test]
    fn long_names_are_cut_on_a_char_boundary() {
        let name = sanitize_filename(&format!("{}.pdf", "é".repeat(150))).expect("name");
        assert!(name.len() <= MAX_FILENAME_BYTES);
        assert!(name.ends_with("é.pdf"), "{name}");
        assert_eq!(name.len(), 2 * 98 + 4);

        let no_ext = sanitize_filename(&"ü".repeat(150)).expect("name");
        assert_eq!(no_ext, "ü".repeat(100));

        let long_ext = sanitize_filename(&format!("a.{}", "x".repeat(300))).expect("name");
        assert_eq!(long_ext.len(), MAX_FILENAME_BYTES);
    }

    /// No name gives a bare `attachment`.
    #[test]
    fn no_name_is_bare_attachment() {
        assert_eq!(content_disposition(None), "attachment");
        assert_eq!(content_disposition(Some("")), "attachment");
    }

    /// An ASCII name appears in both forms; spaces are percent-encoded in `filename*`.
    #[test]
    fn ascii_name_in_both_forms() {
        assert_eq!(
            content_disposition(Some("offer 2024.pdf")),
            "attachment; filename=\"offer 2024.pdf\"; filename*=UTF-8''offer%202024.pdf"
        );
    }

    /// Unicode names are percent-encoded as UTF-8 and replaced by `_` in the ASCII fallback.
    #[test]
    fn unicode_names_are_percent_encoded() {
        assert_eq!(
            content_disposition(Some("Bagger-Übersicht €.pdf")),
            "attachment; filename=\"Bagger-_bersicht _.pdf\"; filename*=UTF-8''Bagger-%C3%9Cbersicht%20%E2%82%AC.pdf"
        );
    }

    /// Quotes, backslashes, percent signs and line breaks cannot break out of the header.
    #[test]
    fn quotes_do_not_break_the_header() {
        let value = content_disposition(Some("a\"b\\c%41.pdf\r\nSet-Cookie: x=1"));
        assert_eq!(
            value,
            "attachment; filename=\"a_b_c_41.pdf__Set-Cookie: x=1\"; \
             filename*=UTF-8''a%22b%5Cc%2541.pdf%0D%0ASet-Cookie%3A%20x%3D1"
        );
        assert_eq!(value.matches('"').count(), 2);
        assert!(!value.contains(['\r', '\n']));
    }
}
