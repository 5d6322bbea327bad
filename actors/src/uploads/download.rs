//! Opening a download in one call: [`UploadPipelineHandle::open`] takes the upload, its owner and what the
//! request asked for (a photo variant, a byte range, a presigned redirect, a cached `ETag`) and answers with
//! what to send — a redirect, "not modified", "range not satisfiable", or the bytes (their stream straight
//! out of the object store, in the caller's task) with the metadata their headers need — or a
//! [`DownloadRefusal`].

use std::time::Duration;

use uuid::Uuid;

use super::handle::UploadPipelineHandle;
use super::media::MediaType;
use super::names::{content_disposition, with_matching_extension};
use super::photo;
use super::pipeline::PipelineError;
use super::ranges::{RangeOutcome, parse_range};
use crate::ports::objects::{ByteRange, ByteStream, ObjectKey, ObjectStoreError};
use crate::ports::uploads::{UploadRecord, VariantState};

/// How long a client is asked to wait before asking for a pending variant again.
const PROCESSING_RETRY_AFTER: Duration = Duration::from_secs(2);

/// How long a presigned download URL is valid (the store may shorten it).
const PRESIGNED_TTL: Duration = Duration::from_secs(300);

/// What a download request asks for, as sent.
#[derive(Debug, Clone, Default)]
pub struct DownloadRequest {
    /// The caller (`user:<id>` or `guest:<id>`): only the owner may read an upload.
    pub owner: String,
    /// A photo variant's name (`?variant=`), or the original.
    pub variant: Option<String>,
    /// The `Range` header.
    pub range: Option<String>,
    /// The `If-None-Match` header.
    pub if_none_match: Option<String>,
    /// Whether a presigned redirect is wanted (`?redirect=1`; only stores that can presign give one).
    pub redirect: bool,
}

/// What is served: the original, or one photo variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Representation {
    /// Its whole size in bytes.
    pub size: u64,
    /// Its `ETag` (the quoted hex SHA-256).
    pub etag: String,
    /// Its media type.
    pub content_type: String,
    /// Its `Content-Disposition` (with the sanitised display name).
    pub disposition: String,
}

/// What to answer a download with.
pub enum Download {
    /// Send the client to this presigned URL of the store.
    Redirect {
        /// The URL.
        url: String,
    },
    /// The client's copy is current.
    NotModified {
        /// The representation's `ETag`.
        etag: String,
    },
    /// No requested range overlaps the representation of `size` bytes.
    Unsatisfiable {
        /// The representation's size.
        size: u64,
    },
    /// The bytes.
    Bytes {
        /// What they are.
        representation: Representation,
        /// The part sent (`None`: the whole representation).
        range: Option<ByteRange>,
        /// The bytes, streaming from the store.
        stream: ByteStream,
    },
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Redirect { .. } => f.write_str("Redirect"),
            Self::NotModified { etag } => f.debug_struct("NotModified").field("etag", etag).finish(),
            Self::Unsatisfiable { size } => f.debug_struct("Unsatisfiable").field("size", size).finish(),
            Self::Bytes { representation, range, .. } => {
                f.debug_struct("Bytes").field("representation", representation).field("range", range).finish()
            }
        }
    }
}

/// Why a download is refused.
#[derive(Debug, thiserror::Error)]
pub enum DownloadRefusal {
    /// No stored upload of this id is the caller's.
    #[error("upload not found")]
    NotFound,
    /// The upload has no variant of that name (or is not an image).
    #[error("variant not found")]
    VariantNotFound,
    /// The variant is still being made.
    #[error("the variant is being processed")]
    Processing {
        /// When to ask again.
        retry_after: Duration,
    },
    /// The variant could not be made, for good.
    #[error("the variant failed: {0}")]
    VariantFailed(String),
    /// The record names an object key that is not valid (a broken record).
    #[error("the upload's object key is invalid: {0}")]
    BrokenRecord(ObjectStoreError),
    /// The object store failed (or lost the object).
    #[error(transparent)]
    Storage(ObjectStoreError),
    /// The record could not be read.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

/// Whether `If-None-Match` names `etag` (or `*`).
fn matches_etag(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').any(|t| t.trim() == etag || t.trim() == "*")
}

impl UploadPipelineHandle {
    /// Opens upload `id` for `request.owner` (see the module docs). The order is the HTTP one: a wanted
    /// redirect first, then the cached copy, then the range.
    ///
    /// # Errors
    /// A [`DownloadRefusal`].
    pub async fn open(&self, id: Uuid, request: DownloadRequest) -> Result<Download, DownloadRefusal> {
        let record = self.owned(id, &request.owner).await?.ok_or(DownloadRefusal::NotFound)?;
        let (key, representation) = match request.variant.as_deref() {
            None => (
                ObjectKey::parse(record.object_key.clone()).map_err(DownloadRefusal::BrokenRecord)?,
                Representation {
                    size: record.size,
                    etag: format!("\"{}\"", record.sha256),
                    content_type: record.content_type.clone(),
                    disposition: content_disposition(record.filename.as_deref()),
                },
            ),
            Some(name) => self.variant(&record, name).await?,
        };
        let objects = &self.deps().objects;
        if request.redirect {
            let url = objects
                .presigned_get(&key, PRESIGNED_TTL, &representation.content_type, &representation.disposition)
                .await
                .map_err(DownloadRefusal::Storage)?;
            if let Some(url) = url {
                return Ok(Download::Redirect { url });
            }
        }
        if request.if_none_match.as_deref().is_some_and(|v| matches_etag(v, &representation.etag)) {
            return Ok(Download::NotModified { etag: representation.etag });
        }
        let size = representation.size;
        let range = match request.range.as_deref().map_or(RangeOutcome::Full, |r| parse_range(r, size)) {
            RangeOutcome::Full => None,
            RangeOutcome::Partial { start, end } => Some(ByteRange { start, end }),
            RangeOutcome::Unsatisfiable => return Ok(Download::Unsatisfiable { size }),
        };
        let object = objects.get(&key, range).await.map_err(DownloadRefusal::Storage)?;
        Ok(Download::Bytes { representation, range, stream: object.stream })
    }

    /// Variant `name` of `record`, if it is ready.
    async fn variant(&self, record: &UploadRecord, name: &str) -> Result<(ObjectKey, Representation), DownloadRefusal> {
        let variants = self.variants(record.id).await?;
        let variant = variants.into_iter().find(|v| v.name == name).ok_or(DownloadRefusal::VariantNotFound)?;
        match variant.state {
            VariantState::Pending => Err(DownloadRefusal::Processing { retry_after: PROCESSING_RETRY_AFTER }),
            VariantState::Failed => {
                Err(DownloadRefusal::VariantFailed(variant.error.unwrap_or_else(|| "failed".into())))
            }
            VariantState::Ready => {
                let content_type = variant.content_type.unwrap_or_else(|| "application/octet-stream".into());
                // The saved name's extension follows the variant's format (a PNG original served as JPEG).
                let filename = match MediaType::parse_mime(&content_type) {
                    Some(media) => record.filename.as_deref().map(|n| with_matching_extension(n, media)),
                    None => record.filename.clone(),
                };
                let key = photo::variant_key(record.id, &variant.name).map_err(|_| DownloadRefusal::VariantNotFound)?;
                Ok((
                    key,
                    Representation {
                        size: variant.size.unwrap_or(0),
                        etag: format!("\"{}\"", variant.sha256.unwrap_or_default()),
                        content_type,
                        disposition: content_disposition(filename.as_deref()),
                    },
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `If-None-Match` matches the exact quoted tag in a list, or `*`; a weak or other tag does not.
    #[test]
    fn if_none_match_lists_and_wildcard() {
        let etag = "\"abc\"";
        assert!(matches_etag("\"abc\"", etag));
        assert!(matches_etag("\"x\", \"abc\"", etag));
        assert!(matches_etag("*", etag));
        assert!(!matches_etag("\"abcd\"", etag));
        assert!(!matches_etag("W/\"abc\"", etag));
    }
}
