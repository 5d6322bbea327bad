//! Uploads: the rules, free of I/O (what the bytes are, what a file may be called, which bytes a download
//! asks for, which digest the client promised, the guest tokens that let someone without an account upload),
//! and the upload owner, which receives, stores, serves and deletes uploads — the gateway hands it a request's
//! facts and body in one call ([`receive`], [`download`]) and the object store is reached only through it.
//!
//! - [`media`]: the accepted media types, magic-byte sniffing and the declared-versus-sniffed check.
//! - [`names`]: display filenames (their extension made to match the bytes) and the `Content-Disposition`
//!   header that carries them back.
//! - [`pdf`]: active content in PDFs (`/JavaScript`, `/OpenAction`, …), found by parsing the whole file.
//! - [`ranges`]: the single byte range a `Range` header asks for (RFC 9110).
//! - [`digest`]: the SHA-256 a client announced in `Content-Digest` (RFC 9530) or `x-checksum-sha256`.
//! - [`guest_token`]: HS256 upload tokens for guests, signed with `UPLOAD_GUEST_TOKEN_SECRET`.
//! - [`handle`]: the upload owner's front door: admission through the [`ledger`] of uploads in flight, reads,
//!   and the writes sent to the actor.
//! - [`ledger`]: the uploads in flight on this instance (uploader, address, bytes, last progress, slot).
//! - [`pipeline`]: the upload pipeline actor, the single writer of upload records and jobs: recording,
//!   finishing, deletion, the crash sweep.
//! - [`receive`]: receiving an upload in one call: announced length and digest, admission, the body through
//!   [`validate`] into the object store, and the failure decisions (code, object removal).
//! - [`download`]: opening a download in one call: ownership, variants, redirect, `ETag`, range, the bytes.
//! - [`validate`]: the validating body stream (size, type sniffing, PDF active content, idle, SHA-256).
//! - [`removal`]: the `uploads.remove_object` job's name, retries and arguments.
//! - [`jobs`]: the upload job kinds (sweep, object removal, aborting unfinished writes, photos).
//! - [`photo`]: photo variants: bounded decoding, metadata stripped, re-encoded variants.
//! - [`photo_job`]: the `uploads.photo` job's handler around [`photo`].
//! - [`pixel_budget`]: guests' photo pixels per hour (per guest token and per client address).

pub mod digest;
pub mod download;
pub mod guest_token;
pub mod handle;
pub mod jobs;
pub mod ledger;
pub mod media;
pub mod names;
pub mod pdf;
pub mod photo;
pub mod photo_job;
pub mod pipeline;
pub mod pixel_budget;
pub mod ranges;
pub mod receive;
pub mod removal;
pub mod validate;
