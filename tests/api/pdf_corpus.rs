//! Crafted PDFs for the upload filter: every hiding place of active content the filter must find (plain,
//! `#hh` names, object streams behind a compressed `/XRef` stream, incremental updates, nested name trees,
//! objects no cross-reference entry names, filter chains), benign PDFs it must accept, and files it cannot
//! read. Each is built byte by byte here, with real offsets and real FlateDecode.

use std::collections::BTreeMap;
use std::io::Write;

/// What the upload API must answer to a corpus file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Stored: 201.
    Stored,
    /// 415 `active_content`.
    Active,
    /// 415 `unreadable_pdf`.
    Unreadable,
}

/// One corpus file.
pub struct Case {
    /// What it hides (or that it hides nothing).
    pub name: &'static str,
    /// The file.
    pub bytes: Vec<u8>,
    /// The answer it must get.
    pub expect: Expect,
}

/// zlib (FlateDecode) of `data`.
pub fn flate(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("in memory");
    encoder.finish().expect("in memory")
}

/// A PDF written object by object, with cross-reference sections (tables or streams) at the offsets written.
pub struct Pdf {
    out: Vec<u8>,
    /// Objects written since the last cross-reference section, by number: their offsets.
    pending: BTreeMap<u32, usize>,
    /// The last cross-reference section's offset (for `/Prev`).
    last_xref: Option<usize>,
    /// The highest object number written.
    max_id: u32,
}

impl Pdf {
    pub fn new() -> Self {
        Self { out: b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec(), pending: BTreeMap::new(), last_xref: None, max_id: 0 }
    }

    /// Writes object `id` with `body`.
    pub fn obj(mut self, id: u32, body: &str) -> Self {
        self.pending.insert(id, self.out.len());
        self.max_id = self.max_id.max(id);
        self.out.extend_from_slice(format!("{id} 0 obj\n{body}\nendobj\n").as_bytes());
        self
    }

    /// Writes stream object `id`: `dict` (without `/Length`) and `data` as they are.
    pub fn stream(mut self, id: u32, dict: &str, data: &[u8]) -> Self {
        self.pending.insert(id, self.out.len());
        self.max_id = self.max_id.max(id);
        self.out.extend_from_slice(format!("{id} 0 obj\n<< {dict} /Length {} >>\nstream\n", data.len()).as_bytes());
        self.out.extend_from_slice(data);
        self.out.extend_from_slice(b"\nendstream\nendobj\n");
        self
    }

    /// Writes bytes outside any object (after `%%EOF`, say).
    pub fn raw(mut self, bytes: &str) -> Self {
        self.out.extend_from_slice(bytes.as_bytes());
        self
    }

    /// Writes an object stream `id` holding `members` (number, body), encoded by `encode` under `filter`.
    pub fn obj_stream(self, id: u32, members: &[(u32, &str)], filter: &str, encode: fn(&[u8]) -> Vec<u8>) -> Self {
        let mut header = String::new();
        let mut body = String::new();
        for (number, member) in members {
            header.push_str(&format!("{number} {} ", body.len()));
            body.push_str(member);
            body.push('\n');
        }
        let plain = format!("{header}\n{body}");
        let dict = format!("/Type /ObjStm /N {} /First {} /Filter {filter}", members.len(), header.len() + 1);
        self.stream(id, &dict, &encode(plain.as_bytes()))
    }

    /// Ends a revision with a classic cross-reference table of the objects written since the last one, and
    /// its trailer (`/Root 1 0 R`, `/Prev` when there was an earlier section).
    pub fn table(mut self) -> Self {
        let offset = self.out.len();
        let mut section = String::from("xref\n");
        if self.last_xref.is_none() {
            section.push_str("0 1\n0000000000 65535 f \n");
        }
        for (id, at) in &self.pending {
            section.push_str(&format!("{id} 1\n{at:010} 00000 n \n"));
        }
        let prev = self.last_xref.map(|p| format!(" /Prev {p}")).unwrap_or_default();
        section.push_str(&format!(
            "trailer\n<< /Size {} /Root 1 0 R{prev} >>\nstartxref\n{offset}\n%%EOF\n",
            self.max_id + 1
        ));
        self.out.extend_from_slice(section.as_bytes());
        self.pending.clear();
        self.last_xref = Some(offset);
        self
    }

    /// Ends a revision with a compressed cross-reference stream (object `id`) of the objects written since the
    /// last section and `compressed` members (number, container, index).
    pub fn xref_stream(mut self, id: u32, compressed: &[(u32, u32, u16)]) -> Self {
        let offset = self.out.len();
        self.pending.insert(id, offset);
        self.max_id = self.max_id.max(id);
        let mut rows: BTreeMap<u32, [u8; 7]> = BTreeMap::new();
        for (&number, &at) in &self.pending {
            let at = u32::try_from(at).expect("small").to_be_bytes();
            rows.insert(number, [1, at[0], at[1], at[2], at[3], 0, 0]);
        }
        for &(number, container, index) in compressed {
            let c = container.to_be_bytes();
            let i = index.to_be_bytes();
            rows.insert(number, [2, c[0], c[1], c[2], c[3], i[0], i[1]]);
        }
        let mut data = vec![0, 0, 0, 0, 0, 0xFF, 0xFF];
        let mut index = String::from("0 1");
        for (number, row) in &rows {
            index.push_str(&format!(" {number} 1"));
            data.extend_from_slice(row);
        }
        let size = rows.keys().max().copied().unwrap_or(0).max(self.max_id) + 1;
        let prev = self.last_xref.map(|p| format!(" /Prev {p}")).unwrap_or_default();
        let data = flate(&data);
        self.out.extend_from_slice(
            format!(
                "{id} 0 obj\n<< /Type /XRef /Size {size} /W [1 4 2] /Index [{index}] /Root 1 0 R{prev} /Filter /FlateDecode /Length {} >>\nstream\n",
                data.len()
            )
            .as_bytes(),
        );
        self.out.extend_from_slice(&data);
        self.out.extend_from_slice(format!("\nendstream\nendobj\nstartxref\n{offset}\n%%EOF\n").as_bytes());
        self.pending.clear();
        self.last_xref = Some(offset);
        self
    }

    pub fn bytes(self) -> Vec<u8> {
        self.out
    }
}

const PAGES: &str = "<< /Type /Pages /Kids [3 0 R] /Count 1 >>";
const PAGE: &str = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>";
const CATALOG: &str = "<< /Type /Catalog /Pages 2 0 R >>";

/// A one-page PDF with a classic table: catalog `catalog`, a page with `page_extra` in its dictionary, and
/// `more` objects from number 4 on.
fn classic(catalog: &str, page_extra: &str, more: &[&str]) -> Vec<u8> {
    let page = format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] {page_extra} >>");
    let mut pdf = Pdf::new().obj(1, catalog).obj(2, PAGES).obj(3, &page);
    for (i, body) in more.iter().enumerate() {
        pdf = pdf.obj(4 + u32::try_from(i).expect("small"), body);
    }
    pdf.table().bytes()
}

fn hex(data: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = data.iter().flat_map(|b| format!("{b:02X}").into_bytes()).collect();
    out.push(b'>');
    out
}

/// The corpus: at least 20 hiding places, the benign files that must pass, and unreadable ones.
pub fn corpus() -> Vec<Case> {
    use Expect::{Active, Stored, Unreadable};
    let case = |name, bytes, expect| Case { name, bytes, expect };
    let js = "<< /S /JavaScript /JS (app.alert(1)) >>";
    vec![
        // Active content in plain sight.
        case("open action javascript", classic("<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>", "", &[js]), Active),
        case(
            "#hh escaped names",
            classic("<< /Type /Catalog /Pages 2 0 R /Open#41ction 4 0 R >>", "", &["<< /S /J#61va#53cript /J#53 (x) >>"]),
            Active,
        ),
        case(
            "the issue's attack: object stream behind a compressed xref stream",
            Pdf::new()
                .obj_stream(
                    5,
                    &[(1, "<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>"), (2, PAGES), (3, PAGE), (4, js)],
                    "/FlateDecode",
                    flate,
                )
                .xref_stream(6, &[(1, 5, 0), (2, 5, 1), (3, 5, 2), (4, 5, 3)])
                .bytes(),
            Active,
        ),
        case(
            "object stream with a filter chain holding an embedded file",
            Pdf::new()
                .obj(1, "<< /Type /Catalog /Pages 2 0 R /Names 5 0 R >>")
                .obj(2, PAGES)
                .obj(3, PAGE)
                .obj_stream(
                    4,
                    &[(5, "<< /EmbeddedFiles << /Names [(a.exe) 6 0 R] >> >>"), (6, "<< /Type /Filespec /F (a.exe) >>")],
                    "[/ASCIIHexDecode /FlateDecode]",
                    |d| hex(&flate(d)),
                )
                .xref_stream(7, &[(5, 4, 0), (6, 4, 1)])
                .bytes(),
            Active,
        ),
        case(
            "incremental update adds an open action",
            Pdf::new()
                .obj(1, CATALOG)
                .obj(2, PAGES)
                .obj(3, PAGE)
                .table()
                .obj(1, "<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>")
                .obj(4, js)
                .table()
                .bytes(),
            Active,
        ),
        case(
            "incremental update through an xref stream adds a launch action",
            Pdf::new()
                .obj(1, CATALOG)
                .obj(2, PAGES)
                .obj(3, PAGE)
                .table()
                .obj(1, "<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>")
                .obj(4, "<< /S /Launch /F (calc.exe) >>")
                .xref_stream(5, &[])
                .bytes(),
            Active,
        ),
        case(
            "nested javascript name tree",
            classic(
                "<< /Type /Catalog /Pages 2 0 R /Names << /Dests 4 0 R /JavaScript 5 0 R >> >>",
                "",
                &["<< /Names [] >>", "<< /Kids [6 0 R] >>", "<< /Kids [7 0 R] >>", "<< /Names [(a) 8 0 R] >>", js],
            ),
            Active,
        ),
        case(
            "page additional action with a javascript: URI",
            classic(CATALOG, "/AA << /O << /S /URI /URI (javascript:alert(1)) >> >>", &[]),
            Active,
        ),
        case(
            "link with an obfuscated javascript: URI",
            classic(
                CATALOG,
                "/Annots [4 0 R]",
                &["<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A << /S /URI /URI (  \\tJaVa\\nScRiPt:alert(1)) >> >>"],
            ),
            Active,
        ),
        case(
            "link with a UTF-16 javascript: URI",
            classic(
                CATALOG,
                "/Annots [4 0 R]",
                &["<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A << /S /URI /URI <FEFF006A006100760061007300630072006900700074003A0031> >> >>"],
            ),
            Active,
        ),
        case("link to a data: URI", classic(CATALOG, "/AA << /C << /S /URI /URI (data:text/html,x) >> >>", &[]), Active),
        case("link to a file: URI", classic(CATALOG, "/AA << /C << /S /URI /URI 4 0 R >> >>", &["(file:///etc/passwd)"]), Active),
        case(
            "submit form with an AcroForm",
            classic(
                "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] >> >>",
                "/Annots [4 0 R]",
                &["<< /FT /Btn /T (send) /Subtype /Widget /Rect [0 0 9 9] /A << /S /SubmitForm /F (https://x.example/) >> >>"],
            ),
            Active,
        ),
        case(
            "embedded files name tree",
            classic(
                "<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles 4 0 R >> >>",
                "",
                &["<< /Kids [5 0 R] >>", "<< /Names [(a.exe) 6 0 R] >>", "<< /Type /Filespec /F (a.exe) >>"],
            ),
            Active,
        ),
        case(
            "embedded file stream of a file attachment",
            Pdf::new()
                .obj(1, CATALOG)
                .obj(2, PAGES)
                .obj(3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Annots [4 0 R] >>")
                .obj(4, "<< /Type /Annot /Subtype /FileAttachment /Rect [0 0 9 9] /FS << /Type /Filespec /F (a) /E#46 << /F 5 0 R >> >> >>")
                .stream(5, "/Type /EmbeddedFile", b"MZ")
                .table()
                .bytes(),
            Active,
        ),
        case(
            "XFA form",
            classic("<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [] /XFA 4 0 R >> >>", "", &["[(template) 5 0 R]", "(<xdp/>)"]),
            Active,
        ),
        case("launch action", classic("<< /Type /Catalog /Pages 2 0 R /OpenAction << /S /Launch /F (cmd.exe) >> >>", "", &[]), Active),
        case("import data action", classic(CATALOG, "/AA << /O << /S /ImportData /F (x.fdf) >> >>", &[]), Active),
        case("reset form action", classic(CATALOG, "/AA << /O << /S /ResetForm >> >>", &[]), Active),
        case("go to embedded action", classic(CATALOG, "/AA << /O << /S /GoToE /T << /R /C /N (a) >> >> >>", &[]), Active),
        case(
            "rich media annotation",
            classic(CATALOG, "/Annots [4 0 R]", &["<< /Type /Annot /Subtype /RichMedia /Rect [0 0 9 9] /RichMediaContent << >> >>"]),
            Active,
        ),
        case(
            "a script no cross-reference entry names (after %%EOF)",
            Pdf::new()
                .obj(1, CATALOG)
                .obj(2, PAGES)
                .obj(3, PAGE)
                .table()
                .raw("9 0 obj\n<< /S /JavaScript /JS (app.alert(1)) >>\nendobj\n")
                .bytes(),
            Active,
        ),
        case(
            "script stream referenced from a names tree in an object stream",
            Pdf::new()
                .obj(1, "<< /Type /Catalog /Pages 2 0 R /Names 5 0 R >>")
                .obj(2, PAGES)
                .obj(3, PAGE)
                .obj_stream(4, &[(5, "<< /J#61vaScript << /Names [(x) 6 0 R] >> >>")], "/FlateDecode", flate)
                .obj(6, "<< /S /JavaScript /JS 7 0 R >>")
                .stream(7, "/Filter /FlateDecode", &flate(b"app.alert(1)"))
                .xref_stream(8, &[(5, 4, 0)])
                .bytes(),
            Active,
        ),
        // Benign files: stored.
        case("plain one-page PDF", classic(CATALOG, "", &[]), Stored),
        case(
            "object streams behind a compressed xref stream",
            Pdf::new()
                .obj_stream(5, &[(1, CATALOG), (2, PAGES), (3, PAGE)], "/FlateDecode", flate)
                .xref_stream(6, &[(1, 5, 0), (2, 5, 1), (3, 5, 2)])
                .bytes(),
            Stored,
        ),
        case("open action to a page", classic("<< /Type /Catalog /Pages 2 0 R /OpenAction [3 0 R /Fit] >>", "", &[]), Stored),
        case(
            "link to an https URI and an outline",
            classic(
                "<< /Type /Catalog /Pages 2 0 R /Outlines << /Count 0 >> >>",
                "/Annots [4 0 R]",
                &["<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A << /S /URI /URI (https://example.com/JavaScript) >> >>"],
            ),
            Stored,
        ),
        case(
            "incremental update of a benign file",
            Pdf::new()
                .obj(1, CATALOG)
                .obj(2, PAGES)
                .obj(3, PAGE)
                .table()
                .obj(3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>")
                .stream(4, "/Filter /FlateDecode", &flate(b"BT /F1 12 Tf (JavaScript is text here) Tj ET"))
                .table()
                .bytes(),
            Stored,
        ),
        // Files the parser cannot read, or that pass its bounds.
        case("garbage after the header", b"%PDF-1.7\n\x00\x01 not a pdf at all \xFF\xFE".to_vec(), Unreadable),
        case(
            "an object stream that inflates past the decode limit",
            Pdf::new()
                .obj(1, CATALOG)
                .obj(2, PAGES)
                .obj(3, PAGE)
                .stream(4, "/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode", &flate(&vec![b' '; 80 << 20]))
                .table()
                .bytes(),
            Unreadable,
        ),
    ]
}
