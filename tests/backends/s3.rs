//! S3 backend suite: `S3ObjectStore` against a real S3-compatible server (s3s-fs in CI, MinIO or AWS
//! elsewhere). Runs when `GANTRY_TEST_S3_ENDPOINT`, `GANTRY_TEST_S3_ACCESS_KEY_ID` and
//! `GANTRY_TEST_S3_SECRET_ACCESS_KEY` are set; each test works in a fresh bucket of its own.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use gantry::adapters::s3::{S3ObjectStore, S3Settings};
use gantry_actors::ports::objects::{ByteRange, ByteStream, ObjectKey, ObjectStore, ObjectStoreError};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use crate::support::backend_env;

const MIB: usize = 1024 * 1024;

/// Settings for a fresh bucket (created on connect), or `None` when the suite is skipped.
fn test_settings() -> Option<S3Settings> {
    let endpoint = backend_env("GANTRY_TEST_S3_ENDPOINT", "s3")?;
    let access_key_id = backend_env("GANTRY_TEST_S3_ACCESS_KEY_ID", "s3")?;
    let secret = backend_env("GANTRY_TEST_S3_SECRET_ACCESS_KEY", "s3")?;
    Some(S3Settings {
        endpoint,
        bucket: format!("gantry-test-{}", uuid::Uuid::new_v4().simple()),
        region: "us-east-1".to_owned(),
        access_key_id,
        secret_access_key: SecretString::from(secret),
        part_size: S3Settings::DEFAULT_PART_SIZE,
        create_bucket: true,
    })
}

/// A store on a fresh bucket with `part_size`, or `None` when the suite is skipped.
async fn store_with_part_size(part_size: usize) -> Option<S3ObjectStore> {
    let settings = S3Settings { part_size, ..test_settings()? };
    let store = S3ObjectStore::connect(settings).await.expect("connect");
    store.health().await.expect("fresh bucket is healthy");
    Some(store)
}

fn key(s: &str) -> ObjectKey {
    ObjectKey::parse(s).expect("valid test key")
}

/// Deterministic, non-repeating-looking bytes.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| u8::try_from((i * 31 + i / 7) % 256).expect("below 256")).collect()
}

/// `data` as a body of `chunk`-sized pieces.
fn body(data: &[u8], chunk: usize) -> ByteStream {
    let chunks: Vec<Result<Bytes, io::Error>> = data.chunks(chunk).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    Box::pin(futures::stream::iter(chunks))
}

async fn read(store: &S3ObjectStore, key: &ObjectKey, range: Option<ByteRange>) -> (u64, Vec<u8>) {
    let object = store.get(key, range).await.expect("get");
    let chunks: Vec<Bytes> = object.stream.try_collect().await.expect("read body");
    (object.total_size, chunks.concat())
}

/// A small object comes back byte for byte with its size, through a single PutObject.
#[tokio::test]
async fn s3_small_put_get_round_trip() {
    let Some(store) = store_with_part_size(S3Settings::DEFAULT_PART_SIZE).await else {
        return;
    };
    let data = pattern(10_000);
    let k = key("uploads/small/obj");

    let stored = store.put(&k, body(&data, 3_000), Some(10_000), "text/plain").await.expect("put");

    assert_eq!(stored.size, 10_000);
    assert_eq!(read(&store, &k, None).await, (10_000, data));
    assert_eq!(store.backend(), "s3");
}

/// A ~12 MiB body uploaded in 5 MiB parts (multipart) reads back with the same SHA-256.
#[tokio::test]
async fn s3_multipart_put_reads_back_identical() {
    let Some(store) = store_with_part_size(5 * MIB).await else {
        return;
    };
    let data = pattern(12 * MIB + 12_345);
    let k = key("uploads/big/obj");

    let stored = store.put(&k, body(&data, 256 * 1024), None, "application/octet-stream").await.expect("put");

    assert_eq!(stored.size, data.len() as u64);
    let (total, got) = read(&store, &k, None).await;
    assert_eq!(total, data.len() as u64);
    assert_eq!(hex::encode(Sha256::digest(&got)), hex::encode(Sha256::digest(&data)));
}

/// Bodies of unknown length, or announced as one part or less, store exactly the bytes sent, whatever
/// their real size; an announced length larger than a part streams as one PutObject.
#[tokio::test]
async fn s3_body_lengths_store_exact_bytes() {
    let Some(store) = store_with_part_size(5 * MIB).await else {
        return;
    };
    let big = pattern(6 * MIB);
    let small = pattern(100);

    store.put(&key("announced-small-but-big"), body(&big, MIB), Some(1024), "").await.expect("put big");
    store.put(&key("unknown-length"), body(&big, big.len()), None, "").await.expect("put one chunk");
    store.put(&key("streamed"), body(&big, MIB), Some(big.len() as u64), "").await.expect("put streamed");
    store.put(&key("small"), body(&small, 10), Some(100), "").await.expect("put small");

    assert_eq!(read(&store, &key("announced-small-but-big"), None).await.1, big);
    assert_eq!(read(&store, &key("unknown-length"), None).await.1, big);
    assert_eq!(read(&store, &key("streamed"), None).await.1, big);
    assert_eq!(read(&store, &key("small"), None).await.1, small);
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

/// Ranged gets at the first byte, the last byte and a suffix (resolved by the caller) read exactly those
/// bytes and report the whole object's size.
#[tokio::test]
async fn s3_ranged_get_at_both_edges() {
    let Some(store) = store_with_part_size(S3Settings::DEFAULT_PART_SIZE).await else {
        return;
    };
    let data = pattern(1000);
    let k = key("ranged");
    store.put(&k, body(&data, 100), Some(1000), "application/octet-stream").await.expect("put");
    let total = data.len() as u64;

    let first = read(&store, &k, Some(ByteRange { start: 0, end: 0 })).await;
    let last = read(&store, &k, Some(ByteRange { start: total - 1, end: total - 1 })).await;
    // `bytes=-10`, resolved by the caller against the size.
    let suffix = read(&store, &k, Some(ByteRange { start: total - 10, end: total - 1 })).await;
    let whole = read(&store, &k, Some(ByteRange { start: 0, end: total - 1 })).await;

    assert_eq!(first, (total, vec![data[0]]));
    assert_eq!(last, (total, vec![data[999]]));
    assert_eq!(suffix, (total, data[990..].to_vec()));
    assert_eq!(whole, (total, data));
}

/// A body that fails after 6 MiB (one part already uploaded) reports `BodyAborted` and leaves no object.
#[tokio::test]
async fn s3_body_error_after_6_mib_leaves_no_object() {
    let Some(store) = store_with_part_size(5 * MIB).await else {
        return;
    };
    let k = key("uploads/aborted");
    let mut chunks: Vec<Result<Bytes, io::Error>> = (0..6).map(|_| Ok(Bytes::from(vec![7u8; MIB]))).collect();
    chunks.push(Err(io::Error::new(io::ErrorKind::ConnectionReset, "client went away")));
    chunks.push(Ok(Bytes::from_static(b"never read")));

    // Announced length: the streamed single PutObject path. Unknown length: the multipart path (aborted).
    for (k, hint) in [(k, Some(20 * MIB as u64)), (key("uploads/aborted-chunked"), None)] {
        let chunks: Vec<Result<Bytes, io::Error>> = chunks
            .iter()
            .map(|c| match c {
                Ok(b) => Ok(b.clone()),
                Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
            })
            .collect();
        let err = store.put(&k, Box::pin(futures::stream::iter(chunks)), hint, "").await;
        assert!(
            matches!(err, Err(ObjectStoreError::BodyAborted(ref e)) if e.kind() == io::ErrorKind::ConnectionReset),
            "{hint:?}: {err:?}"
        );
        assert!(matches!(store.get(&k, None).await, Err(ObjectStoreError::NotFound)), "{hint:?}");
    }
}

/// After delete the object is gone; deleting it again is fine.
#[tokio::test]
async fn s3_delete_then_get_is_not_found() {
    let Some(store) = store_with_part_size(S3Settings::DEFAULT_PART_SIZE).await else {
        return;
    };
    let k = key("doomed");
    store.put(&k, body(b"bye", 3), Some(3), "text/plain").await.expect("put");

    store.delete(&k).await.expect("delete");

    assert!(matches!(store.get(&k, None).await, Err(ObjectStoreError::NotFound)));
    store.delete(&k).await.expect("second delete");
    store.delete(&key("never-written")).await.expect("absent delete");
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
