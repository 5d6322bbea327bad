//! `S3ObjectStore`: the object store port on an S3-compatible bucket (AWS, MinIO, s3s-fs) through
//! `aws-sdk-s3`, with a hand-built client config (static credentials, path-style, checksums only when
//! required, explicit timeouts and a small retry budget).
//!
//! A `put` buffers at most one part: a body that ends within one part is sent with `PutObject` and a known
//! length; a longer one becomes a multipart upload of exactly `part_size` parts, aborted on any failure.
//! s3s-fs cannot list multipart uploads, so the upload id is never lost track of: the error path aborts it,
//! and a guard aborts it when the `put` future is dropped midway.
//!
//! Downloads can also be handed off to the store: `presigned_get` signs a `GetObject` URL (at most 5 minutes)
//! that makes the store answer with the content type and disposition the caller chose.

use std::io;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
    StalledStreamProtectionConfig,
};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream as AwsByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CompletedMultipartUpload, CompletedPart, CreateBucketConfiguration};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::objects::{
    ByteRange, ByteStream, MultipartLedger, ObjectBody, ObjectKey, ObjectStore, ObjectStoreError, PendingMultipart,
    StoredObject,
};
use gantry_actors::secrets::SecretValue;
use secrecy::{ExposeSecret, SecretString};

/// S3 allows at most this many parts in one multipart upload.
const MAX_PARTS: usize = 10_000;
/// S3's largest part.
const MAX_PART_SIZE: usize = 5 * 1024 * 1024 * 1024;
/// Time to open a TCP (and TLS) connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts per request (the first one included): enough to ride out a dropped connection, short enough
/// that a dead store is reported quickly.
const MAX_ATTEMPTS: u32 = 3;
/// A transfer that moves no bytes for this long is failed by the SDK's stalled-stream protection. Longer
/// than the SDK default (5 s) because S3 clones on busy disks pause; still catches dead connections.
const STALL_GRACE: Duration = Duration::from_secs(20);
/// The longest a presigned URL stays valid, whatever the caller asks for: a leaked URL is a short-lived leak.
const MAX_PRESIGN_TTL: Duration = Duration::from_secs(5 * 60);

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

/// Where and how to reach the bucket.
#[derive(Clone)]
pub struct S3Settings {
    /// Endpoint URL, e.g. `http://127.0.0.1:9310` or `https://s3.eu-central-1.amazonaws.com`.
    pub endpoint: String,
    /// Bucket holding the objects.
    pub bucket: String,
    /// Signing region, e.g. `us-east-1`.
    pub region: String,
    /// Access key id (an identifier, shown in `Debug`).
    pub access_key_id: String,
    /// Secret access key (never shown).
    pub secret_access_key: SecretString,
    /// Multipart part size in bytes: [`S3Settings::DEFAULT_PART_SIZE`] unless tuned, at least
    /// [`S3Settings::MIN_PART_SIZE`]. A `put` holds about one part in memory.
    pub part_size: usize,
    /// Create the bucket at connect time when it does not exist (local and test setups).
    pub create_bucket: bool,
}

impl S3Settings {
    /// The default part size, 8 MiB.
    pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;
    /// The smallest part S3 accepts (except for the last one), 5 MiB.
    pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[redacted]")
            .field("part_size", &self.part_size)
            .field("create_bucket", &self.create_bucket)
            .finish()
    }
}

/// Objects in one S3 bucket.
#[derive(Clone)]
pub struct S3ObjectStore {
    /// The SDK client in use (cheap to clone; shares its connection pool). Rotation swaps it: requests
    /// under way keep the clone they started with, so uploads in flight finish on the old credentials.
    client: Arc<ArcSwap<Client>>,
    /// The client configuration, to build a client with other credentials.
    config: aws_sdk_s3::Config,
    /// The bucket.
    bucket: String,
    /// Multipart part size in bytes.
    part_size: usize,
    /// Where multipart uploads under way are recorded (the profile's database), so the periodic sweep can
    /// abort those a crash left behind on stores that cannot list them (s3s-fs); `None` in tests of the
    /// adapter alone.
    ledger: Option<Arc<dyn MultipartLedger>>,
}

impl std::fmt::Debug for S3ObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3ObjectStore")
            .field("bucket", &self.bucket)
            .field("part_size", &self.part_size)
            .finish_non_exhaustive()
    }
}

impl S3ObjectStore {
    /// Builds the client for `settings` and, with `create_bucket`, creates the bucket if it is missing.
    /// Does not require the store to be up: an unreachable store is logged here and reported by
    /// [`ObjectStore::health`].
    ///
    /// # Errors
    /// [`ObjectStoreError::Unavailable`] when the settings are unusable (part size outside 5 MiB..=5 GiB,
    /// endpoint not `http://` or `https://`).
    pub async fn connect(settings: S3Settings) -> Result<Self, ObjectStoreError> {
        if !(S3Settings::MIN_PART_SIZE..=MAX_PART_SIZE).contains(&settings.part_size) {
            return Err(Unavailable::new(format!(
                "s3 part size {} is outside {}..={} bytes",
                settings.part_size,
                S3Settings::MIN_PART_SIZE,
                MAX_PART_SIZE
            ))
            .into());
        }
        if !(settings.endpoint.starts_with("http://") || settings.endpoint.starts_with("https://")) {
            return Err(Unavailable::new("s3 endpoint must start with http:// or https://").into());
        }

        let credentials = Credentials::new(
            settings.access_key_id.clone(),
            settings.secret_access_key.expose_secret(),
            None,
            None,
            "gantry-settings",
        );
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .credentials_provider(credentials)
            .region(Region::new(settings.region.clone()))
            .endpoint_url(settings.endpoint.clone())
            // MinIO and s3s-fs serve buckets as paths, not subdomains.
            .force_path_style(true)
            // Plain bodies instead of aws-chunked CRC trailers, which S3 clones handle unevenly.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .timeout_config(timeouts(settings.part_size))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(MAX_ATTEMPTS)
                    .with_initial_backoff(Duration::from_millis(200))
                    .with_max_backoff(Duration::from_secs(2)),
            )
            .stalled_stream_protection(StalledStreamProtectionConfig::enabled().grace_period(STALL_GRACE).build())
            .build();
        let store = Self {
            client: Arc::new(ArcSwap::from_pointee(Client::from_conf(config.clone()))),
            config,
            bucket: settings.bucket.clone(),
            part_size: settings.part_size,
            ledger: None,
        };
        if settings.create_bucket {
            store.ensure_bucket(&settings.region).await;
        }
        Ok(store)
    }

    /// Records multipart uploads in `ledger` from now on (see [`ObjectStore::abort_incomplete`]).
    #[must_use]
    pub fn with_ledger(mut self, ledger: Arc<dyn MultipartLedger>) -> Self {
        self.ledger = Some(ledger);
        self
    }

    /// Records a multipart upload just created. A failure is logged, not returned: the upload goes on, only
    /// its clean-up after a crash now depends on the store listing its uploads.
    async fn note_started(&self, key: &ObjectKey, upload_id: &str) {
        let Some(ledger) = &self.ledger else { return };
        let pending = PendingMultipart {
            key: key.as_str().to_owned(),
            upload_id: upload_id.to_owned(),
            started_at: time::OffsetDateTime::now_utc(),
        };
        if let Err(e) = ledger.record(&pending).await {
            tracing::warn!(backend = "s3", key = key.as_str(), error = %e, "could not record a multipart upload");
        }
    }

    /// Aborts the multipart upload `upload_id` of `key` and forgets it; `false` when the store no longer
    /// knew it (completed or aborted before).
    async fn abort_pending(&self, key: &str, upload_id: &str) -> Result<bool, ObjectStoreError> {
        let sent = self.client().abort_multipart_upload().bucket(&self.bucket).key(key).upload_id(upload_id).send();
        let aborted = match sent.await {
            Ok(_) => true,
            Err(e) if e.as_service_error().and_then(ProvideErrorMetadata::code) == Some("NoSuchUpload") => false,
            Err(e) if status(&e) == Some(404) => false,
            // s3s-fs answers 403 for an upload it no longer knows; the credentials are fine when the bucket
            // answers, and then the upload is gone.
            Err(e) if status(&e) == Some(403) => {
                self.health().await?;
                false
            }
            Err(e) => return Err(sdk_failure("abort", &self.bucket, &e)),
        };
        forget(self.ledger.as_ref(), upload_id).await;
        Ok(aborted)
    }

    /// The multipart uploads the store lists under `prefix` (key, upload id, start), or `None` when it
    /// cannot list them (s3s-fs answers 501): then the ledger is all there is.
    async fn listed(&self, prefix: Option<&str>) -> Result<Option<Vec<PendingMultipart>>, ObjectStoreError> {
        let mut request = self.client().list_multipart_uploads().bucket(&self.bucket);
        if let Some(prefix) = prefix {
            request = request.prefix(prefix);
        }
        match request.send().await {
            Ok(out) => Ok(Some(
                out.uploads()
                    .iter()
                    .filter_map(|u| {
                        let started = u
                            .initiated()
                            .and_then(|t| time::OffsetDateTime::from_unix_timestamp_nanos(t.as_nanos()).ok());
                        Some(PendingMultipart {
                            key: u.key()?.to_owned(),
                            upload_id: u.upload_id()?.to_owned(),
                            started_at: started.unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
                        })
                    })
                    .collect(),
            )),
            Err(e)
                if status(&e) == Some(501)
                    || e.as_service_error().and_then(ProvideErrorMetadata::code) == Some("NotImplemented") =>
            {
                Ok(None)
            }
            Err(e) => Err(sdk_failure("list_multipart", &self.bucket, &e)),
        }
    }

    /// The client in use now.
    fn client(&self) -> Client {
        Client::clone(&self.client.load())
    }

    /// A client like the one in use, with other credentials.
    fn client_with(&self, key_id: &SecretValue, secret: &SecretValue) -> Client {
        let credentials = Credentials::new(key_id.expose(), secret.expose(), None, None, "gantry-rotation");
        Client::from_conf(self.config.to_builder().credentials_provider(credentials).build())
    }

    /// Creates the bucket when `HeadBucket` says it does not exist. One attempt each, no retries: this runs
    /// at start-up and must not hold it up; failures are logged and left to readiness.
    async fn ensure_bucket(&self, region: &str) {
        let once = aws_sdk_s3::Config::builder().retry_config(RetryConfig::disabled());
        let head =
            self.client().head_bucket().bucket(&self.bucket).customize().config_override(once.clone()).send().await;
        match head {
            Ok(_) => return,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) || status(&e) == Some(404) => {}
            Err(e) => {
                tracing::warn!(
                    backend = "s3", bucket = %self.bucket, reason = %reason(&e), error = %DisplayErrorContext(&e),
                    "could not check the bucket; not creating it"
                );
                return;
            }
        }
        let mut create = self.client().create_bucket().bucket(&self.bucket);
        // us-east-1 is S3's default location and must not be named as a constraint.
        if region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        match create.customize().config_override(once).send().await {
            Ok(_) => tracing::info!(backend = "s3", bucket = %self.bucket, "created bucket"),
            Err(e) => tracing::warn!(
                backend = "s3", bucket = %self.bucket, reason = %reason(&e), error = %DisplayErrorContext(&e),
                "could not create the bucket"
            ),
        }
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

    /// Stores a body longer than one part as a multipart upload; `buf` holds what was read so far. The upload
    /// is aborted on every failure.
    async fn put_multipart(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        buf: PartBuffer,
        content_type: &str,
    ) -> Result<StoredObject, ObjectStoreError> {
        let mut create = self.client().create_multipart_upload().bucket(&self.bucket).key(key.as_str());
        if !content_type.is_empty() {
            create = create.content_type(content_type);
        }
        let created = create.send().await.map_err(|e| sdk_failure("put", &self.bucket, &e))?;
        let Some(upload_id) = created.upload_id else {
            return Err(store_failure("put", "s3 put failed: no upload id in the response"));
        };
        self.note_started(key, &upload_id).await;
        let mut guard = AbortGuard {
            client: self.client(),
            bucket: self.bucket.clone(),
            key: key.as_str().to_owned(),
            upload_id: Some(upload_id.clone()),
            ledger: self.ledger.clone(),
        };
        match self.upload_parts(key, &upload_id, body, buf).await {
            Ok(size) => {
                guard.disarm();
                forget(self.ledger.as_ref(), &upload_id).await;
                Ok(StoredObject { size })
            }
            Err(e) => {
                // Disarmed only after the abort, so a `put` dropped while aborting still aborts.
                if abort_upload(&self.client(), &self.bucket, key.as_str(), &upload_id).await {
                    forget(self.ledger.as_ref(), &upload_id).await;
                }
                guard.disarm();
                Err(e)
            }
        }
    }

    /// Uploads `buf` and the rest of `body` as parts of exactly `part_size` (the last one shorter) and
    /// completes the upload. Returns the object's size.
    async fn upload_parts(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        mut body: ByteStream,
        mut buf: PartBuffer,
    ) -> Result<u64, ObjectStoreError> {
        let mut parts: Vec<CompletedPart> = Vec::new();
        let mut size: u64 = 0;
        let mut body_done = false;
        loop {
            while let Some(part) = buf.take_full_part() {
                size += part.len() as u64;
                parts.push(self.upload_part(key, upload_id, parts.len(), part).await?);
            }
            if body_done {
                break;
            }
            match body.next().await {
                None => body_done = true,
                Some(Err(e)) => return Err(ObjectStoreError::BodyAborted(e)),
                Some(Ok(chunk)) => buf.push(&chunk),
            }
        }
        let last = buf.take_rest();
        if !last.is_empty() {
            size += last.len() as u64;
            parts.push(self.upload_part(key, upload_id, parts.len(), last).await?);
        }
        self.client()
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .upload_id(upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(|e| sdk_failure("put", &self.bucket, &e))?;
        Ok(size)
    }

    /// Uploads one part; `done` is how many parts are already uploaded.
    async fn upload_part(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        done: usize,
        data: Bytes,
    ) -> Result<CompletedPart, ObjectStoreError> {
        if done >= MAX_PARTS {
            return Err(store_failure("put", "s3 put failed: object needs more than 10000 parts"));
        }
        let number = i32::try_from(done + 1).expect("at most 10000 parts");
        let out = self
            .client()
            .upload_part()
            .bucket(&self.bucket)
            .key(key.as_str())
            .upload_id(upload_id)
            .part_number(number)
            .content_length(to_i64(data.len() as u64))
            .body(AwsByteStream::from(data))
            .send()
            .await
            .map_err(|e| sdk_failure("put", &self.bucket, &e))?;
        Ok(CompletedPart::builder().set_e_tag(out.e_tag).part_number(number).build())
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

impl S3ObjectStore {
    /// `put` with this store's client for every request of the upload.
    async fn put_pinned(
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
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    async fn put(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        size_hint: Option<u64>,
        content_type: &str,
    ) -> Result<StoredObject, ObjectStoreError> {
        // The whole upload uses the client in use when it started: a credential rotation meanwhile does not
        // switch an upload half-way (it finishes on the old credentials).
        let pinned = Self { client: Arc::new(ArcSwap::from_pointee(self.client())), ..self.clone() };
        pinned.put_pinned(key, body, size_hint, content_type).await
    }

    async fn get(&self, key: &ObjectKey, range: Option<ByteRange>) -> Result<ObjectBody, ObjectStoreError> {
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

    async fn delete(&self, key: &ObjectKey) -> Result<(), ObjectStoreError> {
        match self.client().delete_object().bucket(&self.bucket).key(key.as_str()).send().await {
            Ok(_) => Ok(()),
            // S3 answers 204 for an absent key; some clones say NoSuchKey instead.
            Err(e) if e.as_service_error().and_then(ProvideErrorMetadata::code) == Some("NoSuchKey") => Ok(()),
            Err(e) => Err(sdk_failure("delete", &self.bucket, &e)),
        }
    }

    async fn check_credentials(&self, key_id: &SecretValue, secret: &SecretValue) -> Result<(), ObjectStoreError> {
        match self.client_with(key_id, secret).head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {
                Err(store_failure("check_credentials", "s3 bucket does not exist"))
            }
            Err(e) => Err(sdk_failure("check_credentials", &self.bucket, &e)),
        }
    }

    fn use_credentials(&self, key_id: &SecretValue, secret: &SecretValue) {
        self.client.store(Arc::new(self.client_with(key_id, secret)));
    }

    async fn health(&self) -> Result<(), ObjectStoreError> {
        match self.client().head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {
                Err(store_failure("health", "s3 bucket does not exist"))
            }
            Err(e) => Err(sdk_failure("health", &self.bucket, &e)),
        }
    }

    fn backend(&self) -> &'static str {
        "s3"
    }

    async fn abort_incomplete(&self, started_before: time::OffsetDateTime) -> Result<u64, ObjectStoreError> {
        let mut aborted = 0;
        // Stores that list their uploads (S3, MinIO) show them all, including those of a process that died
        // before recording them.
        for pending in self.listed(None).await?.unwrap_or_default() {
            if pending.started_at < started_before && self.abort_pending(&pending.key, &pending.upload_id).await? {
                aborted += 1;
            }
        }
        // The ledger: everything recorded, on every store.
        if let Some(ledger) = &self.ledger {
            for pending in ledger.started_before(started_before, 100).await? {
                if self.abort_pending(&pending.key, &pending.upload_id).await? {
                    aborted += 1;
                }
            }
        }
        Ok(aborted)
    }

    async fn abort_incomplete_of(&self, key: &ObjectKey) -> Result<u64, ObjectStoreError> {
        let mut pending = self.listed(Some(key.as_str())).await?.unwrap_or_default();
        pending.retain(|p| p.key == key.as_str());
        if let Some(ledger) = &self.ledger {
            pending.extend(ledger.of_key(key.as_str()).await?);
        }
        let mut aborted = 0;
        for p in pending {
            if self.abort_pending(&p.key, &p.upload_id).await? {
                aborted += 1;
            }
        }
        Ok(aborted)
    }

    async fn presigned_get(
        &self,
        key: &ObjectKey,
        ttl: Duration,
        content_type: &str,
        content_disposition: &str,
    ) -> Result<Option<String>, ObjectStoreError> {
        let config = PresigningConfig::expires_in(ttl.min(MAX_PRESIGN_TTL))
            .expect("a TTL of at most 5 minutes is within the SDK's one-week limit");
        let mut req = self.client().get_object().bucket(&self.bucket).key(key.as_str());
        if !content_type.is_empty() {
            req = req.response_content_type(content_type);
        }
        if !content_disposition.is_empty() {
            req = req.response_content_disposition(content_disposition);
        }
        // Signing is local (no request is sent), so this fails only when the request cannot be built.
        let presigned = req.presigned(config).await.map_err(|e| sdk_failure("presign", &self.bucket, &e))?;
        Ok(Some(presigned.uri().to_owned()))
    }
}

/// Connect, attempt and operation timeouts. An attempt may carry a whole part, so it gets 30 s plus one
/// second per MiB of part (a 1 MiB/s floor); the operation covers every attempt and the back-off between
/// them. Neither limits how long a caller takes to read a `get` body: the SDK returns once headers arrive,
/// and the stalled-stream protection watches the body.
fn timeouts(part_size: usize) -> TimeoutConfig {
    let mib = u64::try_from(part_size / (1024 * 1024)).unwrap_or(u64::MAX / 4);
    let attempt = Duration::from_secs(30u64.saturating_add(mib));
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(attempt)
        .operation_timeout(attempt * MAX_ATTEMPTS + Duration::from_secs(5))
        .build()
}

/// The HTTP status of a failed request, if a response arrived.
fn status<E>(err: &SdkError<E>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// A short reason safe for operators: an error code, a status or a failure class, never headers,
/// credentials or the request.
fn reason<E: ProvideErrorMetadata>(err: &SdkError<E>) -> String {
    match err {
        SdkError::ServiceError(service) => match (service.err().code(), status(err)) {
            (Some(code), _) => code.to_owned(),
            (None, Some(status)) => format!("HTTP {status}"),
            (None, None) => "service error".to_owned(),
        },
        SdkError::TimeoutError(_) => "timed out".to_owned(),
        SdkError::DispatchFailure(d) if d.is_timeout() => "connection timed out".to_owned(),
        SdkError::DispatchFailure(d) if d.is_io() => "connection failed".to_owned(),
        SdkError::DispatchFailure(_) => "request could not be sent".to_owned(),
        SdkError::ResponseError(_) => "unreadable response".to_owned(),
        SdkError::ConstructionFailure(_) => "request could not be built".to_owned(),
        _ => "request failed".to_owned(),
    }
}

/// Maps a failed SDK call of `op`: counts it, logs the cause chain once (the SDK's `Display` carries no
/// credentials or headers), and returns `CredentialsRejected` for a 403 or a short `Unavailable` otherwise.
fn sdk_failure<E>(op: &'static str, bucket: &str, err: &SdkError<E>) -> ObjectStoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    metrics::counter!("gantry_object_store_errors_total", "backend" => "s3", "op" => op).increment(1);
    let status = status(err);
    let reason = reason(err);
    tracing::warn!(backend = "s3", op, bucket, ?status, reason = %reason, error = %DisplayErrorContext(err), "object store operation failed");
    if status == Some(403) {
        ObjectStoreError::CredentialsRejected
    } else {
        Unavailable::new(format!("s3 {op} failed: {reason}")).into()
    }
}

/// A failure of `op` found by this adapter rather than the SDK: counted, logged, returned.
fn store_failure(op: &'static str, reason: &'static str) -> ObjectStoreError {
    metrics::counter!("gantry_object_store_errors_total", "backend" => "s3", "op" => op).increment(1);
    tracing::warn!(backend = "s3", op, reason, "object store operation failed");
    Unavailable::new(reason).into()
}

/// Aborts a multipart upload, logging (not returning) a failure: the caller is already reporting the
/// error that made it abort. `false` when the abort failed (the periodic sweep aborts it later).
async fn abort_upload(client: &Client, bucket: &str, key: &str, upload_id: &str) -> bool {
    let abort = client.abort_multipart_upload().bucket(bucket).key(key).upload_id(upload_id).send().await;
    if let Err(e) = abort {
        tracing::warn!(
            backend = "s3", bucket, key, reason = %reason(&e), error = %DisplayErrorContext(&e),
            "could not abort a multipart upload; the periodic sweep aborts it later"
        );
        return false;
    }
    true
}

/// Forgets a multipart upload that was completed or aborted. A failure is logged: the sweep's abort of a
/// finished upload is harmless and forgets it then.
async fn forget(ledger: Option<&Arc<dyn MultipartLedger>>, upload_id: &str) {
    if let Some(ledger) = ledger
        && let Err(e) = ledger.forget(upload_id).await
    {
        tracing::warn!(backend = "s3", error = %e, "could not forget a finished multipart upload");
    }
}

/// Aborts the multipart upload when a `put` future is dropped before it finished (client gone, request
/// timed out). `Drop` cannot await, so the abort runs as its own task; it is bounded by the client's
/// operation timeout and needs no stopping.
struct AbortGuard {
    /// Client to send the abort with.
    client: Client,
    /// Bucket of the upload.
    bucket: String,
    /// Key of the upload.
    key: String,
    /// The upload to abort; `None` once the `put` finished (and aborted itself if it failed).
    upload_id: Option<String>,
    /// Where the upload is recorded, to forget it once aborted.
    ledger: Option<Arc<dyn MultipartLedger>>,
}

impl AbortGuard {
    /// The `put` ran to its end and handled the upload itself.
    fn disarm(&mut self) {
        self.upload_id = None;
    }
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        let Some(upload_id) = self.upload_id.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(backend = "s3", bucket = %self.bucket, key = %self.key, "multipart upload left behind: no runtime to abort it");
            return;
        };
        let (client, bucket, key, ledger) =
            (self.client.clone(), self.bucket.clone(), self.key.clone(), self.ledger.take());
        runtime.spawn(async move {
            if abort_upload(&client, &bucket, &key, &upload_id).await {
                forget(ledger.as_ref(), &upload_id).await;
            }
        });
    }
}

/// Collects body chunks into parts of exactly `part_size` bytes. Each part gets its own allocation, so it
/// is freed as soon as its upload finishes, and at most one part plus one chunk is held.
struct PartBuffer {
    /// Bytes of the part being filled (may briefly exceed a part by less than one chunk).
    buf: BytesMut,
    /// The part size.
    part_size: usize,
}

impl PartBuffer {
    /// An empty buffer with room for `capacity` bytes.
    fn new(part_size: usize, capacity: usize) -> Self {
        Self { buf: BytesMut::with_capacity(capacity), part_size }
    }

    /// Bytes held.
    fn len(&self) -> usize {
        self.buf.len()
    }

    /// Appends a chunk.
    fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// Takes one full part if there is one. The overflow is copied to a fresh buffer rather than split
    /// off, so the part's allocation is not shared with the bytes that follow it.
    fn take_full_part(&mut self) -> Option<Bytes> {
        if self.buf.len() < self.part_size {
            return None;
        }
        let mut rest = BytesMut::with_capacity(self.part_size);
        rest.extend_from_slice(&self.buf[self.part_size..]);
        self.buf.truncate(self.part_size);
        Some(std::mem::replace(&mut self.buf, rest).freeze())
    }

    /// Takes everything held (the last part, or a whole small object).
    fn take_rest(&mut self) -> Bytes {
        std::mem::take(&mut self.buf).freeze()
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

/// A byte count as the SDK's `i64` (sizes here are far below `i64::MAX`).
fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The SDK's `i64` length as a byte count (a negative length would be a broken response; read as 0).
fn from_i64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(part_size: usize, endpoint: &str) -> S3Settings {
        S3Settings {
            endpoint: endpoint.to_owned(),
            bucket: "b".to_owned(),
            region: "us-east-1".to_owned(),
            access_key_id: "AKIDEXAMPLE".to_owned(),
            secret_access_key: SecretString::from("super-secret-value-0123456789"),
            part_size,
            create_bucket: false,
        }
    }

    /// `Debug` of the settings shows the access key id but never the secret.
    #[test]
    fn settings_debug_hides_the_secret() {
        let shown = format!("{:?}", settings(S3Settings::DEFAULT_PART_SIZE, "http://127.0.0.1:1"));
        assert!(!shown.contains("super-secret"), "{shown}");
        assert!(shown.contains("AKIDEXAMPLE") && shown.contains("[redacted]"), "{shown}");
    }

    /// Parts come out exactly `part_size` long, in order, and the rest is the short last part.
    #[test]
    fn part_buffer_cuts_exact_parts() {
        let data: Vec<u8> = (0..23u8).collect();
        let mut buf = PartBuffer::new(5, 5);
        let mut parts = Vec::new();
        for chunk in data.chunks(7) {
            buf.push(chunk);
            while let Some(part) = buf.take_full_part() {
                parts.push(part);
            }
        }
        parts.push(buf.take_rest());
        assert!(parts[..4].iter().all(|p| p.len() == 5));
        assert_eq!(parts[4].len(), 3);
        assert_eq!(parts.concat(), data);
    }

    /// The total size is read from `Content-Range`, and `*` or garbage yields none.
    #[test]
    fn content_range_total_parses_the_size() {
        assert_eq!(content_range_total("bytes 0-99/1234"), Some(1234));
        assert_eq!(content_range_total("bytes */1234"), Some(1234));
        assert_eq!(content_range_total("bytes 0-99/*"), None);
        assert_eq!(content_range_total("nonsense"), None);
    }

    /// Connecting never needs the server; bad settings are refused up front.
    #[tokio::test]
    async fn connect_checks_settings_without_a_server() {
        let down = "http://127.0.0.1:9";
        assert!(S3ObjectStore::connect(settings(S3Settings::DEFAULT_PART_SIZE, down)).await.is_ok());
        assert!(S3ObjectStore::connect(settings(S3Settings::MIN_PART_SIZE - 1, down)).await.is_err());
        assert!(S3ObjectStore::connect(settings(S3Settings::DEFAULT_PART_SIZE, "127.0.0.1:9")).await.is_err());
    }

    /// A store that cannot be reached is reported as unavailable with a short reason.
    #[tokio::test]
    async fn health_of_an_unreachable_store_is_unavailable() {
        let store = S3ObjectStore::connect(settings(S3Settings::DEFAULT_PART_SIZE, "http://127.0.0.1:9"))
            .await
            .expect("connect without a server");
        match store.health().await {
            Err(ObjectStoreError::Unavailable(u)) => {
                assert!(u.0.starts_with("s3 health failed"), "{u}")
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
}
