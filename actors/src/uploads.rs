//! Upload rules, free of I/O: what the bytes are, what a file may be called, which bytes a download asks for,
//! which digest the client promised, and the guest tokens that let someone without an account upload.
//!
//! - [`media`]: the accepted media types, magic-byte sniffing and the declared-versus-sniffed check.
//! - [`names`]: display filenames (their extension made to match the bytes) and the `Content-Disposition`
//!   header that carries them back.
//! - [`pdf`]: active content in PDFs (`/JavaScript`, `/OpenAction`, …), refused while the bytes stream.
//! - [`ranges`]: the single byte range a `Range` header asks for (RFC 9110).
//! - [`digest`]: the SHA-256 a client announced in `Content-Digest` (RFC 9530) or `x-checksum-sha256`.
//! - [`guest_token`]: HS256 upload tokens for guests, signed with `UPLOAD_GUEST_TOKEN_SECRET`.
//! - [`bytes`]: the byte path (request → object store → download), the one exception to owner-only state.
//! - [`pipeline`]: the upload pipeline actor: admission, upload jobs, finishing, deletion, the crash sweep.
//! - [`photo`]: the `uploads.photo` job: bounded decoding, metadata stripped, re-encoded variants.

pub mod bytes;
pub mod digest;
pub mod guest_token;
pub mod media;
pub mod names;
pub mod pdf;
pub mod photo;
pub mod pipeline;
pub mod ranges;
