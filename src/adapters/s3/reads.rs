//! Reads: `get` of a whole object or of a byte range, the empty answer to a range that starts past the end,
//! and the SDK's body handed on as the port's stream.

use std::io;
use std::task::Poll;

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream as AwsByteStream;
use gantry_actors::ports::objects::{ByteRange, ByteStream, ObjectBody, ObjectKey, ObjectStoreError};

use super::S3ObjectStore;
use super::errors::{sdk_failure, status, store_failure};

impl S3ObjectStore {
    /// `get`: the whole object, or the bytes `start..=end` of it with the object's total size.
    pub(super) async fn read(&self, key: &ObjectKey, range: Option<ByteRange>) -> Result<ObjectBody, ObjectStoreError> {
        let mut req = self.client().get_object().bucket(&self.bucket).key(key.as_str());
        if let Some(ByteRange { start, end }) = range {
            if start > end {
                return self.empty_range(key).await;
            }
            req = req.range(format!("bytes={start}-{end}"));
        }
        let out = match req.send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                return Err(ObjectStoreError::NotFound);
            }
            // 416: the range starts past the end (the object changed since the caller resolved it).
            Err(e) if range.is_some() && status(&e) == Some(416) => {
                return self.empty_range(key).await;
            }
            Err(e) => return Err(sdk_failure("get", &self.bucket, &e)),
        };
        let length = out.content_length.map(from_i64);
        let total_size = match (range, out.content_range.as_deref().and_then(content_range_total)) {
            (None, _) => length,
            (Some(_), Some(total)) => Some(total),
            // Some stores answer a range over an empty object with the whole (empty) object.
            (Some(_), None) if length == Some(0) => Some(0),
            (Some(_), None) => None,
        };
        let Some(total_size) = total_size else {
            return Err(store_failure("get", "s3 get failed: no usable Content-Range or Content-Length"));
        };
        Ok(ObjectBody { total_size, stream: port_stream(out.body) })
    }

    /// The answer to a range that starts past the end: the object's size (from `HeadObject`) and no bytes.
    async fn empty_range(&self, key: &ObjectKey) -> Result<ObjectBody, ObjectStoreError> {
        match self.client().head_object().bucket(&self.bucket).key(key.as_str()).send().await {
            Ok(out) => Ok(ObjectBody {
                total_size: from_i64(out.content_length.unwrap_or(0)),
                stream: Box::pin(futures::stream::empty()),
            }),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Err(ObjectStoreError::NotFound),
            Err(e) => Err(sdk_failure("get", &self.bucket, &e)),
        }
    }
}

/// The total size in a `Content-Range: bytes 0-99/1234` header; `None` when absent or `*`.
fn content_range_total(header: &str) -> Option<u64> {
    header.rsplit_once('/').and_then(|(_, total)| total.trim().parse().ok())
}

/// The SDK's body as the port's stream. A failure while streaming is counted and logged here, since it
/// surfaces to the reader only as an I/O error.
fn port_stream(body: AwsByteStream) -> ByteStream {
    let mut body = Box::pin(body);
    Box::pin(futures::stream::poll_fn(move |cx| match body.as_mut().poll_next(cx) {
        Poll::Ready(Some(Err(e))) => {
            metrics::counter!("gantry_object_store_errors_total", "backend" => "s3", "op" => "get").increment(1);
            tracing::warn!(backend = "s3", op = "get", error = %DisplayErrorContext(&e), "object body failed while streaming");
            Poll::Ready(Some(Err(io::Error::from(e))))
        }
        other => other.map(|item| item.map(|chunk| chunk.map_err(io::Error::from))),
    }))
}

fn from_i64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The total size is read from `Content-Range`, and `*` or garbage yields none.
    #[test]
    fn content_range_total_parses_the_size() {
        assert_eq!(content_range_total("bytes 0-99/1234"), Some(1234));
        assert_eq!(content_range_total("bytes */1234"), Some(1234));
        assert_eq!(content_range_total("bytes 0-99/*"), None);
        assert_eq!(content_range_total("nonsense"), None);
    }
}
