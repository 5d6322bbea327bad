//! Uploads that fit one request: a body of known length streams straight through one `PutObject`, a body
//! that ends within one part is buffered and sent whole; anything longer goes to the multipart path.

use std::io;
use std::task::Poll;
use std::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::primitives::ByteStream as AwsByteStream;
use bytes::Bytes;
use futures::StreamExt;
use gantry_actors::ports::objects::{ByteStream, ObjectKey, ObjectStoreError, StoredObject};

use super::errors::{sdk_failure, store_failure};
use super::multipart::{PartBuffer, to_i64};
use super::{CONNECT_TIMEOUT, S3ObjectStore};

/// Deadline of one streamed PutObject: as long as Gantry's upload deadline (`uploads.timeout_secs`, 1 h by
/// default), which bounds the request anyway.
const STREAMING_PUT_TIMEOUT: Duration = Duration::from_secs(3600);

/// The largest object one PutObject may carry (S3's limit); larger bodies go multipart.
const MAX_SINGLE_PUT: u64 = 5 * 1024 * 1024 * 1024;

/// An SDK request body fed from a bounded channel, with an exact length.
struct ChannelBody {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, io::Error>>,
    remaining: u64,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, io::Error>>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.remaining = self.remaining.saturating_sub(chunk.len() as u64);
                Poll::Ready(Some(Ok(hyper::body::Frame::data(chunk))))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.remaining)
    }
}

impl S3ObjectStore {
    /// `put` with this store's client for every request of the upload.
    pub(super) async fn put_pinned(
        &self,
        key: &ObjectKey,
        mut body: ByteStream,
        size_hint: Option<u64>,
        content_type: &str,
    ) -> Result<StoredObject, ObjectStoreError> {
        // A body whose exact length is known (HTTP Content-Length framing guarantees it) and that fits one
        // PutObject streams straight through: no buffering, one request, all-or-nothing by S3's semantics.
        if let Some(length) = size_hint.filter(|&n| n > self.part_size as u64 && n <= MAX_SINGLE_PUT) {
            return self.put_streaming(key, body, length, content_type).await;
        }
        // The hint only sizes the first allocation; the choice between one PutObject and a multipart upload
        // is made on the bytes actually received, so a wrong hint costs nothing but a reallocation.
        let capacity =
            size_hint.map_or(self.part_size, |n| usize::try_from(n).map_or(self.part_size, |n| n.min(self.part_size)));
        let mut buf = PartBuffer::new(self.part_size, capacity);
        loop {
            match body.next().await {
                None => return self.put_single(key, buf.take_rest(), content_type).await,
                Some(Err(e)) => return Err(ObjectStoreError::BodyAborted(e)),
                Some(Ok(chunk)) => {
                    buf.push(&chunk);
                    if buf.len() > self.part_size {
                        break;
                    }
                }
            }
        }
        if let Some(hint) = size_hint.filter(|&n| n <= self.part_size as u64) {
            tracing::debug!(backend = "s3", hint, "body is longer than its size hint; switching to multipart");
        }
        self.put_multipart(key, body, buf, content_type).await
    }

    /// Stores a body that fit in one part with a single `PutObject` of known length.
    async fn put_single(
        &self,
        key: &ObjectKey,
        data: Bytes,
        content_type: &str,
    ) -> Result<StoredObject, ObjectStoreError> {
        let size = data.len() as u64;
        let mut req = self
            .client()
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_length(to_i64(size))
            .body(AwsByteStream::from(data));
        if !content_type.is_empty() {
            req = req.content_type(content_type);
        }
        req.send().await.map_err(|e| sdk_failure("put", &self.bucket, &e))?;
        Ok(StoredObject { size })
    }

    /// Streams a body of exactly `length` bytes as one PutObject. The body passes through a small bounded
    /// channel (the SDK wants a `Sync` body with a known length), so memory stays flat whatever the size.
    /// A failing body aborts the request, so S3 stores nothing. Not retried: a streamed body cannot be
    /// replayed.
    async fn put_streaming(
        &self,
        key: &ObjectKey,
        mut body: ByteStream,
        length: u64,
        content_type: &str,
    ) -> Result<StoredObject, ObjectStoreError> {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, io::Error>>(8);
        let sdk_body = AwsByteStream::from_body_1_x(ChannelBody { rx, remaining: length });
        let mut req = self
            .client()
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_length(to_i64(length))
            .body(sdk_body);
        if !content_type.is_empty() {
            req = req.content_type(content_type);
        }
        // One attempt, and as long as the upload itself may take (a slow client is not a stalled store).
        let streaming = aws_sdk_s3::Config::builder().retry_config(RetryConfig::disabled()).timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_timeout(STREAMING_PUT_TIMEOUT)
                .operation_attempt_timeout(STREAMING_PUT_TIMEOUT)
                .build(),
        );
        let send = req.customize().config_override(streaming).send();
        let pump = async move {
            let mut sent = 0u64;
            while let Some(item) = body.next().await {
                match item {
                    Ok(chunk) => {
                        sent += chunk.len() as u64;
                        if tx.send(Ok(chunk)).await.is_err() {
                            // The request ended (failed) first; its error is reported below.
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(io::Error::new(e.kind(), "upload body aborted"))).await;
                        return Err(e);
                    }
                }
            }
            Ok(sent)
        };
        let (pumped, sent) = tokio::join!(pump, send);
        match (pumped, sent) {
            (Err(e), _) => Err(ObjectStoreError::BodyAborted(e)),
            (Ok(n), Ok(_)) if n == length => Ok(StoredObject { size: n }),
            (Ok(n), Ok(_)) => {
                // Cannot happen with HTTP framing; never keep an object that is not what was announced.
                let _ = self.client().delete_object().bucket(&self.bucket).key(key.as_str()).send().await;
                tracing::warn!(
                    backend = "s3",
                    received = n,
                    announced = length,
                    "body length differs from the announced one"
                );
                Err(store_failure("put", "s3 put failed: body length differs from the announced one"))
            }
            (Ok(_), Err(e)) => Err(sdk_failure("put", &self.bucket, &e)),
        }
    }
}
