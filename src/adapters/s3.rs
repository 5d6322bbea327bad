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
//!
//! - this file: the settings, the store and its client (built here, swapped on credential rotation), the port.
//! - [`upload`]: `put` in one request (streamed with a known length, or buffered when short).
//! - [`multipart`]: `put` in parts, the abort on failure or drop, the sweep of uploads left behind.
//! - [`reads`]: `get`, whole or a range.
//! - [`errors`]: SDK failures as the port's errors, counted and logged once.

mod errors;
mod multipart;
mod reads;
mod upload;

use std::sync::Arc;
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
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::objects::{
    ByteRange, ByteStream, MultipartLedger, ObjectBody, ObjectKey, ObjectStore, ObjectStoreError, StoredObject,
};
use gantry_actors::secrets::SecretValue;
use secrecy::{ExposeSecret, SecretString};

use self::errors::{reason, sdk_failure, status, store_failure};

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
        self.read(key, range).await
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
        self.sweep(started_before).await
    }

    async fn abort_incomplete_of(&self, key: &ObjectKey) -> Result<u64, ObjectStoreError> {
        self.sweep_key(key).await
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
