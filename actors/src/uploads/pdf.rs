//! Active content in PDFs: names that make a viewer run or open something (`/JavaScript`, `/JS`, `/OpenAction`,
//! `/Launch`, `/EmbeddedFile`). Uploaded PDFs are served to other users, so a PDF carrying any of them is
//! refused. The scanner reads the bytes as they stream, across chunk boundaries, and decodes `#hh` escapes in
//! names (`/J#61vaScript` is `/JavaScript`).
//!
//! Limit: names inside compressed object streams (`/ObjStm` with a filter) are not inflated and so not seen;
//! refusing every PDF with object streams would refuse most PDFs written since PDF 1.5.

/// The names refused, as they appear after the `/`.
const ACTIVE: [&[u8]; 5] = [b"JavaScript", b"JS", b"OpenAction", b"Launch", b"EmbeddedFile"];

/// Longer names cannot be one of [`ACTIVE`]; their bytes are not kept.
const MAX_NAME: usize = 16;

/// Scans a PDF's bytes, chunk by chunk, for active-content names.
#[derive(Debug, Default)]
pub struct ActiveContentScanner {
    /// Inside a name: its decoded bytes so far (`None` outside one, or once it is too long to matter).
    name: Option<Vec<u8>>,
    /// Inside a name that is too long to matter: skip to its end.
    skipping: bool,
    /// Inside a `#hh` escape: the hex digits seen so far.
    escape: Option<Vec<u8>>,
}

/// PDF whitespace and delimiters end a name.
fn ends_name(b: u8) -> bool {
    matches!(b, 0 | 9 | 10 | 12 | 13 | 32 | b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%')
}

impl ActiveContentScanner {
    /// A scanner at the start of a file.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes; the first active-content name found, if any (e.g. `"JavaScript"`).
    pub fn feed(&mut self, bytes: &[u8]) -> Option<&'static str> {
        for &b in bytes {
            if let Some(found) = self.step(b) {
                return Some(found);
            }
        }
        None
    }

    /// The end of the file: a name that runs to the very end is complete.
    pub fn finish(&mut self) -> Option<&'static str> {
        self.end_name()
    }

    fn step(&mut self, b: u8) -> Option<&'static str> {
        if self.name.is_none() && !self.skipping {
            if b == b'/' {
                self.name = Some(Vec::with_capacity(MAX_NAME));
            }
            return None;
        }
        if let Some(digits) = self.escape.as_mut() {
            if b.is_ascii_hexdigit() {
                digits.push(b);
                if digits.len() == 2 {
                    let text = std::str::from_utf8(digits).unwrap_or("00");
                    let decoded = u8::from_str_radix(text, 16).unwrap_or(0);
                    self.escape = None;
                    self.push(decoded);
                }
                return None;
            }
            // A malformed escape: the name ends here as written.
            self.escape = None;
        }
        if ends_name(b) {
            let found = self.end_name();
            if b == b'/' {
                self.name = Some(Vec::with_capacity(MAX_NAME));
            }
            return found;
        }
        if b == b'#' {
            self.escape = Some(Vec::with_capacity(2));
            return None;
        }
        self.push(b);
        None
    }

    fn push(&mut self, b: u8) {
        if let Some(name) = self.name.as_mut() {
            name.push(b);
            if name.len() > MAX_NAME {
                self.name = None;
                self.skipping = true;
            }
        }
    }

    fn end_name(&mut self) -> Option<&'static str> {
        self.skipping = false;
        self.escape = None;
        let name = self.name.take()?;
        ACTIVE
            .iter()
            .find(|active| **active == name.as_slice())
            .map(|active| std::str::from_utf8(active).expect("the names are ASCII"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(chunks: &[&[u8]]) -> Option<&'static str> {
        let mut scanner = ActiveContentScanner::new();
        for chunk in chunks {
            if let Some(found) = scanner.feed(chunk) {
                return Some(found);
            }
        }
        scanner.finish()
    }

    #[test]
    fn plain_pdf_passes() {
        let pdf: &[u8] = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n%%EOF";
        assert_eq!(scan(&[pdf]), None);
    }

    #[test]
    fn each_active_name_is_found() {
        for (pdf, name) in [
            (&b"<< /S /JavaScript /JS (app.alert(1)) >>"[..], "JavaScript"),
            (b"<</JS(x)>>", "JS"),
            (b"<< /OpenAction 5 0 R >>", "OpenAction"),
            (b"<< /S /Launch /F (calc.exe) >>", "Launch"),
            (b"<< /Type /EmbeddedFile >>", "EmbeddedFile"),
        ] {
            assert_eq!(scan(&[pdf]), Some(name), "{}", String::from_utf8_lossy(pdf));
        }
    }

    #[test]
    fn names_split_across_chunks_and_escaped_are_found() {
        assert_eq!(scan(&[b"<< /Open", b"Action 5 0 R >>"]), Some("OpenAction"));
        assert_eq!(scan(&[b"<< /J#61va", b"Script >>"]), Some("JavaScript"));
        assert_eq!(scan(&[b"<< /J#", b"53 (x) >>"]), Some("JS"));
        assert_eq!(scan(&[b"trailer /Launch"]), Some("Launch"), "a name at the very end");
    }

    #[test]
    fn longer_or_other_names_are_not_active() {
        assert_eq!(scan(&[b"<< /JSON 1 /JavaScripts 2 /Launcher 3 /XJS 4 >>"]), None);
        // Strings are not parsed: a `/JS` inside a string literal is refused too (the safe side).
        assert_eq!(scan(&[b"(see /JS here)"]), Some("JS"));
    }
}
