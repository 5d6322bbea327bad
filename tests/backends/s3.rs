//! S3 backend suite: `S3ObjectStore` against a real S3-compatible server (s3s-fs in CI, MinIO or AWS
//! elsewhere), beyond the `ObjectStore` contract (`tests/conformance/objects.rs`): a body shorter than announced,
//! rejected credentials, presigned URLs. Runs when `GANTRY_TEST_S3_ENDPOINT`, `GANTRY_TEST_S3_ACCESS_KEY_ID` and
//! `GANTRY_TEST_S3_SECRET_ACCESS_KEY` are set; each test works in a fresh bucket of its own.

use std::time::Duration;

use gantry::adapters::s3::{S3ObjectStore, S3Settings};
use gantry_actors::ports::objects::{ObjectStore, ObjectStoreError};
use secrecy::SecretString;

use crate::support::{body, key, pattern};

const MIB: usize = 1024 * 1024;

/// Settings for a fresh bucket (created on connect), or `None` when the suite is skipped.
fn test_settings() -> Option<S3Settings> {
    crate::support::s3_settings("s3", S3Settings::DEFAULT_PART_SIZE)
}

/// A store on a fresh bucket with `part_size`, or `None` when the suite is skipped.
async fn store_with_part_size(part_size: usize) -> Option<S3ObjectStore> {
    let settings = S3Settings { part_size, ..test_settings()? };
    let store = S3ObjectStore::connect(settings).await.expect("connect");
    store.health().await.expect("fresh bucket is healthy");
    Some(store)
}

/// A streamed body that ends before its announced length fails and stores nothing.
#[tokio::test]
async fn s3_short_streamed_body_stores_nothing() {
    let Some(store) = store_with_part_size(5 * MIB).await else {
        return;
    };
    let data = pattern(6 * MIB);
    let result = store.put(&key("short"), body(&data, MIB), Some(8 * MIB as u64), "").await;
    assert!(result.is_err(), "a body shorter than announced must fail");
    assert!(matches!(store.get(&key("short"), None).await, Err(ObjectStoreError::NotFound)));
}

/// With a wrong secret key, health reports `CredentialsRejected` and a put fails cleanly.
#[tokio::test]
async fn s3_wrong_secret_is_credentials_rejected() {
    let Some(settings) = test_settings() else {
        return;
    };
    // The bucket exists (created with the right key), so the 403 can only be about the credentials.
    S3ObjectStore::connect(settings.clone()).await.expect("connect").health().await.expect("bucket exists");
    let wrong = S3Settings {
        secret_access_key: SecretString::from("0000000000wrongwrongwrongwrongwrong00000"),
        create_bucket: false,
        ..settings
    };
    let store = S3ObjectStore::connect(wrong).await.expect("connect does not check credentials");

    let health = store.health().await;
    let put = store.put(&key("forbidden"), body(b"nope", 4), Some(4), "text/plain").await;

    assert!(matches!(health, Err(ObjectStoreError::CredentialsRejected)), "{health:?}");
    assert!(put.is_err(), "{put:?}");
}

/// The `X-Amz-Expires` (seconds) of a presigned URL.
fn presigned_expiry(url: &str) -> u64 {
    let url = reqwest::Url::parse(url).expect("a presigned URL parses");
    let (_, seconds) = url.query_pairs().find(|(name, _)| name == "X-Amz-Expires").expect("X-Amz-Expires is set");
    seconds.parse().expect("X-Amz-Expires is a number of seconds")
}

/// A presigned URL downloads the object without credentials, with the Content-Type and Content-Disposition
/// asked for (not the stored ones); an hour is cut to 5 minutes, a shorter TTL is kept.
#[tokio::test]
async fn s3_presigned_get_serves_bytes_with_requested_headers_for_at_most_5_minutes() {
    let Some(store) = store_with_part_size(S3Settings::DEFAULT_PART_SIZE).await else {
        return;
    };
    let data = pattern(40_000);
    let k = key("uploads/presigned/obj");
    store.put(&k, body(&data, 7_000), Some(40_000), "application/octet-stream").await.expect("put");
    let disposition = "attachment; filename=\"bagger.pdf\"";

    let url = store
        .presigned_get(&k, Duration::from_secs(3_600), "application/pdf", disposition)
        .await
        .expect("presign")
        .expect("s3 presigns");
    let short = store.presigned_get(&k, Duration::from_secs(60), "application/pdf", disposition).await;
    let response = reqwest::get(&url).await.expect("fetch the presigned URL");

    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(header("content-type").as_deref(), Some("application/pdf"));
    assert_eq!(header("content-disposition").as_deref(), Some(disposition));
    assert_eq!(response.bytes().await.expect("read the body").as_ref(), data.as_slice());
    assert_eq!(presigned_expiry(&url), 300, "capped at 5 minutes");
    assert_eq!(presigned_expiry(&short.expect("presign").expect("s3 presigns")), 60);
}
