//! Active content in PDFs, found by parsing the whole file (lopdf), not by grepping its bytes. Uploaded PDFs
//! are served to other users, so a PDF a viewer would run something from is refused (415 `active_content`),
//! and a PDF the parser cannot read is refused too (415 `unreadable_pdf`): nothing is stored unchecked.
//!
//! What is read: the file twice — through its cross-reference data as written (tables, `/XRef` streams,
//! incremental updates with `/Prev`), and rebuilt by scanning the file for every `N G obj` (so an object no
//! cross-reference entry names, or a revision the table hides, is read as well) — then every object stream
//! (`/ObjStm`, whatever its filter: FlateDecode, LZW, ASCII85, ASCIIHex, RunLength) of either reading is
//! decoded and each of its members parsed, and every dictionary, array and stream dictionary of all of them
//! is walked, the trailer included. Names are compared after their `#hh` escapes are decoded (the parser does
//! that), so `/J#61vaScript` is `/JavaScript`.
//!
//! What is refused as active content, wherever it appears (not only under `/OpenAction` or `/AA`):
//! - the keys `/JavaScript` (the document's script name tree) and `/JS` (a script);
//! - actions (`/S`) of type JavaScript, Launch, SubmitForm, ImportData, ResetForm, GoToE, RichMediaExecute
//!   and annotations of subtype RichMedia;
//! - `/URI` (and a URI dictionary's `/Base`) whose target is `javascript:`, `vbscript:`, `data:` or `file:`
//!   (after the whitespace and control characters a browser would ignore);
//! - embedded files: the keys `/EmbeddedFiles`, `/EmbeddedFile`, `/EF` and `/Type /EmbeddedFile` streams;
//! - XFA forms (`/XFA`).
//!
//! Bounds: the file itself is at most `uploads.pdf_max_bytes` (the caller buffers it); the bytes decoded from
//! object streams and cross-reference streams are at most [`PdfLimits::max_decoded_bytes`] in all (a
//! decompression bomb is unreadable, not a reason to allocate); at most [`PdfLimits::max_objects`] objects are
//! kept; nesting is bounded by the parser (100 levels). The check runs on a blocking thread, a few at a time
//! ([`PdfInspector`]).
//!
//! Not read: content streams (drawing operators cannot run scripts), fonts and images; an encrypted PDF
//! whose user password is not empty cannot be read and is refused as unreadable.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Arc;

use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId, ObjectStream, Stream};
use tokio::sync::Semaphore;

/// The bounds of one PDF check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdfLimits {
    /// Largest PDF accepted (it is held in memory for the check), bytes.
    pub max_bytes: u64,
    /// Bytes decoded from object and cross-reference streams, in all.
    pub max_decoded_bytes: usize,
    /// Objects kept, in all.
    pub max_objects: usize,
}

impl PdfLimits {
    /// The limits for PDFs of up to `max_bytes`: 64 MiB decoded and 500,000 objects (far above what real
    /// documents of that size hold).
    #[must_use]
    pub fn for_max_bytes(max_bytes: u64) -> Self {
        Self { max_bytes, max_decoded_bytes: 64 << 20, max_objects: 500_000 }
    }
}

/// What the check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PdfVerdict {
    /// Nothing active: the PDF may be stored.
    Clean,
    /// Active content, named (e.g. `"JavaScript"`, `"SubmitForm"`, `"URI javascript:"`).
    Active(&'static str),
    /// The parser could not read the file, or it passes the bounds; why.
    Unreadable(&'static str),
}

/// Runs PDF checks on blocking threads, a few at once (they are CPU-bound; each holds one file in memory).
#[derive(Debug)]
pub struct PdfInspector {
    /// The bounds of each check.
    limits: PdfLimits,
    /// Checks running at once.
    slots: Arc<Semaphore>,
}

impl PdfInspector {
    /// An inspector running at most `at_once` checks at a time (at least one).
    #[must_use]
    pub fn new(limits: PdfLimits, at_once: usize) -> Self {
        Self { limits, slots: Arc::new(Semaphore::new(at_once.max(1))) }
    }

    /// The bounds of each check.
    #[must_use]
    pub fn limits(&self) -> PdfLimits {
        self.limits
    }

    /// Checks a whole PDF; see the module docs.
    pub async fn inspect(&self, bytes: Vec<u8>) -> PdfVerdict {
        let Ok(_slot) = Arc::clone(&self.slots).acquire_owned().await else {
            return PdfVerdict::Unreadable("the check is shut down");
        };
        let limits = self.limits;
        tokio::task::spawn_blocking(move || inspect(&bytes, &limits))
            .await
            .unwrap_or(PdfVerdict::Unreadable("the parser failed"))
    }
}

/// Action types (`/S`) refused.
const ACTIONS: [&[u8]; 7] =
    [b"JavaScript", b"Launch", b"SubmitForm", b"ImportData", b"ResetForm", b"GoToE", b"RichMediaExecute"];

/// URI schemes refused (lower case, with the colon).
const SCHEMES: [&str; 4] = ["javascript:", "vbscript:", "data:", "file:"];

/// What an object stream's `/Type` is renamed to while lopdf loads, so that lopdf keeps it whole and this
/// module decodes it against its own budget.
const DEFERRED: &[u8] = b"GantryDeferredObjStm";

thread_local! {
    /// Objects the current load has kept (the load filter is a plain `fn`; loads run on one thread).
    static KEPT: Cell<usize> = const { Cell::new(0) };
    /// The most the current load may keep.
    static KEEP_AT_MOST: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// lopdf's load filter: counts objects (dropping those past the bound) and defers object streams.
fn defer_object_streams(id: ObjectId, object: &mut Object) -> Option<(ObjectId, Object)> {
    let kept = KEPT.get() + 1;
    KEPT.set(kept);
    if kept > KEEP_AT_MOST.get() {
        return None;
    }
    if let Object::Stream(stream) = object
        && stream.dict.has_type(b"ObjStm")
    {
        stream.dict.set("Type", Object::Name(DEFERRED.to_vec()));
    }
    Some((id, object.clone()))
}

/// One reading of the file.
fn load(bytes: &[u8], limits: &PdfLimits, reconstruct: bool) -> Result<Document, PdfVerdict> {
    KEPT.set(0);
    KEEP_AT_MOST.set(limits.max_objects);
    let options = LoadOptions {
        filter: Some(defer_object_streams),
        max_decompressed_size: Some(limits.max_decoded_bytes),
        force_reconstruct: reconstruct,
        ..LoadOptions::default()
    };
    let loaded = Document::load_mem_with_options(bytes, options);
    let kept = KEPT.get();
    KEEP_AT_MOST.set(usize::MAX);
    match loaded {
        _ if kept > limits.max_objects => Err(PdfVerdict::Unreadable("too many objects")),
        Ok(document) => Ok(document),
        Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. })) => {
            Err(PdfVerdict::Unreadable("a stream decodes past the limit"))
        }
        Err(_) => Err(PdfVerdict::Unreadable("not a readable PDF")),
    }
}

/// Checks a whole PDF held in memory; see the module docs.
#[must_use]
pub fn inspect(bytes: &[u8], limits: &PdfLimits) -> PdfVerdict {
    if bytes.len() as u64 > limits.max_bytes {
        return PdfVerdict::Unreadable("larger than the PDF limit");
    }
    let as_written = match load(bytes, limits, false) {
        Ok(document) => document,
        Err(verdict) => return verdict,
    };
    let rebuilt = match load(bytes, limits, true) {
        Ok(document) => Some(document),
        Err(verdict @ PdfVerdict::Unreadable("a stream decodes past the limit" | "too many objects")) => {
            return verdict;
        }
        // The file reads as written; a scan that finds nothing more adds nothing.
        Err(_) => None,
    };
    let mut budget = Budget { decoded_left: limits.max_decoded_bytes, objects_left: limits.max_objects };
    let mut readings = vec![Reading::of(&as_written, &mut budget)];
    if let Some(rebuilt) = rebuilt.as_ref() {
        readings.push(Reading::of(rebuilt, &mut budget));
    }
    let readings = match readings.into_iter().collect::<Result<Vec<_>, _>>() {
        Ok(readings) => readings,
        Err(verdict) => return verdict,
    };
    if !readings[0].has_catalog() {
        return PdfVerdict::Unreadable("no document catalog");
    }
    let resolver = Resolver { readings: &readings };
    for reading in &readings {
        if let Some(found) = reading.find_active(&resolver) {
            return PdfVerdict::Active(found);
        }
    }
    PdfVerdict::Clean
}

/// What is left of a check's bounds.
struct Budget {
    /// Bytes object streams may still decode to.
    decoded_left: usize,
    /// Objects that may still be kept.
    objects_left: usize,
}

/// One reading of the file: its document and the members of its object streams.
struct Reading<'a> {
    /// The document lopdf loaded (object streams kept whole).
    document: &'a Document,
    /// Every member of every object stream, decoded here.
    members: BTreeMap<ObjectId, Object>,
}

impl<'a> Reading<'a> {
    fn of(document: &'a Document, budget: &mut Budget) -> Result<Self, PdfVerdict> {
        budget.objects_left = budget
            .objects_left
            .checked_sub(document.objects.len())
            .ok_or(PdfVerdict::Unreadable("too many objects"))?;
        let mut members = BTreeMap::new();
        for object in document.objects.values() {
            let Object::Stream(stream) = object else { continue };
            if !is_object_stream(&stream.dict) {
                continue;
            }
            let plain = stream.get_plain_content_with_limit(budget.decoded_left).map_err(|e| match e {
                lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. }) => {
                    PdfVerdict::Unreadable("a stream decodes past the limit")
                }
                _ => PdfVerdict::Unreadable("an object stream cannot be decoded"),
            })?;
            budget.decoded_left = budget
                .decoded_left
                .checked_sub(plain.len())
                .ok_or(PdfVerdict::Unreadable("a stream decodes past the limit"))?;
            let mut dict = stream.dict.clone();
            dict.remove(b"Filter");
            dict.remove(b"DecodeParms");
            let parsed = ObjectStream::new(&Stream::new(dict, plain))
                .map_err(|_| PdfVerdict::Unreadable("an object stream cannot be read"))?;
            budget.objects_left = budget
                .objects_left
                .checked_sub(parsed.objects.len())
                .ok_or(PdfVerdict::Unreadable("too many objects"))?;
            members.extend(parsed.objects);
        }
        Ok(Self { document, members })
    }

    fn get(&self, id: ObjectId) -> Option<&Object> {
        self.document.objects.get(&id).or_else(|| self.members.get(&(id.0, 0)))
    }

    /// Whether the trailer's `/Root` is a dictionary this reading holds.
    fn has_catalog(&self) -> bool {
        match self.document.trailer.get(b"Root") {
            Ok(Object::Reference(id)) => matches!(self.get(*id), Some(Object::Dictionary(_))),
            Ok(Object::Dictionary(_)) => true,
            _ => false,
        }
    }

    fn find_active(&self, resolver: &Resolver<'_>) -> Option<&'static str> {
        find_in_dict(&self.document.trailer, resolver)
            .or_else(|| self.document.objects.values().find_map(|o| find_in(o, resolver)))
            .or_else(|| self.members.values().find_map(|o| find_in(o, resolver)))
    }
}

/// Whether a stream is an object stream (lopdf's own `/Type /ObjStm`, the deferred one, or untyped with
/// `/N` and `/First`, which a viewer following a compressed cross-reference entry reads all the same).
fn is_object_stream(dict: &Dictionary) -> bool {
    dict.has_type(b"ObjStm")
        || dict.has_type(DEFERRED)
        || (dict.get(b"N").and_then(Object::as_i64).is_ok() && dict.get(b"First").and_then(Object::as_i64).is_ok())
}

/// Looks references up across every reading (for a `/URI` that is an indirect string).
struct Resolver<'a> {
    readings: &'a [Reading<'a>],
}

impl Resolver<'_> {
    /// `object`, or what it refers to (every reading's copy is asked; the first string found answers).
    fn strings<'o>(&'o self, object: &'o Object) -> Vec<&'o [u8]> {
        match object {
            Object::String(bytes, _) => vec![bytes.as_slice()],
            Object::Reference(id) => self
                .readings
                .iter()
                .filter_map(|r| match r.get(*id) {
                    Some(Object::String(bytes, _)) => Some(bytes.as_slice()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

fn find_in(object: &Object, resolver: &Resolver<'_>) -> Option<&'static str> {
    match object {
        Object::Dictionary(dict) => find_in_dict(dict, resolver),
        Object::Stream(stream) => find_in_dict(&stream.dict, resolver),
        Object::Array(items) => items.iter().find_map(|o| find_in(o, resolver)),
        _ => None,
    }
}

fn find_in_dict(dict: &Dictionary, resolver: &Resolver<'_>) -> Option<&'static str> {
    for (key, value) in dict.iter() {
        let found = match key.as_slice() {
            b"JavaScript" | b"JS" => Some("JavaScript"),
            b"EmbeddedFiles" | b"EmbeddedFile" | b"EF" => Some("EmbeddedFile"),
            b"XFA" => Some("XFA"),
            b"S" => value.as_name().ok().and_then(|name| ACTIONS.iter().find(|a| **a == name)).map(|a| action(a)),
            b"Type" | b"Subtype" => match value.as_name() {
                Ok(b"EmbeddedFile") => Some("EmbeddedFile"),
                Ok(b"RichMedia") => Some("RichMedia"),
                _ => None,
            },
            b"URI" | b"Base" => resolver.strings(value).into_iter().find_map(dangerous_uri),
            _ => None,
        };
        if let Some(found) = found.or_else(|| find_in(value, resolver)) {
            return Some(found);
        }
    }
    None
}

fn action(name: &[u8]) -> &'static str {
    match name {
        b"JavaScript" => "JavaScript",
        b"Launch" => "Launch",
        b"SubmitForm" => "SubmitForm",
        b"ImportData" => "ImportData",
        b"ResetForm" => "ResetForm",
        b"GoToE" => "GoToE",
        _ => "RichMedia",
    }
}

/// A URI whose scheme runs something or reaches local files: decoded from PDFDocEncoding or UTF-16, with
/// the leading controls and spaces and the tabs and line breaks a browser's URL parser ignores removed.
fn dangerous_uri(bytes: &[u8]) -> Option<&'static str> {
    let text: String = if let Some(utf16) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        char::decode_utf16(utf16.chunks(2).map(|p| u16::from_be_bytes([p[0], p.get(1).copied().unwrap_or(0)])))
            .map(|c| c.unwrap_or('\u{FFFD}'))
            .collect()
    } else if let Some(utf8) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        String::from_utf8_lossy(utf8).into_owned()
    } else {
        bytes.iter().map(|&b| char::from(b)).collect()
    };
    let cleaned: String = text
        .trim_start_matches(|c: char| c <= ' ' || c.is_whitespace())
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .take(16)
        .collect::<String>()
        .to_ascii_lowercase();
    SCHEMES.iter().any(|s| cleaned.starts_with(s)).then_some("URI")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> PdfLimits {
        PdfLimits::for_max_bytes(1 << 20)
    }

    /// A small PDF with a classic cross-reference table around the given object bodies (object 1 is the
    /// catalog).
    fn pdf(objects: &[&str]) -> Vec<u8> {
        let mut out = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = Vec::new();
        for (i, body) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
        }
        let xref = out.len();
        out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
        for offset in offsets {
            out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
        );
        out
    }

    const PAGES: &str = "<< /Type /Pages /Kids [3 0 R] /Count 1 >>";
    const PAGE: &str = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>";

    #[test]
    fn a_plain_pdf_is_clean() {
        let plain = pdf(&["<< /Type /Catalog /Pages 2 0 R >>", PAGES, PAGE]);
        assert_eq!(inspect(&plain, &limits()), PdfVerdict::Clean);
    }

    #[test]
    fn escaped_names_are_decoded() {
        let escaped = pdf(&[
            "<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
            PAGES,
            PAGE,
            "<< /S /J#61vaScript /J#53 (x) >>",
        ]);
        assert_eq!(inspect(&escaped, &limits()), PdfVerdict::Active("JavaScript"));
    }

    /// The smallest files the docs and tests upload: no cross-reference table, a trailer naming a catalog.
    #[test]
    fn a_pdf_without_a_table_is_rebuilt_and_clean() {
        let minimal = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
        assert_eq!(inspect(minimal, &limits()), PdfVerdict::Clean);
        let bare = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer << /Root 1 0 R >>\n";
        assert_eq!(inspect(bare, &limits()), PdfVerdict::Clean);
    }

    #[test]
    fn an_open_action_to_a_page_is_not_active() {
        let goto = pdf(&["<< /Type /Catalog /Pages 2 0 R /OpenAction [3 0 R /Fit] >>", PAGES, PAGE]);
        assert_eq!(inspect(&goto, &limits()), PdfVerdict::Clean);
    }

    #[test]
    fn uri_schemes_are_read_as_a_browser_would() {
        assert_eq!(dangerous_uri(b"javascript:alert(1)"), Some("URI"));
        assert_eq!(dangerous_uri(b"  \x01JaVa\tScRipt:alert(1)"), Some("URI"));
        assert_eq!(dangerous_uri(b"\xFE\xFF\0j\0a\0v\0a\0s\0c\0r\0i\0p\0t\0:"), Some("URI"));
        assert_eq!(dangerous_uri(b"file:///etc/passwd"), Some("URI"));
        assert_eq!(dangerous_uri(b"https://example.com/javascript:"), None);
    }

    #[test]
    fn garbage_and_catalogless_files_are_unreadable() {
        assert!(matches!(inspect(b"%PDF-1.7\nnothing here", &limits()), PdfVerdict::Unreadable(_)));
        let no_catalog = pdf(&["<< /Type /Pages /Kids [] /Count 0 >>"]).replace_root();
        assert!(matches!(inspect(&no_catalog, &limits()), PdfVerdict::Unreadable(_)));
    }

    trait ReplaceRoot {
        fn replace_root(self) -> Vec<u8>;
    }
    impl ReplaceRoot for Vec<u8> {
        fn replace_root(self) -> Vec<u8> {
            String::from_utf8_lossy(&self).replace("/Root 1 0 R", "/Root 9 0 R").into_bytes()
        }
    }

    #[test]
    fn too_large_files_are_refused() {
        let plain = pdf(&["<< /Type /Catalog /Pages 2 0 R >>", PAGES, PAGE]);
        let small = PdfLimits { max_bytes: 10, ..limits() };
        assert!(matches!(inspect(&plain, &small), PdfVerdict::Unreadable(_)));
    }
}
