//! `FsObjectStore`: the object store port on a local folder (local profile). Each object is one file at
//! `<root>/<key>`; writes go to a unique file in `<root>/.tmp/`, are fsynced and then renamed into place, so a
//! reader sees either the old object or the new one and a failed write leaves nothing behind.

use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::BytesMut;
use futures::StreamExt;
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::objects::{
    ByteRange, ByteStream, ObjectBody, ObjectKey, ObjectStore, ObjectStoreError, StoredObject,
};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Name of the folder (inside the root) that holds writes in progress. Keys cannot contain `.`, so no
/// object can ever land there.
const TMP_DIR: &str = ".tmp";

/// Size of the chunks `get` streams.
const READ_CHUNK: usize = 64 * 1024;

/// Objects as files under one folder.
#[derive(Debug, Clone)]
pub struct FsObjectStore {
    /// The folder holding the objects (and `.tmp/`).
    root: PathBuf,
}

impl FsObjectStore {
    /// Opens (creating if needed) the object folder at `root` and clears temporary files that a crashed
    /// process left in `<root>/.tmp/`.
    ///
    /// The folder belongs to one Gantry process: a second process sharing it could lose an upload in
    /// progress to this clean-up (its rename then fails; no object is corrupted).
    ///
    /// # Errors
    /// The folder cannot be created or read.
    pub async fn open(root: PathBuf) -> io::Result<Self> {
        let tmp = root.join(TMP_DIR);
        crate::private_files::create_dir_all(&tmp).await?;
        let mut entries = tokio::fs::read_dir(&tmp).await?;
        while let Some(entry) = entries.next_entry().await? {
            match tokio::fs::remove_file(entry.path()).await {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(path = %entry.path().display(), error = %e, "could not remove stale temp file")
                }
            }
        }
        Ok(Self { root })
    }

    /// The file of `key`. Keys are validated (`[a-z0-9/-]`, no empty segment), so this stays under the root.
    fn object_path(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(key.as_str())
    }

    /// A fresh, unique path in the temp folder.
    fn temp_path(&self) -> PathBuf {
        self.root.join(TMP_DIR).join(uuid::Uuid::new_v4().simple().to_string())
    }

    /// Writes `body` to `tmp` and moves it to `dest`. The caller's guard removes `tmp` on failure.
    async fn write_and_rename(&self, tmp: &Path, dest: &Path, mut body: ByteStream) -> Result<u64, PutFailure> {
        let mut file = crate::private_files::file_options()
            .write(true)
            .create_new(true)
            .open(tmp)
            .await
            .map_err(PutFailure::Store)?;
        let mut size: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(PutFailure::Body)?;
            file.write_all(&chunk).await.map_err(PutFailure::Store)?;
            size += chunk.len() as u64;
        }
        file.flush().await.map_err(PutFailure::Store)?;
        file.sync_all().await.map_err(PutFailure::Store)?;
        drop(file);

        let parent = dest.parent().unwrap_or(&self.root);
        crate::private_files::create_dir_all(parent).await.map_err(PutFailure::Store)?;
        tokio::fs::rename(tmp, dest).await.map_err(PutFailure::Store)?;
        // Persist the directory entry too, so the rename survives a crash. The object is already in place
        // here, so a failure is logged rather than returned: reporting "nothing stored" would be false.
        let synced = match tokio::fs::File::open(parent).await {
            Ok(dir) => dir.sync_all().await,
            Err(e) => Err(e),
        };
        if let Err(e) = synced {
            tracing::warn!(path = %parent.display(), error = %e, "could not fsync the object's folder");
        }
        Ok(size)
    }

    /// Maps a store-side I/O failure of `op`: logs it once with its path, counts it, and returns a reason
    /// that names only the error kind.
    fn store_error(op: &'static str, path: &Path, error: &io::Error) -> ObjectStoreError {
        metrics::counter!("gantry_object_store_errors_total", "backend" => "fs", "op" => op).increment(1);
        tracing::warn!(backend = "fs", op, path = %path.display(), error = %error, "object store operation failed");
        Unavailable::new(format!("fs {op} failed: {}", error.kind())).into()
    }
}

/// Why a `put` failed: the client's body or the folder.
enum PutFailure {
    /// The body stream yielded an error.
    Body(io::Error),
    /// Writing, syncing or renaming failed.
    Store(io::Error),
}

/// Removes the temp file unless disarmed. Runs on every exit path, including a cancelled `put` future,
/// which is why the removal is synchronous: `Drop` cannot await, and unlinking one file is short.
struct TempFileGuard {
    /// The temp file, `None` once it has been renamed into place.
    path: Option<PathBuf>,
}

impl TempFileGuard {
    /// The object was renamed into place: nothing to remove.
    fn disarm(&mut self) {
        self.path = None;
    }
}

impl Drop for TempFileGuard {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "could not remove temp file")
                }
            }
        }
    }
}

#[async_trait]
impl ObjectStore for FsObjectStore {
    async fn put(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        _size_hint: Option<u64>,
        _content_type: &str,
    ) -> Result<StoredObject, ObjectStoreError> {
        let tmp = self.temp_path();
        let dest = self.object_path(key);
        let mut guard = TempFileGuard { path: Some(tmp.clone()) };
        match self.write_and_rename(&tmp, &dest, body).await {
            Ok(size) => {
                guard.disarm();
                Ok(StoredObject { size })
            }
            Err(PutFailure::Body(e)) => Err(ObjectStoreError::BodyAborted(e)),
            Err(PutFailure::Store(e)) => Err(Self::store_error("put", &dest, &e)),
        }
    }

    async fn get(&self, key: &ObjectKey, range: Option<ByteRange>) -> Result<ObjectBody, ObjectStoreError> {
        let path = self.object_path(key);
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ObjectStoreError::NotFound);
            }
            Err(e) => return Err(Self::store_error("get", &path, &e)),
        };
        let meta = file.metadata().await.map_err(|e| Self::store_error("get", &path, &e))?;
        // `<root>/a` is a folder when only `a/b` exists: object `a` does not.
        if !meta.is_file() {
            return Err(ObjectStoreError::NotFound);
        }
        let total_size = meta.len();
        // Objects are replaced by rename, never rewritten in place, so this open file stays the object we
        // sized even if a new version lands meanwhile. A range past the end (the object changed since the
        // caller resolved it) is clamped; one starting past the end reads nothing.
        let (start, len) = match range {
            None => (0, total_size),
            Some(ByteRange { start, end }) => {
                let end = end.min(total_size.saturating_sub(1));
                if total_size == 0 || start > end { (0, 0) } else { (start, end - start + 1) }
            }
        };
        if start > 0 {
            file.seek(io::SeekFrom::Start(start)).await.map_err(|e| Self::store_error("get", &path, &e))?;
        }
        Ok(ObjectBody { total_size, stream: chunked(file.take(len), len) })
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), ObjectStoreError> {
        let path = self.object_path(key);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            // Absent, or a folder of longer keys (`a` when only `a/b` exists): object `a` does not exist.
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::IsADirectory) => Ok(()),
            Err(e) => Err(Self::store_error("delete", &path, &e)),
        }
    }

    async fn health(&self) -> Result<(), ObjectStoreError> {
        let probe = self.temp_path();
        let guard = TempFileGuard { path: Some(probe.clone()) };
        let result = async {
            let mut file = tokio::fs::OpenOptions::new().write(true).create_new(true).open(&probe).await?;
            file.write_all(b"ok").await?;
            drop(file);
            tokio::fs::remove_file(&probe).await
        }
        .await;
        drop(guard);
        result.map_err(|e| Self::store_error("health", &probe, &e))
    }

    fn backend(&self) -> &'static str {
        "fs"
    }

    async fn abort_incomplete(&self, started_before: time::OffsetDateTime) -> Result<u64, ObjectStoreError> {
        // A `put` removes its temporary file on every exit path short of the process dying, and start-up
        // clears the folder; what is older than the upload deadline here was left by a crash since.
        let tmp = self.root.join(TMP_DIR);
        let cutoff = std::time::SystemTime::from(started_before);
        let mut entries = tokio::fs::read_dir(&tmp).await.map_err(|e| Self::store_error("abort", &tmp, &e))?;
        let mut removed = 0;
        while let Some(entry) = entries.next_entry().await.map_err(|e| Self::store_error("abort", &tmp, &e))? {
            let modified = match entry.metadata().await.and_then(|m| m.modified()) {
                Ok(modified) => modified,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Self::store_error("abort", &entry.path(), &e)),
            };
            if modified >= cutoff {
                continue;
            }
            match tokio::fs::remove_file(entry.path()).await {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(Self::store_error("abort", &entry.path(), &e)),
            }
        }
        Ok(removed)
    }
}

/// Streams `reader` in chunks of at most [`READ_CHUNK`] bytes; `len` is how many bytes it must yield, and
/// ending early is an error (the caller promised that many bytes).
fn chunked(reader: tokio::io::Take<tokio::fs::File>, len: u64) -> ByteStream {
    let stream = futures::stream::try_unfold((reader, len), |(mut reader, remaining)| async move {
        if remaining == 0 {
            return Ok(None);
        }
        let want = usize::try_from(remaining).map_or(READ_CHUNK, |r| r.min(READ_CHUNK));
        let mut buf = BytesMut::with_capacity(want);
        while buf.len() < want {
            if reader.read_buf(&mut buf).await? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "object file ended early"));
            }
        }
        let read = buf.len() as u64;
        Ok(Some((buf.freeze(), (reader, remaining - read))))
    });
    Box::pin(stream)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use futures::TryStreamExt;

    use std::time::Duration;

    use super::*;

    fn key(s: &str) -> ObjectKey {
        ObjectKey::parse(s).expect("valid test key")
    }

    fn body_of(chunks: Vec<Result<Bytes, io::Error>>) -> ByteStream {
        Box::pin(futures::stream::iter(chunks))
    }

    fn bytes_body(data: &[u8], chunk: usize) -> ByteStream {
        let chunks = data.chunks(chunk).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        body_of(chunks)
    }

    async fn read_all(store: &FsObjectStore, key: &ObjectKey, range: Option<ByteRange>) -> (u64, Vec<u8>) {
        let body = store.get(key, range).await.expect("get");
        let chunks: Vec<Bytes> = body.stream.try_collect().await.expect("read body");
        (body.total_size, chunks.concat())
    }

    /// Deleting a key that is only a folder prefix of stored keys succeeds and leaves them alone (the folder
    /// store keeps keys as paths; the rest of delete's contract is the conformance suite's).
    #[tokio::test]
    async fn prefix_delete_is_ok_and_keeps_the_keys_below() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsObjectStore::open(dir.path().to_path_buf()).await.expect("open");
        store.put(&key("a/b"), bytes_body(b"x", 1), None, "text/plain").await.expect("put");

        store.delete(&key("a")).await.expect("prefix delete");

        assert!(matches!(store.get(&key("a"), None).await, Err(ObjectStoreError::NotFound)));
        assert_eq!(read_all(&store, &key("a/b"), None).await.1, b"x");
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| u8::try_from(i % 251).expect("below 256")).collect()
    }

    fn tmp_entries(root: &Path) -> usize {
        std::fs::read_dir(root.join(TMP_DIR)).expect("tmp dir").count()
    }

    // What every object store does (round trips, ranges, all-or-nothing puts, idempotent deletes) is the
    // `ObjectStore` contract in `tests/conformance/objects.rs`, run against this folder too; here what only
    // the folder has: its read chunks, its files and its temporary folder.

    /// Reads come in chunks no larger than 64 KiB, and leave no temporary file.
    #[tokio::test]
    async fn get_streams_chunks_of_at_most_64_kib() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsObjectStore::open(dir.path().to_path_buf()).await.expect("open");
        let data = pattern(200_000);
        let k = key("uploads/abc-1/obj");
        store.put(&k, bytes_body(&data, 7_000), None, "application/octet-stream").await.expect("put");

        let body = store.get(&k, None).await.expect("get");
        let chunks: Vec<Bytes> = body.stream.try_collect().await.expect("read");

        assert!(chunks.iter().all(|c| c.len() <= READ_CHUNK));
        assert_eq!(chunks.concat(), data);
        assert_eq!(tmp_entries(dir.path()), 0);
    }

    /// A range past the end (the object shrank since the range was resolved) is clamped, or empty; an empty
    /// object reads empty by range too.
    #[tokio::test]
    async fn ranges_past_the_end_are_clamped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsObjectStore::open(dir.path().to_path_buf()).await.expect("open");
        let data = pattern(100_000);
        let k = key("ranged");
        store.put(&k, bytes_body(&data, 4096), Some(100_000), "text/plain").await.expect("put");
        store.put(&key("empty"), body_of(vec![]), Some(0), "text/plain").await.expect("put");
        let last = data.len() as u64 - 1;

        let (_, got) = read_all(&store, &k, Some(ByteRange { start: last - 1, end: last + 50 })).await;
        assert_eq!(got, &data[data.len() - 2..]);
        let (_, got) = read_all(&store, &k, Some(ByteRange { start: last + 1, end: last + 5 })).await;
        assert!(got.is_empty());
        assert_eq!(read_all(&store, &key("empty"), Some(ByteRange { start: 0, end: 0 })).await, (0, vec![]));
    }

    /// A body that fails midway leaves neither the object's file nor a temp file on disk.
    #[tokio::test]
    async fn failing_body_leaves_no_file_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsObjectStore::open(dir.path().to_path_buf()).await.expect("open");
        let k = key("uploads/broken");
        let body = body_of(vec![
            Ok(Bytes::from(vec![1u8; 100_000])),
            Ok(Bytes::from(vec![2u8; 100_000])),
            Err(io::Error::new(io::ErrorKind::ConnectionReset, "client went away")),
            Ok(Bytes::from_static(b"never read")),
        ]);

        let err = store.put(&k, body, Some(1_000_000), "application/octet-stream").await.expect_err("must fail");

        assert!(matches!(err, ObjectStoreError::BodyAborted(ref e) if e.kind() == io::ErrorKind::ConnectionReset));
        assert!(!dir.path().join("uploads/broken").exists());
        assert_eq!(tmp_entries(dir.path()), 0);
    }

    /// Health passes on a writable folder, leaves no probe behind, and fails once the folder is gone.
    #[tokio::test]
    async fn health_checks_the_folder_is_writable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("objects");
        let store = FsObjectStore::open(root.clone()).await.expect("open");

        store.health().await.expect("healthy");
        assert_eq!(tmp_entries(&root), 0);
        assert_eq!(store.backend(), "fs");

        std::fs::remove_dir_all(&root).expect("remove root");
        assert!(matches!(store.health().await, Err(ObjectStoreError::Unavailable(_))));
    }

    /// Temp files left by a crashed process are cleared when the store is opened.
    #[tokio::test]
    async fn open_clears_stale_temp_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join(TMP_DIR)).expect("tmp dir");
        std::fs::write(dir.path().join(TMP_DIR).join("stale"), b"half an upload").expect("stale file");

        FsObjectStore::open(dir.path().to_path_buf()).await.expect("open");

        assert_eq!(tmp_entries(dir.path()), 0);
    }

    /// The periodic abort removes temporary files older than the cut-off (a crash since start-up left them)
    /// and keeps younger ones (writes in progress).
    #[tokio::test]
    async fn abort_incomplete_removes_only_old_temp_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsObjectStore::open(dir.path().to_path_buf()).await.expect("open");
        std::fs::write(dir.path().join(TMP_DIR).join("left-by-a-crash"), b"half an upload").expect("temp file");

        let kept = store.abort_incomplete(time::OffsetDateTime::now_utc() - Duration::from_secs(60)).await;
        let removed = store.abort_incomplete(time::OffsetDateTime::now_utc() + Duration::from_secs(1)).await;

        assert_eq!(kept.expect("abort"), 0, "a write that may be in progress stays");
        assert_eq!(removed.expect("abort"), 1);
        assert_eq!(tmp_entries(dir.path()), 0);
    }
}
