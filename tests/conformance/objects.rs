//! The `ObjectStore` contract, run against the local folder (always, a fresh temporary folder per test) and S3
//! (a fresh bucket per test, when `GANTRY_TEST_S3_*` is set): what is put comes back byte for byte, whole and
//! by range; a put is all or nothing; delete is idempotent. The S3 store uses 5 MiB parts, so the large cases
//! cross the multipart path. What only one adapter has (the folder's temporary files, S3's presigned URLs and
//! credentials) is tested next to it: `src/adapters/fs.rs` and `tests/backends/s3.rs`.

use std::future::Future;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use gantry::adapters::fs::FsObjectStore;
use gantry::adapters::s3::S3ObjectStore;
use gantry_actors::ports::objects::{ByteRange, ObjectKey, ObjectStore, ObjectStoreError};
use sha2::{Digest, Sha256};

use crate::support::{body, key, pattern};

const MIB: usize = 1024 * 1024;

/// The object's total size and the bytes of `range` (or all of them).
async fn read(store: &dyn ObjectStore, key: &ObjectKey, range: Option<ByteRange>) -> (u64, Vec<u8>) {
    let object = store.get(key, range).await.expect("get");
    let chunks: Vec<Bytes> = object.stream.try_collect().await.expect("read body");
    (object.total_size, chunks.concat())
}

fn is_not_found<T>(result: &Result<T, ObjectStoreError>) -> bool {
    matches!(result, Err(ObjectStoreError::NotFound))
}

/// What is put comes back byte for byte with its size, whether the body's length was announced or not.
pub async fn put_then_get_round_trips_bytes(store: Arc<dyn ObjectStore>) {
    let unannounced = pattern(200_000);
    let announced = pattern(10_000);
    let (a, b) = (key("uploads/abc-1/obj"), key("uploads/small/obj"));

    let stored_a = store.put(&a, body(&unannounced, 7_000), None, "application/octet-stream").await.expect("put");
    let stored_b = store.put(&b, body(&announced, 3_000), Some(10_000), "text/plain").await.expect("put");

    assert_eq!(stored_a.size, 200_000);
    assert_eq!(stored_b.size, 10_000);
    assert_eq!(read(&*store, &a, None).await, (200_000, unannounced));
    assert_eq!(read(&*store, &b, None).await, (10_000, announced));
}

/// A ~12 MiB body of unknown length (S3: uploaded in 5 MiB parts) reads back with the same SHA-256.
pub async fn large_body_reads_back_identical(store: Arc<dyn ObjectStore>) {
    let data = pattern(12 * MIB + 12_345);
    let k = key("uploads/big/obj");

    let stored = store.put(&k, body(&data, 256 * 1024), None, "application/octet-stream").await.expect("put");

    assert_eq!(stored.size, data.len() as u64);
    let (total, got) = read(&*store, &k, None).await;
    assert_eq!(total, data.len() as u64);
    assert_eq!(hex::encode(Sha256::digest(&got)), hex::encode(Sha256::digest(&data)));
}

/// Bodies of unknown length, or announced as one part or less, store exactly the bytes sent, whatever
/// their real size; an announced length larger than a part (S3: one streamed PutObject) too.
pub async fn body_lengths_store_exact_bytes(store: Arc<dyn ObjectStore>) {
    let big = pattern(6 * MIB);
    let small = pattern(100);

    store.put(&key("announced-small-but-big"), body(&big, MIB), Some(1024), "").await.expect("put big");
    store.put(&key("unknown-length"), body(&big, big.len()), None, "").await.expect("put one chunk");
    store.put(&key("streamed"), body(&big, MIB), Some(big.len() as u64), "").await.expect("put streamed");
    store.put(&key("small"), body(&small, 10), Some(100), "").await.expect("put small");

    assert_eq!(read(&*store, &key("announced-small-but-big"), None).await.1, big);
    assert_eq!(read(&*store, &key("unknown-length"), None).await.1, big);
    assert_eq!(read(&*store, &key("streamed"), None).await.1, big);
    assert_eq!(read(&*store, &key("small"), None).await.1, small);
}

/// Ranges at the first byte, the last byte, across a 64 KiB boundary, a suffix (`bytes=-10`, resolved by the
/// caller) and the whole object read exactly those bytes and report the whole object's size.
pub async fn ranged_get_at_the_edges(store: Arc<dyn ObjectStore>) {
    let data = pattern(100_000);
    let k = key("ranged");
    store.put(&k, body(&data, 4096), Some(100_000), "application/octet-stream").await.expect("put");
    let last = data.len() as u64 - 1;

    for (start, end) in [(0, 0), (last, last), (0, last), (65_535, 65_537), (last - 9, last)] {
        let (total, got) = read(&*store, &k, Some(ByteRange { start, end })).await;
        assert_eq!(total, data.len() as u64, "range {start}-{end}");
        let (s, e) = (usize::try_from(start).expect("fits"), usize::try_from(end).expect("fits"));
        assert_eq!(got, &data[s..=e], "range {start}-{end}");
    }
}

/// A body that fails after 6 MiB (S3: one part already uploaded) reports `BodyAborted` with the body's error
/// and leaves no object, whether its length was announced (S3: one streamed PutObject) or not (multipart).
pub async fn failing_body_stores_nothing(store: Arc<dyn ObjectStore>) {
    for (k, hint) in [(key("uploads/aborted"), Some(20 * MIB as u64)), (key("uploads/aborted-chunked"), None)] {
        let mut chunks: Vec<Result<Bytes, io::Error>> = (0..6).map(|_| Ok(Bytes::from(vec![7u8; MIB]))).collect();
        chunks.push(Err(io::Error::new(io::ErrorKind::ConnectionReset, "client went away")));
        chunks.push(Ok(Bytes::from_static(b"never read")));

        let err = store.put(&k, Box::pin(futures::stream::iter(chunks)), hint, "").await;

        assert!(
            matches!(err, Err(ObjectStoreError::BodyAborted(ref e)) if e.kind() == io::ErrorKind::ConnectionReset),
            "{hint:?}: {err:?}"
        );
        assert!(is_not_found(&store.get(&k, None).await), "{hint:?}");
    }
}

/// A failing body does not disturb the object already stored under the key.
pub async fn failing_body_keeps_previous_version(store: Arc<dyn ObjectStore>) {
    let k = key("kept");
    store.put(&k, body(b"version one", 4), None, "text/plain").await.expect("put");

    let failing: Vec<Result<Bytes, io::Error>> =
        vec![Ok(Bytes::from_static(b"partial")), Err(io::Error::other("boom"))];
    store.put(&k, Box::pin(futures::stream::iter(failing)), None, "text/plain").await.expect_err("must fail");

    assert_eq!(read(&*store, &k, None).await.1, b"version one");
}

/// After delete the object is gone; deleting it again, or an absent key, succeeds. (Deleting a key that is
/// only a folder prefix of others, and reading it, are the folder store's own case, tested beside it: s3s-fs,
/// the S3 stand-in of CI, maps keys to files and answers both with an internal error, which real S3 and MinIO
/// do not.)
pub async fn delete_then_get_is_not_found(store: Arc<dyn ObjectStore>) {
    store.put(&key("a/b"), body(b"bye", 3), Some(3), "text/plain").await.expect("put");

    store.delete(&key("never-written")).await.expect("absent delete");
    store.delete(&key("a/b")).await.expect("delete");
    store.delete(&key("a/b")).await.expect("second delete");

    assert!(is_not_found(&store.get(&key("a/b"), None).await));
}

/// A second put under the same key replaces the object completely (also when it is shorter).
pub async fn put_overwrites_existing_key(store: Arc<dyn ObjectStore>) {
    let k = key("same");
    store.put(&k, body(&pattern(10_000), 1000), None, "text/plain").await.expect("first put");

    let stored = store.put(&k, body(b"short", 5), None, "text/plain").await.expect("second put");

    assert_eq!(stored.size, 5);
    assert_eq!(read(&*store, &k, None).await, (5, b"short".to_vec()));
}

/// An empty body stores an empty object.
pub async fn empty_object_round_trips(store: Arc<dyn ObjectStore>) {
    let k = key("empty");

    store.put(&k, Box::pin(futures::stream::iter(Vec::new())), Some(0), "text/plain").await.expect("put");

    assert_eq!(read(&*store, &k, None).await, (0, vec![]));
}

/// Runs `case` on a store in a fresh folder (that does not exist yet); afterwards no temporary file is left.
async fn on_fs<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn ObjectStore>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("objects");
    let store = FsObjectStore::open(root.clone()).await.expect("open");
    store.health().await.expect("a fresh folder is healthy");
    assert_eq!(store.backend(), "fs");
    case(Arc::new(store)).await;
    // The folder adapter writes through `.tmp/` and renames: every case's writes have ended.
    let temporary = std::fs::read_dir(root.join(".tmp")).expect("the temporary folder").count();
    assert_eq!(temporary, 0, "temporary files left behind");
}

/// Runs `case` on a store in a fresh bucket with 5 MiB parts; skips loudly without `GANTRY_TEST_S3_*`.
async fn on_s3<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn ObjectStore>) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(settings) = crate::support::s3_settings("s3", 5 * MIB) else { return };
    let store = S3ObjectStore::connect(settings).await.expect("connect");
    store.health().await.expect("a fresh bucket is healthy");
    assert_eq!(store.backend(), "s3");
    case(Arc::new(store)).await;
}

/// Declares, for each case, `objects::fs::<case>` and `objects::s3::<case>`.
macro_rules! object_cases {
    ($($case:ident),+ $(,)?) => {
        mod fs {
            $(
                #[tokio::test]
                async fn $case() {
                    super::on_fs(super::$case).await;
                }
            )+
        }
        mod s3 {
            $(
                #[tokio::test]
                async fn $case() {
                    super::on_s3(super::$case).await;
                }
            )+
        }
    };
}

object_cases!(
    put_then_get_round_trips_bytes,
    large_body_reads_back_identical,
    body_lengths_store_exact_bytes,
    ranged_get_at_the_edges,
    failing_body_stores_nothing,
    failing_body_keeps_previous_version,
    delete_then_get_is_not_found,
    put_overwrites_existing_key,
    empty_object_round_trips,
);
